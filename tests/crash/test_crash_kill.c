/* Crash test: a broker under --sync always is SIGKILLed at random moments while publishers
 * keep several acked publishes in flight, then restarted on the same store directory, round
 * after round. After every restart the test checks what the broker promised:
 *
 *  - every acked message is at its acked sequence, byte for byte;
 *  - no sequence ever changes its message (a sequence seen holding message X in one round
 *    holds X in every later round), and no message is stored twice;
 *  - the stream's last_seq is at least the highest acked sequence, and never goes back
 *    below what an earlier round read;
 *  - every message read back is one that was sent, whole (no garbage after a torn write),
 *    and there are no holes between first_seq and last_seq (nothing is ever deleted);
 *  - the broker never dies by itself, never sends an error ack, never leaves an ack or an
 *    API request unanswered for CRASH_REPLY_WAIT_MS, and stops cleanly (exit 0) on SIGTERM,
 *    at the end and in the rounds that end with a SIGTERM under load.
 *
 * Most rounds end with a SIGKILL; one in eight with a SIGTERM under load, one in eight with a
 * SIGTERM followed within 30 ms by a SIGKILL (a crash while stopping).
 *
 * Payloads identify themselves (crash.h): the id says the round, the publisher and the
 * index of the publish, and the bytes follow from the id. Sizes are mostly small, some tens
 * of KB, a few near 1 MB; the segment size changes from round to round (1MB, 4MB, the
 * default), so segments roll and recovery meets segments of different sizes. One round in
 * ten kills the broker within its first 60 ms, while it recovers or opens.
 *
 * Environment: IONATS_CRASH_ROUNDS (default 50) for a longer soak; IONATS_CRASH_SEED to replay
 * a run's choices (sizes, segment sizes, kill moments; the interleaving is the machine's).
 * The seed is printed first. On failure (or with IONATS_CRASH_KEEP set) the store directory
 * and the broker's log are kept and their paths printed. Runs on the main thread, PUBLISHERS
 * threads during a round. */
#include "tests/crash/crash.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    ROUNDS_DEFAULT = 50,
    /* A soak's bound: ids hold the round in 23 bits. */
    ROUNDS_MAX = 1 << 20,
    PUBLISHERS = 4,
    /* Publishes each publisher has in flight (sent, not yet acked). */
    WINDOW = 16,
    /* Most rounds are killed once the publishers have sent a random number of messages (at
     * most KILL_PUBLISHES_MAX: that bounds the store a run builds), the others after a
     * random time (at most KILL_DELAY_MS_MAX, from the publishers' start: connecting
     * included). A round waits at most ROUND_PUBLISH_MS_MAX for its count. */
    KILL_BY_TIME_ONE_IN = 4,
    KILL_PUBLISHES_MAX = 3000,
    KILL_DELAY_MS_MAX = 300,
    ROUND_PUBLISH_MS_MAX = 5000,
    KILL_POLL_US = 100,
    /* One round in EARLY_KILL_ONE_IN is killed within EARLY_KILL_MS_MAX of its start. */
    EARLY_KILL_ONE_IN = 10,
    EARLY_KILL_MS_MAX = 60,
    /* Old sequences re-read every round besides the new ones, and a full re-read at rounds
     * FULL_SCAN_FIRST, twice that, four times that... (so a long soak spends time linear in
     * its length on them) and at the end. */
    SAMPLE_RANDOM_COUNT = 24,
    SAMPLE_BELOW_COUNT = 8,
    FULL_SCAN_FIRST = 16,
    /* MSG.GET requests in flight while reading back: 16 replies of a 1 MB message in base64
     * stay far below the broker's --max_pending. */
    GET_WINDOW = 16,
    /* Payload sizes: at most just under the default max_payload (1 MB) and small enough
     * that one record fits a 1 MB segment. */
    PAYLOAD_SIZE_MAX = 1000000,
    SUBJECT_SIZE = 64,
    WHY_SIZE = 1024,
    /* The end of the broker's log a failure shows: its last few restarts. */
    LOG_SHOW_BYTES = 16 * 1024,
};
_Static_assert(PUBLISHERS <= 256, "an id holds the publisher in 8 bits (id_make)");
_Static_assert(ROUNDS_MAX < (1 << 23), "an id holds the round + 1 in its top 24 bits");
/* a segment's 128-byte header, a record's 40-byte header and 8-byte checksum, the subject */
_Static_assert(PAYLOAD_SIZE_MAX + 128 + 48 + SUBJECT_SIZE <= 1 << 20,
               "the largest message fits a 1MB segment");

