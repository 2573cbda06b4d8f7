/* Per-message TTL and subject delete markers (nats-server 2.11) through real clients: libnats
 * for publishes with headers, gets and consumers, raw $JS.API requests with jansson for what
 * libnats 3.4 cannot send or show (allow_msg_ttl, subject_delete_marker_ttl, an error ack's
 * code and description), against ionats or, with IONATS_TEST_SERVER=nats-server, the
 * reference, with the same expectations (read from nats-server 2.15.1):
 * - a Nats-TTL in seconds ("2") or as a Go duration ("2s") removes its message once it
 *   passed; a longer one ("1m"), "never" and no header keep theirs; the header is stored as
 *   it came;
 * - a Nats-TTL on a stream without allow_msg_ttl is refused (400, 10166, "per-message TTL is
 *   disabled"), "never" included; a TTL below a second or not a number or duration ("500ms",
 *   "abc", "-1", "0") is refused (400, 10165, "invalid per-message TTL"), nothing stored;
 * - subject_delete_marker_ttl: the config (allow_msg_ttl and allow_rollup_hdrs turned on with
 *   it, below a second refused); where a TTL removed the last message of a subject, a marker
 *   takes its place (Nats-Marker-Reason: MaxAge, Nats-TTL: the marker TTL as a Go duration,
 *   Nats-Rollup: sub, no body) and expires in turn without leaving another; a shorter
 *   Nats-TTL is stored raised to the marker TTL in seconds ("1" and "1s" become "2"), a
 *   longer one as it came; a message that was not the last of its subject leaves none;
 *   max_age's removals leave markers the same way;
 * - a KV-like bucket (max_msgs_per_subject 1): a Nats-TTL below the marker TTL is not raised
 *   (nats-server's exception), the marker's Nats-TTL is "1m30s" for 90 s;
 * - a pull consumer's num_pending drops by the expired message and the stream's INFO counts
 *   it in num_deleted; the consumer gets the others;
 * - a restart on the same store (file storage): a TTL set before it expires after it, and so
 *   does a marker placed before the next restart; a "1m" TTL survives both;
 * - mirrors: the copies keep the origin's Nats-TTL as it came; a mirror with allow_msg_ttl
 *   expires them (the origin's time kept), one without keeps them; the origin's marker is
 *   copied as it is and expires in a mirror with allow_msg_ttl, which leaves no marker of its
 *   own; a mirror with subject_delete_marker_ttl is refused (500, 10052).
 * Not covered, as ionats and nats-server 2.15.1 differ there: a mirror or source without
 * allow_rollup_hdrs of a stream with markers (ionats applies the copied marker's "Nats-Rollup:
 * sub" and removes the subject's earlier copies; nats-server keeps them).
 *
 * Per-message TTL is a nats-server 2.11 feature: against an older reference (Debian's 2.9.10)
 * the whole program exits 77 (meson: SKIP) and says so.
 *
 * The one idea: expiry happens on the broker's own clock (ionats checks every 250 ms,
 * nats-server on a coarser timing wheel), so every expiry is polled from INFO with a deadline
 * of the TTL plus EXPIRY_SLACK_MS, and "nothing more happens" is a look after QUIET_MS; no
 * instant is asserted. Each case takes a few seconds. Test thread only. */
#include "tests/integration/jst_common.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long past a TTL (or max_age) an expiry, and the marker it leaves, may take: ionats
 * checks every 250 ms, nats-server's wheel is coarser, and a loaded machine adds more. */
enum { EXPIRY_SLACK_MS = 4000 };

/* How long to look for something that must not happen (a marker of a marker, a marker where
 * the subject kept a message): both servers place a marker in the same pass as the removal,
 * so a second after it is four ionats ticks and well past nats-server's pass. */
enum { QUIET_MS = 1000 };

/* How long a mirror may take to copy what its origin holds. */
enum { COPY_WAIT_MS = 10000 };

/* The reference release that brought per-message TTL and subject delete markers. */
enum { TTL_MAJOR = 2, TTL_MINOR = 11 };

/* nats-server's JetStream error codes (server/errors.json) that libnats 3.4 does not name. */
enum {
    ERR_STREAM_INVALID_CONFIG = 10052,
    ERR_MESSAGE_TTL_INVALID = 10165,
    ERR_MESSAGE_TTL_DISABLED = 10166,
};

