/* Subject transforms in JetStream through real clients (libnats, and raw $JS.API requests for
 * what libnats 3.4 cannot send or show: subject_transform, a source's subject_transforms),
 * against ionats or, with IONATS_TEST_SERVER=nats-server, the reference, with the same
 * expectations:
 * - a stream's subject_transform picks the subject a publish is stored under ($N,
 *   {{wildcard}}, {{partition}}, {{split}}); a subject it does not match is stored as it came;
 *   the config errors of a bad transform or republish (a destination that forms a cycle with
 *   the stream's subjects, a destination the source cannot fill);
 * - republish: a subscriber gets each stored message on the transformed subject with the
 *   message's own headers and nats-server's Nats-Stream, Nats-Subject, Nats-Sequence,
 *   Nats-Time-Stamp (the stored time in Go's RFC3339Nano), Nats-Last-Sequence (the last
 *   earlier message on the same stored subject, 0 for the first), and with headers_only
 *   Nats-Msg-Size and no body; a rollup's Nats-Last-Sequence (the message it rolls up);
 *   republish after the stream's subject_transform, explicit and implicit (">" to ">"); of
 *   copies a stream sources; updates adding and removing both; a duplicate not republished;
 *   Nats-Expected-Last-Subject-Sequence checked against the stored subject;
 * - sources and mirrors with subject_transforms: the copies' subjects, the
 *   Nats-Stream-Source header ("<origin> <seq> <sources> <destinations> <subject>", the lists
 *   joined by form feeds; nats-server 2.15 appends a sixth field, not compared), the
 *   transforms in INFO's config and in its sources[] / mirror; after a restart the
 *   transforms still apply and a source takes up after its last copy;
 * - mirror_direct: a mirror of an allow_direct stream says mirror_direct, answers its
 *   origin's direct gets together with it, and goes on answering them after the origin is
 *   deleted (nats-server keeps the mirror's subscription until the mirror changes or stops).
 *
 * Subject transforms are nats-server 2.10 features: against an older reference the whole
 * program exits 77 (meson: SKIP) and says so.
 *
 * The one idea: every case starts its own broker with JetStream on a store directory of its
 * own (jst_common.c's fixture, test_jetstream.c's in small), and anything that happens on the
 * broker's own time (a mirror or source catching up) is polled with a deadline; nothing
 * sleeps for a fixed time to let something happen. Test thread only. */
#include "tests/integration/jst_common.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a mirror or source may take to catch up: both servers start one within a few
 * hundred ms; a nats-server source whose first consumer request fails retries ~10 s later. */
enum { COPY_WAIT_MS = 30000 };

/* The reference release that brought subject transforms. */
enum { TRANSFORM_MAJOR = 2, TRANSFORM_MINOR = 10 };

/* nats-server's JetStream error codes (server/errors.json) that libnats 3.4 does not name. */
enum {
    ERR_STREAM_INVALID_CONFIG = 10052,
    ERR_TRANSFORM_INVALID_DESTINATION = 10156,
};

/* Go's time.RFC3339Nano of a UTC time: 2006-01-02T15:04:05.999999999Z (35 bytes and NUL). */
enum { GO_TIME_SIZE = 40 };

/* ---- raw API requests ---- */

/* `transforms` (a JSON array of {src, dest}) is exactly the `count` pairs of `want`
 * ({src0, dest0, src1, dest1, ...}). */
static void transforms_expect(const char *what, const json_t *transforms, const char *const *want,
                              size_t count)
{
    char *dump = transforms != NULL ? json_dumps(transforms, JSON_COMPACT) : NULL;
    bool same = json_is_array(transforms) && json_array_size(transforms) == count;
    for (size_t i = 0; same && i < count; i++) {
        const json_t *transform = json_array_get(transforms, i);
        const char *src = json_string_value(json_object_get(transform, "src"));
        const char *dest = json_string_value(json_object_get(transform, "dest"));
        same = src != NULL && dest != NULL && strcmp(src, want[2 * i]) == 0 &&
               strcmp(dest, want[2 * i + 1]) == 0;
    }
    ck_assert_msg(same, "%s: subject_transforms %s, want %zu pairs from %s -> %s", what,
                  dump != NULL ? dump : "(none)", count, want[0], want[1]);
    free(dump);
}

/* Fails unless `object`'s string `key` is `want`. */
static void string_expect(const char *what, const json_t *object, const char *key,
                          const char *want)
{
    const char *got = json_string_value(json_object_get(object, key));
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "%s: %s is %s, want %s", what, key,
                  got != NULL ? got : "(none)", want);
}

/* ---- messages ---- */

/* The last message of `stream` on `subject` is `seq`. */
static void last_expect(const char *stream, const char *subject, uint64_t seq)
{
    natsMsg *msg = jsc_last_get(stream, subject);
    ck_assert_uint_eq(natsMsg_GetSequence(msg), seq);
    natsMsg_Destroy(msg);
}

/* `ns` since the epoch as Go's time.RFC3339Nano writes a UTC time: the fraction without its
 * trailing zeros, and none at all when it is zero. */
static void go_time_format(int64_t ns, char *out, size_t size)
{
    time_t seconds = (time_t)(ns / 1000000000LL);
    long fraction = (long)(ns % 1000000000LL);
    struct tm tm;
    ck_assert_ptr_nonnull(gmtime_r(&seconds, &tm));
    size_t at = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    ck_assert_uint_gt(at, 0);
    if (fraction != 0) {
        char digits[16];
        snprintf(digits, sizeof digits, "%09ld", fraction);
        size_t length = strlen(digits);
        while (digits[length - 1] == '0') {
            digits[--length] = '\0';
        }
        at += (size_t)snprintf(out + at, size - at, ".%s", digits);
    }
    snprintf(out + at, size - at, "Z");
}

/* The next message on `sub`, or the test fails. */
static natsMsg *next_msg(natsSubscription *sub, const char *what)
{
    natsMsg *msg = NULL;
    natsStatus status = natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS);
    ck_assert_msg(status == NATS_OK, "%s: %s", what, natsStatus_GetText(status));
    return msg;
}

/* What a republished message must be. */
struct republished {
    const char *subject;   /* the republish subject */
    const char *stream;    /* Nats-Stream */
    const char *stored;    /* Nats-Subject: the subject it was stored under */
    uint64_t seq;          /* Nats-Sequence */
    uint64_t last_seq;     /* Nats-Last-Sequence */
    const char *body;      /* the payload, or with headers_only none */
    bool headers_only;     /* then Nats-Msg-Size: strlen(body) */
    const char *own_key;   /* one header of the message's own (NULL: none) */
    const char *own_value; /* its value */
};

