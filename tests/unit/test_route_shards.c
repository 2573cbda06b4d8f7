/* Unit tests for routing across shards (route.c): queue groups spread over several shards,
 * the publishing shard's pick of one shard per group, its rotation over the shards, and
 * the fallback to another shard's members when the local pick has no member that can take
 * the message (an echo:false publisher's own member, a closing member, a member at its
 * auto-unsubscribe limit); forwarding, large messages by reference included.
 *
 * Three shards built by hand in one thread, joined by real cross-shard rings (xshard.c):
 * no loop, no sockets, no io_uring. settle() plays the part of the loops' turns, flushing
 * and draining every ring until nothing is in flight, so announcements, forwarded
 * publishes and acknowledgements all take the path they take in the broker. Subscribers
 * are test records with their own deliver handler, so each one's share is counted exactly.
 * test_route.c covers routing on one shard. */
#include "engine/config.h"
#include "engine/interest.h"
#include "engine/route.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "engine/xshard.h"
#include "tests/unit/shard_fixture.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SHARD_COUNT = 3,
    RING_SIZE = 1 << 16,  /* bytes per ring: room for every record one publish makes */
    SETTLE_ROUNDS_MAX = 8, /* publish → forward → acknowledge takes three */
    MESSAGES = 300,        /* a multiple of 2, 3 and 6: rotations end on whole cycles */
};

struct test_sub {
    struct route_sub route; /* first */
    int received;
    int statuses;
    int expired;
    bool refuse;
    uint32_t payload_length; /* of the last message */
    char payload_first;
    char payload_last;
};

static bool test_deliver(struct shard *shard, struct route_sub *route, const struct route_msg *msg,
                         bool status)
{
    struct test_sub *sub = (struct test_sub *)route;
    if (sub->refuse) {
        return false;
    }
    if (status) {
        sub->statuses++;
    } else {
        sub->received++;
    }
    sub->payload_length = msg->payload.length;
    if (msg->payload.length > 0) {
        sub->payload_first = msg->payload.data[0];
        sub->payload_last = msg->payload.data[msg->payload.length - 1];
    }
    return true;
}

static void test_expire(struct shard *shard, struct route_sub *route)
{
    ((struct test_sub *)route)->expired++;
    route_sub_remove(shard, route);
}

static const struct route_sub_ops test_ops = {.deliver = test_deliver, .expire = test_expire};

/* ---- three shards and their rings ---- */

static struct shard_fixture fx; /* static storage: the links' 128-byte alignment holds */
static struct shard **const shards = fx.shards;

