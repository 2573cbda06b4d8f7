/* A histogram of non-negative integers in power-of-two buckets, cheap enough to fill on a
 * shard's loop every turn: one bit scan and three adds, no table to search.
 *
 * The one idea: bucket b counts the values whose bit length, after dropping `shift` low
 * bits, is b — 0 for 0, 1 for 1, b for [2^(b-1), 2^b) — so every value in it is at most
 * 2^(b + shift) - 1, the inclusive bound /metrics writes as its `le` (monitor_metrics.c sums
 * the buckets into Prometheus's cumulative ones). The last bucket also takes everything larger,
 * and is written only as +Inf.
 *
 * Owned by whoever embeds it; written by one thread (a shard's), and read by that thread
 * when it collects its part of a /metrics gather. */
#ifndef IONATS_ENGINE_IO_HISTOGRAM_H
#define IONATS_ENGINE_IO_HISTOGRAM_H

#include <stdint.h>

/* Buckets kept: with a shift of 10 (nanoseconds in units of 1.024 µs) the last bounded one
 * ends at 2^32 ns, 4.3 s, past any fdatasync worth telling apart; with no shift (counts of
 * completions) at 2^22, past any completion queue. */
enum { IO_HISTOGRAM_BUCKETS = 24 };

/* The shift for durations in nanoseconds: units of 1.024 µs, finer than any fdatasync. */
enum { IO_HISTOGRAM_NS_SHIFT = 10 };

struct io_histogram {
    uint64_t buckets[IO_HISTOGRAM_BUCKETS];
    uint64_t count;
    uint64_t sum; /* of the values as observed, shift not applied */
};

/* The bucket `value` falls in, for `shift` (< 64). */
static inline unsigned io_histogram_bucket(uint64_t value, unsigned shift)
{
    uint64_t units = value >> shift;
    unsigned length = units == 0 ? 0 : 64u - (unsigned)__builtin_clzll(units);
    return length < IO_HISTOGRAM_BUCKETS ? length : IO_HISTOGRAM_BUCKETS - 1;
}

static inline void io_histogram_observe(struct io_histogram *histogram, uint64_t value,
                                        unsigned shift)
{
    histogram->buckets[io_histogram_bucket(value, shift)]++;
    histogram->count++;
    histogram->sum += value;
}

/* The largest value bucket `bucket` (< IO_HISTOGRAM_BUCKETS - 1) holds. */
static inline uint64_t io_histogram_bound(unsigned bucket, unsigned shift)
{
    return ((uint64_t)1 << (bucket + shift)) - 1;
}

#endif