/* A TTL or marker TTL in nanoseconds, as stream configs carry them. */
#define NS_PER_S 1000000000LL

/* ---- raw API requests ---- */

/* The integer `field` of stream `name`'s state (0 when INFO leaves it out). */
static json_int_t state_get(const char *name, const char *field)
{
    json_t *root = jsc_info_json(name);
    json_int_t value = json_integer_value(json_object_get(json_object_get(root, "state"), field));
    json_decref(root);
    return value;
}

/* Fails unless stream `name` holds `messages` messages up to `last_seq`. */
static void state_expect(const char *name, json_int_t messages, json_int_t last_seq)
{
    json_t *root = jsc_info_json(name);
    const json_t *state = json_object_get(root, "state");
    json_int_t got_messages = json_integer_value(json_object_get(state, "messages"));
    json_int_t got_last = json_integer_value(json_object_get(state, "last_seq"));
    char *dump = json_dumps(state, JSON_COMPACT);
    json_decref(root);
    ck_assert_msg(got_messages == messages && got_last == last_seq,
                  "%s: state %s, want %lld messages up to %lld", name, dump, (long long)messages,
                  (long long)last_seq);
    free(dump);
}

/* ---- messages ---- */

/* Publishes `data` on `subject` with Nats-TTL `ttl` (none when NULL) and fails unless it is
 * stored at `seq`. */
static void publish(const char *subject, const char *data, const char *ttl, uint64_t seq)
{
    jsc_publish(subject, data, ttl != NULL ? "Nats-TTL" : NULL, ttl, seq);
}

/* Publishes on `subject` with Nats-TTL `ttl` as a plain request, so the whole ack is seen,
 * and fails unless the ack is exactly this error (and no sequence). */
static void publish_refused(const char *subject, const char *ttl, int code, int err_code,
                            const char *description)
{
    natsMsg *msg = jsc_msg_make(subject, "refused", "Nats-TTL", ttl, NULL, NULL);
    natsMsg *reply = NULL;
    ITEST_OK(natsConnection_RequestMsg(&reply, jsc.connection, msg, ITEST_WAIT_MS));
    natsMsg_Destroy(msg);
    char what[128];
    snprintf(what, sizeof what, "publish on %s with Nats-TTL %s", subject, ttl);
    json_t *ack = jsc_json_parse(what, natsMsg_GetData(reply), natsMsg_GetDataLength(reply));
    natsMsg_Destroy(reply);
    jsc_error_expect(what, json_object_get(ack, "error"), code, err_code, description);
    ck_assert_msg(json_integer_value(json_object_get(ack, "seq")) == 0, "%s: acked a sequence",
                  what);
    json_decref(ack);
}

/* Message `seq` of `stream` is on `subject` with body `data` and the one header Nats-TTL:
 * `ttl` (no header at all when `ttl` is NULL). */
static void stored_expect(const char *stream, uint64_t seq, const char *subject,
                          const char *data, const char *ttl)
{
    natsMsg *msg = jsc_stored_get(stream, seq, subject, data);
    static const char *const keys[] = {"Nats-TTL"};
    if (ttl != NULL) {
        jsc_header_expect(msg, "Nats-TTL", ttl);
    }
    jsc_header_keys_expect(msg, keys, ttl != NULL ? 1 : 0);
    natsMsg_Destroy(msg);
}

/* `msg` is nats-server's subject delete marker on `subject` with Nats-TTL `ttl` (a Go
 * duration): exactly its three headers and no body. */
static void marker_expect(natsMsg *msg, const char *subject, const char *ttl)
{
    ck_assert_str_eq(natsMsg_GetSubject(msg), subject);
    jsc_header_expect(msg, "Nats-Marker-Reason", "MaxAge");
    jsc_header_expect(msg, "Nats-TTL", ttl);
    jsc_header_expect(msg, "Nats-Rollup", "sub");
    static const char *const keys[] = {"Nats-Marker-Reason", "Nats-TTL", "Nats-Rollup"};
    jsc_header_keys_expect(msg, keys, 3);
    ck_assert_int_eq(natsMsg_GetDataLength(msg), 0);
}

