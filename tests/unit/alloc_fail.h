/* Allocation failure injection for unit tests: makes malloc, calloc and realloc fail on
 * demand, and counts the blocks that are live, so a test can drive a module through every
 * out-of-memory path it has and see that it gives back everything it took.
 *
 * The one idea: the test binary is linked with `-Wl,--wrap=malloc` (and calloc, realloc,
 * free, strdup: `alloc_fail_link_args` in tests/unit/meson.build), so every call to these
 * from the objects linked into it (the test, the static libraries under test, Check) lands
 * in alloc_fail.c, which decides and then forwards to the real allocator. The real one is
 * whatever `malloc` is in the build, AddressSanitizer's included, so the failure paths run
 * under ASan too, with its leak and use-after-free checks on top of the live count. Calls
 * from shared libraries (libc's own) are neither failed nor counted.
 *
 * While `alloc_fail.armed`, either the armed allocation numbered `fail_at` fails (a test
 * tries each point in turn), or one in `one_in` fails at random. Test-binary state, one
 * thread: armed only around calls into the module under test, never around a Check call
 * (a passing ck_assert allocates too). */
#ifndef IONATS_TESTS_UNIT_ALLOC_FAIL_H
#define IONATS_TESTS_UNIT_ALLOC_FAIL_H

#include <stdbool.h>
#include <stdint.h>

struct alloc_fail {
    bool armed;            /* allocations are counted, and may fail, only while armed */
    uint32_t one_in;       /* random mode, when fail_at is 0; 0: nothing fails */
    uint64_t fail_at;      /* 1-based number of the armed allocation that fails; 0: none */
    uint64_t armed_count;  /* allocations attempted while armed */
    uint64_t random_state; /* of the random mode */
    uint64_t failed_count; /* allocations made to fail */
    int64_t live_count;    /* blocks allocated and not yet freed, armed or not */
};

extern struct alloc_fail alloc_fail;

/* Disarmed, counters cleared; the armed allocation numbered `fail_at` (from 1) will fail. */
void alloc_fail_at(uint64_t fail_at);

/* Disarmed, counters cleared; one armed allocation in `one_in` will fail, at random from
 * `seed`. */
void alloc_fail_random(uint32_t one_in, uint64_t seed);

#endif
