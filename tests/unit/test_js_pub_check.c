/* JetStream publish tests, the stages' checks (proto/js_pub_check.c): which error each
 * stage gives first for a block and a stream's rules, in nats-server 2.15.1's order (see
 * test_js_pub.c). One test thread. */
#include "tests/unit/test_js_pub.h"

#include <stdlib.h>

static const struct js_pub_rules PLAIN = {.allow_rollup = false};
static const struct js_pub_rules ROLLUP = {.allow_rollup = true};
static const struct js_pub_rules TTL = {.allow_msg_ttl = true};
static const struct js_pub_rules COUNTER = {.allow_msg_counter = true};
static const struct js_pub_rules ATOMIC = {.allow_atomic = true};

/* The first error of `stage` for `block` published with `payload_length` to stream S. */
static enum js_pub_error check(const char *block, size_t length, const struct js_pub_rules *rules,
                               size_t payload_length, enum js_pub_stage stage)
{
    struct js_pub_directives d;
    char *copy = parse(block, length, &d);
    struct js_pub_context context = {TEXT("S"), payload_length};
    enum js_pub_error error = js_pub_check(&d, rules, &context, stage);
    free(copy);
    return error;
}

#define CHECK(block, rules, payload, stage) check(LIT(block), &(rules), (payload), (stage))

START_TEST(test_check_headers)
{
    const enum js_pub_stage H = JS_PUB_STAGE_HEADERS;
    ck_assert_int_eq(CHECK("NATS/1.0\r\nA: b\r\n\r\n", PLAIN, 0, H), JS_PUB_OK);
    /* an invalid increment is refused even where counters are off (10171 before 10168) */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: x\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_INCR_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: 1\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_INCR_DISABLED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: 1\r\n\r\n", COUNTER, 1, H),
                     JS_PUB_ERR_INCR_PAYLOAD);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: 1\r\nNats-Rollup: sub\r\n\r\n", COUNTER, 0, H),
                     JS_PUB_ERR_INCR_INVALID);
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Incr: 1\r\nNats-Expected-Last-Sequence: 5\r\n\r\n", COUNTER, 0, H),
        JS_PUB_ERR_INCR_INVALID);
    /* an empty expectation is no expectation */
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Incr: 1\r\nNats-Expected-Last-Sequence:\r\n\r\n", COUNTER, 0, H),
        JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Stream: X\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_STREAM_NOT_MATCH);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Stream: S\r\n\r\n", PLAIN, 0, H), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Stream:\r\n\r\n", PLAIN, 0, H), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 5s\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_TTL_DISABLED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: NEVER\r\n\r\n", PLAIN, 0, H),
                     JS_PUB_ERR_TTL_DISABLED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 5s\r\n\r\n", TTL, 0, H), JS_PUB_OK);
    /* an invalid TTL passes here and is refused last, even on a stream without TTLs */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: abc\r\n\r\n", PLAIN, 0, H), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: abc\r\n\r\n", PLAIN, 0, JS_PUB_STAGE_TTL),
                     JS_PUB_ERR_TTL_INVALID);
    /* 2.11: a subject without its sequence (2.9.10 ignored the header) */
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Expected-Last-Subject-Sequence-Subject: s.b\r\n\r\n", PLAIN, 0, H),
        JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 0\r\n"
                           "Nats-Expected-Last-Subject-Sequence-Subject: s.b\r\n\r\n",
                           PLAIN, 0, H),
                     JS_PUB_OK);
    /* order: the counter before the stream, the stream before the TTL */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 5s\r\nNats-Expected-Stream: X\r\n"
                           "Nats-Incr: y\r\n\r\n",
                           PLAIN, 0, H),
                     JS_PUB_ERR_INCR_INVALID);
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-TTL: 5s\r\nNats-Expected-Stream: X\r\n\r\n", PLAIN, 0, H),
        JS_PUB_ERR_STREAM_NOT_MATCH);
}
END_TEST