/* The last message of `stream` on `subject` is a marker with Nats-TTL `ttl` at `seq` or
 * after it. */
static void last_marker_expect(const char *stream, const char *subject, const char *ttl,
                               uint64_t seq)
{
    natsMsg *msg = jsc_last_get(stream, subject);
    ck_assert_uint_ge(natsMsg_GetSequence(msg), seq);
    marker_expect(msg, subject, ttl);
    natsMsg_Destroy(msg);
}

/* ---- per-message TTL ---- */

/* Nats-TTL in seconds and as a Go duration: gone once it passed; "1m", "never" and no header
 * stay; every header stored as it came. */
START_TEST(test_ttl_expires)
{
    jsc_start();
    json_t *created = jsc_stream_create_reply("T", "{\"name\":\"T\",\"subjects\":[\"t.>\"],"
                                                   "\"allow_msg_ttl\":true}");
    ck_assert(json_is_true(json_object_get(json_object_get(created, "config"),
                                           "allow_msg_ttl")));
    json_decref(created);
    publish("t.seconds", "seconds", "2", 1);
    publish("t.duration", "duration", "2s", 2);
    publish("t.minute", "minute", "1m", 3);
    publish("t.none", "none", NULL, 4);
    publish("t.never", "never", "never", 5);
    /* stored as they came, the two-second ones too (while their TTL runs) */
    stored_expect("T", 1, "t.seconds", "seconds", "2");
    stored_expect("T", 2, "t.duration", "duration", "2s");

    jsc_state_wait("T", "messages", 3, 2000 + EXPIRY_SLACK_MS);
    jsc_msg_missing_expect(jsc.js, "T", 1);
    jsc_msg_missing_expect(jsc.js, "T", 2);
    stored_expect("T", 3, "t.minute", "minute", "1m");
    stored_expect("T", 4, "t.none", "none", NULL);
    stored_expect("T", 5, "t.never", "never", "never");
    state_expect("T", 3, 5);
    ck_assert_int_eq(state_get("T", "first_seq"), 3);
}
END_TEST

/* A Nats-TTL on a stream without allow_msg_ttl: nats-server's error ack, "never" too, and
 * nothing stored. */
START_TEST(test_ttl_disabled)
{
    jsc_start();
    jsc_stream_create("PLAIN", "{\"name\":\"PLAIN\",\"subjects\":[\"plain\"]}");
    publish_refused("plain", "2", 400, ERR_MESSAGE_TTL_DISABLED, "per-message TTL is disabled");
    publish_refused("plain", "1m", 400, ERR_MESSAGE_TTL_DISABLED,
                    "per-message TTL is disabled");
    publish_refused("plain", "never", 400, ERR_MESSAGE_TTL_DISABLED,
                    "per-message TTL is disabled");
    state_expect("PLAIN", 0, 0);
    publish("plain", "no ttl", NULL, 1);
}
END_TEST

/* TTLs that are not a whole second or more: 10165, nothing stored; "never" is stored. */
START_TEST(test_ttl_invalid)
{
    jsc_start();
    jsc_stream_create("T", "{\"name\":\"T\",\"subjects\":[\"t\"],"
                           "\"allow_msg_ttl\":true}");
    static const char *const invalid[] = {"500ms", "abc", "-1", "0", "0s"};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        publish_refused("t", invalid[i], 400, ERR_MESSAGE_TTL_INVALID, "invalid per-message TTL");
    }
    state_expect("T", 0, 0);
    publish("t", "kept", "never", 1);
    stored_expect("T", 1, "t", "kept", "never");
}
END_TEST

/* ---- subject delete markers ---- */

/* subject_delete_marker_ttl turns allow_msg_ttl and allow_rollup_hdrs on (even when asked
 * off) and is refused below a second; a mirror cannot have it. */
