/* Connections of any kind and the per-shard connection table: see conn.h.
 *
 * Slots double when full (up to capacity_max, the bits a completion's user_data has for
 * the index); freed slots are reused last-in first-out, and each reuse gets a new
 * generation so a completion meant for the previous holder is recognised and dropped.
 * Shard-owned. */
#include "engine/conn.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "engine/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

enum { CONN_SLOTS_MIN = 64 };

static timer_fn flow_timer_fired;

void conn_table_init(struct conn_table *table, uint32_t capacity_max, int64_t max_pending,
                     int64_t write_deadline_ns, struct timer_wheel *timers)
{
    memset(table, 0, sizeof *table);
    table->capacity_max = capacity_max;
    table->max_pending = max_pending;
    table->write_deadline_ns = write_deadline_ns;
    table->timers = timers;
    /* never above half of max_pending, so pushing back starts well before a cut */
    table->flow_high = CONN_FLOW_HIGH_BYTES;
    if (table->flow_high > (size_t)max_pending / 2) {
        table->flow_high = (size_t)max_pending / 2;
    }
    table->flow_low = table->flow_high / 4;
    outq_pool_init(&table->out_pool, OUTQ_POOL_KEEP_DEFAULT);
    timer_entry_init(&table->flow_timer, flow_timer_fired, table);
}

/* ---- flow control ---- */

static struct conn_links *congested_links(struct conn *conn)
{
    return &conn->congested;
}

static struct conn_links *paused_links(struct conn *conn)
{
    return &conn->paused;
}

/* Pushes `conn` at the head of the list whose links `links` selects. */
static void list_push(struct conn **head, struct conn *conn,
                      struct conn_links *(*links)(struct conn *))
{
    links(conn)->prev = NULL;
    links(conn)->next = *head;
    if (*head != NULL) {
        links(*head)->prev = conn;
    }
    *head = conn;
}

static void list_unlink(struct conn **head, struct conn *conn,
                        struct conn_links *(*links)(struct conn *))
{
    struct conn_links *own = links(conn);
    if (own->prev != NULL) {
        links(own->prev)->next = own->next;
    } else {
        *head = own->next;
    }
    if (own->next != NULL) {
        links(own->next)->prev = own->prev;
    }
    own->prev = own->next = NULL;
}

static void congested_unlink(struct conn *conn)
{
    struct conn_table *table = conn->table;
    if (!(conn->flags & CONN_F_CONGESTED)) {
        return;
    }
    list_unlink(&table->congested_head, conn, congested_links);
    if (!(conn->flags & CONN_F_FLOW_EXEMPT)) {
        ASSERT(table->congested_active > 0);
        table->congested_active--;
    }
    conn->flags &= ~(uint32_t)(CONN_F_CONGESTED | CONN_F_FLOW_EXEMPT);
    table->flow_resume_wanted = true;
}

/* Bytes the peer's TCP has acknowledged so far (it took them into its receive buffer), or
 * -1 when the socket cannot say. Progress seen by the kernel, whether or not a send of
 * ours completed: with a large send buffer a send may wait long for room while the peer
 * keeps reading. */
