/* JetStream mirrors and sources (engine/js_source*.c) through libnats, against ionats or, with
 * IONATS_TEST_SERVER=nats-server, the reference: a mirror holds its origin's messages at the
 * origin's sequences and timestamps (whole, filtered, from a start sequence or time, of an
 * origin with purged and deleted messages, of an origin created after it, of 20,000 1 KiB
 * messages that need flow control) and takes its origin's allow_direct as mirror_direct; a
 * source stream interleaves the copies of two origins, each with nats-server's
 * Nats-Stream-Source header, with its own publishes and drops a Nats-Msg-Id seen within its
 * duplicate window; both go on after restarts on the same store without a gap or a
 * duplicate; memory and file storage mix either way; the create and update errors for
 * mirrors are nats-server's; a $JS.API request asking for a higher API level than the
 * server's is refused (10185); and what ionats does not do yet (durable source consumers)
 * is refused rather than ignored.
 *
 * The one idea: a mirror or source catches up on its own time, so every check first polls
 * the stream's INFO until the counts it expects are there (bounded by SOURCE_WAIT_MS), then
 * asserts the exact state and messages. A wait never decides a pass by itself; nothing here
 * sleeps for a fixed time to let something happen.
 *
 * What differs by version of the reference (each test says where): the Nats-Stream-Source
 * value is "<origin> <seq>" on 2.9 and "<origin> <seq> <filter> <destination> <subject>"
 * since 2.10 (2.15 appends a sixth token, the origin stream's identity, which is not
 * compared); a source's info shows its filter_subject since 2.10; copies drop the
 * Nats-Expected-* headers since 2.11 (sources) and 2.12 (mirrors); removing a mirror
 * promotes it to a plain stream since 2.12 (refused with 10055 before);
 * Nats-Required-Api-Level is read since 2.12; a duplicate Nats-Msg-Id is skipped by a
 * source since 2.14 (before, it stalled the source for the duplicate window), when a stream
 * with sources also lost its default duplicate window.
 *
 * See test_jetstream.c for the whole suite and its fixture. Test thread only. */
#include "tests/integration/test_jetstream.h"
#include "tests/integration/jst_common.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* This file's TCase (its declaration belongs with the others in test_jetstream.h). */
TCase *jst_source_tcase(void);

/* How long a mirror or source may take to catch up with what its origin holds: both servers
 * start one within a few hundred ms and copy a few hundred messages in well under a second;
 * nats-server 2.9.10's first consumer can take a few seconds. */
enum { SOURCE_WAIT_MS = 20000 };

/* A mirror whose origin did not exist asks again ~10 s after the first failure on both
 * servers (nats-server's retry back-off: 2 s threshold plus 10 s per failure, jittered). */
enum { SOURCE_RETRY_WAIT_MS = 30000 };

/* How often INFO is polled while waiting. */
enum { SOURCE_POLL_MS = 20 };

/* The large catch-up: 20,000 messages of 1 KiB (20 MiB) copied within SOURCE_BULK_WAIT_MS.
 * The origin's consumer asks for flow control once half its window is out (ionats and
 * nats-server: 4 MiB at first, doubled per answer), so 20 MiB takes several answers; a
 * mirror that never answered would fall back on the 10 s health check per window. */
enum { SOURCE_BULK_COUNT = 20000, SOURCE_BULK_SIZE = 1024, SOURCE_BULK_WAIT_MS = 20000 };
enum { SOURCE_BULK_MAX_PENDING = 2048 };

/* nats-server's JSRequiredApiLevelErr and JSStreamCreateErr (libnats 3.4 names neither). */
enum { SOURCE_API_LEVEL_ERR = 10185, SOURCE_STREAM_CREATE_ERR = 10049 };

/* The duplicate window given to the source streams that must drop a repeated Nats-Msg-Id. */
#define SOURCE_DUPLICATES_NS (60LL * 1000000000LL)

/* ---- raw API requests, for what libnats 3.4 does not show (a source's error, its
 * filter_subject) or cannot send (a request header) ---- */

static json_t *info_json(const char *name)
{
    char subject[128];
    snprintf(subject, sizeof subject, "$JS.API.STREAM.INFO.%s", name);
    return jsc_request(jst.connection, subject, "", NULL);
}

/* The mirror's object in a stream's raw INFO, or the source named `origin` in its sources
 * (borrowed from `root`). */
static const json_t *source_json(const json_t *root, const char *origin)
{
    const json_t *mirror = json_object_get(root, "mirror");
    if (mirror != NULL) {
        return mirror;
    }
    const json_t *sources = json_object_get(root, "sources");
    for (size_t i = 0; i < json_array_size(sources); i++) {
        const json_t *source = json_array_get(sources, i);
        const char *name = json_string_value(json_object_get(source, "name"));
        if (name != NULL && strcmp(name, origin) == 0) {
            return source;
        }
    }
    ck_abort_msg("no mirror or source %s in the stream info", origin);
    return NULL;
}

/* The "mirror" or "sources" of stream `name`'s raw INFO as text, for a failure's message
 * (a static buffer, valid until the next call). */
static const char *sources_text(const char *name)
{
    static char text[2048];
    json_t *root = info_json(name);
    const json_t *mirror = json_object_get(root, "mirror");
    const json_t *sources = mirror != NULL ? mirror : json_object_get(root, "sources");
    char *dump = sources != NULL ? json_dumps(sources, JSON_COMPACT) : NULL;
    snprintf(text, sizeof text, "%s %s", mirror != NULL ? "mirror" : "sources",
             dump != NULL ? dump : "(none)");
    free(dump);
    json_decref(root);
    return text;
}

/* The mirror or source `origin` of `name` shows no error. */
static void source_healthy_expect(const char *name, const char *origin)
{
    json_t *root = info_json(name);
    const json_t *error = json_object_get(source_json(root, origin), "error");
    ck_assert_msg(error == NULL, "%s: %s shows error %s", name, origin,
                  json_string_value(json_object_get(error, "description")));
    json_decref(root);
}

/* ---- streams and their state ---- */

/* A stream `name` on one subject. */
static void stream_make(const char *name, const char *subject, jsStorageType storage)
{
    const char *subjects[] = {subject};
    jsStreamConfig config;
    jst_config(&config, name, subjects, 1);
    config.Storage = storage;
    jst_stream_add(&config);
}

/* A mirror `name` of `mirror` (borrowed). */
static void mirror_make(const char *name, jsStreamSource *mirror, jsStorageType storage)
{
    jsStreamConfig config;
    jst_config(&config, name, NULL, 0);
    config.Mirror = mirror;
    config.Storage = storage;
    jst_stream_add(&config);
}

static jsStreamSource source_of(const char *origin)
{
    jsStreamSource source;
    ITEST_OK(jsStreamSource_Init(&source));
    source.Name = origin;
    return source;
}

/* Polls INFO until the stream holds at least `msgs` messages up to at least `last_seq`, and
 * returns that INFO (the caller destroys it); fails with the state it last saw after
 * `wait_ms`. */