static void shards_setup(void)
{
    shard_fixture_init(&fx, SHARD_COUNT, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
}

static void shards_teardown(void)
{
    for (int s = 0; s < SHARD_COUNT; s++) {
        /* every test settles what it sent */
        ck_assert(!xshard_inbound_pending(&shards[s]->xshard));
    }
    for (int i = 0; i < SHARD_COUNT * SHARD_COUNT; i++) {
        ck_assert_ptr_null(fx.links[i].overflow_head);
    }
    shard_fixture_free(&fx);
}

/* What the shards' loops would do between client operations: publish every ring, then
 * drain every shard (announcements applied, forwarded publishes delivered, acknowledgements
 * queued), until a round finds nothing in flight. */
static void settle(void)
{
    for (int round = 0; round < SETTLE_ROUNDS_MAX; round++) {
        bool moving = false;
        for (int s = 0; s < SHARD_COUNT; s++) {
            moving |= xshard_flush(&shards[s]->xshard);
        }
        for (int s = 0; s < SHARD_COUNT; s++) {
            moving |= xshard_inbound_pending(&shards[s]->xshard);
        }
        if (!moving) {
            return;
        }
        for (int s = 0; s < SHARD_COUNT; s++) {
            xshard_drain(&shards[s]->xshard);
        }
    }
    ck_abort_msg("cross-shard records still in flight after %d rounds", SETTLE_ROUNDS_MAX);
}

/* Subscribes on shard `s`, and lets every other shard learn of it. */
static void sub_add(int s, struct test_sub *sub, const char *subject, const char *queue,
                    const void *owner)
{
    memset(sub, 0, sizeof *sub);
    sub->route.sub.subject = subject;
    sub->route.sub.subject_length = (uint32_t)strlen(subject);
    if (queue != NULL) {
        sub->route.sub.queue = queue;
        sub->route.sub.queue_length = (uint32_t)strlen(queue);
    }
    sub->route.ops = &test_ops;
    sub->route.owner = owner;
    ck_assert_int_eq(route_sub_add(shards[s], &sub->route), 0);
    settle();
}

static void publish_on(int s, const struct route_publisher *publisher, const char *subject,
                       const char *reply, const char *payload, uint32_t payload_length)
{
    struct route_msg msg = {
        .subject = {.data = subject, .length = (uint32_t)strlen(subject)},
        .reply = {.data = reply ? reply : "", .length = reply ? (uint32_t)strlen(reply) : 0},
        .payload = {.data = payload, .length = payload_length},
    };
    route_publish(shards[s], publisher, &msg);
    settle();
}

static void publish(int s, const struct route_publisher *publisher, const char *subject)
{
    publish_on(s, publisher, subject, NULL, "x", 1);
}

/* Whether shard `s` holds an announcement of (subject, queue) from `origin`. */
static bool remote_knows(int s, int origin, const char *subject, const char *queue)
{
    const struct sublist_result *result =
        interest_remote_match(&shards[s]->interest, subject, strlen(subject));
    for (uint32_t g = 0; g < result->group_count; g++) {
        const struct sublist_queue_group *group = &result->groups[g];
        for (uint32_t m = 0; m < group->member_count; m++) {
            const struct remote_interest *r = (const struct remote_interest *)group->members[m];
            if (r->origin == origin && queue != NULL && group->name_length == strlen(queue) &&
                memcmp(group->name, queue, group->name_length) == 0) {
                return true;
            }
        }
    }
    for (uint32_t i = 0; i < result->plain_count; i++) {
        const struct remote_interest *r = (const struct remote_interest *)result->plain[i];
        if (r->origin == origin && queue == NULL) {
            return true;
        }
    }
    return false;
}

static const struct route_publisher server_publisher = {.echo = true};

/* ---- tests ---- */

/* One delivery per message for the group, wherever it is published; the publishing shard
 * rotates over the shards that have members, so each shard gets an equal share however
 * many members it has, and a plain subscriber elsewhere still gets everything. */
START_TEST(test_group_rotates_over_shards)
{
    struct test_sub m0 = {0}, m1a = {0}, m1b = {0}, m2 = {0}, plain2 = {0};
    sub_add(0, &m0, "work", "g", &m0);
    sub_add(1, &m1a, "work", "g", &m1a);
    sub_add(1, &m1b, "*", "g", &m1b); /* a wildcard member of the same group */
    sub_add(2, &m2, "work", "g", &m2);
    sub_add(2, &plain2, "work", NULL, &plain2);
    ck_assert(remote_knows(0, 1, "work", "g"));
    ck_assert(remote_knows(1, 2, "work", "g"));
    for (int s = 0; s < SHARD_COUNT; s++) {
        for (int m = 0; m < MESSAGES; m++) {
            publish(s, &server_publisher, "work");
        }
        int total = (s + 1) * MESSAGES;
        ck_assert_int_eq(m0.received + m1a.received + m1b.received + m2.received, total);
        ck_assert_int_eq(m0.received, total / 3);
        ck_assert_int_eq(m1a.received + m1b.received, total / 3);
        ck_assert_int_eq(m2.received, total / 3);
        ck_assert_int_eq(plain2.received, total);
    }
    ck_assert_int_gt(m1a.received, 0); /* shard 1 spreads its share over its members */
    ck_assert_int_gt(m1b.received, 0);
    ck_assert_uint_gt(shards[0]->xshard.stats.sent, 0);
    ck_assert_uint_eq(shards[0]->xshard.stats.no_memory, 0);
}
END_TEST

/* A group on other shards only: the publisher's shard rotates over them. */
START_TEST(test_group_elsewhere_only)
{
    struct test_sub m1 = {0}, m2 = {0};
    sub_add(1, &m1, "jobs.>", "workers", &m1);
    sub_add(2, &m2, "jobs.eu", "workers", &m2);
    for (int m = 0; m < MESSAGES; m++) {
        publish(0, &server_publisher, "jobs.eu");
    }
    ck_assert_int_eq(m1.received, MESSAGES / 2);
    ck_assert_int_eq(m2.received, MESSAGES / 2);
    publish(0, &server_publisher, "jobs.us"); /* only shard 1's pattern matches */
    ck_assert_int_eq(m1.received, MESSAGES / 2 + 1);
}
END_TEST

/* The shard pick and the member pick rotate on cursors of their own: with one, the local
 * turns would fall in step with the member turns, one local member would take every local
 * message and the other shard would starve. */
START_TEST(test_shard_and_member_rotations_independent)
{
    struct test_sub local_a = {0}, local_b = {0}, remote = {0};
    sub_add(0, &local_a, "t", "g", &local_a);
    sub_add(0, &local_b, "t", "g", &local_b);
    sub_add(1, &remote, "t", "g", &remote);
    for (int m = 0; m < MESSAGES; m++) {
        publish(0, &server_publisher, "t");
    }
    ck_assert_int_eq(remote.received, MESSAGES / 2);
    ck_assert_int_eq(local_a.received, MESSAGES / 4);
    ck_assert_int_eq(local_b.received, MESSAGES / 4);
}
END_TEST

/* echo:false: when the local pick finds only the publisher's own member, another shard's
 * member gets the message instead of nobody; a request served that way gets no 503. */
START_TEST(test_group_fallback_echo)
{
    int publisher_owner = 0;
    struct test_sub own = {0}, other = {0}, inbox = {0};
    sub_add(0, &own, "e", "g", &publisher_owner);
    sub_add(1, &other, "e", "g", &other);
    sub_add(0, &inbox, "_INBOX.p.*", NULL, &publisher_owner);
    struct route_publisher no_echo = {
        .owner = &publisher_owner, .echo = false, .no_responders = true};
    for (int m = 0; m < MESSAGES; m++) {
        publish_on(0, &no_echo, "e", "_INBOX.p.1", "x", 1);
    }
    ck_assert_int_eq(own.received, 0);
    ck_assert_int_eq(other.received, MESSAGES);
    ck_assert_int_eq(inbox.statuses, 0);
    /* with echo the two shards share */
    struct route_publisher echo = {.owner = &publisher_owner, .echo = true};
    for (int m = 0; m < MESSAGES; m++) {
        publish(0, &echo, "e");
    }
    ck_assert_int_eq(own.received, MESSAGES / 2);
    ck_assert_int_eq(other.received, MESSAGES + MESSAGES / 2);
}
END_TEST

/* A closing local member: the other shards' members take its turns, every message once,
 * and the fallback rotates too, so they share its turns evenly (not all to the first). */
START_TEST(test_group_fallback_closing)
{
    struct test_sub closing = {0}, m1 = {0}, m2 = {0};
    sub_add(0, &closing, "c", "g", &closing);
    sub_add(1, &m1, "c", "g", &m1);
    sub_add(2, &m2, "c", "g", &m2);
    closing.refuse = true;
    for (int m = 0; m < MESSAGES; m++) {
        publish(0, &server_publisher, "c");
    }
    ck_assert_int_eq(closing.received, 0);
    ck_assert_int_eq(m1.received + m2.received, MESSAGES);
    ck_assert_int_eq(m1.received, MESSAGES / 2);
    ck_assert_int_eq(m2.received, MESSAGES / 2);
}
END_TEST

/* A local member at its auto-unsubscribe limit whose removal is still pending (as when the
 * removal list could not grow) takes nothing more: the other shard gets its turns. And a
 * member reaching its limit is removed once, its shard's interest withdrawn everywhere. */
START_TEST(test_group_fallback_at_limit)
{
    struct test_sub spent = {0}, fresh = {0}, m1 = {0};
    sub_add(0, &spent, "l", "g", &spent);
    sub_add(1, &m1, "l", "g", &m1);
    spent.route.max_msgs = 2;
    spent.route.delivered = 2;
    for (int m = 0; m < MESSAGES; m++) {
        publish(0, &server_publisher, "l");
    }
    ck_assert_int_eq(spent.received, 0);
    ck_assert_int_eq(m1.received, MESSAGES);
    route_sub_remove(shards[0], &spent.route);
    settle();
    ck_assert(!remote_knows(1, 0, "l", "g"));

    sub_add(0, &fresh, "l", "g", &fresh);
    fresh.route.max_msgs = 1;
    ck_assert(remote_knows(1, 0, "l", "g"));
    for (int m = 0; m < MESSAGES; m++) {
        publish(0, &server_publisher, "l");
    }
    ck_assert_int_eq(fresh.received, 1);
    ck_assert_int_eq(fresh.expired, 1);
    ck_assert_int_eq(m1.received, 2 * MESSAGES - 1);
    ck_assert(!remote_knows(1, 0, "l", "g"));
    ck_assert(!remote_knows(2, 0, "l", "g"));
}
END_TEST

/* Two groups and plain subscribers on one subject, spread differently: each group gets
 * each message once, whichever shard it is published on, so a forwarded publish names only
 * the groups its target was picked for. */
START_TEST(test_groups_each_once)
{
    struct test_sub a0 = {0}, a1 = {0}, b1 = {0}, b2 = {0}, plain0 = {0}, plain1 = {0};
    sub_add(0, &a0, "s", "a", &a0);
    sub_add(1, &a1, "s", "a", &a1);
    sub_add(1, &b1, "s", "b", &b1);
    sub_add(2, &b2, "s", "b", &b2);
    sub_add(0, &plain0, "s", NULL, &plain0);
    sub_add(1, &plain1, ">", NULL, &plain1);
    for (int s = 0; s < SHARD_COUNT; s++) {
        for (int m = 0; m < MESSAGES; m++) {
            publish(s, &server_publisher, "s");
        }
    }
    ck_assert_int_eq(a0.received + a1.received, SHARD_COUNT * MESSAGES);
    ck_assert_int_eq(b1.received + b2.received, SHARD_COUNT * MESSAGES);
    ck_assert_int_eq(plain0.received, SHARD_COUNT * MESSAGES);
    ck_assert_int_eq(plain1.received, SHARD_COUNT * MESSAGES);
    ck_assert_int_gt(a0.received, 0);
    ck_assert_int_gt(a1.received, 0);
    ck_assert_int_gt(b1.received, 0);
    ck_assert_int_gt(b2.received, 0);
}
END_TEST

/* A message too large to copy into a ring travels in a block by reference, group names
 * and all, and arrives whole. */
START_TEST(test_large_message_to_group)
{
    enum { LARGE_SIZE = XSHARD_INLINE_BYTES_MAX + 1000 };
    char *payload = malloc(LARGE_SIZE);
    ck_assert_ptr_nonnull(payload);
    memset(payload, 'm', LARGE_SIZE);
    payload[0] = 'a';
    payload[LARGE_SIZE - 1] = 'z';
    struct test_sub m1 = {0}, m2 = {0};
    sub_add(1, &m1, "big", "g", &m1);
    sub_add(2, &m2, "big", "g", &m2);
    for (int m = 0; m < 4; m++) {
        publish_on(0, &server_publisher, "big", NULL, payload, LARGE_SIZE);
    }
    ck_assert_int_eq(m1.received, 2);
    ck_assert_int_eq(m2.received, 2);
    ck_assert_uint_eq(m1.payload_length, LARGE_SIZE);
    ck_assert_int_eq(m1.payload_first, 'a');
    ck_assert_int_eq(m1.payload_last, 'z');
    ck_assert_uint_eq(m2.payload_length, LARGE_SIZE);
    free(payload);
}
END_TEST

static Suite *route_shards_suite(void)
{
    Suite *suite = suite_create("route_shards");
    TCase *tc = tcase_create("groups");
    tcase_add_checked_fixture(tc, shards_setup, shards_teardown);
    tcase_add_test(tc, test_group_rotates_over_shards);
    tcase_add_test(tc, test_group_elsewhere_only);
    tcase_add_test(tc, test_shard_and_member_rotations_independent);
    tcase_add_test(tc, test_group_fallback_echo);
    tcase_add_test(tc, test_group_fallback_closing);
    tcase_add_test(tc, test_group_fallback_at_limit);
    tcase_add_test(tc, test_groups_each_once);
    tcase_add_test(tc, test_large_message_to_group);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(route_shards_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
