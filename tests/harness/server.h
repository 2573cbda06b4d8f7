/* Test harness: starts a broker on an ephemeral loopback port, stops it by PID.
 *
 * By default the broker is the ionats binary named by $IONATS_BIN. With
 * IONATS_TEST_SERVER=nats-server the same options start the reference nats-server
 * (through a generated config file where it has no flag), so every test can be run
 * against the reference to show it tests the protocol and not our reading of it.
 * $IONATS_TEST_SHARDS, when set, is passed to ionats as --shards, and $IONATS_TEST_IO
 * (uring, epoll or auto), when set, as --io, so the whole suite can be run on either I/O
 * backend; neither reaches nats-server. Flags a test passes in extra_args come after these
 * and win (ionats keeps the last value of a repeated flag).
 * A wrapper (test_server_options.wrapper) runs ionats under another program, such as
 * seccomp_exec, which refuses io_uring the way a container's seccomp profile does.
 * JetStream (test_server_options.jetstream, store_dir) reaches ionats as -js -sd <dir> and
 * nats-server as a jetstream block in its config file; both keep their streams in
 * <dir>/jetstream, so a broker stopped (or killed) and restarted on the same store_dir
 * finds what the first one stored.
 * With IONATS_TEST_SERVER=nats-streaming-server the broker is the reference NATS Streaming
 * server ($IONATS_STAN_SERVER_BIN, else nats-streaming-server on the PATH), started as
 * `-a 127.0.0.1 -p <port>` followed by extra_args only: a test that runs against it passes
 * its streaming flags (nats-streaming-server's spelling) in extra_args itself. */
#ifndef IONATS_TESTS_HARNESS_SERVER_H
#define IONATS_TESTS_HARNESS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Zero means "the broker's default" for every field. Durations are strings the way
 * nats-server writes them ("100ms", "2s"). */
struct test_server_options {
    long max_payload;
    long max_pending;
    long max_control_line;
    long max_connections;
    long ping_max;
    const char *ping_interval;
    const char *auth_timeout;
    const char *user;
    const char *pass;
    const char *token;
    long shards; /* ionats only (nats-server has no shards); 0: $IONATS_TEST_SHARDS */
    const char *const *extra_args; /* ionats only: more flags, NULL-terminated */
    /* ionats only: a NULL-terminated argv prefix, e.g. {"/path/seccomp_exec", NULL}, execvp'd
     * with the broker's whole command line appended. It must exec the broker in the same
     * process (the PID the harness waits on and stops is the wrapper's). NULL: none. */
    const char *const *wrapper;
    bool jetstream;         /* enable JetStream */
    const char *store_dir;  /* with jetstream: where streams live; NULL: the broker's default */
    /* Configuration file text in nats-server's format (users, permissions...): given to
     * ionats as a file with -c, appended to the reference's own file. NULL: none. */
    const char *config_text;
    /* The reference broker's executable (nats-server 2.15.1's path, say); NULL:
     * nats-server on the PATH. */
    const char *reference_binary;
};

struct test_server {
    pid_t pid;
    int port;
    bool reference;      /* true when this is nats-server or nats-streaming-server */
    bool forced_reference; /* started by test_server_start_reference */
    char url[64];        /* nats://127.0.0.1:<port> */
    char config_path[128];
    char log_path[128];
};

/* True when IONATS_TEST_SERVER=nats-server. */
bool test_server_reference(void);

/* True when IONATS_TEST_SERVER=nats-streaming-server (test_server.reference is then true
 * too). */
bool test_server_stan_reference(void);

/* Starts a broker and waits (bounded, 5 s) until it accepts connections. 0 or -errno:
 * -ECHILD when the broker died while starting and -ETIMEDOUT when it hung (both reported
 * on stderr with its exit status or signal and its log, and not retried), -EADDRINUSE when
 * another process took the chosen port on every one of a few tries (the only failure that
 * is retried, each time on a new port).
 * The broker gets SIGKILL when the thread that started it dies (PR_SET_PDEATHSIG), so a
 * test process that aborts or is killed on a timeout does not leave a broker behind. */
int test_server_start(struct test_server *server, const struct test_server_options *options);

/* test_server_start, always with the reference nats-server (options->reference_binary),
 * whatever IONATS_TEST_SERVER says: a peer of the broker under test (a leafnode hub). */
int test_server_start_reference(struct test_server *server,
                                const struct test_server_options *options);

/* A free TCP port on loopback, as the harness picks them (another process may take it
 * before it is bound). Or -errno. */
int test_free_port(void);

/* SIGTERM, wait up to 5 s, then SIGKILL. Returns the exit status as waitpid gave it.
 * ionats must exit 0: any other exit, a signal included, is reported on stderr with the
 * broker's log and aborts the test process. */
