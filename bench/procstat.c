/* Reading a process's CPU time (see procstat.h).
 *
 * /proc/<pid>/stat is one line: "<pid> (<comm>) <state> <ppid> ...", where comm may hold
 * blanks and parentheses, so fields are counted from the last ')': utime and stime are
 * fields 14 and 15 of the line (1-based), the 12th and 13th after the ')', in clock ticks
 * (sysconf(_SC_CLK_TCK) per second). */
#include "bench/procstat.h"

#include "base/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    /* The whole line: 52 fields of at most 20 digits, and comm of at most 16 bytes. */
    PROCSTAT_LINE_SIZE = 2048,
    PROCSTAT_PATH_SIZE = 64,
    /* Blank-separated fields after the ')' before utime: state ppid pgrp session tty_nr
     * tpgid flags minflt cminflt majflt cmajflt. */
    PROCSTAT_FIELDS_BEFORE_UTIME = 11,
};

int procstat_cpu_ns(long pid, int64_t *cpu_ns)
{
    char path[PROCSTAT_PATH_SIZE];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? -ESRCH : -errno;
    }
    char line[PROCSTAT_LINE_SIZE];
    ssize_t size = read(fd, line, sizeof line - 1);
    int read_errno = errno;
    close(fd);
    if (size <= 0) {
        return size < 0 ? -read_errno : -EPROTO;
    }
    line[size] = '\0';
    char *field = strrchr(line, ')');
    long ticks_per_s = sysconf(_SC_CLK_TCK);
    if (field == NULL || ticks_per_s <= 0) {
        return -EPROTO;
    }
    field++; /* the blank before state: each step goes to the blank before the next field */
    /* Bounded by the field count. */
    for (int i = 0; i < PROCSTAT_FIELDS_BEFORE_UTIME && field != NULL; i++) {
        field = strchr(field + 1, ' ');
    }
    if (field == NULL) {
        return -EPROTO;
    }
    char *end = NULL;
    unsigned long long utime = strtoull(field, &end, 10);
    unsigned long long stime = end != NULL ? strtoull(end, &end, 10) : 0;
    if (end == NULL || end == field) {
        return -EPROTO;
    }
    *cpu_ns = (int64_t)((utime + stime) * (unsigned long long)NS_PER_SEC /
                        (unsigned long long)ticks_per_s);
    return 0;
}
