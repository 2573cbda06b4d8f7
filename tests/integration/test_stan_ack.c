/* NATS Streaming acks and what follows from them, over the raw STAN client: redelivery after
 * the ack wait (with its flag and count), max in flight, queue groups (each message to one
 * member, the least loaded first, a leaving member's unacked handed to the others, a durable
 * group outliving its members), durables closed and resumed or unsubscribed and made again,
 * and the unsubscribe and subscription close errors. See test_stan.c for the whole suite.
 * Test thread only. */
#include "tests/integration/test_stan.h"

#include <inttypes.h>
#include <unistd.h>

/* ---- acks ---- */

/* Redelivery after the ack wait (1 s) with the flag and the count; an ack stops it. */
START_TEST(test_stan_redelivery)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("redeliver");
    struct st_sub *sub =
        st_subscribe(client, "rd", (struct st_sub_options){.ack_wait = 1, .manual = true});
    st_publish(client, "rd", "once");
    ck_assert_uint_eq(st_wait_count(sub, 1, ST_WAIT_MS), 1);
    struct st_delivery first = st_msg(sub, 0);
    ck_assert_uint_eq(first.seq, 1);
    ck_assert(!first.redelivered);
    ck_assert_uint_eq(first.redelivery_count, 0);
    ck_assert_uint_eq(st_wait_count(sub, 2, ST_WAIT_MS), 2);
    struct st_delivery second = st_msg(sub, 1);
    int64_t gap = second.at_ms - first.at_ms;
    ck_assert_uint_eq(second.seq, 1);
    ck_assert(second.redelivered);
    ck_assert_uint_eq(second.redelivery_count, 1);
    ck_assert_str_eq(second.subject, "rd");
    ck_assert_uint_eq(second.length, 4);
    ck_assert(memcmp(second.data, "once", 4) == 0);
    ck_assert_int_eq(second.timestamp, first.timestamp);
    ck_assert_msg(gap >= 800 && gap <= 3000, "redelivered after %" PRId64 " ms, ack wait 1 s",
                  gap);
    ck_assert_uint_eq(st_wait_count(sub, 3, ST_WAIT_MS), 3);
    struct st_delivery third = st_msg(sub, 2);
    ck_assert(third.redelivered);
    ck_assert_uint_eq(third.redelivery_count, 2);
    st_ack(sub, 1);
    itest_flush(client->nc);
    /* the ack raced a redelivery at most: none after that one */
    usleep(200 * 1000);
    size_t settled = st_count(sub);
    usleep(1500 * 1000);
    ck_assert_msg(st_count(sub) == settled, "redelivered after the ack: %s",
                  st_seqs_text(sub, 0));
    /* acks of unknown or acked sequences change nothing */
    st_ack(sub, 1);
    st_ack(sub, 99);
    st_publish(client, "rd", "two");
    st_expect_seqs(sub, settled, (const uint64_t[]){2}, 1, false);
}
END_TEST

START_TEST(test_stan_max_inflight)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("inflight");
    st_publish_n(client, "mif", 1, 5);
    struct st_sub *sub = st_subscribe(
        client, "mif", (struct st_sub_options){.start = 4, .max_inflight = 2, .manual = true});
    st_expect_range(sub, 0, 1, 2, false);
    st_ack(sub, 1);
    st_expect_range(sub, 2, 3, 3, false);
    st_ack(sub, 2);
    st_ack(sub, 3);
    st_expect_range(sub, 3, 4, 5, false);
    /* a new message waits for room too */
    st_publish(client, "mif", "m6");
    st_expect_quiet(sub, 5);
    st_ack(sub, 5);
    st_expect_range(sub, 5, 6, 6, false);
}
END_TEST

/* ---- queue groups ---- */