static const char STREAM[] = "CRASH";
static const char STREAM_CONFIG[] =
    "{\"name\":\"CRASH\",\"subjects\":[\"crash.>\"],\"storage\":\"file\"}";

/* ---- the run's context and failure reports ---- */

static uint64_t run_seed;
static uint32_t run_round;
static char run_dir[256];
static char store_dir[300];
static char log_path[300];
static struct crash_broker broker;

/* Ends the test: says what failed with the seed and the round, kills the broker (ours, by
 * PID), shows its log and keeps the store for a look. */
__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    fprintf(stderr, "FAIL [seed=%" PRIu64 " round=%u]: ", run_seed, run_round);
    va_list args;
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    int status;
    crash_broker_kill(&broker, &status);
    crash_log_show(log_path, LOG_SHOW_BYTES);
    fprintf(stderr, "store kept at %s; replay with IONATS_CRASH_SEED=%" PRIu64 "\n", store_dir,
            run_seed);
    exit(1);
}

/* ---- message ids and sizes ---- */

static uint64_t id_make(uint32_t round, uint32_t publisher, uint32_t index)
{
    return (uint64_t)(round + 1) << 40 | (uint64_t)publisher << 32 | index;
}

static void id_split(uint64_t id, uint32_t *round, uint32_t *publisher, uint32_t *index)
{
    *round = (uint32_t)(id >> 40) - 1;
    *publisher = (uint32_t)(id >> 32) & 0xff;
    *index = (uint32_t)id;
}

/* Mostly small, some tens of KB, a few near 1 MB: a function of the seed and the id. */
static size_t payload_length(uint64_t id)
{
    uint64_t h = crash_mix64(run_seed ^ crash_mix64(id));
    uint64_t pick = h % 1000;
    uint64_t r = crash_mix64(h);
    if (pick < 2) {
        return 900000 + r % (PAYLOAD_SIZE_MAX - 900000 + 1);
    }
    if (pick < 32) {
        return 16384 + r % (131072 - 16384 + 1);
    }
    if (pick < 200) {
        return 1024 + r % (16384 - 1024 + 1);
    }
    return CRASH_PAYLOAD_HEAD_SIZE + r % (1024 - CRASH_PAYLOAD_HEAD_SIZE + 1);
}

static void subject_of(uint32_t publisher, char subject[SUBJECT_SIZE])
{
    snprintf(subject, SUBJECT_SIZE, "crash.p%u", publisher);
}

/* ---- what the test knows ---- */

struct ack {
    uint64_t id;
    uint64_t seq;
};

struct model {
    uint64_t *seq_ids; /* owned: the message id read at each sequence, 0 when not read */
    bool *seq_acked;   /* owned: whether that sequence was acked */
    uint64_t seq_capacity;
    uint64_t verified_last;       /* the last_seq read back and checked in full */
    uint32_t (*sent)[PUBLISHERS]; /* owned: publishes per round and publisher */
    bool **seen;                  /* owned: [round * PUBLISHERS + publisher][index], read back */
    struct ack *pending;          /* owned: acks whose sequence was not read back yet */
    size_t pending_count;
    size_t pending_capacity;
    uint64_t stored_unacked; /* of the sequences new at the last check, those never acked */
    uint64_t acked_max;
    uint64_t acked_total;
    uint64_t published_total;
};

static struct model model;

static void *checked_realloc(void *pointer, size_t size)
{
    void *grown = realloc(pointer, size);
    if (grown == NULL) {
        fail("out of memory (%zu bytes)", size);
    }
    return grown;
}

static void model_reserve_seq(uint64_t seq)
{
    if (seq < model.seq_capacity) {
        return;
    }
    uint64_t capacity = model.seq_capacity ? model.seq_capacity : 4096;
    while (capacity <= seq) {
        capacity *= 2;
    }
    model.seq_ids = checked_realloc(model.seq_ids, capacity * sizeof *model.seq_ids);
    model.seq_acked = checked_realloc(model.seq_acked, capacity * sizeof *model.seq_acked);
    memset(model.seq_ids + model.seq_capacity, 0,
           (capacity - model.seq_capacity) * sizeof *model.seq_ids);
    memset(model.seq_acked + model.seq_capacity, 0,
           (capacity - model.seq_capacity) * sizeof *model.seq_acked);
    model.seq_capacity = capacity;
}

static void model_pending_add(uint64_t id, uint64_t seq)
{
    if (model.pending_count == model.pending_capacity) {
        model.pending_capacity = model.pending_capacity ? model.pending_capacity * 2 : 1024;
        model.pending =
            checked_realloc(model.pending, model.pending_capacity * sizeof *model.pending);
    }
    model.pending[model.pending_count++] = (struct ack){.id = id, .seq = seq};
}

