/* NATS Streaming across a broker's life, over the raw STAN client: killed with SIGKILL and
 * restarted on its store (FILE: the client, its durables online or closed, every PubAcked
 * publish, also with publishes in flight; MEMORY: nothing), channels that go after -mi of
 * inactivity, and (ionats only) a channel read as the JetStream stream it is. See
 * test_stan.c for the whole suite. Test thread only. */
#include "tests/integration/test_stan.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- the JetStream view, max inactivity ---- */

/* Beyond nats-streaming-server: a channel is a JetStream stream (STAN_<channel>) that
 * JetStream clients can read, and whose messages they cannot delete or purge. ionats only. */
START_TEST(test_stan_jetstream_view)
{
    if (st_reference()) {
        return; /* nats-streaming-server has no JetStream */
    }
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("viewer");
    st_publish_n(client, "view.me", 1, 3);
    natsMsg *reply = NULL;
    ck_assert_int_eq(natsConnection_RequestString(&reply, client->nc,
                                                  "$JS.API.STREAM.INFO.STAN_view_2Eme", "",
                                                  ITEST_WAIT_MS),
                     NATS_OK);
    const char *info = natsMsg_GetData(reply);
    ck_assert_msg(strstr(info, "\"messages\":3") != NULL, "%s", info);
    ck_assert_msg(strstr(info, "\"_STAN.ch.view_2Eme\"") != NULL, "%s", info);
    natsMsg_Destroy(reply);
    ck_assert_int_eq(natsConnection_RequestString(&reply, client->nc,
                                                  "$JS.API.STREAM.MSG.GET.STAN_view_2Eme",
                                                  "{\"seq\":2}", ITEST_WAIT_MS),
                     NATS_OK);
    ck_assert_msg(strstr(natsMsg_GetData(reply), "\"data\":\"bTI=\"") != NULL, "%s",
                  natsMsg_GetData(reply)); /* "m2" */
    natsMsg_Destroy(reply);
    ck_assert_int_eq(natsConnection_RequestString(&reply, client->nc,
                                                  "$JS.API.STREAM.MSG.DELETE.STAN_view_2Eme",
                                                  "{\"seq\":2}", ITEST_WAIT_MS),
                     NATS_OK);
    ck_assert_msg(strstr(natsMsg_GetData(reply), "\"err_code\":10")  != NULL, "%s",
                  natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    ck_assert_int_eq(natsConnection_RequestString(&reply, client->nc,
                                                  "$JS.API.STREAM.PURGE.STAN_view_2Eme", "",
                                                  ITEST_WAIT_MS),
                     NATS_OK);
    ck_assert_msg(strstr(natsMsg_GetData(reply), "\"err_code\":10") != NULL, "%s",
                  natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
}
END_TEST

/* -mi: a channel with no subscription and no publish for that long goes, with its
 * messages; one with a subscription stays. The next publish makes it again from seq 1. */
START_TEST(test_stan_max_inactivity)
{
    static const char *const args[] = {"-mi", "300ms", NULL};
    st_start("FILE", args);
    struct st_client *client = st_client_open("inactive");
    st_publish_n(client, "idle", 1, 2);
    st_publish_n(client, "kept", 1, 2);
    struct st_sub *keeper = st_subscribe(client, "kept", (struct st_sub_options){.start = 4});
    st_expect_range(keeper, 0, 1, 2, false);
    usleep(1500 * 1000);
    st_publish(client, "idle", "again");
    struct st_sub *sub = st_subscribe(client, "idle", (struct st_sub_options){.start = 4});
    st_expect_range(sub, 0, 1, 1, false);
    struct st_delivery d = st_msg(sub, 0);
    ck_assert_uint_eq(d.length, 5);
    ck_assert(memcmp(d.data, "again", 5) == 0);
    st_publish(client, "kept", "m3");
    st_expect_range(keeper, 2, 3, 3, false);
}
END_TEST

/* ---- a broker killed and restarted on its store ---- */

START_TEST(test_stan_restart_file)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("keeper");
    enum { COUNT = 20, INFLIGHT = 5 };
    for (int i = 1; i <= COUNT; i++) {
        unsigned char payload[40];
        itest_payload_fill(payload, sizeof payload, (uint64_t)i);
        char error[ST_TEXT_MAX];
        st_publish_try(client, "persist", payload, sizeof payload, error, sizeof error);
        ck_assert_msg(error[0] == '\0', "publish %d: \"%s\"", i, error);
    }
    struct st_sub *sub = st_subscribe(
        client, "persist",
        (struct st_sub_options){.durable = "dur", .start = 4, .max_inflight = INFLIGHT,
                                .manual = true});
    st_expect_range(sub, 0, 1, INFLIGHT, false);
    /* ack 1, 2, 3 and 5; the deliveries of 6..9 that the acks make room for show the
     * server has taken them */
    static const uint64_t acked[] = {1, 2, 3, 5};
    for (size_t i = 0; i < sizeof acked / sizeof acked[0]; i++) {
        st_ack(sub, acked[i]);
    }
    st_expect_range(sub, INFLIGHT, 6, 9, false);
    /* a non-durable subscription and a plain client that are not expected to matter */
    st_subscribe(client, "persist", (struct st_sub_options){0});
    char old_conn_id[64];
    st_text_copy(old_conn_id, sizeof old_conn_id, client->conn_id);

    st_kill_restart(client);

    /* the client record survived, with its conn id */
    struct st_client *back = st_client_new("keeper", true);
    st_ping_expect(back, old_conn_id, "");
    char error[ST_TEXT_MAX];
    st_connect_try(back, error, sizeof error);
    ck_assert_msg(error[0] == '\0', "reconnect: \"%s\"", error);
    st_ping_expect(back, old_conn_id, ERR_REPLACED);
    struct st_sub *resumed = st_subscribe(
        back, "persist", (struct st_sub_options){.durable = "dur", .manual = true});
    /* pending 4, 6, 7, 8, 9 redelivered; 10..20 for the first time */
    size_t want = 5 + (COUNT - 9);
    st_wait_count(resumed, want, ST_WAIT_MS);
    usleep(ST_QUIET_MS * 1000);
    size_t got = st_count(resumed);
    bool seen[COUNT + 1] = {false};
    for (size_t i = 0; i < got; i++) {
        struct st_delivery d = st_msg(resumed, i);
        ck_assert_msg(d.seq >= 1 && d.seq <= COUNT, "seq %" PRIu64 " after restart", d.seq);
        ck_assert_msg(d.length == 40 && itest_payload_check(d.data, 40, d.seq),
                      "seq %" PRIu64 ": payload differs", d.seq);
        bool was_acked = false;
        for (size_t a = 0; a < sizeof acked / sizeof acked[0]; a++) {
            was_acked = was_acked || acked[a] == d.seq;
        }
        if (was_acked) {
            /* an ack the store lost: allowed, as a redelivery only */
            fprintf(stderr, "note: acked seq %" PRIu64 " delivered again after the restart\n",
                    d.seq);
            ck_assert_msg(d.redelivered, "acked seq %" PRIu64 " delivered as new", d.seq);
        } else if (d.seq <= 9) {
            ck_assert_msg(d.redelivered, "pending seq %" PRIu64 " not marked redelivered",
                          d.seq);
        } else if (!seen[d.seq]) {
            ck_assert_msg(!d.redelivered, "seq %" PRIu64 " marked redelivered", d.seq);
        }
        seen[d.seq] = true;
    }
    for (uint64_t seq = 1; seq <= COUNT; seq++) {
        bool was_acked = seq <= 3 || seq == 5;
        ck_assert_msg(was_acked || seen[seq], "PubAcked seq %" PRIu64 " not delivered after "
                      "the restart (got %s)", seq, st_seqs_text(resumed, 0));
    }
    ck_assert_msg(got == want, "%zu deliveries after the restart, want %zu: %s", got, want,
                  st_seqs_text(resumed, 0));
    /* redeliveries first, in order, then the rest */
    st_expect_seqs_then(resumed, 0, (const uint64_t[]){4, 6, 7, 8, 9}, 5, true, false);
    /* the channel goes on at the next sequence */
    st_publish(back, "persist", "next");
    st_expect_range(resumed, want, COUNT + 1, COUNT + 1, false);
}
END_TEST

/* Durables that were offline (closed) when the broker was killed, a plain one and a durable
 * queue group without members: both resume after the restart with their unacked messages
 * redelivered and their acked ones not. */
START_TEST(test_stan_restart_offline_durable)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("keeper");
    st_publish_n(client, "off", 1, 3);
    struct st_sub *plain = st_subscribe(
        client, "off", (struct st_sub_options){.durable = "d", .start = 4, .manual = true});
    struct st_sub *queue = st_subscribe(
        client, "off",
        (struct st_sub_options){.queue = "g", .durable = "dq", .start = 4, .manual = true});
    st_expect_range(plain, 0, 1, 3, false);
    st_expect_range(queue, 0, 1, 3, false);
    st_ack(plain, 2);
    st_ack(queue, 1);
    st_ack(queue, 3);
    itest_flush(client->nc);
    st_unsubscribe(plain, true);
    st_unsubscribe(queue, true);
    st_publish(client, "off", "m4");
    st_kill_restart(client);

    struct st_client *back = st_client_new("keeper", true);
    char error[ST_TEXT_MAX];
    st_connect_try(back, error, sizeof error);
    ck_assert_msg(error[0] == '\0', "reconnect: \"%s\"", error);
    struct st_sub *plain_again =
        st_subscribe(back, "off", (struct st_sub_options){.durable = "d", .manual = true});
    struct st_sub *queue_again = st_subscribe(
        back, "off", (struct st_sub_options){.queue = "g", .durable = "dq", .manual = true});
    st_expect_seqs_then(plain_again, 0, (const uint64_t[]){1, 3}, 2, true, false);
    st_expect_range(plain_again, 2, 4, 4, false);
    st_expect_seqs_then(queue_again, 0, (const uint64_t[]){2}, 1, true, false);
    st_expect_range(queue_again, 1, 4, 4, false);
}
END_TEST