START_TEST(test_stan_queue_each_once)
{
    st_start("FILE", NULL);
    struct st_client *a = st_client_open("qa");
    struct st_client *b = st_client_open("qb");
    struct st_sub *qa = st_subscribe(a, "q", (struct st_sub_options){.queue = "grp"});
    struct st_sub *qb = st_subscribe(b, "q", (struct st_sub_options){.queue = "grp"});
    struct st_sub *plain = st_subscribe(a, "q", (struct st_sub_options){0});
    enum { COUNT = 20 };
    st_publish_n(a, "q", 1, COUNT);
    st_expect_range(plain, 0, 1, COUNT, false);
    long deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(qa) + st_count(qb) < COUNT && itest_now_ms() < deadline) {
        usleep(10 * 1000);
    }
    usleep(ST_QUIET_MS * 1000);
    ck_assert_msg(st_count(qa) + st_count(qb) == COUNT, "the group got %zu + %zu, want %d",
                  st_count(qa), st_count(qb), COUNT);
    for (uint64_t seq = 1; seq <= COUNT; seq++) {
        bool in_a = st_delivered(qa, seq, NULL);
        bool in_b = st_delivered(qb, seq, NULL);
        ck_assert_msg(in_a != in_b, "seq %" PRIu64 ": to a %d, to b %d", seq, in_a, in_b);
    }
    ck_assert_msg(st_count(qa) > 0 && st_count(qb) > 0, "one member got all: a %s, b %s",
                  st_seqs_text(qa, 0), st_seqs_text(qb, 0));
}
END_TEST

/* The next message goes to the member with the fewest unacked; full members get none. */
START_TEST(test_stan_queue_least_loaded)
{
    st_start("FILE", NULL);
    struct st_client *a = st_client_open("qa");
    struct st_client *b = st_client_open("qb");
    struct st_sub *qa = st_subscribe(
        a, "ql", (struct st_sub_options){.queue = "g", .manual = true, .max_inflight = 10});
    struct st_sub *qb = st_subscribe(
        b, "ql", (struct st_sub_options){.queue = "g", .manual = true, .max_inflight = 10});
    st_publish(a, "ql", "m1");
    long deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(qa) + st_count(qb) < 1 && itest_now_ms() < deadline) {
        usleep(5 * 1000);
    }
    ck_assert_uint_eq(st_count(qa) + st_count(qb), 1);
    struct st_sub *x = st_count(qa) == 1 ? qa : qb;
    struct st_sub *y = x == qa ? qb : qa;
    st_publish(a, "ql", "m2");
    st_expect_range(y, 0, 2, 2, false);
    ck_assert_uint_eq(st_count(x), 1);
    /* x acks: it has 0 unacked, y 1: m3 goes to x */
    st_ack(x, 1);
    itest_flush(x->client->nc);
    usleep(100 * 1000);
    st_publish(a, "ql", "m3");
    st_expect_range(x, 1, 3, 3, false);
    ck_assert_uint_eq(st_count(y), 1);

    /* max in flight 1: a member holding one gets nothing more */
    struct st_sub *s1 = st_subscribe(
        a, "qs", (struct st_sub_options){.queue = "g", .manual = true, .max_inflight = 1});
    struct st_sub *s2 = st_subscribe(
        b, "qs", (struct st_sub_options){.queue = "g", .manual = true, .max_inflight = 1});
    st_publish_n(a, "qs", 1, 3);
    deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(s1) + st_count(s2) < 2 && itest_now_ms() < deadline) {
        usleep(5 * 1000);
    }
    usleep(ST_QUIET_MS * 1000);
    ck_assert_msg(st_count(s1) == 1 && st_count(s2) == 1, "full members: %s / %s",
                  st_seqs_text(s1, 0), st_seqs_text(s2, 0));
    struct st_sub *freed = st_msg(s1, 0).seq == 1 ? s1 : s2;
    ck_assert_uint_eq(st_msg(freed, 0).seq, 1);
    st_ack(freed, 1);
    st_expect_range(freed, 1, 3, 3, false);
    ck_assert_uint_eq(st_count(freed == s1 ? s2 : s1), 1);
}
END_TEST

