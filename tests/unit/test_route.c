/* Unit tests for routing (route.c), server-side subscribers (service.c) and the deferred
 * queue their handlers run from (deferred.c), on one shard built by hand: no loop, no
 * sockets. Subscribers are test records with their own deliver handler, so what routing
 * hands each of them is counted exactly.
 *
 * Routing across shards (the group pick over shards, its fallback, forwarding) is in
 * test_route_shards.c, on three hand-built shards joined by real rings. */
#include "engine/deferred.h"
#include "engine/route.h"
#include "engine/service.h"
#include "engine/shard.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TEXT_MAX = 128 };

struct test_sub {
    struct route_sub route; /* first */
    int received;
    int statuses;
    int expired;
    bool refuse;
    char subject[TEXT_MAX];
    char reply[TEXT_MAX];
    char payload[TEXT_MAX];
    uint32_t header_length;
};

static void copy_slice(char *target, struct proto_slice slice)
{
    ck_assert_uint_lt(slice.length, TEXT_MAX);
    if (slice.length > 0) {
        memcpy(target, slice.data, slice.length);
    }
    target[slice.length] = '\0';
}

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
    copy_slice(sub->subject, msg->subject);
    copy_slice(sub->reply, msg->reply);
    copy_slice(sub->payload, msg->payload);
    sub->header_length = msg->header_length;
    return true;
}

static void test_expire(struct shard *shard, struct route_sub *route)
{
    struct test_sub *sub = (struct test_sub *)route;
    sub->expired++;
    route_sub_remove(shard, route);
}

static const struct route_sub_ops test_ops = {.deliver = test_deliver, .expire = test_expire};

static struct shard *shard;

static void shard_setup(void)
{
    shard = calloc(1, sizeof *shard);
    ck_assert_ptr_nonnull(shard);
    shard->shard_count = 1;
    shard->sublist = sublist_create(0x5eed);
    ck_assert_ptr_nonnull(shard->sublist);
    deferred_init(&shard->deferred, 1 << 20);
}

static void shard_teardown(void)
{
    deferred_destroy(&shard->deferred);
    sublist_destroy(shard->sublist);
    free(shard->removals);
    free(shard);
    shard = NULL;
}

static void sub_init(struct test_sub *sub, const char *subject, const char *queue,
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
    ck_assert_int_eq(route_sub_add(shard, &sub->route), 0);
}

static struct route_msg msg_make(const char *subject, const char *reply, const char *payload)
{
    struct route_msg msg = {
        .subject = {.data = subject, .length = (uint32_t)strlen(subject)},
        .reply = {.data = reply ? reply : "", .length = reply ? (uint32_t)strlen(reply) : 0},
        .payload = {.data = payload, .length = (uint32_t)strlen(payload)},
    };
    return msg;
}

static void publish(const struct route_publisher *publisher, const char *subject,
                    const char *reply, const char *payload)
{
    struct route_msg msg = msg_make(subject, reply, payload);
    route_publish(shard, publisher, &msg);
}

static const struct route_publisher server_publisher = {.echo = true};

START_TEST(test_plain_and_wildcards)
{
    struct test_sub literal = {0}, star = {0}, tail = {0}, other = {0};
    sub_init(&literal, "orders.new", NULL, &literal);
    sub_init(&star, "orders.*", NULL, &star);
    sub_init(&tail, "orders.>", NULL, &tail);
    sub_init(&other, "payments.>", NULL, &other);
    publish(&server_publisher, "orders.new", NULL, "a");
    publish(&server_publisher, "orders.eu.new", NULL, "b");
    ck_assert_int_eq(literal.received, 1);
    ck_assert_int_eq(star.received, 1);
    ck_assert_int_eq(tail.received, 2);
    ck_assert_int_eq(other.received, 0);
    ck_assert_str_eq(tail.subject, "orders.eu.new");
    ck_assert_str_eq(tail.payload, "b");
    ck_assert_uint_eq(shard->stats.out_msgs, 4);
}
END_TEST

/* One delivery per group per message, spread over the members; a member that cannot take
 * a message is skipped, never the message lost. */
