/* The fixture of the loop interface tests (test_loop.c, test_loop_control.c): what a
 * shard owns (a timer wheel, a connection table with a dummy kind, the default
 * configuration, an eventfd for control) and a loop whose handlers only record what they
 * were told, with helpers to drive it as a shard does (loop_wait then loop_dispatch, every
 * wait bounded) and to play the peer of a socketpair. One test thread uses a fixture. */
#ifndef IONATS_TESTS_UNIT_LOOP_FIXTURE_H
#define IONATS_TESTS_UNIT_LOOP_FIXTURE_H

#include "engine/loop.h"

#include "base/clock.h"
#include "base/timer.h"
#include "engine/config.h"
#include "engine/conn.h"
#include "engine/outbuf.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


/* One loop_wait of the pump: short, so a condition is looked at often. */
#define PUMP_WAIT_NS (10LL * 1000000LL)
/* How long a pump waits for something that should happen at once: generous for a loaded
 * CI host, and still well inside Check's timeout. */
#define PUMP_TIMEOUT_NS (10LL * 1000000000LL)
/* How long "nothing more happens" is watched for. */
#define QUIET_NS (200LL * 1000000LL)
/* The timeout of the wait-with-nothing-ready case, and the bounds its return must fall in:
 * not before half of it (a backend that ignored the timeout returns at once), and well
 * before a bound no scheduler hiccup reaches. */
#define WAIT_TIMEOUT_NS (200LL * 1000000LL)
#define WAIT_EARLY_NS (100LL * 1000000LL)
#define WAIT_LATE_NS (5LL * 1000000000LL)
/* The cross-thread wake: the target waits this long unless woken; woken, it must return
 * well before. */
#define WAKE_WAIT_NS (20LL * 1000000000LL)
#define WAKE_LATE_NS (5LL * 1000000000LL)

enum {
    TABLE_SLOTS_MAX = 1 << 16,
    MAX_PENDING_BYTES = 64 * 1024 * 1024,
    /* A send larger than both the socket's buffer and LOOP_SEND_MAX. */
    LARGE_SEND_BYTES = 4 * 1024 * 1024,
    /* The connection's send buffer in the large-send case: larger than LOOP_SEND_MAX, so a
     * backend that did not bound one operation would show it. */
    LARGE_SNDBUF_BYTES = 1024 * 1024,
    PEER_READ_CHUNK = 64 * 1024,
    CONTROL_VALUE_FIRST = 5,
    CONTROL_VALUE_SECOND = 1u << 20,
    HANDOFF_TARGET = 3,
};


/* Backend of loop iteration `index` (tcase_add_loop_test). */
extern const enum loop_backend loop_fixture_backends[2];

extern const struct conn_kind loop_fixture_kind;

/* Drives the loop until `condition` holds or PUMP_TIMEOUT_NS passed, then asserts it. */
#define LOOP_FIXTURE_PUMP_UNTIL(fx, condition)                                                 \
    do {                                                                                       \
        int64_t pump_deadline_ns = clock_monotonic_ns() + PUMP_TIMEOUT_NS;                     \
        while (!(condition) && clock_monotonic_ns() < pump_deadline_ns) {                      \
            loop_fixture_pump_once(fx);                                                        \
        }                                                                                      \
        ck_assert_msg((condition), "still not true after the pump's timeout: %s", #condition); \
    } while (0)

/* What a shard would own, and everything the handlers were told. */
struct loop_fixture {
    enum loop_backend backend;
    struct config config;
    struct timer_wheel wheel;
    struct conn_table table;
    struct loop *loop;
    int control_fd;
    /* Set around every call that starts an operation: a handler that runs then broke the
     * rule that completions come only from loop_dispatch. */
    bool starting;
    int handler_inside_start_count;
    bool recv_running; /* a receive was started and its end not yet reported */
    int received_count;
    int received_after_end_count;
    char *received_data; /* owned */
    size_t received_length;
    size_t received_capacity;
    int recv_ended_count;
    int recv_ended_result;
    uint32_t recv_ended_flags;
    uint32_t recv_ended_inflight;
    int sent_count;
    int sent_result;
    int sent_result_max;
    uint32_t sent_flags;
    uint32_t sent_inflight;
    bool send_resume; /* `sent` starts the rest of a short send, as shard.c does */
    int accepted_count;
    int accepted_result;
    bool accepted_armed;
    int control_count;
    uint64_t control_value;
    int control_error;
    int handed_count;
    int handed_fd;
    int handoff_failed_count;
    int handoff_failed_target;
    int handoff_failed_fd;
    int handoff_failed_error;
};

void loop_fixture_send_start(struct loop_fixture *fx, struct conn *conn);

void loop_fixture_config_default(struct config *config);

/* Creates the fixture's loop on the calling thread (an io_uring belongs to it). 0 or the
 * -errno of loop_create, with nothing left to free. */
int loop_fixture_try_init(struct loop_fixture *fx, enum loop_backend backend);

void loop_fixture_init(struct loop_fixture *fx, enum loop_backend backend);

/* The loop goes first: it may still hold buffers of the connections (loop.h). */
void loop_fixture_fini(struct loop_fixture *fx);

void loop_fixture_pump_once(struct loop_fixture *fx);

/* One turn that does not wait: submits what is queued (io_uring), dispatches what is
 * ready. */
void loop_fixture_turn(struct loop_fixture *fx);

/* Drives the loop for `duration_ns`. */
void loop_fixture_pump_for(struct loop_fixture *fx, int64_t duration_ns);

/* A connection on one end of a fresh socketpair (non-blocking, as accepted sockets are);
 * the other end, also non-blocking, in *peer_fd. */
struct conn *loop_fixture_conn_open(struct loop_fixture *fx, int *peer_fd);

void loop_fixture_recv_start(struct loop_fixture *fx, struct conn *conn);

void loop_fixture_recv_stop(struct loop_fixture *fx, struct conn *conn);

/* A receive that ended as receives end now and then (LOOP_RECV_AGAIN, -ENOBUFS) is started
 * again, as the shard does; any other end is left for the case to look at. */
void loop_fixture_recv_restart_if_wanted(struct loop_fixture *fx, struct conn *conn);

void loop_fixture_pattern_fill(char *data, size_t offset, size_t length);

bool loop_fixture_pattern_matches(const char *data, size_t offset, size_t length);

/* Writes all of `data` to the non-blocking `fd` as one write call per chunk as far as the
 * socket takes it, driving the loop while it is full. */
void loop_fixture_peer_write_all(struct loop_fixture *fx, struct conn *conn, int fd,
                                 const char *data, size_t length);

/* Reads what the non-blocking `fd` has, up to `size`. */
size_t loop_fixture_peer_read_some(int fd, char *buffer, size_t size);

/* Appends `length` pattern bytes, the pattern's from `offset` on, to the output. */
void loop_fixture_output_add(struct conn *conn, size_t offset, size_t length);

int64_t loop_fixture_elapsed_since(int64_t start_ns);

/* Runs the suite `make` builds, told whether io_uring can be set up here (when not, says
 * so once and only the epoll cases run). `name` names the test in that message. */
int loop_fixture_main(const char *name, Suite *(*make)(bool uring_works));

#endif