static int64_t peer_acked(const struct conn *conn)
{
    struct tcp_info info;
    socklen_t length = sizeof info;
    memset(&info, 0, sizeof info);
    if (getsockopt(conn->fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 ||
        length < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked) {
        return -1;
    }
    return info.tcpi_bytes_acked > INT64_MAX ? INT64_MAX : (int64_t)info.tcpi_bytes_acked;
}

/* Room for `bytes` more output was just reserved for `conn`: note a congestion (counting
 * those bytes, so the delivery that crosses the watermark is the one that marks it). */
static void congestion_note(struct conn *conn, size_t bytes)
{
    struct conn_table *table = conn->table;
    if (conn->flags & (CONN_F_FLOW_EXEMPT | CONN_F_CLOSING)) {
        return;
    }
    if (!(conn->flags & CONN_F_CONGESTED)) {
        if (conn_pending_bytes(conn) + bytes < table->flow_high) {
            return;
        }
        conn->flags |= CONN_F_CONGESTED;
        list_push(&table->congested_head, conn, congested_links);
        table->congested_active++;
        conn->flow_mark_ns = conn->send_progress_ns;
        conn->flow_mark_acked = peer_acked(conn);
        conn->flow_idle_checks = 0;
        if (!timer_armed(&table->flow_timer)) {
            timer_arm(table->timers, &table->flow_timer,
                      clock_deadline_ns(clock_monotonic_ns(), CONN_FLOW_CHECK_NS));
        }
    }
    table->flow_hit = true;
}

bool conn_flow_drained(struct conn *conn)
{
    if (!(conn->flags & CONN_F_CONGESTED) || conn_pending_bytes(conn) > conn->table->flow_low) {
        return false;
    }
    congested_unlink(conn);
    return true;
}

uint32_t conn_flow_exempt_stuck(struct conn_table *table)
{
    uint32_t exempted = 0;
    for (struct conn *conn = table->congested_head; conn != NULL; conn = conn->congested.next) {
        if (conn->flags & CONN_F_FLOW_EXEMPT) {
            continue;
        }
        /* Moving: a send of ours started since the last look, or the peer acknowledged
         * more bytes. Output not yet in flight waits for the shard, not for the subscriber. */
        int64_t acked = peer_acked(conn);
        bool moved = conn->send_progress_ns != conn->flow_mark_ns ||
                     acked < 0 || acked != conn->flow_mark_acked;
        conn->flow_idle_checks = moved || !(conn->flags & CONN_F_SEND_INFLIGHT)
                                     ? 0
                                     : conn->flow_idle_checks + 1;
        if (conn->flow_idle_checks >= CONN_FLOW_STUCK_CHECKS) {
            conn->flags |= CONN_F_FLOW_EXEMPT;
            ASSERT(table->congested_active > 0);
            table->congested_active--;
            table->stats.flow_exempted++;
            exempted++;
            LOG_DEBUG("%s %llu: %zu bytes unsent and nothing moved for %lld ms; it no longer "
                      "holds back its publishers",
                      conn->kind->name, (unsigned long long)conn->id, conn_pending_bytes(conn),
                      (long long)(CONN_FLOW_STUCK_CHECKS * CONN_FLOW_CHECK_NS / NS_PER_MS));
        }
        conn->flow_mark_ns = conn->send_progress_ns;
        conn->flow_mark_acked = acked;
    }
    if (exempted > 0) {
        table->flow_resume_wanted = true;
    }
    return exempted;
}

/* Every CONN_FLOW_CHECK_NS while a subscriber is congested: stuck ones stop counting, and
 * the flow-paused publishers are read again (those still feeding an active congested
 * subscriber pause again at their next delivery to it), so no pause outlasts a period. */
static void flow_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct conn_table *table = ctx;
    (void)conn_flow_exempt_stuck(table);
    table->flow_resume_wanted = true;
    if (table->congested_head != NULL || table->flow_paused_head != NULL) {
        timer_arm(table->timers, &table->flow_timer,
                  clock_deadline_ns(clock_monotonic_ns(), CONN_FLOW_CHECK_NS));
    }
}

void conn_flow_paused_add(struct conn *conn)
{
    struct conn_table *table = conn->table;
    ASSERT(!(conn->flags & CONN_F_FLOW_PAUSED));
    conn->flags |= CONN_F_FLOW_PAUSED;
    list_push(&table->flow_paused_head, conn, paused_links);
    table->stats.flow_pauses++;
    if (!timer_armed(&table->flow_timer)) {
        timer_arm(table->timers, &table->flow_timer,
                  clock_deadline_ns(clock_monotonic_ns(), CONN_FLOW_CHECK_NS));
    }
}

void conn_flow_paused_remove(struct conn *conn)
{
    struct conn_table *table = conn->table;
    if (!(conn->flags & CONN_F_FLOW_PAUSED)) {
        return;
    }
    list_unlink(&table->flow_paused_head, conn, paused_links);
    conn->flags &= ~(uint32_t)CONN_F_FLOW_PAUSED;
}

/* The write deadline: a send that has moved nothing for write_deadline means the peer
 * stopped reading. When the timer finds the send moved since it was armed, it is moved to
 * that progress plus the deadline. */
