/* Unit tests for flow control in engine/conn.c (the "flow control" section of conn.h):
 * congestion noted by conn_reserve_output past the high watermark, conn_flow_drained below
 * the low one, the flow-paused list, conn_flow_exempt_stuck and the table's flow timer, and
 * the lists kept consistent when a connection closes or is freed on either list.
 *
 * Connections whose stuckness is judged sit on real loopback TCP sockets, so TCP_INFO's
 * bytes_acked says what the peer took: the connection's socket is filled until the kernel
 * refuses more (the peer does not read, its small receive buffer full, a zero window) and
 * the count has settled; the peer then reads, or not, between looks. The send in flight is
 * only a flag here (CONN_F_SEND_INFLIGHT set by hand): no loop runs. Connections that only
 * go on and off the lists have no socket (fd -1: TCP_INFO cannot say, so they never look
 * stuck). The timer wheel is advanced by hand, one firing of the flow timer per call. */
#include "engine/conn.h"

#include "base/clock.h"
#include "base/timer.h"
#include "engine/outbuf.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    TABLE_SLOTS_MAX = 1 << 16,
    MAX_PENDING_BYTES = 4 * 1024 * 1024,
    /* Socket buffers of the stuck pair: small, so filling them is quick. */
    SMALL_SOCKET_BUFFER_BYTES = 32 * 1024,
    FILLER_BYTES = 64 * 1024,
    /* Readings of bytes_acked in a row that must agree before it counts as settled. */
    ACKED_STABLE_READINGS = 5,
    TIMER_BUDGET = 64,
};
#define TICK_NS (1000000LL)
#define WRITE_DEADLINE_NS (10LL * 1000000000LL)
/* Between two readings of bytes_acked while waiting for it to settle or move. */
#define ACKED_POLL_NS (10LL * 1000000LL)
/* How long bytes_acked may take to settle or to move: loopback acknowledges in
 * microseconds; this only bounds a broken case. */
#define ACKED_TIMEOUT_NS (5LL * 1000000000LL)

static const struct conn_kind test_kind = {
    .name = "test",
    .size = sizeof(struct conn),
};

static char filler[FILLER_BYTES];

struct fixture {
    struct timer_wheel wheel;
    struct conn_table table;
};

static void fixture_init(struct fixture *fx)
{
    timer_wheel_init(&fx->wheel, clock_monotonic_ns(), TICK_NS);
    conn_table_init(&fx->table, TABLE_SLOTS_MAX, MAX_PENDING_BYTES, WRITE_DEADLINE_NS,
                    &fx->wheel);
    ck_assert_uint_eq(fx->table.flow_high, CONN_FLOW_HIGH_BYTES);
    ck_assert_uint_eq(fx->table.flow_low, CONN_FLOW_HIGH_BYTES / 4);
}

static void fixture_fini(struct fixture *fx)
{
    for (uint32_t i = 0; i < fx->table.capacity; i++) {
        struct conn *conn = fx->table.conns[i];
        if (conn != NULL) {
            conn->flags &= ~(uint32_t)CONN_F_SEND_INFLIGHT;
            if (conn->fd >= 0) {
                close(conn->fd);
            }
        }
    }
    conn_table_destroy(&fx->table);
    timer_wheel_destroy(&fx->wheel);
}

static struct conn *conn_new(struct fixture *fx)
{
    struct conn *conn = conn_table_take(&fx->table, &test_kind);
    ck_assert_ptr_nonnull(conn);
    return conn;
}

/* Reserves and writes `length` bytes of output, as a delivery does. */
static void output_add(struct conn *conn, size_t length)
{
    ck_assert_int_eq(conn_reserve_output(conn, length), 0);
    while (length > 0) {
        size_t chunk = length < sizeof filler ? length : sizeof filler;
        conn_put(conn, filler, chunk);
        length -= chunk;
    }
}