/* A member that leaves hands its unacked messages to the others, marked redelivered. */
START_TEST(test_stan_queue_member_leaves)
{
    st_start("FILE", NULL);
    struct st_client *a = st_client_open("qa");
    struct st_client *b = st_client_open("qb");
    for (int round = 0; round < 2; round++) {
        const char *channel = round == 0 ? "qlu" : "qlc";
        struct st_sub *qa =
            st_subscribe(a, channel, (struct st_sub_options){.queue = "g", .manual = true});
        struct st_sub *qb =
            st_subscribe(b, channel, (struct st_sub_options){.queue = "g", .manual = true});
        st_publish(a, channel, "m1");
        long deadline = itest_now_ms() + ST_WAIT_MS;
        while (st_count(qa) + st_count(qb) < 1 && itest_now_ms() < deadline) {
            usleep(5 * 1000);
        }
        struct st_sub *x = st_count(qa) == 1 ? qa : qb;
        struct st_sub *y = x == qa ? qb : qa;
        st_publish(a, channel, "m2");
        st_expect_range(y, 0, 2, 2, false);
        ck_assert_uint_eq(st_count(x), 1);
        /* unsubscribe (round 0) or close (round 1): the same for a plain queue member.
         * The ack wait is 30 s: m1 must come to y well before. */
        int64_t start = itest_now_ms();
        st_unsubscribe(x, round == 1);
        ck_assert_uint_eq(st_wait_count(y, 2, ST_WAIT_MS), 2);
        struct st_delivery d = st_msg(y, 1);
        ck_assert_msg(d.seq == 1 && d.redelivered, "%s: y got %s after x left", channel,
                      st_seqs_text(y, 0));
        ck_assert_uint_eq(d.redelivery_count, 1);
        ck_assert_msg(d.at_ms - start < 3000, "handed over after %" PRId64 " ms",
                      d.at_ms - start);
        st_expect_quiet(y, 2);
        ck_assert_uint_eq(st_count(x), 1);
        /* y is the group now */
        st_publish(a, channel, "m3");
        st_expect_range(y, 2, 3, 3, false);
    }
    /* a member whose connection closes leaves the same way */
    struct st_client *c = st_client_open("qc");
    struct st_sub *qb =
        st_subscribe(b, "qcc", (struct st_sub_options){.queue = "g", .manual = true});
    struct st_sub *qc =
        st_subscribe(c, "qcc", (struct st_sub_options){.queue = "g", .manual = true});
    st_publish(a, "qcc", "m1");
    long deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(qb) + st_count(qc) < 1 && itest_now_ms() < deadline) {
        usleep(5 * 1000);
    }
    st_publish(a, "qcc", "m2");
    deadline = itest_now_ms() + ST_WAIT_MS;
    while (st_count(qb) + st_count(qc) < 2 && itest_now_ms() < deadline) {
        usleep(5 * 1000);
    }
    ck_assert_uint_eq(st_count(qb), 1);
    ck_assert_uint_eq(st_count(qc), 1);
    uint64_t c_seq = st_msg(qc, 0).seq;
    st_close_expect(c, NULL, "");
    ck_assert_uint_eq(st_wait_count(qb, 2, ST_WAIT_MS), 2);
    struct st_delivery d = st_msg(qb, 1);
    ck_assert_uint_eq(d.seq, c_seq);
    ck_assert(d.redelivered);
}
END_TEST

/* A durable queue group outlives its last member's close; the next member takes it over. */
START_TEST(test_stan_queue_durable)
{
    st_start("FILE", NULL);
    struct st_client *a = st_client_open("qa");
    struct st_client *b = st_client_open("qb");
    struct st_sub *qa = st_subscribe(
        a, "qd",
        (struct st_sub_options){.queue = "g", .durable = "dq", .start = 4, .manual = true});
    st_publish_n(a, "qd", 1, 3);
    st_expect_range(qa, 0, 1, 3, false);
    st_ack(qa, 2);
    itest_flush(a->nc);
    st_unsubscribe(qa, true);
    st_publish(a, "qd", "m4");
    /* another client joins: pending 1 and 3 redelivered, then 4 (start position ignored) */
    struct st_sub *qb = st_subscribe(
        b, "qd", (struct st_sub_options){.queue = "g", .durable = "dq", .manual = true});
    st_expect_seqs_then(qb, 0, (const uint64_t[]){1, 3}, 2, true, false);
    st_expect_range(qb, 2, 4, 4, false);
    /* the last member unsubscribing ends the group: a new one starts per its position */
    st_unsubscribe(qb, false);
    struct st_sub *fresh = st_subscribe(
        b, "qd", (struct st_sub_options){.queue = "g", .durable = "dq", .start = 1});
    st_expect_range(fresh, 0, 4, 4, false);
}
END_TEST

