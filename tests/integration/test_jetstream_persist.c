/* JetStream persistence: a broker stopped with SIGTERM, or killed with SIGKILL, then started
 * again on the same store directory, has its streams with their configs and every acked
 * message byte for byte (subject, headers, payload, time), its deletes and its dedupe window,
 * and the next publish gets the next sequence. A kill while publishes are in flight loses
 * no acked message and leaves no hole. See test_jetstream.c for the whole suite.
 *
 * The messages come from one generator (message i is stored at sequence i + 1: one
 * publisher, in order), so a check needs no copy of what was sent. Test thread only, except
 * the ack handler (libnats's thread), which writes only persist_acks. */
#include "tests/integration/test_jetstream.h"
#include "tests/integration/jst_common.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages of the SIGTERM and SIGKILL runs; sizes 0..~3 KB, a 64 KiB one every 100, so a
 * run spans several store blocks of either broker without taking long under ASan. */
enum { PERSIST_MESSAGES = 400, PERSIST_LARGE_EVERY = 100, PERSIST_LARGE_SIZE = 64 * 1024 };
/* The in-flight kill: the broker is killed once this many publishes were sent, while up to
 * PERSIST_MAX_PENDING are still waiting for their acks. */
enum { PERSIST_KILL_AFTER = 1500, PERSIST_MAX_PENDING = 256 };
/* The duplicate window of the stream (long enough to outlive a restart). */
#define PERSIST_DUPLICATES_NS (600LL * 1000000000LL)

/* ---- the messages ---- */

static void persist_subject(char *subject, size_t size, uint64_t index)
{
    if (index % 11 == 0) {
        snprintf(subject, size, "per.deep.%llu", (unsigned long long)index);
    } else {
        snprintf(subject, size, "per.%llu", (unsigned long long)(index % 5));
    }
}

/* Message 0 is empty; the others have at least the 8 bytes that carry their index, which
 * the ack handler reads back. */
static size_t persist_size(uint64_t index)
{
    if (index == 0) {
        return 0;
    }
    if (index % PERSIST_LARGE_EVERY == PERSIST_LARGE_EVERY / 2) {
        return PERSIST_LARGE_SIZE;
    }
    return 8 + (size_t)((index * 97) % 3000);
}

static bool persist_has_header(uint64_t index)
{
    return index % 10 == 3;
}

static bool persist_has_id(uint64_t index)
{
    return index % 25 == 0;
}

static natsMsg *persist_msg(uint64_t index, unsigned char *data)
{
    char subject[64];
    persist_subject(subject, sizeof subject, index);
    size_t size = persist_size(index);
    itest_payload_fill(data, size, index);
    natsMsg *msg = NULL;
    ITEST_OK(natsMsg_Create(&msg, subject, NULL, (const char *)data, (int)size));
    if (persist_has_header(index)) {
        char value[32];
        snprintf(value, sizeof value, "%llu", (unsigned long long)index);
        ITEST_OK(natsMsgHeader_Set(msg, "X-Index", value));
    }
    return msg;
}

static void persist_id(char *id, size_t size, uint64_t index)
{
    snprintf(id, size, "id-%llu", (unsigned long long)index);
}

