/* JetStream message requests through libnats: purge (all, by subject, keep, up to a
 * sequence, refused by deny_purge), get by sequence and last by subject (subject, payload,
 * headers, sequence, time), delete and erase (refused by deny_delete, a second time, or past
 * the end), and direct get. See test_jetstream.c for the whole suite. Test thread only. */
#include "tests/integration/test_jetstream.h"

#include <stdio.h>
#include <string.h>

static void state_expect(const char *name, uint64_t msgs, uint64_t first_seq, uint64_t last_seq)
{
    jsStreamInfo *info = jst_stream_info(name);
    ck_assert_msg(info->State.Msgs == msgs && info->State.FirstSeq == first_seq &&
                      info->State.LastSeq == last_seq,
                  "%s: msgs %llu first %llu last %llu, want %llu %llu %llu", name,
                  (unsigned long long)info->State.Msgs, (unsigned long long)info->State.FirstSeq,
                  (unsigned long long)info->State.LastSeq, (unsigned long long)msgs,
                  (unsigned long long)first_seq, (unsigned long long)last_seq);
    jsStreamInfo_Destroy(info);
}

static void purge(const char *name, const char *subject, uint64_t seq, uint64_t keep)
{
    jsOptions options;
    ITEST_OK(jsOptions_Init(&options));
    options.Wait = JST_API_WAIT_MS;
    options.Stream.Purge.Subject = subject;
    options.Stream.Purge.Sequence = seq;
    options.Stream.Purge.Keep = keep;
    jsErrCode code = 0;
    natsStatus status = js_PurgeStream(jst.js, name, &options, &code);
    ck_assert_msg(status == NATS_OK, "purge %s subject %s seq %llu keep %llu: %s, err_code %d",
                  name, subject ? subject : "-", (unsigned long long)seq, (unsigned long long)keep,
                  natsStatus_GetText(status), (int)code);
}

static void get_missing(const char *name, uint64_t seq)
{
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    natsStatus status = js_GetMsg(&msg, jst.js, name, seq, NULL, &code);
    char what[64];
    snprintf(what, sizeof what, "get %s %llu", name, (unsigned long long)seq);
    jst_expect_error(what, status, code, JSNoMessageFoundErr);
    ck_assert_ptr_null(msg);
}

/* Purge by subject, by subject keeping the last n, up to a sequence, and all: the state
 * follows each, and sequences go on after the last. A deny_purge stream refuses (10110). */
START_TEST(test_jetstream_purge)
{
    jst_start(NULL);
    const char *subjects[] = {"pg.*"};
    jsStreamConfig config;
    jst_config(&config, "PG", subjects, 1);
    jst_stream_add(&config);
    for (uint64_t seq = 1; seq <= 12; seq++) {
        jst_publish(seq % 2 ? "pg.a" : "pg.b", "m", 1, seq);
    }
    purge("PG", "pg.a", 0, 0); /* the odd sequences */
    state_expect("PG", 6, 2, 12);
    get_missing("PG", 3);
    purge("PG", "pg.b", 0, 2); /* 2..8 of the even ones */
    state_expect("PG", 2, 10, 12);
    jst_publish("pg.a", "m", 1, 13);
    jst_publish("pg.b", "m", 1, 14);
    jst_publish("pg.c", "m", 1, 15);
    purge("PG", NULL, 14, 0); /* below 14: 10, 12, 13 */
    state_expect("PG", 2, 14, 15);
    purge("PG", NULL, 0, 1);
    state_expect("PG", 1, 15, 15);
    purge("PG", NULL, 0, 0);
    state_expect("PG", 0, 16, 15);
    jst_publish("pg.a", "m", 1, 16);
    state_expect("PG", 1, 16, 16);

    const char *deny_subjects[] = {"dp"};
    jst_config(&config, "DP", deny_subjects, 1);
    config.DenyPurge = true;
    jst_stream_add(&config);
    jst_publish("dp", "m", 1, 1);
    jsErrCode code = 0;
    natsStatus status = js_PurgeStream(jst.js, "DP", NULL, &code);
    jst_expect_error("purge of a deny_purge stream", status, code, JSStreamPurgeFailedErr);
    state_expect("DP", 1, 1, 1);
}
END_TEST

/* Get by sequence and last by subject: the subject, payload, headers, sequence and time
 * as stored; a sequence or subject without a message is 10037. */
