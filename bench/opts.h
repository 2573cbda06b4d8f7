/* Command line of ionats-bench: parsing, defaults and the combinations it refuses.
 * Used by the main thread only, before any side starts. */
#ifndef IONATS_BENCH_OPTS_H
#define IONATS_BENCH_OPTS_H

#include "bench/bench.h"

#include <stdio.h>

enum {
    OPTS_EXIT_USAGE = 2, /* what a refused command line exits with */
};

/* Fills `opts` from argv. Returns 0, 1 when --help was printed, or -EINVAL after printing
 * why the command line is refused to stderr. */
int opts_parse(int argc, char **argv, struct bench_opts *opts);

void opts_usage(FILE *stream);

#endif