/* Fails the test unless the stream holds message `index` at sequence index + 1 exactly. */
static void persist_check(const char *stream, uint64_t index)
{
    uint64_t seq = index + 1;
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetMsg(&msg, jst.js, stream, seq, NULL, &code);
    ck_assert_msg(status == NATS_OK, "get %s %llu: %s, err_code %d", stream,
                  (unsigned long long)seq, natsStatus_GetText(status), (int)code);
    char subject[64];
    persist_subject(subject, sizeof subject, index);
    ck_assert_str_eq(natsMsg_GetSubject(msg), subject);
    ck_assert_uint_eq(natsMsg_GetSequence(msg), seq);
    size_t size = (size_t)natsMsg_GetDataLength(msg);
    ck_assert_msg(size == persist_size(index) &&
                      itest_payload_check(natsMsg_GetData(msg), size, index),
                  "seq %llu: %zu bytes, not the %zu published", (unsigned long long)seq, size,
                  persist_size(index));
    const char *value = NULL;
    status = natsMsgHeader_Get(msg, "X-Index", &value);
    if (persist_has_header(index)) {
        ck_assert_int_eq(status, NATS_OK);
        ck_assert_uint_eq(strtoull(value, NULL, 10), index);
    } else {
        ck_assert_int_eq(status, NATS_NOT_FOUND);
    }
    status = natsMsgHeader_Get(msg, "Nats-Msg-Id", &value);
    if (persist_has_id(index)) {
        char id[32];
        persist_id(id, sizeof id, index);
        ck_assert_int_eq(status, NATS_OK);
        ck_assert_str_eq(value, id);
    } else {
        ck_assert_int_eq(status, NATS_NOT_FOUND);
    }
    natsMsg_Destroy(msg);
}

/* ---- publishing ---- */

/* What the acks said, written by libnats's ack thread under acked.lock. */
struct persist_acks {
    struct itest_counter acked; /* acks and failures */
    long errors;
    long mismatches;  /* acked at another sequence than index + 1 */
    uint64_t seq_max; /* the highest sequence acked */
    bool acked_index[PERSIST_KILL_AFTER];
};

static struct persist_acks persist_acks; /* static: late callbacks */

