/* JetStream publish tests, the acks (proto/js_pub_ack.c): every success and error ack
 * byte for byte as nats-server 2.15.1 sent it, the text in them, and the buffer bounds
 * (see test_js_pub.c). One test thread. */
#include "tests/unit/test_js_pub.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void expect_bytes(const char *got, size_t got_length, const char *want, size_t want_length)
{
    ck_assert_msg(got_length == want_length && memcmp(got, want, want_length) == 0,
                  "got  %.*s\nwant %.*s", (int)got_length, got, (int)want_length, want);
}

static void expect_ack(const struct js_pub_ack *ack, const char *want, size_t want_length)
{
    char buffer[512];
    size_t length = 0;
    ck_assert_int_eq(js_pub_ack_write(ack, buffer, sizeof buffer, &length), 0);
    expect_bytes(buffer, length, want, want_length);
}

static void expect_error_ack(const char *stream, enum js_pub_error error,
                             const struct js_pub_error_args *args, const char *want,
                             size_t want_length)
{
    char buffer[512];
    size_t length = 0;
    struct js_pub_text name = {stream, strlen(stream)};
    ck_assert_int_eq(js_pub_error_ack_write(name, error, args, buffer, sizeof buffer, &length), 0);
    expect_bytes(buffer, length, want, want_length);
}

/* An error ack as nats-server sent it: the envelope of test_error_acks's first ack around
 * `code`, `err_code` and `description` (JSON-escaped as sent). */
static void expect_error_ack_fields(const char *stream, enum js_pub_error error,
                                    const struct js_pub_error_args *args, int code, int err_code,
                                    const char *description)
{
    char want[512];
    int n = snprintf(want, sizeof want,
                     "{\"error\":{\"code\":%d,\"err_code\":%d,\"description\":\"%s\"},"
                     "\"stream\":\"%s\",\"seq\":0}",
                     code, err_code, description, stream);
    ck_assert(n > 0 && (size_t)n < sizeof want);
    expect_error_ack(stream, error, args, want, (size_t)n);
}

/* 2.15.1's success acks; 2.9.10 to 2.11 wrote `{"stream":"S", "seq":1}` (a space after
 * each comma of the prefix) and had no val or batch. */
START_TEST(test_success_acks)
{
    struct js_pub_ack ack = {.stream = TEXT("S"), .seq = 1};
    expect_ack(&ack, LIT("{\"stream\":\"S\",\"seq\":1}"));
    ack.seq = 3;
    ack.duplicate = true;
    expect_ack(&ack, LIT("{\"stream\":\"S\",\"seq\":3,\"duplicate\": true}"));
    ack.domain = TEXT("hub");
    ack.seq = 2;
    expect_ack(&ack, LIT("{\"stream\":\"S\",\"domain\":\"hub\",\"seq\":2,\"duplicate\": true}"));
    ack.duplicate = false;
    ack.seq = 1;
    expect_ack(&ack, LIT("{\"stream\":\"S\",\"domain\":\"hub\",\"seq\":1}"));

    struct js_pub_ack counter = {
        .stream = TEXT("C"), .seq = 7, .counter_value = TEXT("100000000000000000000000000000007")};
    expect_ack(&counter,
               LIT("{\"stream\":\"C\",\"seq\":7,\"val\":\"100000000000000000000000000000007\"}"));
    counter.duplicate = true; /* a counter's duplicate carries no val */
    counter.seq = 9;
    expect_ack(&counter, LIT("{\"stream\":\"C\",\"seq\":9,\"duplicate\": true}"));
    counter.duplicate = false;
    counter.domain = TEXT("hub");
    counter.seq = 1;
    counter.counter_value = TEXT("1");
    expect_ack(&counter, LIT("{\"stream\":\"C\",\"domain\":\"hub\",\"seq\":1,\"val\":\"1\"}"));

    struct js_pub_ack batch = {
        .stream = TEXT("A"), .seq = 2, .batch_id = TEXT("b1"), .batch_count = 2};
    expect_ack(&batch, LIT("{\"stream\":\"A\",\"seq\":2,\"batch\":\"b1\",\"count\":2}"));
    batch.domain = TEXT("hub");
    batch.seq = 1;
    batch.batch_count = 1;
    expect_ack(&batch,
               LIT("{\"stream\":\"A\",\"domain\":\"hub\",\"seq\":1,\"batch\":\"b1\",\"count\":1}"));
    /* a duplicate in a fast batch (2.14; from the source, not observed) keeps both */
    batch.duplicate = true;
    expect_ack(&batch, LIT("{\"stream\":\"A\",\"domain\":\"hub\",\"seq\":1,\"duplicate\": true,"
                           "\"batch\":\"b1\",\"count\":1}"));
    /* the id goes through Go's %q, not JSON: <& stay, \x01 and a bad byte are Go escapes */
    struct js_pub_ack quoted = {
        .stream = TEXT("A"), .seq = 5, .batch_id = TEXT("q\"<&\x01\xff\xc3\xa9"), .batch_count = 1};
    expect_ack(
        &quoted,
        LIT("{\"stream\":\"A\",\"seq\":5,\"batch\":\"q\\\"<&\\x01\\xff\xc3\xa9\",\"count\":1}"));
}
END_TEST

