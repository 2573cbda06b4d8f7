/* JetStream publishes through libnats: acks and their sequences, async publishes under a max
 * pending, several connections publishing at once (other shards with IONATS_TEST_SHARDS), API
 * requests from new connections across 8 shards, Nats-Msg-Id dedupe (its window, a duplicate
 * in flight) and the Nats-Expected-* headers. See test_jetstream.c for the whole suite. Test
 * thread only, except the async ack handlers (libnats's threads), which write only their
 * own structs, under their counter's lock. */
#include "tests/integration/test_jetstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sizes of the async runs: enough publishes that many group commits (fdatasyncs) happen
 * while acks are pending, few enough for a few seconds under ASan. */
enum { ASYNC_MESSAGES = 2000, ASYNC_MAX_PENDING = 64, ASYNC_PAYLOAD_SIZE = 128 };
/* Connections publishing at once: with --shards 4 and least-loaded placement, they land on
 * different shards, so most publishes reach the stream over the cross-shard rings. */
enum { MULTI_CONNECTIONS = 4, MULTI_MESSAGES = 250, MULTI_PAYLOAD_SIZE = 64 };
/* New connections that each create a stream or ask for its info, and how long one waits
 * for its reply (the broker answers at once; a lost reply should not cost 10 s a round). */
enum { FRESH_ROUNDS = 40, FRESH_WAIT_MS = 3000 };
/* Same-id pairs in flight at once. */
enum { PAIR_COUNT = 100 };
/* A short duplicate window, and how long past it the test waits: nats-server forgets ids
 * on a timer that fires once per window, so an id lives up to two windows. */
enum { DEDUPE_WINDOW_MS = 500, DEDUPE_WAIT_MS = 4 * DEDUPE_WINDOW_MS };

/* ---- acked publishes ---- */

/* Each acked publish names the stream and the next sequence; an empty payload is a message
 * like any other; a subject no stream captures has no responder. */
START_TEST(test_jetstream_publish_ack)
{
    jst_start(NULL);
    const char *subjects[] = {"p.>"};
    jsStreamConfig config;
    jst_config(&config, "P", subjects, 1);
    jst_stream_add(&config);

    unsigned char data[256];
    for (uint64_t seq = 1; seq <= 100; seq++) {
        size_t size = (seq * 37) % sizeof data;
        itest_payload_fill(data, size, seq);
        char subject[32];
        snprintf(subject, sizeof subject, "p.%llu.x", (unsigned long long)(seq % 7));
        jsPubAck *ack = NULL;
        jsErrCode code = 0;
        ITEST_OK(js_Publish(&ack, jst.js, subject, data, (int)size, NULL, &code));
        ck_assert_str_eq(ack->Stream, "P");
        ck_assert_uint_eq(ack->Sequence, seq);
        ck_assert(!ack->Duplicate);
        jsPubAck_Destroy(ack);
    }
    jst_publish("p.empty", NULL, 0, 101);
    /* a large message, well past any read or copy buffer, comes back whole */
    enum { LARGE_SIZE = 512 * 1024 };
    unsigned char *large = malloc(LARGE_SIZE);
    ck_assert_ptr_nonnull(large);
    itest_payload_fill(large, LARGE_SIZE, 102);
    jst_publish("p.large", large, LARGE_SIZE, 102);
    free(large);

    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    natsStatus status = js_Publish(&ack, jst.js, "q.nothing", "x", 1, NULL, &code);
    ck_assert_msg(status == NATS_NO_RESPONDERS, "publish outside every stream: %s",
                  natsStatus_GetText(status));

    jsStreamInfo *info = jst_stream_info("P");
    ck_assert_uint_eq(info->State.Msgs, 102);
    ck_assert_uint_eq(info->State.LastSeq, 102);
    jsStreamInfo_Destroy(info);
    natsMsg *msg = NULL;
    ITEST_OK(js_GetMsg(&msg, jst.js, "P", 102, NULL, &code));
    ck_assert_int_eq(natsMsg_GetDataLength(msg), LARGE_SIZE);
    ck_assert(itest_payload_check(natsMsg_GetData(msg), LARGE_SIZE, 102));
    natsMsg_Destroy(msg);
    ITEST_OK(js_GetMsg(&msg, jst.js, "P", 101, NULL, &code));
    ck_assert_int_eq(natsMsg_GetDataLength(msg), 0);
    natsMsg_Destroy(msg);
}
END_TEST