static void persist_ack(jsCtx *js, natsMsg *msg, jsPubAck *ack, jsPubAckErr *error, void *closure)
{
    (void)js;
    (void)error;
    struct persist_acks *acks = closure;
    uint64_t index = itest_payload_seq(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    pthread_mutex_lock(&acks->acked.lock);
    if (ack == NULL) {
        acks->errors++;
    } else if (ack->Sequence != index + 1 || ack->Duplicate || index >= PERSIST_KILL_AFTER) {
        acks->mismatches++;
    } else {
        acks->acked_index[index] = true;
        acks->seq_max = ack->Sequence > acks->seq_max ? ack->Sequence : acks->seq_max;
    }
    pthread_mutex_unlock(&acks->acked.lock);
    natsMsg_Destroy(msg);
    itest_counter_add(&acks->acked, 1);
}

/* A context whose async acks go to persist_acks (reset here). */
static jsCtx *persist_context(void)
{
    memset(&persist_acks, 0, sizeof persist_acks);
    itest_counter_init(&persist_acks.acked);
    jsOptions options;
    ITEST_OK(jsOptions_Init(&options));
    options.Wait = JST_API_WAIT_MS;
    options.PublishAsync.MaxPending = PERSIST_MAX_PENDING;
    options.PublishAsync.StallWait = ITEST_WAIT_MS;
    options.PublishAsync.AckHandler = persist_ack;
    options.PublishAsync.AckHandlerClosure = &persist_acks;
    jsCtx *js = NULL;
    ITEST_OK(natsConnection_JetStream(&js, jst.connection, &options));
    return js;
}

static void persist_publish_async(jsCtx *js, uint64_t index, unsigned char *data)
{
    natsMsg *msg = persist_msg(index, data);
    jsPubOptions options;
    ITEST_OK(jsPubOptions_Init(&options));
    char id[32];
    if (persist_has_id(index)) {
        persist_id(id, sizeof id, index);
        options.MsgId = id;
    }
    natsStatus status = js_PublishMsgAsync(js, &msg, &options);
    natsMsg_Destroy(msg); /* NULL once libnats took it */
    ck_assert_msg(status == NATS_OK, "publish %llu: %s (%s)", (unsigned long long)index,
                  natsStatus_GetText(status), itest_last_error());
}

/* Publishes messages 0..count-1 and waits until every one is acked at its sequence. */
static void persist_publish_all(uint64_t count)
{
    static unsigned char data[PERSIST_LARGE_SIZE];
    jsCtx *js = persist_context();
    for (uint64_t index = 0; index < count; index++) {
        persist_publish_async(js, index, data);
    }
    jsPubOptions complete;
    ITEST_OK(jsPubOptions_Init(&complete));
    complete.MaxWait = ITEST_WAIT_MS;
    ITEST_OK(js_PublishAsyncComplete(js, &complete));
    ck_assert_int_eq(itest_counter_wait(&persist_acks.acked, (long)count, ITEST_WAIT_MS),
                     (long)count);
    ck_assert_int_eq(persist_acks.errors, 0);
    ck_assert_int_eq(persist_acks.mismatches, 0);
    ck_assert_uint_eq(persist_acks.seq_max, count);
    jsCtx_Destroy(js);
    itest_counter_destroy(&persist_acks.acked);
}

/* The stream of these tests, and a second one whose config differs in other fields. */
static void persist_streams_create(void)
{
    const char *subjects[] = {"per.*", "per.deep.>"};
    jsStreamConfig config;
    jst_config(&config, "PER", subjects, 2);
    config.Duplicates = PERSIST_DUPLICATES_NS;
    config.MaxMsgs = 1000000;
    config.Description = "persisted";
    jst_stream_add(&config);
    const char *keep_subjects[] = {"keep.*"};
    jst_config(&config, "KEEP", keep_subjects, 1);
    config.MaxMsgsPerSubject = 1;
    config.Discard = js_DiscardNew;
    config.MaxBytes = 1 << 20;
    jst_stream_add(&config);
    jst_publish("keep.a", "old", 3, 1);
    jst_publish("keep.a", "new", 3, 2);
    jst_publish("keep.b", "b", 1, 3);
}

/* Both streams' configs and KEEP's messages as persist_streams_create left them. */
static void persist_streams_check(uint64_t per_msgs, uint64_t per_last_seq)
{
    jsStreamInfo *info = jst_stream_info("PER");
    ck_assert_int_eq(info->Config->SubjectsLen, 2);
    ck_assert_str_eq(info->Config->Subjects[0], "per.*");
    ck_assert_str_eq(info->Config->Subjects[1], "per.deep.>");
    ck_assert_int_eq(info->Config->Duplicates, PERSIST_DUPLICATES_NS);
    ck_assert_int_eq(info->Config->MaxMsgs, 1000000);
    ck_assert_str_eq(info->Config->Description, "persisted");
    ck_assert_int_eq(info->Config->Storage, js_FileStorage);
    ck_assert_uint_eq(info->State.Msgs, per_msgs);
    ck_assert_uint_eq(info->State.FirstSeq, 1);
    ck_assert_uint_eq(info->State.LastSeq, per_last_seq);
    jsStreamInfo_Destroy(info);

    info = jst_stream_info("KEEP");
    ck_assert_int_eq(info->Config->MaxMsgsPerSubject, 1);
    ck_assert_int_eq(info->Config->Discard, js_DiscardNew);
    ck_assert_int_eq(info->Config->MaxBytes, 1 << 20);
    ck_assert_uint_eq(info->State.Msgs, 2);
    ck_assert_uint_eq(info->State.FirstSeq, 2);
    ck_assert_uint_eq(info->State.LastSeq, 3);
    jsStreamInfo_Destroy(info);
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_GetLastMsg(&msg, jst.js, "KEEP", "keep.a", NULL, &code));
    ck_assert(natsMsg_GetDataLength(msg) == 3 && memcmp(natsMsg_GetData(msg), "new", 3) == 0);
    natsMsg_Destroy(msg);
}

static int64_t persist_time(uint64_t seq)
{
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_GetMsg(&msg, jst.js, "PER", seq, NULL, &code));
    int64_t time_ns = natsMsg_GetTime(msg);
    natsMsg_Destroy(msg);
    return time_ns;
}

/* ---- the tests ---- */

/* SIGTERM and restart, twice: configs, every message but the deleted one, their times, the
 * dedupe window, and the sequence after the last all survive. */