/* A message read back at `seq` (found or not): checked against everything known. */
static void model_check(uint64_t seq, int rc, const struct crash_msg *msg, const char *why)
{
    model_reserve_seq(seq);
    uint64_t known = model.seq_ids[seq];
    if (rc == -ENOENT) {
        fail("sequence %" PRIu64 " is missing (no message found) although last_seq covers it%s",
             seq,
             known != 0 ? (model.seq_acked[seq] ? "; it held an ACKED message before"
                                                : "; it held a message before")
                        : "");
    }
    if (rc != 0) {
        fail("%s", why);
    }
    uint64_t id = 0;
    char bad[WHY_SIZE];
    if (crash_payload_check(msg->data, msg->length, &id, bad, sizeof bad) != 0) {
        fail("garbage at sequence %" PRIu64 " (subject %s): %s%s", seq, msg->subject, bad,
             known != 0 ? "; it held a whole message before" : "");
    }
    uint32_t round, publisher, index;
    id_split(id, &round, &publisher, &index);
    if (round >= run_round || publisher >= PUBLISHERS || index >= model.sent[round][publisher]) {
        fail("sequence %" PRIu64 " holds id %#" PRIx64 ", which was never sent", seq, id);
    }
    char subject[SUBJECT_SIZE];
    subject_of(publisher, subject);
    if (strcmp(subject, msg->subject) != 0) {
        fail("sequence %" PRIu64 " (id %#" PRIx64 ") has subject %s, sent on %s", seq, id,
             msg->subject, subject);
    }
    if (known != 0 && known != id) {
        fail("sequence %" PRIu64 " was reused: it held id %#" PRIx64 "%s, now id %#" PRIx64, seq,
             known, model.seq_acked[seq] ? " (acked)" : "", id);
    }
    if (known == 0) {
        bool *seen = &model.seen[round * PUBLISHERS + publisher][index];
        if (*seen) {
            fail("id %#" PRIx64 " is stored twice: again at sequence %" PRIu64, id, seq);
        }
        *seen = true;
        model.seq_ids[seq] = id;
    }
}

/* ---- reading back ---- */

/* Reads `seqs` back with up to GET_WINDOW MSG.GET requests in flight, checking each. The
 * connection has subscribed _CRASH_GET.* (once: verify does it). */
static void read_back(struct crash_conn *conn, const uint64_t *seqs, size_t count)
{
    char subject[96];
    snprintf(subject, sizeof subject, "$JS.API.STREAM.MSG.GET.%s", STREAM);
    size_t sent = 0;
    size_t done = 0;
    while (done < count) {
        while (sent < count && sent - done < GET_WINDOW) {
            char reply[64];
            char body[64];
            snprintf(reply, sizeof reply, "_CRASH_GET.%" PRIu64, seqs[sent]);
            snprintf(body, sizeof body, "{\"seq\":%" PRIu64 "}", seqs[sent]);
            int rc = crash_conn_publish(conn, subject, reply, body, strlen(body));
            if (rc != 0) {
                fail("MSG.GET of %" PRIu64 ": send: %s", seqs[sent], strerror(-rc));
            }
            sent++;
        }
        struct crash_frame frame;
        char error[256] = "";
        int rc = crash_conn_next(conn, &frame, CRASH_REPLY_WAIT_MS, error, sizeof error);
        if (rc != 0) {
            fail("MSG.GET of %" PRIu64 ": %s %s (the broker hangs or died)", seqs[done],
                 rc == -ETIMEDOUT ? "no reply in time" : strerror(-rc), error);
        }
        uint64_t seq = strtoull(frame.subject + strlen("_CRASH_GET."), NULL, 10);
        if (seq != seqs[done]) {
            fail("MSG.GET replies out of order: %" PRIu64 " answered before %" PRIu64, seq,
                 seqs[done]);
        }
        struct crash_msg msg;
        char why[WHY_SIZE] = "";
        rc = crash_msg_get_parse(frame.payload, frame.payload_length, seq, &msg, why, sizeof why);
        model_check(seq, rc, &msg, why);
        crash_msg_free(&msg);
        done++;
    }
}

/* After a restart: the stream's state, the sequences new since the last check (or all of
 * them), a sample of older ones, and the acks of the round before. */