static jsStreamInfo *state_wait(const char *name, uint64_t msgs, uint64_t last_seq, long wait_ms)
{
    int64_t deadline = itest_now_ms() + wait_ms;
    for (;;) {
        jsStreamInfo *info = jst_stream_info(name);
        if (info->State.Msgs >= msgs && info->State.LastSeq >= last_seq) {
            return info;
        }
        if (itest_now_ms() >= deadline) {
            uint64_t got_msgs = info->State.Msgs;
            uint64_t got_last = info->State.LastSeq;
            jsStreamInfo_Destroy(info);
            itest_logs_show();
            ck_abort_msg("%s: %llu messages up to %llu after %ld ms, want %llu up to %llu; %s",
                         name, (unsigned long long)got_msgs, (unsigned long long)got_last,
                         wait_ms, (unsigned long long)msgs, (unsigned long long)last_seq,
                         sources_text(name));
        }
        jsStreamInfo_Destroy(info);
        jsc_pause_ms(SOURCE_POLL_MS);
    }
}

static void state_expect(const jsStreamInfo *info, uint64_t msgs, uint64_t first_seq,
                         uint64_t last_seq, uint64_t num_deleted)
{
    const jsStreamState *state = &info->State;
    ck_assert_msg(state->Msgs == msgs && state->FirstSeq == first_seq &&
                      state->LastSeq == last_seq && state->NumDeleted == num_deleted,
                  "%s: msgs %llu first %llu last %llu deleted %llu, want %llu %llu %llu %llu",
                  info->Config->Name, (unsigned long long)state->Msgs,
                  (unsigned long long)state->FirstSeq, (unsigned long long)state->LastSeq,
                  (unsigned long long)state->NumDeleted, (unsigned long long)msgs,
                  (unsigned long long)first_seq, (unsigned long long)last_seq,
                  (unsigned long long)num_deleted);
}

/* state_wait for `msgs` up to `last_seq`, then exactly that state. */
static void state_wait_expect(const char *name, uint64_t msgs, uint64_t first_seq,
                              uint64_t last_seq, uint64_t num_deleted)
{
    jsStreamInfo *info = state_wait(name, msgs, last_seq, SOURCE_WAIT_MS);
    state_expect(info, msgs, first_seq, last_seq, num_deleted);
    jsStreamInfo_Destroy(info);
}

/* ---- messages ---- */

/* Publishes `data` on `subject` with a Nats-Msg-Id (when not NULL), X-Custom: `custom` (when
 * not NULL) and Nats-Expected-Stream: `stream` (when not NULL); returns the ack (the caller
 * destroys it). */
static jsPubAck *publish_headers(const char *subject, const char *data, const char *msg_id,
                                 const char *custom, const char *stream)
{
    natsMsg *msg = NULL;
    ITEST_OK(natsMsg_Create(&msg, subject, NULL, data, (int)strlen(data)));
    if (msg_id != NULL) {
        ITEST_OK(natsMsgHeader_Set(msg, "Nats-Msg-Id", msg_id));
    }
    if (custom != NULL) {
        ITEST_OK(natsMsgHeader_Set(msg, "X-Custom", custom));
    }
    if (stream != NULL) {
        ITEST_OK(natsMsgHeader_Set(msg, "Nats-Expected-Stream", stream));
    }
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    natsStatus status = js_PublishMsg(&ack, jst.js, msg, NULL, &code);
    natsMsg_Destroy(msg);
    ck_assert_msg(status == NATS_OK, "publish on %s: %s, err_code %d (%s)", subject,
                  natsStatus_GetText(status), (int)code, itest_last_error());
    return ack;
}

/* Publishes "m<seq>" on `subject` and fails unless it is stored at `seq` (a new message). */
static void publish_at(const char *subject, uint64_t seq)
{
    char data[32];
    int length = snprintf(data, sizeof data, "m%llu", (unsigned long long)seq);
    jst_publish(subject, data, length, seq);
}

static bool key_is_expected(const char *key)
{
    return strncmp(key, "Nats-Expected-", strlen("Nats-Expected-")) == 0;
}

static bool key_is_source(const char *key)
{
    return strcmp(key, "Nats-Stream-Source") == 0;
}

/* The header keys of `msg` (free the array; none: count 0, NULL). */
static const char **header_keys(natsMsg *msg, int *count)
{
    const char **keys = NULL;
    *count = 0;
    natsStatus status = natsMsgHeader_Keys(msg, &keys, count);
    ck_assert_msg(status == NATS_OK || status == NATS_NOT_FOUND, "header keys: %s",
                  natsStatus_GetText(status));
    return status == NATS_OK ? keys : NULL;
}

/* `copy` is `origin` as a mirror or source keeps it: the same subject, payload and header
 * values less the Nats-Expected-* ones, plus a Nats-Stream-Source for a source; for a
 * mirror also the same timestamp. */
static void copy_expect(natsMsg *origin, natsMsg *copy, bool mirror)
{
    uint64_t seq = natsMsg_GetSequence(origin);
    ck_assert_str_eq(natsMsg_GetSubject(copy), natsMsg_GetSubject(origin));
    ck_assert_int_eq(natsMsg_GetDataLength(copy), natsMsg_GetDataLength(origin));
    ck_assert_mem_eq(natsMsg_GetData(copy), natsMsg_GetData(origin),
                     (size_t)natsMsg_GetDataLength(origin));
    if (mirror) {
        ck_assert_uint_eq(natsMsg_GetSequence(copy), seq);
        ck_assert_msg(natsMsg_GetTime(copy) == natsMsg_GetTime(origin),
                      "origin seq %llu: mirror time %lld, origin's %lld", (unsigned long long)seq,
                      (long long)natsMsg_GetTime(copy), (long long)natsMsg_GetTime(origin));
    }
    int origin_count = 0;
    const char **origin_keys = header_keys(origin, &origin_count);
    int kept = 0;
    for (int i = 0; i < origin_count; i++) {
        if (key_is_expected(origin_keys[i])) {
            continue;
        }
        kept++;
        const char *want = NULL;
        const char *got = NULL;
        ITEST_OK(natsMsgHeader_Get(origin, origin_keys[i], &want));
        natsStatus status = natsMsgHeader_Get(copy, origin_keys[i], &got);
        ck_assert_msg(status == NATS_OK && got != NULL && strcmp(got, want) == 0,
                      "origin seq %llu: header %s is %s in the copy, want %s",
                      (unsigned long long)seq, origin_keys[i], got != NULL ? got : "(none)",
                      want);
    }
    free((void *)origin_keys);
    int copy_count = 0;
    const char **copy_keys = header_keys(copy, &copy_count);
    int sourced = 0;
    for (int i = 0; i < copy_count; i++) {
        ck_assert_msg(!key_is_expected(copy_keys[i]), "origin seq %llu: the copy keeps %s",
                      (unsigned long long)seq, copy_keys[i]);
        sourced += key_is_source(copy_keys[i]) ? 1 : 0;
    }
    free((void *)copy_keys);
    ck_assert_int_eq(sourced, mirror ? 0 : 1);
    ck_assert_int_eq(copy_count, kept + sourced);
}

/* Every origin message from `first` to `last` that `subject_prefix` (NULL: any) matches is
 * in mirror `name` at the same sequence, the same (copy_expect); the others are not. */
static void mirror_messages_expect(const char *origin, const char *name, uint64_t first,
                                   uint64_t last, const char *subject_prefix)
{
    for (uint64_t seq = first; seq <= last; seq++) {
        natsMsg *want = NULL;
        jsErrCode code = 0;
        if (js_GetMsg(&want, jst.js, origin, seq, NULL, &code) != NATS_OK) {
            ck_assert_int_eq(code, JSNoMessageFoundErr);
            jsc_msg_missing_expect(jst.js, name, seq);
            continue;
        }
        const char *subject = natsMsg_GetSubject(want);
        if (subject_prefix != NULL &&
            strncmp(subject, subject_prefix, strlen(subject_prefix)) != 0) {
            jsc_msg_missing_expect(jst.js, name, seq);
        } else {
            natsMsg *got = jsc_msg_get(jst.js, name, seq);
            copy_expect(want, got, true);
            natsMsg_Destroy(got);
        }
        natsMsg_Destroy(want);
    }
}

