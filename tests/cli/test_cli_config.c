/* The configuration file from the command line: `ionats -t -c FILE` against the reference
 * `nats-server -t -c FILE` on good and bad files, and a file that really takes effect.
 *
 * The one idea: nats-server is the judge of what its format accepts. Each file below has
 * the answer (accept or reject) expected from ionats, from the current nats-server
 * ($IONATS_NATS_SERVER_CURRENT, 2.15.1 from .venv-tests) and from Debian's
 * ($IONATS_NATS_SERVER_DEBIAN, 2.9.10); every binary present is run and must give its
 * answer. Most rows are the same three times; where they differ the row says why (a
 * nats-server release changed its mind, or ionats refuses what it cannot do, or a key is
 * ionats's own). A reference binary that is missing is skipped and said so.
 * The second half starts the broker with a file and checks, as a client, that the file's
 * port and max_payload are served, that a flag overrides the file's port, and that a
 * jetstream block's store_dir is where streams go. Every wait is bounded. */
#include "tests/harness/server.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WAIT_MS = 5000, OUTPUT_SIZE = 1 << 16, STEP_MS = 10 };

/* A file and what each binary says to it: 'A' accept (exit 0), 'R' reject (exit 1), '-'
 * not run (nats-server 2.9.10 overflows its stack on an environment variable cycle). */
struct config_case {
    const char *name;
    const char *text;
    char ionats;
    char current; /* nats-server 2.15.1 */
    char debian;  /* nats-server 2.9.10 */
    const char *why; /* where they differ */
};

