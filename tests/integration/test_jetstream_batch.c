/* Atomic batch publish (nats-server 2.12: allow_atomic, Nats-Batch-Id, Nats-Batch-Sequence,
 * Nats-Batch-Commit) through libnats, against ionats or, with IONATS_TEST_SERVER=nats-server,
 * the reference, with the same expectations (read from nats-server 2.15.1):
 * - a message that does not commit is answered with an empty message; the commit ("1",
 *   stored, or "eob", not stored) with {"stream":..,"seq":<last>,"batch":<id>,"count":N};
 *   the messages are stored with their batch headers, and the last one of an eob batch
 *   gains "Nats-Batch-Commit: 1";
 * - errors, each exactly (code, err_code, description), nothing stored after any: disabled
 *   (10174), an id over 64 bytes (10179), no sequence (10175), a commit value other than
 *   "1" or "eob" (10200), a gap, an unknown batch or an eob first (10176), a sequence past
 *   1000 (10199), Nats-Expected-Last-Msg-Id (10177), a wrong expected last sequence (10071;
 *   past the first message it is compared with the sequence before that message, and a
 *   match is 10164), an expected last subject sequence on a subject
 *   the batch wrote (10164), a Nats-Msg-Id twice in the batch or already stored (10201), a
 *   rollup of all past the first message or of a subject the batch wrote (10111), TTL on a
 *   stream without it (10166); after an error the batch is gone (the next message: 10176);
 * - counters inside a batch total over the batch's own increments;
 * - bounds: 50 batches open per stream (the 51st: 429 10210), 1000 messages per batch (the
 *   1001st: 10199, advisory "large"); a batch left without a message for 10 s (nats-server's
 *   default timeout, which ionats cannot change) is abandoned with the advisory "timeout".
 *
 * Atomic batches are a nats-server 2.12 feature: against an older reference (Debian's
 * 2.9.10) the whole program exits 77 (meson: SKIP) and says so.
 *
 * The one idea: every case checks both the answer and the stream's state after it, so an
 * error that left part of a batch behind fails. The timeout case waits for the 10 s
 * timeout while it checks the bounds, so the program takes about 11 s. Test thread only. */
#include "tests/integration/jst_common.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference release that brought atomic batches. */
enum { BATCH_MAJOR = 2, BATCH_MINOR = 12 };

/* nats-server's bounds (jetstream.limits.batch defaults). */
enum { BATCH_MSGS_MAX = 1000, BATCH_PER_STREAM_MAX = 50 };

/* How long past nats-server's 10 s batch timeout the advisory may take: ionats checks
 * every 250 ms, and a loaded machine adds more. */
enum { TIMEOUT_WAIT_MS = 10000 + 4000 };

static const char STREAM_BODY[] = "{\"name\":\"B\",\"subjects\":[\"b.>\"],\"allow_atomic\":true,"
                                  "\"allow_rollup_hdrs\":true}";

/* A batch message on `subject` with `data`, batch `id` and sequence `seq` (none when 0),
 * Nats-Batch-Commit `commit` (none when NULL), and `key`: `value` when `key` is set. */
static natsMsg *batch_msg(const char *subject, const char *data, const char *id, int seq,
                          const char *commit, const char *key, const char *value)
{
    natsMsg *msg = NULL;
    ITEST_OK(natsMsg_Create(&msg, subject, NULL, data, (int)strlen(data)));
    ITEST_OK(natsMsgHeader_Set(msg, "Nats-Batch-Id", id));
    if (seq > 0) {
        char text[24];
        snprintf(text, sizeof text, "%d", seq);
        ITEST_OK(natsMsgHeader_Set(msg, "Nats-Batch-Sequence", text));
    }
    if (commit != NULL) {
        ITEST_OK(natsMsgHeader_Set(msg, "Nats-Batch-Commit", commit));
    }
    if (key != NULL) {
        ITEST_OK(natsMsgHeader_Set(msg, key, value));
    }
    return msg;
}

/* The reply to `msg` (destroyed here); the caller destroys it. */
static natsMsg *request(natsMsg *msg)
{
    natsMsg *reply = NULL;
    ITEST_OK(natsConnection_RequestMsg(&reply, jsc.connection, msg, ITEST_WAIT_MS));
    natsMsg_Destroy(msg);
    return reply;
}