/* A source copy's Nats-Stream-Source, split: origin and sequence, and the whole value. */
struct source_header {
    char origin[64];
    uint64_t seq;
    char value[256];
};

/* False for a message without a Nats-Stream-Source (a publish of the stream's own). */
static bool source_header_get(natsMsg *msg, struct source_header *out)
{
    const char *value = NULL;
    if (natsMsgHeader_Get(msg, "Nats-Stream-Source", &value) != NATS_OK || value == NULL) {
        return false;
    }
    snprintf(out->value, sizeof out->value, "%s", value);
    unsigned long long seq = 0;
    ck_assert_msg(sscanf(value, "%63s %llu", out->origin, &seq) == 2,
                  "Nats-Stream-Source \"%s\"", value);
    out->seq = seq;
    return true;
}

/* The value is nats-server's for a copy of `origin` `seq` read through `filter` (NULL: all)
 * of a message on `subject`: "<origin> <seq> <filter or >> > <subject>" since 2.10, where
 * 2.15 adds a sixth token (the origin's identity) that is not compared; "<origin> <seq>" on
 * 2.9. */
static void source_header_expect(const struct source_header *header, const char *origin,
                                 uint64_t seq, const char *filter, const char *subject)
{
    char want[256];
    if (jst_reference_before(2, 10)) {
        snprintf(want, sizeof want, "%s %llu", origin, (unsigned long long)seq);
    } else {
        snprintf(want, sizeof want, "%s %llu %s > %s", origin, (unsigned long long)seq,
                 filter != NULL ? filter : ">", subject);
    }
    size_t length = strlen(want);
    bool same = strncmp(header->value, want, length) == 0 &&
                (header->value[length] == '\0' || header->value[length] == ' ');
    ck_assert_msg(same, "Nats-Stream-Source \"%s\", want \"%s\"", header->value, want);
}

/* ---- mirrors ---- */

/* A mirror of a stream: 10 messages published before it is created and 5 after are all in
 * it, at their origin's sequences with the origin's subject, payload, headers (less
 * Nats-Expected-Stream, which a copy must not check again) and timestamp; its INFO names the
 * origin, with lag 0 and no error, and its config has no subjects. */
START_TEST(test_source_mirror)
{
    jst_start(NULL);
    /* nats-server before 2.12 kept Nats-Expected-Stream in a mirror's copy and checked it
     * against the mirror's name, so the mirror stopped at the first such message */
    const char *expected_stream = jst_reference_before(2, 12) ? NULL : "ORIGIN";
    stream_make("ORIGIN", "orig.*", js_FileStorage);
    static const char *const subjects[] = {"orig.a", "orig.b", "orig.c"};
    for (uint64_t seq = 1; seq <= 15; seq++) {
        if (seq == 11) {
            jsStreamSource mirror = source_of("ORIGIN");
            mirror_make("MIRROR", &mirror, js_FileStorage);
        }
        char data[32];
        char id[32];
        char custom[32];
        snprintf(data, sizeof data, "payload %llu", (unsigned long long)seq);
        snprintf(id, sizeof id, "id-%llu", (unsigned long long)seq);
        snprintf(custom, sizeof custom, "custom %llu", (unsigned long long)seq);
        jsPubAck *ack = publish_headers(subjects[seq % 3], data, id, custom, expected_stream);
        ck_assert_uint_eq(ack->Sequence, seq);
        jsPubAck_Destroy(ack);
    }

    jsStreamInfo *info = state_wait("MIRROR", 15, 15, SOURCE_WAIT_MS);
    state_expect(info, 15, 1, 15, 0);
    ck_assert_int_eq(info->Config->SubjectsLen, 0);
    ck_assert_ptr_nonnull(info->Config->Mirror);
    ck_assert_str_eq(info->Config->Mirror->Name, "ORIGIN");
    ck_assert_ptr_nonnull(info->Mirror);
    ck_assert_str_eq(info->Mirror->Name, "ORIGIN");
    ck_assert_uint_eq(info->Mirror->Lag, 0);
    ck_assert_int_ge(info->Mirror->Active, 0);
    ck_assert_int_eq(info->SourcesLen, 0);
    jsStreamInfo_Destroy(info);
    source_healthy_expect("MIRROR", "ORIGIN");
    mirror_messages_expect("ORIGIN", "MIRROR", 1, 15, NULL);
    natsMsg *copy = jsc_msg_get(jst.js, "MIRROR", 7);
    const char *value = NULL;
    ck_assert_int_eq(natsMsgHeader_Get(copy, "Nats-Expected-Stream", &value), NATS_NOT_FOUND);
    ITEST_OK(natsMsgHeader_Get(copy, "Nats-Msg-Id", &value));
    ck_assert_str_eq(value, "id-7");
    natsMsg_Destroy(copy);
}
END_TEST

/* A mirror with a filter_subject: the matching messages only, each at its origin sequence;
 * the sequences between are gaps (num_deleted), a non-matching last message leaves the
 * mirror's last_seq at the last match, and later matches go on at their own sequences. */
START_TEST(test_source_mirror_filter)
{
    jst_start(NULL);
    stream_make("FO", "fo.*", js_FileStorage);
    static const char *const subjects[] = {"fo.a", "fo.b", "fo.c"};
    for (uint64_t seq = 1; seq <= 21; seq++) {
        publish_at(subjects[(seq - 1) % 3], seq); /* fo.b at 2, 5, ... 20 */
    }
    jsStreamSource mirror = source_of("FO");
    mirror.FilterSubject = "fo.b";
    mirror_make("MF", &mirror, js_FileStorage);
    state_wait_expect("MF", 7, 2, 20, 12);
    publish_at("fo.b", 22);
    jsStreamInfo *info = state_wait("MF", 8, 22, SOURCE_WAIT_MS);
    state_expect(info, 8, 2, 22, 13);
    ck_assert_int_eq(info->State.NumSubjects, 1);
    ck_assert_str_eq(info->Config->Mirror->FilterSubject, "fo.b");
    ck_assert_uint_eq(info->Mirror->Lag, 0);
    jsStreamInfo_Destroy(info);
    mirror_messages_expect("FO", "MF", 1, 22, "fo.b");
    source_healthy_expect("MF", "FO");
}
END_TEST

/* Mirrors from opt_start_seq, from opt_start_time (the stored time of an origin message), and
 * from a start sequence with a filter: each holds the origin's messages from there at the
 * origin's sequences, its first_seq the start, and goes on with later publishes. */