static const struct config_case cases[] = {
    /* the grammar */
    {"kv_colon", "port: 4222\n", 'A', 'A', 'A', NULL},
    {"kv_equals", "port = 4222\n", 'A', 'A', 'A', NULL},
    {"kv_space", "port 4222\n", 'A', 'A', 'A', NULL},
    {"quoted_keys", "\"port\": 4222\n'server_name': x\n", 'A', 'A', 'A', NULL},
    {"comments", "# hash\n// slashes\nport: 4222 # after\nmax_payload: 1024 // too\n", 'A', 'A',
     'A', NULL},
    {"semicolons", "port: 4222; max_payload: 1024;\n", 'A', 'A', 'A', NULL},
    {"map", "authorization {\n  user: alice\n  password: secret\n  timeout: 2\n}\n", 'A', 'A',
     'A', NULL},
    {"map_commas", "authorization { user: alice, password: secret, timeout: 1.5 }\n", 'A', 'A',
     'A', NULL},
    {"map_colon", "authorization: { token: abc }\n", 'A', 'A', 'A', NULL},
    {"array_commas", "server_tags: [a, b, c]\n", 'A', 'A', 'A', NULL},
    {"array_newlines", "server_tags: [\n  a\n  b\n]\n", 'A', 'A', 'A', NULL},
    {"strings", "server_name: \"a\\tb\"\nhost: '127.0.0.1'\n", 'A', 'A', 'A', NULL},
    {"escapes", "server_name: \"x\\x41\\\\\\\"\"\n", 'A', 'A', 'A', NULL},
    {"block_string", "server_name: (\nabc\n)\n", 'A', 'A', 'A', NULL},
    {"top_block", "{\n  port: 4222\n}\n", 'A', 'A', 'A', NULL},
    {"sizes_1024", "max_payload: 1KB\nmax_pending: 64MB\n", 'A', 'A', 'A', NULL},
    {"sizes_1000", "max_payload: 2k\n", 'A', 'A', 'A', NULL},
    {"size_kib", "max_payload: 1Ki\n", 'A', 'A', 'A', NULL},
    {"booleans", "debug: yes\ntrace: off\n", 'A', 'A', 'A', NULL},
    {"booleans_case", "debug: TRUE\ntrace: On\n", 'A', 'A', 'A', NULL},
    {"password_like_size", "authorization { user: a, password: 4e2abc }\n", 'A', 'A', 'R',
     "2.15 reads 4e2abc as a string; 2.9 ended the number at the digit"},
    /* variables and includes */
    {"variables", "PORT = 4333\nport: $PORT\n", 'A', 'A', 'A', NULL},
    {"variable_block", "limit = 2048\nauthorization { user = a; password = b; timeout = 3 }\n"
                       "max_payload: $limit\n",
     'A', 'A', 'A', NULL},
    {"variable_scoped", "jetstream { dir = \"/tmp/x\"; store_dir: $dir }\n", 'A', 'A', 'A', NULL},
    {"variable_out_of_scope", "jetstream { dir = \"/tmp/x\"; store_dir: $dir }\nlogfile: $dir\n",
     'R', 'R', 'R', NULL},
    {"variable_undefined", "port: $IONATS_NO_SUCH_VARIABLE\n", 'R', 'R', 'R', NULL},
    {"variable_unused", "unused = 5\nport: 4222\n", 'R', 'R', 'R', NULL},
    {"environment", "port: $IONATS_CONF_TEST_PORT\n", 'A', 'A', 'A', NULL},
    {"environment_cycle", "port: $IONATS_CONF_TEST_A\n", 'R', 'R', '-',
     "2.9 recurses until its stack overflows"},
    {"include", "include ./inc_port.conf\n", 'A', 'A', 'A', NULL},
    {"include_quoted", "include \"inc_port.conf\"\nmax_payload: 2048\n", 'A', 'A', 'A', NULL},
    {"include_in_map", "authorization {\n  include inc_auth.conf\n}\n", 'A', 'A', 'A', NULL},
    {"include_missing", "include ./no_such_file.conf\n", 'R', 'R', 'R', NULL},
    /* what the lexer and parser refuse */
    {"unterminated_string", "server_name: \"abc\n", 'R', 'R', 'R', NULL},
    {"unterminated_map", "authorization {\n user: a\n", 'R', 'R', 'R', NULL},
    {"bad_escape", "server_name: \"a\\qb\"\n", 'R', 'R', 'R', NULL},
    {"bad_hex", "server_name: \"\\xZZ\"\n", 'R', 'R', 'R', NULL},
    {"array_terminator", "server_tags: [a,,b]\n", 'R', 'R', 'R', NULL},
    {"number_before_bracket", "server_tags: [1, 2]\n", 'R', 'R', 'R', NULL},
    {"map_terminator", "authorization { user: a password: b }\n", 'R', 'R', 'R', NULL},
    {"value_on_next_line", "port:\n4222\n", 'R', 'R', 'R', NULL},
    {"float_dot", "max_payload: .5\n", 'R', 'R', 'R', NULL},
    {"two_values", "port: 4222 4333\n", 'R', 'R', 'R', NULL},
    {"key_separator", ": 4222\n", 'R', 'R', 'R', NULL},
    {"bad_date", "server_name: 2020-13-01T00:00:00Z\n", 'R', 'R', 'R', NULL},
    {"int_range", "max_payload: 99999999999999999999\n", 'R', 'R', 'R', NULL},
    {"key_without_value", "port: 4222\ndangling\n", 'R', 'R', 'A',
     "2.11 made a key without a value at the end an error"},
    {"empty", "", 'R', 'R', 'A', "2.11 warns on an empty file, and -t fails on a warning"},
    {"only_comment", "# nothing\n", 'R', 'R', 'A', "the same: no values"},
    /* keys and values */
    {"listen", "listen: 127.0.0.1:4333\n", 'A', 'A', 'A', NULL},
    {"listen_v6", "listen: \"[::1]:4333\"\n", 'A', 'A', 'A', NULL},
    {"listen_port", "listen: 4333\n", 'A', 'A', 'A', NULL},
    {"listen_bad", "listen: localhost\n", 'R', 'R', 'R', NULL},
    {"host_port", "host: 127.0.0.1\nport: 4333\nnet: 127.0.0.1\n", 'A', 'A', 'A', NULL},
    {"http", "http: 127.0.0.1:8222\n", 'A', 'A', 'A', NULL},
    {"http_port", "http_port: 8222\nmonitor_port: 8222\n", 'A', 'A', 'A', NULL},
    {"logfile", "logfile: /tmp/x.log\nlog_file: /tmp/y.log\n", 'A', 'A', 'A', NULL},
    {"limits", "max_payload: 1MB\nmax_pending: 64MB\nmax_connections: 100\n"
               "max_control_line: 4KB\nmax_subscriptions: 10\nping_max: 3\n",
     'A', 'A', 'A', NULL},
    {"limit_aliases", "max_subs: 10\nmax_conn: 10\n", 'A', 'A', 'A', NULL},
    {"ping_interval", "ping_interval: \"1m30s\"\nwrite_deadline: \"5s\"\n", 'A', 'A', 'A', NULL},
    {"ping_interval_seconds", "ping_interval: 60\n", 'R', 'R', 'R',
     NULL}, /* a warning: "should be converted to a duration" */
    {"ping_interval_bad", "ping_interval: \"soon\"\n", 'R', 'R', 'R', NULL},
    {"logtime", "logtime: false\n", 'A', 'A', 'A', NULL},
    {"lame_duck", "lame_duck_duration: \"45s\"\nlame_duck_grace_period: \"1s\"\n", 'A', 'A', 'A',
     NULL},
    {"lame_duck_short", "lame_duck_duration: \"5s\"\n", 'R', 'R', 'R', NULL},
    {"ops_keys", "logtime: false\nlog_size_limit: 1MB\npidfile: /tmp/x.pid\nports_file_dir: /tmp\n",
     'A', 'A', 'A', NULL},
    {"logtime_utc", "logtime_utc: true\n", 'A', 'A', 'R', "2.10 added logtime_utc"},
    {"unknown_key", "port: 4222\nno_such_key: 1\n", 'R', 'R', 'R',
     NULL}, /* ionats: a warning, which fails -t */
    {"unknown_nested", "jetstream { no_such_key: 1 }\n", 'R', 'R', 'R', NULL},
    {"port_string", "port: \"4222\"\n", 'R', 'R', 'R', NULL},
    {"debug_integer", "debug: 5\n", 'R', 'R', 'R', NULL},
    {"payload_float", "max_payload: 1.5\n", 'R', 'R', 'R', NULL},
    {"server_name_space", "server_name: \"a b\"\n", 'R', 'R', 'A',
     "2.10 refused spaces in server names"},
    {"auth_user_and_token", "authorization { user: a, password: b, token: c }\n", 'R', 'R', 'R',
     NULL},
    {"auth_timeout_high", "authorization { user: a, password: b, timeout: 120 }\n", 'R', 'R', 'A',
     "2.10 warns on a timeout over 60 s"},
    {"auth_timeout_string", "authorization { token: abc, timeout: \"3s\" }\n", 'A', 'A', 'A',
     NULL},
    {"jetstream_true", "jetstream: true\n", 'A', 'A', 'A', NULL},
    {"jetstream_enabled", "jetstream: enabled\n", 'A', 'A', 'A', NULL},
    {"jetstream_maybe", "jetstream: maybe\n", 'R', 'R', 'R', NULL},
    {"jetstream_block", "jetstream {\n  store_dir: /tmp/ionats-conf-js\n  max_mem: 1G\n"
                        "  max_file: 10G\n}\n",
     'A', 'A', 'A', NULL},
    {"jetstream_string_sizes", "jetstream { max_memory_store: \"1G\", max_file_store: \"2T\" }\n",
     'A', 'A', 'A', NULL},
    {"jetstream_bad_string_size", "jetstream { max_mem: \"1GB\" }\n", 'R', 'R', 'R', NULL},
    {"jetstream_sync_always", "jetstream { sync_interval: always }\n", 'A', 'A', 'R',
     "2.9 has no sync_interval"},
    {"jetstream_sync_duration", "jetstream { sync_interval: \"30s\" }\n", 'A', 'A', 'R',
     "2.9 has no sync_interval"},
    {"store_dir_twice", "store_dir: /tmp/a\njetstream { store_dir: /tmp/b }\n", 'R', 'R', 'R',
     NULL},
    {"jetstream_disabled", "jetstream { enabled: false, store_dir: /tmp/x }\n", 'A', 'A', 'A',
     NULL},
    {"tls", "tls { cert_file: a.pem, key_file: b.pem }\n", 'R', 'R', 'R',
     NULL}, /* the certificate and key files are not there */
    /* ionats refuses what it cannot do, rather than serve less than the file asks */
    {"users_list", "authorization { users: [ {user: a, password: b} ] }\n", 'A', 'A', 'A',
     NULL},
    {"permissions", "authorization { user: a, password: b, permissions: { publish: x } }\n", 'A',
     'A', 'A', NULL},
    /* users, nkeys and permissions (opts.go's parseUsers and parseUserPermissions) */
    {"users_permissions",
     "authorization { users: [ {user: a, password: b, permissions: { publish: { allow: [\"a.>\"], deny: \"a.b\" }, subscribe: [\"x.*\", \"q.> workers\"], allow_responses: { max: 2, expires: \"1m\" } } } ] }\n",
     'A', 'A', 'A', NULL},
    {"default_permissions",
     "authorization { default_permissions: { publish: \"p.>\" }, users: [ {user: a, password: b} ] }\n",
     'A', 'A', 'A', NULL},
    {"users_not_array",
     "authorization { users: a }\n",
     'R', 'R', 'R', NULL},
    {"user_not_map",
     "authorization { users: [ a ] }\n",
     'R', 'R', 'R', NULL},
    {"user_without_name",
     "authorization { users: [ {password: b} ] }\n",
     'R', 'R', 'R', NULL},
    {"user_duplicate",
     "authorization { users: [ {user: a, password: b}, {user: a, password: c} ] }\n",
     'R', 'R', 'R', NULL},
    {"users_and_single_user",
     "authorization { user: x, password: y, users: [ {user: a, password: b} ] }\n",
     'R', 'R', 'R', NULL},
    {"users_and_token",
     "authorization { token: t, users: [ {user: a, password: b} ] }\n",
     'R', 'R', 'R', NULL},
    {"nkey_user",
     "authorization { users: [ {nkey: UDSAGCMYZ7K22FZDYFU7SVVKBOPLQYM3LGJL2YJMFL2CR26HT6G7AGME} ] }\n",
     'A', 'A', 'A', NULL},
    {"nkey_invalid",
     "authorization { users: [ {nkey: UABCDEF} ] }\n",
     'R', 'R', 'R', NULL},
    {"nkey_with_password",
     "authorization { users: [ {nkey: UDSAGCMYZ7K22FZDYFU7SVVKBOPLQYM3LGJL2YJMFL2CR26HT6G7AGME, password: x} ] }\n",
     'R', 'R', 'R', NULL},
    {"permissions_unknown_key",
     "authorization { users: [ {user: a, password: b, permissions: { publsh: x } } ] }\n",
     'R', 'R', 'R', NULL},
    {"permissions_not_map",
     "authorization { users: [ {user: a, password: b, permissions: x } ] }\n",
     'R', 'R', 'R', NULL},
    {"permissions_bad_subject",
     "authorization { users: [ {user: a, password: b, permissions: { publish: \"a..b\" } } ] }\n",
     'R', 'R', 'R', NULL},
    {"permissions_publish_queue",
     "authorization { users: [ {user: a, password: b, permissions: { publish: \"a q\" } } ] }\n",
     'R', 'R', 'A',
     "2.9 let a queue qualifier into publish permissions"},
    {"permissions_subscribe_queue",
     "authorization { users: [ {user: a, password: b, permissions: { subscribe: \"a q\" } } ] }\n",
     'A', 'A', 'A', NULL},
    {"permissions_allow_typo",
     "authorization { users: [ {user: a, password: b, permissions: { publish: { allw: x } } } ] }\n",
     'R', 'R', 'R', NULL},
    {"permissions_number",
     "authorization { users: [ {user: a, password: b, permissions: { publish: [ 1 ] } } ] }\n",
     'R', 'R', 'R', NULL},
    {"allow_responses_number",
     "authorization { users: [ {user: a, password: b, permissions: { allow_responses: 5 } } ] }\n",
     'R', 'R', 'R', NULL},
    {"allow_responses_expires_number",
     "authorization { users: [ {user: a, password: b, permissions: { allow_responses: { expires: 5 } } } ] }\n",
     'R', 'R', 'R', NULL},
    {"no_auth_user",
     "no_auth_user: a\nauthorization { users: [ {user: a, password: b} ] }\n",
     'A', 'A', 'A', NULL},
    {"no_auth_user_unknown",
     "no_auth_user: z\nauthorization { users: [ {user: a, password: b} ] }\n",
     'R', 'A', 'A',
     "nats-server checks no_auth_user when it starts (and refuses to), not under -t"},
    {"no_auth_user_no_users",
     "no_auth_user: z\n",
     'R', 'A', 'A',
     "nats-server checks no_auth_user when it starts (and refuses to), not under -t"},
    {"connection_types",
     "authorization { users: [ {user: a, password: b, allowed_connection_types: [\"STANDARD\", \"websocket\"]} ] }\n",
     'A', 'A', 'A', NULL},
    {"connection_types_unknown",
     "authorization { users: [ {user: a, password: b, allowed_connection_types: [\"BOGUS\"]} ] }\n",
     'R', 'R', 'R', NULL},
    {"cluster", "cluster { port: 6222 }\n", 'R', 'A', 'A', "ionats: no clustering yet"},
    {"accounts", "accounts { A: { users: [ {user: a, password: b} ] } }\n", 'R', 'A', 'A',
     "ionats: no accounts yet"},
    {"bcrypt_password", "authorization { user: a, password: $2a$11$abcdefghijklmnopqrstuv }\n",
     'A', 'A', 'A', NULL},
    /* ionats's own keys: nats-server does not know them */
    {"ionats_keys", "shards: 2\nio: epoll\nplacement: reuseport\nsync: interval\n"
                    "segment_size: 8MB\nxshard_ring_size: 2MB\n",
     'A', 'R', 'R', "ionats's own flags by their long names"},
    {"streaming", "streaming { cluster_id: test-cluster, store: file, max_channels: 10,"
                  " max_age: \"1h\", hb_interval: \"10s\", sd: true }\n",
     'A', 'R', 'R', "nats-streaming-server's block"},
};

