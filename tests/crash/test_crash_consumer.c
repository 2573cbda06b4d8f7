/* Crash test for consumer state: a durable pull consumer takes messages in batches and
 * acks most of them as requests (AckSync), many in flight at once, while the broker is
 * SIGKILLed at a random moment (one round in eight: SIGTERM, which must exit 0), round after
 * round on the same store. What the broker promised, checked throughout:
 *
 *  - a message whose ack was answered is never delivered again, in this round or any later
 *    one (an answered ack is durable: --sync always);
 *  - nothing unacknowledged is lost: after the last round the consumer, run without kills,
 *    delivers every message not yet acked (those delivered and not acked come back once
 *    their ack wait passes; an ack sent but not answered before a kill may or may not have
 *    been applied), until its info says the ack floor is the last message with nothing
 *    pending; and every message was delivered at least once (an ack floor can only pass a
 *    message this test acked);
 *  - every delivery is a message that was stored, whole.
 *
 * Environment: IONATS_CRASH_ROUNDS (default 20), IONATS_CRASH_SEED to replay the kill
 * moments and ack choices (the interleaving is the machine's); IONATS_CRASH_KEEP keeps the
 * store and log. Main thread, and a killer thread per round. */
#include "tests/crash/crash.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    WHY_SIZE = 1024,
    LOG_SHOW_BYTES = 8192,
    ROUNDS_DEFAULT = 20,
    ROUNDS_MAX = 10000,
    MESSAGES = 6000,
    PAYLOAD_SIZE = 200,
    BATCH = 32,
    /* a round lasts until the kill, and at most this long */
    ROUND_MS_MAX = 5000,
    /* the last phase, without kills, has this long to see every message answered */
    FINAL_MS_MAX = 90000,
    ACK_PERCENT = 85,
};

static char run_dir[256];
static char store_dir[300];
static char log_path[300];
static struct crash_broker broker;
static uint64_t seed;
static bool answered[MESSAGES + 1];  /* by stream sequence: its ack was answered */
static bool delivered[MESSAGES + 1]; /* delivered at least once */
static uint64_t answered_count;
static uint64_t delivery_count; /* deliveries seen, all rounds */

__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    fprintf(stderr, "FAIL (seed %" PRIu64 "): ", seed);
    va_list args;
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputc('\n', stderr);
    int status;
    crash_broker_kill(&broker, &status);
    crash_log_show(log_path, LOG_SHOW_BYTES);
    fprintf(stderr, "store and log kept in %s\n", run_dir);
    exit(1);
}

static void broker_start(void)
{
    int rc = crash_broker_start(&broker, store_dir, NULL, log_path);
    if (rc != 0) {
        fail("the broker did not start: %s", strerror(-rc));
    }
}

static json_t *request(struct crash_conn *conn, const char *subject, const char *body)
{
    char why[WHY_SIZE];
    json_t *reply = crash_request(conn, subject, body, CRASH_REPLY_WAIT_MS, why, sizeof why);
    if (reply == NULL) {
        fail("%s: %s", subject, why);
    }
    char description[WHY_SIZE];
    int code = crash_api_error(reply, description, sizeof description);
    if (code != 0) {
        fail("%s: error %d %s", subject, code, description);
    }
    return reply;
}

static void setup(void)
{
    broker_start();
    struct crash_conn conn;
    if (crash_conn_open(&conn, broker.port) != 0) {
        fail("cannot connect");
    }
    char why[WHY_SIZE];
    if (crash_stream_create(&conn, "CC", "{\"name\":\"CC\",\"subjects\":[\"cc\"]}", why,
                            sizeof why) != 0) {
        fail("%s", why);
    }
    uint8_t payload[PAYLOAD_SIZE];
    for (uint64_t seq = 1; seq <= MESSAGES; seq++) {
        crash_payload_fill(payload, sizeof payload, seq);
        uint64_t acked = 0;
        if (crash_publish_acked(&conn, "CC", "cc", payload, sizeof payload, &acked, why,
                                sizeof why) != 0 ||
            acked != seq) {
            fail("publish %" PRIu64 ": %s (seq %" PRIu64 ")", seq, why, acked);
        }
    }
    json_decref(request(&conn, "$JS.API.CONSUMER.DURABLE.CREATE.CC.D",
                        "{\"stream_name\":\"CC\",\"config\":{\"durable_name\":\"D\","
                        "\"ack_policy\":\"explicit\",\"ack_wait\":250000000,"
                        "\"max_ack_pending\":20000}}"));
    crash_conn_close(&conn);
}

/* ---- one delivery ---- */

/* The stream sequence in a $JS.ACK reply (its sixth token). */
static uint64_t ack_sseq(const struct crash_frame *frame)
{
    char subject[256];
    size_t length = frame->reply_length < sizeof subject - 1 ? frame->reply_length
                                                              : sizeof subject - 1;
    memcpy(subject, frame->reply, length);
    subject[length] = '\0';
    char *token = subject;
    for (int i = 0; i < 5 && token != NULL; i++) {
        token = strchr(token, '.');
        token = token != NULL ? token + 1 : NULL;
    }
    return token != NULL ? strtoull(token, NULL, 10) : 0;
}