START_TEST(test_stan_restart_memory)
{
    st_start("MEMORY", NULL);
    struct st_client *client = st_client_open("forgetful");
    st_publish_n(client, "mem", 1, 5);
    struct st_sub *sub = st_subscribe(
        client, "mem", (struct st_sub_options){.durable = "dur", .start = 4, .manual = true});
    st_expect_range(sub, 0, 1, 5, false);
    st_ack(sub, 1);
    itest_flush(client->nc);
    char old_conn_id[64];
    st_text_copy(old_conn_id, sizeof old_conn_id, client->conn_id);
    st_kill_restart(client);
    struct st_client *back = st_client_new("forgetful", true);
    /* no client, no channel, no durable */
    st_ping_expect(back, old_conn_id, ERR_REPLACED);
    st_subscribe_fails(back, "mem", (struct st_sub_options){.start = 4}, ERR_UNKNOWN_CLIENT);
    char error[ST_TEXT_MAX];
    st_connect_try(back, error, sizeof error);
    ck_assert_str_eq(error, "");
    struct st_sub *first = st_subscribe(back, "mem", (struct st_sub_options){.start = 4});
    struct st_sub *durable =
        st_subscribe(back, "mem", (struct st_sub_options){.durable = "dur", .start = 4});
    st_expect_quiet(first, 0);
    st_expect_quiet(durable, 0);
    st_publish(back, "mem", "again");
    st_expect_range(first, 0, 1, 1, false);
    st_expect_range(durable, 0, 1, 1, false);
}
END_TEST