int test_server_stop(struct test_server *server);

/* After something failed: true when the broker is still running; otherwise it is reaped,
 * how it ended is said on stderr with its log, and the test can say the broker died rather
 * than report the symptom (a refused or reset connection). */
bool test_server_running(struct test_server *server);

/* SIGKILL at once, as a crash would end it (what it wrote stays in the kernel's page cache:
 * this is not a power cut), reap it, and wait (bounded) until its port is closed. Its exit
 * is not checked (it is the test's doing); the log and config file are removed. Returns the
 * wait status. */
int test_server_kill(struct test_server *server);

/* Starts a stopped (or killed) server again with `options` (the same store_dir to find
 * what it stored): on its previous port when that is free again, else on a new one, so a
 * test reads server->url afterwards. The same returns as test_server_start. */
int test_server_restart(struct test_server *server, const struct test_server_options *options);

/* Creates a fresh, empty directory under /tmp for a broker's store_dir and writes its path
 * to `path` (`size` bytes, at least 32). 0 or -errno. */
int test_store_dir_create(char *path, size_t size);

/* Removes `path` and everything under it (what a broker stored there). 0 or -errno; a path
 * outside /tmp/ionats-test-store- is refused with -EINVAL, so a bad path cannot delete more. */
int test_store_dir_remove(const char *path);

/* Milliseconds on the monotonic clock. */
long test_now_ms(void);

/* A finished run of the ionats binary (IONATS_BIN) by test_binary_run. */
struct test_binary_run {
    int status;   /* exit code; -1 when it died of a signal */
    bool stopped; /* it was still running, so it got SIGTERM */
};

/* Runs $IONATS_BIN with `args` (NULL-terminated) and the NAME=VALUE settings of `env` (may
 * be NULL) added to its environment, collecting stdout and stderr into `out`. It gets
 * SIGTERM once its output shows `stop_when` (when not NULL) or after `wait_ms`, and
 * SIGKILL if it has not exited `wait_ms` after that, or when the test process dies.
 * 0, or -errno when it could not be started or did not exit (the output so far is in
 * `out` either way). */
int test_binary_run(const char *const *args, const char *const *env, long wait_ms,
                    const char *stop_when, char *out, size_t size,
                    struct test_binary_run *run);

/* test_binary_run under `wrapper` (a NULL-terminated argv prefix, as in
 * test_server_options; NULL: none), which must exec $IONATS_BIN in the same process. */
int test_binary_run_wrapped(const char *const *wrapper, const char *const *args,
                            const char *const *env, long wait_ms, const char *stop_when,
                            char *out, size_t size, struct test_binary_run *run);

/* A blocking TCP connection to 127.0.0.1:port with 5 s send/receive timeouts. -errno. */
int test_connect_raw(int port);

/* Reads from `fd` until `needle` appears in what was read or `timeout_ms` passes.
 * Fills `buffer` (NUL-terminated) with everything read. Returns bytes read, or -ETIMEDOUT
 * when the needle did not appear, -ECONNRESET when the peer closed first. */
long test_read_until(int fd, char *buffer, size_t size, const char *needle, int timeout_ms);

/* Reads exactly `length` bytes from `fd` unless the peer closes or `timeout_ms` passes
 * first, and never more (the next frame stays in the socket for the next call). `buffer`
 * holds at least length + 1 bytes and is NUL-terminated. Returns the bytes read; fewer
 * than `length` means timeout or close. */
long test_read_exact(int fd, char *buffer, size_t length, int timeout_ms);

/* Reads one line, through its '\n', leaving what follows it unread (MSG_PEEK). Fills
 * `buffer` (NUL-terminated). Returns the line's length, -ETIMEDOUT, -ECONNRESET when the
 * peer closed first, or -ENOBUFS when no '\n' came within size - 1 bytes. */
long test_read_line(int fd, char *buffer, size_t size, int timeout_ms);

/* Sends all of `text`. 0 or -errno. */
int test_send_all(int fd, const char *text, size_t length);

/* True when the peer closes `fd` (EOF or reset) within `timeout_ms`; bytes read before the
 * close are appended to `buffer` (NUL-terminated) when it is not NULL. */
bool test_wait_closed(int fd, char *buffer, size_t size, int timeout_ms);

/* Reads the per-shard counter `name` from every "stats shard=" line ionats logged (on
 * SIGUSR1 or --stats) in `log_path`. Fills the sum and the largest value over those lines
 * and returns how many lines there were (-errno when the log cannot be read). */
struct test_counter {
    unsigned long long sum;
    unsigned long long max;
};
long test_log_counter(const char *log_path, const char *name, struct test_counter *counter);

#endif