START_TEST(test_source_mirror_start)
{
    jst_start(NULL);
    stream_make("SO", "so.*", js_FileStorage);
    static const char *const subjects[] = {"so.a", "so.b", "so.c"};
    for (uint64_t seq = 1; seq <= 20; seq++) {
        publish_at(subjects[(seq - 1) % 3], seq); /* so.b at 2, 5, 8, ... 20 */
    }
    /* MTIME starts at the stored time of message 12, as the server wrote it: a raw create,
     * since libnats 3.4.1 writes opt_start_time's fraction without its leading zeros
     * (.012345678 s as .12345678 s, a later time) */
    json_t *got = jsc_request(jst.connection, "$JS.API.STREAM.MSG.GET.SO", "{\"seq\":12}", NULL);
    const char *twelfth_time =
        json_string_value(json_object_get(json_object_get(got, "message"), "time"));
    ck_assert_ptr_nonnull(twelfth_time);
    char body[256];
    snprintf(body, sizeof body,
             "{\"name\":\"MTIME\",\"mirror\":{\"name\":\"SO\",\"opt_start_time\":\"%s\"}}",
             twelfth_time);
    json_decref(got);
    json_t *created = jsc_request(jst.connection, "$JS.API.STREAM.CREATE.MTIME", body, NULL);
    ck_assert_msg(json_object_get(created, "error") == NULL, "create MTIME: %s", body);
    json_decref(created);

    jsStreamSource by_seq = source_of("SO");
    by_seq.OptStartSeq = 8;
    mirror_make("MSEQ", &by_seq, js_FileStorage);
    jsStreamSource filtered = source_of("SO");
    filtered.OptStartSeq = 8;
    filtered.FilterSubject = "so.b";
    mirror_make("MSEQF", &filtered, js_FileStorage);

    state_wait_expect("MSEQ", 13, 8, 20, 0);
    state_wait_expect("MTIME", 9, 12, 20, 0);
    state_wait_expect("MSEQF", 5, 8, 20, 8);
    mirror_messages_expect("SO", "MSEQ", 8, 20, NULL);
    mirror_messages_expect("SO", "MTIME", 12, 20, NULL);
    mirror_messages_expect("SO", "MSEQF", 8, 20, "so.b");
    jsc_msg_missing_expect(jst.js, "MSEQ", 7);
    jsc_msg_missing_expect(jst.js, "MTIME", 11);

    publish_at("so.c", 21);
    publish_at("so.b", 22);
    state_wait_expect("MSEQ", 15, 8, 22, 0);
    state_wait_expect("MTIME", 11, 12, 22, 0);
    state_wait_expect("MSEQF", 6, 8, 22, 9);
}
END_TEST

static void purge_below(const char *name, uint64_t seq)
{
    jsOptions options;
    ITEST_OK(jsOptions_Init(&options));
    options.Wait = JST_API_WAIT_MS;
    options.Stream.Purge.Sequence = seq;
    jsErrCode code = 0;
    natsStatus status = js_PurgeStream(jst.js, name, &options, &code);
    ck_assert_msg(status == NATS_OK, "purge %s below %llu: %s, err_code %d", name,
                  (unsigned long long)seq, natsStatus_GetText(status), (int)code);
}

static void delete_msg(const char *name, uint64_t seq)
{
    jsErrCode code = 0;
    natsStatus status = js_DeleteMsg(jst.js, name, seq, NULL, &code);
    ck_assert_msg(status == NATS_OK, "delete %s %llu: %s, err_code %d", name,
                  (unsigned long long)seq, natsStatus_GetText(status), (int)code);
}

/* Mirrors of origins that lost messages, with nats-server's states: purged below 6 and 3
 * deleted in the middle (the mirror starts at 6, the same 3 deleted); purged with its last
 * two deleted (the mirror ends at the last message it was given, and counts the two as
 * deleted once a later message arrives); purged entirely (first_seq past last_seq until the
 * next publish). */
START_TEST(test_source_mirror_purged)
{
    jst_start(NULL);
    stream_make("P", "p", js_FileStorage);
    for (uint64_t seq = 1; seq <= 20; seq++) {
        publish_at("p", seq);
    }
    purge_below("P", 6);
    delete_msg("P", 9);
    delete_msg("P", 10);
    delete_msg("P", 14);
    jsStreamInfo *info = jst_stream_info("P");
    state_expect(info, 12, 6, 20, 3);
    jsStreamInfo_Destroy(info);
    jsStreamSource mirror = source_of("P");
    mirror_make("MP", &mirror, js_FileStorage);
    state_wait_expect("MP", 12, 6, 20, 3);
    mirror_messages_expect("P", "MP", 1, 20, NULL);
    for (uint64_t seq = 21; seq <= 23; seq++) {
        publish_at("p", seq);
    }
    state_wait_expect("MP", 15, 6, 23, 3);

    stream_make("Q", "q", js_FileStorage);
    for (uint64_t seq = 1; seq <= 10; seq++) {
        publish_at("q", seq);
    }
    delete_msg("Q", 10);
    delete_msg("Q", 9);
    purge_below("Q", 4);
    info = jst_stream_info("Q");
    state_expect(info, 5, 4, 10, 2);
    jsStreamInfo_Destroy(info);
    mirror = source_of("Q");
    mirror_make("MQ", &mirror, js_FileStorage);
    state_wait_expect("MQ", 5, 4, 8, 0);
    publish_at("q", 11);
    state_wait_expect("MQ", 6, 4, 11, 2);
    mirror_messages_expect("Q", "MQ", 1, 11, NULL);

    stream_make("E", "e", js_FileStorage);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        publish_at("e", seq);
    }
    purge_below("E", 0); /* all */
    mirror = source_of("E");
    mirror_make("ME", &mirror, js_FileStorage);
    state_wait_expect("ME", 0, 6, 5, 0);
    publish_at("e", 6);
    state_wait_expect("ME", 1, 6, 6, 0);
    mirror_messages_expect("E", "ME", 6, 6, NULL);
}
END_TEST

/* A mirror created before its origin: its INFO shows the create error nats-server shows
 * (404, 10059 "stream not found"); once the origin exists the retry (about 10 s after the
 * first failure on both servers: the one slow case here) finds it, the mirror catches up and
 * the error is gone. */
START_TEST(test_source_mirror_late_origin)
{
    jst_start(NULL);
    jsStreamSource mirror = source_of("LATE");
    mirror_make("ML", &mirror, js_FileStorage);
    int64_t deadline = itest_now_ms() + SOURCE_WAIT_MS;
    for (;;) {
        json_t *root = info_json("ML");
        const json_t *error = json_object_get(source_json(root, "LATE"), "error");
        if (error != NULL) {
            jsc_error_expect("mirror of a missing stream", error, 404, JSStreamNotFoundErr,
                             "stream not found");
            json_decref(root);
            break;
        }
        json_decref(root);
        ck_assert_msg(itest_now_ms() < deadline, "no mirror error within %d ms", SOURCE_WAIT_MS);
        jsc_pause_ms(SOURCE_POLL_MS);
    }
    int64_t created_ms = itest_now_ms();
    stream_make("LATE", "late", js_FileStorage);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        publish_at("late", seq);
    }
    jsStreamInfo *info = state_wait("ML", 3, 3, SOURCE_RETRY_WAIT_MS);
    state_expect(info, 3, 1, 3, 0);
    jsStreamInfo_Destroy(info);
    fprintf(stderr, "mirror_late_origin: caught up %lld ms after the origin was created\n",
            (long long)(itest_now_ms() - created_ms));
    source_healthy_expect("ML", "LATE");
    mirror_messages_expect("LATE", "ML", 1, 3, NULL);
}
END_TEST

/* A mirror's mirror_direct is its origin's allow_direct, whatever the create request said
 * (nats-server's checkStreamCfg sets it so). */