static void verify(struct crash_conn *conn, bool full)
{
    struct crash_stream_state state;
    char why[WHY_SIZE];
    int rc = crash_stream_info(conn, STREAM, &state, why, sizeof why);
    if (rc == -ENOENT) {
        fail("stream %s is gone after the restart: %s", STREAM, why);
    }
    if (rc != 0) {
        fail("%s", why);
    }
    if (state.last_seq < model.acked_max) {
        fail("last_seq %" PRIu64 " is below the highest acked sequence %" PRIu64
             ": acked messages were lost",
             state.last_seq, model.acked_max);
    }
    if (state.last_seq < model.verified_last) {
        fail("last_seq went back from %" PRIu64 " (read back in an earlier round) to %" PRIu64,
             model.verified_last, state.last_seq);
    }
    if (state.last_seq > 0 && (state.first_seq != 1 || state.messages != state.last_seq)) {
        fail("stream state first_seq %" PRIu64 " last_seq %" PRIu64 " messages %" PRIu64
             ": nothing was ever deleted, so there must be no gap",
             state.first_seq, state.last_seq, state.messages);
    }
    model_reserve_seq(state.last_seq);
    uint64_t from = full ? 1 : model.verified_last + 1;
    size_t samples =
        model.verified_last > 0 && !full ? SAMPLE_RANDOM_COUNT + SAMPLE_BELOW_COUNT : 0;
    size_t count = (size_t)(state.last_seq + 1 - from) + samples;
    uint64_t *seqs = checked_realloc(NULL, (count + 1) * sizeof *seqs);
    size_t used = 0;
    uint64_t rng = run_seed ^ crash_mix64(run_round + 0x5a5a);
    for (size_t i = 0; i < samples; i++) {
        if (i < SAMPLE_RANDOM_COUNT) {
            seqs[used++] = crash_random_range(&rng, 1, model.verified_last);
        } else if (i - SAMPLE_RANDOM_COUNT < model.verified_last) {
            seqs[used++] = model.verified_last - (i - SAMPLE_RANDOM_COUNT);
        }
    }
    for (uint64_t seq = from; seq <= state.last_seq; seq++) {
        seqs[used++] = seq;
    }
    uint64_t sid;
    if (crash_conn_subscribe(conn, "_CRASH_GET.*", &sid) != 0) {
        fail("cannot subscribe for reading back");
    }
    read_back(conn, seqs, used);
    free(seqs);
    /* past the end: nothing, not the remains of a torn write */
    struct crash_msg beyond;
    rc = crash_msg_get(conn, STREAM, state.last_seq + 1, &beyond, why, sizeof why);
    if (rc != -ENOENT) {
        if (rc == 0) {
            crash_msg_free(&beyond);
        }
        fail("sequence %" PRIu64 " past last_seq %" PRIu64 " is %s", state.last_seq + 1,
             state.last_seq, rc == 0 ? "a message" : why);
    }
    for (size_t i = 0; i < model.pending_count; i++) {
        const struct ack *ack = &model.pending[i];
        if (model.seq_ids[ack->seq] != ack->id) {
            fail("acked sequence %" PRIu64 " (id %#" PRIx64 ") holds id %#" PRIx64
                 " after the restart",
                 ack->seq, ack->id, model.seq_ids[ack->seq]);
        }
    }
    /* new sequences whose publishes got no ack (expected for what was in flight at a kill) */
    model.stored_unacked = state.last_seq - model.verified_last - model.pending_count;
    model.pending_count = 0;
    model.verified_last = state.last_seq;
}

/* ---- publishers ---- */

static atomic_bool killed;
/* Publishes sent this round, by all publishers (the kill waits for a number of them). */
static atomic_uint_fast64_t round_published;

struct publisher {
    uint32_t index;
    int port;
    pthread_t thread;
    uint32_t sent; /* publishes handed to the socket (or tried) */
    bool *acked;   /* owned: [index] acked already, up to `acked_capacity` */
    size_t acked_capacity;
    struct ack *acks; /* owned */
    size_t ack_count;
    size_t ack_capacity;
    char failure[WHY_SIZE]; /* the first failure, "" for none */
};

static __attribute__((format(printf, 2, 3))) void publisher_fail(struct publisher *p,
                                                                 const char *fmt, ...)
{
    if (p->failure[0] != '\0') {
        return;
    }
    va_list args;
    va_start(args, fmt);
    vsnprintf(p->failure, sizeof p->failure, fmt, args);
    va_end(args);
}