/* Sends `msg`, which must be staged: answered with an empty message. */
static void staged(natsMsg *msg)
{
    natsMsg *reply = request(msg);
    ck_assert_int_eq(natsMsg_GetDataLength(reply), 0);
    const char **keys = NULL;
    int count = 0;
    ck_assert_int_eq(natsMsgHeader_Keys(reply, &keys, &count), NATS_NOT_FOUND);
    natsMsg_Destroy(reply);
}

/* Sends `msg`, which must be answered with exactly this error. */
static void refused(const char *what, natsMsg *msg, int code, int err_code,
                    const char *description)
{
    natsMsg *reply = request(msg);
    json_t *ack = jsc_json_parse(what, natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    jsc_error_expect(what, json_object_get(ack, "error"), code, err_code, description);
    ck_assert_str_eq(json_string_value(json_object_get(ack, "stream")), "B");
    json_decref(ack);
    natsMsg_Destroy(reply);
}

/* Sends the commit `msg`, which must be acked exactly as `want`. */
static void committed(natsMsg *msg, const char *want)
{
    natsMsg *reply = request(msg);
    ck_assert_int_eq(natsMsg_GetDataLength(reply), (int)strlen(want));
    ck_assert_msg(memcmp(natsMsg_GetData(reply), want, strlen(want)) == 0, "ack %.*s, want %s",
                  natsMsg_GetDataLength(reply), natsMsg_GetData(reply), want);
    natsMsg_Destroy(reply);
}

/* The stream's last sequence and message count. */
static void state_expect(const char *name, json_int_t last_seq, json_int_t messages)
{
    json_t *root = jsc_info_json(name);
    const json_t *state = json_object_get(root, "state");
    ck_assert_int_eq(json_integer_value(json_object_get(state, "last_seq")), last_seq);
    ck_assert_int_eq(json_integer_value(json_object_get(state, "messages")), messages);
    json_decref(root);
}

/* ---- commits ---- */

START_TEST(test_batch_commit)
{
    jsc_start();
    jsc_stream_create("B", STREAM_BODY);
    staged(batch_msg("b.1", "one", "x", 1, NULL, NULL, NULL));
    staged(batch_msg("b.2", "two", "x", 2, NULL, NULL, NULL));
    state_expect("B", 0, 0); /* nothing stored before the commit */
    committed(batch_msg("b.3", "three", "x", 3, "1", NULL, NULL),
              "{\"stream\":\"B\",\"seq\":3,\"batch\":\"x\",\"count\":3}");
    state_expect("B", 3, 3);
    jsc_stored_expect("B", 1, "b.1", "one");
    natsMsg *last = jsc_stored_get("B", 3, "b.3", "three");
    jsc_header_expect(last, "Nats-Batch-Id", "x");
    jsc_header_expect(last, "Nats-Batch-Sequence", "3");
    jsc_header_expect(last, "Nats-Batch-Commit", "1");
    natsMsg_Destroy(last);

    /* eob: the end marker is not stored, the last message gains the commit header */
    staged(batch_msg("b.4", "four", "y", 1, NULL, NULL, NULL));
    staged(batch_msg("b.5", "five", "y", 2, NULL, NULL, NULL));
    committed(batch_msg("b.6", "end", "y", 3, "eob", NULL, NULL),
              "{\"stream\":\"B\",\"seq\":5,\"batch\":\"y\",\"count\":2}");
    state_expect("B", 5, 5);
    last = jsc_stored_get("B", 5, "b.5", "five");
    jsc_header_expect(last, "Nats-Batch-Sequence", "2");
    jsc_header_expect(last, "Nats-Batch-Commit", "1");
    natsMsg_Destroy(last);

    /* a batch of one */
    committed(batch_msg("b.7", "seven", "z", 1, "1", NULL, NULL),
              "{\"stream\":\"B\",\"seq\":6,\"batch\":\"z\",\"count\":1}");
    state_expect("B", 6, 6);
}
END_TEST

/* A commit whose message is larger than the stream's max_bytes (discard old): the stream
 * takes publishes afterwards, and (ionats) the commit is refused as a single publish of
 * that size is, with nothing of the batch stored. nats-server 2.15.1 stores the batch. */
START_TEST(test_batch_larger_than_max_bytes)
{
    jsc_start();
    jsc_stream_create("B", "{\"name\":\"B\",\"subjects\":[\"b.>\"],\"allow_atomic\":true,"
                           "\"max_bytes\":1000}");
    staged(batch_msg("b.1", "x", "big", 1, NULL, NULL, NULL));
    char large[2001];
    memset(large, 'L', sizeof large - 1);
    large[sizeof large - 1] = '\0';
    natsMsg *reply = request(batch_msg("b.2", large, "big", 2, "1", NULL, NULL));
    json_t *ack = jsc_json_parse("large commit", natsMsg_GetData(reply),
                                 natsMsg_GetDataLength(reply));
    natsMsg_Destroy(reply);
    if (!test_server_reference()) {
        ck_assert_ptr_nonnull(json_object_get(ack, "error"));
        state_expect("B", 0, 0);
    }
    json_decref(ack);
    natsMsg *plain = NULL;
    ITEST_OK(natsMsg_Create(&plain, "b.3", NULL, "after", 5));
    reply = request(plain);
    ack = jsc_json_parse("publish after", natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    ck_assert_msg(json_object_get(ack, "error") == NULL, "publish after: %.*s",
                  natsMsg_GetDataLength(reply), natsMsg_GetData(reply));
    ck_assert_int_gt(json_integer_value(json_object_get(ack, "seq")), 0);
    json_decref(ack);
    natsMsg_Destroy(reply);
}
END_TEST

/* ---- errors of the batch itself ---- */

START_TEST(test_batch_entry_errors)
{
    jsc_start();
    jsc_stream_create("B", "{\"name\":\"B\",\"subjects\":[\"b.>\"]}");
    refused("disabled", batch_msg("b.1", "x", "x", 1, "1", NULL, NULL), 400, 10174,
            "atomic publish is disabled");
    json_t *update = jsc_request(jsc.connection, "$JS.API.STREAM.UPDATE.B", STREAM_BODY, NULL);
    ck_assert_ptr_null(json_object_get(update, "error"));
    json_decref(update);
    char id[66];
    memset(id, 'i', 65);
    id[65] = '\0';
    refused("long id", batch_msg("b.1", "x", id, 1, "1", NULL, NULL), 400, 10179,
            "atomic publish batch ID is invalid");
    refused("no sequence", batch_msg("b.1", "x", "x", 0, "1", NULL, NULL), 400, 10175,
            "atomic publish sequence is missing");
    staged(batch_msg("b.1", "x", "x", 1, NULL, NULL, NULL));
    refused("bad commit", batch_msg("b.2", "x", "x", 2, "yes", NULL, NULL), 400, 10200,
            "atomic publish batch commit is invalid");
    refused("gone after an error", batch_msg("b.3", "x", "x", 3, "1", NULL, NULL), 400, 10176,
            "atomic publish batch is incomplete");
    staged(batch_msg("b.1", "x", "g", 1, NULL, NULL, NULL));
    refused("gap", batch_msg("b.3", "x", "g", 3, NULL, NULL, NULL), 400, 10176,
            "atomic publish batch is incomplete");
    refused("after a gap", batch_msg("b.2", "x", "g", 2, "1", NULL, NULL), 400, 10176,
            "atomic publish batch is incomplete");
    refused("unknown", batch_msg("b.1", "x", "u", 5, NULL, NULL, NULL), 400, 10176,
            "atomic publish batch is incomplete");
    refused("unknown and large", batch_msg("b.1", "x", "u", 1001, NULL, NULL, NULL), 400, 10199,
            "atomic publish batch is too large: 1000");
    refused("unknown eob at 1001", batch_msg("b.1", "x", "u", 1001, "eob", NULL, NULL), 400,
            10176, "atomic publish batch is incomplete");
    refused("eob first", batch_msg("b.1", "x", "e", 1, "eob", NULL, NULL), 400, 10176,
            "atomic publish batch is incomplete");
    state_expect("B", 0, 0);
}
END_TEST

/* ---- checks at the commit ---- */

START_TEST(test_batch_expected)
{
    jsc_start();
    jsc_stream_create("B", STREAM_BODY);
    jsc_publish("b.a", "first", NULL, NULL, 1);
    /* expected last sequence: right on the first message */
    staged(batch_msg("b.1", "x", "e", 1, NULL, "Nats-Expected-Last-Sequence", "1"));
    committed(batch_msg("b.2", "x", "e", 2, "1", NULL, NULL),
              "{\"stream\":\"B\",\"seq\":3,\"batch\":\"e\",\"count\":2}");
    /* wrong: the stream's last */
    staged(batch_msg("b.1", "x", "w", 1, NULL, "Nats-Expected-Last-Sequence", "1"));
    refused("wrong last", batch_msg("b.2", "x", "w", 2, "1", NULL, NULL), 400, 10071,
            "wrong last sequence: 3");
    /* past the first message: compared with the sequence before it (nats-server's clseq),
     * and refused all the same when it matches */
    staged(batch_msg("b.1", "x", "p", 1, NULL, NULL, NULL));
    refused("not first", batch_msg("b.2", "x", "p", 2, "1", "Nats-Expected-Last-Sequence", "3"),
            400, 10071, "wrong last sequence: 4");
    staged(batch_msg("b.1", "x", "p", 1, NULL, NULL, NULL));
    refused("not first", batch_msg("b.2", "x", "p", 2, "1", "Nats-Expected-Last-Sequence", "4"),
            400, 10164, "wrong last sequence");
    /* a subject the batch already wrote */
    staged(batch_msg("b.s", "x", "s", 1, NULL, NULL, NULL));
    refused("subject written",
            batch_msg("b.s", "x", "s", 2, "1", "Nats-Expected-Last-Subject-Sequence", "0"), 400,
            10164, "wrong last sequence");
    /* per subject, right and wrong */
    staged(batch_msg("b.a", "x", "q", 1, NULL, "Nats-Expected-Last-Subject-Sequence", "1"));
    refused("subject wrong",
            batch_msg("b.q", "x", "q", 2, "1", "Nats-Expected-Last-Subject-Sequence", "7"), 400,
            10071, "wrong last sequence: 0");
    /* unsupported */
    staged(batch_msg("b.1", "x", "m", 1, NULL, NULL, NULL));
    refused("last msg id", batch_msg("b.2", "x", "m", 2, "1", "Nats-Expected-Last-Msg-Id", "a"),
            400, 10177, "atomic publish unsupported header used: Nats-Expected-Last-Msg-Id");
    refused("gone", batch_msg("b.3", "x", "m", 3, "1", NULL, NULL), 400, 10176,
            "atomic publish batch is incomplete");
    /* TTL on a stream without it */
    staged(batch_msg("b.1", "x", "t", 1, NULL, "Nats-TTL", "5"));
    refused("ttl", batch_msg("b.2", "x", "t", 2, "1", NULL, NULL), 400, 10166,
            "per-message TTL is disabled");
    state_expect("B", 3, 3);
}
END_TEST

START_TEST(test_batch_msg_id_rollup)
{
    jsc_start();
    jsc_stream_create("B", STREAM_BODY);
    staged(batch_msg("b.1", "x", "d", 1, NULL, "Nats-Msg-Id", "m1"));
    refused("twice", batch_msg("b.2", "x", "d", 2, "1", "Nats-Msg-Id", "m1"), 400, 10201,
            "atomic publish batch contains duplicate message id");
    staged(batch_msg("b.1", "x", "k", 1, NULL, "Nats-Msg-Id", "m1"));
    committed(batch_msg("b.2", "x", "k", 2, "1", "Nats-Msg-Id", "m2"),
              "{\"stream\":\"B\",\"seq\":2,\"batch\":\"k\",\"count\":2}");
    staged(batch_msg("b.3", "x", "r", 1, NULL, NULL, NULL));
    refused("stored", batch_msg("b.4", "x", "r", 2, "1", "Nats-Msg-Id", "m2"), 400, 10201,
            "atomic publish batch contains duplicate message id");
    /* the window knows the batch's ids: a plain publish of one is a duplicate */
    natsMsg *dup = jsc_msg_make("b.9", "x", "Nats-Msg-Id", "m1", NULL, NULL);
    natsMsg *reply = request(dup);
    json_t *ack = jsc_json_parse("dup", natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    ck_assert_int_eq(json_integer_value(json_object_get(ack, "seq")), 1);
    ck_assert(json_is_true(json_object_get(ack, "duplicate")));
    json_decref(ack);
    natsMsg_Destroy(reply);
    /* rollups: all on the first message only, a subject before the batch writes it */
    staged(batch_msg("b.1", "x", "a", 1, NULL, NULL, NULL));
    refused("rollup all", batch_msg("b.2", "x", "a", 2, "1", "Nats-Rollup", "all"), 500, 10111,
            "batch rollup all invalid");
    staged(batch_msg("b.1", "x", "u", 1, NULL, NULL, NULL));
    refused("rollup sub", batch_msg("b.1", "x", "u", 2, "1", "Nats-Rollup", "sub"), 500, 10111,
            "batch rollup sub invalid");
    state_expect("B", 2, 2);
    staged(batch_msg("b.5", "x", "o", 1, NULL, "Nats-Rollup", "all"));
    committed(batch_msg("b.6", "x", "o", 2, "1", NULL, NULL),
              "{\"stream\":\"B\",\"seq\":4,\"batch\":\"o\",\"count\":2}");
    state_expect("B", 4, 2);
}
END_TEST

START_TEST(test_batch_counter)
{
    jsc_start();
    jsc_stream_create("C", "{\"name\":\"C\",\"subjects\":[\"c.>\"],\"allow_atomic\":true,"
                           "\"allow_msg_counter\":true}");
    jsc_publish("c.a", "", "Nats-Incr", "10", 1);
    natsMsg *first = batch_msg("c.a", "", "n", 1, NULL, "Nats-Incr", "1");
    natsMsg *reply = request(first);
    ck_assert_int_eq(natsMsg_GetDataLength(reply), 0);
    natsMsg_Destroy(reply);
    reply = request(batch_msg("c.b", "", "n", 2, NULL, "Nats-Incr", "5"));
    natsMsg_Destroy(reply);
    reply = request(batch_msg("c.a", "", "n", 3, "1", "Nats-Incr", "2"));
    const char *want = "{\"stream\":\"C\",\"seq\":4,\"batch\":\"n\",\"count\":3}";
    ck_assert_int_eq(natsMsg_GetDataLength(reply), (int)strlen(want));
    ck_assert(memcmp(natsMsg_GetData(reply), want, strlen(want)) == 0);
    natsMsg_Destroy(reply);
    jsc_stored_expect("C", 2, "c.a", "{\"val\":\"11\"}");
    jsc_stored_expect("C", 3, "c.b", "{\"val\":\"5\"}");
    jsc_stored_expect("C", 4, "c.a", "{\"val\":\"13\"}");
    /* a message without Nats-Incr fails the whole batch */
    reply = request(batch_msg("c.a", "", "v", 1, NULL, "Nats-Incr", "1"));
    natsMsg_Destroy(reply);
    natsMsg *plain = batch_msg("c.a", "", "v", 2, "1", NULL, NULL);
    reply = request(plain);
    json_t *ack = jsc_json_parse("missing", natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    jsc_error_expect("missing", json_object_get(ack, "error"), 400, 10169,
                     "message counter increment is missing");
    json_decref(ack);
    natsMsg_Destroy(reply);
    json_t *info = jsc_info_json("C");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(info, "state"), "last_seq")),
                     4);
    json_decref(info);
}
END_TEST

/* ---- bounds and the timeout ---- */

static void advisory_expect(natsSubscription *sub, const char *batch, const char *reason,
                            long wait_ms)
{
    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sub, wait_ms));
    json_t *advisory = jsc_json_parse("advisory", natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    ck_assert_str_eq(json_string_value(json_object_get(advisory, "type")),
                     "io.nats.jetstream.advisory.v1.stream_batch_abandoned");
    ck_assert_str_eq(json_string_value(json_object_get(advisory, "stream")), "B");
    ck_assert_str_eq(json_string_value(json_object_get(advisory, "batch")), batch);
    ck_assert_str_eq(json_string_value(json_object_get(advisory, "reason")), reason);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(advisory, "id")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(advisory, "timestamp")));
    json_decref(advisory);
    natsMsg_Destroy(msg);
}