/* What one async publisher saw, written by libnats's ack thread. */
struct async_acks {
    struct itest_counter acked; /* successes and failures */
    long errors;
    uint64_t first_error_code;
    long mismatches; /* acks whose sequence is not their payload's */
    uint64_t first_mismatch_seq;
    uint64_t seqs[MULTI_MESSAGES]; /* per-connection runs: sequence of publish i */
    unsigned connection_index;     /* for the multi-connection run */
};

static struct async_acks async_acks[MULTI_CONNECTIONS]; /* static: late callbacks */

/* The payload's first 8 bytes hold the publish index (itest_payload_fill); the single
 * publisher's message i must be stored at sequence i + 1. */
static void async_single_ack(jsCtx *js, natsMsg *msg, jsPubAck *ack, jsPubAckErr *error,
                             void *closure)
{
    (void)js;
    struct async_acks *acks = closure;
    pthread_mutex_lock(&acks->acked.lock);
    if (ack != NULL) {
        uint64_t index = itest_payload_seq(natsMsg_GetData(msg), ASYNC_PAYLOAD_SIZE);
        if (ack->Sequence != index + 1 || ack->Duplicate) {
            if (acks->mismatches++ == 0) {
                acks->first_mismatch_seq = ack->Sequence;
            }
        }
    } else if (acks->errors++ == 0) {
        acks->first_error_code = error != NULL ? (uint64_t)error->ErrCode : 0;
    }
    pthread_mutex_unlock(&acks->acked.lock);
    natsMsg_Destroy(msg);
    itest_counter_add(&acks->acked, 1);
}

/* Async publishes with at most ASYNC_MAX_PENDING in flight: every one is acked, in order,
 * at the sequence its place in the run says, and the stream holds them all byte for byte. */
START_TEST(test_jetstream_publish_async)
{
    jst_start(NULL);
    const char *subjects[] = {"async.*"};
    jsStreamConfig config;
    jst_config(&config, "ASYNC", subjects, 1);
    jst_stream_add(&config);

    struct async_acks *acks = &async_acks[0];
    memset(acks, 0, sizeof *acks);
    itest_counter_init(&acks->acked);
    jsOptions options;
    ITEST_OK(jsOptions_Init(&options));
    options.Wait = JST_API_WAIT_MS;
    options.PublishAsync.MaxPending = ASYNC_MAX_PENDING;
    options.PublishAsync.StallWait = ITEST_WAIT_MS; /* a full window waits for acks */
    options.PublishAsync.AckHandler = async_single_ack;
    options.PublishAsync.AckHandlerClosure = acks;
    jsCtx *js = NULL;
    ITEST_OK(natsConnection_JetStream(&js, jst.connection, &options));

    unsigned char data[ASYNC_PAYLOAD_SIZE];
    for (uint64_t i = 0; i < ASYNC_MESSAGES; i++) {
        itest_payload_fill(data, sizeof data, i);
        ITEST_OK(js_PublishAsync(js, i % 2 ? "async.odd" : "async.even", data, sizeof data, NULL));
    }
    jsPubOptions complete;
    ITEST_OK(jsPubOptions_Init(&complete));
    complete.MaxWait = ITEST_WAIT_MS;
    ITEST_OK(js_PublishAsyncComplete(js, &complete));
    long acked = itest_counter_wait(&acks->acked, ASYNC_MESSAGES, ITEST_WAIT_MS);
    ck_assert_int_eq(acked, ASYNC_MESSAGES);
    ck_assert_msg(acks->errors == 0, "%ld failed acks, the first with err_code %llu", acks->errors,
                  (unsigned long long)acks->first_error_code);
    ck_assert_msg(acks->mismatches == 0, "%ld acks at the wrong sequence, the first %llu",
                  acks->mismatches, (unsigned long long)acks->first_mismatch_seq);
    jsCtx_Destroy(js);

    jsStreamInfo *info = jst_stream_info("ASYNC");
    ck_assert_uint_eq(info->State.Msgs, ASYNC_MESSAGES);
    ck_assert_uint_eq(info->State.LastSeq, ASYNC_MESSAGES);
    jsStreamInfo_Destroy(info);
    static const uint64_t checked[] = {1, 2, ASYNC_MESSAGES / 2, ASYNC_MESSAGES};
    for (size_t i = 0; i < sizeof checked / sizeof checked[0]; i++) {
        natsMsg *msg = NULL;
        jsErrCode code = 0;
        ITEST_OK(js_GetMsg(&msg, jst.js, "ASYNC", checked[i], NULL, &code));
        ck_assert_int_eq(natsMsg_GetDataLength(msg), ASYNC_PAYLOAD_SIZE);
        ck_assert(itest_payload_check(natsMsg_GetData(msg), ASYNC_PAYLOAD_SIZE, checked[i] - 1));
        ck_assert_str_eq(natsMsg_GetSubject(msg),
                         (checked[i] - 1) % 2 ? "async.odd" : "async.even");
        natsMsg_Destroy(msg);
    }
    itest_counter_destroy(&acks->acked);
}
END_TEST

