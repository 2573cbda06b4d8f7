/* Crash test of atomic batches: a broker under --sync always is SIGKILLed at a random moment
 * while a publisher commits atomic batches of random sizes into a file stream, then
 * restarted on its store. After each restart every batch whose commit was acked is in the
 * stream whole, and no batch is there in part: each message names its batch, its place and
 * the batch's size, and the stream must read as whole batches, each contiguous, in order.
 *
 * The one idea: an ack means the whole batch is durable, and a batch not acked may be
 * there or not, but never in part; so the check needs only the acked ids and the stream.
 * The publisher uses libnats (headers), on its own thread; it stops at the first failed
 * request once the broker is gone. Acks that libnats read but had not handed over when the
 * connection dropped are only missing from the acked set, which weakens the check, never
 * falsifies it.
 *
 * Environment: IONATS_CRASH_BATCH_ROUNDS (default 10) for a longer soak; IONATS_CRASH_SEED to
 * replay the kill moments and batch sizes. A few seconds with the default. */
#include "tests/crash/crash.h"

#include <errno.h>
#include <inttypes.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    ROUNDS_DEFAULT = 10,
    ROUNDS_MAX = 1000,
    /* Messages per batch: 1..BATCH_SIZE_MAX. */
    BATCH_SIZE_MAX = 40,
    /* Batches one run of the test can ack at most (a bound for the acked set). */
    BATCHES_MAX = 1 << 20,
    /* The kill comes this long after the publisher starts: a random moment in it. */
    KILL_AFTER_MIN_MS = 20,
    KILL_AFTER_MAX_MS = 150,
    /* One batch in LARGE_ONE_IN has messages of LARGE_PAYLOAD_SIZE bytes: a batch of 40
     * then spans several of the store's writes (256 KiB each), so a kill can fall between
     * them and leave part of it on disk for recovery to drop. */
    LARGE_ONE_IN = 4,
    LARGE_PAYLOAD_SIZE = 32 * 1024,
    /* A request that takes longer is the broker's death (it replies in microseconds). */
    REQUEST_WAIT_MS = 5000,
};

static const char STREAM[] = "CB";

/* Shared by the publisher thread and the main thread. */
struct publisher {
    natsConnection *connection; /* owned by the main thread */
    uint64_t seed;
    uint64_t next_batch; /* the publisher's: ids go on across rounds */
    /* acked[id] = the size of batch `id` once its commit was acked; written by the
     * publisher before it bumps acked_count (release), read by the main thread after it
     * joined it. */
    uint8_t *acked;
    _Atomic uint64_t acked_count;
    /* The check's: batches found whole, and the stream checked up to checked_seq (what a
     * kill cannot change: nothing is deleted), so each restart reads only what is new. */
    uint8_t *seen;
    uint64_t checked_seq;
};

static uint64_t env_u64(const char *name, uint64_t fallback)
{
    const char *text = getenv(name);
    return text != NULL && *text != '\0' ? strtoull(text, NULL, 10) : fallback;
}

static natsMsg *batch_msg(uint64_t id, unsigned index, unsigned size, bool large)
{
    static char data[LARGE_PAYLOAD_SIZE];
    char subject[64];
    char text[24];
    snprintf(subject, sizeof subject, "cb.%u", index % 4);
    int length = snprintf(data, sizeof data, "%" PRIu64 " %u %u ", id, index, size);
    if (large) {
        memset(data + length, 'p', sizeof data - (size_t)length);
        length = (int)sizeof data;
    }
    natsMsg *msg = NULL;
    if (natsMsg_Create(&msg, subject, NULL, data, length) != NATS_OK) {
        return NULL;
    }
    snprintf(text, sizeof text, "b%" PRIu64, id);
    natsMsgHeader_Set(msg, "Nats-Batch-Id", text);
    snprintf(text, sizeof text, "%u", index);
    natsMsgHeader_Set(msg, "Nats-Batch-Sequence", text);
    if (index == size) {
        natsMsgHeader_Set(msg, "Nats-Batch-Commit", "1");
    }
    return msg;
}

/* Commits batches until a request fails (the broker was killed). */
static void *publisher_run(void *arg)
{
    struct publisher *pub = arg;
    for (;;) {
        uint64_t id = pub->next_batch++;
        if (id >= BATCHES_MAX) {
            return NULL;
        }
        unsigned size = (unsigned)crash_random_range(&pub->seed, 1, BATCH_SIZE_MAX);
        bool large = crash_random_range(&pub->seed, 1, LARGE_ONE_IN) == 1;
        for (unsigned index = 1; index <= size; index++) {
            natsMsg *msg = batch_msg(id, index, size, large);
            if (msg == NULL) {
                return NULL;
            }
            natsStatus status;
            if (index < size) {
                status = natsConnection_PublishMsg(pub->connection, msg);
                natsMsg_Destroy(msg);
                if (status != NATS_OK) {
                    return NULL;
                }
                continue;
            }
            natsMsg *reply = NULL;
            status = natsConnection_RequestMsg(&reply, pub->connection, msg, REQUEST_WAIT_MS);
            natsMsg_Destroy(msg);
            if (status != NATS_OK) {
                return NULL;
            }
            char want[48];
            snprintf(want, sizeof want, "\"batch\":\"b%" PRIu64 "\",\"count\":%u}", id, size);
            bool ok = natsMsg_GetDataLength(reply) > 0 &&
                      strstr(natsMsg_GetData(reply), want) != NULL;
            natsMsg_Destroy(reply);
            if (!ok) {
                return NULL; /* an error ack: not acked (the check says what is stored) */
            }
            pub->acked[id] = (uint8_t)size;
            atomic_fetch_add_explicit(&pub->acked_count, 1, memory_order_release);
        }
    }
}

