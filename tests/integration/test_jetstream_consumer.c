/* JetStream consumers through libnats: durable pull consumers (fetch in batches, acks, the
 * ack floor and the pending count in consumer info and in each message's metadata, a fetch
 * past the end), an ephemeral push consumer (js_SubscribeSync: what was stored and what
 * arrives later, each with its subject), redelivery after ack_wait, NAK and TERM,
 * max_ack_pending, filters, ack policy all, the consumer API (info, names, list, delete and
 * their errors), a durable's acks surviving a restart and SIGKILL, replay_policy original
 * and rate_limit_bps (lower bounds on the time taken only). See
 * test_jetstream.c for the whole suite. Passes against nats-server 2.9.10 and 2.15.1 too,
 * but for the SIGKILL test, which they fail. Test thread only. */
#include "tests/integration/test_jetstream.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* How long a fetch waits for what must come. */
enum { FETCH_WAIT_MS = 5000 };
/* How long a fetch waits where nothing may come. */
enum { EMPTY_WAIT_MS = 300 };

static void stream_make(const char *name, const char *subject)
{
    const char *subjects[] = {subject};
    jsStreamConfig config;
    jst_config(&config, name, subjects, 1);
    jst_stream_add(&config);
}

static void publish_n(const char *subject, int first, int count)
{
    for (int i = first; i < first + count; i++) {
        char body[32];
        int length = snprintf(body, sizeof body, "m%d", i);
        jst_publish(subject, body, length, 0);
    }
}

static jsMsgMetaData *meta_of(natsMsg *msg)
{
    jsMsgMetaData *meta = NULL;
    ITEST_OK(natsMsg_GetMetaData(&meta, msg));
    return meta;
}

/* natsSubscription_Fetch, waiting the whole `wait_ms` for a message: a fetch can end early
 * on the late 408 of an earlier request the client had already given up on (libnats gives
 * every fetch of a subscription the same inbox, and the server expires a request by its own
 * clock, a little after the client), so an empty early end fetches again for the time
 * left, no longer. */
static natsStatus fetch_until(natsMsgList *list, natsSubscription *sub, int batch, int64_t wait_ms,
                              jsErrCode *code)
{
    int64_t deadline = itest_now_ms() + wait_ms;
    natsStatus status = NATS_TIMEOUT;
    for (int64_t left = wait_ms; left > 0; left = deadline - itest_now_ms()) {
        status = natsSubscription_Fetch(list, sub, batch, left, code);
        if (status != NATS_TIMEOUT || list->Count > 0) {
            break;
        }
    }
    return status;
}

/* Fetches `batch` and checks it holds exactly `want` messages, with stream sequences from
 * `first_seq` up (when `want` > 0), acking each when `ack`. */
static void fetch_expect(natsSubscription *sub, int batch, int want, uint64_t first_seq,
                         bool ack)
{
    natsMsgList list = {0};
    jsErrCode code = 0;
    natsStatus status;
    if (want == 0) {
        /* The request must end on the server's 408 and not on the client's clock: a request
         * the client gave up on is still alive on the server, and its late 408 would end the
         * next fetch on this subscription (they share its inbox). */
        jsFetchRequest request;
        jsFetchRequest_Init(&request);
        request.Batch = batch;
        request.Expires = (int64_t)EMPTY_WAIT_MS * 1000000;
        status = natsSubscription_FetchRequest(&list, sub, &request);
    } else {
        status = fetch_until(&list, sub, batch, FETCH_WAIT_MS, &code);
    }
    if (want == 0) {
        ck_assert_msg(status == NATS_TIMEOUT || list.Count == 0,
                      "fetch %d: %s, %d messages, want none", batch, natsStatus_GetText(status),
                      list.Count);
        natsMsgList_Destroy(&list);
        return;
    }
    ck_assert_msg(status == NATS_OK || (status == NATS_TIMEOUT && list.Count > 0),
                  "fetch %d: %s (err_code %d)", batch, natsStatus_GetText(status), (int)code);
    ck_assert_msg(list.Count == want, "fetch %d: %d messages, want %d", batch, list.Count, want);
    for (int i = 0; i < list.Count; i++) {
        jsMsgMetaData *meta = meta_of(list.Msgs[i]);
        ck_assert_msg(meta->Sequence.Stream == first_seq + (uint64_t)i,
                      "fetch: message %d has stream seq %llu, want %llu", i,
                      (unsigned long long)meta->Sequence.Stream,
                      (unsigned long long)(first_seq + (uint64_t)i));
        jsMsgMetaData_Destroy(meta);
        if (ack) {
            ITEST_OK(natsMsg_Ack(list.Msgs[i], NULL));
        }
    }
    natsMsgList_Destroy(&list);
}

static jsConsumerInfo *consumer_info(const char *stream, const char *consumer)
{
    jsConsumerInfo *info = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetConsumerInfo(&info, jst.js, stream, consumer, NULL, &code);
    ck_assert_msg(status == NATS_OK, "consumer info %s/%s: %s err_code %d", stream, consumer,
                  natsStatus_GetText(status), (int)code);
    return info;
}