/* Payload of publish i of connection c: i, then c in the 9th byte, then the fill pattern. */
static void multi_payload(unsigned char *data, unsigned connection, uint64_t index)
{
    itest_payload_fill(data, MULTI_PAYLOAD_SIZE, index);
    data[8] = (unsigned char)connection;
}

static void async_multi_ack(jsCtx *js, natsMsg *msg, jsPubAck *ack, jsPubAckErr *error,
                            void *closure)
{
    (void)js;
    struct async_acks *acks = closure;
    pthread_mutex_lock(&acks->acked.lock);
    const unsigned char *data = (const unsigned char *)natsMsg_GetData(msg);
    uint64_t index = itest_payload_seq(data, MULTI_PAYLOAD_SIZE);
    if (ack != NULL && index < MULTI_MESSAGES && data[8] == acks->connection_index) {
        acks->seqs[index] = ack->Sequence;
    } else if (ack != NULL) {
        acks->mismatches++;
    } else if (acks->errors++ == 0) {
        acks->first_error_code = error != NULL ? (uint64_t)error->ErrCode : 0;
    }
    pthread_mutex_unlock(&acks->acked.lock);
    natsMsg_Destroy(msg);
    itest_counter_add(&acks->acked, 1);
}

/* Several connections publish to one stream at once: every publish gets its own sequence
 * (1..N, none twice), each connection's in the order it published them, and the message
 * stored at each sequence is the one acked with it. */