START_TEST(test_source_mirror_direct)
{
    jst_start(NULL);
    const char *subjects[] = {"dir"};
    jsStreamConfig config;
    jst_config(&config, "DIRECT", subjects, 1);
    config.AllowDirect = true;
    jst_stream_add(&config);
    stream_make("PLAIN", "plain", js_FileStorage);
    publish_at("dir", 1);
    publish_at("plain", 1);

    jsStreamSource of_direct = source_of("DIRECT");
    mirror_make("MD", &of_direct, js_FileStorage);
    jst_config(&config, "MP", NULL, 0);
    jsStreamSource of_plain = source_of("PLAIN");
    config.Mirror = &of_plain;
    config.MirrorDirect = true;
    jst_stream_add(&config);
    jsStreamInfo *info = state_wait("MD", 1, 1, SOURCE_WAIT_MS);
    ck_assert(info->Config->MirrorDirect);
    ck_assert(!info->Config->AllowDirect);
    jsStreamInfo_Destroy(info);
    info = state_wait("MP", 1, 1, SOURCE_WAIT_MS);
    ck_assert(!info->Config->MirrorDirect);
    jsStreamInfo_Destroy(info);
    mirror_messages_expect("DIRECT", "MD", 1, 1, NULL);
}
END_TEST

/* ---- sources ---- */

/* What a source stream is expected to hold of one origin message. */
struct source_want {
    const char *origin;
    uint64_t seq;
    const char *filter;
    bool seen;
};

/* The origins a source stream copies from, in sources_walk. */
enum { SOURCE_ORIGINS_MAX = 4 };

/* Walks source stream `name` from 1 to `last_seq`: each copy is one of `wants` (not seen
 * before, in origin order per origin), equal to its origin message with nats-server's
 * header; the others are the stream's own publishes, counted in `local_count`. */
static void sources_walk(const char *name, uint64_t last_seq, struct source_want *wants,
                         size_t want_count, int *local_count)
{
    const char *origins[SOURCE_ORIGINS_MAX] = {NULL};
    uint64_t last_origin_seq[SOURCE_ORIGINS_MAX] = {0};
    *local_count = 0;
    for (uint64_t seq = 1; seq <= last_seq; seq++) {
        natsMsg *copy = jsc_msg_get(jst.js, name, seq);
        struct source_header header;
        if (!source_header_get(copy, &header)) {
            (*local_count)++;
            natsMsg_Destroy(copy);
            continue;
        }
        struct source_want *want = NULL;
        for (size_t i = 0; i < want_count; i++) {
            if (strcmp(wants[i].origin, header.origin) == 0 && wants[i].seq == header.seq) {
                want = &wants[i];
            }
        }
        ck_assert_msg(want != NULL, "%s %llu: an unexpected copy (%s)", name,
                      (unsigned long long)seq, header.value);
        ck_assert_msg(!want->seen, "%s %llu: a second copy (%s)", name, (unsigned long long)seq,
                      header.value);
        want->seen = true;
        size_t origin = 0;
        while (origins[origin] != NULL && strcmp(origins[origin], want->origin) != 0) {
            origin++;
            ck_assert_uint_lt(origin, SOURCE_ORIGINS_MAX);
        }
        origins[origin] = want->origin;
        ck_assert_msg(header.seq > last_origin_seq[origin], "%s %llu: %s out of order", name,
                      (unsigned long long)seq, header.value);
        last_origin_seq[origin] = header.seq;
        natsMsg *original = jsc_msg_get(jst.js, want->origin, want->seq);
        copy_expect(original, copy, false);
        source_header_expect(&header, want->origin, want->seq, want->filter,
                             natsMsg_GetSubject(original));
        natsMsg_Destroy(original);
        natsMsg_Destroy(copy);
    }
}

/* Publishes `data` with Nats-Msg-Id `id` and returns its sequence (a new message). */
static uint64_t publish_id(const char *subject, const char *data, const char *id)
{
    jsPubAck *ack = publish_headers(subject, data, id, NULL, NULL);
    ck_assert(!ack->Duplicate);
    uint64_t seq = ack->Sequence;
    jsPubAck_Destroy(ack);
    return seq;
}

/* A stream with a subject of its own and two sources, one filtered: the copies of both
 * origins (A whole, B's b.1 only) carry nats-server's Nats-Stream-Source and arrive in each
 * origin's order, interleaved with each other and with the stream's own publishes, without
 * a Nats-Expected-Stream of their origin (nats-server 2.11 and later drop it); a Nats-Msg-Id
 * both origins hold is stored once within the stream's duplicate window (2.14 and later:
 * before, the duplicate stalled the source until the window passed, nats-server issue
 * 4459); INFO lists both sources, caught up, without an error. */
START_TEST(test_source_sources)
{
    jst_start(NULL);
    bool dup = !jst_reference_before(2, 14);
    const char *expected_stream = jst_reference_before(2, 11) ? NULL : "A";
    stream_make("A", "a.*", js_FileStorage);
    stream_make("B", "b.*", js_FileStorage);
    jsPubAck *ack = publish_headers("a.x", "a0", "a0", "first", expected_stream);
    ck_assert_uint_eq(ack->Sequence, 1);
    jsPubAck_Destroy(ack);
    ck_assert_uint_eq(publish_id("a.y", "a1", "a1"), 2);
    ck_assert_uint_eq(publish_id("a.x", "a2", "a2"), 3);
    for (uint64_t seq = 1; seq <= 4; seq++) {
        char data[8];
        snprintf(data, sizeof data, "b%llu", (unsigned long long)seq);
        ck_assert_uint_eq(publish_id(seq % 2 ? "b.0" : "b.1", data, data), seq);
    }
    ck_assert_uint_eq(publish_id("a.x", "dup from A", dup ? "dup" : "not dup A"), 4);
    ck_assert_uint_eq(publish_id("b.1", "dup from B", dup ? "dup" : "not dup B"), 5);

    const char *subjects[] = {"own"};
    jsStreamConfig config;
    jst_config(&config, "S", subjects, 1);
    jsStreamSource source_a = source_of("A");
    jsStreamSource source_b = source_of("B");
    source_b.FilterSubject = "b.1";
    jsStreamSource *sources[] = {&source_a, &source_b};
    config.Sources = sources;
    config.SourcesLen = 2;
    config.Duplicates = SOURCE_DUPLICATES_NS;
    jst_stream_add(&config);

    /* A 1-4 and B 2, 4, 5, less one of the two "dup" */
    uint64_t copies = dup ? 6 : 7;
    jsStreamInfo_Destroy(state_wait("S", copies, copies, SOURCE_WAIT_MS));
    /* the copies held one "dup": the other is dropped, not stored after this */
    jst_publish("own", "local 1", 7, copies + 1);
    ck_assert_uint_eq(publish_id("a.y", "a9", NULL), 5);
    ck_assert_uint_eq(publish_id("b.1", "b9", NULL), 6);
    ck_assert_uint_eq(publish_id("b.0", "b10", NULL), 7);
    jst_publish("own", "local 2", 7, 0);
    uint64_t total = copies + 4;
    jsStreamInfo *info = state_wait("S", total, total, SOURCE_WAIT_MS);
    state_expect(info, total, 1, total, 0);
    ck_assert_int_eq(info->SourcesLen, 2);
    bool named[2] = {false, false};
    for (int i = 0; i < info->SourcesLen; i++) {
        const jsStreamSourceInfo *source = info->Sources[i];
        int index = strcmp(source->Name, "A") == 0 ? 0 : strcmp(source->Name, "B") == 0 ? 1 : -1;
        ck_assert_msg(index >= 0 && !named[index], "source %s", source->Name);
        named[index] = true;
        ck_assert_uint_eq(source->Lag, 0);
        ck_assert_int_ge(source->Active, 0);
    }
    ck_assert_ptr_null(info->Mirror);
    jsStreamInfo_Destroy(info);
    source_healthy_expect("S", "A");
    source_healthy_expect("S", "B");
    if (!jst_reference_before(2, 10)) { /* 2.9 does not show a source's filter */
        json_t *root = info_json("S");
        const char *filter =
            json_string_value(json_object_get(source_json(root, "B"), "filter_subject"));
        ck_assert_msg(filter != NULL && strcmp(filter, "b.1") == 0, "B's filter_subject %s",
                      filter ? filter : "(none)");
        json_decref(root);
    }

    struct source_want wants[] = {
        {"A", 1, NULL, false}, {"A", 2, NULL, false},  {"A", 3, NULL, false},
        {"A", 4, NULL, false}, {"A", 5, NULL, false},  {"B", 2, "b.1", false},
        {"B", 4, "b.1", false}, {"B", 5, "b.1", false}, {"B", 6, "b.1", false},
    };
    enum { DUP_A = 3, DUP_B = 7 };
    int local_count = 0;
    sources_walk("S", total, wants, sizeof wants / sizeof wants[0], &local_count);
    ck_assert_int_eq(local_count, 2);
    if (dup) {
        /* the one kept is whichever origin's copy came first */
        ck_assert_msg(wants[DUP_A].seen != wants[DUP_B].seen, "dup from A %s, from B %s",
                      wants[DUP_A].seen ? "kept" : "dropped",
                      wants[DUP_B].seen ? "kept" : "dropped");
    }
    for (size_t i = 0; i < sizeof wants / sizeof wants[0]; i++) {
        ck_assert_msg(wants[i].seen || (dup && (i == DUP_A || i == DUP_B)), "no copy of %s %llu",
                      wants[i].origin, (unsigned long long)wants[i].seq);
    }
}
END_TEST