START_TEST(test_ttl_marker_config)
{
    jsc_start();
    json_t *created = jsc_stream_create_reply("M", "{\"name\":\"M\",\"subjects\":[\"m\"],"
                                                   "\"subject_delete_marker_ttl\":1000000000,"
                                                   "\"allow_rollup_hdrs\":false}");
    const json_t *config = json_object_get(created, "config");
    ck_assert(json_is_true(json_object_get(config, "allow_msg_ttl")));
    ck_assert(json_is_true(json_object_get(config, "allow_rollup_hdrs")));
    ck_assert_int_eq(json_integer_value(json_object_get(config, "subject_delete_marker_ttl")),
                     NS_PER_S);
    json_decref(created);
    jsc_stream_create_refused("SHORT",
                              "{\"name\":\"SHORT\",\"subjects\":[\"short\"],\"allow_msg_ttl\":true,"
                              "\"subject_delete_marker_ttl\":500000000}",
                              500, ERR_STREAM_INVALID_CONFIG,
                              "subject delete marker TTL must be at least 1 second");
    jsc_stream_create_refused("MM",
                              "{\"name\":\"MM\",\"mirror\":{\"name\":\"M\"},\"allow_msg_ttl\":true,"
                              "\"subject_delete_marker_ttl\":2000000000}",
                              500, ERR_STREAM_INVALID_CONFIG,
                              "subject delete markers forbidden on mirrors");
}
END_TEST

/* With a 2 s marker TTL: "1" and "1s" are stored as "2" (another header kept), "1m" as it
 * came; the last message of m.a and of m.b leaves a marker once its TTL passed, m.n (whose
 * TTL'd message was not its last) none; the markers expire 2 s later and leave nothing. */
START_TEST(test_ttl_marker)
{
    jsc_start();
    jsc_stream_create("M", "{\"name\":\"M\",\"subjects\":[\"m.>\"],"
                           "\"allow_msg_ttl\":true,"
                           "\"subject_delete_marker_ttl\":2000000000}");
    publish("m.a", "a", "1", 1);
    natsMsg *msg = jsc_msg_make("m.b", "b", "Nats-TTL", "1s", "X-Other", "kept");
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    natsStatus status = js_PublishMsg(&ack, jsc.js, msg, NULL, &code);
    natsMsg_Destroy(msg);
    ck_assert_msg(status == NATS_OK, "publish m.b: %s, err_code %d", natsStatus_GetText(status),
                  (int)code);
    ck_assert_uint_eq(ack->Sequence, 2);
    jsPubAck_Destroy(ack);
    publish("m.keep", "keep", "1m", 3);
    publish("m.n", "n first", "2", 4);
    publish("m.n", "n last", NULL, 5);

    stored_expect("M", 1, "m.a", "a", "2");
    msg = jsc_msg_get(jsc.js, "M", 2);
    jsc_header_expect(msg, "Nats-TTL", "2");
    jsc_header_expect(msg, "X-Other", "kept");
    static const char *const keys[] = {"Nats-TTL", "X-Other"};
    jsc_header_keys_expect(msg, keys, 2);
    natsMsg_Destroy(msg);
    stored_expect("M", 3, "m.keep", "keep", "1m");
    stored_expect("M", 4, "m.n", "n first", "2");

    /* 1, 2 and 4 expire; m.a and m.b get a marker each (6 and 7, in either order) */
    jsc_state_wait("M", "last_seq", 7, 2000 + EXPIRY_SLACK_MS);
    jsc_state_wait("M", "messages", 4, EXPIRY_SLACK_MS);
    jsc_msg_missing_expect(jsc.js, "M", 1);
    jsc_msg_missing_expect(jsc.js, "M", 2);
    jsc_msg_missing_expect(jsc.js, "M", 4);
    last_marker_expect("M", "m.a", "2s", 6);
    last_marker_expect("M", "m.b", "2s", 6);
    stored_expect("M", 5, "m.n", "n last", NULL);
    jsc_pause_ms(QUIET_MS);
    state_expect("M", 4, 7); /* none for m.n */

    /* the markers expire and leave no marker of their own */
    jsc_state_wait("M", "messages", 2, 2000 + EXPIRY_SLACK_MS);
    jsc_msg_missing_expect(jsc.js, "M", 6);
    jsc_msg_missing_expect(jsc.js, "M", 7);
    jsc_pause_ms(QUIET_MS);
    state_expect("M", 2, 7);
    stored_expect("M", 3, "m.keep", "keep", "1m");
}
END_TEST