/* Runs `argv` in `dir`, collecting its output; returns its exit status, -1 on a signal. */
static int command_run(const char *dir, char *const *argv, char *out, size_t size)
{
    int pipe_fds[2];
    ck_assert_int_eq(pipe(pipe_fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pipe_fds[1], 1);
        dup2(pipe_fds[1], 2);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        if (chdir(dir) != 0) {
            _exit(126);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipe_fds[1]);
    size_t used = 0;
    long deadline = test_now_ms() + WAIT_MS;
    for (;;) { /* bounded by the deadline: the child is killed past it */
        ssize_t n = read(pipe_fds[0], out + used, size - used - 1);
        if (n <= 0) {
            break;
        }
        used += (size_t)n;
        if (used + 1 == size || test_now_ms() > deadline) {
            kill(pid, SIGKILL);
            break;
        }
    }
    out[used] = '\0';
    close(pipe_fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void file_put(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "w");
    ck_assert_ptr_nonnull(file);
    ck_assert_int_ge(fputs(text, file), 0);
    ck_assert_int_eq(fclose(file), 0);
}

static char answer(int status)
{
    return status == 0 ? 'A' : status == 1 ? 'R' : '?';
}

/* One binary over every file: its answers against the expected column. */
static void check_binary(const char *dir, const char *binary, const char *label, size_t column)
{
    static char out[OUTPUT_SIZE];
    int wrong = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct config_case *c = &cases[i];
        char expected = column == 0 ? c->ionats : column == 1 ? c->current : c->debian;
        if (expected == '-') {
            continue;
        }
        char name[96];
        snprintf(name, sizeof name, "%s.conf", c->name);
        char *const argv[] = {(char *)binary, "-t", "-c", name, NULL};
        char got = answer(command_run(dir, argv, out, sizeof out));
        if (got != expected) {
            wrong++;
            fprintf(stderr, "%s: %s: %c, expected %c (%s)\n--- said:\n%s---\n", label, c->name,
                    got, expected, c->why != NULL ? c->why : "all agree", out);
        }
    }
    ck_assert_msg(wrong == 0, "%s disagreed on %d file(s), see above", label, wrong);
}

START_TEST(test_accepts_what_nats_server_accepts)
{
    char dir[] = "/tmp/ionats-cli-config-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    file_put(dir, "inc_port.conf", "port: 4333\n");
    file_put(dir, "inc_auth.conf", "user: alice\npassword: secret\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s.conf", cases[i].name);
        file_put(dir, name, cases[i].text);
        /* a row that differs says why; one that does not, does not */
        bool same = cases[i].ionats == cases[i].current && cases[i].current == cases[i].debian;
        ck_assert_msg(same == (cases[i].why == NULL), "%s: why must be given exactly when the "
                                                     "answers differ", cases[i].name);
    }
    ck_assert_int_eq(setenv("IONATS_CONF_TEST_PORT", "4333", 1), 0);
    ck_assert_int_eq(setenv("IONATS_CONF_TEST_A", "$IONATS_CONF_TEST_B", 1), 0);
    ck_assert_int_eq(setenv("IONATS_CONF_TEST_B", "$IONATS_CONF_TEST_A", 1), 0);
    const char *ionats = getenv("IONATS_BIN");
    ck_assert_ptr_nonnull(ionats);
    check_binary(dir, ionats, "ionats", 0);
    static const char *const references[] = {"IONATS_NATS_SERVER_CURRENT",
                                             "IONATS_NATS_SERVER_DEBIAN"};
    static const char *const labels[] = {"nats-server (current)", "nats-server (Debian)"};
    for (size_t r = 0; r < 2; r++) {
        const char *binary = getenv(references[r]);
        if (binary == NULL || access(binary, X_OK) != 0) {
            fprintf(stderr, "%s: not found (%s=%s), its column is not checked\n", labels[r],
                    references[r], binary != NULL ? binary : "");
            continue;
        }
        check_binary(dir, binary, labels[r], r + 1);
    }
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    ck_assert_int_eq(system(command), 0);
}
END_TEST