START_TEST(test_jetstream_persist_stop)
{
    jst_start(NULL);
    persist_streams_create();
    persist_publish_all(PERSIST_MESSAGES);
    enum { DELETED_SEQ = 7 };
    jsErrCode code = 0;
    ITEST_OK(js_DeleteMsg(jst.js, "PER", DELETED_SEQ, NULL, &code));
    int64_t first_ns = persist_time(1);
    int64_t last_ns = persist_time(PERSIST_MESSAGES);

    /* a memory stream lives as long as the broker (nats-server keeps no trace of it) */
    jsStreamConfig config;
    const char *memory_subjects[] = {"mem"};
    jst_config(&config, "MEM", memory_subjects, 1);
    config.Storage = js_MemoryStorage;
    jst_stream_add(&config);
    jst_publish("mem", "m", 1, 1);

    jst_stop();
    jst_restart();

    jsStreamInfo *info = NULL;
    natsStatus status = js_GetStreamInfo(&info, jst.js, "MEM", NULL, &code);
    jst_expect_error("info of a memory stream after a restart", status, code, JSStreamNotFoundErr);
    persist_streams_check(PERSIST_MESSAGES - 1, PERSIST_MESSAGES);
    for (uint64_t index = 0; index < PERSIST_MESSAGES; index++) {
        if (index + 1 != DELETED_SEQ) {
            persist_check("PER", index);
        }
    }
    natsMsg *msg = NULL;
    status = js_GetMsg(&msg, jst.js, "PER", DELETED_SEQ, NULL, &code);
    jst_expect_error("get of the deleted message", status, code, JSNoMessageFoundErr);
    ck_assert_int_eq(persist_time(1), first_ns);
    ck_assert_int_eq(persist_time(PERSIST_MESSAGES), last_ns);

    /* a Nats-Msg-Id stored before the restart is still a duplicate */
    jsPubOptions options;
    ITEST_OK(jsPubOptions_Init(&options));
    options.MsgId = "id-25";
    jsPubAck *ack = NULL;
    ITEST_OK(js_Publish(&ack, jst.js, "per.0", "again", 5, &options, &code));
    ck_assert(ack->Duplicate);
    ck_assert_uint_eq(ack->Sequence, 26);
    jsPubAck_Destroy(ack);
    jst_publish("per.0", "next", 4, PERSIST_MESSAGES + 1);

    /* a second cycle: what was appended after the first restart is kept too */
    jst_stop();
    jst_restart();
    persist_streams_check(PERSIST_MESSAGES, PERSIST_MESSAGES + 1);
    ITEST_OK(js_GetMsg(&msg, jst.js, "PER", PERSIST_MESSAGES + 1, NULL, &code));
    ck_assert(natsMsg_GetDataLength(msg) == 4 && memcmp(natsMsg_GetData(msg), "next", 4) == 0);
    natsMsg_Destroy(msg);
    persist_check("PER", PERSIST_MESSAGES - 1);
    jst_publish("per.1", "after", 5, PERSIST_MESSAGES + 2);
}
END_TEST

/* Publishes every message with acks, ends the broker with SIGKILL (`kill`) or SIGTERM, and
 * restarts it: all of them are there, and the next publish follows the last. */
static void persist_restart_run(const char *const *extra_args, bool kill)
{
    jst_start(extra_args);
    persist_streams_create();
    persist_publish_all(PERSIST_MESSAGES);

    if (kill) {
        jst_kill();
    } else {
        jst_stop();
    }
    jst_restart();

    persist_streams_check(PERSIST_MESSAGES, PERSIST_MESSAGES);
    for (uint64_t index = 0; index < PERSIST_MESSAGES; index++) {
        persist_check("PER", index);
    }
    jst_publish("per.0", "next", 4, PERSIST_MESSAGES + 1);
}

/* SIGKILL once every publish was acked (ionats: on segments of 1 MB, so the messages span
 * several and recovery crosses segment boundaries). */
START_TEST(test_jetstream_persist_kill)
{
    static const char *const args[] = {"--segment_size", "1MB", NULL};
    persist_restart_run(args, true);
}
END_TEST