/* PubAcks of asynchronous publishes, collected by guid ("g<id>"). */
enum { LOAD_COUNT = 2000 };

struct st_load_acks {
    pthread_mutex_t lock;
    bool acked[LOAD_COUNT + 1];
    long ok;
    long failed;
    char error[ST_TEXT_MAX];
};

static void st_load_ack_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                           void *closure)
{
    (void)nc;
    (void)sub;
    struct st_load_acks *acks = closure;
    Pb__PubAck *ack = pb__pub_ack__unpack(NULL, (size_t)natsMsg_GetDataLength(msg),
                                          (const uint8_t *)natsMsg_GetData(msg));
    natsMsg_Destroy(msg);
    pthread_mutex_lock(&acks->lock);
    unsigned long id = 0;
    if (ack == NULL || ack->error[0] != '\0' || sscanf(ack->guid, "g%lu", &id) != 1 ||
        id == 0 || id > LOAD_COUNT) {
        acks->failed++;
        st_text_copy(acks->error, sizeof acks->error, ack != NULL ? ack->error : "undecodable");
    } else if (!acks->acked[id]) {
        acks->acked[id] = true;
        acks->ok++;
    }
    pthread_mutex_unlock(&acks->lock);
    if (ack != NULL) {
        pb__pub_ack__free_unpacked(ack, NULL);
    }
}