START_TEST(test_jetstream_get)
{
    jst_start(NULL);
    const char *subjects[] = {"g.>"};
    jsStreamConfig config;
    jst_config(&config, "G", subjects, 1);
    jst_stream_add(&config);

    natsMsg *msg = NULL;
    ITEST_OK(natsMsg_Create(&msg, "g.a", NULL, "with\0headers", 12));
    ITEST_OK(natsMsgHeader_Set(msg, "X-Key", "v1"));
    jsPubAck *ack = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_PublishMsg(&ack, jst.js, msg, NULL, &code));
    ck_assert_uint_eq(ack->Sequence, 1);
    jsPubAck_Destroy(ack);
    natsMsg_Destroy(msg);
    jst_publish("g.b.c", "plain", 5, 2);
    jst_publish("g.a", "latest", 6, 3);

    int64_t before_ns = 0;
    ITEST_OK(js_GetMsg(&msg, jst.js, "G", 1, NULL, &code));
    ck_assert_str_eq(natsMsg_GetSubject(msg), "g.a");
    ck_assert_int_eq(natsMsg_GetDataLength(msg), 12);
    ck_assert(memcmp(natsMsg_GetData(msg), "with\0headers", 12) == 0);
    const char *value = NULL;
    ITEST_OK(natsMsgHeader_Get(msg, "X-Key", &value));
    ck_assert_str_eq(value, "v1");
    ck_assert_uint_eq(natsMsg_GetSequence(msg), 1);
    before_ns = natsMsg_GetTime(msg);
    ck_assert(before_ns > 0);
    natsMsg_Destroy(msg);

    ITEST_OK(js_GetMsg(&msg, jst.js, "G", 2, NULL, &code));
    ck_assert_str_eq(natsMsg_GetSubject(msg), "g.b.c");
    ck_assert(natsMsg_GetDataLength(msg) == 5 && memcmp(natsMsg_GetData(msg), "plain", 5) == 0);
    ck_assert_int_eq(natsMsgHeader_Get(msg, "X-Key", &value), NATS_NOT_FOUND);
    natsMsg_Destroy(msg);

    ITEST_OK(js_GetLastMsg(&msg, jst.js, "G", "g.a", NULL, &code));
    ck_assert_uint_eq(natsMsg_GetSequence(msg), 3);
    ck_assert(natsMsg_GetDataLength(msg) == 6 && memcmp(natsMsg_GetData(msg), "latest", 6) == 0);
    ck_assert(natsMsg_GetTime(msg) >= before_ns);
    natsMsg_Destroy(msg);
    msg = NULL;

    natsStatus status = js_GetLastMsg(&msg, jst.js, "G", "g.none", NULL, &code);
    jst_expect_error("last on a subject without messages", status, code, JSNoMessageFoundErr);
    get_missing("G", 4);
    get_missing("G", 1000);
}
END_TEST

static natsStatus delete_msg(const char *name, uint64_t seq, bool erase, jsErrCode *code)
{
    *code = 0;
    return erase ? js_EraseMsg(jst.js, name, seq, NULL, code)
                 : js_DeleteMsg(jst.js, name, seq, NULL, code);
}

/* Delete and erase: the message is gone for get, the state counts it as deleted (and lists
 * it when asked), first_seq moves past a deleted head and last_seq stays at a deleted tail;
 * a sequence never stored is 10057, and so is any delete on a deny_delete stream. */
START_TEST(test_jetstream_delete_msg)
{
    jst_start(NULL);
    const char *subjects[] = {"dm"};
    jsStreamConfig config;
    jst_config(&config, "DM", subjects, 1);
    jst_stream_add(&config);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        jst_publish("dm", "m", 1, seq);
    }
    jsErrCode code = 0;
    ITEST_OK(delete_msg("DM", 2, false, &code));
    get_missing("DM", 2);
    jsOptions options;
    ITEST_OK(jsOptions_Init(&options));
    options.Stream.Info.DeletedDetails = true;
    jsStreamInfo *info = NULL;
    ITEST_OK(js_GetStreamInfo(&info, jst.js, "DM", &options, &code));
    ck_assert_uint_eq(info->State.Msgs, 4);
    ck_assert_uint_eq(info->State.NumDeleted, 1);
    ck_assert_int_eq(info->State.DeletedLen, 1);
    ck_assert_uint_eq(info->State.Deleted[0], 2);
    jsStreamInfo_Destroy(info);

    natsStatus status = delete_msg("DM", 99, false, &code);
    jst_expect_error("delete past the end", status, code, JSStreamMsgDeleteFailed);

    ITEST_OK(delete_msg("DM", 3, true, &code));
    get_missing("DM", 3);
    ITEST_OK(delete_msg("DM", 1, false, &code));
    state_expect("DM", 2, 4, 5);
    ITEST_OK(delete_msg("DM", 5, false, &code));
    state_expect("DM", 1, 4, 5);
    jst_publish("dm", "m", 1, 6);
    state_expect("DM", 2, 4, 6);

    const char *deny_subjects[] = {"dd"};
    jst_config(&config, "DD", deny_subjects, 1);
    config.DenyDelete = true;
    jst_stream_add(&config);
    jst_publish("dd", "m", 1, 1);
    status = delete_msg("DD", 1, false, &code);
    jst_expect_error("delete on a deny_delete stream", status, code, JSStreamMsgDeleteFailed);
    state_expect("DD", 1, 1, 1);
}
END_TEST