/* A stream with sources and no duplicate_window has none since nats-server 2.14 (its config
 * shows none, and a repeated Nats-Msg-Id, from two origins or published to it twice, is
 * stored every time); 2.9 to 2.13 gave it the 2-minute default. */
START_TEST(test_source_dedupe_default)
{
    jst_start(NULL);
    if (jst_reference_before(2, 14)) {
        fprintf(stderr, "test_source_dedupe_default: left out (the reference is older than "
                        "nats-server 2.14)\n");
        jst_stop();
        return;
    }
    stream_make("DA", "da", js_FileStorage);
    stream_make("DB", "db", js_FileStorage);
    publish_id("da", "from A", "same");
    publish_id("db", "from B", "same");
    const char *subjects[] = {"dd"};
    jsStreamConfig config;
    jst_config(&config, "DD", subjects, 1);
    jsStreamSource source_a = source_of("DA");
    jsStreamSource source_b = source_of("DB");
    jsStreamSource *sources[] = {&source_a, &source_b};
    config.Sources = sources;
    config.SourcesLen = 2;
    jst_stream_add(&config);
    jsStreamInfo *info = state_wait("DD", 2, 2, SOURCE_WAIT_MS);
    ck_assert_int_eq(info->Config->Duplicates, 0);
    jsStreamInfo_Destroy(info);
    ck_assert_uint_eq(publish_id("dd", "own 1", "again"), 3);
    ck_assert_uint_eq(publish_id("dd", "own 2", "again"), 4);
}
END_TEST

/* ---- restarts, storage types, the large catch-up ---- */

/* Restarted on the same store, a mirror and a source of the same origin go on with what the
 * origin gets afterwards, the mirror at the origin's sequences, the source with each origin
 * sequence exactly once, in order, after its own publish: once stopped with SIGTERM when
 * both had caught up, once killed (SIGKILL) right after 10 more publishes, while their
 * copies may still be on the way. */
START_TEST(test_source_restart)
{
    jst_start(NULL);
    stream_make("RO", "ro.*", js_FileStorage);
    jsStreamSource mirror = source_of("RO");
    mirror_make("RM", &mirror, js_FileStorage);
    const char *subjects[] = {"rs"};
    jsStreamConfig config;
    jst_config(&config, "RS", subjects, 1);
    jsStreamSource source = source_of("RO");
    jsStreamSource *sources[] = {&source};
    config.Sources = sources;
    config.SourcesLen = 1;
    jst_stream_add(&config);
    for (uint64_t seq = 1; seq <= 10; seq++) {
        publish_at(seq % 2 ? "ro.odd" : "ro.even", seq);
    }
    state_wait_expect("RM", 10, 1, 10, 0);
    state_wait_expect("RS", 10, 1, 10, 0);
    jst_publish("rs", "own", 3, 11);

    jst_stop();
    jst_restart();
    for (uint64_t seq = 11; seq <= 20; seq++) {
        publish_at(seq % 2 ? "ro.odd" : "ro.even", seq);
    }
    state_wait_expect("RM", 20, 1, 20, 0);
    state_wait_expect("RS", 21, 1, 21, 0);
    for (uint64_t seq = 21; seq <= 30; seq++) {
        publish_at(seq % 2 ? "ro.odd" : "ro.even", seq);
    }
    jst_kill();
    jst_restart();
    /* one more, so that what is waited for was copied after the restart: nats-server 2.9.10
     * may start a mirror before its origin is recovered, and ask again (with an error in its
     * info until then) about 2 s later */
    publish_at("ro.odd", 31);
    state_wait_expect("RM", 31, 1, 31, 0);
    state_wait_expect("RS", 32, 1, 32, 0);
    mirror_messages_expect("RO", "RM", 1, 31, NULL);
    struct source_want wants[31];
    for (uint64_t seq = 1; seq <= 31; seq++) {
        wants[seq - 1] = (struct source_want){"RO", seq, NULL, false};
    }
    int local_count = 0;
    sources_walk("RS", 32, wants, 31, &local_count);
    ck_assert_int_eq(local_count, 1);
    for (size_t i = 0; i < 31; i++) {
        ck_assert_msg(wants[i].seen, "RS has no copy of RO %zu", i + 1);
    }
    natsMsg *own = jsc_msg_get(jst.js, "RS", 11);
    ck_assert_str_eq(natsMsg_GetSubject(own), "rs");
    natsMsg_Destroy(own);
    source_healthy_expect("RM", "RO");
    source_healthy_expect("RS", "RO");
}
END_TEST

/* Memory and file storage mixed: a file stream sourcing a memory origin, and a memory mirror
 * of a file origin. */