START_TEST(test_jetstream_publish_connections)
{
    jst_start(NULL);
    const char *subjects[] = {"multi.>"};
    jsStreamConfig config;
    jst_config(&config, "MULTI", subjects, 1);
    jst_stream_add(&config);

    natsConnection *connections[MULTI_CONNECTIONS];
    jsCtx *contexts[MULTI_CONNECTIONS];
    for (unsigned c = 0; c < MULTI_CONNECTIONS; c++) {
        struct async_acks *acks = &async_acks[c];
        memset(acks, 0, sizeof *acks);
        itest_counter_init(&acks->acked);
        acks->connection_index = c;
        connections[c] = itest_connect(jst.server.url);
        jsOptions options;
        ITEST_OK(jsOptions_Init(&options));
        options.Wait = JST_API_WAIT_MS;
        options.PublishAsync.MaxPending = ASYNC_MAX_PENDING;
        options.PublishAsync.StallWait = ITEST_WAIT_MS;
        options.PublishAsync.AckHandler = async_multi_ack;
        options.PublishAsync.AckHandlerClosure = acks;
        ITEST_OK(natsConnection_JetStream(&contexts[c], connections[c], &options));
    }
    /* interleaved, so the connections' publishes are in flight together */
    unsigned char data[MULTI_PAYLOAD_SIZE];
    for (uint64_t i = 0; i < MULTI_MESSAGES; i++) {
        for (unsigned c = 0; c < MULTI_CONNECTIONS; c++) {
            multi_payload(data, c, i);
            char subject[32];
            snprintf(subject, sizeof subject, "multi.%u", c);
            ITEST_OK(js_PublishAsync(contexts[c], subject, data, sizeof data, NULL));
        }
    }
    enum { TOTAL = MULTI_CONNECTIONS * MULTI_MESSAGES };
    static unsigned char owner[TOTAL + 1];  /* sequence → connection + 1 */
    static uint64_t owner_index[TOTAL + 1]; /* sequence → publish index */
    memset(owner, 0, sizeof owner);
    for (unsigned c = 0; c < MULTI_CONNECTIONS; c++) {
        jsPubOptions complete;
        ITEST_OK(jsPubOptions_Init(&complete));
        complete.MaxWait = ITEST_WAIT_MS;
        ITEST_OK(js_PublishAsyncComplete(contexts[c], &complete));
        struct async_acks *acks = &async_acks[c];
        ck_assert_int_eq(itest_counter_wait(&acks->acked, MULTI_MESSAGES, ITEST_WAIT_MS),
                         MULTI_MESSAGES);
        ck_assert_msg(acks->errors == 0, "connection %u: %ld failed acks (err_code %llu)", c,
                      acks->errors, (unsigned long long)acks->first_error_code);
        ck_assert_int_eq(acks->mismatches, 0);
        for (uint64_t i = 0; i < MULTI_MESSAGES; i++) {
            uint64_t seq = acks->seqs[i];
            ck_assert_msg(seq >= 1 && seq <= TOTAL, "connection %u publish %llu: seq %llu", c,
                          (unsigned long long)i, (unsigned long long)seq);
            ck_assert_msg(owner[seq] == 0, "seq %llu acked twice", (unsigned long long)seq);
            owner[seq] = (unsigned char)(c + 1);
            owner_index[seq] = i;
            ck_assert_msg(i == 0 || seq > acks->seqs[i - 1],
                          "connection %u: publish %llu at %llu after %llu", c,
                          (unsigned long long)i, (unsigned long long)seq,
                          (unsigned long long)acks->seqs[i - 1]);
        }
    }
    for (unsigned c = 0; c < MULTI_CONNECTIONS; c++) {
        /* an API request from each connection (each shard) is answered too */
        jsStreamInfo *info = NULL;
        jsErrCode code = 0;
        ITEST_OK(js_GetStreamInfo(&info, contexts[c], "MULTI", NULL, &code));
        ck_assert_uint_eq(info->State.Msgs, TOTAL);
        jsStreamInfo_Destroy(info);
        jsCtx_Destroy(contexts[c]);
        natsConnection_Destroy(connections[c]);
        itest_counter_destroy(&async_acks[c].acked);
    }

    jsStreamInfo *info = jst_stream_info("MULTI");
    ck_assert_uint_eq(info->State.Msgs, TOTAL);
    ck_assert_uint_eq(info->State.LastSeq, TOTAL);
    jsStreamInfo_Destroy(info);
    for (uint64_t seq = 1; seq <= TOTAL; seq++) {
        natsMsg *msg = NULL;
        jsErrCode code = 0;
        ITEST_OK(js_GetMsg(&msg, jst.js, "MULTI", seq, NULL, &code));
        unsigned c = owner[seq] - 1u;
        multi_payload(data, c, owner_index[seq]);
        ck_assert_int_eq(natsMsg_GetDataLength(msg), MULTI_PAYLOAD_SIZE);
        ck_assert_msg(memcmp(natsMsg_GetData(msg), data, sizeof data) == 0,
                      "seq %llu does not hold what was acked with it", (unsigned long long)seq);
        natsMsg_Destroy(msg);
    }
}
END_TEST

/* API requests each from a new connection, as a client that connects, asks and leaves:
 * libnats subscribes its reply inbox and sends the request at once, with no PING between.
 * With streams on shards other than the client's and shard 0's, the reply comes from the
 * stream's shard, which must know the inbox's interest by then. On 8 shards (ionats) most
 * pairs of shards are crossed. */
