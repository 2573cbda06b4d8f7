/* JetStream stream limits through libnats: discard new (max_msgs, max_bytes), discard old,
 * max_msg_size, max_msgs_per_subject, max_age, memory storage and rollups. See
 * test_jetstream.c for the whole suite. Test thread only. */
#include "tests/integration/test_jetstream.h"

#include <string.h>
#include <unistd.h>

/* A short max_age, and how often the test looks whether the messages went. */
enum { MAX_AGE_MS = 1000, MAX_AGE_POLL_MS = 100 };

/* Discard new: the publish past max_msgs or max_bytes is refused (10077) and the stream
 * keeps what it had; discard old (the default) keeps the last max_msgs; a message over
 * max_msg_size is refused (10054) whatever the discard policy. */
START_TEST(test_jetstream_discard_new)
{
    jst_start(NULL);
    const char *subjects[] = {"dn"};
    jsStreamConfig config;
    jst_config(&config, "DN", subjects, 1);
    config.MaxMsgs = 3;
    config.Discard = js_DiscardNew;
    jst_stream_add(&config);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        jst_publish("dn", "m", 1, seq);
    }
    jst_publish_refused("publish past max_msgs", "dn", "m", 1, NULL, JSStreamStoreFailedErr);
    jsStreamInfo *info = jst_stream_info("DN");
    ck_assert_int_eq(info->Config->Discard, js_DiscardNew);
    ck_assert_uint_eq(info->State.Msgs, 3);
    ck_assert_uint_eq(info->State.FirstSeq, 1);
    ck_assert_uint_eq(info->State.LastSeq, 3);
    jsStreamInfo_Destroy(info);

    const char *old_subjects[] = {"do"};
    jst_config(&config, "DO", old_subjects, 1);
    config.MaxMsgs = 3;
    jst_stream_add(&config);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        jst_publish("do", "m", 1, seq);
    }
    info = jst_stream_info("DO");
    ck_assert_uint_eq(info->State.Msgs, 3);
    ck_assert_uint_eq(info->State.FirstSeq, 3);
    ck_assert_uint_eq(info->State.LastSeq, 5);
    jsStreamInfo_Destroy(info);

    /* 4 KiB of room: the first 1 KiB message fits, the fourth cannot */
    enum { BYTES_MAX = 4096, BYTES_MESSAGE = 1024 };
    const char *bytes_subjects[] = {"db"};
    jst_config(&config, "DB", bytes_subjects, 1);
    config.MaxBytes = BYTES_MAX;
    config.Discard = js_DiscardNew;
    config.MaxMsgSize = 2 * BYTES_MESSAGE;
    jst_stream_add(&config);
    static unsigned char data[2 * BYTES_MESSAGE + 1];
    uint64_t stored = 0;
    jsErrCode code = 0;
    for (;;) {
        jsPubAck *ack = NULL;
        natsStatus status = js_Publish(&ack, jst.js, "db", data, BYTES_MESSAGE, NULL, &code);
        if (status != NATS_OK) {
            jst_expect_error("publish past max_bytes", status, code, JSStreamStoreFailedErr);
            break;
        }
        stored = ack->Sequence;
        jsPubAck_Destroy(ack);
        ck_assert_uint_lt(stored, BYTES_MAX / BYTES_MESSAGE);
    }
    ck_assert_uint_ge(stored, 1);
    jst_publish_refused("publish past max_msg_size", "db", data, sizeof data, NULL,
                        JSStreamMessageExceedsMaximumErr);
    info = jst_stream_info("DB");
    ck_assert_uint_eq(info->State.Msgs, stored);
    ck_assert_uint_le(info->State.Bytes, BYTES_MAX);
    jsStreamInfo_Destroy(info);
}
END_TEST

/* max_msgs_per_subject 1: each subject keeps its latest message only. */
START_TEST(test_jetstream_max_per_subject)
{
    jst_start(NULL);
    const char *subjects[] = {"kv.*"};
    jsStreamConfig config;
    jst_config(&config, "KV", subjects, 1);
    config.MaxMsgsPerSubject = 1;
    jst_stream_add(&config);
    jst_publish("kv.a", "a1", 2, 1);
    jst_publish("kv.a", "a2", 2, 2);
    jst_publish("kv.b", "b1", 2, 3);
    jst_publish("kv.a", "a3", 2, 4);

    jsStreamInfo *info = jst_stream_info("KV");
    ck_assert_uint_eq(info->State.Msgs, 2);
    ck_assert_uint_eq(info->State.FirstSeq, 3);
    ck_assert_uint_eq(info->State.LastSeq, 4);
    ck_assert_int_eq(info->State.NumSubjects, 2);
    jsStreamInfo_Destroy(info);
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_GetLastMsg(&msg, jst.js, "KV", "kv.a", NULL, &code));
    ck_assert_uint_eq(natsMsg_GetSequence(msg), 4);
    ck_assert(natsMsg_GetDataLength(msg) == 2 && memcmp(natsMsg_GetData(msg), "a3", 2) == 0);
    natsMsg_Destroy(msg);
    msg = NULL;
    for (uint64_t seq = 1; seq <= 2; seq++) {
        natsStatus status = js_GetMsg(&msg, jst.js, "KV", seq, NULL, &code);
        jst_expect_error("get of a replaced message", status, code, JSNoMessageFoundErr);
    }
}
END_TEST

/* Memory storage: the same publishes, acks and reads as a file stream; its config says
 * memory and the account counts its bytes as memory. */
