/* Unit tests for engine/outbuf.{h,c}: reserve from empty and past the capacity (bytes kept
 * across the move), put, put_u64 at every digit-count boundary from 0 to UINT64_MAX and
 * written flush against the end of the reserved room, trim both ways, free (twice, and on
 * a buffer never grown), sizes that would wrap, a reservation no allocator can give (under
 * ASan and TSan too: this binary asks them to return NULL), and growth whose allocation
 * fails (alloc_fail.h). */
#include "engine/outbuf.h"
#include "tests/unit/alloc_fail.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most decimal digits a uint64_t has: UINT64_MAX is 18446744073709551615. */
enum { U64_DIGITS_MAX = 20 };

/* A sanitizer's allocator reports an allocation it cannot satisfy and stops, where the C
 * library returns NULL; this binary asks ASan's and TSan's for NULL, so a reservation no
 * allocator can give fails the same way with and without them. Each runtime calls its
 * function before main (a weak default in the runtime otherwise); options from the
 * environment (ASAN_OPTIONS, TSAN_OPTIONS) are applied after it and still win. Unused
 * without a sanitizer. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static bool outbuf_equals(const struct outbuf *buffer, const char *text)
{
    return buffer->length == strlen(text) && memcmp(buffer->data, text, buffer->length) == 0;
}

START_TEST(test_reserve_and_put)
{
    struct outbuf buffer = {0};
    ck_assert_int_eq(outbuf_reserve(&buffer, 0), 0); /* nothing asked, nothing allocated */
    ck_assert_ptr_null(buffer.data);
    ck_assert_uint_eq(buffer.capacity, 0);
    ck_assert_int_eq(outbuf_reserve(&buffer, 1), 0);
    ck_assert_ptr_nonnull(buffer.data);
    ck_assert_uint_ge(buffer.capacity, 1);
    size_t first_capacity = buffer.capacity;
    outbuf_put(&buffer, "PONG\r\n", 6);
    ck_assert(outbuf_equals(&buffer, "PONG\r\n"));
    outbuf_put(&buffer, "", 0);
    ck_assert_uint_eq(buffer.length, 6);
    /* within the capacity: no move */
    char *before = buffer.data;
    ck_assert_int_eq(outbuf_reserve(&buffer, first_capacity - 6), 0);
    ck_assert_ptr_eq(buffer.data, before);
    ck_assert_uint_eq(buffer.capacity, first_capacity);
    /* one byte past it: grows (doubling), the bytes written so far kept */
    ck_assert_int_eq(outbuf_reserve(&buffer, first_capacity - 5), 0);
    ck_assert_uint_ge(buffer.capacity, first_capacity + 1);
    ck_assert_uint_eq(buffer.capacity % first_capacity, 0);
    ck_assert(outbuf_equals(&buffer, "PONG\r\n"));
    /* a large frame at once: grows straight to fit, every byte readable */
    enum { LARGE_SIZE = 1 << 20 };
    char *large = malloc(LARGE_SIZE);
    ck_assert_ptr_nonnull(large);
    for (size_t i = 0; i < LARGE_SIZE; i++) {
        large[i] = (char)('a' + i % 26);
    }
    ck_assert_int_eq(outbuf_reserve(&buffer, LARGE_SIZE), 0);
    ck_assert_uint_ge(buffer.capacity, 6 + LARGE_SIZE);
    outbuf_put(&buffer, large, LARGE_SIZE);
    ck_assert_uint_eq(buffer.length, 6 + LARGE_SIZE);
    ck_assert_int_eq(memcmp(buffer.data, "PONG\r\n", 6), 0);
    ck_assert_int_eq(memcmp(buffer.data + 6, large, LARGE_SIZE), 0);
    free(large);
    outbuf_free(&buffer);
}
END_TEST

START_TEST(test_put_u64)
{
    static const struct {
        uint64_t value;
        const char *text;
    } cases[] = {
        {0, "0"},
        {1, "1"},
        {9, "9"},
        {10, "10"},
        {99, "99"},
        {100, "100"},
        {4294967295u, "4294967295"},
        {4294967296u, "4294967296"},
        {UINT64_C(999999999999999999), "999999999999999999"},
        {UINT64_C(1000000000000000000), "1000000000000000000"},
        {UINT64_C(9999999999999999999), "9999999999999999999"},
        {UINT64_C(10000000000000000000), "10000000000000000000"},
        {UINT64_MAX - 1, "18446744073709551614"},
        {UINT64_MAX, "18446744073709551615"},
    };
    struct outbuf buffer = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(outbuf_reserve(&buffer, U64_DIGITS_MAX), 0);
        buffer.length = 0;
        outbuf_put_u64(&buffer, cases[i].value);
        ck_assert_msg(outbuf_equals(&buffer, cases[i].text), "%" PRIu64 ": %.*s",
                      cases[i].value, (int)buffer.length, buffer.data);
    }
    /* every power of ten and its neighbours against snprintf */
    uint64_t power = 1;
    for (int digits = 1; digits <= U64_DIGITS_MAX; digits++) {
        const uint64_t probes[] = {power - 1, power, power + 1};
        for (size_t p = 0; p < sizeof probes / sizeof probes[0]; p++) {
            char expected[U64_DIGITS_MAX + 1];
            snprintf(expected, sizeof expected, "%" PRIu64, probes[p]);
            buffer.length = 0;
            outbuf_put_u64(&buffer, probes[p]);
            ck_assert_msg(outbuf_equals(&buffer, expected), "%s", expected);
        }
        power = digits < U64_DIGITS_MAX ? power * 10 : power;
    }
    outbuf_free(&buffer);
}
END_TEST