START_TEST(test_source_memory)
{
    jst_start(NULL);
    stream_make("MEMO", "memo", js_MemoryStorage);
    stream_make("FILEO", "fileo", js_FileStorage);
    const char *subjects[] = {"fs"};
    jsStreamConfig config;
    jst_config(&config, "FS", subjects, 1);
    jsStreamSource source = source_of("MEMO");
    jsStreamSource *sources[] = {&source};
    config.Sources = sources;
    config.SourcesLen = 1;
    jst_stream_add(&config);
    jsStreamSource mirror = source_of("FILEO");
    mirror_make("MEMM", &mirror, js_MemoryStorage);
    for (uint64_t seq = 1; seq <= 8; seq++) {
        publish_at("memo", seq);
        publish_at("fileo", seq);
    }
    jsStreamInfo *info = state_wait("FS", 8, 8, SOURCE_WAIT_MS);
    state_expect(info, 8, 1, 8, 0);
    ck_assert_int_eq(info->Config->Storage, js_FileStorage);
    jsStreamInfo_Destroy(info);
    info = state_wait("MEMM", 8, 8, SOURCE_WAIT_MS);
    state_expect(info, 8, 1, 8, 0);
    ck_assert_int_eq(info->Config->Storage, js_MemoryStorage);
    jsStreamInfo_Destroy(info);
    mirror_messages_expect("FILEO", "MEMM", 1, 8, NULL);
    struct source_want wants[8];
    for (uint64_t seq = 1; seq <= 8; seq++) {
        wants[seq - 1] = (struct source_want){"MEMO", seq, NULL, false};
    }
    int local_count = 0;
    sources_walk("FS", 8, wants, 8, &local_count);
    ck_assert_int_eq(local_count, 0);
}
END_TEST

/* A mirror catching up with 20,000 messages of 1 KiB: more than the origin's consumer sends
 * before it asks for flow control (half of its first 4 MiB window), so the mirror must answer
 * it; all arrive within SOURCE_BULK_WAIT_MS, the same bytes at the same sequences. */
START_TEST(test_source_mirror_bulk)
{
    jst_start(NULL);
    stream_make("BULK", "bulk", js_FileStorage);
    jsOptions options;
    ITEST_OK(jsOptions_Init(&options));
    options.Wait = JST_API_WAIT_MS;
    options.PublishAsync.MaxPending = SOURCE_BULK_MAX_PENDING;
    options.PublishAsync.StallWait = ITEST_WAIT_MS;
    jsCtx *js = NULL;
    ITEST_OK(natsConnection_JetStream(&js, jst.connection, &options));
    static unsigned char data[SOURCE_BULK_SIZE];
    for (uint64_t seq = 1; seq <= SOURCE_BULK_COUNT; seq++) {
        itest_payload_fill(data, sizeof data, seq);
        ITEST_OK(js_PublishAsync(js, "bulk", data, sizeof data, NULL));
    }
    jsPubOptions complete;
    ITEST_OK(jsPubOptions_Init(&complete));
    complete.MaxWait = 4 * ITEST_WAIT_MS;
    ITEST_OK(js_PublishAsyncComplete(js, &complete));
    jsCtx_Destroy(js);
    jsStreamInfo *origin = jst_stream_info("BULK");
    state_expect(origin, SOURCE_BULK_COUNT, 1, SOURCE_BULK_COUNT, 0);

    int64_t start_ms = itest_now_ms();
    jsStreamSource mirror = source_of("BULK");
    mirror_make("MBULK", &mirror, js_FileStorage);
    jsStreamInfo *info =
        state_wait("MBULK", SOURCE_BULK_COUNT, SOURCE_BULK_COUNT, SOURCE_BULK_WAIT_MS);
    int64_t took_ms = itest_now_ms() - start_ms;
    fprintf(stderr, "mirror_bulk: %d messages of %d bytes mirrored in %lld ms\n",
            SOURCE_BULK_COUNT, SOURCE_BULK_SIZE, (long long)took_ms);
    state_expect(info, SOURCE_BULK_COUNT, 1, SOURCE_BULK_COUNT, 0);
    ck_assert_uint_eq(info->State.Bytes, origin->State.Bytes);
    ck_assert_uint_eq(info->Mirror->Lag, 0);
    jsStreamInfo_Destroy(info);
    jsStreamInfo_Destroy(origin);
    static const uint64_t checked[] = {1, 2, 4096, SOURCE_BULK_COUNT / 2, SOURCE_BULK_COUNT - 1,
                                       SOURCE_BULK_COUNT};
    for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++) {
        natsMsg *want = jsc_msg_get(jst.js, "BULK", checked[i]);
        natsMsg *got = jsc_msg_get(jst.js, "MBULK", checked[i]);
        ck_assert(itest_payload_check(natsMsg_GetData(got), (size_t)natsMsg_GetDataLength(got),
                                      checked[i]));
        copy_expect(want, got, true);
        natsMsg_Destroy(want);
        natsMsg_Destroy(got);
    }
    source_healthy_expect("MBULK", "BULK");
}
END_TEST

/* ---- refusals ---- */

/* nats-server's errors for mirrors: a mirror with subjects (10034) or with sources too
 * (10031) is not created, nor made by an update; a mirror has no subjects, so a publish to
 * its name finds no stream; its mirror config cannot be changed (10055); removing it promotes
 * the mirror to a stream of its own (nats-server 2.12 and later; refused with 10055 before). */
START_TEST(test_source_mirror_refused)
{
    jst_start(NULL);
    stream_make("RO", "ro", js_FileStorage);
    stream_make("OTHER", "other", js_FileStorage);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        publish_at("ro", seq);
    }
    json_t *root = jsc_request(jst.connection, "$JS.API.STREAM.CREATE.BAD",
                               "{\"name\":\"BAD\",\"subjects\":[\"bad\"],\"mirror\":{\"name\":"
                               "\"RO\"}}",
                               NULL);
    jsc_error_expect("mirror with subjects", json_object_get(root, "error"), 400,
                     JSMirrorWithSubjectsErr, "stream mirrors can not contain subjects");
    json_decref(root);
    root = jsc_request(jst.connection, "$JS.API.STREAM.CREATE.BAD",
                       "{\"name\":\"BAD\",\"mirror\":{\"name\":\"RO\"},\"sources\":[{\"name\":"
                       "\"OTHER\"}]}",
                       NULL);
    jsc_error_expect("mirror with sources", json_object_get(root, "error"), 400,
                     JSMirrorWithSourcesErr, "stream mirrors can not also contain other sources");
    json_decref(root);
    jsStreamInfo *info = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetStreamInfo(&info, jst.js, "BAD", NULL, &code);
    jst_expect_error("info of the refused mirror", status, code, JSStreamNotFoundErr);

    jsStreamSource mirror = source_of("RO");
    mirror_make("M", &mirror, js_FileStorage);
    info = state_wait("M", 3, 3, SOURCE_WAIT_MS);
    ck_assert_int_eq(info->Config->SubjectsLen, 0);
    jsStreamInfo_Destroy(info);
    jsPubAck *ack = NULL;
    status = js_Publish(&ack, jst.js, "M", "x", 1, NULL, &code);
    ck_assert_msg(status == NATS_NO_RESPONDERS, "publish to the mirror's name: %s",
                  natsStatus_GetText(status));

    jsStreamConfig config;
    jst_config(&config, "M", NULL, 0);
    jsStreamSource changed = source_of("RO");
    changed.FilterSubject = "ro";
    config.Mirror = &changed;
    status = js_UpdateStream(&info, jst.js, &config, NULL, &code);
    jst_expect_error("update of the mirror's filter", status, code,
                     JSStreamMirrorNotUpdatableErr);
    changed = source_of("OTHER");
    status = js_UpdateStream(&info, jst.js, &config, NULL, &code);
    jst_expect_error("update of the mirror's origin", status, code,
                     JSStreamMirrorNotUpdatableErr);
    root = jsc_request(jst.connection, "$JS.API.STREAM.UPDATE.M",
                       "{\"name\":\"M\",\"mirror\":{\"name\":\"RO\"},\"subjects\":[\"m\"]}", NULL);
    jsc_error_expect("update adding subjects", json_object_get(root, "error"), 400,
                     JSMirrorWithSubjectsErr, "stream mirrors can not contain subjects");
    json_decref(root);
    root = jsc_request(jst.connection, "$JS.API.STREAM.UPDATE.M",
                       "{\"name\":\"M\",\"mirror\":{\"name\":\"RO\",\"filter_subject\":\"ro\"}}",
                       NULL);
    jsc_error_expect("update of the filter", json_object_get(root, "error"), 400,
                     JSStreamMirrorNotUpdatableErr,
                     "stream mirror configuration can not be updated");
    json_decref(root);
    root = jsc_request(jst.connection, "$JS.API.STREAM.UPDATE.RO",
                       "{\"name\":\"RO\",\"subjects\":[\"ro\"],\"mirror\":{\"name\":\"OTHER\"}}",
                       NULL);
    jsc_error_expect("update making a stream a mirror", json_object_get(root, "error"), 400,
                     JSMirrorWithSubjectsErr, "stream mirrors can not contain subjects");
    json_decref(root);

    info = jst_stream_info("M");
    ck_assert_ptr_nonnull(info->Config->Mirror);
    ck_assert_str_eq(info->Config->Mirror->Name, "RO");
    ck_assert_ptr_null(info->Config->Mirror->FilterSubject);
    jsStreamInfo_Destroy(info);

    jst_config(&config, "M", NULL, 0);
    status = js_UpdateStream(&info, jst.js, &config, NULL, &code);
    if (jst_reference_before(2, 12)) {
        jst_expect_error("removing the mirror", status, code, JSStreamMirrorNotUpdatableErr);
        return;
    }
    ck_assert_msg(status == NATS_OK, "promoting the mirror: %s, err_code %d (%s)",
                  natsStatus_GetText(status), (int)code, itest_last_error());
    ck_assert_ptr_null(info->Config->Mirror);
    ck_assert_int_eq(info->Config->SubjectsLen, 1);
    ck_assert_str_eq(info->Config->Subjects[0], "M");
    jsStreamInfo_Destroy(info);
    jst_publish("M", "own", 3, 4);
    info = jst_stream_info("M");
    ck_assert_ptr_null(info->Mirror);
    ck_assert_uint_eq(info->State.LastSeq, 4);
    jsStreamInfo_Destroy(info);
}
END_TEST