/* ---- durables ---- */

START_TEST(test_stan_durable_resume)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("durable");
    struct st_sub *sub = st_subscribe(
        client, "dc", (struct st_sub_options){.durable = "d", .start = 4, .manual = true});
    st_publish_n(client, "dc", 1, 5);
    st_expect_range(sub, 0, 1, 5, false);
    st_ack(sub, 1);
    st_ack(sub, 2);
    st_ack(sub, 4);
    itest_flush(client->nc);
    st_unsubscribe(sub, true);
    st_publish(client, "dc", "m6");
    st_expect_quiet(sub, 5);
    /* the start position (first) is ignored; the unacked come first, redelivered, then 6 */
    struct st_sub *again = st_subscribe(
        client, "dc", (struct st_sub_options){.durable = "d", .start = 4, .manual = true});
    ck_assert_str_ne(again->ack_inbox, "");
    st_expect_seqs_then(again, 0, (const uint64_t[]){3, 5}, 2, true, false);
    st_expect_range(again, 2, 6, 6, false);
    st_ack(again, 3);
    st_ack(again, 5);
    st_ack(again, 6);
    itest_flush(client->nc);

    /* the connection closed: the durable goes offline; the same client id resumes it */
    st_publish(client, "dc", "m7");
    st_expect_range(again, 3, 7, 7, false);
    st_close_expect(client, NULL, "");
    struct st_client *back = st_client_open("durable");
    st_publish(back, "dc", "m8");
    struct st_sub *resumed =
        st_subscribe(back, "dc", (struct st_sub_options){.durable = "d", .manual = true});
    st_expect_seqs_then(resumed, 0, (const uint64_t[]){7}, 1, true, false);
    st_expect_range(resumed, 1, 8, 8, false);
    /* another client id does not see it */
    struct st_client *other = st_client_open("other");
    struct st_sub *others = st_subscribe(other, "dc", (struct st_sub_options){.durable = "d"});
    st_expect_quiet(others, 0);
}
END_TEST

/* A resumed durable takes its max in flight from the new request: its pending messages
 * are all resent (forced), and new ones wait until acks bring it under the new limit. */
START_TEST(test_stan_durable_resume_inflight)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("durable");
    struct st_sub *sub = st_subscribe(
        client, "dm",
        (struct st_sub_options){.durable = "d", .start = 4, .max_inflight = 10, .manual = true});
    st_publish_n(client, "dm", 1, 3);
    st_expect_range(sub, 0, 1, 3, false);
    st_unsubscribe(sub, true);
    st_publish_n(client, "dm", 4, 2);
    struct st_sub *again = st_subscribe(
        client, "dm",
        (struct st_sub_options){.durable = "d", .max_inflight = 2, .manual = true});
    st_expect_range(again, 0, 1, 3, true);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(st_msg(again, i).redelivery_count, 1);
    }
    st_ack(again, 1);
    st_expect_quiet(again, 3);
    st_ack(again, 2);
    st_expect_range(again, 3, 4, 4, false);
    st_ack(again, 3);
    st_expect_range(again, 4, 5, 5, false);
}
END_TEST

