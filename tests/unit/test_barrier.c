/* Unit tests for the PONG barrier (engine/barrier.c): a client's PING is answered only once
 * every other shard has applied the interest announcements (SUB, UNSUB) its shard made
 * before the PING. What barrier.c promises and these tests hold it to:
 *   - with nothing outstanding, the PONG goes out at once;
 *   - otherwise it goes out when the last other shard's acknowledgement of the announcements
 *     made up to the PING arrives, not before, and exactly once;
 *   - a PING waits for the announcements made before it only: one made after it, by any
 *     connection of the shard, does not hold it back (the FIFO records the sequence at the
 *     PING);
 *   - announcements are the shard's: a PING waits for those another connection of its
 *     shard made too;
 *   - held PONGs go out in the order of their PINGs;
 *   - a connection that goes away while its PONG is held gets nothing, and neither does a
 *     new connection in its slot; later PONGs still go out;
 *   - the FIFO keeps its order when it grows while wrapped around, and is bounded: the
 *     connection that fills it is paused;
 *   - a shard that starts after another has clients acknowledges the announcements its
 *     start applies by itself (shard_start_drain), without waiting for a turn.
 *
 * Two or three shards built by hand in one thread, joined by real cross-shard rings
 * (xshard.c), as in test_route_shards.c: no loop, no sockets, no io_uring. The tests play
 * the loops' turns one step at a time — xshard_flush publishes a shard's rings,
 * xshard_drain applies what reached a shard and queues its acknowledgements — so each can
 * look at the client's output between the steps. Clients are of the real client kind
 * (client.h), fed protocol text through its receive handler, so PING takes the path it
 * takes in the broker; their output is read from conn->out, where the loop's flush would
 * take it. */
#include "base/clock.h"
#include "base/spsc.h"
#include "engine/client.h"
#include "engine/config.h"
#include "engine/conn.h"
#include "engine/interest.h"
#include "engine/route.h"
#include "engine/server.h"
#include "engine/shard.h"
#include "engine/xshard.h"
#include "tests/unit/shard_fixture.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SHARDS_MAX = 3,
    RING_SIZE = 1 << 16,   /* bytes per ring: no record in these tests ever waits in overflow */
    SETTLE_ROUNDS_MAX = 8, /* announce → apply → acknowledge takes two */
    OUTPUT_MAX = 4096,     /* bytes of one client's output the tests read at once */
    /* the FIFO starts with room for 16 (barrier.c); more than that, past a wrap-around */
    GROW_FIRST = 10,
    GROW_SECOND = 20,
    GROW_PARTIAL = 8, /* of GROW_SECOND: acknowledged before the rest, across the wrap */
};

static const char PONG[] = "PONG\r\n";
static const size_t PONG_LENGTH = sizeof PONG - 1;

static struct shard_fixture fx; /* static storage: the links' 128-byte alignment holds */
static uint64_t conn_id_next;