/* ionats --sync interval acks a message once written, before it is synced: a SIGKILL (the
 * process dies, the kernel keeps what was written) loses none of them. nats-server ignores
 * the flag and runs its default. */
START_TEST(test_jetstream_persist_kill_sync_interval)
{
    static const char *const args[] = {"--sync", "interval", "--segment_size", "1MB", NULL};
    persist_restart_run(args, true);
}
END_TEST

/* ionats --sync none leaves syncing to the kernel; a SIGTERM still writes out and keeps
 * every acked message. */
START_TEST(test_jetstream_persist_stop_sync_none)
{
    static const char *const args[] = {"--sync", "none", NULL};
    persist_restart_run(args, false);
}
END_TEST

/* SIGKILL with publishes in flight: every message acked before the kill is there, the
 * stream has no hole below its last sequence, and what it holds is what was published. */
START_TEST(test_jetstream_persist_kill_in_flight)
{
    static const char *const args[] = {"--segment_size", "1MB", NULL};
    jst_start(args);
    persist_streams_create();
    static unsigned char data[PERSIST_LARGE_SIZE];
    jsCtx *js = persist_context();
    for (uint64_t index = 0; index < PERSIST_KILL_AFTER; index++) {
        persist_publish_async(js, index, data);
    }
    natsConnection_Flush(jst.connection); /* the publishes on the wire, not in libnats */
    test_server_kill(&jst.server);

    /* the acks already received are the ones to look for */
    pthread_mutex_lock(&persist_acks.acked.lock);
    static bool acked_index[PERSIST_KILL_AFTER];
    memcpy(acked_index, persist_acks.acked_index, sizeof acked_index);
    uint64_t seq_max = persist_acks.seq_max;
    long mismatches = persist_acks.mismatches;
    pthread_mutex_unlock(&persist_acks.acked.lock);
    ck_assert_int_eq(mismatches, 0);
    jsCtx_Destroy(js);
    jsCtx_Destroy(jst.js);
    jst.js = NULL;
    natsConnection_Destroy(jst.connection);
    jst.connection = NULL;
    itest_counter_destroy(&persist_acks.acked);

    jst_restart();
    jsStreamInfo *info = jst_stream_info("PER");
    uint64_t last_seq = info->State.LastSeq;
    ck_assert_msg(last_seq >= seq_max, "last seq %llu after the restart, %llu was acked",
                  (unsigned long long)last_seq, (unsigned long long)seq_max);
    ck_assert_uint_le(last_seq, PERSIST_KILL_AFTER);
    ck_assert_uint_eq(info->State.Msgs, last_seq);
    ck_assert_uint_eq(info->State.FirstSeq, last_seq > 0 ? 1 : 0);
    jsStreamInfo_Destroy(info);
    long acked = 0;
    for (uint64_t index = 0; index < last_seq; index++) {
        acked += acked_index[index];
        persist_check("PER", index);
    }
    for (uint64_t index = last_seq; index < PERSIST_KILL_AFTER; index++) {
        ck_assert_msg(!acked_index[index], "message %llu was acked and is gone",
                      (unsigned long long)index);
    }
    fprintf(stderr, "persist_kill_in_flight: %ld acked before the kill, %llu stored\n", acked,
            (unsigned long long)last_seq);
    jst_publish("per.0", "next", 4, last_seq + 1);
}
END_TEST

/* ---- persist_mode async (nats-server 2.12) ---- */

/* Publishes of the async ordering test: PERSIST_ASYNC_ROUNDS rounds of PERSIST_ASYNC_STEPS
 * (a message, one with a Nats-Msg-Id, a wrong Nats-Expected-Last-Sequence, the Msg-Id
 * again), two stored a round. */
enum { PERSIST_ASYNC_ROUNDS = 25, PERSIST_ASYNC_STEPS = 4, PERSIST_ASYNC_STORED = 2 };
#define PERSIST_ASYNC_INBOX "_INBOX.asy"