START_TEST(test_queue_group_one_each)
{
    enum { MESSAGES = 300 };
    struct test_sub members[3] = {0};
    struct test_sub plain = {0};
    for (int i = 0; i < 3; i++) {
        sub_init(&members[i], "work.*", "g", &members[i]);
    }
    sub_init(&plain, "work.*", NULL, &plain);
    members[1].refuse = true;
    for (int m = 0; m < MESSAGES; m++) {
        publish(&server_publisher, "work.a", NULL, "x");
    }
    ck_assert_int_eq(members[0].received + members[1].received + members[2].received, MESSAGES);
    ck_assert_int_eq(members[1].received, 0);
    ck_assert_int_gt(members[0].received, MESSAGES / 4);
    ck_assert_int_gt(members[2].received, MESSAGES / 4);
    ck_assert_int_eq(plain.received, MESSAGES);
}
END_TEST

/* echo:false keeps a publisher's own subscriptions out, in groups too. */
START_TEST(test_echo)
{
    int publisher_owner = 0;
    struct test_sub own = {0}, own_member = {0}, someone = {0};
    sub_init(&own, "e.x", NULL, &publisher_owner);
    sub_init(&own_member, "e.x", "g", &publisher_owner);
    sub_init(&someone, "e.x", NULL, &someone);
    struct route_publisher no_echo = {.owner = &publisher_owner, .echo = false};
    publish(&no_echo, "e.x", NULL, "1");
    ck_assert_int_eq(own.received, 0);
    ck_assert_int_eq(own_member.received, 0);
    ck_assert_int_eq(someone.received, 1);
    struct route_publisher echo = {.owner = &publisher_owner, .echo = true};
    publish(&echo, "e.x", NULL, "2");
    ck_assert_int_eq(own.received, 1);
    ck_assert_int_eq(own_member.received, 1);
}
END_TEST

/* A request nobody takes gets a 503 status on the requester's own reply subscription. */
START_TEST(test_no_responders)
{
    int requester = 0;
    struct test_sub inbox = {0}, stranger_inbox = {0};
    sub_init(&inbox, "_INBOX.r.*", NULL, &requester);
    sub_init(&stranger_inbox, "_INBOX.>", NULL, &stranger_inbox);
    struct route_publisher request = {.owner = &requester, .echo = true, .no_responders = true};
    publish(&request, "nobody.home", "_INBOX.r.1", "ping");
    ck_assert_int_eq(inbox.statuses, 1);
    ck_assert_int_eq(inbox.received, 0);
    ck_assert_str_eq(inbox.subject, "_INBOX.r.1");
    ck_assert_str_eq(inbox.payload, "NATS/1.0 503\r\n\r\n");
    ck_assert_uint_eq(inbox.header_length, 16);
    ck_assert_int_eq(stranger_inbox.statuses, 0);
    /* without no_responders, or without a reply, nothing */
    request.no_responders = false;
    publish(&request, "nobody.home", "_INBOX.r.2", "ping");
    request.no_responders = true;
    publish(&request, "nobody.home", NULL, "ping");
    ck_assert_int_eq(inbox.statuses, 1);
    /* a refusing member is not a responder */
    struct test_sub closing = {0};
    sub_init(&closing, "closing", NULL, &closing);
    closing.refuse = true;
    publish(&request, "closing", "_INBOX.r.3", "ping");
    ck_assert_int_eq(inbox.statuses, 2);
}
END_TEST

/* Auto-unsubscribe: exactly max_msgs delivered, then removed once, after the walk. */
START_TEST(test_max_msgs)
{
    struct test_sub sub = {0}, group_sub = {0};
    sub_init(&sub, "m", NULL, &sub);
    sub_init(&group_sub, "m", "g", &group_sub);
    sub.route.max_msgs = 2;
    group_sub.route.max_msgs = 1;
    for (int i = 0; i < 5; i++) {
        publish(&server_publisher, "m", NULL, "x");
    }
    ck_assert_int_eq(sub.received, 2);
    ck_assert_int_eq(sub.expired, 1);
    ck_assert_int_eq(group_sub.received, 1);
    ck_assert_int_eq(group_sub.expired, 1);
}
END_TEST

/* ---- server-side subscribers ---- */

struct echo_service {
    int calls;
    char last_payload[TEXT_MAX];
    uint32_t last_header_length;
    struct service_sub *self;
    bool unsubscribe_self;
};