/* Waits (bounded) until the consumer's ack floor reaches `sseq`: acks are fire and forget. */
static jsConsumerInfo *floor_wait(const char *stream, const char *consumer, uint64_t sseq)
{
    for (int i = 0; i < ITEST_WAIT_MS / 10; i++) {
        jsConsumerInfo *info = consumer_info(stream, consumer);
        if (info->AckFloor.Stream >= sseq) {
            return info;
        }
        jsConsumerInfo_Destroy(info);
        nats_Sleep(10);
    }
    ck_abort_msg("consumer %s/%s: ack floor never reached %llu", stream, consumer,
                 (unsigned long long)sseq);
    return NULL;
}

static natsSubscription *pull_subscribe(const char *subject, const char *durable,
                                        jsSubOptions *options)
{
    natsSubscription *sub = NULL;
    jsErrCode code = 0;
    natsStatus status = js_PullSubscribe(&sub, jst.js, subject, durable, NULL, options, &code);
    ck_assert_msg(status == NATS_OK, "pull subscribe %s durable %s: %s err_code %d", subject,
                  durable, natsStatus_GetText(status), (int)code);
    return sub;
}

/* A durable pull consumer: batches in stream order, metadata (stream, consumer, pending,
 * deliveries), the ack floor and counts in info, an empty fetch at the end, messages
 * published later. */