static void publisher_ack(struct publisher *p, const struct crash_frame *frame)
{
    const char *dot = memrchr(frame->subject, '.', frame->subject_length);
    uint32_t index = dot != NULL ? (uint32_t)strtoul(dot + 1, NULL, 10) : UINT32_MAX;
    if (index >= p->sent) {
        publisher_fail(p, "an ack on %.*s, which is no publish of ours", (int)frame->subject_length,
                       frame->subject);
        return;
    }
    uint64_t seq = 0;
    char why[WHY_SIZE];
    int rc = crash_ack_parse(frame->payload, frame->payload_length, STREAM, &seq, why, sizeof why);
    uint64_t id = id_make(run_round, p->index, index);
    if (rc != 0) {
        publisher_fail(p, "publish of id %#" PRIx64 " (%zu bytes) got %s ack: %s", id,
                       payload_length(id), rc > 0 ? "an error" : "a bad", why);
        return;
    }
    if (p->acked[index]) {
        publisher_fail(p, "id %#" PRIx64 " acked twice (now with seq %" PRIu64 ")", id, seq);
        return;
    }
    p->acked[index] = true;
    if (p->ack_count == p->ack_capacity) {
        p->ack_capacity = p->ack_capacity ? p->ack_capacity * 2 : 256;
        p->acks = checked_realloc(p->acks, p->ack_capacity * sizeof *p->acks);
    }
    p->acks[p->ack_count++] = (struct ack){.id = id, .seq = seq};
}

static bool publisher_send(struct publisher *p, struct crash_conn *conn, uint8_t *payload)
{
    if (p->sent == p->acked_capacity) {
        size_t capacity = p->acked_capacity ? p->acked_capacity * 2 : 1024;
        p->acked = checked_realloc(p->acked, capacity * sizeof *p->acked);
        memset(p->acked + p->acked_capacity, 0, (capacity - p->acked_capacity) * sizeof *p->acked);
        p->acked_capacity = capacity;
    }
    uint64_t id = id_make(run_round, p->index, p->sent);
    size_t length = payload_length(id);
    crash_payload_fill(payload, length, id);
    char subject[SUBJECT_SIZE];
    char reply[64];
    subject_of(p->index, subject);
    snprintf(reply, sizeof reply, "_CRASH_ACK.%u.%u", p->index, p->sent);
    p->sent++; /* sent from here on, whether or not the broker lives to read it */
    bool ok = crash_conn_publish(conn, subject, reply, payload, length) == 0;
    /* relaxed: a count the main thread polls, ordering nothing */
    atomic_fetch_add_explicit(&round_published, 1, memory_order_relaxed);
    return ok;
}

/* Publishes with WINDOW acks outstanding until the kill, then reads every ack the broker
 * sent before it died (up to the connection's end). */
static void *publisher_run(void *arg)
{
    struct publisher *p = arg;
    struct crash_conn conn;
    int rc = crash_conn_open(&conn, p->port);
    uint64_t sid;
    if (rc == 0) {
        char ack_subject[64];
        snprintf(ack_subject, sizeof ack_subject, "_CRASH_ACK.%u.*", p->index);
        rc = crash_conn_subscribe(&conn, ack_subject, &sid);
    }
    if (rc != 0) {
        if (!atomic_load_explicit(&killed, memory_order_acquire)) {
            publisher_fail(p, "cannot connect: %s", strerror(-rc));
        }
        crash_conn_close(&conn);
        return NULL;
    }
    uint8_t *payload = malloc(PAYLOAD_SIZE_MAX);
    uint32_t in_flight = 0;
    int64_t progress_ms = crash_now_ms();
    for (;;) {
        while (in_flight < WINDOW && !atomic_load_explicit(&killed, memory_order_acquire)) {
            if (!publisher_send(p, &conn, payload)) {
                goto drain;
            }
            in_flight++;
        }
        struct crash_frame frame;
        char error[256] = "";
        rc = crash_conn_next(&conn, &frame, 100, error, sizeof error);
        if (rc == -ETIMEDOUT) {
            if (in_flight > 0 && crash_now_ms() - progress_ms > CRASH_REPLY_WAIT_MS &&
                !atomic_load_explicit(&killed, memory_order_acquire)) {
                publisher_fail(p, "no ack for %d ms with %u publishes in flight",
                               CRASH_REPLY_WAIT_MS, in_flight);
                break;
            }
            continue;
        }
        if (rc != 0) {
            if (rc == -EPROTO) {
                publisher_fail(p, "protocol error from the broker: %s", error);
            }
            break;
        }
        publisher_ack(p, &frame);
        in_flight--;
        progress_ms = crash_now_ms();
    }
drain:
    /* what the broker sent before it died is all in the socket: read it to the end */
    for (;;) {
        struct crash_frame frame;
        if (crash_conn_next(&conn, &frame, 2000, NULL, 0) != 0) {
            break;
        }
        publisher_ack(p, &frame);
    }
    if (!atomic_load_explicit(&killed, memory_order_acquire)) {
        publisher_fail(p, "the connection ended while the broker should be running");
    }
    free(payload);
    crash_conn_close(&conn);
    return NULL;
}