/* The shard's send of `conn`'s output moved bytes until `left` remain unsent. */
static void sent_until(struct conn *conn, size_t left)
{
    size_t pending = conn_pending_bytes(conn);
    ck_assert_uint_ge(pending, left);
    conn->send_length = pending;
    conn_sent(conn, pending - left);
    ck_assert_uint_eq(conn_pending_bytes(conn), left);
}

/* Makes `conn` congested: output up to the high watermark, then one more delivery. */
static void congest(struct conn *conn)
{
    size_t pending = conn_pending_bytes(conn);
    if (pending < conn->table->flow_high) {
        output_add(conn, conn->table->flow_high - pending);
    }
    output_add(conn, 1);
    ck_assert_uint_eq(conn->flags & CONN_F_CONGESTED, CONN_F_CONGESTED);
}

/* Walks both lists and checks each against the flags of every connection in the table: the
 * links agree both ways, each member has its flag and each flagged connection is a member,
 * and congested_active counts the members not exempt. */
static void lists_check(const struct conn_table *table)
{
    uint32_t congested_count = 0;
    uint32_t active_count = 0;
    const struct conn *prev = NULL;
    for (const struct conn *c = table->congested_head; c != NULL; c = c->congested.next) {
        ck_assert_ptr_eq(c->congested.prev, prev);
        ck_assert_uint_eq(c->flags & CONN_F_CONGESTED, CONN_F_CONGESTED);
        ck_assert_ptr_eq(table->conns[c->index], c);
        congested_count++;
        ck_assert_uint_le(congested_count, table->live_count);
        if (!(c->flags & CONN_F_FLOW_EXEMPT)) {
            active_count++;
        }
        prev = c;
    }
    ck_assert_uint_eq(active_count, table->congested_active);
    uint32_t paused_count = 0;
    prev = NULL;
    for (const struct conn *c = table->flow_paused_head; c != NULL; c = c->paused.next) {
        ck_assert_ptr_eq(c->paused.prev, prev);
        ck_assert_uint_eq(c->flags & CONN_F_FLOW_PAUSED, CONN_F_FLOW_PAUSED);
        ck_assert_ptr_eq(table->conns[c->index], c);
        paused_count++;
        ck_assert_uint_le(paused_count, table->live_count);
        prev = c;
    }
    uint32_t congested_flagged = 0;
    uint32_t paused_flagged = 0;
    for (uint32_t i = 0; i < table->capacity; i++) {
        const struct conn *c = table->conns[i];
        if (c == NULL) {
            continue;
        }
        congested_flagged += (c->flags & CONN_F_CONGESTED) ? 1 : 0;
        paused_flagged += (c->flags & CONN_F_FLOW_PAUSED) ? 1 : 0;
        if (!(c->flags & CONN_F_CONGESTED)) {
            ck_assert_uint_eq(c->flags & CONN_F_FLOW_EXEMPT, 0);
            ck_assert_ptr_null(c->congested.prev);
            ck_assert_ptr_null(c->congested.next);
        }
        if (!(c->flags & CONN_F_FLOW_PAUSED)) {
            ck_assert_ptr_null(c->paused.prev);
            ck_assert_ptr_null(c->paused.next);
        }
    }
    ck_assert_uint_eq(congested_flagged, congested_count);
    ck_assert_uint_eq(paused_flagged, paused_count);
}

/* Frees the closing connections, as the shard does once nothing is in flight. */
static void closed_reap(struct conn_table *table)
{
    while (table->close_head != NULL) {
        struct conn *conn = table->close_head;
        table->close_head = conn->close_next;
        ck_assert_uint_eq(conn->inflight_count, 0);
        if (conn->fd >= 0) {
            close(conn->fd);
        }
        conn_table_free(table, conn);
    }
}

/* ---- sockets ---- */

/* A loopback TCP connection: the connection's end in *conn_fd (non-blocking, a small send
 * buffer) and the peer's in *peer_fd (non-blocking, a small receive buffer, set before
 * connect so the window is sized for it). */