/* Checks a delivery; acks it (a request) with probability ACK_PERCENT. 0, or -EIO once the
 * broker is gone. */
static int delivery_take(struct crash_conn *acks, const struct crash_frame *frame,
                         uint64_t *random)
{
    uint64_t sseq = ack_sseq(frame);
    if (sseq == 0 || sseq > MESSAGES) {
        fail("a delivery with ack reply %.*s", (int)frame->reply_length, frame->reply);
    }
    uint64_t id = 0;
    char why[WHY_SIZE];
    if (crash_payload_check((const uint8_t *)frame->payload, frame->payload_length, &id, why,
                            sizeof why) != 0 ||
        id != sseq) {
        fail("delivery of %" PRIu64 ": %s (id %" PRIu64 ")", sseq, why, id);
    }
    if (answered[sseq]) {
        fail("message %" PRIu64 " delivered again after its ack was answered", sseq);
    }
    delivered[sseq] = true;
    delivery_count++;
    if (crash_random_range(random, 1, 100) > ACK_PERCENT) {
        return 0;
    }
    char reply[64];
    char ack_subject[256];
    snprintf(reply, sizeof reply, "ackr.%" PRIu64, sseq);
    snprintf(ack_subject, sizeof ack_subject, "%.*s", (int)frame->reply_length, frame->reply);
    return crash_conn_publish(acks, ack_subject, reply, "+ACK", 4) == 0 ? 0 : -EIO;
}

/* Reads the answers to acks that came, waiting up to `wait_ms` for the first (at least
 * 1 ms: crash_conn_next reads the socket only when given time). */
static void answers_read(struct crash_conn *acks, int wait_ms)
{
    struct crash_frame frame;
    wait_ms = wait_ms > 0 ? wait_ms : 1;
    while (crash_conn_next(acks, &frame, wait_ms, NULL, 0) == 0) {
        uint64_t sseq = frame.subject_length > 5 ? strtoull(frame.subject + 5, NULL, 10) : 0;
        if (sseq >= 1 && sseq <= MESSAGES && !answered[sseq]) {
            answered[sseq] = true;
            answered_count++;
        }
        wait_ms = 1;
    }
}

/* One pull request and its deliveries. 0; 1 when it came back empty; -EIO once the broker
 * is gone. */
static int pull_once(struct crash_conn *pull, struct crash_conn *acks, uint64_t *random)
{
    char body[128];
    snprintf(body, sizeof body, "{\"batch\":%d,\"expires\":300000000}", BATCH);
    if (crash_conn_publish(pull, "$JS.API.CONSUMER.MSG.NEXT.CC.D", "pull.in", body,
                           strlen(body)) != 0) {
        return -EIO;
    }
    int got = 0;
    while (got < BATCH) {
        struct crash_frame frame;
        int rc = crash_conn_next(pull, &frame, CRASH_REPLY_WAIT_MS, NULL, 0);
        if (rc != 0) {
            return -EIO;
        }
        if (frame.payload_length == 0) {
            break; /* a status (the client takes no headers): the request ended */
        }
        if (delivery_take(acks, &frame, random) != 0) {
            return -EIO;
        }
        got++;
    }
    answers_read(acks, 0);
    return got == 0 ? 1 : 0;
}

/* ---- rounds ---- */

struct killer {
    pthread_t thread;
    int delay_ms;
    bool term; /* SIGTERM instead of SIGKILL */
    bool clean; /* SIGTERM: exited 0 */
};

static void *killer_run(void *arg)
{
    struct killer *killer = arg;
    usleep((useconds_t)killer->delay_ms * 1000);
    int status = 0;
    if (killer->term) {
        killer->clean = crash_broker_stop(&broker, &status);
    } else {
        (void)crash_broker_kill(&broker, &status);
    }
    return NULL;
}

static void connections_open(struct crash_conn *pull, struct crash_conn *acks)
{
    uint64_t sid = 0;
    if (crash_conn_open(pull, broker.port) != 0 || crash_conn_open(acks, broker.port) != 0 ||
        crash_conn_subscribe(pull, "pull.in", &sid) != 0 ||
        crash_conn_subscribe(acks, "ackr.*", &sid) != 0) {
        fail("cannot connect and subscribe");
    }
}