/* Numbers and bytes appended after each other, the last digit on the last reserved byte:
 * under ASan a write past the reserved room would be a report, not a silent overrun. */
START_TEST(test_put_u64_at_the_end)
{
    struct outbuf buffer = {0};
    ck_assert_int_eq(outbuf_reserve(&buffer, 1), 0);
    size_t capacity = buffer.capacity;
    ck_assert_uint_gt(capacity, U64_DIGITS_MAX);
    memset(buffer.data, 'x', capacity - U64_DIGITS_MAX);
    buffer.length = capacity - U64_DIGITS_MAX;
    ck_assert_int_eq(outbuf_reserve(&buffer, U64_DIGITS_MAX), 0);
    ck_assert_uint_eq(buffer.capacity, capacity); /* exactly full: no growth needed */
    outbuf_put_u64(&buffer, UINT64_MAX);
    ck_assert_uint_eq(buffer.length, capacity);
    ck_assert_int_eq(memcmp(buffer.data + capacity - U64_DIGITS_MAX, "18446744073709551615",
                            U64_DIGITS_MAX),
                     0);
    ck_assert_int_eq(outbuf_reserve(&buffer, 1), 0); /* full: the next byte grows it */
    ck_assert_uint_gt(buffer.capacity, capacity);
    outbuf_put_u64(&buffer, 0);
    ck_assert_uint_eq(buffer.length, capacity + 1);
    ck_assert_int_eq(buffer.data[capacity], '0');
    outbuf_free(&buffer);

    /* a MSG line built the way the router builds one */
    ck_assert_int_eq(outbuf_reserve(&buffer, 64), 0);
    outbuf_put(&buffer, "MSG a.b ", 8);
    outbuf_put_u64(&buffer, 42);
    outbuf_put(&buffer, " ", 1);
    outbuf_put_u64(&buffer, 0);
    outbuf_put(&buffer, "\r\n\r\n", 4);
    ck_assert(outbuf_equals(&buffer, "MSG a.b 42 0\r\n\r\n"));
    outbuf_free(&buffer);
}
END_TEST

START_TEST(test_trim)
{
    struct outbuf buffer = {0};
    outbuf_trim(&buffer, 0); /* never grown: nothing to do */
    ck_assert_ptr_null(buffer.data);
    ck_assert_int_eq(outbuf_reserve(&buffer, 100000), 0);
    size_t capacity = buffer.capacity;
    outbuf_put(&buffer, "abc", 3);
    /* bytes still waiting: kept whatever the size */
    outbuf_trim(&buffer, 0);
    ck_assert_ptr_nonnull(buffer.data);
    ck_assert_uint_eq(buffer.capacity, capacity);
    ck_assert(outbuf_equals(&buffer, "abc"));
    /* empty, within what may be kept: kept for reuse */
    buffer.length = 0;
    outbuf_trim(&buffer, capacity);
    ck_assert_ptr_nonnull(buffer.data);
    ck_assert_uint_eq(buffer.capacity, capacity);
    /* empty and larger than that: given back */
    outbuf_trim(&buffer, capacity - 1);
    ck_assert_ptr_null(buffer.data);
    ck_assert_uint_eq(buffer.capacity, 0);
    ck_assert_uint_eq(buffer.length, 0);
    /* and usable again */
    ck_assert_int_eq(outbuf_reserve(&buffer, 5), 0);
    outbuf_put(&buffer, "hello", 5);
    ck_assert(outbuf_equals(&buffer, "hello"));
    outbuf_free(&buffer);
}
END_TEST

START_TEST(test_free)
{
    struct outbuf buffer = {0};
    outbuf_free(&buffer); /* never grown */
    ck_assert_int_eq(outbuf_reserve(&buffer, 10), 0);
    outbuf_put(&buffer, "0123456789", 10);
    outbuf_free(&buffer);
    ck_assert_ptr_null(buffer.data);
    ck_assert_uint_eq(buffer.length, 0);
    ck_assert_uint_eq(buffer.capacity, 0);
    outbuf_free(&buffer); /* twice: harmless */
    ck_assert_ptr_null(buffer.data);
}
END_TEST

