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

static inline int64_t clock_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

#endif