START_TEST(test_jetstream_api_fresh_connections)
{
    static const char *const args[] = {"--shards", "8", NULL};
    jst_start(args);
    for (int i = 0; i < FRESH_ROUNDS; i++) {
        natsConnection *connection = itest_connect(jst.server.url);
        jsOptions options;
        ITEST_OK(jsOptions_Init(&options));
        options.Wait = FRESH_WAIT_MS;
        jsCtx *js = NULL;
        ITEST_OK(natsConnection_JetStream(&js, connection, &options));
        char name[16];
        char subject[16];
        snprintf(name, sizeof name, "FRESH%d", i);
        snprintf(subject, sizeof subject, "fresh.%d", i);
        const char *subjects[] = {subject};
        jsStreamConfig config;
        jst_config(&config, name, subjects, 1);
        jsStreamInfo *info = NULL;
        jsErrCode code = 0;
        natsStatus status = js_AddStream(&info, js, &config, NULL, &code);
        ck_assert_msg(status == NATS_OK, "round %d: create %s from a new connection: %s (%s)", i,
                      name, natsStatus_GetText(status), itest_last_error());
        jsStreamInfo_Destroy(info);
        jsCtx_Destroy(js);
        natsConnection_Destroy(connection);

        connection = itest_connect(jst.server.url);
        ITEST_OK(natsConnection_JetStream(&js, connection, &options));
        info = NULL;
        status = js_GetStreamInfo(&info, js, name, NULL, &code);
        ck_assert_msg(status == NATS_OK, "round %d: info %s from a new connection: %s (%s)", i,
                      name, natsStatus_GetText(status), itest_last_error());
        jsStreamInfo_Destroy(info);
        jsCtx_Destroy(js);
        natsConnection_Destroy(connection);
    }
}
END_TEST

/* ---- dedupe and expectations ---- */

static jsPubAck *publish_id(jsCtx *js, const char *subject, const char *data, const char *id)
{
    jsPubOptions options;
    ITEST_OK(jsPubOptions_Init(&options));
    options.MsgId = id;
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    natsStatus status = js_Publish(&ack, js, subject, data, (int)strlen(data), &options, &code);
    ck_assert_msg(status == NATS_OK, "publish %s id %s: %s, err_code %d (%s)", subject, id,
                  natsStatus_GetText(status), (int)code, itest_last_error());
    return ack;
}

/* A Nats-Msg-Id seen within the duplicate window is acked with duplicate=true and the
 * first message's sequence and stored nothing, whatever its subject or payload; the window
 * is per stream. */
START_TEST(test_jetstream_dedupe)
{
    jst_start(NULL);
    const char *subjects[] = {"dd.*"};
    jsStreamConfig config;
    jst_config(&config, "DD", subjects, 1);
    config.Duplicates = 60LL * 1000000000LL;
    jst_stream_add(&config);
    const char *other_subjects[] = {"other"};
    jst_config(&config, "OTHER", other_subjects, 1);
    jst_stream_add(&config);

    static const struct {
        const char *subject;
        const char *data;
        const char *id;
        uint64_t seq;
        bool duplicate;
    } steps[] = {
        {"dd.a", "first", "id-1", 1, false},         {"dd.a", "second", "id-2", 2, false},
        {"dd.a", "first again", "id-1", 1, true},    {"dd.b", "first elsewhere", "id-1", 1, true},
        {"dd.b", "third", "id-3", 3, false},         {"dd.a", "second again", "id-2", 2, true},
        {"other", "other stream", "id-1", 1, false},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        jsPubAck *ack = publish_id(jst.js, steps[i].subject, steps[i].data, steps[i].id);
        ck_assert_msg(ack->Sequence == steps[i].seq && ack->Duplicate == steps[i].duplicate,
                      "step %zu (%s on %s): seq %llu duplicate %d, want %llu %d", i, steps[i].id,
                      steps[i].subject, (unsigned long long)ack->Sequence, (int)ack->Duplicate,
                      (unsigned long long)steps[i].seq, (int)steps[i].duplicate);
        jsPubAck_Destroy(ack);
    }
    jsStreamInfo *info = jst_stream_info("DD");
    ck_assert_uint_eq(info->State.Msgs, 3);
    ck_assert_uint_eq(info->State.LastSeq, 3);
    jsStreamInfo_Destroy(info);
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_GetMsg(&msg, jst.js, "DD", 1, NULL, &code));
    ck_assert_int_eq(natsMsg_GetDataLength(msg), 5);
    ck_assert(memcmp(natsMsg_GetData(msg), "first", 5) == 0);
    natsMsg_Destroy(msg);
}
END_TEST

/* Two publishes with one Nats-Msg-Id sent back to back, the second arriving while the first
 * may still wait for its sync: the first is stored, the second acked as its duplicate. */
struct pair_acks {
    struct itest_counter acked;
    long errors;
    uint64_t seq[2][PAIR_COUNT]; /* [duplicate][pair]: the sequence acked, 0 if none */
    long unexpected;
};

static struct pair_acks pair_acks; /* static: late callbacks */