/* True (after saying so) when the reference is older than 2.12, which has no persist_mode. */
static bool persist_async_left_out(const char *test)
{
    if (!jst_reference_before(2, 12)) {
        return false;
    }
    fprintf(stderr, "%s: left out (the reference is older than nats-server 2.12, which "
                    "brought persist_mode)\n", test);
    jst_stop();
    return true;
}

/* Fails unless `root` (a create or update reply, decref'd here) has no error and its
 * config's persist_mode is `want` (NULL: left out, as the default is). nats-server's
 * _nats.req.level metadata ("2") is not looked at: ionats adds no _nats keys. */
static void persist_mode_expect(const char *what, json_t *root, const char *want)
{
    char *dump = json_dumps(root, JSON_COMPACT);
    const json_t *config = json_object_get(root, "config");
    const json_t *mode = json_object_get(config, "persist_mode");
    ck_assert_msg(json_object_get(root, "error") == NULL && json_is_object(config), "%s: %s",
                  what, dump);
    ck_assert_msg(want != NULL ? json_is_string(mode) && strcmp(json_string_value(mode), want) == 0
                               : mode == NULL,
                  "%s: persist_mode is not %s: %s", what, want != NULL ? want : "left out", dump);
    free(dump);
    json_decref(root);
}

static void persist_api_refused(const char *what, const char *subject, const char *body,
                                int code, int err_code, const char *description)
{
    json_t *root = jsc_request(jst.connection, subject, body, NULL);
    jsc_error_expect(what, json_object_get(root, "error"), code, err_code, description);
    json_decref(root);
}

/* persist_mode "async" is taken on a file stream and echoed, "default" is echoed as
 * nothing; memory storage, replicas and atomic batches are refused with it (in that order),
 * a value other than nats-server's strings is bad JSON, and an update may not change the
 * mode either way. A mirror may be async. */
START_TEST(test_jetstream_persist_async_config)
{
    jst_start(NULL);
    if (persist_async_left_out("persist_async_config")) {
        return;
    }
    static const char async_config[] =
        "{\"name\":\"ASY\",\"subjects\":[\"asy.>\"],\"persist_mode\":\"async\"}";
    persist_mode_expect("create async",
                        jsc_request(jst.connection, "$JS.API.STREAM.CREATE.ASY", async_config,
                                    NULL),
                        "async");
    persist_mode_expect("create default",
                        jsc_request(jst.connection, "$JS.API.STREAM.CREATE.DEF",
                                    "{\"name\":\"DEF\",\"subjects\":[\"def\"],"
                                    "\"persist_mode\":\"default\"}",
                                    NULL),
                        NULL);
    persist_mode_expect("info", jsc_request(jst.connection, "$JS.API.STREAM.INFO.ASY", "", NULL),
                        "async");
    static const char file_only[] = "async persist mode is only supported on file storage";
    static const char atomic[] = "async persist mode is not supported with atomic batch publish";
    static const struct {
        const char *body;
        int code;
        int err_code;
        const char *description;
    } refused[] = {
        {"{\"name\":\"BAD\",\"storage\":\"memory\",\"persist_mode\":\"async\"}", 500, 10052,
         file_only},
        {"{\"name\":\"BAD\",\"storage\":\"memory\",\"persist_mode\":\"async\","
         "\"allow_atomic\":true,\"num_replicas\":3}",
         500, 10052, file_only},
        {"{\"name\":\"BAD\",\"num_replicas\":3,\"persist_mode\":\"async\"}", 500, 10052,
         "async persist mode is not supported on replicated streams"},
        {"{\"name\":\"BAD\",\"allow_atomic\":true,\"persist_mode\":\"async\"}", 500, 10052,
         atomic},
        {"{\"name\":\"BAD\",\"persist_mode\":\"Async\"}", 400, 10025,
         "invalid JSON: can not unmarshal \"\\\"Async\\\"\""},
        {"{\"name\":\"BAD\",\"persist_mode\":null}", 400, 10025,
         "invalid JSON: can not unmarshal \"null\""},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        persist_api_refused(refused[i].body, "$JS.API.STREAM.CREATE.BAD", refused[i].body,
                            refused[i].code, refused[i].err_code, refused[i].description);
    }
    static const char unchangeable[] = "stream configuration update can not change persist mode";
    persist_api_refused("update to default", "$JS.API.STREAM.UPDATE.ASY",
                        "{\"name\":\"ASY\",\"subjects\":[\"asy.>\"]}", 500, 10052, unchangeable);
    persist_api_refused("update to async", "$JS.API.STREAM.UPDATE.DEF",
                        "{\"name\":\"DEF\",\"subjects\":[\"def\"],\"persist_mode\":\"async\"}",
                        500, 10052, unchangeable);
    persist_api_refused("update adding atomic batches", "$JS.API.STREAM.UPDATE.ASY",
                        "{\"name\":\"ASY\",\"subjects\":[\"asy.>\"],\"persist_mode\":\"async\","
                        "\"allow_atomic\":true}",
                        500, 10052, atomic);
    persist_mode_expect("update keeping async",
                        jsc_request(jst.connection, "$JS.API.STREAM.UPDATE.ASY",
                                    "{\"name\":\"ASY\",\"subjects\":[\"asy.>\",\"asy2\"],"
                                    "\"persist_mode\":\"async\"}",
                                    NULL),
                        "async");
    persist_mode_expect("async mirror",
                        jsc_request(jst.connection, "$JS.API.STREAM.CREATE.MIR",
                                    "{\"name\":\"MIR\",\"mirror\":{\"name\":\"ASY\"},"
                                    "\"persist_mode\":\"async\"}",
                                    NULL),
                        "async");
}
END_TEST