static void tcp_pair(int *conn_fd, int *peer_fd)
{
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(listener, 0);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(listener, (const struct sockaddr *)&address, sizeof address), 0);
    ck_assert_int_eq(listen(listener, 1), 0);
    socklen_t length = sizeof address;
    ck_assert_int_eq(getsockname(listener, (struct sockaddr *)&address, &length), 0);
    int peer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(peer, 0);
    int size = SMALL_SOCKET_BUFFER_BYTES;
    ck_assert_int_eq(setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &size, sizeof size), 0);
    ck_assert_int_eq(connect(peer, (const struct sockaddr *)&address, sizeof address), 0);
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size), 0);
    int flags = fcntl(peer, F_GETFL);
    ck_assert_int_ge(flags, 0);
    ck_assert_int_eq(fcntl(peer, F_SETFL, flags | O_NONBLOCK), 0);
    close(listener);
    *conn_fd = fd;
    *peer_fd = peer;
}

static int64_t acked_bytes(int fd)
{
    struct tcp_info info;
    socklen_t length = sizeof info;
    memset(&info, 0, sizeof info);
    ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length), 0);
    return (int64_t)info.tcpi_bytes_acked;
}

static void nap(int64_t ns)
{
    const struct timespec duration = {.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
    nanosleep(&duration, NULL);
}

/* Waits until bytes_acked has stopped moving; returns it. */
static int64_t acked_settle(int fd)
{
    int64_t deadline_ns = clock_monotonic_ns() + ACKED_TIMEOUT_NS;
    int64_t acked = acked_bytes(fd);
    int same = 0;
    while (same < ACKED_STABLE_READINGS) {
        ck_assert_int_lt(clock_monotonic_ns(), deadline_ns);
        nap(ACKED_POLL_NS);
        int64_t now = acked_bytes(fd);
        same = now == acked ? same + 1 : 0;
        acked = now;
    }
    return acked;
}

/* Waits until bytes_acked differs from `before`. */
static void acked_wait_moved(int fd, int64_t before)
{
    int64_t deadline_ns = clock_monotonic_ns() + ACKED_TIMEOUT_NS;
    while (acked_bytes(fd) == before) {
        ck_assert_int_lt(clock_monotonic_ns(), deadline_ns);
        nap(ACKED_POLL_NS);
    }
}

/* Writes into the non-blocking socket until the kernel takes no more; returns the bytes. */
static size_t socket_fill(int fd)
{
    size_t total = 0;
    for (;;) {
        ssize_t n = send(fd, filler, sizeof filler, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            ck_assert_int_eq(errno, EAGAIN);
            return total;
        }
        total += (size_t)n;
    }
}

/* Reads everything the non-blocking peer has; returns the bytes. */
static size_t peer_drain(int fd)
{
    size_t total = 0;
    char buffer[FILLER_BYTES];
    for (;;) {
        ssize_t n = recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n <= 0) {
            ck_assert(n < 0 && errno == EAGAIN);
            return total;
        }
        total += (size_t)n;
    }
}

/* A connection on a TCP socket whose peer does not read: the socket is full, bytes_acked
 * settled; the connection is congested after that and has a send in flight. */
static struct conn *stuck_conn_new(struct fixture *fx, int *peer_fd)
{
    struct conn *conn = conn_new(fx);
    tcp_pair(&conn->fd, peer_fd);
    ck_assert_uint_gt(socket_fill(conn->fd), 0);
    (void)acked_settle(conn->fd);
    congest(conn);
    conn->flags |= CONN_F_SEND_INFLIGHT;
    ck_assert_int_ge(conn->flow_mark_acked, 0);
    return conn;
}

/* Looks `count` times, none of which may exempt anything. */
static void looks_none_exempt(struct conn_table *table, struct conn *conn, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        ck_assert_uint_eq(conn_flow_exempt_stuck(table), 0);
        ck_assert_uint_eq(conn->flags & CONN_F_FLOW_EXEMPT, 0);
    }
}

/* ---- congestion ---- */

