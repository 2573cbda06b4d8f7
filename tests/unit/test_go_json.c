/* Unit tests for Go's text as nats-server writes it (proto/go_json.c): JSON strings as
 * encoding/json escapes them, %q as strconv.Quote writes it, UTF-8 decoding as Go's
 * utf8.DecodeRune, and the writer's bounds, growing or lent.
 *
 * Expected texts come from Go itself: json.Marshal built with Go 1.27's encoding/json
 * (GOEXPERIMENT=jsonv2 on Go 1.26, what nats-server 2.15.1 runs) and fmt's %q; the invalid
 * UTF-8 ones were also read back from nats-server 2.15.1 (an error ack's description and
 * STREAM.MSG.GET of a subject holding a byte 0xff). One test thread. */
#include "proto/go_json.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define LIT(s) (s), (sizeof(s) - 1)

/* Go's encoding/json string escaping, which nats-server's replies use. */
START_TEST(test_json_escaping)
{
    static const struct {
        const char *text;
        size_t length;
        const char *json;
    } cases[] = {
        {LIT("a.>"), "\"a.\\u003e\""},
        {LIT("<&>"), "\"\\u003c\\u0026\\u003e\""},
        {LIT("q\"b\\"), "\"q\\\"b\\\\\""},
        {LIT("\b\f\n\r\t\x01\x1f\x7f"), "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\""},
        {LIT("caf\xC3\xA9 \xE2\x80\xA8\xE2\x80\xA9"), "\"caf\xC3\xA9 \\u2028\\u2029\""},
        /* each byte Go cannot decode becomes U+FFFD itself (Go 1.26 and older: "\ufffd") */
        {LIT("\xff\xC3(\xED\xA0\x80"),
         "\"\xEF\xBF\xBD\xEF\xBF\xBD(\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},
        {LIT("a\0b\xEF\xBF\xBD\xF4\x90\x80\x80\xE2\x82"),
         "\"a\\u0000b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
         "\xEF\xBF\xBD\""},
        {LIT("/"), "\"/\""},
        {LIT(""), "\"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct go_json json;
        go_json_init(&json, 256);
        go_json_string(&json, cases[i].text, cases[i].length);
        ck_assert_str_eq(json.data, cases[i].json);
        go_json_free(&json);
    }
}
END_TEST

/* Go's %q, which nats-server uses for success acks and to quote subjects and keys in
 * descriptions. */
START_TEST(test_quote)
{
    static const struct {
        const char *text;
        const char *quoted;
    } cases[] = {
        {"a.>", "\"a.>\""},
        {"q\"\\", "\"q\\\"\\\\\""},
        {"\a\b\f\n\r\t\v\x01\x7f", "\"\\a\\b\\f\\n\\r\\t\\v\\x01\\x7f\""},
        {"\xff\xC3\xA9\xC2\xA0\xE2\x80\xA8", "\"\\xff\xC3\xA9\\u00a0\\u2028\""},
        /* what Go's IsPrint refuses, from both tables the two former copies kept */
        {"\xE1\x9A\x80\xCD\xB8\xEF\xBF\xB0\xF0\x9F\xBF\xBE\xF3\xA0\x80\x81\xDB\x9D",
         "\"\\u1680\\u0378\\ufff0\\U0001fffe\\U000e0001\\u06dd\""},
        {"\xEF\xBF\xBD\xC3\xA9", "\"\xEF\xBF\xBD\xC3\xA9\""},
    };
    char quoted[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t length =
            go_json_quote_into(quoted, sizeof quoted, cases[i].text, strlen(cases[i].text));
        ck_assert_str_eq(quoted, cases[i].quoted);
        ck_assert_uint_eq(length, strlen(cases[i].quoted));
    }
    /* cut whole: never half an escape, and the closing quote goes with the rest */
    ck_assert_uint_eq(go_json_quote_into(quoted, 5, "\x01\x02", 2), 1);
    ck_assert_str_eq(quoted, "\"");
    ck_assert_uint_eq(go_json_quote_into(quoted, 1, "a", 1), 0);
    ck_assert_str_eq(quoted, "");
    /* into a writer: no JSON escaping on top */
    struct go_json json;
    go_json_init(&json, 64);
    go_json_quote(&json, LIT("<\x01"));
    go_json_quote_rune(&json, 0xE9);
    go_json_quote_rune(&json, '"');
    ck_assert_str_eq(json.data, "\"<\\x01\"\xC3\xA9\\\"");
    go_json_free(&json);
}
END_TEST

/* Go's utf8.DecodeRune: what is invalid reads as U+FFFD of size 1. */
START_TEST(test_utf8_decode)
{
    static const struct {
        const char *text;
        size_t length;
        uint32_t rune;
        size_t size;
    } cases[] = {
        {LIT("a"), 'a', 1},
        {LIT("\xC3\xA9"), 0xE9, 2},
        {LIT("\xE2\x80\xA8"), 0x2028, 3},
        {LIT("\xF0\x9F\x98\x80"), 0x1F600, 4},
        {LIT("\xEF\xBF\xBD"), GO_JSON_RUNE_ERROR, 3},     /* U+FFFD itself */
        {LIT("\xC0\x80"), GO_JSON_RUNE_ERROR, 1},         /* overlong */
        {LIT("\xE0\x80\x80"), GO_JSON_RUNE_ERROR, 1},     /* overlong */
        {LIT("\xED\xA0\x80"), GO_JSON_RUNE_ERROR, 1},     /* surrogate */
        {LIT("\xF4\x90\x80\x80"), GO_JSON_RUNE_ERROR, 1}, /* past U+10FFFF */
        {LIT("\xE2\x82"), GO_JSON_RUNE_ERROR, 1},         /* truncated */
        {LIT("\x80"), GO_JSON_RUNE_ERROR, 1},
        {LIT("\xFF"), GO_JSON_RUNE_ERROR, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t rune = 0;
        ck_assert_uint_eq(go_json_utf8_decode(cases[i].text, cases[i].length, &rune),
                          cases[i].size);
        ck_assert_uint_eq(rune, cases[i].rune);
    }
}
END_TEST

/* Members and elements get their commas; past length_max the writer fails whole. */
START_TEST(test_writer)
{
    struct go_json json;
    go_json_init(&json, 256);
    go_json_literal(&json, "{");
    go_json_key(&json, "a");
    go_json_literal(&json, "[");
    for (int i = -1; i <= 1; i++) {
        go_json_comma(&json);
        go_json_int(&json, i);
    }
    go_json_literal(&json, "]");
    go_json_key(&json, "b");
    go_json_bool(&json, true);
    go_json_key(&json, "c");
    go_json_uint(&json, UINT64_MAX);
    go_json_literal(&json, "}");
    ck_assert_str_eq(json.data, "{\"a\":[-1,0,1],\"b\":true,\"c\":18446744073709551615}");
    go_json_free(&json);

    go_json_init(&json, 4);
    go_json_literal(&json, "1234");
    ck_assert(!json.failed);
    go_json_literal(&json, "5");
    ck_assert(json.failed);
    ck_assert_uint_eq(json.length, 4);
    go_json_literal(&json, ""); /* nothing more after a failure, even what would fit */
    ck_assert(json.failed);
    go_json_free(&json);
}
END_TEST

/* A lent buffer is filled exactly (no NUL), never past its size, and one escape or rune
 * goes in whole or not at all. */
START_TEST(test_writer_lent)
{
    char buffer[8];
    memset(buffer, '#', sizeof buffer);
    struct go_json json;
    go_json_init_lent(&json, buffer, 6);
    go_json_string(&json, LIT("ab<"));
    ck_assert(json.failed); /* "ab\u003c" needs 10 */
    ck_assert_uint_eq(json.length, 3);
    ck_assert(memcmp(buffer, "\"ab###", 6) == 0);

    go_json_init_lent(&json, buffer, 6);
    go_json_string(&json, LIT("abcd"));
    ck_assert(!json.failed);
    ck_assert_uint_eq(json.length, 6);
    ck_assert(memcmp(buffer, "\"abcd\"##", 8) == 0);
    go_json_free(&json); /* nothing to free: the buffer is the caller's */
    ck_assert_ptr_null(json.data);
}
END_TEST

static Suite *go_json_suite(void)
{
    Suite *suite = suite_create("go_json");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, test_json_escaping);
    tcase_add_test(tc, test_quote);
    tcase_add_test(tc, test_utf8_decode);
    suite_add_tcase(suite, tc);
    tc = tcase_create("writer");
    tcase_add_test(tc, test_writer);
    tcase_add_test(tc, test_writer_lent);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(go_json_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