/* The abandoned batch is started first and its 10 s run out while the bounds are checked:
 * one wait for both. */
START_TEST(test_batch_bounds_and_timeout)
{
    jsc_start();
    jsc_stream_create("B", STREAM_BODY);
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, jsc.connection,
                                          "$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.B"));
    ITEST_OK(natsConnection_Flush(jsc.connection));
    int64_t started_ms = nats_Now();
    staged(batch_msg("b.1", "x", "idle", 1, NULL, NULL, NULL));

    /* per stream: 50 open (with "idle"), the 51st refused */
    char id[32];
    for (int i = 1; i < BATCH_PER_STREAM_MAX; i++) {
        snprintf(id, sizeof id, "open-%d", i);
        staged(batch_msg("b.1", "x", id, 1, NULL, NULL, NULL));
    }
    refused("too many", batch_msg("b.1", "x", "one-more", 1, NULL, NULL, NULL), 429, 10210,
            "atomic publish too many inflight");
    for (int i = 1; i < BATCH_PER_STREAM_MAX; i++) {
        snprintf(id, sizeof id, "open-%d", i);
        refused("close", batch_msg("b.1", "x", id, 1, "eob", NULL, NULL), 400, 10176,
                "atomic publish batch is incomplete");
        advisory_expect(sub, id, "incomplete", ITEST_WAIT_MS);
    }

    /* per batch: 1000 messages, the 1001st refused and the batch gone */
    for (int seq = 1; seq <= BATCH_MSGS_MAX; seq++) {
        natsMsg *msg = batch_msg("b.l", "x", "large", seq, NULL, NULL, NULL);
        ITEST_OK(natsConnection_PublishMsg(jsc.connection, msg));
        natsMsg_Destroy(msg);
    }
    refused("large", batch_msg("b.l", "x", "large", BATCH_MSGS_MAX + 1, "1", NULL, NULL), 400,
            10199, "atomic publish batch is too large: 1000");
    advisory_expect(sub, "large", "large", ITEST_WAIT_MS);
    /* an eob after 1000 is 1000 messages: committed */
    for (int seq = 1; seq <= BATCH_MSGS_MAX; seq++) {
        natsMsg *msg = batch_msg("b.l", "x", "full", seq, NULL, NULL, NULL);
        ITEST_OK(natsConnection_PublishMsg(jsc.connection, msg));
        natsMsg_Destroy(msg);
    }
    committed(batch_msg("b.l", "x", "full", BATCH_MSGS_MAX + 1, "eob", NULL, NULL),
              "{\"stream\":\"B\",\"seq\":1000,\"batch\":\"full\",\"count\":1000}");
    state_expect("B", BATCH_MSGS_MAX, BATCH_MSGS_MAX);

    /* the idle batch times out */
    long left_ms = TIMEOUT_WAIT_MS - (long)(nats_Now() - started_ms);
    advisory_expect(sub, "idle", "timeout", left_ms > 0 ? left_ms : 1);
    ck_assert_int_ge(nats_Now() - started_ms, 9000);
    refused("timed out", batch_msg("b.2", "x", "idle", 2, "1", NULL, NULL), 400, 10176,
            "atomic publish batch is incomplete");
    state_expect("B", BATCH_MSGS_MAX, BATCH_MSGS_MAX);
    natsSubscription_Destroy(sub);
}
END_TEST

/* ---- the program ---- */

static Suite *batch_suite(void)
{
    Suite *suite = suite_create("integration_jetstream_batch");
    TCase *tc = jsc_tcase("batch");
    tcase_add_test(tc, test_batch_commit);
    tcase_add_test(tc, test_batch_larger_than_max_bytes);
    tcase_add_test(tc, test_batch_entry_errors);
    tcase_add_test(tc, test_batch_expected);
    tcase_add_test(tc, test_batch_msg_id_rollup);
    tcase_add_test(tc, test_batch_counter);
    tcase_add_test(tc, test_batch_bounds_and_timeout);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return jsc_run(batch_suite, BATCH_MAJOR, BATCH_MINOR, "atomic batch publish");
}