/* ---- the file takes effect ---------------------------------------------------------------- */

static int port_free(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    socklen_t length = sizeof address;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    close(fd);
    return ntohs(address.sin_port);
}

/* Starts ionats with `args` (log to `log`), dies with the test. */
static pid_t broker_start(const char *const *args, const char *log)
{
    const char *binary = getenv("IONATS_BIN");
    ck_assert_ptr_nonnull(binary);
    char *argv[16] = {(char *)binary};
    int argc = 1;
    for (; args[argc - 1] != NULL; argc++) {
        ck_assert_int_lt(argc, 14);
        argv[argc] = (char *)args[argc - 1];
    }
    argv[argc++] = "-l";
    argv[argc++] = (char *)log;
    argv[argc] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execv(binary, argv);
        _exit(127);
    }
    return pid;
}

static void broker_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    int status = 0;
    long deadline = test_now_ms() + WAIT_MS;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (test_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            ck_abort_msg("ionats did not stop on SIGTERM");
        }
        usleep(STEP_MS * 1000);
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "ionats exited with %d", status);
}

/* The INFO line a client gets on `port`, waiting for the broker to listen. */
static void info_read(int port, char *info, size_t size)
{
    long deadline = test_now_ms() + WAIT_MS;
    int fd = -1;
    while (fd < 0 && test_now_ms() < deadline) {
        fd = test_connect_raw(port);
        if (fd < 0) {
            usleep(STEP_MS * 1000);
        }
    }
    ck_assert_msg(fd >= 0, "nothing listens on port %d", port);
    ck_assert_int_ge(test_read_until(fd, info, size, "\r\n", WAIT_MS), 0);
    close(fd);
}