/* The next message on `sub` is `want`: every header value exact, Nats-Time-Stamp the stored
 * message's time in RFC3339Nano, no other header, no reply subject. */
static void republished_expect(natsSubscription *sub, const struct republished *want)
{
    natsMsg *msg = next_msg(sub, want->subject);
    ck_assert_str_eq(natsMsg_GetSubject(msg), want->subject);
    ck_assert_ptr_null(natsMsg_GetReply(msg));
    char number[32];
    jsc_header_expect(msg, "Nats-Stream", want->stream);
    jsc_header_expect(msg, "Nats-Subject", want->stored);
    snprintf(number, sizeof number, "%llu", (unsigned long long)want->seq);
    jsc_header_expect(msg, "Nats-Sequence", number);
    snprintf(number, sizeof number, "%llu", (unsigned long long)want->last_seq);
    jsc_header_expect(msg, "Nats-Last-Sequence", number);
    natsMsg *stored = jsc_msg_get(jsc.js, want->stream, want->seq);
    ck_assert_str_eq(natsMsg_GetSubject(stored), want->stored);
    char when[GO_TIME_SIZE];
    go_time_format(natsMsg_GetTime(stored), when, sizeof when);
    natsMsg_Destroy(stored);
    jsc_header_expect(msg, "Nats-Time-Stamp", when);
    const char *keys[8] = {"Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp",
                           "Nats-Last-Sequence"};
    int key_count = 5;
    size_t body_length = strlen(want->body);
    if (want->headers_only) {
        snprintf(number, sizeof number, "%zu", body_length);
        jsc_header_expect(msg, "Nats-Msg-Size", number);
        keys[key_count++] = "Nats-Msg-Size";
        ck_assert_int_eq(natsMsg_GetDataLength(msg), 0);
    } else {
        ck_assert_int_eq(natsMsg_GetDataLength(msg), (int)body_length);
        ck_assert_mem_eq(natsMsg_GetData(msg), want->body, body_length);
    }
    if (want->own_key != NULL) {
        jsc_header_expect(msg, want->own_key, want->own_value);
        keys[key_count++] = want->own_key;
    }
    jsc_header_keys_expect(msg, keys, key_count);
    natsMsg_Destroy(msg);
}

/* A subscription of `connection` (NULL: the test's), its SUB flushed. */
static natsSubscription *subscribe_on(natsConnection *connection, const char *subject)
{
    connection = connection != NULL ? connection : jsc.connection;
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, connection, subject));
    itest_flush(connection);
    return sub;
}

static natsSubscription *subscribe(const char *subject)
{
    return subscribe_on(NULL, subject);
}

/* ---- a stream's subject_transform ---- */

/* One stream per kind of destination: what a publish is stored under, as nats-server 2.15.1
 * stores it ({{partition}}'s numbers are its FNV-1a hashes, read from it); a subject the
 * transform does not match is stored as it came; the last message by the stored subject is
 * found; INFO echoes the transform. */
START_TEST(test_transform_stored_subjects)
{
    jsc_start();
    jsc_stream_create("DOLLAR", "{\"name\":\"DOLLAR\",\"subjects\":[\"d.>\"],"
                                "\"subject_transform\":{\"src\":\"d.*.*\",\"dest\":\"D.$2.$1\"}}");
    jsc_stream_create("WILD", "{\"name\":\"WILD\",\"subjects\":[\"w.*.*\"],\"subject_transform\":"
                              "{\"src\":\"w.*.*\","
                              "\"dest\":\"W.{{wildcard(2)}}.x.{{wildcard(1)}}\"}}");
    jsc_stream_create("PART", "{\"name\":\"PART\",\"subjects\":[\"p.*.*\"],\"subject_transform\":"
                              "{\"src\":\"p.*.*\",\"dest\":\"P.{{partition(5,1,2)}}.$1.$2\"}}");
    jsc_stream_create("SPLIT", "{\"name\":\"SPLIT\",\"subjects\":[\"s.*\"],\"subject_transform\":"
                               "{\"src\":\"s.*\",\"dest\":\"S.{{split(1,-)}}\"}}");

    jsc_publish("d.one.two", "1", NULL, NULL, 1);
    jsc_publish("d.x", "2", NULL, NULL, 2);         /* one token short: stored as it came */
    jsc_publish("d.a.b.c", "3", NULL, NULL, 3);     /* one token long: the same */
    jsc_publish("d.three.four", "4", NULL, NULL, 4);
    jsc_stored_expect("DOLLAR", 1, "D.two.one", "1");
    jsc_stored_expect("DOLLAR", 2, "d.x", "2");
    jsc_stored_expect("DOLLAR", 3, "d.a.b.c", "3");
    jsc_stored_expect("DOLLAR", 4, "D.four.three", "4");
    last_expect("DOLLAR", "D.two.one", 1);
    last_expect("DOLLAR", "d.x", 2);

    jsc_publish("w.left.right", "w", NULL, NULL, 1);
    jsc_stored_expect("WILD", 1, "W.right.x.left", "w");

    /* the FNV-1a hashes of "ab", "ba", "ordersnew" and "usersold" modulo 5, as nats-server
     * 2.15.1 stores them */
    static const char *const part_in[] = {"p.a.b", "p.b.a", "p.orders.new", "p.users.old"};
    static const char *const part_out[] = {"P.1.a.b", "P.3.b.a", "P.0.orders.new",
                                           "P.2.users.old"};
    for (size_t i = 0; i < sizeof part_in / sizeof part_in[0]; i++) {
        jsc_publish(part_in[i], "p", NULL, NULL, i + 1);
        jsc_stored_expect("PART", i + 1, part_out[i], "p");
    }

    jsc_publish("s.a-b-c", "s1", NULL, NULL, 1);
    jsc_publish("s.-lead-trail-", "s2", NULL, NULL, 2); /* empty parts at the ends are dropped */
    jsc_publish("s.plain", "s3", NULL, NULL, 3);
    jsc_stored_expect("SPLIT", 1, "S.a.b.c", "s1");
    jsc_stored_expect("SPLIT", 2, "S.lead.trail", "s2");
    jsc_stored_expect("SPLIT", 3, "S.plain", "s3");

    json_t *root = jsc_info_json("PART");
    const json_t *transform =
        json_object_get(json_object_get(root, "config"), "subject_transform");
    string_expect("PART config", transform, "src", "p.*.*");
    string_expect("PART config", transform, "dest", "P.{{partition(5,1,2)}}.$1.$2");
    json_decref(root);
}
END_TEST