static void write_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct conn *conn = ctx;
    struct conn_table *table = conn->table;
    if ((conn->flags & CONN_F_CLOSING) || !(conn->flags & CONN_F_SEND_INFLIGHT)) {
        return;
    }
    if (clock_monotonic_ns() - conn->send_progress_ns < table->write_deadline_ns) {
        timer_arm(table->timers, &conn->write_timer,
                  clock_deadline_ns(conn->send_progress_ns, table->write_deadline_ns));
        return;
    }
    table->stats.slow_consumers++;
    LOG_WARN("client %llu %s:%d slow consumer detected: write deadline of %lld ms "
             "exceeded with %zu bytes pending",
             (unsigned long long)conn->id, conn->ip, conn->port,
             (long long)(table->write_deadline_ns / NS_PER_MS), conn_pending_bytes(conn));
    conn_close(conn, "Slow Consumer (Write Deadline)");
}

void conn_send_started(struct conn *conn, int64_t now_ns)
{
    conn->send_progress_ns = now_ns;
    if (!timer_armed(&conn->write_timer)) {
        timer_arm(conn->table->timers, &conn->write_timer,
                  clock_deadline_ns(now_ns, conn->table->write_deadline_ns));
    }
}

/* The grace of a close-after-flush is over: whatever is still unsent is dropped. */
static void close_timer_fired(struct timer_entry *entry, void *ctx)
{
    struct conn *conn = ctx;
    conn_close(conn, conn->close_reason);
}

void conn_table_destroy(struct conn_table *table)
{
    timer_cancel(table->timers, &table->flow_timer);
    for (uint32_t i = 0; i < table->capacity; i++) {
        if (table->conns[i] != NULL) {
            table->conns[i]->inflight_count = 0;
            conn_table_free(table, table->conns[i]);
        }
    }
    free(table->conns);
    free(table->free_slots);
    outq_pool_destroy(&table->out_pool);
    memset(table, 0, sizeof *table);
}

static int table_grow(struct conn_table *table)
{
    uint32_t capacity = table->capacity ? table->capacity * 2 : CONN_SLOTS_MIN;
    if (capacity > table->capacity_max) {
        return -ENOSPC;
    }
    struct conn **conns = realloc(table->conns, capacity * sizeof *conns);
    if (conns == NULL) {
        return -ENOMEM;
    }
    table->conns = conns;
    uint32_t *free_slots = realloc(table->free_slots, capacity * sizeof *free_slots);
    if (free_slots == NULL) {
        return -ENOMEM;
    }
    table->free_slots = free_slots;
    for (uint32_t i = table->capacity; i < capacity; i++) {
        conns[i] = NULL;
        /* lowest index on top of the stack */
        free_slots[table->free_count++] = capacity - 1 - (i - table->capacity);
    }
    table->capacity = capacity;
    return 0;
}

struct conn *conn_table_take(struct conn_table *table, const struct conn_kind *kind)
{
    ASSERT(kind->size >= sizeof(struct conn));
    if (table->free_count == 0 && table_grow(table) != 0) {
        return NULL;
    }
    struct conn *conn = calloc(1, kind->size);
    if (conn == NULL) {
        return NULL;
    }
    uint32_t index = table->free_slots[--table->free_count];
    ASSERT(table->conns[index] == NULL);
    conn->kind = kind;
    conn->table = table;
    conn->fd = -1;
    conn->index = index;
    conn->generation = ++table->generation_next;
    timer_entry_init(&conn->close_timer, close_timer_fired, conn);
    timer_entry_init(&conn->write_timer, write_timer_fired, conn);
    table->conns[index] = conn;
    table->live_count++;
    return conn;
}

void conn_table_free(struct conn_table *table, struct conn *conn)
{
    ASSERT(table->conns[conn->index] == conn);
    ASSERT(conn->inflight_count == 0);
    table->conns[conn->index] = NULL;
    table->free_slots[table->free_count++] = conn->index;
    ASSERT(table->live_count > 0);
    table->live_count--;
    table->stats.closed_totals.in_msgs += conn->stats.in_msgs;
    table->stats.closed_totals.in_bytes += conn->stats.in_bytes;
    table->stats.closed_totals.out_msgs += conn->stats.out_msgs;
    table->stats.closed_totals.out_bytes += conn->stats.out_bytes;
    congested_unlink(conn);
    conn_flow_paused_remove(conn);
    timer_cancel(table->timers, &conn->close_timer);
    timer_cancel(table->timers, &conn->write_timer);
    if (conn->layer != NULL) {
        conn->layer->release(conn);
    }
    outq_free(&conn->out, &table->out_pool);
    outbuf_free(&conn->held);
    free(conn);
}