/* DIRECT.GET on an allow_direct stream: by sequence, last by subject and next by subject,
 * with the Nats-Stream / -Sequence / -Subject headers; a missing message is "not found". */
START_TEST(test_jetstream_direct_get)
{
    jst_start(NULL);
    const char *subjects[] = {"dg.*"};
    jsStreamConfig config;
    jst_config(&config, "DG", subjects, 1);
    config.AllowDirect = true;
    jst_stream_add(&config);
    jst_publish("dg.a", "a1", 2, 1);
    jst_publish("dg.b", "b1", 2, 2);
    jst_publish("dg.a", "a2", 2, 3);

    static const struct {
        uint64_t seq;
        const char *next_by_subject;
        const char *last_by_subject;
        const char *want_data;
        const char *want_seq;
        const char *want_subject;
    } cases[] = {
        {2, NULL, NULL, "b1", "2", "dg.b"},
        {0, NULL, "dg.a", "a2", "3", "dg.a"},
        {2, "dg.a", NULL, "a2", "3", "dg.a"},
        {1, "dg.b", NULL, "b1", "2", "dg.b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jsDirectGetMsgOptions get;
        ITEST_OK(jsDirectGetMsgOptions_Init(&get));
        get.Sequence = cases[i].seq;
        get.NextBySubject = cases[i].next_by_subject;
        get.LastBySubject = cases[i].last_by_subject;
        natsMsg *msg = NULL;
        natsStatus status = js_DirectGetMsg(&msg, jst.js, "DG", NULL, &get);
        ck_assert_msg(status == NATS_OK, "direct get %zu: %s (%s)", i, natsStatus_GetText(status),
                      itest_last_error());
        ck_assert_int_eq(natsMsg_GetDataLength(msg), 2);
        ck_assert(memcmp(natsMsg_GetData(msg), cases[i].want_data, 2) == 0);
        const char *value = NULL;
        ITEST_OK(natsMsgHeader_Get(msg, "Nats-Stream", &value));
        ck_assert_str_eq(value, "DG");
        ITEST_OK(natsMsgHeader_Get(msg, "Nats-Sequence", &value));
        ck_assert_str_eq(value, cases[i].want_seq);
        ITEST_OK(natsMsgHeader_Get(msg, "Nats-Subject", &value));
        ck_assert_str_eq(value, cases[i].want_subject);
        natsMsg_Destroy(msg);
    }
    jsDirectGetMsgOptions get;
    ITEST_OK(jsDirectGetMsgOptions_Init(&get));
    get.Sequence = 9;
    natsMsg *msg = NULL;
    natsStatus status = js_DirectGetMsg(&msg, jst.js, "DG", NULL, &get);
    ck_assert_msg(status == NATS_NOT_FOUND, "direct get of a missing message: %s",
                  natsStatus_GetText(status));
}
END_TEST

/* Deleting a message that was already deleted (below last_seq) is "sequence <n> not
 * found", 400 / 10043, erase or not (nats-server 2.9.10 and 2.15.1 alike); past last_seq it
 * is 10057. */
START_TEST(test_jetstream_delete_msg_again)
{
    jst_start(NULL);
    const char *subjects[] = {"da"};
    jsStreamConfig config;
    jst_config(&config, "DA", subjects, 1);
    jst_stream_add(&config);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        jst_publish("da", "m", 1, seq);
    }
    jsErrCode code = 0;
    ITEST_OK(delete_msg("DA", 2, false, &code));
    natsStatus status = delete_msg("DA", 2, false, &code);
    jst_expect_error("delete twice", status, code, JSSequenceNotFoundErr);
    status = delete_msg("DA", 2, true, &code);
    jst_expect_error("erase after delete", status, code, JSSequenceNotFoundErr);
    status = delete_msg("DA", 4, false, &code);
    jst_expect_error("delete past the end", status, code, JSStreamMsgDeleteFailed);
    state_expect("DA", 2, 1, 3);
}
END_TEST

TCase *jst_msg_tcase(void)
{
    TCase *tc = jst_tcase("messages");
    tcase_add_test(tc, test_jetstream_purge);
    tcase_add_test(tc, test_jetstream_get);
    tcase_add_test(tc, test_jetstream_delete_msg);
    tcase_add_test(tc, test_jetstream_delete_msg_again);
    tcase_add_test(tc, test_jetstream_direct_get);
    return tc;
}