/* Sizes that would wrap the length or the doubling fail with -ENOMEM before any
 * allocation (so this runs under ASan too) and leave the buffer as it was. */
START_TEST(test_reserve_refuses_wrapping_sizes)
{
    struct outbuf buffer = {0};
    ck_assert_int_eq(outbuf_reserve(&buffer, 3), 0);
    outbuf_put(&buffer, "abc", 3);
    size_t capacity = buffer.capacity;
    ck_assert_int_eq(outbuf_reserve(&buffer, SIZE_MAX), -ENOMEM);
    ck_assert_int_eq(outbuf_reserve(&buffer, SIZE_MAX - 2), -ENOMEM);
    ck_assert_int_eq(outbuf_reserve(&buffer, SIZE_MAX / 2), -ENOMEM);
    ck_assert_uint_eq(buffer.capacity, capacity);
    ck_assert(outbuf_equals(&buffer, "abc"));
    outbuf_free(&buffer);
}
END_TEST

/* A reservation no allocator can give fails with -ENOMEM and leaves the buffer as it was. */
START_TEST(test_reserve_fails_whole)
{
    struct outbuf buffer = {0};
    ck_assert_int_eq(outbuf_reserve(&buffer, 3), 0);
    outbuf_put(&buffer, "abc", 3);
    char *data = buffer.data;
    size_t capacity = buffer.capacity;
    ck_assert_int_eq(outbuf_reserve(&buffer, SIZE_MAX / 4), -ENOMEM);
    ck_assert_ptr_eq(buffer.data, data);
    ck_assert_uint_eq(buffer.capacity, capacity);
    ck_assert(outbuf_equals(&buffer, "abc"));
    outbuf_free(&buffer);
}
END_TEST

/* A growth whose allocation fails (alloc_fail.h: the realloc says NULL, with ASan too)
 * says -ENOMEM and leaves the buffer as it was, from empty and with bytes waiting; room
 * already there needs no allocation, so cannot fail; the same growth then succeeds. */
START_TEST(test_reserve_alloc_failure)
{
    int64_t live_before = alloc_fail.live_count;
    struct outbuf buffer = {0};
    alloc_fail_at(1);
    alloc_fail.armed = true;
    int rc = outbuf_reserve(&buffer, 1);
    alloc_fail.armed = false;
    ck_assert_int_eq(rc, -ENOMEM);
    ck_assert_uint_eq(alloc_fail.failed_count, 1);
    ck_assert_ptr_null(buffer.data);
    ck_assert_uint_eq(buffer.capacity, 0);
    ck_assert_uint_eq(buffer.length, 0);
    ck_assert_int_eq(alloc_fail.live_count, live_before);

    ck_assert_int_eq(outbuf_reserve(&buffer, 3), 0);
    outbuf_put(&buffer, "abc", 3);
    char *data = buffer.data;
    size_t capacity = buffer.capacity;
    alloc_fail_at(1);
    alloc_fail.armed = true; /* no Check call while armed: it allocates too */
    int fits_rc = outbuf_reserve(&buffer, capacity - 3);
    uint64_t fits_armed_count = alloc_fail.armed_count;
    rc = outbuf_reserve(&buffer, capacity); /* must grow: the allocation fails */
    alloc_fail.armed = false;
    ck_assert_int_eq(fits_rc, 0);
    ck_assert_uint_eq(fits_armed_count, 0); /* it fit: no allocation */
    ck_assert_int_eq(rc, -ENOMEM);
    ck_assert_uint_eq(alloc_fail.failed_count, 1);
    ck_assert_ptr_eq(buffer.data, data);
    ck_assert_uint_eq(buffer.capacity, capacity);
    ck_assert(outbuf_equals(&buffer, "abc"));

    ck_assert_int_eq(outbuf_reserve(&buffer, capacity), 0);
    ck_assert_uint_ge(buffer.capacity, capacity + 3);
    ck_assert(outbuf_equals(&buffer, "abc"));
    outbuf_free(&buffer);
    ck_assert_int_eq(alloc_fail.live_count, live_before);
}
END_TEST

static Suite *outbuf_suite(void)
{
    Suite *suite = suite_create("outbuf");
    TCase *basics = tcase_create("basics");
    tcase_add_test(basics, test_reserve_and_put);
    tcase_add_test(basics, test_put_u64);
    tcase_add_test(basics, test_put_u64_at_the_end);
    tcase_add_test(basics, test_trim);
    tcase_add_test(basics, test_free);
    tcase_add_test(basics, test_reserve_fails_whole);
    tcase_add_test(basics, test_reserve_alloc_failure);
    tcase_add_test(basics, test_reserve_refuses_wrapping_sizes);
    suite_add_tcase(suite, basics);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(outbuf_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