static void pair_ack(jsCtx *js, natsMsg *msg, jsPubAck *ack, jsPubAckErr *error, void *closure)
{
    (void)js;
    (void)error;
    struct pair_acks *acks = closure;
    uint64_t pair = itest_payload_seq(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg));
    pthread_mutex_lock(&acks->acked.lock);
    if (ack == NULL) {
        acks->errors++;
    } else if (pair >= PAIR_COUNT || acks->seq[ack->Duplicate][pair] != 0) {
        acks->unexpected++;
    } else {
        acks->seq[ack->Duplicate][pair] = ack->Sequence;
    }
    pthread_mutex_unlock(&acks->acked.lock);
    natsMsg_Destroy(msg);
    itest_counter_add(&acks->acked, 1);
}

START_TEST(test_jetstream_dedupe_in_flight)
{
    jst_start(NULL);
    const char *subjects[] = {"pair"};
    jsStreamConfig config;
    jst_config(&config, "PAIR", subjects, 1);
    jst_stream_add(&config);
    memset(&pair_acks, 0, sizeof pair_acks);
    itest_counter_init(&pair_acks.acked);
    jsOptions options;
    ITEST_OK(jsOptions_Init(&options));
    options.Wait = JST_API_WAIT_MS;
    options.PublishAsync.MaxPending = 2 * PAIR_COUNT;
    options.PublishAsync.AckHandler = pair_ack;
    options.PublishAsync.AckHandlerClosure = &pair_acks;
    jsCtx *js = NULL;
    ITEST_OK(natsConnection_JetStream(&js, jst.connection, &options));
    for (uint64_t pair = 0; pair < PAIR_COUNT; pair++) {
        unsigned char data[16];
        char id[32];
        snprintf(id, sizeof id, "pair-%llu", (unsigned long long)pair);
        jsPubOptions publish;
        ITEST_OK(jsPubOptions_Init(&publish));
        publish.MsgId = id;
        for (int copy = 0; copy < 2; copy++) {
            itest_payload_fill(data, sizeof data, pair);
            ITEST_OK(js_PublishAsync(js, "pair", data, sizeof data, &publish));
        }
    }
    jsPubOptions complete;
    ITEST_OK(jsPubOptions_Init(&complete));
    complete.MaxWait = ITEST_WAIT_MS;
    ITEST_OK(js_PublishAsyncComplete(js, &complete));
    ck_assert_int_eq(itest_counter_wait(&pair_acks.acked, 2 * PAIR_COUNT, ITEST_WAIT_MS),
                     2 * PAIR_COUNT);
    jsCtx_Destroy(js);
    ck_assert_int_eq(pair_acks.errors, 0);
    ck_assert_int_eq(pair_acks.unexpected, 0);
    for (uint64_t pair = 0; pair < PAIR_COUNT; pair++) {
        ck_assert_msg(pair_acks.seq[0][pair] == pair + 1 && pair_acks.seq[1][pair] == pair + 1,
                      "pair %llu: stored at %llu, duplicate acked with %llu",
                      (unsigned long long)pair, (unsigned long long)pair_acks.seq[0][pair],
                      (unsigned long long)pair_acks.seq[1][pair]);
    }
    itest_counter_destroy(&pair_acks.acked);
    jsStreamInfo *info = jst_stream_info("PAIR");
    ck_assert_uint_eq(info->State.Msgs, PAIR_COUNT);
    jsStreamInfo_Destroy(info);
}
END_TEST

/* Once the duplicate window has passed, the same Nats-Msg-Id stores a new message. */
START_TEST(test_jetstream_dedupe_window)
{
    jst_start(NULL);
    const char *subjects[] = {"dw"};
    jsStreamConfig config;
    jst_config(&config, "DW", subjects, 1);
    config.Duplicates = DEDUPE_WINDOW_MS * 1000000LL;
    jst_stream_add(&config);
    jsPubAck *ack = publish_id(jst.js, "dw", "one", "same");
    ck_assert_uint_eq(ack->Sequence, 1);
    jsPubAck_Destroy(ack);
    ack = publish_id(jst.js, "dw", "one", "same");
    ck_assert(ack->Duplicate);
    jsPubAck_Destroy(ack);
    usleep(DEDUPE_WAIT_MS * 1000);
    ack = publish_id(jst.js, "dw", "two", "same");
    ck_assert_msg(!ack->Duplicate && ack->Sequence == 2, "after the window: seq %llu dup %d",
                  (unsigned long long)ack->Sequence, (int)ack->Duplicate);
    jsPubAck_Destroy(ack);
}
END_TEST

