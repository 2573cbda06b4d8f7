/* Check assertions for hot loops: the same checks and the same failure messages as Check's
 * ck_assert, ck_assert_msg, ck_assert_int_* and ck_assert_uint_*, without the "mark point"
 * that each of Check's assertions records when it passes.
 *
 * A mark point is a message written to the test's Check message file (a strdup, a mutex, a
 * write(2)), so that a test that crashes can be reported "after this point". A loop of a
 * million checks spends about a second in them, and ten times that under ASan or TSan. A
 * failing quiet assertion fails the test exactly as its ck_ namesake does; what is lost is
 * only the position a crash inside the loop is reported at (the last ck_ assertion before
 * it). Header only: any test may include it. */
#ifndef IONATS_TESTS_HARNESS_CK_QUIET_H
#define IONATS_TESTS_HARNESS_CK_QUIET_H

#include <check.h>
#include <stdint.h>

#define quiet_assert_msg(expr, ...)                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            _ck_assert_failed(__FILE__, __LINE__, "Assertion '" #expr "' failed", __VA_ARGS__);    \
        }                                                                                          \
    } while (0)

#define quiet_assert(expr) quiet_assert_msg(expr, NULL)

#define quiet_assert_int_(X, OP, Y)                                                                \
    do {                                                                                           \
        intmax_t quiet_x_ = (X);                                                                   \
        intmax_t quiet_y_ = (Y);                                                                   \
        quiet_assert_msg(quiet_x_ OP quiet_y_, "Assertion '%s' failed: %s == %jd, %s == %jd",      \
                         #X " " #OP " " #Y, #X, quiet_x_, #Y, quiet_y_);                          \
    } while (0)

#define quiet_assert_uint_(X, OP, Y)                                                               \
    do {                                                                                           \
        uintmax_t quiet_x_ = (X);                                                                  \
        uintmax_t quiet_y_ = (Y);                                                                  \
        quiet_assert_msg(quiet_x_ OP quiet_y_, "Assertion '%s' failed: %s == %ju, %s == %ju",      \
                         #X " " #OP " " #Y, #X, quiet_x_, #Y, quiet_y_);                          \
    } while (0)

#define quiet_assert_int_eq(X, Y) quiet_assert_int_(X, ==, Y)
#define quiet_assert_int_lt(X, Y) quiet_assert_int_(X, <, Y)
#define quiet_assert_int_gt(X, Y) quiet_assert_int_(X, >, Y)
#define quiet_assert_int_ge(X, Y) quiet_assert_int_(X, >=, Y)
#define quiet_assert_uint_eq(X, Y) quiet_assert_uint_(X, ==, Y)
#define quiet_assert_uint_lt(X, Y) quiet_assert_uint_(X, <, Y)
#define quiet_assert_uint_le(X, Y) quiet_assert_uint_(X, <=, Y)

#endif