/* Publish `step` of `round` of the ordering test, with its reply subject and headers. */
static void persist_async_send(int round, int step)
{
    char reply[64];
    char data[32];
    char id[32];
    snprintf(reply, sizeof reply, PERSIST_ASYNC_INBOX ".%d", round * PERSIST_ASYNC_STEPS + step);
    snprintf(data, sizeof data, "r%d.%d", round, step);
    snprintf(id, sizeof id, "id-%d", round);
    natsMsg *msg = NULL;
    ITEST_OK(natsMsg_Create(&msg, step == 0 ? "asy.a" : "asy.b", reply, data,
                            (int)strlen(data)));
    if (step == 1 || step == 3) {
        ITEST_OK(natsMsgHeader_Set(msg, "Nats-Msg-Id", id));
    } else if (step == 2) {
        ITEST_OK(natsMsgHeader_Set(msg, "Nats-Expected-Last-Sequence", "999999"));
    }
    ITEST_OK(natsConnection_PublishMsg(jst.connection, msg));
    natsMsg_Destroy(msg);
}

/* Fails unless `reply` is the answer to step `step` of `round`. */
static void persist_async_answer_expect(natsMsg *reply, int round, int step)
{
    char want_subject[64];
    snprintf(want_subject, sizeof want_subject, PERSIST_ASYNC_INBOX ".%d",
             round * PERSIST_ASYNC_STEPS + step);
    ck_assert_str_eq(natsMsg_GetSubject(reply), want_subject);
    json_t *root = jsc_json_parse(want_subject, natsMsg_GetData(reply),
                                  natsMsg_GetDataLength(reply));
    json_int_t stored = (json_int_t)round * PERSIST_ASYNC_STORED;
    if (step == 2) {
        char description[64];
        snprintf(description, sizeof description, "wrong last sequence: %lld",
                 (long long)stored + 2);
        jsc_error_expect(want_subject, json_object_get(root, "error"), 400,
                         JSStreamWrongLastSequenceErr, description);
    } else {
        json_int_t want = stored + (step == 0 ? 1 : 2);
        char *dump = json_dumps(root, JSON_COMPACT);
        ck_assert_msg(json_object_get(root, "error") == NULL &&
                          json_integer_value(json_object_get(root, "seq")) == want &&
                          json_is_true(json_object_get(root, "duplicate")) == (step == 3),
                      "%s: want seq %lld%s, got %s", want_subject, (long long)want,
                      step == 3 ? " (duplicate)" : "", dump);
        free(dump);
    }
    json_decref(root);
}

