/* Monotonic and wall clocks in nanoseconds. Any thread. */
#ifndef IONATS_BASE_CLOCK_H
#define IONATS_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

enum { NS_PER_SEC = 1000000000, NS_PER_MS = 1000000, NS_PER_US = 1000 };

static inline int64_t clock_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* `now_ns` + `duration_ns`, saturating at INT64_MAX: durations come from flags that may be
 * as long as an int64 holds, and a deadline that wrapped negative would fire at once. */
static inline int64_t clock_deadline_ns(int64_t now_ns, int64_t duration_ns)
{
    return duration_ns > INT64_MAX - now_ns ? INT64_MAX : now_ns + duration_ns;
}

static inline int64_t clock_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

#endif
