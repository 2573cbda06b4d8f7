/* Assertions that stay on in release builds.
 *
 * ASSERT(x) checks an invariant and, when it fails, prints file, line, the shard of the
 * calling thread and the expression, then aborts: a broken invariant means the broker's
 * state can no longer be trusted, so serving on would only lose data quietly.
 * DEBUG_ASSERT is for hot inner loops and compiles away unless IONATS_DEBUG is defined.
 * STATIC_ASSERT ties constants together at compile time. Any thread may use these. */
#ifndef IONATS_BASE_ASSERT_H
#define IONATS_BASE_ASSERT_H

#include <assert.h>

/* Reports a failed assertion and aborts; never returns. */
_Noreturn void assert_fail(const char *expression, const char *file, int line);

#define ASSERT(x)                                                                          \
    do {                                                                                   \
        if (__builtin_expect(!(x), 0)) {                                                   \
            assert_fail(#x, __FILE__, __LINE__);                                           \
        }                                                                                  \
    } while (0)

#ifdef IONATS_DEBUG
#define DEBUG_ASSERT(x) ASSERT(x)
#else
#define DEBUG_ASSERT(x) ((void)sizeof(x))
#endif

#define STATIC_ASSERT(x, why) static_assert(x, why)

#define UNREACHABLE() assert_fail("unreachable", __FILE__, __LINE__)

#endif