/* Every error this module names, as 2.15.1 sent it (10199 from the source's errors.json);
 * all share the shape of the first, spelled out whole. */
START_TEST(test_error_acks)
{
    expect_error_ack("S", JS_PUB_ERR_STREAM_NOT_MATCH, NULL,
                     LIT("{\"error\":{\"code\":400,\"err_code\":10060,\"description\":\"expected "
                         "stream does not match\"},\"stream\":\"S\",\"seq\":0}"));
    static const struct {
        enum js_pub_error error;
        const char *stream;
        int code, err_code;
        const char *text;
    } fixed[] = {
        {JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING, "S", 400, 10193,
         "missing sequence for expected last sequence per subject"},
        {JS_PUB_ERR_ROLLUP_NOT_PERMITTED, "NR", 500, 10111, "rollup not permitted"},
        {JS_PUB_ERR_TTL_DISABLED, "S", 400, 10166, "per-message TTL is disabled"},
        {JS_PUB_ERR_TTL_INVALID, "S", 400, 10165, "invalid per-message TTL"},
        {JS_PUB_ERR_INCR_DISABLED, "S", 400, 10168, "message counters is disabled"},
        {JS_PUB_ERR_INCR_MISSING, "C", 400, 10169, "message counter increment is missing"},
        {JS_PUB_ERR_INCR_PAYLOAD, "C", 400, 10170, "message counter has payload"},
        {JS_PUB_ERR_INCR_INVALID, "S", 400, 10171, "message counter increment is invalid"},
        {JS_PUB_ERR_ATOMIC_DISABLED, "S", 400, 10174, "atomic publish is disabled"},
        {JS_PUB_ERR_ATOMIC_MISSING_SEQ, "A", 400, 10175, "atomic publish sequence is missing"},
        {JS_PUB_ERR_ATOMIC_INCOMPLETE, "A", 400, 10176, "atomic publish batch is incomplete"},
        {JS_PUB_ERR_ATOMIC_INVALID_ID, "A", 400, 10179, "atomic publish batch ID is invalid"},
        {JS_PUB_ERR_ATOMIC_INVALID_COMMIT, "A", 400, 10200,
         "atomic publish batch commit is invalid"},
        {JS_PUB_ERR_ATOMIC_DUPLICATE_MSG_ID, "A", 400, 10201,
         "atomic publish batch contains duplicate message id"},
        {JS_PUB_ERR_SOURCE_HEADER, "S", 400, 10227, "message stream source header is not allowed"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        expect_error_ack_fields(fixed[i].stream, fixed[i].error, NULL, fixed[i].code,
                                fixed[i].err_code, fixed[i].text);
    }
    struct js_pub_error_args args = {.number = 11};
    expect_error_ack_fields("S", JS_PUB_ERR_WRONG_LAST_SEQUENCE, &args, 400, 10071,
                            "wrong last sequence: 11");
    args.number = 1000;
    expect_error_ack_fields("A", JS_PUB_ERR_ATOMIC_TOO_LARGE, &args, 400, 10199,
                            "atomic publish batch is too large: 1000");
    args.text = TEXT("Nats-Expected-Last-Msg-Id");
    expect_error_ack_fields("A", JS_PUB_ERR_ATOMIC_UNSUPPORTED_HEADER, &args, 400, 10177,
                            "atomic publish unsupported header used: Nats-Expected-Last-Msg-Id");
}
END_TEST

/* Text in error acks: JSON as 2.15.1 writes it (2.9.10 wrote \u0008, \u000c, \ufffd). */
START_TEST(test_error_ack_text)
{
    struct js_pub_error_args args = {.text = TEXT("a<b>&\x08\x0c\x01\x7f\xff\xe2\x80\xa8\"\\z")};
    expect_error_ack_fields(
        "S", JS_PUB_ERR_WRONG_LAST_MSG_ID, &args, 400, 10070,
        "wrong last msg ID: a\\u003cb\\u003e\\u0026\\b\\f\\u0001\x7f\xef\xbf\xbd"
        "\\u2028\\\"\\\\z");
    args.text = TEXT("\xc2\x85\xc2\xad\xef\xbb\xbf\xc3\xa9\x7f");
    expect_error_ack_fields("S", JS_PUB_ERR_WRONG_LAST_MSG_ID, &args, 400, 10070,
                            "wrong last msg ID: \xc2\x85\xc2\xad\xef\xbb\xbf\xc3\xa9\x7f");
    /* the rollup value is lowered, %q-quoted, then JSON-escaped */
    args.text = TEXT("Foo");
    expect_error_ack_fields("S", JS_PUB_ERR_ROLLUP_INVALID, &args, 500, 10111,
                            "rollup value invalid: \\\"foo\\\"");
    args.text = TEXT("a\"b\\c\x01\x7f\xff<&\xc3\x84\xe2\x80\xa8");
    expect_error_ack_fields(
        "S", JS_PUB_ERR_ROLLUP_INVALID, &args, 500, 10111,
        "rollup value invalid: \\\"a\\\\\\\"b\\\\\\\\c\\\\x01\\\\x7f\xef\xbf\xbd"
        "\\u003c\\u0026\xc3\xa4\\\\u2028\\\"");
}
END_TEST

/* Any other API error; err_code 0 and an empty description are left out (omitempty). */
START_TEST(test_nak_raw)
{
    char buffer[256];
    size_t length = 0;
    ck_assert_int_eq(js_pub_nak_write(TEXT("S"), 400, 10109,
                                      TEXT("invalid operation on sealed stream"), buffer,
                                      sizeof buffer, &length),
                     0);
    expect_bytes(buffer, length,
                 LIT("{\"error\":{\"code\":400,\"err_code\":10109,\"description\":\"invalid "
                     "operation on sealed stream\"},\"stream\":\"S\",\"seq\":0}"));
    ck_assert_int_eq(js_pub_nak_write(TEXT("S<"), 503, 0, TEXT(""), buffer, sizeof buffer, &length),
                     0);
    expect_bytes(buffer, length,
                 LIT("{\"error\":{\"code\":503},\"stream\":\"S\\u003c\",\"seq\":0}"));
}
END_TEST

/* A buffer one byte short fails whole; the documented bound holds for the worst bytes. */
START_TEST(test_buffer_bounds)
{
    char buffer[4096];
    size_t length = 0;
    struct js_pub_ack ack = {.stream = TEXT("S"),
                             .domain = TEXT("hub"),
                             .seq = UINT64_MAX,
                             .duplicate = true,
                             .batch_id = TEXT("b"),
                             .batch_count = UINT64_MAX};
    ck_assert_int_eq(js_pub_ack_write(&ack, buffer, sizeof buffer, &length), 0);
    size_t needed = length;
    for (size_t size = 0; size < needed; size++) {
        ck_assert_int_eq(js_pub_ack_write(&ack, buffer, size, &length), -ENOBUFS);
    }
    ck_assert_int_eq(js_pub_ack_write(&ack, buffer, needed, &length), 0);
    ck_assert_uint_eq(length, needed);

    enum { WORST_LENGTH = 100 };
    static const char worst[] = {'<', '\x01', '"', '\xff'};
    for (size_t w = 0; w < sizeof worst; w++) {
        char text[WORST_LENGTH];
        memset(text, worst[w], sizeof text);
        struct js_pub_error_args args = {UINT64_MAX, {text, sizeof text}};
        struct js_pub_text stream = {text, sizeof text};
        size_t bound = JS_PUB_REPLY_FIXED_SIZE_MAX + JS_PUB_REPLY_EXPANSION_MAX * 2 * WORST_LENGTH;
        ck_assert_int_eq(js_pub_error_ack_write(stream, JS_PUB_ERR_ROLLUP_INVALID, &args, buffer,
                                                bound, &length),
                         0);
        ck_assert_int_eq(js_pub_error_ack_write(stream, JS_PUB_ERR_WRONG_LAST_MSG_ID, &args, buffer,
                                                bound, &length),
                         0);
        struct js_pub_ack quoted = {.stream = stream,
                                    .domain = stream,
                                    .seq = UINT64_MAX,
                                    .batch_id = stream,
                                    .batch_count = UINT64_MAX};
        bound = JS_PUB_REPLY_FIXED_SIZE_MAX + JS_PUB_REPLY_EXPANSION_MAX * 3 * WORST_LENGTH;
        ck_assert_int_eq(js_pub_ack_write(&quoted, buffer, bound, &length), 0);
    }
}
END_TEST

START_TEST(test_error_table)
{
    for (int e = JS_PUB_OK + 1; e < JS_PUB_ERROR_COUNT; e++) {
        const struct js_pub_api_error *api = js_pub_error_api((enum js_pub_error)e);
        ck_assert(api->code == 400 || api->code == 429 || api->code == 500);
        ck_assert_uint_ge(api->err_code, 10060);
        ck_assert_uint_gt(strlen(api->description), 0);
    }
}
END_TEST

/* The one error a client's rate draws: 10210 with 429, as nats-server writes it. */
START_TEST(test_error_too_many_inflight)
{
    const struct js_pub_api_error *api = js_pub_error_api(JS_PUB_ERR_ATOMIC_TOO_MANY_INFLIGHT);
    ck_assert_int_eq(api->code, 429);
    ck_assert_uint_eq(api->err_code, 10210);
    ck_assert_str_eq(api->description, "atomic publish too many inflight");
    char buffer[JS_PUB_REPLY_FIXED_SIZE_MAX + 16];
    size_t length = 0;
    const struct js_pub_text stream = {.bytes = "S", .length = 1};
    ck_assert_int_eq(js_pub_error_ack_write(stream, JS_PUB_ERR_ATOMIC_TOO_MANY_INFLIGHT, NULL,
                                            buffer, sizeof buffer, &length),
                     0);
    static const char WANT[] = "{\"error\":{\"code\":429,\"err_code\":10210,\"description\":"
                               "\"atomic publish too many inflight\"},\"stream\":\"S\",\"seq\":0}";
    ck_assert_uint_eq(length, sizeof WANT - 1);
    ck_assert(memcmp(buffer, WANT, length) == 0);
}
END_TEST

TCase *js_pub_acks_tcase(void)
{
    TCase *tc = tcase_create("acks");
    tcase_add_test(tc, test_success_acks);
    tcase_add_test(tc, test_error_acks);
    tcase_add_test(tc, test_error_too_many_inflight);
    tcase_add_test(tc, test_error_ack_text);
    tcase_add_test(tc, test_nak_raw);
    tcase_add_test(tc, test_buffer_bounds);
    tcase_add_test(tc, test_error_table);
    return tc;
}