/* Output up to just below the high watermark is no congestion; past it the next delivery
 * marks the connection congested (on the list, counted, flow_hit, the flow timer armed);
 * every later delivery to it sets flow_hit again. Output in flight counts too. */
START_TEST(test_congestion_noted)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn_table *table = &fx.table;
    struct conn *a = conn_new(&fx);
    output_add(a, table->flow_high - 2);
    output_add(a, 1);
    ck_assert_uint_eq(a->flags & CONN_F_CONGESTED, 0);
    ck_assert(!table->flow_hit);
    ck_assert_uint_eq(table->congested_active, 0);
    ck_assert_ptr_null(table->congested_head);
    ck_assert(!timer_armed(&table->flow_timer));
    output_add(a, 1); /* now at the watermark */
    output_add(a, 1);
    ck_assert_uint_eq(a->flags & CONN_F_CONGESTED, CONN_F_CONGESTED);
    ck_assert_uint_eq(a->flags & CONN_F_FLOW_EXEMPT, 0);
    ck_assert(table->flow_hit);
    ck_assert_uint_eq(table->congested_active, 1);
    ck_assert_ptr_eq(table->congested_head, a);
    ck_assert(timer_armed(&table->flow_timer));
    lists_check(table);
    conn_flow_hit_clear(table);
    ck_assert(!table->flow_hit);
    output_add(a, 10);
    ck_assert(table->flow_hit);
    ck_assert_uint_eq(table->congested_active, 1); /* counted once */
    lists_check(table);
    /* output to an uncongested connection is no hit */
    struct conn *b = conn_new(&fx);
    conn_flow_hit_clear(table);
    output_add(b, 100);
    ck_assert(!table->flow_hit);
    /* output in flight counts toward the watermark */
    struct conn *c = conn_new(&fx);
    ck_assert_int_eq(outq_reserve(&c->out, &table->out_pool, table->flow_high), 0);
    for (size_t put = 0; put < table->flow_high; put += sizeof filler) {
        size_t chunk = table->flow_high - put < sizeof filler ? table->flow_high - put
                                                              : sizeof filler;
        conn_put(c, filler, chunk);
    }
    c->send_length = table->flow_high;
    c->flags |= CONN_F_SEND_INFLIGHT;
    ck_assert_uint_eq(c->flags & CONN_F_CONGESTED, 0);
    output_add(c, 1);
    ck_assert_uint_eq(c->flags & CONN_F_CONGESTED, CONN_F_CONGESTED);
    ck_assert(table->flow_hit);
    ck_assert_uint_eq(table->congested_active, 2);
    ck_assert_ptr_eq(table->congested_head, c);
    lists_check(table);
    fixture_fini(&fx);
}
END_TEST

/* Pending bytes going down: still congested above the low watermark; at it, drained (no
 * longer congested, off the list, flow_resume_wanted) exactly once. */
START_TEST(test_drained)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn_table *table = &fx.table;
    struct conn *a = conn_new(&fx);
    struct conn *b = conn_new(&fx);
    congest(a);
    congest(b);
    /* a's output goes to the kernel as the shard sends it, part by part */
    a->flags |= CONN_F_SEND_INFLIGHT;
    size_t total = conn_pending_bytes(a);
    table->flow_resume_wanted = false;
    sent_until(a, total / 2);
    ck_assert(!conn_flow_drained(a));
    sent_until(a, table->flow_low + 1);
    ck_assert(!conn_flow_drained(a));
    ck_assert_uint_eq(a->flags & CONN_F_CONGESTED, CONN_F_CONGESTED);
    ck_assert(!table->flow_resume_wanted);
    sent_until(a, table->flow_low);
    ck_assert(conn_flow_drained(a));
    ck_assert_uint_eq(a->flags & CONN_F_CONGESTED, 0);
    ck_assert(table->flow_resume_wanted);
    ck_assert_uint_eq(table->congested_active, 1);
    ck_assert_ptr_eq(table->congested_head, b);
    lists_check(table);
    table->flow_resume_wanted = false;
    ck_assert(!conn_flow_drained(a)); /* once */
    ck_assert(!table->flow_resume_wanted);
    /* never congested: nothing to drain */
    struct conn *c = conn_new(&fx);
    ck_assert(!conn_flow_drained(c));
    ck_assert(!table->flow_resume_wanted);
    /* congested again after draining */
    a->flags &= ~(uint32_t)CONN_F_SEND_INFLIGHT;
    congest(a);
    ck_assert_uint_eq(table->congested_active, 2);
    lists_check(table);
    fixture_fini(&fx);
}
END_TEST