/* A $JS.API request whose Nats-Required-Api-Level asks for more than the server's level is
 * refused with 412/10185 and not carried out, as is one whose level is not a number; level
 * 1 or below is served (ionats's JS_API_LEVEL is 1; nats-server 2.15.1's 5), and $JS.API.INFO
 * says the server's level (ionats: 1). nats-server reads the header since 2.12. */
START_TEST(test_source_api_level)
{
    jst_start(NULL);
    if (jst_reference_before(2, 12)) {
        fprintf(stderr, "test_source_api_level: left out (the reference is older than "
                        "nats-server 2.12)\n");
        jst_stop();
        return;
    }
    static const char *const refused[] = {"99", "abc"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        json_t *root = jsc_request(jst.connection, "$JS.API.INFO", "", refused[i]);
        char what[64];
        snprintf(what, sizeof what, "INFO at level %s", refused[i]);
        jsc_error_expect(what, json_object_get(root, "error"), 412, SOURCE_API_LEVEL_ERR,
                         "JetStream minimum api level required");
        json_decref(root);
    }
    json_t *root =
            jsc_request(jst.connection, "$JS.API.STREAM.CREATE.LV", "{\"name\":\"LV\"}", "99");
    jsc_error_expect("CREATE at level 99", json_object_get(root, "error"), 412,
                     SOURCE_API_LEVEL_ERR, "JetStream minimum api level required");
    json_decref(root);
    jsStreamInfo *info = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetStreamInfo(&info, jst.js, "LV", NULL, &code);
    jst_expect_error("info of the refused stream", status, code, JSStreamNotFoundErr);

    static const char *const served[] = {"1", "0", "-1"};
    for (size_t i = 0; i < sizeof served / sizeof served[0]; i++) {
        root = jsc_request(jst.connection, "$JS.API.INFO", "", served[i]);
        ck_assert_msg(json_object_get(root, "error") == NULL, "INFO at level %s refused",
                      served[i]);
        ck_assert_ptr_nonnull(json_object_get(root, "limits"));
        json_int_t level = json_integer_value(json_object_get(json_object_get(root, "api"),
                                                              "level"));
        ck_assert_int_ge(level, 1);
        if (!test_server_reference()) {
            ck_assert_int_eq(level, 1);
        }
        json_decref(root);
    }
    root = jsc_request(jst.connection, "$JS.API.STREAM.CREATE.LV", "{\"name\":\"LV\"}", "0");
    ck_assert_ptr_null(json_object_get(root, "error"));
    json_decref(root);
    info = jst_stream_info("LV");
    jsStreamInfo_Destroy(info);
}
END_TEST

/* What ionats does not do yet for mirrors and sources is refused at create, with its reason
 * (10049 "... are not supported by this server yet"), and nothing is created: a durable
 * consumer (2.14's "consumer" of a source or mirror). nats-server takes it: ionats only. */
START_TEST(test_source_unsupported)
{
    if (test_server_reference()) {
        return;
    }
    jst_start(NULL);
    stream_make("UO", "uo.*", js_FileStorage);
    static const struct {
        const char *body;
        const char *description;
    } cases[] = {
        {"{\"name\":\"U\",\"sources\":[{\"name\":\"UO\",\"consumer\":{\"name\":\"DUR\","
         "\"deliver_subject\":\"dur.deliver\"}}]}",
         "durable consumers of mirrors and sources (2.14) are not supported by this server yet"},
        {"{\"name\":\"U\",\"mirror\":{\"name\":\"UO\",\"consumer\":{\"name\":\"DUR\","
         "\"deliver_subject\":\"dur.deliver\"}}}",
         "durable consumers of mirrors and sources (2.14) are not supported by this server yet"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *root = jsc_request(jst.connection, "$JS.API.STREAM.CREATE.U", cases[i].body, NULL);
        jsc_error_expect(cases[i].body, json_object_get(root, "error"), 500,
                         SOURCE_STREAM_CREATE_ERR, cases[i].description);
        json_decref(root);
        jsStreamInfo *info = NULL;
        jsErrCode code = 0;
        natsStatus status = js_GetStreamInfo(&info, jst.js, "U", NULL, &code);
        jst_expect_error("info of the refused stream", status, code, JSStreamNotFoundErr);
    }
}
END_TEST

TCase *jst_source_tcase(void)
{
    TCase *tcase = jst_tcase("source");
    tcase_add_test(tcase, test_source_mirror);
    tcase_add_test(tcase, test_source_mirror_filter);
    tcase_add_test(tcase, test_source_mirror_start);
    tcase_add_test(tcase, test_source_mirror_purged);
    tcase_add_test(tcase, test_source_mirror_late_origin);
    tcase_add_test(tcase, test_source_mirror_direct);
    tcase_add_test(tcase, test_source_sources);
    tcase_add_test(tcase, test_source_dedupe_default);
    tcase_add_test(tcase, test_source_restart);
    tcase_add_test(tcase, test_source_memory);
    tcase_add_test(tcase, test_source_mirror_bulk);
    tcase_add_test(tcase, test_source_mirror_refused);
    tcase_add_test(tcase, test_source_api_level);
    tcase_add_test(tcase, test_source_unsupported);
    return tcase;
}