static int connect_to(int port, natsConnection **out)
{
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    natsOptions *options = NULL;
    natsStatus status = natsOptions_Create(&options);
    if (status == NATS_OK) {
        status = natsOptions_SetURL(options, url);
    }
    if (status == NATS_OK) {
        status = natsOptions_SetAllowReconnect(options, false);
    }
    if (status == NATS_OK) {
        status = natsConnection_Connect(out, options);
    }
    natsOptions_Destroy(options);
    return status == NATS_OK ? 0 : -EIO;
}

/* Reads the stream back and checks it: whole batches only, each contiguous and in order,
 * every acked one there. 0, or -1 after saying why. */
static int stream_check(int port, struct publisher *pub)
{
    struct crash_conn conn;
    char why[256];
    if (crash_conn_open(&conn, port) != 0) {
        fprintf(stderr, "cannot connect after the restart\n");
        return -1;
    }
    struct crash_stream_state state;
    if (crash_stream_info(&conn, STREAM, &state, why, sizeof why) != 0) {
        fprintf(stderr, "stream info: %s\n", why);
        crash_conn_close(&conn);
        return -1;
    }
    uint8_t *seen = pub->seen;
    int rc = 0;
    uint64_t open_id = 0;
    unsigned open_next = 0; /* the index the batch in progress expects next; 0: none */
    unsigned open_size = 0;
    if (state.last_seq < pub->checked_seq) {
        fprintf(stderr, "the stream lost sequences: last %" PRIu64 ", checked to %" PRIu64 "\n",
                state.last_seq, pub->checked_seq);
        rc = -1;
    }
    uint64_t first = pub->checked_seq + 1 > state.first_seq ? pub->checked_seq + 1 : state.first_seq;
    for (uint64_t seq = first; rc == 0 && seq <= state.last_seq; seq++) {
        struct crash_msg msg;
        int got = crash_msg_get(&conn, STREAM, seq, &msg, why, sizeof why);
        if (got == -ENOENT) {
            continue;
        }
        if (got != 0) {
            fprintf(stderr, "get %" PRIu64 ": %s\n", seq, why);
            rc = -1;
            break;
        }
        char text[64];
        size_t length = msg.length < sizeof text - 1 ? msg.length : sizeof text - 1;
        memcpy(text, msg.data, length);
        text[length] = '\0';
        crash_msg_free(&msg);
        uint64_t id = 0;
        unsigned index = 0;
        unsigned size = 0;
        if (sscanf(text, "%" SCNu64 " %u %u", &id, &index, &size) != 3 || id >= BATCHES_MAX) {
            fprintf(stderr, "seq %" PRIu64 ": not a batch message: %s\n", seq, text);
            rc = -1;
        } else if (open_next != 0 && (id != open_id || index != open_next)) {
            fprintf(stderr, "seq %" PRIu64 ": batch b%" PRIu64 " stops at %u of %u (next: %s)\n",
                    seq, open_id, open_next - 1, open_size, text);
            rc = -1;
        } else if (open_next == 0 && index != 1) {
            fprintf(stderr, "seq %" PRIu64 ": batch b%" PRIu64 " starts at %u\n", seq, id, index);
            rc = -1;
        } else {
            open_id = id;
            open_size = size;
            open_next = index == size ? 0 : index + 1;
            if (index == size) {
                seen[id] = 1;
            }
        }
    }
    if (rc == 0 && open_next != 0) {
        fprintf(stderr, "the stream ends inside batch b%" PRIu64 " (%u of %u)\n", open_id,
                open_next - 1, open_size);
        rc = -1;
    }
    for (uint64_t id = 0; rc == 0 && id < pub->next_batch && id < BATCHES_MAX; id++) {
        if (pub->acked[id] != 0 && !seen[id]) {
            fprintf(stderr, "batch b%" PRIu64 " was acked and is not in the stream\n", id);
            rc = -1;
        }
    }
    if (rc == 0) {
        pub->checked_seq = state.last_seq;
    }
    crash_conn_close(&conn);
    return rc;
}