START_TEST(test_consumer_pull_durable)
{
    jst_start(NULL);
    stream_make("PULL", "pull.*");
    publish_n("pull.a", 1, 10);
    natsSubscription *sub = pull_subscribe("pull.a", "D", NULL);

    natsMsgList list = {0};
    jsErrCode code = 0;
    ITEST_OK(fetch_until(&list, sub, 3, FETCH_WAIT_MS, &code));
    ck_assert_int_eq(list.Count, 3);
    for (int i = 0; i < 3; i++) {
        jsMsgMetaData *meta = meta_of(list.Msgs[i]);
        ck_assert_str_eq(natsMsg_GetSubject(list.Msgs[i]), "pull.a");
        char body[8];
        snprintf(body, sizeof body, "m%d", i + 1);
        ck_assert_int_eq(natsMsg_GetDataLength(list.Msgs[i]), (int)strlen(body));
        ck_assert_mem_eq(natsMsg_GetData(list.Msgs[i]), body, strlen(body));
        ck_assert_str_eq(meta->Stream, "PULL");
        ck_assert_str_eq(meta->Consumer, "D");
        ck_assert_uint_eq(meta->Sequence.Stream, (uint64_t)i + 1);
        ck_assert_uint_eq(meta->Sequence.Consumer, (uint64_t)i + 1);
        ck_assert_uint_eq(meta->NumDelivered, 1);
        ck_assert_uint_eq(meta->NumPending, 10 - (uint64_t)i - 1);
        jsMsgMetaData_Destroy(meta);
    }
    jsConsumerInfo *info = consumer_info("PULL", "D");
    ck_assert_uint_eq(info->Delivered.Consumer, 3);
    ck_assert_uint_eq(info->Delivered.Stream, 3);
    ck_assert_uint_eq(info->AckFloor.Stream, 0);
    ck_assert_int_eq(info->NumAckPending, 3);
    ck_assert_uint_eq(info->NumPending, 7);
    jsConsumerInfo_Destroy(info);
    for (int i = 0; i < 3; i++) {
        ITEST_OK(natsMsg_Ack(list.Msgs[i], NULL));
    }
    natsMsgList_Destroy(&list);
    info = floor_wait("PULL", "D", 3);
    ck_assert_uint_eq(info->AckFloor.Consumer, 3);
    ck_assert_int_eq(info->NumAckPending, 0);
    jsConsumerInfo_Destroy(info);

    fetch_expect(sub, 10, 7, 4, true); /* what is left, short of the batch */
    fetch_expect(sub, 5, 0, 0, false);
    publish_n("pull.a", 11, 2);
    publish_n("pull.b", 1, 2); /* not the consumer's subject */
    fetch_expect(sub, 2, 2, 11, true);
    info = floor_wait("PULL", "D", 12);
    ck_assert_uint_eq(info->NumPending, 0);
    jsConsumerInfo_Destroy(info);
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

/* An ephemeral push consumer: js_SubscribeSync gets what was stored, then what is published
 * after, each on its own subject, and acks them. */
START_TEST(test_consumer_push_ephemeral)
{
    jst_start(NULL);
    stream_make("PUSH", "push.>");
    publish_n("push.x", 1, 3);
    natsSubscription *sub = NULL;
    jsErrCode code = 0;
    natsStatus status = js_SubscribeSync(&sub, jst.js, "push.>", NULL, NULL, &code);
    ck_assert_msg(status == NATS_OK, "subscribe: %s err_code %d", natsStatus_GetText(status),
                  (int)code);
    publish_n("push.y", 4, 3);
    for (int i = 1; i <= 6; i++) {
        natsMsg *msg = NULL;
        ITEST_OK(natsSubscription_NextMsg(&msg, sub, FETCH_WAIT_MS));
        ck_assert_str_eq(natsMsg_GetSubject(msg), i <= 3 ? "push.x" : "push.y");
        jsMsgMetaData *meta = meta_of(msg);
        ck_assert_uint_eq(meta->Sequence.Stream, (uint64_t)i);
        jsMsgMetaData_Destroy(meta);
        ITEST_OK(natsMsg_Ack(msg, NULL));
        natsMsg_Destroy(msg);
    }
    natsMsg *none = NULL;
    ck_assert_int_eq(natsSubscription_NextMsg(&none, sub, EMPTY_WAIT_MS), NATS_TIMEOUT);
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

/* Redelivery: a message not acked within ack_wait comes again with its delivery count; a
 * NAK brings it back at once; a TERM ends it. max_deliver stops redeliveries. */
START_TEST(test_consumer_redelivery)
{
    jst_start(NULL);
    stream_make("RD", "rd");
    publish_n("rd", 1, 1); /* alone: nats-server may serve a fetch before a NAK before it */
    jsSubOptions options;
    ITEST_OK(jsSubOptions_Init(&options));
    options.Config.AckWait = 300 * 1000000LL;
    options.Config.MaxDeliver = 3;
    natsSubscription *sub = pull_subscribe("rd", "R", &options);
    fetch_expect(sub, 1, 1, 1, false); /* not acked */
    nats_Sleep(450);
    natsMsgList list = {0};
    jsErrCode code = 0;
    ITEST_OK(fetch_until(&list, sub, 1, FETCH_WAIT_MS, &code));
    ck_assert_int_eq(list.Count, 1);
    jsMsgMetaData *meta = meta_of(list.Msgs[0]);
    ck_assert_uint_eq(meta->Sequence.Stream, 1);
    ck_assert_uint_eq(meta->NumDelivered, 2);
    ck_assert_uint_eq(meta->Sequence.Consumer, 2);
    jsMsgMetaData_Destroy(meta);
    ITEST_OK(natsMsg_Nak(list.Msgs[0], NULL));
    natsMsgList_Destroy(&list);
    ITEST_OK(fetch_until(&list, sub, 1, FETCH_WAIT_MS, &code));
    ck_assert_int_eq(list.Count, 1);
    meta = meta_of(list.Msgs[0]);
    ck_assert_uint_eq(meta->Sequence.Stream, 1);
    ck_assert_uint_eq(meta->NumDelivered, 3);
    jsMsgMetaData_Destroy(meta);
    natsMsgList_Destroy(&list);
    /* delivered max_deliver times: never again; the next message comes instead */
    nats_Sleep(450);
    publish_n("rd", 2, 1);
    fetch_expect(sub, 1, 1, 2, false);
    ITEST_OK(fetch_until(&list, sub, 1, FETCH_WAIT_MS, &code));
    ck_assert_int_eq(list.Count, 1);
    ck_assert_int_eq(natsMsg_Term(list.Msgs[0], NULL), NATS_OK);
    natsMsgList_Destroy(&list);
    nats_Sleep(450);
    fetch_expect(sub, 1, 0, 0, false);
    jsConsumerInfo *info = consumer_info("RD", "R");
    ck_assert_int_eq(info->NumAckPending, 0);
    jsConsumerInfo_Destroy(info);
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

/* max_ack_pending: a consumer holding that many unacked gets nothing more until an ack. */
START_TEST(test_consumer_max_ack_pending)
{
    jst_start(NULL);
    stream_make("MAP", "map");
    publish_n("map", 1, 10);
    jsSubOptions options;
    ITEST_OK(jsSubOptions_Init(&options));
    options.Config.MaxAckPending = 3;
    natsSubscription *sub = pull_subscribe("map", "M", &options);
    natsMsgList list = {0};
    jsErrCode code = 0;
    natsStatus status = fetch_until(&list, sub, 10, 1000, &code);
    ck_assert_msg(list.Count == 3, "fetch at max_ack_pending 3: %d messages (%s)", list.Count,
                  natsStatus_GetText(status));
    ITEST_OK(natsMsg_Ack(list.Msgs[0], NULL));
    natsMsgList_Destroy(&list);
    fetch_expect(sub, 10, 1, 4, false);
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

/* Filters and ack policy all, on consumers made through the API: a filtered consumer's
 * pending count and deliveries; acking the last of a batch acks them all. */
START_TEST(test_consumer_filter_ack_all)
{
    jst_start(NULL);
    stream_make("FA", "fa.*");
    for (int i = 0; i < 9; i++) {
        jst_publish(i % 3 == 0 ? "fa.one" : "fa.other", "x", 1, (uint64_t)i + 1);
    }
    jsConsumerConfig config;
    ITEST_OK(jsConsumerConfig_Init(&config));
    config.Durable = "F";
    config.FilterSubject = "fa.one";
    config.AckPolicy = js_AckAll;
    jsConsumerInfo *info = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_AddConsumer(&info, jst.js, "FA", &config, NULL, &code));
    ck_assert_uint_eq(info->NumPending, 3);
    ck_assert_str_eq(info->Config->FilterSubject, "fa.one");
    ck_assert_int_eq(info->Config->AckPolicy, js_AckAll);
    jsConsumerInfo_Destroy(info);

    jsSubOptions options;
    ITEST_OK(jsSubOptions_Init(&options));
    options.Stream = "FA";
    options.Consumer = "F";
    natsSubscription *sub = pull_subscribe("fa.one", "F", &options);
    natsMsgList list = {0};
    ITEST_OK(fetch_until(&list, sub, 3, FETCH_WAIT_MS, &code));
    ck_assert_int_eq(list.Count, 3);
    for (int i = 0; i < 3; i++) {
        jsMsgMetaData *meta = meta_of(list.Msgs[i]);
        ck_assert_uint_eq(meta->Sequence.Stream, (uint64_t)(3 * i + 1));
        ck_assert_uint_eq(meta->NumPending, (uint64_t)(2 - i));
        jsMsgMetaData_Destroy(meta);
    }
    ITEST_OK(natsMsg_Ack(list.Msgs[2], NULL)); /* acks 1, 4 and 7 */
    natsMsgList_Destroy(&list);
    info = floor_wait("FA", "F", 7);
    ck_assert_int_eq(info->NumAckPending, 0);
    ck_assert_uint_eq(info->AckFloor.Consumer, 3);
    jsConsumerInfo_Destroy(info);
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

/* The consumer API: names and list, info and delete of a missing consumer (10014), a
 * consumer on a missing stream (10059), deleting one. */
START_TEST(test_consumer_api)
{
    jst_start(NULL);
    stream_make("API", "api");
    const char *names[] = {"C1", "C2", "C3"};
    for (int i = 0; i < 3; i++) {
        jsConsumerConfig config;
        ITEST_OK(jsConsumerConfig_Init(&config));
        config.Durable = names[i];
        config.AckPolicy = js_AckExplicit;
        jsConsumerInfo *info = NULL;
        jsErrCode code = 0;
        ITEST_OK(js_AddConsumer(&info, jst.js, "API", &config, NULL, &code));
        ck_assert_str_eq(info->Name, names[i]);
        ck_assert_str_eq(info->Stream, "API");
        jsConsumerInfo_Destroy(info);
    }
    jsConsumerNamesList *list = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_ConsumerNames(&list, jst.js, "API", NULL, &code));
    ck_assert_int_eq(list->Count, 3);
    jsConsumerNamesList_Destroy(list);
    jsConsumerInfoList *infos = NULL;
    ITEST_OK(js_Consumers(&infos, jst.js, "API", NULL, &code));
    ck_assert_int_eq(infos->Count, 3);
    jsConsumerInfoList_Destroy(infos);
    jsStreamInfo *stream = jst_stream_info("API");
    ck_assert_int_eq(stream->State.Consumers, 3);
    jsStreamInfo_Destroy(stream);

    ITEST_OK(js_DeleteConsumer(jst.js, "API", "C2", NULL, &code));
    jsConsumerInfo *info = NULL;
    natsStatus status = js_GetConsumerInfo(&info, jst.js, "API", "C2", NULL, &code);
    jst_expect_error("info of a deleted consumer", status, code, JSConsumerNotFoundErr);
    status = js_DeleteConsumer(jst.js, "API", "C2", NULL, &code);
    jst_expect_error("delete of a deleted consumer", status, code, JSConsumerNotFoundErr);
    status = js_GetConsumerInfo(&info, jst.js, "NOPE", "C1", NULL, &code);
    jst_expect_error("info on a missing stream", status, code, JSStreamNotFoundErr);
    jst_request_expect("$JS.API.CONSUMER.NAMES.API", "",
                       "\"total\":2,\"offset\":0,\"limit\":1024,\"consumers\":[\"C1\",\"C3\"]");
    jst_stop();
}
END_TEST

/* A durable consumer's acks survive a restart: what was acked is not delivered again. */
START_TEST(test_consumer_restart)
{
    jst_start(NULL);
    stream_make("RS", "rs");
    publish_n("rs", 1, 6);
    natsSubscription *sub = pull_subscribe("rs", "K", NULL);
    fetch_expect(sub, 4, 4, 1, true);
    jsConsumerInfo *info = floor_wait("RS", "K", 4);
    jsConsumerInfo_Destroy(info);
    natsSubscription_Destroy(sub);
    jst_stop();
    jst_restart();
    info = consumer_info("RS", "K");
    ck_assert_uint_eq(info->AckFloor.Stream, 4);
    ck_assert_uint_eq(info->Delivered.Stream, 4);
    ck_assert_uint_eq(info->NumPending, 2);
    jsConsumerInfo_Destroy(info);
    sub = pull_subscribe("rs", "K", NULL);
    fetch_expect(sub, 6, 2, 5, true);
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

/* An ack answered (AckSync) is never lost: SIGKILL right after the answers, and the
 * restarted broker has the ack floor there; what was delivered and not acked comes again,
 * counted as a second delivery. Beyond nats-server: 2.9.10 and 2.15.1 both come back with
 * the floor at 0 here (their consumer state is written later), so ionats only. */
START_TEST(test_consumer_ack_sync_kill)
{
    if (test_server_reference()) {
        return;
    }
    jst_start(NULL);
    stream_make("AK", "ak");
    publish_n("ak", 1, 5);
    jsSubOptions options;
    ITEST_OK(jsSubOptions_Init(&options));
    options.Config.AckWait = 500 * 1000000LL;
    natsSubscription *sub = pull_subscribe("ak", "S", &options);
    natsMsgList list = {0};
    jsErrCode code = 0;
    ITEST_OK(fetch_until(&list, sub, 5, FETCH_WAIT_MS, &code));
    ck_assert_int_eq(list.Count, 5);
    for (int i = 0; i < 3; i++) {
        natsStatus status = natsMsg_AckSync(list.Msgs[i], NULL, &code);
        ck_assert_msg(status == NATS_OK, "AckSync %d: %s", i, natsStatus_GetText(status));
    }
    natsMsgList_Destroy(&list);
    natsSubscription_Destroy(sub);
    jst_kill();
    jst_restart();
    jsConsumerInfo *info = consumer_info("AK", "S");
    ck_assert_msg(info->AckFloor.Stream == 3, "ack floor after SIGKILL: %llu, want 3",
                  (unsigned long long)info->AckFloor.Stream);
    jsConsumerInfo_Destroy(info);
    sub = pull_subscribe("ak", "S", &options);
    ITEST_OK(fetch_until(&list, sub, 2, FETCH_WAIT_MS, &code));
    ck_assert_int_eq(list.Count, 2);
    for (int i = 0; i < 2; i++) {
        jsMsgMetaData *meta = meta_of(list.Msgs[i]);
        ck_assert_uint_eq(meta->Sequence.Stream, 4 + (uint64_t)i);
        ck_assert_uint_eq(meta->NumDelivered, 2);
        jsMsgMetaData_Destroy(meta);
        ITEST_OK(natsMsg_AckSync(list.Msgs[i], NULL, &code));
    }
    natsMsgList_Destroy(&list);
    fetch_expect(sub, 1, 0, 0, false);
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

/* A fetch of one message that must be stream sequence `sseq` at delivery `deliveries`,
 * waiting up to `wait_ms`; not acked. */
static void fetch_one(natsSubscription *sub, uint64_t sseq, uint64_t deliveries, int wait_ms)
{
    natsMsgList list = {0};
    jsErrCode code = 0;
    natsStatus status = fetch_until(&list, sub, 1, wait_ms, &code);
    ck_assert_msg(status == NATS_OK && list.Count == 1, "fetch of %llu (delivery %llu): %s",
                  (unsigned long long)sseq, (unsigned long long)deliveries,
                  natsStatus_GetText(status));
    jsMsgMetaData *meta = meta_of(list.Msgs[0]);
    ck_assert_uint_eq(meta->Sequence.Stream, sseq);
    ck_assert_uint_eq(meta->NumDelivered, deliveries);
    jsMsgMetaData_Destroy(meta);
    natsMsgList_Destroy(&list);
}

/* Backoff: redeliveries follow its durations (the first replaces ack_wait), the last one
 * repeating; a NAK with a delay waits that long. Margins are wide: what is checked is which
 * duration applies, not the timer's precision. */
START_TEST(test_consumer_backoff_nak_delay)
{
    jst_start(NULL);
    stream_make("BO", "bo");
    publish_n("bo", 1, 2);
    jst_request_expect("$JS.API.CONSUMER.DURABLE.CREATE.BO.B",
                       "{\"stream_name\":\"BO\",\"config\":{\"durable_name\":\"B\","
                       "\"ack_policy\":\"explicit\",\"max_deliver\":4,"
                       "\"backoff\":[200000000,3000000000]}}",
                       "\"backoff\":[200000000,3000000000]");
    jsSubOptions options;
    ITEST_OK(jsSubOptions_Init(&options));
    options.Stream = "BO";
    options.Consumer = "B";
    natsSubscription *sub = pull_subscribe("bo", "B", &options);
    fetch_one(sub, 1, 1, FETCH_WAIT_MS);
    fetch_one(sub, 2, 1, FETCH_WAIT_MS);
    /* 200 ms, not ack_wait's 30 s: both come back well within 2 s */
    fetch_one(sub, 1, 2, 2000);
    fetch_one(sub, 2, 2, 2000);
    /* now 3 s each: nothing within the next second */
    fetch_expect(sub, 1, 0, 0, false);
    nats_Sleep(700);
    fetch_expect(sub, 1, 0, 0, false);
    fetch_one(sub, 1, 3, FETCH_WAIT_MS);

    /* a NAK with a delay of 1.5 s: not back within half a second, then back */
    natsMsgList list = {0};
    jsErrCode code = 0;
    ITEST_OK(fetch_until(&list, sub, 1, FETCH_WAIT_MS, &code));
    ck_assert_int_eq(list.Count, 1);
    ITEST_OK(natsMsg_NakWithDelay(list.Msgs[0], 1500, NULL));
    jsMsgMetaData *meta = meta_of(list.Msgs[0]);
    uint64_t naked = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    natsMsgList_Destroy(&list);
    nats_Sleep(200);
    fetch_expect(sub, 1, 0, 0, false); /* neither (the other is due 3 s after its delivery) */
    bool back = false;
    for (int i = 0; i < 3 && !back; i++) { /* nats-server may send the other one first */
        ITEST_OK(fetch_until(&list, sub, 1, FETCH_WAIT_MS, &code));
        meta = meta_of(list.Msgs[0]);
        back = meta->Sequence.Stream == naked;
        ck_assert(!back || meta->NumDelivered == 4);
        jsMsgMetaData_Destroy(meta);
        natsMsgList_Destroy(&list);
    }
    ck_assert_msg(back, "message %llu never came back after its NAK delay",
                  (unsigned long long)naked);
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

/* CONSUMER.PAUSE (2.11): a paused consumer delivers nothing (its info says so, with the
 * time left) until it is resumed; the reply's shape and a missing consumer's error are
 * nats-server 2.15.1's. */
START_TEST(test_consumer_pause)
{
    jst_start(NULL);
    if (jst_reference_before(2, 11)) {
        jst_stop();
        return;
    }
    stream_make("PZ", "pz");
    publish_n("pz", 1, 2);
    natsSubscription *sub = pull_subscribe("pz", "P", NULL);
    jst_request_expect("$JS.API.CONSUMER.PAUSE.PZ.P", "{\"pause_until\":\"2999-01-02T03:04:05Z\"}",
                       "\"paused\":true,\"pause_until\":\"2999-01-02T03:04:05Z\",\"pause_remaining\":");
    jst_request_expect("$JS.API.CONSUMER.INFO.PZ.P", "", "\"paused\":true,\"pause_remaining\":");
    fetch_expect(sub, 1, 0, 0, false);
    jst_request_expect("$JS.API.CONSUMER.PAUSE.PZ.P", "",
                       "{\"type\":\"io.nats.jetstream.api.v1.consumer_pause_response\","
                       "\"paused\":false,\"pause_until\":\"0001-01-01T00:00:00Z\"}");
    fetch_expect(sub, 2, 2, 1, true);
    jst_request_expect("$JS.API.CONSUMER.PAUSE.PZ.NONE", "",
                       "\"err_code\":10014,\"description\":\"consumer not found\"},"
                       "\"paused\":false");
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

static natsSubscription *sync_subscribe(const char *subject)
{
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_SubscribeSync(&sub, jst.connection, subject));
    ITEST_OK(natsConnection_Flush(jst.connection));
    return sub;
}

static void header_expect(natsMsg *msg, const char *key, const char *want)
{
    const char *value = NULL;
    natsStatus status = natsMsgHeader_Get(msg, key, &value);
    ck_assert_msg(status == NATS_OK && value != NULL && strcmp(value, want) == 0,
                  "header %s: %s, want %s", key, value != NULL ? value : "(none)", want);
}

/* ionats's dead-letter subject (a consumer's metadata "ionats.dead_letter") with nats-server's
 * advisories: a message past max_deliver and a terminated one are republished there whole
 * (headers and body) with headers naming stream, consumer, sequence, deliveries, subject and
 * reason, and a stream on that subject keeps them; MAX_DELIVERIES and MSG_TERMINATED
 * advisories go out. Beyond nats-server: ionats only. */
START_TEST(test_consumer_dead_letter)
{
    if (test_server_reference()) {
        return;
    }
    jst_start(NULL);
    stream_make("DL", "dl.in");
    stream_make("DLQ", "dlq.>");
    jst_request_expect("$JS.API.CONSUMER.DURABLE.CREATE.DL.C",
                       "{\"stream_name\":\"DL\",\"config\":{\"durable_name\":\"C\","
                       "\"ack_policy\":\"explicit\",\"ack_wait\":200000000,\"max_deliver\":2,"
                       "\"metadata\":{\"ionats.dead_letter\":\"dlq.orders\"}}}",
                       "\"ionats.dead_letter\":\"dlq.orders\"");
    natsSubscription *max_advisory =
        sync_subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.DL.C");
    natsSubscription *term_advisory =
        sync_subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.DL.C");
    natsMsg *first = NULL;
    ITEST_OK(natsMsg_Create(&first, "dl.in", NULL, "order-1", 7));
    ITEST_OK(natsMsgHeader_Set(first, "Order-Id", "17"));
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_PublishMsg(&ack, jst.js, first, NULL, &code));
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(first);
    jst_publish("dl.in", "order-2", 7, 2);

    jsSubOptions options;
    ITEST_OK(jsSubOptions_Init(&options));
    options.Stream = "DL";
    options.Consumer = "C";
    natsSubscription *sub = pull_subscribe("dl.in", "C", &options);
    fetch_expect(sub, 1, 1, 1, false);
    nats_Sleep(300);
    fetch_expect(sub, 1, 1, 1, false); /* the second and last delivery of 1 */
    natsMsgList list = {0};
    ITEST_OK(fetch_until(&list, sub, 1, FETCH_WAIT_MS, &code));
    ck_assert_int_eq(list.Count, 1);
    const char *reply = natsMsg_GetReply(list.Msgs[0]);
    ITEST_OK(natsConnection_PublishString(jst.connection, reply, "+TERM bad order"));
    natsMsgList_Destroy(&list);

    natsMsg *advisory = NULL;
    ITEST_OK(natsSubscription_NextMsg(&advisory, max_advisory, FETCH_WAIT_MS));
    ck_assert_ptr_nonnull(strstr(natsMsg_GetData(advisory),
                                 "\"stream\":\"DL\",\"consumer\":\"C\",\"stream_seq\":1,"
                                 "\"deliveries\":2"));
    natsMsg_Destroy(advisory);
    ITEST_OK(natsSubscription_NextMsg(&advisory, term_advisory, FETCH_WAIT_MS));
    ck_assert_ptr_nonnull(strstr(natsMsg_GetData(advisory), "\"reason\":\"bad order\""));
    natsMsg_Destroy(advisory);

    /* both are kept by the stream on the dead-letter subject: the terminated one first (at
     * once), the one past max_deliver once its last ack wait passed */
    for (uint64_t seq = 1; seq <= 2; seq++) {
        bool terminated = seq == 1;
        natsMsg *kept = NULL;
        ITEST_OK(js_GetMsg(&kept, jst.js, "DLQ", seq, NULL, &code));
        ck_assert_str_eq(natsMsg_GetSubject(kept), "dlq.orders");
        header_expect(kept, "Ionats-Dead-Letter-Stream", "DL");
        header_expect(kept, "Ionats-Dead-Letter-Consumer", "C");
        header_expect(kept, "Ionats-Dead-Letter-Subject", "dl.in");
        header_expect(kept, "Ionats-Dead-Letter-Sequence", terminated ? "2" : "1");
        header_expect(kept, "Ionats-Dead-Letter-Deliveries", terminated ? "1" : "2");
        header_expect(kept, "Ionats-Dead-Letter-Reason",
                      terminated ? "terminated: bad order" : "max_deliveries");
        if (!terminated) {
            header_expect(kept, "Order-Id", "17");
        }
        ck_assert_int_eq(natsMsg_GetDataLength(kept), 7);
        ck_assert_mem_eq(natsMsg_GetData(kept), terminated ? "order-2" : "order-1", 7);
        natsMsg_Destroy(kept);
    }
    natsSubscription_Destroy(max_advisory);
    natsSubscription_Destroy(term_advisory);
    natsSubscription_Destroy(sub);
    jst_stop();
}
END_TEST

/* The next message on `sub` (it must come), checked to carry `data`; the time it was read. */
static int64_t next_expect(natsSubscription *sub, const char *data)
{
    natsMsg *msg = NULL;
    ITEST_OK(natsSubscription_NextMsg(&msg, sub, FETCH_WAIT_MS));
    int64_t at = itest_now_ms();
    ck_assert_int_eq(natsMsg_GetDataLength(msg), (int)strlen(data));
    ck_assert_mem_eq(natsMsg_GetData(msg), data, strlen(data));
    natsMsg_Destroy(msg);
    return at;
}

/* The gap replay_policy original keeps between messages stored that far apart. */
enum { REPLAY_GAP_MS = 250, REPLAY_COUNT = 3 };
/* The least spread accepted for those gaps: a lower bound only, the machine is noisy. */
enum { REPLAY_SPREAD_MIN_MS = (REPLAY_COUNT - 1) * REPLAY_GAP_MS * 4 / 5 };

/* replay_policy original: messages stored REPLAY_GAP_MS apart go out about that far apart,
 * in order, to a push consumer and to a pull request alike (read in turns, so each is read
 * no earlier than it came); once caught up, a new message goes out too. */
START_TEST(test_consumer_replay_original)
{
    jst_start(NULL);
    stream_make("RP", "rp");
    for (int i = 1; i <= REPLAY_COUNT; i++) {
        nats_Sleep(i > 1 ? REPLAY_GAP_MS : 0);
        char body[8];
        jst_publish("rp", body, snprintf(body, sizeof body, "m%d", i), (uint64_t)i);
    }
    natsSubscription *push = sync_subscribe("rp.push");
    natsSubscription *pull = sync_subscribe("rp.pull");
    jst_request_expect("$JS.API.CONSUMER.DURABLE.CREATE.RP.Q",
                       "{\"stream_name\":\"RP\",\"config\":{\"durable_name\":\"Q\","
                       "\"ack_policy\":\"explicit\",\"replay_policy\":\"original\"}}",
                       "\"replay_policy\":\"original\"");
    ITEST_OK(natsConnection_PublishRequestString(jst.connection, "$JS.API.CONSUMER.MSG.NEXT.RP.Q",
                                                 "rp.pull", "{\"batch\":3,\"expires\":8000000000}"));
    jst_request_expect("$JS.API.CONSUMER.CREATE.RP.O",
                       "{\"stream_name\":\"RP\",\"config\":{\"name\":\"O\",\"deliver_subject\":"
                       "\"rp.push\",\"ack_policy\":\"none\",\"replay_policy\":\"original\"}}",
                       "\"replay_policy\":\"original\"");
    int64_t push_at[REPLAY_COUNT];
    int64_t pull_at[REPLAY_COUNT];
    for (int i = 0; i < REPLAY_COUNT; i++) {
        char body[8];
        snprintf(body, sizeof body, "m%d", i + 1);
        push_at[i] = next_expect(push, body);
        pull_at[i] = next_expect(pull, body);
    }
    int64_t push_spread = push_at[REPLAY_COUNT - 1] - push_at[0];
    int64_t pull_spread = pull_at[REPLAY_COUNT - 1] - pull_at[0];
    ck_assert_msg(push_spread >= REPLAY_SPREAD_MIN_MS, "push: %lld ms", (long long)push_spread);
    ck_assert_msg(pull_spread >= REPLAY_SPREAD_MIN_MS, "pull: %lld ms", (long long)pull_spread);
    jst_publish("rp", "m4", 2, 4);
    (void)next_expect(push, "m4"); /* caught up: no upper bound checked, the machine is noisy */
    natsSubscription_Destroy(push);
    natsSubscription_Destroy(pull);
    jst_stop();
}
END_TEST

/* rate_limit_bps: 10,000 bytes/s with the stream's max_msg_size (1 KiB) as the burst; past
 * the burst each ~440-byte delivery (subject, ack reply, payload) waits ~44 ms. */
enum { RATE_COUNT = 12, RATE_PAYLOAD_BYTES = 400, RATE_BURST_COUNT = 2 };
/* A lower bound on sending RATE_COUNT: the payloads alone past the burst, at 10,000 B/s. */
enum { RATE_SPREAD_MIN_MS = (RATE_COUNT - RATE_BURST_COUNT) * RATE_PAYLOAD_BYTES / 10 * 9 / 10 };

/* A push consumer's rate_limit_bps holds its deliveries to that rate (in order); a pull
 * consumer with one is refused as nats-server refuses it. */
START_TEST(test_consumer_rate_limit)
{
    jst_start(NULL);
    const char *subjects[] = {"rl"};
    jsStreamConfig config;
    jst_config(&config, "RL", subjects, 1);
    config.MaxMsgSize = 1024;
    jst_stream_add(&config);
    char body[RATE_PAYLOAD_BYTES + 1];
    for (int i = 0; i < RATE_COUNT; i++) {
        memset(body, 'a' + i, RATE_PAYLOAD_BYTES);
        jst_publish("rl", body, RATE_PAYLOAD_BYTES, (uint64_t)i + 1);
    }
    jst_request_expect("$JS.API.CONSUMER.DURABLE.CREATE.RL.P",
                       "{\"stream_name\":\"RL\",\"config\":{\"durable_name\":\"P\","
                       "\"ack_policy\":\"explicit\",\"rate_limit_bps\":80000}}",
                       "\"err_code\":10086,\"description\":\"consumer in pull mode can not have "
                       "rate limit set\"");
    natsSubscription *push = sync_subscribe("rl.push");
    jst_request_expect("$JS.API.CONSUMER.CREATE.RL.R",
                       "{\"stream_name\":\"RL\",\"config\":{\"name\":\"R\",\"deliver_subject\":"
                       "\"rl.push\",\"ack_policy\":\"none\",\"rate_limit_bps\":80000}}",
                       "\"rate_limit_bps\":80000");
    int64_t first = 0;
    int64_t last = 0;
    for (int i = 0; i < RATE_COUNT; i++) {
        memset(body, 'a' + i, RATE_PAYLOAD_BYTES);
        body[RATE_PAYLOAD_BYTES] = '\0';
        last = next_expect(push, body);
        first = i == 0 ? last : first;
    }
    ck_assert_msg(last - first >= RATE_SPREAD_MIN_MS, "%lld ms", (long long)(last - first));
    natsSubscription_Destroy(push);
    jst_stop();
}
END_TEST

TCase *jst_consumer_tcase(void)
{
    TCase *tcase = jst_tcase("consumer");
    tcase_add_test(tcase, test_consumer_pull_durable);
    tcase_add_test(tcase, test_consumer_push_ephemeral);
    tcase_add_test(tcase, test_consumer_redelivery);
    tcase_add_test(tcase, test_consumer_max_ack_pending);
    tcase_add_test(tcase, test_consumer_filter_ack_all);
    tcase_add_test(tcase, test_consumer_api);
    tcase_add_test(tcase, test_consumer_restart);
    tcase_add_test(tcase, test_consumer_ack_sync_kill);
    tcase_add_test(tcase, test_consumer_dead_letter);
    tcase_add_test(tcase, test_consumer_backoff_nak_delay);
    tcase_add_test(tcase, test_consumer_pause);
    tcase_add_test(tcase, test_consumer_replay_original);
    tcase_add_test(tcase, test_consumer_rate_limit);
    return tcase;
}
