/* Helpers shared by the crash suite (tests/crash/test_crash_*.c): a broker process started
 * and stopped by PID, a minimal NATS client on a raw loopback socket, the JetStream requests
 * the tests make, and self-checking payloads.
 *
 * The one idea: the tests must see every byte the broker sent before it died, so they speak
 * the protocol themselves on a blocking socket instead of through libnats (whose connection
 * drops the messages it had read but not yet handed over once it sees the close). A frame
 * read from a connection is a view into its buffer, valid until the next read on it.
 *
 * Payloads carry their own identity: a 20-byte head (magic, 64-bit id, length) and a byte
 * pattern derived from the id, so any message read back can be checked against what must
 * have been sent without keeping the payloads.
 *
 * A crash_conn belongs to one thread; the broker functions are for the test's main thread. */
#ifndef IONATS_TESTS_CRASH_CRASH_H
#define IONATS_TESTS_CRASH_CRASH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* meson's exit code for a skipped test */
enum { CRASH_EXIT_SKIP = 77 };

/* How long the broker may take to accept connections after it is started (recovery of a
 * store of a few hundred MB included, on a loaded 2-core machine). */
enum { CRASH_START_WAIT_MS = 20000 };
/* How long a clean stop (SIGTERM) may take before it counts as a hang. */
enum { CRASH_STOP_WAIT_MS = 10000 };
/* How long an API request or a publish ack may take before it counts as a hang: a group
 * commit of a few MB with fdatasync on a slow disk is far below this. */
enum { CRASH_REPLY_WAIT_MS = 15000 };

/* Milliseconds on the monotonic clock. */
int64_t crash_now_ms(void);

/* splitmix64: the one random source of the suite, so a seed replays a run's choices. */
uint64_t crash_mix64(uint64_t x);
uint64_t crash_random(uint64_t *state);
/* Uniform in [low, high]. */
uint64_t crash_random_range(uint64_t *state, uint64_t low, uint64_t high);

/* ---- the broker process ---- */

struct crash_broker {
    pid_t pid; /* 0 when not running */
    int port;
    char log_path[512];
};

/* Starts $IONATS_BIN -a 127.0.0.1 -p <free port> -js -sd <store_dir> followed by `extra`
 * (NULL-terminated, may be NULL), its output appended to `log_path`, and waits until it
 * accepts connections. 0; -ECHILD when it died while starting (its status is reported);
 * -ETIMEDOUT when it did not accept in CRASH_START_WAIT_MS (it is killed); other -errno.
 * The broker gets SIGKILL if the test process dies. */
int crash_broker_start(struct crash_broker *broker, const char *store_dir, const char *const *extra,
                       const char *log_path);

/* True while the broker runs; when it has ended, reaps it, sets *status and pid = 0. */
bool crash_broker_alive(struct crash_broker *broker, int *status);

/* SIGKILL and reap. Returns false (with *status) when it had already ended by itself. */
bool crash_broker_kill(struct crash_broker *broker, int *status);

/* SIGTERM and wait up to CRASH_STOP_WAIT_MS (then SIGKILL). True when it exited 0. */
bool crash_broker_stop(struct crash_broker *broker, int *status);

/* "exit status 1", "signal 6 (Aborted)" for a wait status. */
void crash_status_describe(int status, char *text, size_t size);

/* Copies the last `bytes` of a log to stderr, framed. */
void crash_log_show(const char *log_path, size_t bytes);