/* ---- rounds ---- */

static const char *segment_size_pick(uint64_t *rng)
{
    switch (crash_random(rng) % 4) {
    case 0:
    case 1:
        return "1MB";
    case 2:
        return "4MB";
    default:
        return NULL; /* the default, 64MB */
    }
}

static void broker_start_checked(const char *segment_size)
{
    const char *extra[8] = {"--sync", "always"};
    int argc = 2;
    if (segment_size != NULL) {
        extra[argc++] = "--segment_size";
        extra[argc++] = segment_size;
    }
    crash_log_mark(log_path,
                   "=== crash test: round %u, --sync always, --segment_size %s ===", run_round,
                   segment_size ? segment_size : "default");
    int rc = crash_broker_start(&broker, store_dir, extra, log_path);
    if (rc != 0) {
        fail("the broker did not start on the store: %s", strerror(-rc));
    }
}

static void broker_kill_checked(void);

/* How a round ends its broker: SIGKILL mostly; some rounds SIGTERM under load, which must
 * end in exit 0 (a clean stop with publishes in flight); some SIGTERM and, a moment later,
 * SIGKILL (a crash in the middle of stopping). */
enum round_end { END_KILL, END_TERM, END_TERM_THEN_KILL };
/* One round in END_TERM_ONE_IN ends each way with a SIGTERM; a SIGKILL follows a SIGTERM
 * within TERM_THEN_KILL_MS_MAX. */
enum { END_TERM_ONE_IN = 8, TERM_THEN_KILL_MS_MAX = 30 };

static const char *round_end_name(enum round_end end)
{
    return end == END_KILL ? "SIGKILL" : end == END_TERM ? "SIGTERM" : "SIGTERM+SIGKILL";
}

static enum round_end round_end_pick(uint64_t *rng)
{
    switch (crash_random(rng) % END_TERM_ONE_IN) {
    case 0:
        return END_TERM;
    case 1:
        return END_TERM_THEN_KILL;
    default:
        return END_KILL;
    }
}

static void broker_end_checked(enum round_end end, uint64_t *rng)
{
    int status = 0;
    char how[96];
    if (end == END_TERM) {
        if (!crash_broker_stop(&broker, &status)) {
            crash_status_describe(status, how, sizeof how);
            fail("SIGTERM with publishes in flight: the broker ended with %s, not exit 0", how);
        }
        return;
    }
    if (end == END_TERM_THEN_KILL) {
        if (!crash_broker_alive(&broker, &status)) {
            crash_status_describe(status, how, sizeof how);
            fail("the broker had ended by itself before the SIGTERM: %s", how);
        }
        kill(broker.pid, SIGTERM);
        usleep((useconds_t)crash_random_range(rng, 0, TERM_THEN_KILL_MS_MAX) * 1000);
        if (!crash_broker_alive(&broker, &status)) {
            /* it stopped before the SIGKILL: that stop must have been clean */
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                crash_status_describe(status, how, sizeof how);
                fail("SIGTERM with publishes in flight: the broker ended with %s", how);
            }
            return;
        }
    }
    broker_kill_checked();
}

static void broker_kill_checked(void)
{
    int status = 0;
    if (!crash_broker_kill(&broker, &status)) {
        char how[96];
        crash_status_describe(status, how, sizeof how);
        fail("the broker had ended by itself before the kill: %s", how);
    }
}

/* Folds a round's acks into the model: an ack for a sequence already read back must name the
 * message read there; the others are checked after the next restart. */
static void acks_merge(struct publisher *publishers)
{
    for (uint32_t i = 0; i < PUBLISHERS; i++) {
        struct publisher *p = &publishers[i];
        model.sent[run_round][i] = p->sent;
        model.seen[run_round * PUBLISHERS + i] = calloc(p->sent + 1, sizeof(bool));
        model.published_total += p->sent;
        for (size_t a = 0; a < p->ack_count; a++) {
            const struct ack *ack = &p->acks[a];
            model_reserve_seq(ack->seq);
            model.seq_acked[ack->seq] = true;
            model.acked_total++;
            model.acked_max = ack->seq > model.acked_max ? ack->seq : model.acked_max;
            if (ack->seq <= model.verified_last && model.seq_ids[ack->seq] != ack->id) {
                fail("sequence %" PRIu64 " reused: acked for id %#" PRIx64
                     " but it already held id %#" PRIx64,
                     ack->seq, ack->id, model.seq_ids[ack->seq]);
            }
            if (ack->seq > model.verified_last) {
                model_pending_add(ack->id, ack->seq);
            }
        }
        free(p->acks);
        free(p->acked);
    }
}