/* ---- the flow-paused list ---- */

START_TEST(test_paused_list)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn_table *table = &fx.table;
    struct conn *conns[3];
    for (int i = 0; i < 3; i++) {
        conns[i] = conn_new(&fx);
        conn_flow_paused_add(conns[i]);
        ck_assert_uint_eq(conns[i]->flags & CONN_F_FLOW_PAUSED, CONN_F_FLOW_PAUSED);
        ck_assert_ptr_eq(table->flow_paused_head, conns[i]);
        lists_check(table);
    }
    ck_assert_uint_eq(table->stats.flow_pauses, 3);
    ck_assert(timer_armed(&table->flow_timer));
    /* the middle one, then the head, then the last */
    conn_flow_paused_remove(conns[1]);
    ck_assert_uint_eq(conns[1]->flags & CONN_F_FLOW_PAUSED, 0);
    ck_assert_ptr_eq(conns[2]->paused.next, conns[0]);
    ck_assert_ptr_eq(conns[0]->paused.prev, conns[2]);
    lists_check(table);
    conn_flow_paused_remove(conns[1]); /* not on it: nothing */
    lists_check(table);
    conn_flow_paused_remove(conns[2]);
    ck_assert_ptr_eq(table->flow_paused_head, conns[0]);
    lists_check(table);
    conn_flow_paused_remove(conns[0]);
    ck_assert_ptr_null(table->flow_paused_head);
    lists_check(table);
    /* on again */
    conn_flow_paused_add(conns[1]);
    conn_flow_paused_add(conns[0]);
    ck_assert_ptr_eq(table->flow_paused_head, conns[0]);
    ck_assert_ptr_eq(conns[0]->paused.next, conns[1]);
    ck_assert_uint_eq(table->stats.flow_pauses, 5);
    lists_check(table);
    fixture_fini(&fx);
}
END_TEST

/* ---- stuck subscribers ---- */

/* A send in flight, the peer not reading, no send of ours started: exempt at the
 * CONN_FLOW_STUCK_CHECKS-th look and not before; it then pushes back on nobody (no hit, not
 * counted) but stays on the list until it drains. */
START_TEST(test_exempt_stuck)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn_table *table = &fx.table;
    int peer;
    struct conn *conn = stuck_conn_new(&fx, &peer);
    table->flow_resume_wanted = false;
    for (uint32_t i = 1; i < CONN_FLOW_STUCK_CHECKS; i++) {
        ck_assert_uint_eq(conn_flow_exempt_stuck(table), 0);
        ck_assert_uint_eq(conn->flow_idle_checks, i);
    }
    ck_assert_uint_eq(conn->flags & CONN_F_FLOW_EXEMPT, 0);
    ck_assert(!table->flow_resume_wanted);
    ck_assert_uint_eq(conn_flow_exempt_stuck(table), 1);
    ck_assert_uint_eq(conn->flags & (CONN_F_CONGESTED | CONN_F_FLOW_EXEMPT),
                      CONN_F_CONGESTED | CONN_F_FLOW_EXEMPT);
    ck_assert_uint_eq(table->congested_active, 0);
    ck_assert_ptr_eq(table->congested_head, conn);
    ck_assert_uint_eq(table->stats.flow_exempted, 1);
    ck_assert(table->flow_resume_wanted);
    lists_check(table);
    ck_assert_uint_eq(conn_flow_exempt_stuck(table), 0); /* once */
    ck_assert_uint_eq(table->stats.flow_exempted, 1);
    conn_flow_hit_clear(table);
    output_add(conn, 100);
    ck_assert(!table->flow_hit);
    ck_assert_uint_eq(table->congested_active, 0);
    /* drained: off the list, the count untouched */
    sent_until(conn, 0);
    ck_assert(conn_flow_drained(conn));
    ck_assert_uint_eq(conn->flags & (CONN_F_CONGESTED | CONN_F_FLOW_EXEMPT), 0);
    ck_assert_uint_eq(table->congested_active, 0);
    lists_check(table);
    close(peer);
    fixture_fini(&fx);
}
END_TEST