/* Publishes with `options` and expects JetStream error `want` (and no ack). */
static void publish_refused(const char *what, const char *subject, jsPubOptions *options,
                            jsErrCode want)
{
    jst_publish_refused(what, subject, "no", 2, options, want);
}

static void publish_expecting(const char *subject, jsPubOptions *options, uint64_t seq)
{
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    natsStatus status = js_Publish(&ack, jst.js, subject, "yes", 3, options, &code);
    ck_assert_msg(status == NATS_OK, "publish on %s: %s, err_code %d (%s)", subject,
                  natsStatus_GetText(status), (int)code, itest_last_error());
    ck_assert_uint_eq(ack->Sequence, seq);
    jsPubAck_Destroy(ack);
}

/* Nats-Expected-Last-Sequence (10071), -Stream (10060), -Last-Msg-Id (10070) and
 * -Last-Subject-Sequence (10071, 0 for "no message yet"): a mismatch stores nothing and
 * takes no sequence, a match stores. */
START_TEST(test_jetstream_expected)
{
    jst_start(NULL);
    const char *subjects[] = {"exp.*"};
    jsStreamConfig config;
    jst_config(&config, "EXP", subjects, 1);
    jst_stream_add(&config);
    jsPubAck *ack = publish_id(jst.js, "exp.a", "one", "id-1");
    ck_assert_uint_eq(ack->Sequence, 1);
    jsPubAck_Destroy(ack);
    ack = publish_id(jst.js, "exp.b", "two", "id-2");
    ck_assert_uint_eq(ack->Sequence, 2);
    jsPubAck_Destroy(ack);

    jsPubOptions options;
    ITEST_OK(jsPubOptions_Init(&options));
    options.ExpectLastMsgId = "id-1";
    publish_refused("expected last msg id id-1", "exp.c", &options, JSStreamWrongLastMsgIDErr);
    options.ExpectLastMsgId = "id-2";
    publish_expecting("exp.c", &options, 3);

    ITEST_OK(jsPubOptions_Init(&options));
    options.ExpectLastSeq = 2;
    publish_refused("expected last seq 2", "exp.c", &options, JSStreamWrongLastSequenceErr);
    options.ExpectLastSeq = 3;
    publish_expecting("exp.c", &options, 4);

    ITEST_OK(jsPubOptions_Init(&options));
    options.ExpectStream = "OTHER";
    publish_refused("expected stream OTHER", "exp.c", &options, JSStreamNotMatchErr);
    options.ExpectStream = "EXP";
    publish_expecting("exp.c", &options, 5);

    ITEST_OK(jsPubOptions_Init(&options));
    options.ExpectLastSubjectSeq = 2; /* exp.a's last is 1 */
    publish_refused("expected last subject seq 2", "exp.a", &options, JSStreamWrongLastSequenceErr);
    options.ExpectLastSubjectSeq = 1;
    publish_expecting("exp.a", &options, 6);

    ITEST_OK(jsPubOptions_Init(&options));
    options.ExpectNoMessage = true;
    publish_refused("expected no message on exp.a", "exp.a", &options,
                    JSStreamWrongLastSequenceErr);
    publish_expecting("exp.new", &options, 7);

    jsStreamInfo *info = jst_stream_info("EXP");
    ck_assert_uint_eq(info->State.Msgs, 7);
    ck_assert_uint_eq(info->State.LastSeq, 7);
    jsStreamInfo_Destroy(info);
}
END_TEST

TCase *jst_publish_tcase(void)
{
    TCase *tc = jst_tcase("publish");
    tcase_add_test(tc, test_jetstream_publish_ack);
    tcase_add_test(tc, test_jetstream_publish_async);
    tcase_add_test(tc, test_jetstream_publish_connections);
    tcase_add_test(tc, test_jetstream_api_fresh_connections);
    tcase_add_test(tc, test_jetstream_dedupe);
    tcase_add_test(tc, test_jetstream_dedupe_in_flight);
    tcase_add_test(tc, test_jetstream_dedupe_window);
    tcase_add_test(tc, test_jetstream_expected);
    return tc;
}