struct conn *conn_table_get(const struct conn_table *table, uint32_t index, uint32_t generation)
{
    if (index >= table->capacity) {
        return NULL;
    }
    struct conn *conn = table->conns[index];
    return (conn != NULL && conn->generation == generation) ? conn : NULL;
}

int conn_send_iov(struct conn *conn, size_t bytes_max)
{
    if (conn->layer != NULL) {
        int layer_count = conn->layer->send_iov(conn, bytes_max);
        ASSERT(layer_count > 0 && conn->send_length > 0);
        return layer_count;
    }
    int count = outq_iov(&conn->out, conn->send_iov, CONN_SEND_IOV_MAX, bytes_max,
                         &conn->send_length);
    ASSERT(count > 0 && conn->send_length > 0);
    return count;
}

void conn_sent(struct conn *conn, size_t bytes)
{
    ASSERT(bytes <= conn->send_length);
    if (conn->layer != NULL) {
        conn->layer->sent(conn, bytes);
        conn->send_length = 0;
        return;
    }
    outq_consume(&conn->out, &conn->table->out_pool, bytes);
    conn->send_length = 0;
}

int conn_reserve_output(struct conn *conn, size_t bytes)
{
    const struct conn_table *table = conn->table;
    if (conn_pending_bytes(conn) + bytes > (size_t)table->max_pending) {
        conn->table->stats.slow_consumers++;
        LOG_WARN("client %llu %s:%d slow consumer detected: %zu bytes pending, max_pending %lld",
                 (unsigned long long)conn->id, conn->ip, conn->port, conn_pending_bytes(conn),
                 (long long)table->max_pending);
        conn_close(conn, "Slow Consumer (Pending Bytes)");
        return -ENOBUFS;
    }
    if (outq_reserve(&conn->out, &conn->table->out_pool, bytes) != 0) {
        LOG_WARN("client %llu: out of memory for %zu output bytes, closing",
                 (unsigned long long)conn->id, bytes);
        conn_close(conn, "Out Of Memory");
        return -ENOMEM;
    }
    congestion_note(conn, bytes);
    return 0;
}

void conn_peer_set(struct conn *conn, const struct sockaddr *peer)
{
    if (peer->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
        inet_ntop(AF_INET6, &in6->sin6_addr, conn->ip, sizeof conn->ip);
        conn->port = ntohs(in6->sin6_port);
    } else {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)peer;
        inet_ntop(AF_INET, &in4->sin_addr, conn->ip, sizeof conn->ip);
        conn->port = ntohs(in4->sin_port);
    }
}

void conn_write_text(struct conn *conn, const char *text, size_t length)
{
    if (conn->flags & CONN_F_CLOSING) {
        return;
    }
    if (conn_reserve_output(conn, length) == 0) {
        conn_put(conn, text, length);
        conn_flush_queue(conn);
    }
}

void conn_flush_queue(struct conn *conn)
{
    if (conn->flags & CONN_F_FLUSH_QUEUED) {
        return;
    }
    conn->flags |= CONN_F_FLUSH_QUEUED;
    conn->flush_next = conn->table->flush_head;
    conn->table->flush_head = conn;
}

void conn_close(struct conn *conn, const char *reason)
{
    if (conn->flags & CONN_F_CLOSING) {
        return;
    }
    conn->flags |= CONN_F_CLOSING;
    congested_unlink(conn); /* a subscriber cut or gone holds nobody back */
    if (conn->close_reason == NULL) {
        conn->close_reason = reason;
    }
    LOG_DEBUG("%s %llu %s:%d closing: %s", conn->kind->name, (unsigned long long)conn->id,
              conn->ip, conn->port, conn->close_reason);
    /* Ends the multishot recv (it completes with 0) and any send still in flight. */
    if (conn->fd >= 0) {
        shutdown(conn->fd, SHUT_RDWR);
    }
    conn->close_next = conn->table->close_head;
    conn->table->close_head = conn;
}

void conn_close_after_flush(struct conn *conn, const char *reason)
{
    if (conn->flags & (CONN_F_CLOSING | CONN_F_CLOSE_AFTER_FLUSH)) {
        return;
    }
    conn->flags |= CONN_F_CLOSE_AFTER_FLUSH;
    conn->close_reason = reason;
    timer_arm(conn->table->timers, &conn->close_timer, clock_monotonic_ns() + CONFIG_DRAIN_NS);
    conn_flush_queue(conn);
}