/* Replies "re:<payload>" to the message's reply subject, as a request handler does. */
static void echo_handler(struct shard *home, void *context, const struct route_msg *msg)
{
    struct echo_service *service = context;
    service->calls++;
    copy_slice(service->last_payload, msg->payload);
    service->last_header_length = msg->header_length;
    if (msg->reply.length > 0) {
        char body[TEXT_MAX + 8];
        int length = snprintf(body, sizeof body, "re:%.*s", (int)msg->payload.length,
                              msg->payload.data);
        struct route_msg reply = {
            .subject = msg->reply,
            .payload = {.data = body, .length = (uint32_t)length},
        };
        service_publish(home, &reply);
    }
    if (service->unsubscribe_self) {
        service_unsubscribe(home, service->self);
    }
}

START_TEST(test_service_request_reply)
{
    struct echo_service service = {0};
    int error;
    service.self = service_subscribe(shard, "svc.echo.*", NULL, echo_handler, &service, &error);
    ck_assert_ptr_nonnull(service.self);
    int requester = 0;
    struct test_sub inbox = {0};
    sub_init(&inbox, "_INBOX.q.>", NULL, &requester);
    struct route_publisher request = {.owner = &requester, .echo = true, .no_responders = true};
    publish(&request, "svc.echo.a", "_INBOX.q.1", "hello");
    /* delivered, not yet handled: the handler runs between walks */
    ck_assert_int_eq(service.calls, 0);
    ck_assert_int_eq(inbox.statuses, 0); /* a service is a responder: no 503 */
    ck_assert(deferred_pending(&shard->deferred));
    ck_assert(!deferred_run(&shard->deferred, 100));
    ck_assert_int_eq(service.calls, 1);
    ck_assert_str_eq(service.last_payload, "hello");
    ck_assert_int_eq(inbox.received, 1);
    ck_assert_str_eq(inbox.subject, "_INBOX.q.1");
    ck_assert_str_eq(inbox.payload, "re:hello");
    service_unsubscribe(shard, service.self);
    publish(&request, "svc.echo.a", "_INBOX.q.2", "again");
    ck_assert_int_eq(inbox.statuses, 1); /* gone: now nobody responds */
    ck_assert(!deferred_pending(&shard->deferred));
}
END_TEST

/* Header blocks reach a service whole, with their length. */
START_TEST(test_service_headers)
{
    struct echo_service service = {0};
    int error;
    service.self = service_subscribe(shard, "h", NULL, echo_handler, &service, &error);
    ck_assert_ptr_nonnull(service.self);
    static const char hmsg[] = "NATS/1.0\r\nA: b\r\n\r\nbody";
    struct route_msg msg = msg_make("h", NULL, hmsg);
    msg.header_length = 18;
    route_publish(shard, &server_publisher, &msg);
    deferred_run(&shard->deferred, 100);
    ck_assert_int_eq(service.calls, 1);
    ck_assert_str_eq(service.last_payload, hmsg);
    ck_assert_uint_eq(service.last_header_length, 18);
    service_unsubscribe(shard, service.self);
}
END_TEST

/* Services and clients share queue groups. */
START_TEST(test_service_in_queue_group)
{
    enum { MESSAGES = 100 };
    struct echo_service service = {0};
    int error;
    service.self = service_subscribe(shard, "jobs", "workers", echo_handler, &service, &error);
    ck_assert_ptr_nonnull(service.self);
    struct test_sub client = {0};
    sub_init(&client, "jobs", "workers", &client);
    for (int m = 0; m < MESSAGES; m++) {
        publish(&server_publisher, "jobs", NULL, "j");
    }
    deferred_run(&shard->deferred, MESSAGES);
    ck_assert_int_eq(service.calls + client.received, MESSAGES);
    ck_assert_int_gt(service.calls, 0);
    ck_assert_int_gt(client.received, 0);
    service_unsubscribe(shard, service.self);
}
END_TEST

/* Unsubscribing with deliveries queued drops them; ending itself from its handler is safe. */
START_TEST(test_service_unsubscribe_pending)
{
    struct echo_service service = {0};
    int error;
    service.self = service_subscribe(shard, "p", NULL, echo_handler, &service, &error);
    for (int i = 0; i < 3; i++) {
        publish(&server_publisher, "p", NULL, "x");
    }
    service_unsubscribe(shard, service.self);
    deferred_run(&shard->deferred, 100);
    ck_assert_int_eq(service.calls, 0); /* ASan: the record is freed after the last drop */
    struct echo_service once = {.unsubscribe_self = true};
    once.self = service_subscribe(shard, "once", NULL, echo_handler, &once, &error);
    for (int i = 0; i < 3; i++) {
        publish(&server_publisher, "once", NULL, "x");
    }
    deferred_run(&shard->deferred, 100);
    ck_assert_int_eq(once.calls, 1);
}
END_TEST