START_TEST(test_stan_durable_unsubscribe)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("durable");
    st_publish_n(client, "du", 1, 3);
    struct st_sub *sub =
        st_subscribe(client, "du", (struct st_sub_options){.durable = "d", .start = 4});
    st_expect_range(sub, 0, 1, 3, false);
    itest_flush(client->nc);
    st_unsubscribe(sub, false);
    /* made again: its own start position */
    struct st_sub *again =
        st_subscribe(client, "du", (struct st_sub_options){.durable = "d", .start = 4});
    st_expect_range(again, 0, 1, 3, false);
    st_unsubscribe(again, false);
    struct st_sub *newer = st_subscribe(client, "du", (struct st_sub_options){.durable = "d"});
    st_expect_quiet(newer, 0);
    st_publish(client, "du", "m4");
    st_expect_range(newer, 0, 4, 4, false);
    /* an unsubscribed plain subscription gets nothing more */
    st_unsubscribe(newer, false);
    st_publish(client, "du", "m5");
    st_expect_quiet(newer, 1);
}
END_TEST

START_TEST(test_stan_unsubscribe_errors)
{
    st_start("FILE", NULL);
    struct st_client *client = st_client_open("unsubber");
    struct st_client *other = st_client_open("other");
    struct st_sub *sub = st_subscribe(client, "uc", (struct st_sub_options){0});
    char error[ST_TEXT_MAX];
    for (int close = 0; close <= 1; close++) {
        natsMsg *reply = st_request_bytes(client->nc, close ? SUBJ_SUBCLOSE : SUBJ_UNSUB,
                                          st_malformed, ST_MALFORMED_LENGTH);
        Pb__SubscriptionResponse *response = pb__subscription_response__unpack(
            NULL, (size_t)natsMsg_GetDataLength(reply), (const uint8_t *)natsMsg_GetData(reply));
        natsMsg_Destroy(reply);
        ck_assert_ptr_nonnull(response);
        ck_assert_str_eq(response->error, ERR_UNSUB_REQUEST);
        pb__subscription_response__free_unpacked(response, NULL);
        st_unsub_raw(client->nc, close, client->id, "no-such-channel", sub->ack_inbox, error,
                     sizeof error);
        ck_assert_str_eq(error, ERR_UNKNOWN_CHANNEL);
        st_unsub_raw(client->nc, close, client->id, "uc", "_INBOX.bogus", error, sizeof error);
        ck_assert_str_eq(error, ERR_INVALID_SUB);
        st_unsub_raw(client->nc, close, other->id, "uc", sub->ack_inbox, error, sizeof error);
        ck_assert_str_eq(error, ERR_UNKNOWN_CLIENT);
        st_unsub_raw(client->nc, close, "nobody", "uc", sub->ack_inbox, error, sizeof error);
        ck_assert_str_eq(error, ERR_UNKNOWN_CLIENT);
    }
    /* the subscription is still there */
    st_publish(client, "uc", "m1");
    st_expect_range(sub, 0, 1, 1, false);
    /* found by its delivery inbox too */
    st_unsub_raw(client->nc, false, client->id, "uc", sub->inbox, error, sizeof error);
    ck_assert_str_eq(error, "");
    st_publish(client, "uc", "m2");
    st_expect_quiet(sub, 1);
    /* gone now */
    st_unsub_raw(client->nc, false, client->id, "uc", sub->ack_inbox, error, sizeof error);
    ck_assert_str_eq(error, ERR_INVALID_SUB);
}
END_TEST

void st_ack_tcases_add(Suite *suite)
{
    st_tcase_add(suite, "redelivery", test_stan_redelivery);
    st_tcase_add(suite, "max_inflight", test_stan_max_inflight);
    st_tcase_add(suite, "queue_each_once", test_stan_queue_each_once);
    st_tcase_add(suite, "queue_least_loaded", test_stan_queue_least_loaded);
    st_tcase_add(suite, "queue_member_leaves", test_stan_queue_member_leaves);
    st_tcase_add(suite, "queue_durable", test_stan_queue_durable);
    st_tcase_add(suite, "durable_resume", test_stan_durable_resume);
    st_tcase_add(suite, "durable_resume_inflight", test_stan_durable_resume_inflight);
    st_tcase_add(suite, "durable_unsubscribe", test_stan_durable_unsubscribe);
    st_tcase_add(suite, "unsubscribe_errors", test_stan_unsubscribe_errors);
}