/* `count` shards, each pair joined by a ring; default settings. */
static void fixture_init(int count)
{
    ck_assert_int_le(count, SHARDS_MAX);
    shard_fixture_init(&fx, count, RING_SIZE, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    conn_id_next = 0;
}

/* ---- the loops' steps ---- */

/* Shard `s` publishes its rings (end of its turn). */
static void publish(int s)
{
    ck_assert(!xshard_flush(&fx.shards[s]->xshard)); /* nothing waits in overflow */
}

/* Shard `s` handles what reached it: applies announcements, queues their acknowledgements,
 * and takes acknowledgements of its own (releasing held PONGs). */
static void drain(int s)
{
    ck_assert(!xshard_drain(&fx.shards[s]->xshard)); /* nothing left over for a later turn */
}

/* What the loops do until nothing is in flight: publish every ring, drain every shard. */
static void settle(void)
{
    for (int round = 0; round < SETTLE_ROUNDS_MAX; round++) {
        bool moving = false;
        for (int s = 0; s < fx.shard_count; s++) {
            moving |= xshard_flush(&fx.shards[s]->xshard);
        }
        for (int s = 0; s < fx.shard_count; s++) {
            moving |= xshard_inbound_pending(&fx.shards[s]->xshard);
        }
        if (!moving) {
            return;
        }
        for (int s = 0; s < fx.shard_count; s++) {
            xshard_drain(&fx.shards[s]->xshard);
        }
    }
    ck_abort_msg("cross-shard records still in flight after %d rounds", SETTLE_ROUNDS_MAX);
}

/* ---- clients ---- */

/* The loop's flush, without the send: takes every connection of shard `s` off the flush
 * list. Before a connection is freed, so that the list never names freed memory. */
static void flush_list_clear(int s)
{
    struct conn_table *table = &fx.shards[s]->conns;
    for (int n = 0; table->flush_head != NULL; n++) {
        ck_assert_int_lt(n, SHARD_FIXTURE_CONNS_MAX);
        struct conn *conn = table->flush_head;
        table->flush_head = conn->flush_next;
        conn->flush_next = NULL;
        conn->flags &= ~(uint32_t)CONN_F_FLUSH_QUEUED;
    }
}

/* Copies the client's output so far into `text` (NUL-terminated) and forgets it, as a send
 * would. */
static void output_take(struct conn *conn, char *text, size_t size)
{
    ck_assert_uint_lt(conn_pending_bytes(conn), size);
    size_t length = 0;
    while (conn_pending_bytes(conn) > 0) {
        struct iovec iov[CONN_SEND_IOV_MAX];
        size_t bytes;
        int count = outq_iov(&conn->out, iov, CONN_SEND_IOV_MAX, SIZE_MAX, &bytes);
        for (int i = 0; i < count; i++) {
            memcpy(text + length, iov[i].iov_base, iov[i].iov_len);
            length += iov[i].iov_len;
        }
        conn->send_length = bytes;
        conn_sent(conn, bytes);
    }
    text[length] = '\0';
}

/* How many PONGs the client was sent since the last look; its output must hold nothing
 * else (no -ERR, no +OK). */
static uint32_t pongs_take(struct conn *conn)
{
    size_t size = conn_pending_bytes(conn) + 1;
    char *text = malloc(size);
    ck_assert_ptr_nonnull(text);
    output_take(conn, text, size);
    size_t length = strlen(text);
    ck_assert_msg(length % PONG_LENGTH == 0, "unexpected output: %.200s", text);
    for (size_t at = 0; at < length; at += PONG_LENGTH) {
        ck_assert_msg(memcmp(text + at, PONG, PONG_LENGTH) == 0, "unexpected output: %.200s",
                      text);
    }
    free(text);
    return (uint32_t)(length / PONG_LENGTH);
}

/* Feeds protocol text to the client as one receive buffer. */
static void client_send(struct conn *conn, const char *text)
{
    ck_assert(!conn_ending(conn));
    conn->kind->receive(conn, text, strlen(text));
}

/* A client of the client kind on shard `s`, opened as the shard's accept would and
 * CONNECTed without +OK; its INFO is taken away. */
static struct conn *client_open(int s)
{
    struct shard *shard = fx.shards[s];
    struct conn *conn = conn_table_take(&shard->conns, &client_kind);
    ck_assert_ptr_nonnull(conn);
    conn->shard = shard;
    conn->id = ++conn_id_next;
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(4222)};
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(conn->kind->open(conn, (const struct sockaddr *)&peer), 0);
    char text[OUTPUT_MAX];
    output_take(conn, text, sizeof text);
    ck_assert_msg(strncmp(text, "INFO ", 5) == 0, "no INFO: %s", text);
    client_send(conn, "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    ck_assert_uint_eq(pongs_take(conn), 0);
    return conn;
}

/* Closes the client now (output not yet sent is dropped), leaving it on the closing list
 * as the loop does until nothing is in flight. */
static void client_close(struct conn *conn)
{
    conn_close(conn, "test");
}

/* What the loop's reaping does to a closed client: releases it (its subscriptions go, and
 * their removals are announced) and frees its slot for the next connection. */
static void client_reap(int s, struct conn *conn)
{
    struct shard *shard = fx.shards[s];
    ck_assert(conn->flags & CONN_F_CLOSING);
    flush_list_clear(s);
    struct conn **link = &shard->conns.close_head;
    while (*link != conn) {
        ck_assert_ptr_nonnull(*link);
        link = &(*link)->close_next;
    }
    *link = conn->close_next;
    conn->flags |= CONN_F_RELEASED;
    conn->kind->release(conn);
    conn_table_free(&shard->conns, conn);
}

/* Shard `s` publishes the last acknowledgement the client's held PONG waits for: shard 0
 * takes it and sends exactly one PONG, and no turn after sends another. */
static void pong_released_by(int s, struct conn *client)
{
    publish(s);
    drain(0);
    ck_assert_uint_eq(pongs_take(client), 1);
    settle();
    ck_assert_uint_eq(pongs_take(client), 0);
}

/* How many shards other than `s` know of interest in `subject`. */
static uint32_t remote_interest(int s, const char *subject)
{
    return interest_remote_match(&fx.shards[s]->interest, subject, strlen(subject))->plain_count;
}

static void fixture_free(void)
{
    for (int s = 0; s < fx.shard_count; s++) {
        struct shard *shard = fx.shards[s];
        flush_list_clear(s);
        shard->conns.close_head = NULL; /* every connection is freed below, closed or not */
        for (uint32_t i = 0; i < shard->conns.capacity; i++) {
            struct conn *conn = shard->conns.conns[i];
            if (conn != NULL) {
                if (!(conn->flags & CONN_F_RELEASED)) {
                    conn->flags |= CONN_F_RELEASED;
                    conn->kind->release(conn);
                }
                conn_table_free(&shard->conns, conn);
            }
        }
    }
    settle(); /* the removals the releases announced */
    for (int s = 0; s < fx.shard_count; s++) {
        /* every held PONG was released or dropped */
        ck_assert_uint_eq(fx.shards[s]->held_count, 0);
    }
    for (int i = 0; i < fx.shard_count * fx.shard_count; i++) {
        ck_assert_ptr_null(fx.links[i].overflow_head);
    }
    shard_fixture_free(&fx);
}

/* ---- (1) nothing outstanding: at once ---- */

/* A PING on a shard that has announced nothing gets its PONG at once, without a turn; so
 * does one after announcements every shard has acknowledged, and one after a SUB that
 * announces nothing (the subject had a subscriber on the shard already). */
START_TEST(test_pong_at_once)
{
    fixture_init(2);
    struct conn *client = client_open(0);
    client_send(client, "PING\r\n");
    ck_assert_uint_eq(pongs_take(client), 1);
    client_send(client, "PING\r\nPING\r\n");
    ck_assert_uint_eq(pongs_take(client), 2);
    ck_assert_uint_eq(fx.shards[0]->held_count, 0);

    client_send(client, "SUB foo 1\r\n");
    settle();
    ck_assert_uint_eq(fx.shards[0]->xshard.announce_sequence, 1);
    client_send(client, "PING\r\n");
    ck_assert_uint_eq(pongs_take(client), 1);

    client_send(client, "SUB foo 2\r\nPING\r\n"); /* foo has a local subscriber already */
    ck_assert_uint_eq(fx.shards[0]->xshard.announce_sequence, 1);
    ck_assert_uint_eq(pongs_take(client), 1);

    /* the other shard's own announcements hold nothing back here */
    struct conn *other = client_open(1);
    client_send(other, "SUB bar 1\r\n");
    client_send(client, "PING\r\n");
    ck_assert_uint_eq(pongs_take(client), 1);
    settle();
    ck_assert_uint_eq(pongs_take(client), 0);
    ck_assert_uint_eq(pongs_take(other), 0);
    fixture_free();
}
END_TEST

/* ---- (2) one SUB: after the other shard applied it and its acknowledgement is back ---- */

/* SUB then PING on shard 0: no PONG while the announcement is unpublished, published but
 * not applied by shard 1, applied but its acknowledgement unpublished, or published but not
 * taken by shard 0; one PONG once shard 0 takes it, and shard 1 knows the interest by then.
 * A publish on shard 1 after the PONG reaches the subscriber: the guarantee the barrier is
 * for. */
START_TEST(test_pong_after_ack)
{
    fixture_init(2);
    struct conn *client = client_open(0);
    client_send(client, "SUB foo 1\r\nPING\r\n");
    ck_assert_uint_eq(pongs_take(client), 0);
    ck_assert_uint_eq(fx.shards[0]->held_count, 1);
    drain(1); /* nothing published yet */
    drain(0);
    ck_assert_uint_eq(pongs_take(client), 0);
    publish(0);
    ck_assert_uint_eq(pongs_take(client), 0);
    ck_assert_uint_eq(remote_interest(1, "foo"), 0);
    drain(1);
    ck_assert_uint_eq(remote_interest(1, "foo"), 1);
    ck_assert_uint_eq(pongs_take(client), 0);
    drain(0); /* the acknowledgement is not published yet */
    ck_assert_uint_eq(pongs_take(client), 0);
    publish(1);
    ck_assert_uint_eq(pongs_take(client), 0);
    drain(0);
    ck_assert_uint_eq(pongs_take(client), 1);
    ck_assert_uint_eq(fx.shards[0]->held_count, 0);
    settle();
    ck_assert_uint_eq(pongs_take(client), 0); /* exactly one */

    struct conn *publisher = client_open(1);
    client_send(publisher, "PUB foo 2\r\nhi\r\n");
    settle();
    char text[OUTPUT_MAX];
    output_take(client, text, sizeof text);
    ck_assert_str_eq(text, "MSG foo 1 2\r\nhi\r\n");
    fixture_free();
}
END_TEST

/* An UNSUB is an announcement too: the PING after it waits until shard 1 has dropped the
 * interest. */
START_TEST(test_pong_after_unsub_ack)
{
    fixture_init(2);
    struct conn *client = client_open(0);
    client_send(client, "SUB foo 1\r\n");
    settle();
    ck_assert_uint_eq(remote_interest(1, "foo"), 1);
    client_send(client, "UNSUB 1\r\nPING\r\n");
    ck_assert_uint_eq(pongs_take(client), 0);
    publish(0);
    drain(1);
    ck_assert_uint_eq(remote_interest(1, "foo"), 0);
    ck_assert_uint_eq(pongs_take(client), 0);
    pong_released_by(1, client);
    fixture_free();
}
END_TEST

/* ---- (3) interleaved PINGs and SUBs: in order, each after its own announcements ---- */

/* Two clients on shard 0. Client a: SUB x, PING (p1, waits for announcement 1); the
 * shard publishes. Client b: SUB y, PING (p2, waits for 2); client a: PING (p3, waits for
 * 2, which b made: announcements are the shard's). Shard 1 applies only announcement 1
 * (2 is not published yet) and acknowledges it: p1 goes out, not p2 nor p3 — p1 does not
 * wait for the SUB made after it. Then 2 travels: p2 and p3 go out. Then a SUB and two
 * PINGs from one client in two rounds: each round's acknowledgement releases that round's
 * PONG only. */
START_TEST(test_pongs_in_order)
{
    fixture_init(2);
    struct conn *a = client_open(0);
    struct conn *b = client_open(0);
    client_send(a, "SUB x 1\r\nPING\r\n");
    publish(0);
    client_send(b, "SUB y 1\r\nPING\r\n");
    client_send(a, "PING\r\n");
    ck_assert_uint_eq(fx.shards[0]->xshard.announce_sequence, 2);
    ck_assert_uint_eq(fx.shards[0]->held_count, 3);
    drain(1);
    ck_assert_uint_eq(remote_interest(1, "x"), 1);
    ck_assert_uint_eq(remote_interest(1, "y"), 0);
    publish(1);
    drain(0);
    ck_assert_uint_eq(pongs_take(a), 1); /* p1 */
    ck_assert_uint_eq(pongs_take(b), 0);
    ck_assert_uint_eq(fx.shards[0]->held_count, 2);
    publish(0);
    drain(1);
    ck_assert_uint_eq(remote_interest(1, "y"), 1);
    ck_assert_uint_eq(pongs_take(a), 0);
    ck_assert_uint_eq(pongs_take(b), 0);
    publish(1);
    drain(0);
    ck_assert_uint_eq(pongs_take(a), 1); /* p3 */
    ck_assert_uint_eq(pongs_take(b), 1); /* p2 */
    ck_assert_uint_eq(fx.shards[0]->held_count, 0);

    /* one client, two rounds of SUB + PING, the second made before the first is acked */
    client_send(b, "SUB z1 2\r\nPING\r\n");
    publish(0);
    client_send(b, "SUB z2 3\r\nPING\r\n");
    drain(1);
    publish(1);
    drain(0);
    ck_assert_uint_eq(remote_interest(1, "z1"), 1);
    ck_assert_uint_eq(remote_interest(1, "z2"), 0);
    ck_assert_uint_eq(pongs_take(b), 1);
    publish(0);
    drain(1);
    publish(1);
    drain(0);
    ck_assert_uint_eq(pongs_take(b), 1);
    settle();
    ck_assert_uint_eq(pongs_take(a), 0);
    ck_assert_uint_eq(pongs_take(b), 0);
    fixture_free();
}
END_TEST

/* A PING from a client that announced nothing waits for what its shard announced before
 * it (another client's SUB), and goes out with the PONG held before it, not earlier. */
START_TEST(test_pong_not_overtaking)
{
    fixture_init(2);
    struct conn *a = client_open(0);
    struct conn *b = client_open(0);
    client_send(a, "SUB x 1\r\nPING\r\n");
    client_send(b, "PING\r\n");
    ck_assert_uint_eq(pongs_take(b), 0);
    publish(0);
    drain(1);
    ck_assert_uint_eq(pongs_take(b), 0);
    publish(1);
    drain(0);
    ck_assert_uint_eq(pongs_take(a), 1);
    ck_assert_uint_eq(pongs_take(b), 1);
    settle();
    fixture_free();
}
END_TEST

/* The FIFO grows while wrapped around (its head moved on when the first PONGs went out)
 * and keeps its order: an acknowledgement of the first GROW_PARTIAL announcements of the
 * second batch (held on both sides of the wrap, and moved by the growth) releases exactly
 * their PONGs; in the end each client has exactly one. */
START_TEST(test_fifo_grows_wrapped)
{
    fixture_init(2);
    struct conn *clients[GROW_FIRST + GROW_SECOND];
    char text[64];
    for (int i = 0; i < GROW_FIRST + GROW_SECOND; i++) {
        clients[i] = client_open(0);
    }
    for (int i = 0; i < GROW_FIRST; i++) {
        snprintf(text, sizeof text, "SUB s.%d 1\r\nPING\r\n", i);
        client_send(clients[i], text);
    }
    settle();
    for (int i = 0; i < GROW_FIRST; i++) {
        ck_assert_uint_eq(pongs_take(clients[i]), 1);
    }
    ck_assert_uint_eq(fx.shards[0]->held_count, 0);
    ck_assert_uint_ne(fx.shards[0]->held_head, 0); /* the next ones wrap around */
    for (int i = GROW_FIRST; i < GROW_FIRST + GROW_SECOND; i++) {
        snprintf(text, sizeof text, "SUB s.%d 1\r\nPING\r\n", i);
        client_send(clients[i], text);
        if (i == GROW_FIRST + GROW_PARTIAL - 1) {
            publish(0); /* shard 1 applies these, not the rest */
        }
    }
    ck_assert_uint_eq(fx.shards[0]->held_count, GROW_SECOND);
    ck_assert_uint_ge(fx.shards[0]->held_capacity, GROW_SECOND); /* it grew */
    for (int i = 0; i < GROW_FIRST + GROW_SECOND; i++) {
        ck_assert_uint_eq(pongs_take(clients[i]), 0);
    }
    drain(1);
    publish(1);
    drain(0);
    for (int i = GROW_FIRST; i < GROW_FIRST + GROW_SECOND; i++) {
        ck_assert_msg(pongs_take(clients[i]) == (i < GROW_FIRST + GROW_PARTIAL ? 1 : 0),
                      "client %d", i);
    }
    ck_assert_uint_eq(fx.shards[0]->held_count, GROW_SECOND - GROW_PARTIAL);
    settle();
    for (int i = 0; i < GROW_FIRST + GROW_SECOND; i++) {
        ck_assert_msg(pongs_take(clients[i]) == (i < GROW_FIRST + GROW_PARTIAL ? 0 : 1),
                      "client %d", i);
    }
    fixture_free();
}
END_TEST

/* A client that PINGs faster than the shards acknowledge cannot grow the FIFO without
 * bound: the PING that fills it pauses the client (flow control), and once acknowledged
 * every PONG still goes out, in one piece of output. */
START_TEST(test_held_pongs_bounded)
{
    enum { PINGS = SHARD_HELD_PONGS_MAX + 100 };
    fixture_init(2);
    struct conn *client = client_open(0);
    client_send(client, "SUB foo 1\r\n");
    static char pings[PINGS * (sizeof "PING\r\n" - 1) + 1];
    for (size_t i = 0; i < PINGS; i++) {
        memcpy(pings + i * PONG_LENGTH, "PING\r\n", PONG_LENGTH);
    }
    ck_assert(!(client->flags & CONN_F_FLOW_PAUSED));
    client_send(client, pings);
    /* the rest of the buffer that filled it is still handled; nothing more is read */
    ck_assert_uint_eq(fx.shards[0]->held_count, PINGS);
    ck_assert(client->flags & CONN_F_FLOW_PAUSED);
    ck_assert_uint_eq(fx.shards[0]->conns.stats.flow_pauses, 1);
    ck_assert_uint_eq(client->out.length, 0);
    settle();
    ck_assert_uint_eq(fx.shards[0]->held_count, 0);
    ck_assert_uint_eq(pongs_take(client), PINGS);
    fixture_free();
}
END_TEST

/* ---- (4) a client gone while its PONG is held ---- */

/* Two shards and two clients on shard 0, each with a PONG held: `gone` behind its own SUB
 * of foo (announcement 1), `stays` behind the same announcement. */
static void closed_fixture_init(struct conn **gone, struct conn **stays)
{
    fixture_init(2);
    *gone = client_open(0);
    *stays = client_open(0);
    client_send(*gone, "SUB foo 1\r\nPING\r\n");
    client_send(*stays, "PING\r\n");
}

/* Closed but not yet reaped (still in its slot): its PONG is dropped; the PONG held after
 * it goes out. */
START_TEST(test_closed_pong_dropped)
{
    struct conn *gone;
    struct conn *stays;
    closed_fixture_init(&gone, &stays);
    client_close(gone);
    settle();
    ck_assert_uint_eq(gone->out.length, 0);
    ck_assert_uint_eq(pongs_take(stays), 1);
    ck_assert_uint_eq(fx.shards[0]->held_count, 0);
    client_reap(0, gone);
    settle();
    ck_assert_uint_eq(pongs_take(stays), 0);
    fixture_free();
}
END_TEST

/* Closed and freed while its PONG is held: the slot is empty when the acknowledgement
 * comes; the held entry is passed over and the PONGs after it go out. */
START_TEST(test_freed_pong_dropped)
{
    struct conn *gone;
    struct conn *stays;
    closed_fixture_init(&gone, &stays);
    uint32_t slot = gone->index;
    client_close(gone);
    client_reap(0, gone); /* announces the removal of foo: sequence 2 */
    ck_assert_ptr_null(fx.shards[0]->conns.conns[slot]);
    client_send(stays, "SUB bar 2\r\nPING\r\n");
    settle();
    ck_assert_uint_eq(pongs_take(stays), 2);
    ck_assert_uint_eq(fx.shards[0]->held_count, 0);
    fixture_free();
}
END_TEST

/* Closed and freed while its PONG is held, and a new client takes the slot: the new client
 * does not get the old one's PONG (the generation tells them apart), only its own. */
START_TEST(test_reused_slot_no_pong)
{
    struct conn *gone;
    struct conn *stays;
    closed_fixture_init(&gone, &stays);
    uint32_t slot = gone->index;
    client_close(gone);
    client_reap(0, gone);
    struct conn *newcomer = client_open(0);
    ck_assert_uint_eq(newcomer->index, slot); /* the test's premise: the slot is reused */
    ck_assert_uint_eq(pongs_take(newcomer), 0);
    settle();
    ck_assert_uint_eq(pongs_take(newcomer), 0);
    ck_assert_uint_eq(pongs_take(stays), 1);
    client_send(newcomer, "SUB bar 1\r\nPING\r\n");
    ck_assert_uint_eq(pongs_take(newcomer), 0);
    settle();
    ck_assert_uint_eq(pongs_take(newcomer), 1);
    ck_assert_uint_eq(pongs_take(stays), 0);
    fixture_free();
}
END_TEST

/* ---- (5) three shards: every other shard must have applied it ---- */

/* SUB and PING on shard 0: the PONG waits for both shard 1 and shard 2, whichever
 * acknowledges first; once the first has acknowledged, no turn of shard 0 releases it. */
START_TEST(test_pong_waits_for_every_shard)
{
    fixture_init(3);
    for (int first = 1; first <= 2; first++) {
        int second = 3 - first;
        struct conn *client = client_open(0);
        char text[64];
        snprintf(text, sizeof text, "SUB round.%d 1\r\nPING\r\n", first);
        client_send(client, text);
        publish(0);
        drain(first);
        publish(first);
        drain(0);
        drain(0);
        ck_assert_uint_eq(fx.shards[0]->xshard.acked_by[first],
                          fx.shards[0]->xshard.announce_sequence);
        ck_assert_uint_eq(pongs_take(client), 0);
        ck_assert_uint_eq(fx.shards[0]->held_count, 1);
        drain(second);
        ck_assert_uint_eq(pongs_take(client), 0);
        pong_released_by(second, client);
    }
    fixture_free();
}
END_TEST

/* A PING on shard 1 while shard 0 and shard 2 each hold their own: each shard's barrier
 * counts its own announcements only. */
START_TEST(test_three_shards_independent)
{
    fixture_init(3);
    struct conn *on0 = client_open(0);
    struct conn *on1 = client_open(1);
    struct conn *on2 = client_open(2);
    client_send(on0, "SUB a 1\r\nPING\r\n");
    client_send(on2, "SUB b 1\r\nPING\r\n");
    client_send(on1, "PING\r\n");
    ck_assert_uint_eq(pongs_take(on1), 1);
    ck_assert_uint_eq(pongs_take(on0), 0);
    ck_assert_uint_eq(pongs_take(on2), 0);
    settle();
    ck_assert_uint_eq(pongs_take(on0), 1);
    ck_assert_uint_eq(pongs_take(on2), 1);
    ck_assert_uint_eq(remote_interest(1, "a"), 1);
    ck_assert_uint_eq(remote_interest(1, "b"), 1);
    fixture_free();
}
END_TEST

/* ---- (6) a shard that starts late ---- */

/* With reuseport placement shard 0 may accept, and its client SUB and PING, before shard 1
 * has entered its loop, so shard 0 saw no sleep to wake it from. Shard 1's start applies
 * the announcement and publishes the acknowledgement itself: its first turn may sleep with
 * nothing due, and nothing would wake it (a stuck PONG under CPU load before the fix). */
START_TEST(test_pong_after_late_start)
{
    fixture_init(2);
    struct conn *client = client_open(0);
    client_send(client, "SUB p.* 1\r\nPING\r\n");
    ck_assert_uint_eq(pongs_take(client), 0);
    publish(0);
    shard_start_drain(fx.shards[1]);
    ck_assert_uint_eq(remote_interest(1, "p.x"), 1);
    drain(0); /* no turn of shard 1 since its start */
    ck_assert_uint_eq(pongs_take(client), 1);
    ck_assert_uint_eq(fx.shards[0]->held_count, 0);
    settle();
    ck_assert_uint_eq(pongs_take(client), 0); /* exactly one */
    fixture_free();
}
END_TEST

static Suite *barrier_suite(void)
{
    Suite *suite = suite_create("barrier");
    TCase *now = tcase_create("at_once");
    tcase_add_test(now, test_pong_at_once);
    suite_add_tcase(suite, now);
    TCase *ack = tcase_create("after_ack");
    tcase_add_test(ack, test_pong_after_ack);
    tcase_add_test(ack, test_pong_after_unsub_ack);
    suite_add_tcase(suite, ack);
    TCase *order = tcase_create("order");
    tcase_add_test(order, test_pongs_in_order);
    tcase_add_test(order, test_pong_not_overtaking);
    tcase_add_test(order, test_fifo_grows_wrapped);
    tcase_add_test(order, test_held_pongs_bounded);
    suite_add_tcase(suite, order);
    TCase *closed = tcase_create("closed");
    tcase_add_test(closed, test_closed_pong_dropped);
    tcase_add_test(closed, test_freed_pong_dropped);
    tcase_add_test(closed, test_reused_slot_no_pong);
    suite_add_tcase(suite, closed);
    TCase *three = tcase_create("three_shards");
    tcase_add_test(three, test_pong_waits_for_every_shard);
    tcase_add_test(three, test_three_shards_independent);
    suite_add_tcase(suite, three);
    TCase *late = tcase_create("late_start");
    tcase_add_test(late, test_pong_after_late_start);
    suite_add_tcase(suite, late);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(barrier_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