/* Publishes without waiting for each PubAck (as a node client does) and kills the broker
 * with SIGKILL once a quarter are acked, the rest still in flight; after the restart every
 * PubAcked message is in the channel, once, in publish order, with sequences 1..n. */
START_TEST(test_stan_restart_under_load)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("loader");
    static struct st_load_acks acks;
    memset(&acks, 0, sizeof acks);
    pthread_mutex_init(&acks.lock, NULL);
    natsSubscription *ack_sub = NULL;
    ITEST_OK(natsConnection_Subscribe(&ack_sub, client->nc, "_STAN.acks.loader",
                                      st_load_ack_cb, &acks));
    itest_flush(client->nc);
    long sent = 0;
    bool killed = false;
    for (unsigned long id = 1; id <= LOAD_COUNT && !killed; id++) {
        unsigned char payload[64];
        itest_payload_fill(payload, sizeof payload, id);
        char guid[32];
        snprintf(guid, sizeof guid, "g%lu", id);
        Pb__PubMsg msg = PB__PUB_MSG__INIT;
        msg.client_id = client->id;
        msg.conn_id.data = (uint8_t *)client->conn_id;
        msg.conn_id.len = strlen(client->conn_id);
        msg.guid = guid;
        msg.subject = "load";
        msg.data.data = payload;
        msg.data.len = sizeof payload;
        uint8_t buffer[256];
        size_t length = pb__pub_msg__pack(&msg, buffer);
        ITEST_OK(natsConnection_PublishRequest(client->nc, SUBJ_PUB ".load", "_STAN.acks.loader",
                                               buffer, (int)length));
        sent++;
        if (id % 50 == 0) {
            /* paced, so that acks come back while later publishes are still going out */
            natsConnection_Flush(client->nc);
            usleep(300);
        }
        pthread_mutex_lock(&acks.lock);
        killed = acks.ok >= LOAD_COUNT / 4;
        pthread_mutex_unlock(&acks.lock);
    }
    /* everything sent before a quarter was acked: wait (bounded) for that quarter */
    int64_t wait_until = itest_now_ms() + ST_WAIT_MS;
    while (!killed && itest_now_ms() < wait_until) {
        usleep(1000);
        pthread_mutex_lock(&acks.lock);
        killed = acks.ok >= LOAD_COUNT / 4;
        pthread_mutex_unlock(&acks.lock);
    }
    ck_assert_msg(killed, "%ld PubAcks of %ld in %d ms", acks.ok, sent, ST_WAIT_MS);
    test_server_kill(&st.server);
    natsSubscription_Destroy(ack_sub);
    st_client_drop(client);
    pthread_mutex_lock(&acks.lock);
    long acked = acks.ok;
    ck_assert_msg(acks.failed == 0, "%ld failed PubAcks: \"%s\"", acks.failed, acks.error);
    pthread_mutex_unlock(&acks.lock);
    int rc = test_server_restart(&st.server, &st.options);
    ck_assert_msg(rc == 0, "restart: %s", strerror(-rc));
    st_wait_ready();

    struct st_client *back = st_client_new("reader", true);
    char error[ST_TEXT_MAX];
    st_connect_try(back, error, sizeof error);
    ck_assert_str_eq(error, "");
    struct st_sub *sub = st_subscribe(back, "load", (struct st_sub_options){.start = 4});
    /* the stored count is between the acked and the sent: wait for the highest acked id */
    unsigned long highest = 0;
    for (unsigned long id = 1; id <= LOAD_COUNT; id++) {
        highest = acks.acked[id] ? id : highest;
    }
    int64_t deadline = itest_now_ms() + ST_WAIT_MS;
    bool found = false;
    size_t scanned = 0;
    while (!found && itest_now_ms() < deadline) {
        size_t count = st_count(sub);
        for (; scanned < count && !found; scanned++) {
            struct st_delivery d = st_msg(sub, scanned);
            found = itest_payload_seq(d.data, 8) == highest;
        }
        if (!found) {
            usleep(5 * 1000);
        }
    }
    usleep(ST_QUIET_MS * 1000);
    size_t count = st_count(sub);
    ck_assert_msg(found, "the highest acked message (id %lu) is not there: %zu delivered, %ld "
                  "acked, %ld sent", highest, count, acked, sent);
    ck_assert_msg((long)count >= acked && (long)count <= sent,
                  "%zu stored, %ld acked, %ld sent", count, acked, sent);
    fprintf(stderr, "restart_under_load: killed with %ld of %ld publishes acked; %zu stored\n",
            acked, sent, count);
    uint64_t last_id = 0;
    static bool stored[LOAD_COUNT + 1];
    memset(stored, 0, sizeof stored);
    for (size_t i = 0; i < count; i++) {
        struct st_delivery d = st_msg(sub, i);
        ck_assert_msg(d.seq == i + 1, "delivery #%zu has seq %" PRIu64, i, d.seq);
        ck_assert(!d.redelivered);
        uint64_t id = itest_payload_seq(d.data, d.length);
        ck_assert_msg(d.length == 64 && itest_payload_check(d.data, 64, id),
                      "seq %" PRIu64 ": payload differs", d.seq);
        ck_assert_msg(id > last_id && id <= LOAD_COUNT, "seq %" PRIu64 " holds id %" PRIu64
                      " after id %" PRIu64, d.seq, id, last_id);
        last_id = id;
        stored[id] = true;
    }
    for (unsigned long id = 1; id <= LOAD_COUNT; id++) {
        ck_assert_msg(!acks.acked[id] || stored[id], "PubAcked id %lu lost", id);
    }
    st_publish(back, "load", "after");
    st_expect_range(sub, count, count + 1, count + 1, false);
}
END_TEST

void st_restart_tcases_add(Suite *suite)
{
    st_tcase_add(suite, "max_inactivity", test_stan_max_inactivity);
    st_tcase_add(suite, "jetstream_view", test_stan_jetstream_view);
    st_tcase_add(suite, "restart_file", test_stan_restart_file);
    st_tcase_add(suite, "restart_offline_durable", test_stan_restart_offline_durable);
    st_tcase_add(suite, "restart_under_load", test_stan_restart_under_load);
    st_tcase_add(suite, "restart_memory", test_stan_restart_memory);
}