/* Under --sync always, an async stream's acks, duplicate acks and error answers come back
 * in the order of the publishes (each ack released at the append, none overtaking another),
 * the messages are there to get and for a consumer, and a clean stop keeps them. That the
 * ack leaves before the fdatasync is shown by test_crash_fsync (a failing datasync). */
START_TEST(test_jetstream_persist_async_publish)
{
    static const char *const args[] = {"--sync", "always", NULL};
    jst_start(args);
    if (persist_async_left_out("persist_async_publish")) {
        return;
    }
    persist_mode_expect("create",
                        jsc_request(jst.connection, "$JS.API.STREAM.CREATE.ASY",
                                    "{\"name\":\"ASY\",\"subjects\":[\"asy.>\"],"
                                    "\"persist_mode\":\"async\"}",
                                    NULL),
                        "async");
    natsSubscription *inbox = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&inbox, jst.connection, PERSIST_ASYNC_INBOX ".*"));
    ITEST_OK(natsConnection_Flush(jst.connection));
    for (int round = 0; round < PERSIST_ASYNC_ROUNDS; round++) {
        for (int step = 0; step < PERSIST_ASYNC_STEPS; step++) {
            persist_async_send(round, step);
        }
    }
    ITEST_OK(natsConnection_Flush(jst.connection));
    for (int round = 0; round < PERSIST_ASYNC_ROUNDS; round++) {
        for (int step = 0; step < PERSIST_ASYNC_STEPS; step++) {
            natsMsg *reply = NULL;
            ITEST_OK(natsSubscription_NextMsg(&reply, inbox, ITEST_WAIT_MS));
            persist_async_answer_expect(reply, round, step);
            natsMsg_Destroy(reply);
        }
    }
    natsSubscription_Destroy(inbox);

    const uint64_t stored = PERSIST_ASYNC_ROUNDS * PERSIST_ASYNC_STORED;
    natsSubscription *sub = NULL;
    jsErrCode code = 0;
    natsStatus status = js_SubscribeSync(&sub, jst.js, "asy.>", NULL, NULL, &code);
    ck_assert_msg(status == NATS_OK, "subscribe: %s err_code %d", natsStatus_GetText(status),
                  (int)code);
    for (uint64_t seq = 1; seq <= stored; seq++) {
        natsMsg *msg = NULL;
        ITEST_OK(natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS));
        char data[32];
        snprintf(data, sizeof data, "r%llu.%d", (unsigned long long)(seq - 1) / 2,
                 seq % 2 == 1 ? 0 : 1);
        ck_assert_str_eq(natsMsg_GetSubject(msg), seq % 2 == 1 ? "asy.a" : "asy.b");
        ck_assert_int_eq(natsMsg_GetDataLength(msg), (int)strlen(data));
        ck_assert_int_eq(memcmp(natsMsg_GetData(msg), data, strlen(data)), 0);
        natsMsg_Destroy(msg);
    }
    natsSubscription_Destroy(sub);

    jst_stop();
    jst_restart();
    jsStreamInfo *info = jst_stream_info("ASY");
    ck_assert_uint_eq(info->State.Msgs, stored);
    ck_assert_uint_eq(info->State.LastSeq, stored);
    jsStreamInfo_Destroy(info);
    jst_publish("asy.a", "after", 5, stored + 1);
}
END_TEST

TCase *jst_persist_tcase(void)
{
    TCase *tc = jst_tcase("persistence");
    tcase_add_test(tc, test_jetstream_persist_stop);
    tcase_add_test(tc, test_jetstream_persist_kill);
    tcase_add_test(tc, test_jetstream_persist_kill_sync_interval);
    tcase_add_test(tc, test_jetstream_persist_stop_sync_none);
    tcase_add_test(tc, test_jetstream_persist_kill_in_flight);
    tcase_add_test(tc, test_jetstream_persist_async_config);
    tcase_add_test(tc, test_jetstream_persist_async_publish);
    return tc;
}