START_TEST(test_check_later_stages)
{
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Stream-Source: X\r\n\r\n", PLAIN, 0, JS_PUB_STAGE_SOURCE),
        JS_PUB_ERR_SOURCE_HEADER);
    const enum js_pub_stage R = JS_PUB_STAGE_ROLLUP;
    /* not permitted wins over an invalid value */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: bogus\r\n\r\n", PLAIN, 0, R),
                     JS_PUB_ERR_ROLLUP_NOT_PERMITTED);
    struct js_pub_rules deny = {.allow_rollup = true, .deny_purge = true};
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: sub\r\n\r\n", deny, 0, R),
                     JS_PUB_ERR_ROLLUP_NOT_PERMITTED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: Foo\r\n\r\n", ROLLUP, 0, R),
                     JS_PUB_ERR_ROLLUP_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: ALL\r\n\r\n", ROLLUP, 0, R), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup:\r\n\r\n", PLAIN, 0, R), JS_PUB_OK);
    /* a counter stream needs Nats-Incr, with or without a header block */
    ck_assert_int_eq(check(NULL, 0, &COUNTER, 0, R), JS_PUB_ERR_INCR_MISSING);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nFoo: bar\r\n\r\n", COUNTER, 0, R), JS_PUB_ERR_INCR_MISSING);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Incr: 1\r\n\r\n", COUNTER, 0, R), JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 500ms\r\n\r\n", TTL, 0, JS_PUB_STAGE_TTL),
                     JS_PUB_ERR_TTL_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: 00\r\n\r\n", TTL, 0, JS_PUB_STAGE_TTL),
                     JS_PUB_OK);
}
END_TEST

START_TEST(test_check_batch)
{
    const enum js_pub_stage E = JS_PUB_STAGE_BATCH_ENTRY;
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Batch-Id: b\r\nNats-Batch-Sequence: 1\r\n\r\n", PLAIN, 0, E),
        JS_PUB_ERR_ATOMIC_DISABLED);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Batch-Id: "
                           "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"
                           "Nats-Batch-Sequence: 1\r\n\r\n",
                           ATOMIC, 0, E),
                     JS_PUB_ERR_ATOMIC_INVALID_ID); /* 65 bytes; 64 pass */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Batch-Id: "
                           "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n"
                           "Nats-Batch-Sequence: 1\r\n\r\n",
                           ATOMIC, 0, E),
                     JS_PUB_OK);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Batch-Id: b\r\n\r\n", ATOMIC, 0, E),
                     JS_PUB_ERR_ATOMIC_MISSING_SEQ);
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Batch-Id: b\r\nNats-Batch-Sequence: x\r\n\r\n", ATOMIC, 0, E),
        JS_PUB_ERR_ATOMIC_MISSING_SEQ);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Batch-Id: b\r\nNats-Batch-Commit: 2\r\n\r\n", ATOMIC,
                           0, JS_PUB_STAGE_BATCH_COMMIT_VALUE),
                     JS_PUB_ERR_ATOMIC_INVALID_COMMIT);
    const enum js_pub_stage M = JS_PUB_STAGE_BATCH_MESSAGE;
    ck_assert_int_eq(
        CHECK("NATS/1.0\r\nNats-Expected-Last-Msg-Id: x\r\nNats-Incr: y\r\n\r\n", ATOMIC, 0, M),
        JS_PUB_ERR_ATOMIC_UNSUPPORTED_HEADER);
    /* inside a batch a TTL is judged whole: disabled first, then invalid */
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: abc\r\n\r\n", ATOMIC, 0, M),
                     JS_PUB_ERR_TTL_DISABLED);
    struct js_pub_rules atomic_ttl = {.allow_atomic = true, .allow_msg_ttl = true};
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-TTL: abc\r\n\r\n", atomic_ttl, 0, M),
                     JS_PUB_ERR_TTL_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Expected-Stream: X\r\n\r\n", ATOMIC, 0, M),
                     JS_PUB_ERR_STREAM_NOT_MATCH);
    /* later in the commit: the counter, then the subject without its sequence, then the
     * rollup (in a batch 10193 comes after the expected-sequence checks, next to the rollup) */
    ck_assert_int_eq(check(NULL, 0, &COUNTER, 0, JS_PUB_STAGE_BATCH_COUNTER),
                     JS_PUB_ERR_INCR_MISSING);
    const enum js_pub_stage L = JS_PUB_STAGE_BATCH_ROLLUP;
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: Foo\r\n"
                           "Nats-Expected-Last-Subject-Sequence-Subject: a.b\r\n\r\n",
                           ATOMIC, 0, L),
                     JS_PUB_ERR_LAST_SUBJECT_SEQ_MISSING);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: Foo\r\n\r\n", ATOMIC, 0, L),
                     JS_PUB_ERR_ROLLUP_NOT_PERMITTED);
    struct js_pub_rules atomic_rollup = {.allow_atomic = true, .allow_rollup = true};
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: Foo\r\n\r\n", atomic_rollup, 0, L),
                     JS_PUB_ERR_ROLLUP_INVALID);
    ck_assert_int_eq(CHECK("NATS/1.0\r\nNats-Rollup: sub\r\n\r\n", atomic_rollup, 0, L), JS_PUB_OK);
}
END_TEST

TCase *js_pub_checks_tcase(void)
{
    TCase *tc = tcase_create("checks");
    tcase_add_test(tc, test_check_headers);
    tcase_add_test(tc, test_check_later_stages);
    tcase_add_test(tc, test_check_batch);
    return tc;
}