/* Appends a line to a log (round markers between broker runs). */
void crash_log_mark(const char *log_path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- a NATS client on a raw socket ---- */

struct crash_conn {
    int fd;
    char *buffer; /* owned: bytes read and not consumed yet */
    size_t start; /* first unconsumed byte */
    size_t used;
    size_t capacity;
    uint64_t next_sid;
    uint64_t request_count;
    char inbox[64]; /* crash_request's reply prefix; "" until its first request */
    bool closed;    /* the peer closed or reset: no more bytes will come */
};

/* A MSG frame: views into the connection's buffer, valid until the next read. */
struct crash_frame {
    const char *subject;
    size_t subject_length;
    const char *reply;
    size_t reply_length;
    const char *payload;
    size_t payload_length;
};

/* Connects to 127.0.0.1:port, reads INFO, sends CONNECT (no headers, not verbose) and a
 * PING, and waits for the PONG. 0 or -errno. */
int crash_conn_open(struct crash_conn *conn, int port);
void crash_conn_close(struct crash_conn *conn);

/* Sends all of `data`; -EPIPE/-ECONNRESET once the broker is gone. */
int crash_conn_send(struct crash_conn *conn, const void *data, size_t length);

/* SUB <subject> <sid>: returns 0 and the sid in *sid, or -errno. */
int crash_conn_subscribe(struct crash_conn *conn, const char *subject, uint64_t *sid);

/* PUB subject reply length + payload, in one send. */
int crash_conn_publish(struct crash_conn *conn, const char *subject, const char *reply,
                       const void *payload, size_t length);

/* The next MSG frame, answering PINGs and skipping +OK, PONG and INFO on the way. 0;
 * -ETIMEDOUT; -ECONNRESET once the peer closed and no whole frame is left; -EPROTO for
 * -ERR (its text in `error`, when not NULL) or an unknown line. */
int crash_conn_next(struct crash_conn *conn, struct crash_frame *frame, int timeout_ms, char *error,
                    size_t error_size);

/* A request: PUB with the connection's own inbox as reply, then the reply parsed as JSON.
 * NULL on a timeout, a closed connection or a reply that is not JSON (said in `why`). */
json_t *crash_request(struct crash_conn *conn, const char *subject, const char *body,
                      int timeout_ms, char *why, size_t why_size);

/* A request whose reply is left as it came: 0 and the frame (a view, valid until the next
 * read on the connection), or -EIO (said in why). */
int crash_request_frame(struct crash_conn *conn, const char *subject, const void *body,
                        size_t length, int timeout_ms, struct crash_frame *frame, char *why,
                        size_t why_size);

/* crash_request with a body of `length` bytes (a payload may hold NULs). */
json_t *crash_request_bytes(struct crash_conn *conn, const char *subject, const void *body,
                            size_t length, int timeout_ms, char *why, size_t why_size);

/* ---- JetStream ---- */

/* The API error in a reply: 0 when it has none, else its err_code (and description). */
int crash_api_error(const json_t *reply, char *description, size_t size);

struct crash_stream_state {
    uint64_t messages;
    uint64_t bytes;
    uint64_t first_seq;
    uint64_t last_seq;
};

/* $JS.API.STREAM.CREATE.<name> with `config` (JSON text). 0, or -EIO with the reason. */
int crash_stream_create(struct crash_conn *conn, const char *name, const char *config, char *why,
                        size_t why_size);

/* $JS.API.STREAM.INFO.<name>. 0; -ENOENT when the stream is not found; -EIO with why. */
int crash_stream_info(struct crash_conn *conn, const char *name, struct crash_stream_state *state,
                      char *why, size_t why_size);

/* A message read back by STREAM.MSG.GET. */
struct crash_msg {
    uint64_t seq;
    char subject[256];
    uint8_t *data; /* owned (crash_msg_free): the decoded payload */
    size_t length;
};
void crash_msg_free(struct crash_msg *msg);

/* The reply of a MSG.GET for `seq` (its JSON text) decoded into `out`: 0; -ENOENT for 10037
 * (no message found); -EIO for anything else (said in why). */
int crash_msg_get_parse(const char *reply, size_t length, uint64_t seq, struct crash_msg *out,
                        char *why, size_t why_size);

/* $JS.API.STREAM.MSG.GET.<name> {"seq":N}, one request. Returns as crash_msg_get_parse. */
int crash_msg_get(struct crash_conn *conn, const char *name, uint64_t seq, struct crash_msg *out,
                  char *why, size_t why_size);

/* A publish ack parsed: 0 with *seq for {"stream":<stream>,"seq":N}; the err_code (> 0)
 * with its description for an error ack; -EPROTO for anything else (said in why). */
int crash_ack_parse(const char *data, size_t length, const char *stream, uint64_t *seq, char *why,
                    size_t why_size);

/* A publish to a stream subject, waiting (CRASH_REPLY_WAIT_MS) for its ack: 0 with *seq;
 * the err_code (> 0) of an error ack; -EIO when no ack came or it was not one (said in why). */
int crash_publish_acked(struct crash_conn *conn, const char *stream, const char *subject,
                        const void *payload, size_t length, uint64_t *seq, char *why,
                        size_t why_size);

/* Standard base64 with padding. Returns the decoded length, or -EINVAL. `out` holds at least
 * length / 4 * 3 bytes. */
long crash_base64_decode(const char *text, size_t length, uint8_t *out);

/* ---- self-checking payloads ---- */

/* The payload head: "IONATSCR", the id (little-endian u64), the length (little-endian u32). */
enum { CRASH_PAYLOAD_HEAD_SIZE = 20 };

/* Fills `length` (>= CRASH_PAYLOAD_HEAD_SIZE) bytes for message `id`. */
void crash_payload_fill(uint8_t *payload, size_t length, uint64_t id);

/* Checks a payload read back: its head and every pattern byte. 0 and *id; -EBADMSG with
 * the first difference said in `why`. */
int crash_payload_check(const uint8_t *payload, size_t length, uint64_t *id, char *why,
                        size_t why_size);

#endif