/* max_age with subject_delete_marker_ttl: what ages out leaves a marker where it was the
 * last of its subject (one for a.y, whose two messages both aged out), with no
 * allow_msg_ttl asked for; the markers expire in turn and leave nothing. */
START_TEST(test_ttl_marker_max_age)
{
    jsc_start();
    jsc_stream_create("A", "{\"name\":\"A\",\"subjects\":[\"a.>\"],"
                           "\"max_age\":1000000000,"
                           "\"subject_delete_marker_ttl\":1000000000}");
    publish("a.x", "x", NULL, 1);
    publish("a.y", "y1", NULL, 2);
    publish("a.y", "y2", NULL, 3);
    jsc_state_wait("A", "last_seq", 5, 1000 + EXPIRY_SLACK_MS);
    jsc_state_wait("A", "messages", 2, EXPIRY_SLACK_MS);
    jsc_msg_missing_expect(jsc.js, "A", 1);
    jsc_msg_missing_expect(jsc.js, "A", 2);
    jsc_msg_missing_expect(jsc.js, "A", 3);
    last_marker_expect("A", "a.x", "1s", 4);
    last_marker_expect("A", "a.y", "1s", 4);

    jsc_state_wait("A", "messages", 0, 1000 + EXPIRY_SLACK_MS);
    jsc_pause_ms(QUIET_MS);
    state_expect("A", 0, 5);
}
END_TEST

/* A KV-like bucket (max_msgs_per_subject 1): a Nats-TTL below the 90 s marker TTL is stored
 * as it came and expires in its own time, leaving a marker with "Nats-TTL: 1m30s"; with
 * max_msgs_per_subject 2 the same TTL is raised to "90". */
START_TEST(test_ttl_kv_not_raised)
{
    jsc_start();
    jsc_stream_create("KV", "{\"name\":\"KV\",\"subjects\":[\"kv.>\"],"
                            "\"allow_msg_ttl\":true,\"max_msgs_per_subject\":1,"
                            "\"subject_delete_marker_ttl\":90000000000}");
    jsc_stream_create("KV2", "{\"name\":\"KV2\",\"subjects\":[\"kv2.>\"],"
                             "\"allow_msg_ttl\":true,\"max_msgs_per_subject\":2,"
                             "\"subject_delete_marker_ttl\":90000000000}");
    publish("kv.a", "a", "1", 1);
    publish("kv.b", "b", "1s", 2);
    publish("kv2.a", "a", "1", 1);
    stored_expect("KV", 1, "kv.a", "a", "1");
    stored_expect("KV", 2, "kv.b", "b", "1s");
    stored_expect("KV2", 1, "kv2.a", "a", "90");

    jsc_state_wait("KV", "last_seq", 4, 1000 + EXPIRY_SLACK_MS);
    jsc_state_wait("KV", "messages", 2, EXPIRY_SLACK_MS);
    last_marker_expect("KV", "kv.a", "1m30s", 3);
    last_marker_expect("KV", "kv.b", "1m30s", 3);
    state_expect("KV2", 1, 1); /* its 90 s run on */
}
END_TEST

/* ---- consumers ---- */

/* An expiry in the middle of the stream: a pull consumer's num_pending drops by it, INFO
 * counts it in num_deleted, and the consumer gets the two others. */
