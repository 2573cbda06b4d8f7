/* Log-linear latency histogram: see hist.h for the bucket layout and why.
 *
 * Index of a value v >= HIST_SUB_COUNT with magnitude k = floor(log2 v):
 *   shift = k - (HIST_SUB_BITS - 1), so that v >> shift lies in [SUB_HALF, SUB_COUNT);
 *   index = shift * SUB_HALF + (v >> shift).
 * For k = SUB_BITS this continues exactly where the exact range 0..SUB_COUNT-1 ends. */
#include "bench/hist.h"

#include "base/assert.h"

#include <string.h>

/* Largest value kept apart from the clamp: the top of magnitude HIST_MAGNITUDE_MAX. */
#define HIST_VALUE_MAX ((INT64_C(1) << (HIST_MAGNITUDE_MAX + 1)) - 1)

STATIC_ASSERT(HIST_SUB_COUNT == 2 * HIST_SUB_HALF, "sub-bucket halves");
STATIC_ASSERT(HIST_MAGNITUDE_MAX < 62, "values must fit int64_t with room to spare");

void hist_init(struct hist *hist)
{
    memset(hist, 0, sizeof *hist);
    hist->min_ns = INT64_MAX;
}

static unsigned hist_index(int64_t value_ns)
{
    DEBUG_ASSERT(value_ns >= 0);
    DEBUG_ASSERT(value_ns <= HIST_VALUE_MAX);
    uint64_t value = (uint64_t)value_ns;
    if (value < HIST_SUB_COUNT) {
        return (unsigned)value;
    }
    unsigned magnitude = 63u - (unsigned)__builtin_clzll(value);
    unsigned shift = magnitude - (HIST_SUB_BITS - 1);
    return shift * HIST_SUB_HALF + (unsigned)(value >> shift);
}

/* The largest value that falls into bucket `index`: the inverse of hist_index. */
static int64_t hist_bucket_top(unsigned index)
{
    ASSERT(index < HIST_BUCKET_COUNT);
    if (index < HIST_SUB_COUNT) {
        return (int64_t)index;
    }
    unsigned shift = index / HIST_SUB_HALF - 1;
    uint64_t mantissa = index % HIST_SUB_HALF + HIST_SUB_HALF;
    return (int64_t)(((mantissa + 1) << shift) - 1);
}

void hist_record(struct hist *hist, int64_t value_ns)
{
    if (value_ns < 0) {
        value_ns = 0;
    }
    if (value_ns > HIST_VALUE_MAX) {
        value_ns = HIST_VALUE_MAX;
    }
    hist->counts[hist_index(value_ns)]++;
    hist->total_count++;
    if (value_ns < hist->min_ns) {
        hist->min_ns = value_ns;
    }
    if (value_ns > hist->max_ns) {
        hist->max_ns = value_ns;
    }
}

void hist_merge(struct hist *target, const struct hist *source)
{
    for (unsigned i = 0; i < HIST_BUCKET_COUNT; i++) {
        target->counts[i] += source->counts[i];
    }
    target->total_count += source->total_count;
    if (source->min_ns < target->min_ns) {
        target->min_ns = source->min_ns;
    }
    if (source->max_ns > target->max_ns) {
        target->max_ns = source->max_ns;
    }
}

int64_t hist_percentile(const struct hist *hist, double percent)
{
    ASSERT(percent >= 0.0);
    ASSERT(percent <= 100.0);
    if (hist->total_count == 0) {
        return 0;
    }
    /* The rank of the wanted value, 1-based: ceil(percent% of count), at least 1. */
    uint64_t rank = (uint64_t)((percent / 100.0) * (double)hist->total_count + 0.999999);
    if (rank == 0) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKET_COUNT; i++) {
        seen += hist->counts[i];
        if (seen >= rank) {
            int64_t top = hist_bucket_top(i);
            return top < hist->max_ns ? top : hist->max_ns;
        }
    }
    return hist->max_ns;
}