START_TEST(test_file_takes_effect)
{
    char dir[] = "/tmp/ionats-cli-config-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    int file_port = port_free();
    char text[512];
    snprintf(text, sizeof text,
             "# served as written\nlisten: 127.0.0.1:%d\nmax_payload: 2KB\n"
             "server_name: from-file\njetstream {\n  store_dir: \"%s/js\"\n  max_mem: 64MB\n}\n",
             file_port, dir);
    file_put(dir, "broker.conf", text);
    char path[128];
    char log[128];
    snprintf(path, sizeof path, "%s/broker.conf", dir);
    snprintf(log, sizeof log, "%s/broker.log", dir);
    static char info[OUTPUT_SIZE];

    /* the file's port, max_payload and name reach a client */
    const char *const plain[] = {"-c", path, "--shards", "1", NULL};
    pid_t pid = broker_start(plain, log);
    info_read(file_port, info, sizeof info);
    char expect[64];
    snprintf(expect, sizeof expect, "\"port\":%d", file_port);
    ck_assert_msg(strstr(info, expect) != NULL, "INFO lacks %s: %s", expect, info);
    ck_assert_msg(strstr(info, "\"max_payload\":2048") != NULL, "INFO: %s", info);
    ck_assert_msg(strstr(info, "\"server_name\":\"from-file\"") != NULL, "INFO: %s", info);
    ck_assert_msg(strstr(info, "\"jetstream\":true") != NULL, "INFO: %s", info);
    broker_stop(pid);
    /* the jetstream block's store_dir holds the streams; its max_mem is the limit */
    char store[128];
    snprintf(store, sizeof store, "%s/js/jetstream", dir);
    struct stat status;
    ck_assert_msg(stat(store, &status) == 0 && S_ISDIR(status.st_mode), "no %s", store);
    static char logged[OUTPUT_SIZE];
    int fd = open(log, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, logged, sizeof logged - 1);
    close(fd);
    logged[n > 0 ? n : 0] = '\0';
    char line[256];
    snprintf(line, sizeof line, "store directory \"%s/js/jetstream\", max memory 67108864", dir);
    ck_assert_msg(strstr(logged, line) != NULL, "log lacks %s:\n%s", line, logged);

    /* a flag overrides the file's port; the file's max_payload stays */
    int flag_port = port_free();
    char flag_port_text[16];
    snprintf(flag_port_text, sizeof flag_port_text, "%d", flag_port);
    const char *const overridden[] = {"-c", path, "-p", flag_port_text, "--shards", "1", NULL};
    pid = broker_start(overridden, log);
    info_read(flag_port, info, sizeof info);
    snprintf(expect, sizeof expect, "\"port\":%d", flag_port);
    ck_assert_msg(strstr(info, expect) != NULL, "INFO lacks %s: %s", expect, info);
    ck_assert_msg(strstr(info, "\"max_payload\":2048") != NULL, "INFO: %s", info);
    int other = test_connect_raw(file_port);
    ck_assert_msg(other < 0, "the file's port %d is served although -p overrides it", file_port);
    broker_stop(pid);

    /* a bad file: exit 1 and the place of the fault, before anything listens */
    file_put(dir, "bad.conf", "port: 4222\nmax_payload: \"big\"\n");
    snprintf(path, sizeof path, "%s/bad.conf", dir);
    static char out[OUTPUT_SIZE];
    const char *ionats = getenv("IONATS_BIN");
    ck_assert_ptr_nonnull(ionats);
    char *const bad[] = {(char *)ionats, "-c", path, NULL};
    ck_assert_int_eq(command_run(dir, bad, out, sizeof out), 1);
    ck_assert_msg(strstr(out, "bad.conf:2:1: max_payload: expected an integer, got a string") !=
                      NULL,
                  "said: %s", out);
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", dir);
    ck_assert_int_eq(system(command), 0);
}
END_TEST

START_TEST(test_help_lists_config_flags)
{
    static char out[OUTPUT_SIZE];
    const char *ionats = getenv("IONATS_BIN");
    ck_assert_ptr_nonnull(ionats);
    char *const help[] = {(char *)ionats, "--help", NULL};
    ck_assert_int_eq(command_run("/", help, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "-c, --config <file>"));
    ck_assert_ptr_nonnull(strstr(out, "    -t "));
}
END_TEST

static Suite *cli_config_suite(void)
{
    Suite *suite = suite_create("cli_config");
    TCase *reference = tcase_create("reference");
    tcase_set_timeout(reference, 300);
    tcase_add_test(reference, test_accepts_what_nats_server_accepts);
    suite_add_tcase(suite, reference);
    TCase *effect = tcase_create("effect");
    tcase_set_timeout(effect, 60);
    tcase_add_test(effect, test_file_takes_effect);
    tcase_add_test(effect, test_help_lists_config_flags);
    suite_add_tcase(suite, effect);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(cli_config_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