START_TEST(test_ttl_consumer)
{
    jsc_start();
    jsc_stream_create("C", "{\"name\":\"C\",\"subjects\":[\"c.>\"],"
                           "\"allow_msg_ttl\":true}");
    publish("c.a", "one", NULL, 1);
    publish("c.b", "two", "1", 2);
    publish("c.c", "three", NULL, 3);
    jsSubOptions sub_options;
    ITEST_OK(jsSubOptions_Init(&sub_options));
    sub_options.Stream = "C";
    sub_options.Config.AckPolicy = js_AckExplicit;
    natsSubscription *sub = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_PullSubscribe(&sub, jsc.js, "c.>", "D", NULL, &sub_options, &code));

    jsConsumerInfo *info = NULL;
    ITEST_OK(js_GetConsumerInfo(&info, jsc.js, "C", "D", NULL, &code));
    ck_assert_uint_eq(info->NumPending, 3);
    jsConsumerInfo_Destroy(info);

    jsc_state_wait("C", "messages", 2, 1000 + EXPIRY_SLACK_MS);
    ck_assert_int_eq(state_get("C", "num_deleted"), 1);
    state_expect("C", 2, 3);
    int64_t deadline = itest_now_ms() + EXPIRY_SLACK_MS;
    uint64_t pending = 0;
    do {
        info = NULL;
        ITEST_OK(js_GetConsumerInfo(&info, jsc.js, "C", "D", NULL, &code));
        pending = info->NumPending;
        jsConsumerInfo_Destroy(info);
        if (pending != 2) {
            jsc_pause_ms(JSC_POLL_MS);
        }
    } while (pending != 2 && itest_now_ms() < deadline);
    ck_assert_uint_eq(pending, 2);

    natsMsgList list = {0};
    int64_t fetch_deadline = itest_now_ms() + ITEST_WAIT_MS;
    uint64_t seqs[2] = {0, 0};
    int got = 0;
    while (got < 2 && itest_now_ms() < fetch_deadline) {
        natsStatus status = natsSubscription_Fetch(&list, sub, 2 - got, 1000, &code);
        if (status == NATS_TIMEOUT) {
            continue;
        }
        ck_assert_msg(status == NATS_OK, "fetch: %s", natsStatus_GetText(status));
        for (int i = 0; i < list.Count; i++) {
            jsMsgMetaData *meta = NULL;
            ITEST_OK(natsMsg_GetMetaData(&meta, list.Msgs[i]));
            ck_assert_int_lt(got, 2);
            seqs[got++] = meta->Sequence.Stream;
            jsMsgMetaData_Destroy(meta);
            ITEST_OK(natsMsg_Ack(list.Msgs[i], NULL));
        }
        natsMsgList_Destroy(&list);
    }
    ck_assert_int_eq(got, 2);
    ck_assert_uint_eq(seqs[0], 1);
    ck_assert_uint_eq(seqs[1], 3);
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
}
END_TEST

/* ---- restarts ---- */

/* A TTL set before a restart expires after it and leaves its marker; a marker placed before
 * the next restart expires after that one; "1m" survives both. File storage. */
START_TEST(test_ttl_restart)
{
    jsc_start();
    jsc_stream_create("R", "{\"name\":\"R\",\"subjects\":[\"r.>\"],\"storage\":\"file\","
                           "\"allow_msg_ttl\":true,"
                           "\"subject_delete_marker_ttl\":2000000000}");
    publish("r.a", "a", "2", 1);
    publish("r.keep", "keep", "1m", 2);
    publish("r.plain", "plain", NULL, 3);
    jsc_restart();
    state_expect("R", 3, 3);

    jsc_state_wait("R", "last_seq", 4, 2000 + EXPIRY_SLACK_MS);
    jsc_state_wait("R", "messages", 3, EXPIRY_SLACK_MS);
    jsc_msg_missing_expect(jsc.js, "R", 1);
    last_marker_expect("R", "r.a", "2s", 4);

    jsc_restart();
    natsMsg *marker = NULL;
    jsErrCode code = 0;
    if (js_GetMsg(&marker, jsc.js, "R", 4, NULL, &code) == NATS_OK) {
        marker_expect(marker, "r.a", "2s"); /* still held: it expires from here */
        natsMsg_Destroy(marker);
    }
    jsc_state_wait("R", "messages", 2, 2000 + EXPIRY_SLACK_MS);
    jsc_msg_missing_expect(jsc.js, "R", 4);
    jsc_pause_ms(QUIET_MS);
    state_expect("R", 2, 4);
    stored_expect("R", 2, "r.keep", "keep", "1m");
    stored_expect("R", 3, "r.plain", "plain", NULL);
}
END_TEST

/* ---- mirrors ---- */

/* Mirrors of a TTL stream P: both keep the Nats-TTL headers as they came; PT (allow_msg_ttl)
 * expires p.a with its origin, PK (without) keeps it. Mirror OT (allow_msg_ttl) of O, a
 * stream with markers: o.a expires there too, the origin's marker is copied with its
 * headers, and it expires in the mirror without a marker of the mirror's own. */