/* Output not in flight waits for the shard, not for the subscriber: never exempt. */
START_TEST(test_exempt_not_without_send)
{
    struct fixture fx;
    fixture_init(&fx);
    int peer;
    struct conn *conn = stuck_conn_new(&fx, &peer);
    conn->flags &= ~(uint32_t)CONN_F_SEND_INFLIGHT;
    looks_none_exempt(&fx.table, conn, 2 * CONN_FLOW_STUCK_CHECKS);
    ck_assert_uint_eq(conn->flow_idle_checks, 0);
    ck_assert_uint_eq(fx.table.congested_active, 1);
    close(peer);
    fixture_fini(&fx);
}
END_TEST

/* The peer reads between two looks (its TCP acknowledges more): the count starts over, and
 * only a full run of looks that see nothing move exempts it. */
START_TEST(test_exempt_not_when_peer_reads)
{
    struct fixture fx;
    fixture_init(&fx);
    int peer;
    struct conn *conn = stuck_conn_new(&fx, &peer);
    looks_none_exempt(&fx.table, conn, CONN_FLOW_STUCK_CHECKS - 1);
    ck_assert_uint_eq(conn->flow_idle_checks, CONN_FLOW_STUCK_CHECKS - 1);
    int64_t acked = acked_bytes(conn->fd);
    ck_assert_uint_gt(peer_drain(peer), 0);
    acked_wait_moved(conn->fd, acked);
    (void)acked_settle(conn->fd); /* the rest of our send buffer went too */
    looks_none_exempt(&fx.table, conn, 1);
    ck_assert_uint_eq(conn->flow_idle_checks, 0);
    /* nothing moves any more: a full run exempts it */
    looks_none_exempt(&fx.table, conn, CONN_FLOW_STUCK_CHECKS - 1);
    ck_assert_uint_eq(conn->flow_idle_checks, CONN_FLOW_STUCK_CHECKS - 1);
    ck_assert_uint_eq(conn_flow_exempt_stuck(&fx.table), 1);
    ck_assert_uint_eq(fx.table.congested_active, 0);
    close(peer);
    fixture_fini(&fx);
}
END_TEST

/* A send of ours started between two looks (send_progress_ns moved): the count starts
 * over. */
START_TEST(test_exempt_not_when_send_moved)
{
    struct fixture fx;
    fixture_init(&fx);
    int peer;
    struct conn *conn = stuck_conn_new(&fx, &peer);
    looks_none_exempt(&fx.table, conn, CONN_FLOW_STUCK_CHECKS - 1);
    conn_send_started(conn, clock_monotonic_ns());
    looks_none_exempt(&fx.table, conn, 1);
    ck_assert_uint_eq(conn->flow_idle_checks, 0);
    looks_none_exempt(&fx.table, conn, CONN_FLOW_STUCK_CHECKS - 1);
    ck_assert_uint_eq(conn_flow_exempt_stuck(&fx.table), 1);
    close(peer);
    fixture_fini(&fx);
}
END_TEST