/* A destination the source cannot fill is refused (nats-server's 10156 for the stream's
 * transform; 10052 for republish's), and so is a republish destination that overlaps the
 * stream's subjects, which would store its own republishes (10052, "forms a cycle"). */
START_TEST(test_transform_config_errors)
{
    jsc_start();
    jsc_stream_create_refused(
            "BADT", "{\"name\":\"BADT\",\"subjects\":[\"bt.*\"],"
                    "\"subject_transform\":{\"src\":\"bt.*\",\"dest\":\"out.$2\"}}",
            400, ERR_TRANSFORM_INVALID_DESTINATION,
            "stream transform: invalid mapping destination: wildcard index out of range in $2: "
            "[2]");
    static const char *const cycles[] = {
        "{\"name\":\"CYC\",\"subjects\":[\"cy.>\"],\"republish\":{\"src\":\"cy.>\","
        "\"dest\":\"cy.again.>\"}}",
        "{\"name\":\"CYC\",\"subjects\":[\"cy.*\"],\"republish\":{\"dest\":\">\"}}",
        "{\"name\":\"CYC\",\"subjects\":[\"cy.a\",\"other.*\"],\"republish\":{\"src\":\"cy.a\","
        "\"dest\":\"other.a\"}}",
    };
    for (size_t i = 0; i < sizeof cycles / sizeof cycles[0]; i++) {
        jsc_stream_create_refused("CYC", cycles[i], 500, ERR_STREAM_INVALID_CONFIG,
                                  "stream configuration for republish destination forms a cycle");
    }
    jsc_stream_create_refused(
            "BADR", "{\"name\":\"BADR\",\"subjects\":[\"br.*\"],\"republish\":{\"src\":\"br.*\","
                    "\"dest\":\"out.$2\"}}",
            500, ERR_STREAM_INVALID_CONFIG,
            "stream configuration for republish with transform from 'br.*' to 'out.$2' not valid");
    /* nothing was made */
    json_t *root = jsc_request(jsc.connection, "$JS.API.STREAM.NAMES", "{}", NULL);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "total")), 0);
    json_decref(root);
}
END_TEST

/* ---- republish ---- */

/* Each stored message whose subject the republish source matches is published again on the
 * destination: its own headers kept, then nats-server's, every value exact; Nats-Last-Sequence
 * is the last earlier message on the same subject (0 for the first); a subject the source
 * does not match is stored but not republished. */
START_TEST(test_transform_republish)
{
    jsc_start();
    jsRePublish republish;
    ITEST_OK(jsRePublish_Init(&republish));
    republish.Source = "rp.*";
    republish.Destination = "out.{{wildcard(1)}}";
    const char *subjects[] = {"rp.>"};
    jsStreamConfig config;
    ITEST_OK(jsStreamConfig_Init(&config));
    config.Name = "RP";
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.RePublish = &republish;
    jsStreamInfo *info = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_AddStream(&info, jsc.js, &config, NULL, &code));
    ck_assert_ptr_nonnull(info->Config->RePublish);
    ck_assert_str_eq(info->Config->RePublish->Source, "rp.*");
    ck_assert_str_eq(info->Config->RePublish->Destination, "out.{{wildcard(1)}}");
    ck_assert(!info->Config->RePublish->HeadersOnly);
    jsStreamInfo_Destroy(info);

    /* a second connection too: with several shards ionats republishes to it from the
     * stream's shard over the cross-shard rings */
    natsConnection *other = itest_connect(jsc.server.url);
    natsSubscription *subs[] = {subscribe("out.>"), subscribe_on(other, "out.>")};
    jsc_publish("rp.a", "first a", "X-Custom", "custom value", 1);
    jsc_publish("rp.b", "first b", NULL, NULL, 2);
    jsc_publish("rp.a", "second a", NULL, NULL, 3);
    jsc_publish("rp.x.y", "not republished", NULL, NULL, 4);
    jsc_publish("rp.a", "", "X-Custom", "empty body", 5);
    jsc_publish("rp.b", "second b", NULL, NULL, 6);
    const struct republished want[] = {
        {"out.a", "RP", "rp.a", 1, 0, "first a", false, "X-Custom", "custom value"},
        {"out.b", "RP", "rp.b", 2, 0, "first b", false, NULL, NULL},
        {"out.a", "RP", "rp.a", 3, 1, "second a", false, NULL, NULL},
        {"out.a", "RP", "rp.a", 5, 3, "", false, "X-Custom", "empty body"},
        {"out.b", "RP", "rp.b", 6, 2, "second b", false, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        for (size_t j = 0; j < sizeof want / sizeof want[0]; j++) {
            republished_expect(subs[i], &want[j]);
        }
        natsSubscription_Destroy(subs[i]);
    }
    jsc_stored_expect("RP", 4, "rp.x.y", "not republished");
    natsConnection_Destroy(other);
}
END_TEST

/* headers_only: the headers alone, with Nats-Msg-Size the payload's length (0 for an empty
 * one), the message's own headers kept. */
START_TEST(test_transform_republish_headers_only)
{
    jsc_start();
    jsc_stream_create("HO", "{\"name\":\"HO\",\"subjects\":[\"ho.*\"],\"republish\":{\"src\":"
                            "\"ho.*\",\"dest\":\"meta.$1\",\"headers_only\":true}}");
    json_t *root = jsc_info_json("HO");
    const json_t *republish = json_object_get(json_object_get(root, "config"), "republish");
    ck_assert(json_is_true(json_object_get(republish, "headers_only")));
    json_decref(root);

    natsSubscription *sub = subscribe("meta.>");
    jsc_publish("ho.a", "twelve bytes", "X-Trace", "t-1", 1);
    jsc_publish("ho.a", "", NULL, NULL, 2);
    jsc_publish("ho.b", "0123456789abcdef0123456789abcdef", NULL, NULL, 3);
    const struct republished want[] = {
        {"meta.a", "HO", "ho.a", 1, 0, "twelve bytes", true, "X-Trace", "t-1"},
        {"meta.a", "HO", "ho.a", 2, 1, "", true, NULL, NULL},
        {"meta.b", "HO", "ho.b", 3, 0, "0123456789abcdef0123456789abcdef", true, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        republished_expect(sub, &want[i]);
    }
    natsSubscription_Destroy(sub);
}
END_TEST

/* A rollup's republish: Nats-Last-Sequence is the last message on its subject before it
 * (nats-server reads it before the store, and rolls up after), for a subject rollup and for
 * an "all" rollup alike; the Nats-Rollup header is the message's own and kept. */
START_TEST(test_transform_republish_rollup)
{
    jsc_start();
    jsc_stream_create("RR", "{\"name\":\"RR\",\"subjects\":[\"rr.*\"],\"allow_rollup_hdrs\":true,"
                            "\"republish\":{\"src\":\"rr.*\",\"dest\":\"rro.$1\"}}");
    natsSubscription *sub = subscribe("rro.>");
    const struct republished want[] = {
        {"rro.a", "RR", "rr.a", 1, 0, "a1", false, NULL, NULL},
        {"rro.b", "RR", "rr.b", 2, 0, "b1", false, NULL, NULL},
        {"rro.a", "RR", "rr.a", 3, 1, "a2", false, "Nats-Rollup", "sub"},
        {"rro.b", "RR", "rr.b", 4, 2, "b2", false, "Nats-Rollup", "all"},
    };
    /* each checked before the next publish, which may roll it up (its time is read from
     * the store) */
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        jsc_publish(want[i].stored, want[i].body, want[i].own_key, want[i].own_value, want[i].seq);
        republished_expect(sub, &want[i]);
    }
    natsSubscription_Destroy(sub);
    json_t *root = jsc_info_json("RR");
    const json_t *state = json_object_get(root, "state");
    ck_assert_int_eq(json_integer_value(json_object_get(state, "messages")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(state, "first_seq")), 4);
    json_decref(root);
}
END_TEST