START_TEST(test_service_subscribe_invalid)
{
    int error = 0;
    struct echo_service service = {0};
    ck_assert_ptr_null(service_subscribe(shard, "a..b", NULL, echo_handler, &service, &error));
    ck_assert_int_eq(error, -EINVAL);
    ck_assert_ptr_null(service_subscribe(shard, "a", "q.*", echo_handler, &service, &error));
    ck_assert_int_eq(error, -EINVAL);
    ck_assert_ptr_null(service_subscribe(shard, "", NULL, echo_handler, &service, &error));
}
END_TEST

/* ---- the deferred queue ---- */

static int order_seen[64];
static int order_count;

static void order_fn(void *target, const struct route_msg *msg)
{
    ck_assert_int_lt(order_count, 64);
    order_seen[order_count++] = (int)(intptr_t)target;
    /* pushing from a handler lands in the next batch, never moves this one */
    if ((intptr_t)target == 2) {
        struct route_msg more = msg_make("later", NULL, "y");
        ck_assert_int_eq(deferred_push(&shard->deferred, order_fn, (void *)(intptr_t)100, &more),
                         0);
    }
    ck_assert_uint_eq(msg->payload.length, 1);
}

START_TEST(test_deferred_order_budget_bound)
{
    order_count = 0;
    for (intptr_t i = 0; i < 5; i++) {
        struct route_msg msg = msg_make("s", "r", "x");
        ck_assert_int_eq(deferred_push(&shard->deferred, order_fn, (void *)i, &msg), 0);
    }
    ck_assert(deferred_run(&shard->deferred, 3)); /* budget: 3 run, the rest wait */
    ck_assert_int_eq(order_count, 3);
    ck_assert(!deferred_run(&shard->deferred, 100));
    ck_assert_int_eq(order_count, 6);
    int expected[] = {0, 1, 2, 3, 4, 100};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(order_seen[i], expected[i]);
    }
    /* bounded: a push past bytes_max is refused and counted */
    struct deferred small;
    deferred_init(&small, 256);
    char big[300];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct route_msg msg = msg_make("s", NULL, big);
    struct route_msg tiny = msg_make("s", NULL, "t");
    ck_assert_int_eq(deferred_push(&small, order_fn, NULL, &tiny), 0);
    ck_assert_int_eq(deferred_push(&small, order_fn, NULL, &msg), -ENOBUFS);
    ck_assert_uint_eq(small.refused, 1);
    /* an empty queue takes one record of any size (a message of --max_payload) */
    order_count = 0;
    ck_assert(!deferred_run(&small, 10));
    ck_assert_int_eq(order_count, 1);
    ck_assert_int_eq(deferred_push(&small, order_fn, NULL, &msg), 0);
    ck_assert(deferred_pending(&small));
    deferred_destroy(&small);
}
END_TEST

static Suite *route_suite(void)
{
    Suite *suite = suite_create("route");
    TCase *tc = tcase_create("route");
    tcase_add_checked_fixture(tc, shard_setup, shard_teardown);
    tcase_add_test(tc, test_plain_and_wildcards);
    tcase_add_test(tc, test_queue_group_one_each);
    tcase_add_test(tc, test_echo);
    tcase_add_test(tc, test_no_responders);
    tcase_add_test(tc, test_max_msgs);
    suite_add_tcase(suite, tc);
    tc = tcase_create("service");
    tcase_add_checked_fixture(tc, shard_setup, shard_teardown);
    tcase_add_test(tc, test_service_request_reply);
    tcase_add_test(tc, test_service_headers);
    tcase_add_test(tc, test_service_in_queue_group);
    tcase_add_test(tc, test_service_unsubscribe_pending);
    tcase_add_test(tc, test_service_subscribe_invalid);
    tcase_add_test(tc, test_deferred_order_budget_bound);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(route_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