/* Waits for the kill's moment: a number of publishes sent or a time since the start. */
static void kill_moment_wait(uint64_t *rng, char *how, size_t how_size)
{
    int64_t begun_ms = crash_now_ms();
    if (crash_random(rng) % KILL_BY_TIME_ONE_IN == 0) {
        uint64_t delay_ms = crash_random_range(rng, 0, KILL_DELAY_MS_MAX);
        usleep((useconds_t)(delay_ms * 1000));
        snprintf(how, how_size, "%" PRIu64 " ms after the publishers started", delay_ms);
        return;
    }
    uint64_t target = crash_random_range(rng, 1, KILL_PUBLISHES_MAX);
    while (atomic_load_explicit(&round_published, memory_order_relaxed) < target &&
           crash_now_ms() - begun_ms < ROUND_PUBLISH_MS_MAX) {
        usleep(KILL_POLL_US);
    }
    snprintf(how, how_size, "at publish %" PRIu64 " of %" PRIu64 " (%" PRId64 " ms)",
             (uint64_t)atomic_load_explicit(&round_published, memory_order_relaxed), target,
             crash_now_ms() - begun_ms);
}

/* How the last round ended: after a clean stop (SIGTERM) every message stored must have
 * been acknowledged, since the broker closes its connections only once its stores have
 * committed and their acks are out. */
static enum round_end last_end = END_KILL;

static void round_publish(int port, uint64_t *rng, uint64_t *acked, uint64_t *sent, char *how,
                          size_t how_size)
{
    enum round_end end = round_end_pick(rng);
    last_end = end;
    struct publisher publishers[PUBLISHERS];
    memset(publishers, 0, sizeof publishers);
    atomic_store_explicit(&killed, false, memory_order_release);
    atomic_store_explicit(&round_published, 0, memory_order_relaxed);
    for (uint32_t i = 0; i < PUBLISHERS; i++) {
        publishers[i].index = i;
        publishers[i].port = port;
        if (pthread_create(&publishers[i].thread, NULL, publisher_run, &publishers[i]) != 0) {
            fail("cannot start publisher %u", i);
        }
    }
    char when[96];
    kill_moment_wait(rng, when, sizeof when);
    snprintf(how, how_size, "%s %s", round_end_name(end), when);
    atomic_store_explicit(&killed, true, memory_order_release);
    broker_end_checked(end, rng);
    *acked = 0;
    *sent = 0;
    for (uint32_t i = 0; i < PUBLISHERS; i++) {
        pthread_join(publishers[i].thread, NULL);
    }
    for (uint32_t i = 0; i < PUBLISHERS; i++) {
        if (publishers[i].failure[0] != '\0') {
            fail("publisher %u: %s", i, publishers[i].failure);
        }
        *acked += publishers[i].ack_count;
        *sent += publishers[i].sent;
    }
    acks_merge(publishers);
}

static void round_run(void)
{
    uint64_t rng = run_seed ^ crash_mix64(run_round);
    const char *segment_size = segment_size_pick(&rng);
    int64_t started_ms = crash_now_ms();
    broker_start_checked(segment_size);
    if (run_round > 0 && crash_random(&rng) % EARLY_KILL_ONE_IN == 0) {
        int64_t delay_ms = (int64_t)crash_random_range(&rng, 0, EARLY_KILL_MS_MAX);
        usleep((useconds_t)(delay_ms * 1000));
        broker_kill_checked();
        printf("round %3u: segment %-7s killed %" PRId64 " ms after it accepted, before any "
               "check\n",
               run_round, segment_size ? segment_size : "default", delay_ms);
        return;
    }
    struct crash_conn conn;
    int rc = crash_conn_open(&conn, broker.port);
    if (rc != 0) {
        fail("cannot connect: %s", strerror(-rc));
    }
    char why[WHY_SIZE];
    if (run_round == 0 && crash_stream_create(&conn, STREAM, STREAM_CONFIG, why, sizeof why)) {
        fail("%s", why);
    }
    uint64_t checked_from = model.verified_last;
    bool full = run_round >= FULL_SCAN_FIRST && (run_round & (run_round - 1)) == 0;
    verify(&conn, full);
    if (run_round > 0 && last_end == END_TERM && model.stored_unacked > 0) {
        fail("the SIGTERM stop of round %u left %" PRIu64 " stored messages unacknowledged",
             run_round - 1, model.stored_unacked);
    }
    int64_t verified_ms = crash_now_ms();
    uint64_t acked = 0;
    uint64_t sent = 0;
    char how[128];
    round_publish(broker.port, &rng, &acked, &sent, how, sizeof how);
    crash_conn_close(&conn);
    printf("round %3u: segment %-7s last_seq %-7" PRIu64 " (%" PRIu64 " new, %" PRIu64
           " of them not acked%s; checked in %" PRId64 " ms); published %" PRIu64 ", acked %" PRIu64
           ", %s\n",
           run_round, segment_size ? segment_size : "default", model.verified_last,
           model.verified_last - checked_from, model.stored_unacked, full ? ", full re-read" : "",
           verified_ms - started_ms, sent, acked, how);
    fflush(stdout);
}

