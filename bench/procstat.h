/* The CPU time another process has used, from /proc/<pid>/stat: ionats-bench --server-pid
 * reads the server's around the measured part of a run, so that set-up around it (such as
 * js-consume filling its stream) is not counted. Main thread only. */
#ifndef IONATS_BENCH_PROCSTAT_H
#define IONATS_BENCH_PROCSTAT_H

#include <stdint.h>

/* User plus system time of process `pid` so far, in ns (at the kernel's clock tick, 10 ms
 * at 100 Hz). Returns 0, or -errno when it cannot be read (-ESRCH: no such process). */
int procstat_cpu_ns(long pid, int64_t *cpu_ns);

#endif
