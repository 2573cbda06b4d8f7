/* Unit tests for engine/monitor_json.c: values as nats-server's Go writes them in its
 * monitoring JSON — times (RFC 3339 with trailing zeros dropped), its uptime strings,
 * float64s (the shortest text that reads back, %e outside [1e-6, 1e21)), and the layout of
 * json.MarshalIndent — each compared with text nats-server 2.15.1 wrote. */
#include "engine/monitor_internal.h"

#include "base/clock.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Runs `write` on a fresh writer and compares the text. */
#define CHECK_TEXT(expected, write)                                                          \
    do {                                                                                     \
        struct go_json json_;                                                                \
        go_json_init(&json_, 1 << 20);                                                       \
        struct go_json *json = &json_;                                                       \
        write;                                                                               \
        ck_assert(!json_.failed);                                                            \
        ck_assert_str_eq(json_.data != NULL ? json_.data : "", (expected));                  \
        go_json_free(&json_);                                                                \
    } while (0)

START_TEST(test_time)
{
    /* 2026-12-07T10:11:39.998153781Z, as nats-server's varz "start" */
    int64_t ns = 1796638299LL * NS_PER_SEC + 998153781;
    CHECK_TEXT("\"2026-12-07T10:11:39.998153781Z\"", monitor_json_time(json, ns));
    CHECK_TEXT("\"2026-12-07T10:11:39.9981Z\"", monitor_json_time(json, ns - 53781));
    CHECK_TEXT("\"2026-12-07T10:11:39Z\"", monitor_json_time(json, ns - 998153781));
    CHECK_TEXT("\"1970-01-01T00:00:00.000000001Z\"", monitor_json_time(json, 1));
}
END_TEST

START_TEST(test_uptime)
{
    const int64_t s = NS_PER_SEC;
    CHECK_TEXT("\"0s\"", monitor_json_uptime(json, 999999999));
    CHECK_TEXT("\"0s\"", monitor_json_uptime(json, -5 * s));
    CHECK_TEXT("\"59s\"", monitor_json_uptime(json, 59 * s));
    CHECK_TEXT("\"1m0s\"", monitor_json_uptime(json, 60 * s));
    CHECK_TEXT("\"2h0m1s\"", monitor_json_uptime(json, 7201 * s));
    CHECK_TEXT("\"1d0h0m0s\"", monitor_json_uptime(json, 86400 * s));
    CHECK_TEXT("\"1y2d3h4m5s\"",
               monitor_json_uptime(json, (367LL * 86400 + 3 * 3600 + 4 * 60 + 5) * s));
}
END_TEST

START_TEST(test_float)
{
    CHECK_TEXT("0", monitor_json_float(json, 0.0));
    CHECK_TEXT("2", monitor_json_float(json, 2.0));
    CHECK_TEXT("0.5", monitor_json_float(json, 0.5));
    CHECK_TEXT("0.2727272727272727", monitor_json_float(json, 3.0 / 11.0));
    CHECK_TEXT("0.5555555555555556", monitor_json_float(json, 5.0 / 9.0));
    CHECK_TEXT("0.30000000000000004", monitor_json_float(json, 0.1 + 0.2));
    CHECK_TEXT("123.4", monitor_json_float(json, 123.4));
    CHECK_TEXT("-1.5", monitor_json_float(json, -1.5));
    CHECK_TEXT("0.000001", monitor_json_float(json, 1e-6));
    CHECK_TEXT("1e-07", monitor_json_float(json, 1e-7));
    CHECK_TEXT("1e+21", monitor_json_float(json, 1e21));
    CHECK_TEXT("100000000000000000000", monitor_json_float(json, 1e20));
}
END_TEST

START_TEST(test_indent)
{
    static const char compact[] = "{\"a\":1,\"b\":{},\"c\":[],\"d\":[\"x\",{\"e\":\"{,:[\\\"\"}],"
                                  "\"f\":{\"g\":true}}";
    static const char expected[] = "{\n"
                                   "  \"a\": 1,\n"
                                   "  \"b\": {},\n"
                                   "  \"c\": [],\n"
                                   "  \"d\": [\n"
                                   "    \"x\",\n"
                                   "    {\n"
                                   "      \"e\": \"{,:[\\\"\"\n"
                                   "    }\n"
                                   "  ],\n"
                                   "  \"f\": {\n"
                                   "    \"g\": true\n"
                                   "  }\n"
                                   "}";
    CHECK_TEXT(expected, monitor_json_indent(compact, sizeof compact - 1, json));
    CHECK_TEXT("{\n  \"status\": \"ok\"\n}", monitor_json_indent("{\"status\":\"ok\"}", 15, json));
}
END_TEST

static Suite *monitor_json_suite(void)
{
    Suite *suite = suite_create("monitor_json");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, test_time);
    tcase_add_test(tc, test_uptime);
    tcase_add_test(tc, test_float);
    tcase_add_test(tc, test_indent);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(monitor_json_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