START_TEST(test_ttl_mirror)
{
    jsc_start();
    jsc_stream_create("P", "{\"name\":\"P\",\"subjects\":[\"p.>\"],"
                           "\"allow_msg_ttl\":true}");
    jsc_stream_create("O", "{\"name\":\"O\",\"subjects\":[\"o.>\"],"
                           "\"allow_msg_ttl\":true,"
                           "\"subject_delete_marker_ttl\":1000000000}");
    jsc_stream_create("PK", "{\"name\":\"PK\",\"mirror\":{\"name\":\"P\"}}");
    jsc_stream_create("PT", "{\"name\":\"PT\",\"mirror\":{\"name\":\"P\"},"
                            "\"allow_msg_ttl\":true}");
    jsc_stream_create("OT", "{\"name\":\"OT\",\"mirror\":{\"name\":\"O\"},"
                            "\"allow_msg_ttl\":true}");
    publish("p.a", "short", "1", 1);
    publish("p.b", "long", "1m", 2);
    publish("p.c", "plain", NULL, 3);
    publish("o.a", "short", "1", 1);
    publish("o.b", "plain", NULL, 2);
    jsc_state_wait("PK", "last_seq", 3, COPY_WAIT_MS);
    jsc_state_wait("PT", "last_seq", 3, COPY_WAIT_MS);
    jsc_state_wait("OT", "last_seq", 2, COPY_WAIT_MS);
    stored_expect("PK", 2, "p.b", "long", "1m");
    stored_expect("PT", 2, "p.b", "long", "1m");

    /* p.a: gone from P and PT, kept by PK with its header */
    jsc_state_wait("P", "messages", 2, 1000 + EXPIRY_SLACK_MS);
    jsc_state_wait("PT", "messages", 2, EXPIRY_SLACK_MS);
    jsc_msg_missing_expect(jsc.js, "PT", 1);
    stored_expect("PK", 1, "p.a", "short", "1");
    state_expect("PK", 3, 3);

    /* o.a: gone from O and OT; O's marker copied to OT as it is */
    jsc_state_wait("O", "last_seq", 3, 1000 + EXPIRY_SLACK_MS);
    jsc_state_wait("OT", "last_seq", 3, COPY_WAIT_MS);
    natsMsg *copy = jsc_msg_get(jsc.js, "OT", 3);
    marker_expect(copy, "o.a", "1s");
    natsMsg *origin = jsc_msg_get(jsc.js, "O", 3);
    ck_assert_int_eq(natsMsg_GetTime(copy), natsMsg_GetTime(origin));
    natsMsg_Destroy(origin);
    natsMsg_Destroy(copy);
    jsc_state_wait("OT", "messages", 2, EXPIRY_SLACK_MS);
    jsc_msg_missing_expect(jsc.js, "OT", 1);

    /* the marker expires in both; neither leaves another */
    jsc_state_wait("O", "messages", 1, 1000 + EXPIRY_SLACK_MS);
    jsc_state_wait("OT", "messages", 1, 1000 + EXPIRY_SLACK_MS);
    jsc_pause_ms(QUIET_MS);
    state_expect("O", 1, 3);
    state_expect("OT", 1, 3);
    stored_expect("OT", 2, "o.b", "plain", NULL);
}
END_TEST

/* ---- the program ---- */

static Suite *ttl_suite(void)
{
    Suite *suite = suite_create("integration_jetstream_ttl");
    TCase *ttl = jsc_tcase("ttl");
    tcase_add_test(ttl, test_ttl_expires);
    tcase_add_test(ttl, test_ttl_disabled);
    tcase_add_test(ttl, test_ttl_invalid);
    tcase_add_test(ttl, test_ttl_consumer);
    tcase_add_test(ttl, test_ttl_restart);
    suite_add_tcase(suite, ttl);
    TCase *markers = jsc_tcase("markers");
    tcase_add_test(markers, test_ttl_marker_config);
    tcase_add_test(markers, test_ttl_marker);
    tcase_add_test(markers, test_ttl_marker_max_age);
    tcase_add_test(markers, test_ttl_kv_not_raised);
    tcase_add_test(markers, test_ttl_mirror);
    suite_add_tcase(suite, markers);
    return suite;
}

int main(void)
{
    return jsc_run(ttl_suite, TTL_MAJOR, TTL_MINOR, "per-message TTL");
}
