/* Printing a finished run: a few human lines, or one JSON object (--json) for scripts.
 * Called by the main thread after both sides have joined. */
#ifndef IONATS_BENCH_REPORT_H
#define IONATS_BENCH_REPORT_H

#include "bench/bench.h"
#include "bench/side.h"

#include <stdio.h>

/* `send` and `receive` may be NULL when the mode has no such side; `server_cpu_ns` is the
 * CPU time of --server-pid during the measured part, or negative when not measured. */
void report_print(FILE *stream, const struct bench_opts *opts, const struct side *send,
                  const struct side *receive, int64_t server_cpu_ns);

#endif