/* Republish sees the subject the stream's subject_transform stored the message under (the
 * source is matched against it, Nats-Subject and Nats-Last-Sequence follow it); a republish
 * from ">" to ">" on a stream whose one subject is its transform's source republishes on the
 * transformed subjects, and INFO says so (nats-server's implicit republish). */
START_TEST(test_transform_republish_after_transform)
{
    jsc_start();
    jsc_stream_create("RT", "{\"name\":\"RT\",\"subjects\":[\"in.>\"],"
                            "\"subject_transform\":{\"src\":\"in.*\",\"dest\":\"kept.$1\"},"
                            "\"republish\":{\"src\":\"kept.*\",\"dest\":\"seen.$1\"}}");
    jsc_stream_create("IMP", "{\"name\":\"IMP\",\"subjects\":[\"imp.>\"],"
                             "\"subject_transform\":{\"src\":\"imp.>\",\"dest\":\"done.>\"},"
                             "\"republish\":{\"src\":\">\",\"dest\":\">\"}}");
    json_t *root = jsc_info_json("IMP");
    const json_t *republish = json_object_get(json_object_get(root, "config"), "republish");
    string_expect("IMP republish", republish, "src", "done.>");
    string_expect("IMP republish", republish, "dest", "done.>");
    json_decref(root);

    natsSubscription *seen = subscribe("seen.>");
    natsSubscription *done = subscribe("done.>");
    jsc_publish("in.a", "a1", NULL, NULL, 1);
    jsc_publish("in.x.y", "untransformed", NULL, NULL, 2); /* stored as in.x.y: not republished */
    jsc_publish("in.a", "a2", "X-Custom", "c", 3);
    jsc_publish("imp.q", "q1", NULL, NULL, 1);
    jsc_publish("imp.r.s", "rs", NULL, NULL, 2);
    jsc_publish("imp.q", "q2", NULL, NULL, 3);
    jsc_stored_expect("RT", 1, "kept.a", "a1");
    jsc_stored_expect("RT", 2, "in.x.y", "untransformed");
    const struct republished want_seen[] = {
        {"seen.a", "RT", "kept.a", 1, 0, "a1", false, NULL, NULL},
        {"seen.a", "RT", "kept.a", 3, 1, "a2", false, "X-Custom", "c"},
    };
    for (size_t i = 0; i < sizeof want_seen / sizeof want_seen[0]; i++) {
        republished_expect(seen, &want_seen[i]);
    }
    const struct republished want_done[] = {
        {"done.q", "IMP", "done.q", 1, 0, "q1", false, NULL, NULL},
        {"done.r.s", "IMP", "done.r.s", 2, 0, "rs", false, NULL, NULL},
        {"done.q", "IMP", "done.q", 3, 1, "q2", false, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof want_done / sizeof want_done[0]; i++) {
        republished_expect(done, &want_done[i]);
    }
    natsSubscription_Destroy(seen);
    natsSubscription_Destroy(done);
}
END_TEST

/* Stream updates add, change and remove subject_transform and republish, each taking effect
 * with the next publish; a duplicate Nats-Msg-Id is neither stored nor republished; a
 * Nats-Expected-Last-Subject-Sequence is checked against the subject the message is stored
 * under (10071 "wrong last sequence" otherwise). */
START_TEST(test_transform_update)
{
    jsc_start();
    jsc_stream_create("UP", "{\"name\":\"UP\",\"subjects\":[\"up.*\"]}");
    natsSubscription *sub = subscribe("upout.>");
    jsc_publish("up.a", "1", NULL, NULL, 1);
    static const char *const updates[] = {
        "{\"name\":\"UP\",\"subjects\":[\"up.*\"],"
        "\"subject_transform\":{\"src\":\"up.*\",\"dest\":\"UP.$1\"},"
        "\"republish\":{\"src\":\"UP.*\",\"dest\":\"upout.$1\"}}",
        "{\"name\":\"UP\",\"subjects\":[\"up.*\"],"
        "\"republish\":{\"src\":\"up.*\",\"dest\":\"upout.$1\",\"headers_only\":true}}",
        "{\"name\":\"UP\",\"subjects\":[\"up.*\"]}",
        "{\"name\":\"UP\",\"subjects\":[\"up.*\"],"
        "\"subject_transform\":{\"src\":\"up.*\",\"dest\":\"UP.$1\"},"
        "\"republish\":{\"src\":\"UP.*\",\"dest\":\"upout.$1\"}}",
    };
    for (size_t i = 0; i < sizeof updates / sizeof updates[0]; i++) {
        json_t *root = jsc_request(jsc.connection, "$JS.API.STREAM.UPDATE.UP", updates[i], NULL);
        const json_t *error = json_object_get(root, "error");
        ck_assert_msg(error == NULL, "update %zu: %s", i,
                      json_string_value(json_object_get(error, "description")));
        const json_t *config = json_object_get(root, "config");
        ck_assert_msg((json_object_get(config, "subject_transform") != NULL) == (i == 0 || i == 3),
                      "update %zu: subject_transform", i);
        ck_assert_msg((json_object_get(config, "republish") != NULL) == (i != 2),
                      "update %zu: republish", i);
        json_decref(root);
        if (i < 3) {
            jsc_publish("up.a", i == 0 ? "2" : i == 1 ? "3" : "4", NULL, NULL, i + 2);
        }
    }
    jsc_stored_expect("UP", 1, "up.a", "1");
    jsc_stored_expect("UP", 2, "UP.a", "2");
    jsc_stored_expect("UP", 3, "up.a", "3");
    jsc_stored_expect("UP", 4, "up.a", "4");
    const struct republished after_update[] = {
        {"upout.a", "UP", "UP.a", 2, 0, "2", false, NULL, NULL},
        {"upout.a", "UP", "up.a", 3, 1, "3", true, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof after_update / sizeof after_update[0]; i++) {
        republished_expect(sub, &after_update[i]);
    }

    jsc_publish("up.b", "5", "Nats-Msg-Id", "once", 5);
    natsMsg *msg = NULL;
    ITEST_OK(natsMsg_Create(&msg, "up.b", NULL, "dup", 3));
    ITEST_OK(natsMsgHeader_Set(msg, "Nats-Msg-Id", "once"));
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_PublishMsg(&ack, jsc.js, msg, NULL, &code));
    natsMsg_Destroy(msg);
    ck_assert(ack->Duplicate);
    ck_assert_uint_eq(ack->Sequence, 5);
    jsPubAck_Destroy(ack);
    jsc_publish("up.b", "6", "Nats-Expected-Last-Subject-Sequence", "5", 6);
    ITEST_OK(natsMsg_Create(&msg, "up.b", NULL, "7", 1));
    ITEST_OK(natsMsgHeader_Set(msg, "Nats-Expected-Last-Subject-Sequence", "0"));
    ack = NULL;
    natsStatus status = js_PublishMsg(&ack, jsc.js, msg, NULL, &code);
    natsMsg_Destroy(msg);
    ck_assert_msg(status != NATS_OK && code == JSStreamWrongLastSequenceErr,
                  "expected last subject sequence 0 on UP.b: %s, err_code %d",
                  natsStatus_GetText(status), (int)code);
    ck_assert_ptr_null(ack);
    jsc_publish("up.c", "8", "Nats-Expected-Last-Subject-Sequence", "0", 7);
    const struct republished later[] = {
        {"upout.b", "UP", "UP.b", 5, 0, "5", false, "Nats-Msg-Id", "once"},
        {"upout.b", "UP", "UP.b", 6, 5, "6", false, "Nats-Expected-Last-Subject-Sequence", "5"},
        {"upout.c", "UP", "UP.c", 7, 0, "8", false, "Nats-Expected-Last-Subject-Sequence", "0"},
    };
    for (size_t i = 0; i < sizeof later / sizeof later[0]; i++) {
        republished_expect(sub, &later[i]);
    }
    natsSubscription_Destroy(sub);
}
END_TEST

/* ---- sources and mirrors ---- */

/* A Nats-Stream-Source value split at its spaces: nats-server's five fields (origin, origin
 * sequence, the transforms' sources and destinations joined by form feeds, the origin's
 * subject) and 2.15's sixth (the origin's identity), which is not compared. */
enum { SOURCE_FIELDS = 5, SOURCE_FIELDS_MAX = 6 };

/* Fails unless `msg`'s Nats-Stream-Source has exactly these first five fields. */
static void source_header_expect(natsMsg *msg, const char *const want[SOURCE_FIELDS])
{
    const char *value = NULL;
    natsStatus status = natsMsgHeader_Get(msg, "Nats-Stream-Source", &value);
    ck_assert_msg(status == NATS_OK && value != NULL, "%s: no Nats-Stream-Source",
                  natsMsg_GetSubject(msg));
    char copy[512];
    snprintf(copy, sizeof copy, "%s", value);
    const char *fields[SOURCE_FIELDS_MAX + 1] = {NULL};
    int count = 0;
    char *save = NULL;
    for (char *field = strtok_r(copy, " ", &save); field != NULL && count <= SOURCE_FIELDS_MAX;
         field = strtok_r(NULL, " ", &save)) {
        fields[count++] = field;
    }
    bool same = count == SOURCE_FIELDS || count == SOURCE_FIELDS_MAX;
    for (int i = 0; same && i < SOURCE_FIELDS; i++) {
        same = strcmp(fields[i], want[i]) == 0;
    }
    ck_assert_msg(same, "%s: Nats-Stream-Source \"%s\", want \"%s %s %s %s %s\"",
                  natsMsg_GetSubject(msg), value, want[0], want[1], want[2], want[3], want[4]);
}

/* What a source stream must hold of one origin message. */
struct copy_want {
    const char *origin;            /* the origin stream */
    uint64_t origin_seq;           /* its sequence there */
    const char *subject;           /* the subject the copy is stored under */
    const char *data;              /* its payload */
    const char *const *header;     /* the first five fields of its Nats-Stream-Source */
    bool seen;
};

/* Walks stream `name` from 1 to `last_seq`: each message is one of `wants`, each once. The
 * copies of two origins interleave in no promised order. */
static void copies_expect(const char *name, uint64_t last_seq, struct copy_want *wants,
                          size_t count)
{
    ck_assert_uint_eq(last_seq, count);
    for (uint64_t seq = 1; seq <= last_seq; seq++) {
        natsMsg *msg = jsc_msg_get(jsc.js, name, seq);
        const char *value = NULL;
        ck_assert_int_eq(natsMsgHeader_Get(msg, "Nats-Stream-Source", &value), NATS_OK);
        struct copy_want *want = NULL;
        for (size_t i = 0; i < count && want == NULL; i++) {
            char prefix[128];
            int length = snprintf(prefix, sizeof prefix, "%s %llu ", wants[i].origin,
                                  (unsigned long long)wants[i].origin_seq);
            if (strncmp(value, prefix, (size_t)length) == 0) {
                want = &wants[i];
            }
        }
        ck_assert_msg(want != NULL, "%s %llu: an unexpected copy (%s)", name,
                      (unsigned long long)seq, value);
        ck_assert_msg(!want->seen, "%s %llu: a second copy (%s)", name, (unsigned long long)seq,
                      value);
        want->seen = true;
        ck_assert_msg(strcmp(natsMsg_GetSubject(msg), want->subject) == 0,
                      "%s %llu (%s): stored under %s, want %s", name, (unsigned long long)seq,
                      value, natsMsg_GetSubject(msg), want->subject);
        ck_assert_int_eq(natsMsg_GetDataLength(msg), (int)strlen(want->data));
        ck_assert_mem_eq(natsMsg_GetData(msg), want->data, strlen(want->data));
        source_header_expect(msg, want->header);
        natsMsg_Destroy(msg);
    }
}

/* A source with two subject_transforms takes only what they match (its consumer filters on
 * their sources) and stores each copy under the first one's destination that matches; a
 * second source with one transform beside it; Nats-Stream-Source names the transforms
 * joined by form feeds and the origin's subject; INFO shows the transforms in its config
 * and in sources[]; a publish after the create is copied too. */
START_TEST(test_transform_sources)
{
    jsc_start();
    jsc_stream_create("O1", "{\"name\":\"O1\",\"subjects\":[\"o1.>\"]}");
    jsc_stream_create("O2", "{\"name\":\"O2\",\"subjects\":[\"o2.*\"]}");
    jsc_publish("o1.a", "o1 1", NULL, NULL, 1);
    jsc_publish("o1.b.c", "o1 2", NULL, NULL, 2);
    jsc_publish("o1.x", "o1 3 not copied", NULL, NULL, 3);
    jsc_publish("o2.q", "o2 1", "X-Custom", "kept", 1);
    jsc_stream_create("AGG",
                      "{\"name\":\"AGG\",\"sources\":["
                      "{\"name\":\"O1\",\"subject_transforms\":["
                      "{\"src\":\"o1.a\",\"dest\":\"agg.first\"},"
                      "{\"src\":\"o1.b.*\",\"dest\":\"agg.b.$1\"}]},"
                      "{\"name\":\"O2\",\"subject_transforms\":["
                      "{\"src\":\"o2.*\",\"dest\":\"agg.two.{{wildcard(1)}}\"}]}]}");
    jsc_state_wait_min("AGG", "messages", 3, COPY_WAIT_MS);
    jsc_publish("o1.b.d", "o1 4", NULL, NULL, 4);
    jsc_publish("o1.y", "o1 5 not copied", NULL, NULL, 5);
    jsc_publish("o2.r", "o2 2", NULL, NULL, 2);
    jsc_state_wait_min("AGG", "messages", 5, COPY_WAIT_MS);

    static const char *const o1_1[] = {"O1", "1", "o1.a\fo1.b.*", "agg.first\fagg.b.$1", "o1.a"};
    static const char *const o1_2[] = {"O1", "2", "o1.a\fo1.b.*", "agg.first\fagg.b.$1",
                                       "o1.b.c"};
    static const char *const o1_4[] = {"O1", "4", "o1.a\fo1.b.*", "agg.first\fagg.b.$1",
                                       "o1.b.d"};
    static const char *const o2_1[] = {"O2", "1", "o2.*", "agg.two.{{wildcard(1)}}", "o2.q"};
    static const char *const o2_2[] = {"O2", "2", "o2.*", "agg.two.{{wildcard(1)}}", "o2.r"};
    struct copy_want wants[] = {
        {"O1", 1, "agg.first", "o1 1", o1_1, false},
        {"O1", 2, "agg.b.c", "o1 2", o1_2, false},
        {"O1", 4, "agg.b.d", "o1 4", o1_4, false},
        {"O2", 1, "agg.two.q", "o2 1", o2_1, false},
        {"O2", 2, "agg.two.r", "o2 2", o2_2, false},
    };
    json_t *root = jsc_info_json("AGG");
    const json_t *state = json_object_get(root, "state");
    ck_assert_int_eq(json_integer_value(json_object_get(state, "messages")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(state, "last_seq")), 5);
    static const char *const o1_transforms[] = {"o1.a", "agg.first", "o1.b.*", "agg.b.$1"};
    static const char *const o2_transforms[] = {"o2.*", "agg.two.{{wildcard(1)}}"};
    const json_t *configured = json_object_get(json_object_get(root, "config"), "sources");
    ck_assert_uint_eq(json_array_size(configured), 2);
    for (size_t i = 0; i < 2; i++) {
        const json_t *source = json_array_get(configured, i);
        bool first = strcmp(json_string_value(json_object_get(source, "name")), "O1") == 0;
        transforms_expect("config.sources", json_object_get(source, "subject_transforms"),
                          first ? o1_transforms : o2_transforms, first ? 2 : 1);
    }
    const json_t *sources = json_object_get(root, "sources");
    ck_assert_uint_eq(json_array_size(sources), 2);
    for (size_t i = 0; i < 2; i++) {
        const json_t *source = json_array_get(sources, i);
        bool first = strcmp(json_string_value(json_object_get(source, "name")), "O1") == 0;
        transforms_expect("sources", json_object_get(source, "subject_transforms"),
                          first ? o1_transforms : o2_transforms, first ? 2 : 1);
        ck_assert_ptr_null(json_object_get(source, "error"));
        ck_assert_ptr_null(json_object_get(source, "filter_subject"));
    }
    json_decref(root);
    copies_expect("AGG", 5, wants, sizeof wants / sizeof wants[0]);
    /* the origin's own headers travel with the copy */
    for (uint64_t seq = 1; seq <= 5; seq++) {
        natsMsg *msg = jsc_msg_get(jsc.js, "AGG", seq);
        if (strcmp(natsMsg_GetSubject(msg), "agg.two.q") == 0) {
            jsc_header_expect(msg, "X-Custom", "kept");
        }
        natsMsg_Destroy(msg);
    }
}
END_TEST

/* A source stream with a subject_transform and republish of its own: a copy is stored under
 * the source's transform and then the stream's, and republished with its headers
 * (Nats-Stream-Source among them). */
START_TEST(test_transform_source_republish)
{
    jsc_start();
    jsc_stream_create("SX", "{\"name\":\"SX\",\"subjects\":[\"sx.*\"]}");
    jsc_stream_create("SR", "{\"name\":\"SR\",\"sources\":[{\"name\":\"SX\",\"subject_transforms\":"
                            "[{\"src\":\"sx.*\",\"dest\":\"sy.$1\"}]}],"
                            "\"subject_transform\":{\"src\":\"sy.*\",\"dest\":\"sz.$1\"},"
                            "\"republish\":{\"src\":\"sz.*\",\"dest\":\"rep.$1\"}}");
    natsSubscription *sub = subscribe("rep.>");
    jsc_publish("sx.a", "one", NULL, NULL, 1);
    jsc_publish("sx.a", "two", NULL, NULL, 2);
    jsc_state_wait_min("SR", "messages", 2, COPY_WAIT_MS);
    jsc_stored_expect("SR", 1, "sz.a", "one");
    jsc_stored_expect("SR", 2, "sz.a", "two");
    for (uint64_t seq = 1; seq <= 2; seq++) {
        natsMsg *msg = next_msg(sub, "rep.a");
        ck_assert_str_eq(natsMsg_GetSubject(msg), "rep.a");
        char number[32];
        jsc_header_expect(msg, "Nats-Stream", "SR");
        jsc_header_expect(msg, "Nats-Subject", "sz.a");
        snprintf(number, sizeof number, "%llu", (unsigned long long)seq);
        jsc_header_expect(msg, "Nats-Sequence", number);
        jsc_header_expect(msg, "Nats-Last-Sequence", seq == 1 ? "0" : "1");
        const char *const want[SOURCE_FIELDS] = {"SX", number, "sx.*", "sy.$1", "sx.a"};
        source_header_expect(msg, want);
        ck_assert_int_eq(natsMsg_GetDataLength(msg), 3);
        ck_assert_mem_eq(natsMsg_GetData(msg), seq == 1 ? "one" : "two", 3);
        natsMsg_Destroy(msg);
    }
    natsSubscription_Destroy(sub);
}
END_TEST

/* A mirror with subject_transforms: what they match, at the origin's sequences (the others
 * are gaps), stored under the destinations, without a Nats-Stream-Source; INFO shows the
 * transforms in the mirror's config and in its mirror object. */
START_TEST(test_transform_mirror)
{
    jsc_start();
    jsc_stream_create("MO", "{\"name\":\"MO\",\"subjects\":[\"mo.>\"]}");
    jsc_publish("mo.a", "a1", NULL, NULL, 1);
    jsc_publish("mo.b.x", "b1", "X-Custom", "b", 2);
    jsc_publish("mo.c", "c1 not mirrored", NULL, NULL, 3);
    jsc_stream_create("MT", "{\"name\":\"MT\",\"mirror\":{\"name\":\"MO\",\"subject_transforms\":["
                            "{\"src\":\"mo.a\",\"dest\":\"mirrored.a\"},"
                            "{\"src\":\"mo.b.*\",\"dest\":\"mirrored.{{wildcard(1)}}.b\"}]}}");
    jsc_state_wait_min("MT", "messages", 2, COPY_WAIT_MS);
    jsc_publish("mo.a", "a2", NULL, NULL, 4);
    jsc_publish("mo.c", "c2 not mirrored", NULL, NULL, 5);
    jsc_publish("mo.b.y", "b2", NULL, NULL, 6);
    jsc_state_wait_min("MT", "messages", 4, COPY_WAIT_MS);
    json_t *root = jsc_info_json("MT");
    const json_t *state = json_object_get(root, "state");
    ck_assert_int_eq(json_integer_value(json_object_get(state, "messages")), 4);
    ck_assert_int_eq(json_integer_value(json_object_get(state, "first_seq")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(state, "last_seq")), 6);
    static const char *const transforms[] = {"mo.a", "mirrored.a", "mo.b.*",
                                             "mirrored.{{wildcard(1)}}.b"};
    const json_t *mirror_config = json_object_get(json_object_get(root, "config"), "mirror");
    transforms_expect("config.mirror", json_object_get(mirror_config, "subject_transforms"),
                      transforms, 2);
    const json_t *mirror = json_object_get(root, "mirror");
    string_expect("mirror", mirror, "name", "MO");
    transforms_expect("mirror", json_object_get(mirror, "subject_transforms"), transforms, 2);
    ck_assert_ptr_null(json_object_get(mirror, "error"));
    json_decref(root);
    static const char *const subjects[] = {"mirrored.a", "mirrored.x.b", NULL,
                                           "mirrored.a", NULL,           "mirrored.y.b"};
    static const char *const data[] = {"a1", "b1", NULL, "a2", NULL, "b2"};
    for (uint64_t seq = 1; seq <= 6; seq++) {
        if (subjects[seq - 1] == NULL) {
            jsc_msg_missing_expect(jsc.js, "MT", seq);
            continue;
        }
        jsc_stored_expect("MT", seq, subjects[seq - 1], data[seq - 1]);
        natsMsg *copy = jsc_msg_get(jsc.js, "MT", seq);
        natsMsg *origin = jsc_msg_get(jsc.js, "MO", seq);
        const char *value = NULL;
        ck_assert_int_eq(natsMsgHeader_Get(copy, "Nats-Stream-Source", &value), NATS_NOT_FOUND);
        ck_assert_int_eq(natsMsg_GetTime(copy), natsMsg_GetTime(origin));
        if (seq == 2) {
            jsc_header_expect(copy, "X-Custom", "b");
        }
        natsMsg_Destroy(origin);
        natsMsg_Destroy(copy);
    }
    last_expect("MT", "mirrored.a", 4);
}
END_TEST

/* After a restart on the same store: the stream's subject_transform and republish still
 * apply, and a source with two subject_transforms takes up after the last copy it stored
 * (its Nats-Stream-Source, form feeds and all, names it) rather than copying again: a new
 * origin message is the only one that arrives. */
START_TEST(test_transform_restart)
{
    jsc_start();
    jsc_stream_create("RO", "{\"name\":\"RO\",\"subjects\":[\"ro.>\"]}");
    jsc_stream_create("RA", "{\"name\":\"RA\",\"sources\":[{\"name\":\"RO\","
                            "\"subject_transforms\":["
                            "{\"src\":\"ro.a\",\"dest\":\"ra.first\"},"
                            "{\"src\":\"ro.b.*\",\"dest\":\"ra.b.$1\"}]}]}");
    jsc_stream_create("RS", "{\"name\":\"RS\",\"subjects\":[\"rs.*\"],"
                            "\"subject_transform\":{\"src\":\"rs.*\",\"dest\":\"RS.$1\"},"
                            "\"republish\":{\"src\":\"RS.*\",\"dest\":\"rsout.$1\"}}");
    jsc_publish("ro.a", "1", NULL, NULL, 1);
    jsc_publish("ro.b.x", "2", NULL, NULL, 2);
    jsc_publish("ro.c", "3 not copied", NULL, NULL, 3);
    jsc_publish("rs.k", "k1", NULL, NULL, 1);
    jsc_state_wait_min("RA", "messages", 2, COPY_WAIT_MS);

    jsc_restart();
    natsSubscription *sub = subscribe("rsout.>");
    jsc_publish("rs.k", "k2", NULL, NULL, 2);
    const struct republished want = {"rsout.k", "RS", "RS.k", 2, 1, "k2", false, NULL, NULL};
    republished_expect(sub, &want);
    natsSubscription_Destroy(sub);
    jsc_stored_expect("RS", 1, "RS.k", "k1");

    jsc_publish("ro.b.y", "4", NULL, NULL, 4);
    jsc_state_wait_min("RA", "messages", 3, COPY_WAIT_MS);
    static const char *const ro_1[] = {"RO", "1", "ro.a\fro.b.*", "ra.first\fra.b.$1", "ro.a"};
    static const char *const ro_2[] = {"RO", "2", "ro.a\fro.b.*", "ra.first\fra.b.$1", "ro.b.x"};
    static const char *const ro_4[] = {"RO", "4", "ro.a\fro.b.*", "ra.first\fra.b.$1", "ro.b.y"};
    struct copy_want wants[] = {
        {"RO", 1, "ra.first", "1", ro_1, false},
        {"RO", 2, "ra.b.x", "2", ro_2, false},
        {"RO", 4, "ra.b.y", "4", ro_4, false},
    };
    json_t *root = jsc_info_json("RA");
    const json_t *state = json_object_get(root, "state");
    ck_assert_int_eq(json_integer_value(json_object_get(state, "messages")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(state, "last_seq")), 3);
    json_decref(root);
    copies_expect("RA", 3, wants, sizeof wants / sizeof wants[0]);
}
END_TEST

/* ---- mirror_direct ---- */

/* A direct get of `body` on `subject` is answered: the message at `seq` on `subject_want`
 * with payload `data`, its Nats-Stream one of `streams` (NULL-terminated: the origin's or
 * the mirror's name, whichever answered). */
static void direct_get_expect(const char *subject, const char *body, uint64_t seq,
                              const char *subject_want, const char *data,
                              const char *const *streams)
{
    natsMsg *reply = NULL;
    natsStatus status =
        natsConnection_RequestString(&reply, jsc.connection, subject, body, ITEST_WAIT_MS);
    ck_assert_msg(status == NATS_OK, "direct get %s %s: %s", subject, body,
                  natsStatus_GetText(status));
    const char *stream = NULL;
    ck_assert_int_eq(natsMsgHeader_Get(reply, "Nats-Stream", &stream), NATS_OK);
    bool known = false;
    for (size_t i = 0; streams[i] != NULL; i++) {
        known = known || strcmp(stream, streams[i]) == 0;
    }
    ck_assert_msg(known, "direct get %s %s: answered by %s", subject, body, stream);
    char number[32];
    snprintf(number, sizeof number, "%llu", (unsigned long long)seq);
    jsc_header_expect(reply, "Nats-Sequence", number);
    jsc_header_expect(reply, "Nats-Subject", subject_want);
    ck_assert_int_eq(natsMsg_GetDataLength(reply), (int)strlen(data));
    ck_assert_mem_eq(natsMsg_GetData(reply), data, strlen(data));
    natsMsg_Destroy(reply);
}

/* A mirror of an allow_direct stream has mirror_direct (not asked for: inherited) and no
 * allow_direct; the origin's direct gets, by sequence and last by subject, are answered (by
 * the origin or the mirror: one queue group); after the origin is deleted they are still
 * answered, by the mirror, as nats-server keeps the mirror's subscription. A mirror of a
 * stream without allow_direct serves nothing: its origin's direct gets have no responders. */
START_TEST(test_transform_mirror_direct)
{
    jsc_start();
    jsc_stream_create("DG", "{\"name\":\"DG\",\"subjects\":[\"dg.*\"],\"allow_direct\":true}");
    jsc_publish("dg.a", "a1", NULL, NULL, 1);
    jsc_publish("dg.b", "b1", NULL, NULL, 2);
    jsc_publish("dg.a", "a2", NULL, NULL, 3);
    jsc_stream_create("DGM", "{\"name\":\"DGM\",\"mirror\":{\"name\":\"DG\"}}");
    jsc_stream_create("PL", "{\"name\":\"PL\",\"subjects\":[\"pl\"]}");
    jsc_publish("pl", "p", NULL, NULL, 1);
    jsc_stream_create("PLM", "{\"name\":\"PLM\",\"mirror\":{\"name\":\"PL\"}}");
    jsc_state_wait_min("DGM", "messages", 3, COPY_WAIT_MS);
    jsc_state_wait_min("PLM", "messages", 1, COPY_WAIT_MS);
    json_t *root = jsc_info_json("DGM");
    const json_t *config = json_object_get(root, "config");
    ck_assert(json_is_true(json_object_get(config, "mirror_direct")));
    ck_assert(json_is_false(json_object_get(config, "allow_direct")));
    json_decref(root);
    root = jsc_info_json("PLM");
    ck_assert(json_is_false(json_object_get(json_object_get(root, "config"), "mirror_direct")));
    json_decref(root);

    static const char *const either[] = {"DG", "DGM", NULL};
    static const char *const mirror_only[] = {"DGM", NULL};
    for (int round = 0; round < 2; round++) {
        const char *const *streams = round == 0 ? either : mirror_only;
        direct_get_expect("$JS.API.DIRECT.GET.DG", "{\"seq\":2}", 2, "dg.b", "b1", streams);
        direct_get_expect("$JS.API.DIRECT.GET.DG", "{\"last_by_subj\":\"dg.a\"}", 3, "dg.a", "a2",
                          streams);
        direct_get_expect("$JS.API.DIRECT.GET.DG.dg.a", "", 3, "dg.a", "a2", streams);
        if (round == 0) {
            jsErrCode code = 0;
            ITEST_OK(js_DeleteStream(jsc.js, "DG", NULL, &code));
        }
    }
    /* and it is the mirror that holds them */
    jsc_stored_expect("DGM", 3, "dg.a", "a2");

    natsMsg *reply = NULL;
    natsStatus status = natsConnection_RequestString(&reply, jsc.connection,
                                                     "$JS.API.DIRECT.GET.PL", "{\"seq\":1}",
                                                     ITEST_WAIT_MS);
    ck_assert_msg(status == NATS_NO_RESPONDERS, "direct get of PL: %s, want no responders",
                  natsStatus_GetText(status));
}
END_TEST

/* ---- the program ---- */

static Suite *transform_suite(void)
{
    Suite *suite = suite_create("integration_jetstream_transform");
    TCase *stream = jsc_tcase("stream");
    tcase_add_test(stream, test_transform_stored_subjects);
    tcase_add_test(stream, test_transform_config_errors);
    tcase_add_test(stream, test_transform_republish);
    tcase_add_test(stream, test_transform_republish_headers_only);
    tcase_add_test(stream, test_transform_republish_rollup);
    tcase_add_test(stream, test_transform_republish_after_transform);
    tcase_add_test(stream, test_transform_update);
    suite_add_tcase(suite, stream);
    TCase *copies = jsc_tcase("sources_mirrors");
    tcase_add_test(copies, test_transform_sources);
    tcase_add_test(copies, test_transform_source_republish);
    tcase_add_test(copies, test_transform_mirror);
    tcase_add_test(copies, test_transform_mirror_direct);
    tcase_add_test(copies, test_transform_restart);
    suite_add_tcase(suite, copies);
    return suite;
}

int main(void)
{
    return jsc_run(transform_suite, TRANSFORM_MAJOR, TRANSFORM_MINOR, "subject transforms");
}