static int round_run(struct publisher *pub, const char *store_dir, const char *log_path,
                     unsigned round)
{
    int ignored = 0;
    struct crash_broker broker = {0};
    const char *extra[] = {"--sync", "always", NULL};
    crash_log_mark(log_path, "=== batch crash test: round %u ===", round);
    if (crash_broker_start(&broker, store_dir, extra, log_path) != 0) {
        fprintf(stderr, "round %u: the broker did not start\n", round);
        return -1;
    }
    if (round > 0 && stream_check(broker.port, pub) != 0) {
        fprintf(stderr, "round %u: the store after the kill fails the check\n", round);
        crash_broker_kill(&broker, &ignored);
        return -1;
    }
    if (connect_to(broker.port, &pub->connection) != 0) {
        fprintf(stderr, "round %u: cannot connect\n", round);
        crash_broker_kill(&broker, &ignored);
        return -1;
    }
    if (round == 0) {
        struct crash_conn conn;
        char why[256];
        int rc = crash_conn_open(&conn, broker.port);
        if (rc == 0) {
            rc = crash_stream_create(&conn, STREAM,
                                     "{\"name\":\"CB\",\"subjects\":[\"cb.>\"],"
                                     "\"storage\":\"file\",\"allow_atomic\":true}",
                                     why, sizeof why);
            crash_conn_close(&conn);
        }
        if (rc != 0) {
            fprintf(stderr, "create: %s\n", why);
            crash_broker_kill(&broker, &ignored);
            return -1;
        }
    }
    pthread_t thread;
    pthread_create(&thread, NULL, publisher_run, pub);
    uint64_t wait_ms = crash_random_range(&pub->seed, KILL_AFTER_MIN_MS, KILL_AFTER_MAX_MS);
    usleep((useconds_t)wait_ms * 1000);
    int status = 0;
    bool killed = crash_broker_kill(&broker, &status);
    pthread_join(thread, NULL);
    natsConnection_Destroy(pub->connection);
    pub->connection = NULL;
    if (!killed) {
        char text[64];
        crash_status_describe(status, text, sizeof text);
        fprintf(stderr, "round %u: the broker ended by itself (%s)\n", round, text);
        return -1;
    }
    printf("round %u: killed after %" PRIu64 " ms, %" PRIu64 " batches acked so far\n", round,
           wait_ms, atomic_load_explicit(&pub->acked_count, memory_order_acquire));
    return 0;
}

int main(void)
{
    if (getenv("IONATS_TEST_SERVER") != NULL && strcmp(getenv("IONATS_TEST_SERVER"), "ionats")) {
        printf("SKIP: the crash suite runs ionats only\n");
        return CRASH_EXIT_SKIP;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t seed = env_u64("IONATS_CRASH_SEED", crash_mix64((uint64_t)now.tv_nsec ^
                                                              (uint64_t)getpid()));
    uint64_t rounds = env_u64("IONATS_CRASH_BATCH_ROUNDS", ROUNDS_DEFAULT);
    if (rounds == 0 || rounds > ROUNDS_MAX) {
        fprintf(stderr, "IONATS_CRASH_BATCH_ROUNDS must be 1..%d\n", ROUNDS_MAX);
        return EXIT_FAILURE;
    }
    printf("batch crash test: seed %" PRIu64 " (replay: IONATS_CRASH_SEED=%" PRIu64 "), %" PRIu64
           " rounds\n",
           seed, seed, rounds);
    char store_dir[] = "/tmp/ionats-crash-batch-XXXXXX";
    if (mkdtemp(store_dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    char log_path[600];
    snprintf(log_path, sizeof log_path, "%s.log", store_dir);
    struct publisher pub = {.seed = seed,
                            .acked = calloc(BATCHES_MAX, 1),
                            .seen = calloc(BATCHES_MAX, 1)};
    if (pub.acked == NULL || pub.seen == NULL) {
        return EXIT_FAILURE;
    }
    int rc = 0;
    int ignored = 0;
    for (unsigned round = 0; rc == 0 && round <= rounds; round++) {
        if (round == rounds) {
            /* the last restart only checks */
            struct crash_broker broker = {0};
            rc = crash_broker_start(&broker, store_dir, NULL, log_path) == 0 &&
                         stream_check(broker.port, &pub) == 0 &&
                         crash_broker_stop(&broker, &ignored)
                     ? 0
                     : -1;
            if (broker.pid != 0) {
                crash_broker_kill(&broker, &ignored);
            }
            break;
        }
        rc = round_run(&pub, store_dir, log_path, round);
    }
    nats_Close();
    free(pub.acked);
    free(pub.seen);
    if (rc != 0) {
        crash_log_show(log_path, 4096);
        fprintf(stderr, "store kept at %s; replay with IONATS_CRASH_SEED=%" PRIu64 "\n", store_dir,
                seed);
        return EXIT_FAILURE;
    }
    char command[700];
    snprintf(command, sizeof command, "grep -c 'dropped an unfinished atomic batch' '%s'",
             log_path);
    printf("restarts that dropped an unfinished batch: ");
    fflush(stdout);
    (void)system(command);
    snprintf(command, sizeof command, "rm -rf '%s' '%s'", store_dir, log_path);
    if (system(command) != 0) {
        fprintf(stderr, "cannot remove %s\n", store_dir);
    }
    printf("batch crash test: %" PRIu64 " batches acked over %" PRIu64 " kills, all whole\n",
           atomic_load_explicit(&pub.acked_count, memory_order_acquire), rounds);
    return EXIT_SUCCESS;
}