/* The end: one more restart, every sequence read back, and a clean stop. */
static void final_check(void)
{
    broker_start_checked(NULL);
    struct crash_conn conn;
    int rc = crash_conn_open(&conn, broker.port);
    if (rc != 0) {
        fail("cannot connect: %s", strerror(-rc));
    }
    verify(&conn, true);
    crash_conn_close(&conn);
    int status;
    if (!crash_broker_stop(&broker, &status)) {
        char how[96];
        crash_status_describe(status, how, sizeof how);
        fail("the broker did not stop cleanly on SIGTERM: %s", how);
    }
}

/* Counts the log lines that contain `needle` and not `except` (NULL: none). */
static long log_count(const char *needle, const char *except)
{
    FILE *log = fopen(log_path, "r");
    long count = 0;
    char line[2048];
    while (log != NULL && fgets(line, sizeof line, log) != NULL) {
        count += strstr(line, needle) != NULL && (except == NULL || strstr(line, except) == NULL);
    }
    if (log != NULL) {
        fclose(log);
    }
    return count;
}

static uint64_t env_u64(const char *name, uint64_t fallback)
{
    const char *text = getenv(name);
    return text != NULL && text[0] != '\0' ? strtoull(text, NULL, 0) : fallback;
}

static void remove_run_dir(void)
{
    char command[600];
    snprintf(command, sizeof command, "rm -rf -- '%s'", run_dir);
    if (system(command) != 0) {
        fprintf(stderr, "crash: could not remove %s\n", run_dir);
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    run_seed =
        env_u64("IONATS_CRASH_SEED", crash_mix64((uint64_t)now.tv_nsec ^
                                                 (uint64_t)now.tv_sec << 20 ^ (uint64_t)getpid()));
    uint64_t rounds = env_u64("IONATS_CRASH_ROUNDS", ROUNDS_DEFAULT);
    if (rounds < 1 || rounds > ROUNDS_MAX) {
        fprintf(stderr, "IONATS_CRASH_ROUNDS must be 1..%d\n", ROUNDS_MAX);
        return 1;
    }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(run_dir, sizeof run_dir, "%s/ionats-crash-XXXXXX", tmp);
    if (mkdtemp(run_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(store_dir, sizeof store_dir, "%s/store", run_dir);
    snprintf(log_path, sizeof log_path, "%s/broker.log", run_dir);
    printf("crash test: seed %" PRIu64 " (replay: IONATS_CRASH_SEED=%" PRIu64 "), %" PRIu64
           " rounds, store %s\n",
           run_seed, run_seed, rounds, store_dir);
    model.sent = calloc(rounds, sizeof *model.sent);
    model.seen = calloc(rounds * PUBLISHERS, sizeof *model.seen);
    if (model.sent == NULL || model.seen == NULL) {
        fail("out of memory");
    }
    int64_t begun_ms = crash_now_ms();
    for (run_round = 0; run_round < rounds; run_round++) {
        round_run();
    }
    final_check();
    printf("crash test passed: %" PRIu64 " rounds in %.1f s; %" PRIu64 " publishes, %" PRIu64
           " acked (highest seq %" PRIu64 "), %" PRIu64 " messages stored and re-read\n",
           rounds, (double)(crash_now_ms() - begun_ms) / 1000.0, model.published_total,
           model.acked_total, model.acked_max, model.verified_last);
    printf("broker log: %ld recoveries found a torn or damaged record, %ld lost messages or "
           "sequences, %ld [ERR] lines\n",
           log_count("damaged segment", NULL), log_count(" lost", "with 0 lost"),
           log_count("[ERR]", NULL));
    for (size_t i = 0; i < rounds * PUBLISHERS; i++) {
        free(model.seen[i]);
    }
    free(model.seen);
    free(model.sent);
    free(model.seq_ids);
    free(model.seq_acked);
    free(model.pending);
    if (getenv("IONATS_CRASH_KEEP") == NULL) {
        remove_run_dir();
    } else {
        printf("store kept at %s (IONATS_CRASH_KEEP)\n", store_dir);
    }
    return 0;
}
