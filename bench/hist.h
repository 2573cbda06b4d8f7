/* Latency histogram: log-linear buckets over nanoseconds, in the manner of HdrHistogram.
 *
 * Values below HIST_SUB_COUNT are counted exactly; above, each power of two [2^k, 2^(k+1))
 * is split into HIST_SUB_COUNT/2 equal sub-buckets, so a reported percentile is never more
 * than 1/64 (1.6 %) above the true value, whatever its magnitude. 2,048 counters (16 KiB)
 * cover 0 ns .. 2^37 ns (137 s), cheap enough for one histogram per thread,
 * merged at the end. We write our own rather than link HdrHistogram_c because recording
 * must be a handful of instructions on the receive path and all we need is percentiles.
 * A histogram is owned by one thread; merging happens after the threads have joined. */
#ifndef IONATS_BENCH_HIST_H
#define IONATS_BENCH_HIST_H

#include <stdint.h>

enum {
    /* Sub-buckets per power of two, doubled: values < HIST_SUB_COUNT are exact. */
    HIST_SUB_BITS = 7,
    HIST_SUB_COUNT = 1 << HIST_SUB_BITS,
    HIST_SUB_HALF = HIST_SUB_COUNT / 2,
    /* Highest power of two tracked: values of 2^(MAX+1) ns (137 s) and more are clamped. */
    HIST_MAGNITUDE_MAX = 36,
    /* Exact values 0..SUB_COUNT-1, then SUB_HALF buckets per magnitude SUB_BITS..MAX. */
    HIST_BUCKET_COUNT = HIST_SUB_COUNT + (HIST_MAGNITUDE_MAX - HIST_SUB_BITS + 1) * HIST_SUB_HALF,
};

struct hist {
    uint64_t counts[HIST_BUCKET_COUNT];
    uint64_t total_count;
    int64_t min_ns;
    int64_t max_ns; /* exact, not bucketed */
};

void hist_init(struct hist *hist);

/* Records one value; negative values (clock skew cannot happen on one monotonic clock,
 * but a bug could produce one) are counted as 0. */
void hist_record(struct hist *hist, int64_t value_ns);

/* Adds every count of `source` into `target`. */
void hist_merge(struct hist *target, const struct hist *source);

/* The value at or below which `percent` of the recorded values lie, as the upper edge of
 * its bucket (clamped to max); 0 when empty. */
int64_t hist_percentile(const struct hist *hist, double percent);

#endif
