/* Counter arithmetic (proto/js_counter.c): sums and differences of decimal integers of any
 * length, written as Go's big.Int String() writes them (the values were checked against a
 * counter stream of nats-server 2.15.1: 5, -12 and +1e29 make 5, -7 and
 * 99999999999999999999999999993). */
#include "proto/js_counter.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *sum(const char *a, const char *b, bool subtract)
{
    static char out[JS_COUNTER_DIGITS_MAX + 2];
    int length = js_counter_add(a, strlen(a), b, strlen(b), subtract, out, sizeof out);
    ck_assert_int_ge(length, 0);
    ck_assert_int_eq((size_t)length, strlen(out));
    return out;
}

START_TEST(test_counter_sums)
{
    static const struct {
        const char *a;
        const char *b;
        bool subtract;
        const char *expected;
    } cases[] = {
        {"0", "5", false, "5"},
        {"5", "-12", false, "-7"},
        {"-7", "+100000000000000000000000000000", false, "99999999999999999999999999993"},
        {"99999999999999999999999999993", "1", false, "99999999999999999999999999994"},
        {"999", "1", false, "1000"},
        {"1000", "1", true, "999"},
        {"-1000", "-1", true, "-999"},
        {"5", "5", true, "0"},
        {"-5", "5", false, "0"},
        {"007", "-0003", false, "4"},
        {"-0", "0", false, "0"},
        {"+0", "-0", true, "0"},
        {"12", "", false, "12"},
        {"-3", "-4", false, "-7"},
        {"3", "-4", true, "7"},
        {"-18446744073709551616", "18446744073709551616", false, "0"},
        {"18446744073709551615", "1", false, "18446744073709551616"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(strcmp(sum(cases[i].a, cases[i].b, cases[i].subtract), cases[i].expected) ==
                          0,
                      "%s %c %s: %s", cases[i].a, cases[i].subtract ? '-' : '+', cases[i].b,
                      sum(cases[i].a, cases[i].b, cases[i].subtract));
    }
}
END_TEST

/* Against a 64-bit model: every pair of a small grid, both operations. */
START_TEST(test_counter_model)
{
    static const long long values[] = {0, 1, -1, 9, -9, 10, 99, -100, 12345, -54321,
                                       999999999, -1000000000, 4611686018427387903LL,
                                       -4611686018427387903LL};
    size_t count = sizeof values / sizeof values[0];
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < count; j++) {
            for (int op = 0; op < 2; op++) {
                char a[32];
                char b[32];
                char expected[32];
                snprintf(a, sizeof a, "%lld", values[i]);
                snprintf(b, sizeof b, "%lld", values[j]);
                snprintf(expected, sizeof expected, "%lld",
                         op == 0 ? values[i] + values[j] : values[i] - values[j]);
                ck_assert_str_eq(sum(a, b, op == 1), expected);
            }
        }
    }
}
END_TEST

START_TEST(test_counter_valid_and_bounds)
{
    ck_assert(js_counter_valid("1", 1));
    ck_assert(js_counter_valid("-0", 2));
    ck_assert(js_counter_valid("+12", 3));
    ck_assert(!js_counter_valid("", 0));
    ck_assert(!js_counter_valid("+", 1));
    ck_assert(!js_counter_valid("1.5", 3));
    ck_assert(!js_counter_valid("1e3", 3));
    ck_assert(!js_counter_valid(" 1", 2));
    char small[3];
    ck_assert_int_eq(js_counter_add("99", 2, "1", 1, false, small, sizeof small), -1);
    ck_assert_int_eq(js_counter_add("9", 1, "0", 1, false, small, sizeof small), 1);
    char *huge = malloc(JS_COUNTER_DIGITS_MAX + 1);
    memset(huge, '9', JS_COUNTER_DIGITS_MAX);
    huge[JS_COUNTER_DIGITS_MAX] = '\0';
    char out[JS_COUNTER_DIGITS_MAX + 8];
    /* one digit more than the bound: refused, not truncated */
    ck_assert_int_eq(js_counter_add(huge, JS_COUNTER_DIGITS_MAX, "1", 1, false, out, sizeof out),
                     -1);
    ck_assert_int_eq(js_counter_add(huge, JS_COUNTER_DIGITS_MAX, "1", 1, true, out, sizeof out),
                     JS_COUNTER_DIGITS_MAX);
    free(huge);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("js_counter");
    TCase *tc = tcase_create("arithmetic");
    tcase_add_test(tc, test_counter_sums);
    tcase_add_test(tc, test_counter_model);
    tcase_add_test(tc, test_counter_valid_and_bounds);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