/* A socket TCP_INFO cannot describe (a Unix socket, none at all) never looks stuck. */
START_TEST(test_exempt_not_when_unknown)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn *unix_conn = conn_new(&fx);
    int fds[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    unix_conn->fd = fds[0];
    struct conn *no_socket = conn_new(&fx);
    congest(unix_conn);
    congest(no_socket);
    unix_conn->flags |= CONN_F_SEND_INFLIGHT;
    no_socket->flags |= CONN_F_SEND_INFLIGHT;
    ck_assert_int_eq(unix_conn->flow_mark_acked, -1);
    for (uint32_t i = 0; i < 2 * CONN_FLOW_STUCK_CHECKS; i++) {
        ck_assert_uint_eq(conn_flow_exempt_stuck(&fx.table), 0);
    }
    ck_assert_uint_eq(fx.table.congested_active, 2);
    close(fds[1]);
    fixture_fini(&fx);
}
END_TEST

/* ---- closing and freeing ---- */

/* Connections on the congested list (one exempt) and the paused list, one on both, closed
 * or freed in every position: the lists and the count stay consistent at each step, and a
 * congested connection that closes wakes the paused publishers. */
START_TEST(test_close_and_free)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn_table *table = &fx.table;
    int peer;
    struct conn *exempt = stuck_conn_new(&fx, &peer);
    for (uint32_t i = 0; i < CONN_FLOW_STUCK_CHECKS; i++) {
        (void)conn_flow_exempt_stuck(table);
    }
    ck_assert_uint_eq(exempt->flags & CONN_F_FLOW_EXEMPT, CONN_F_FLOW_EXEMPT);
    exempt->flags &= ~(uint32_t)CONN_F_SEND_INFLIGHT;
    struct conn *congested[4];
    for (int i = 0; i < 4; i++) {
        congested[i] = conn_new(&fx);
        congest(congested[i]);
    }
    struct conn *paused[3];
    for (int i = 0; i < 3; i++) {
        paused[i] = conn_new(&fx);
        conn_flow_paused_add(paused[i]);
    }
    struct conn *both = conn_new(&fx);
    congest(both);
    conn_flow_paused_add(both);
    lists_check(table);
    ck_assert_uint_eq(table->congested_active, 5);
    /* congested list, head first: both, congested[3..0], exempt */
    table->flow_resume_wanted = false;
    conn_close(congested[2], "test"); /* middle */
    ck_assert(table->flow_resume_wanted);
    ck_assert_uint_eq(table->congested_active, 4);
    lists_check(table);
    conn_close(exempt, "test"); /* tail, exempt: the count stays */
    ck_assert_uint_eq(table->congested_active, 4);
    lists_check(table);
    conn_table_free(table, congested[3]); /* freed without closing */
    ck_assert_uint_eq(table->congested_active, 3);
    lists_check(table);
    conn_close(both, "test"); /* head of both lists */
    ck_assert_uint_eq(table->congested_active, 2);
    lists_check(table);
    conn_close(paused[1], "test");
    lists_check(table);
    closed_reap(table);
    lists_check(table);
    ck_assert_uint_eq(paused[0]->flags & CONN_F_FLOW_PAUSED, CONN_F_FLOW_PAUSED);
    ck_assert_uint_eq(paused[2]->flags & CONN_F_FLOW_PAUSED, CONN_F_FLOW_PAUSED);
    conn_table_free(table, paused[2]); /* head of the paused list */
    lists_check(table);
    conn_table_free(table, congested[0]); /* tail of the congested list */
    conn_table_free(table, congested[1]);
    conn_table_free(table, paused[0]);
    lists_check(table);
    ck_assert_ptr_null(table->congested_head);
    ck_assert_ptr_null(table->flow_paused_head);
    ck_assert_uint_eq(table->congested_active, 0);
    ck_assert_uint_eq(table->live_count, 0);
    close(peer);
    fixture_fini(&fx);
}
END_TEST

/* ---- the flow timer ---- */

/* Advances the wheel to the flow timer's deadline (rounded up to a tick, as the wheel
 * does): it fires once. What it arms again is due no earlier than that tick, so it waits
 * for the next call. */