static void round_run(int round, uint64_t *random)
{
    broker_start();
    struct crash_conn pull;
    struct crash_conn acks;
    connections_open(&pull, &acks);
    struct killer killer = {
        .delay_ms = (int)crash_random_range(random, 20, 600),
        .term = crash_random_range(random, 1, 8) == 1,
    };
    if (pthread_create(&killer.thread, NULL, killer_run, &killer) != 0) {
        fail("pthread_create");
    }
    int64_t end = crash_now_ms() + ROUND_MS_MAX;
    while (crash_now_ms() < end && pull_once(&pull, &acks, random) >= 0) {
    }
    answers_read(&acks, 0); /* answers that arrived before the end */
    pthread_join(killer.thread, NULL);
    if (killer.term && !killer.clean) {
        fail("round %d: the broker did not stop cleanly on SIGTERM", round);
    }
    crash_conn_close(&pull);
    crash_conn_close(&acks);
    crash_log_mark(log_path, "---- round %d ended (%s after %d ms), %" PRIu64 " answered ----",
                   round, killer.term ? "SIGTERM" : "SIGKILL", killer.delay_ms, answered_count);
    if (getenv("IONATS_CRASH_VERBOSE") != NULL) {
        printf("round %d: %s after %d ms, %" PRIu64 " deliveries, %" PRIu64 " answered\n",
               round, killer.term ? "SIGTERM" : "SIGKILL", killer.delay_ms, delivery_count,
               answered_count);
    }
}

/* No more kills: every message not answered yet must come (again) and be answered. */
static void final_phase(uint64_t *random)
{
    broker_start();
    struct crash_conn pull;
    struct crash_conn acks;
    connections_open(&pull, &acks);
    struct crash_conn api;
    if (crash_conn_open(&api, broker.port) != 0) {
        fail("cannot connect");
    }
    int64_t end = crash_now_ms() + FINAL_MS_MAX;
    uint64_t floor_seq = 0;
    uint64_t ack_pending = 1;
    uint64_t pending = 1;
    while (crash_now_ms() < end) {
        int rc = pull_once(&pull, &acks, random);
        if (rc < 0) {
            fail("the broker went away in the final phase");
        }
        answers_read(&acks, 10);
        if (rc == 0) {
            continue; /* more came: ask again at once */
        }
        json_t *info = request(&api, "$JS.API.CONSUMER.INFO.CC.D", "");
        json_t *floor = json_object_get(info, "ack_floor");
        floor_seq = (uint64_t)json_integer_value(json_object_get(floor, "stream_seq"));
        ack_pending = (uint64_t)json_integer_value(json_object_get(info, "num_ack_pending"));
        pending = (uint64_t)json_integer_value(json_object_get(info, "num_pending"));
        json_decref(info);
        if (floor_seq == MESSAGES && ack_pending == 0 && pending == 0) {
            break;
        }
    }
    if (floor_seq != MESSAGES || ack_pending != 0 || pending != 0) {
        fail("consumer info after the final phase: ack floor %" PRIu64 ", num_ack_pending %"
             PRIu64 ", num_pending %" PRIu64 " (%" PRIu64 " answered)",
             floor_seq, ack_pending, pending, answered_count);
    }
    for (uint64_t seq = 1; seq <= MESSAGES; seq++) {
        if (!delivered[seq]) {
            fail("message %" PRIu64 " is acked in the consumer's state but was never delivered",
                 seq);
        }
    }
    crash_conn_close(&api);
    crash_conn_close(&pull);
    crash_conn_close(&acks);
    int status;
    if (!crash_broker_stop(&broker, &status)) {
        fail("the broker did not stop cleanly at the end");
    }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("IONATS_BIN") == NULL) {
        printf("SKIP: IONATS_BIN is not set\n");
        return CRASH_EXIT_SKIP;
    }
    const char *seed_text = getenv("IONATS_CRASH_SEED");
    seed = seed_text != NULL ? strtoull(seed_text, NULL, 10) : (uint64_t)crash_now_ms();
    const char *rounds_text = getenv("IONATS_CRASH_ROUNDS");
    long rounds = rounds_text != NULL ? strtol(rounds_text, NULL, 10) : ROUNDS_DEFAULT;
    if (rounds < 1 || rounds > ROUNDS_MAX) {
        rounds = ROUNDS_DEFAULT;
    }
    printf("seed %" PRIu64 ", %ld rounds\n", seed, rounds);
    uint64_t random = seed;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(run_dir, sizeof run_dir, "%s/ionats-crash-consumer-XXXXXX", tmp);
    if (mkdtemp(run_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(store_dir, sizeof store_dir, "%s/store", run_dir);
    snprintf(log_path, sizeof log_path, "%s/broker.log", run_dir);
    if (mkdir(store_dir, 0755) != 0) {
        perror("mkdir");
        return 1;
    }
    setup();
    int status;
    if (!crash_broker_stop(&broker, &status)) {
        fail("the broker did not stop cleanly after the set-up");
    }
    for (int round = 1; round <= rounds && answered_count < MESSAGES; round++) {
        round_run(round, &random);
    }
    uint64_t before = answered_count;
    final_phase(&random);
    printf("%" PRIu64 " of %d acks answered during the kill rounds, %" PRIu64
           " by the end; no answered ack redelivered, nothing lost\n",
           before, MESSAGES, answered_count);
    if (getenv("IONATS_CRASH_KEEP") == NULL) {
        char command[600];
        snprintf(command, sizeof command, "rm -rf '%s'", run_dir);
        if (system(command) != 0) {
            fprintf(stderr, "could not remove %s\n", run_dir);
        }
    }
    return 0;
}