START_TEST(test_jetstream_memory)
{
    jst_start(NULL);
    const char *subjects[] = {"mem.>"};
    jsStreamConfig config;
    jst_config(&config, "MEM", subjects, 1);
    config.Storage = js_MemoryStorage;
    config.MaxMsgs = 50;
    jst_stream_add(&config);
    unsigned char data[100];
    for (uint64_t seq = 1; seq <= 60; seq++) {
        itest_payload_fill(data, sizeof data, seq);
        jst_publish("mem.x", data, sizeof data, seq);
    }
    jsStreamInfo *info = jst_stream_info("MEM");
    ck_assert_int_eq(info->Config->Storage, js_MemoryStorage);
    ck_assert_uint_eq(info->State.Msgs, 50);
    ck_assert_uint_eq(info->State.FirstSeq, 11);
    ck_assert_uint_eq(info->State.LastSeq, 60);
    jsStreamInfo_Destroy(info);
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_GetMsg(&msg, jst.js, "MEM", 30, NULL, &code));
    ck_assert(itest_payload_check(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 30));
    ck_assert_int_eq(natsMsg_GetDataLength(msg), sizeof data);
    natsMsg_Destroy(msg);

    jsAccountInfo *account = NULL;
    ITEST_OK(js_GetAccountInfo(&account, jst.js, NULL, &code));
    ck_assert_uint_gt(account->Memory, 50 * sizeof data);
    ck_assert_uint_eq(account->Store, 0);
    jsAccountInfo_Destroy(account);
}
END_TEST

/* Publishes with a Nats-Rollup header; 0 or the refusal's error code. */
static jsErrCode publish_rollup(const char *subject, const char *rollup, uint64_t *seq)
{
    natsMsg *msg = NULL;
    ITEST_OK(natsMsg_Create(&msg, subject, NULL, "r", 1));
    ITEST_OK(natsMsgHeader_Set(msg, "Nats-Rollup", rollup));
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    natsStatus status = js_PublishMsg(&ack, jst.js, msg, NULL, &code);
    natsMsg_Destroy(msg);
    if (status == NATS_OK) {
        *seq = ack->Sequence;
        jsPubAck_Destroy(ack);
        return 0;
    }
    ck_assert_int_ne(code, 0);
    return code;
}

/* Nats-Rollup: "sub" leaves the subject's new message only, "all" the stream's; a stream
 * without allow_rollup_hdrs refuses it (10111). */
START_TEST(test_jetstream_rollup)
{
    jst_start(NULL);
    const char *subjects[] = {"ru.*"};
    jsStreamConfig config;
    jst_config(&config, "RU", subjects, 1);
    config.AllowRollup = true;
    jst_stream_add(&config);
    jst_publish("ru.a", "1", 1, 1);
    jst_publish("ru.a", "2", 1, 2);
    jst_publish("ru.b", "3", 1, 3);
    uint64_t seq = 0;
    ck_assert_int_eq(publish_rollup("ru.a", "sub", &seq), 0);
    ck_assert_uint_eq(seq, 4);
    jsStreamInfo *info = jst_stream_info("RU");
    ck_assert_uint_eq(info->State.Msgs, 2);
    ck_assert_uint_eq(info->State.FirstSeq, 3);
    jsStreamInfo_Destroy(info);
    ck_assert_int_eq(publish_rollup("ru.b", "all", &seq), 0);
    ck_assert_uint_eq(seq, 5);
    info = jst_stream_info("RU");
    ck_assert_uint_eq(info->State.Msgs, 1);
    ck_assert_uint_eq(info->State.FirstSeq, 5);
    jsStreamInfo_Destroy(info);

    const char *plain_subjects[] = {"plain"};
    jst_config(&config, "PLAIN", plain_subjects, 1);
    jst_stream_add(&config);
    ck_assert_int_eq(publish_rollup("plain", "sub", &seq), JSStreamRollupFailedErr);
    info = jst_stream_info("PLAIN");
    ck_assert_uint_eq(info->State.Msgs, 0);
    jsStreamInfo_Destroy(info);
}
END_TEST

/* max_age: messages older than it go, without any publish to trigger it; first_seq moves
 * past last_seq and the next publish follows the last. */
START_TEST(test_jetstream_max_age)
{
    jst_start(NULL);
    const char *subjects[] = {"age"};
    jsStreamConfig config;
    jst_config(&config, "AGE", subjects, 1);
    config.MaxAge = MAX_AGE_MS * 1000000LL;
    config.Duplicates = MAX_AGE_MS * 1000000LL; /* may not exceed max_age */
    jst_stream_add(&config);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        jst_publish("age", "m", 1, seq);
    }
    int64_t deadline = itest_now_ms() + MAX_AGE_MS + ITEST_WAIT_MS;
    uint64_t msgs = 3;
    while (msgs > 0 && itest_now_ms() < deadline) {
        usleep(MAX_AGE_POLL_MS * 1000);
        jsStreamInfo *info = jst_stream_info("AGE");
        msgs = info->State.Msgs;
        jsStreamInfo_Destroy(info);
    }
    ck_assert_uint_eq(msgs, 0);
    jsStreamInfo *info = jst_stream_info("AGE");
    ck_assert_uint_eq(info->State.FirstSeq, 4);
    ck_assert_uint_eq(info->State.LastSeq, 3);
    jsStreamInfo_Destroy(info);
    jst_publish("age", "m", 1, 4);
}
END_TEST

TCase *jst_limits_tcase(void)
{
    TCase *tc = jst_tcase("limits");
    tcase_add_test(tc, test_jetstream_discard_new);
    tcase_add_test(tc, test_jetstream_max_per_subject);
    tcase_add_test(tc, test_jetstream_max_age);
    tcase_add_test(tc, test_jetstream_memory);
    tcase_add_test(tc, test_jetstream_rollup);
    return tc;
}