static void flow_timer_fire(struct fixture *fx)
{
    ck_assert(timer_armed(&fx->table.flow_timer));
    struct timer_fired fired = timer_advance(
        &fx->wheel, fx->table.flow_timer.deadline_ns + TICK_NS - 1, TIMER_BUDGET);
    ck_assert_uint_eq(fired.count, 1);
}

/* Armed by the first congestion, not fired before its deadline; each firing looks for stuck
 * subscribers (exempt at the CONN_FLOW_STUCK_CHECKS-th) and asks for the paused publishers
 * to be read; it keeps going while a connection is congested or paused, and stops after. */
START_TEST(test_flow_timer)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn_table *table = &fx.table;
    ck_assert(!timer_armed(&table->flow_timer));
    int peer;
    struct conn *conn = stuck_conn_new(&fx, &peer);
    ck_assert(timer_armed(&table->flow_timer));
    int64_t deadline_ns = table->flow_timer.deadline_ns;
    ck_assert_int_ge(deadline_ns - clock_monotonic_ns(), 0);
    ck_assert_int_le(deadline_ns - clock_monotonic_ns(), CONN_FLOW_CHECK_NS);
    ck_assert_uint_eq(timer_advance(&fx.wheel, deadline_ns - CONN_FLOW_CHECK_NS / 2,
                                    TIMER_BUDGET).count,
                      0);
    ck_assert_uint_eq(conn->flow_idle_checks, 0);
    for (uint32_t i = 1; i < CONN_FLOW_STUCK_CHECKS; i++) {
        table->flow_resume_wanted = false;
        flow_timer_fire(&fx);
        ck_assert_uint_eq(conn->flow_idle_checks, i);
        ck_assert(table->flow_resume_wanted);
        ck_assert_uint_eq(conn->flags & CONN_F_FLOW_EXEMPT, 0);
    }
    flow_timer_fire(&fx);
    ck_assert_uint_eq(conn->flags & CONN_F_FLOW_EXEMPT, CONN_F_FLOW_EXEMPT);
    ck_assert_uint_eq(table->stats.flow_exempted, 1);
    ck_assert_uint_eq(table->congested_active, 0);
    /* still on the list (exempt): the timer goes on */
    ck_assert(timer_armed(&table->flow_timer));
    /* a paused publisher alone keeps it going too */
    struct conn *publisher = conn_new(&fx);
    conn_flow_paused_add(publisher);
    sent_until(conn, 0);
    conn->flags &= ~(uint32_t)CONN_F_SEND_INFLIGHT;
    ck_assert(conn_flow_drained(conn));
    ck_assert_ptr_null(table->congested_head);
    table->flow_resume_wanted = false;
    flow_timer_fire(&fx);
    ck_assert(table->flow_resume_wanted);
    ck_assert(timer_armed(&table->flow_timer));
    conn_flow_paused_remove(publisher);
    flow_timer_fire(&fx);
    ck_assert(!timer_armed(&table->flow_timer));
    close(peer);
    fixture_fini(&fx);
}
END_TEST

static Suite *conn_flow_suite(void)
{
    Suite *suite = suite_create("conn_flow");
    TCase *lists = tcase_create("lists");
    tcase_add_test(lists, test_congestion_noted);
    tcase_add_test(lists, test_drained);
    tcase_add_test(lists, test_paused_list);
    tcase_add_test(lists, test_close_and_free);
    suite_add_tcase(suite, lists);
    TCase *stuck = tcase_create("stuck");
    tcase_add_test(stuck, test_exempt_stuck);
    tcase_add_test(stuck, test_exempt_not_without_send);
    tcase_add_test(stuck, test_exempt_not_when_peer_reads);
    tcase_add_test(stuck, test_exempt_not_when_send_moved);
    tcase_add_test(stuck, test_exempt_not_when_unknown);
    tcase_add_test(stuck, test_flow_timer);
    suite_add_tcase(suite, stuck);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(conn_flow_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
