/* The configuration file onto struct config (engine/config_file.c, through config_parse as
 * main calls it): every mapped key, nats-server's meanings (its sizes, its durations, its
 * jetstream block), flags over the file (a flag given wins even when it says the default),
 * what is refused and what is only noted, unknown keys (a warning; -t then fails), errors
 * with file:line:col, and -t's answers. Files are written under /tmp; what config_parse
 * writes is captured through open_memstream. */
#include "engine/auth.h"
#include "engine/config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { ARG_COUNT_MAX = 16, TEXT_SIZE = 1 << 16 };

static char err_text[TEXT_SIZE];
static char path[64];

/* Writes `text` to this process's file under /tmp and returns its path. */
static const char *file_write(const char *name, const char *text)
{
    snprintf(path, sizeof path, "/tmp/ionats-conf-%d-%s", (int)getpid(), name);
    FILE *file = fopen(path, "w");
    ck_assert_ptr_nonnull(file);
    ck_assert_int_eq(fputs(text, file) >= 0, 1);
    ck_assert_int_eq(fclose(file), 0);
    return path;
}

/* config_parse on "ionats" and `args`; what it said goes to err_text. */
static enum config_result parse_args(struct config *config, const char *const *args)
{
    char *argv[ARG_COUNT_MAX + 1] = {"ionats"};
    int argc = 1;
    for (; args[argc - 1] != NULL; argc++) {
        ck_assert_int_lt(argc, ARG_COUNT_MAX);
        argv[argc] = (char *)args[argc - 1];
    }
    char *out_buffer = NULL;
    char *err_buffer = NULL;
    size_t out_length = 0;
    size_t err_length = 0;
    FILE *out = open_memstream(&out_buffer, &out_length);
    FILE *err = open_memstream(&err_buffer, &err_length);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(err);
    enum config_result result = config_parse(config, argc, argv, out, err);
    ck_assert_int_eq(fclose(out), 0);
    ck_assert_int_eq(fclose(err), 0);
    ck_assert_uint_eq(out_length, 0);
    ck_assert_uint_lt(err_length, TEXT_SIZE);
    memcpy(err_text, err_buffer, err_length);
    err_text[err_length] = '\0';
    free(out_buffer);
    free(err_buffer);
    return result;
}

#define parse(config, ...) parse_args((config), (const char *const[]){__VA_ARGS__, NULL})

/* Parses args[0] as the file given with -c, then the flags args[1..]. */
static enum config_result parse_file_args(struct config *config, const char *const *args)
{
    const char *all[ARG_COUNT_MAX] = {"-c", file_write("main.conf", args[0])};
    size_t count = 2;
    for (size_t i = 1; args[i] != NULL; i++) {
        ck_assert_uint_lt(count, ARG_COUNT_MAX - 1);
        all[count++] = args[i];
    }
    all[count] = NULL;
    return parse_args(config, all);
}

#define parse_file(config, ...) parse_file_args((config), (const char *const[]){__VA_ARGS__, NULL})

#define ck_said(text)                                                                        \
    ck_assert_msg(strstr(err_text, (text)) != NULL, "\"%s\" lacks \"%s\"", err_text, (text))

START_TEST(test_nats_keys)
{
    struct config config;
    enum config_result result = parse_file(
        &config,
        "listen: 127.0.0.1:4333\n"
        "server_name: conf-test\n"
        "debug: true\ntrace: yes\n"
        "logfile: /tmp/ionats-conf.log\n"
        "max_payload: 2KB\nmax_pending: 64MB\nmax_connections: 100\n"
        "max_control_line: 2k\nmax_subs: 10\nmax_closed_clients: 50\n"
        "ping_interval: \"1m30s\"\nping_max: 3\nwrite_deadline: \"5s\"\n"
        "http: 127.0.0.2:8222\n");
    ck_assert_msg(result == CONFIG_RUN, "%s", err_text);
    ck_assert_str_eq(err_text, "");
    ck_assert_str_eq(config.host, "127.0.0.1");
    ck_assert_int_eq(config.port, 4333);
    ck_assert_str_eq(config.server_name, "conf-test");
    ck_assert(config.debug && config.trace);
    ck_assert_str_eq(config.log_path, "/tmp/ionats-conf.log");
    ck_assert_int_eq(config.max_payload, 2048);
    ck_assert_int_eq(config.max_pending, 64LL << 20);
    ck_assert_int_eq(config.max_connections, 100);
    ck_assert_int_eq(config.max_control_line, 2000); /* k: 1000, as nats-server */
    ck_assert_int_eq(config.max_subscriptions, 10);
    ck_assert_int_eq(config.max_closed_clients, 50);
    ck_assert_int_eq(config.ping_interval_ns, 90LL * 1000000000);
    ck_assert_int_eq(config.ping_max, 3);
    ck_assert_int_eq(config.write_deadline_ns, 5LL * 1000000000);
    ck_assert_str_eq(config.http_host, "127.0.0.2");
    ck_assert_int_eq(config.http_port, 8222);
    config_release(&config);

    result = parse_file(&config, "host: 127.0.0.3\nport: 4444\nhttp_port: 8223\n"
                                 "listen_extra = 1\nmonitor_port: $listen_extra\n");
    ck_assert_msg(result == CONFIG_RUN, "%s", err_text);
    ck_assert_str_eq(config.host, "127.0.0.3");
    ck_assert_int_eq(config.port, 4444);
    ck_assert_int_eq(config.http_port, 1);
    config_release(&config);
}
END_TEST

START_TEST(test_authorization)
{
    struct config config;
    enum config_result result = parse_file(
        &config, "authorization {\n  user: alice\n  password: \"s3cret\"\n  timeout: 1.5\n}\n");
    ck_assert_msg(result == CONFIG_RUN, "%s", err_text);
    ck_assert_str_eq(config.user, "alice");
    ck_assert_str_eq(config.pass, "s3cret");
    ck_assert_int_eq(config.auth_timeout_ns, 1500000000LL);
    config_release(&config);
    result = parse_file(&config, "authorization { token: abc, timeout: \"3s\" }\n");
    ck_assert_msg(result == CONFIG_RUN, "%s", err_text);
    ck_assert_str_eq(config.token, "abc");
    ck_assert_int_eq(config.auth_timeout_ns, 3000000000LL);
    config_release(&config);
    /* a users list with permissions and defaults */
    result = parse_file(&config, "authorization {\n  default_permissions: { publish: \"p.>\" }\n"
                                 "  users: [ {user: a, password: b},\n"
                                 "    {user: c, password: d, permissions: { subscribe: {\n"
                                 "      allow: [\"s.*\", \"q.> workers\"], deny: \"s.x\" } } } ]\n}\n");
    ck_assert_msg(result == CONFIG_RUN, "%s", err_text);
    ck_assert_ptr_nonnull(config.auth);
    ck_assert_uint_eq(config.auth->user_count, 2);
    ck_assert_str_eq(config.auth->users[0].name, "a");
    const struct auth_permissions *defaults = config.auth->users[0].permissions;
    ck_assert_ptr_nonnull(defaults);
    ck_assert_uint_eq(defaults->pub_allow.count, 1);
    ck_assert_str_eq(defaults->pub_allow.subjects[0], "p.>");
    const struct auth_permissions *own = config.auth->users[1].permissions;
    ck_assert_uint_eq(own->sub_allow.count, 2);
    ck_assert_str_eq(own->sub_allow.subjects[1], "q.>");
    ck_assert_str_eq(own->sub_allow.queues[1], "workers");
    ck_assert_uint_eq(own->sub_deny.count, 1);
    ck_assert(!own->pub_allow.present);
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, "authorization { user: a, password: $2a$11$xyz }\n"),
                     CONFIG_RUN);
    config_release(&config);
    /* refused, each with nats-server's words and its place */
    ck_assert_int_eq(parse_file(&config, "authorization { user: a, password: b, token: c }\n"),
                     CONFIG_EXIT_ERROR);
    ck_said("Cannot have a user/pass and token");
    ck_assert_int_eq(parse_file(&config, "authorization {\n  users: [ {password: b} ]\n}\n"),
                     CONFIG_EXIT_ERROR);
    ck_said(":2:13: User entry requires a user");
    ck_assert_int_eq(parse_file(&config, "authorization { users: [ {user: a, password: b, "
                                         "permissions: { publish: \"a..b\" } } ] }\n"),
                     CONFIG_EXIT_ERROR);
    ck_said("subject \"a..b\" is not a valid subject");
    ck_assert_int_eq(parse_file(&config, "authorization { users: [ {user: a, password: b, "
                                         "permissions: { subscribe: \"a q r\" } } ] }\n"),
                     CONFIG_EXIT_ERROR);
    ck_said("subject \"a q r\" is not a valid subject");
    ck_assert_int_eq(parse_file(&config, "authorization { users: [ {user: a, password: b, "
                                         "permissions: { pub: { allw: x } } } ] }\n"),
                     CONFIG_EXIT_ERROR);
    ck_said("Unknown field name \"allw\" parsing subject permissions, only 'allow' or 'deny' "
            "are permitted");
    ck_assert_int_eq(parse_file(&config, "authorization { users: [ {user: a}, {user: a} ] }\n"),
                     CONFIG_EXIT_ERROR);
    ck_said("Duplicate user \"a\" detected");
    ck_assert_int_eq(parse_file(&config, "authorization { users: [ {nkey: Uabc} ] }\n"),
                     CONFIG_EXIT_ERROR);
    ck_said("Not a valid public nkey for a user");
}
END_TEST

START_TEST(test_jetstream)
{
    struct config config;
    enum config_result result = parse_file(&config, "jetstream {\n  store_dir: /tmp/js-conf\n"
                                                    "  max_mem: 1G\n  max_file: \"2G\"\n"
                                                    "  sync_interval: \"30s\"\n}\n");
    ck_assert_msg(result == CONFIG_RUN, "%s", err_text);
    ck_assert(config.jetstream);
    ck_assert_str_eq(config.store_dir, "/tmp/js-conf");
    ck_assert_int_eq(config.max_memory_store, 1000000000LL); /* an integer's G: 1000³ */
    ck_assert_int_eq(config.max_file_store, 2LL << 30);     /* a string's G: 1024³ */
    ck_assert_str_eq(config.sync, "interval");
    ck_assert_int_eq(config.sync_interval_ns, 30LL * 1000000000);
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, "jetstream { sync: always }\n"), CONFIG_RUN);
    ck_assert_str_eq(config.sync, "always");
    ck_assert(config.jetstream);
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, "jetstream: enabled\n"), CONFIG_RUN);
    ck_assert(config.jetstream);
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, "jetstream { enabled: false, store_dir: /tmp/x }\n"),
                     CONFIG_RUN);
    ck_assert(!config.jetstream);
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, "store_dir: /tmp/top\njetstream: true\n"), CONFIG_RUN);
    ck_assert_str_eq(config.store_dir, "/tmp/top");
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, "store_dir: /tmp/a\njetstream { store_dir: /tmp/b }\n"),
                     CONFIG_EXIT_ERROR);
    ck_said(":2:13: Duplicate 'store_dir' configuration");
    ck_assert_int_eq(parse_file(&config, "jetstream: maybe\n"), CONFIG_EXIT_ERROR);
    ck_said("Expected 'enabled' or 'disabled' for string value, got 'maybe'");
    ck_assert_int_eq(parse_file(&config, "jetstream { max_mem: \"1GB\" }\n"), CONFIG_EXIT_ERROR);
    ck_said("max_mem strconv.ParseInt: parsing \"1G\": invalid syntax");
    ck_assert_int_eq(parse_file(&config, "jetstream { key: secret }\n"), CONFIG_EXIT_ERROR);
    ck_said("key: encryption at rest is not supported yet");
}
END_TEST

START_TEST(test_streaming_and_ionats_keys)
{
    struct config config;
    enum config_result result = parse_file(
        &config,
        "streaming {\n  cluster_id: test-cluster\n  store: memory\n  dir: /tmp/stan\n"
        "  store_limits { max_channels: 10, max_msgs: 100 }\n  max_subs: 5\n"
        "  max_bytes: 1MB\n  max_age: \"1h\"\n  max_inactivity: \"10m\"\n"
        "  hb_interval: \"10s\"\n  hb_timeout: \"5s\"\n  hb_fail_count: 3\n  sd: true\n}\n"
        "shards: 2\nio: epoll\nplacement: reuseport\nsegment_size: 8MB\n"
        "xshard_ring_size: 2MB\ncpus: \"0-1\"\nsync: none\nsync_interval: \"1m\"\n");
    ck_assert_msg(result == CONFIG_RUN, "%s", err_text);
    ck_assert_str_eq(config.streaming_cluster_id, "test-cluster");
    ck_assert(config.jetstream); /* streaming turns JetStream on */
    ck_assert_str_eq(config.streaming_store, "memory");
    ck_assert_str_eq(config.streaming_dir, "/tmp/stan");
    ck_assert_int_eq(config.streaming_max_channels, 10);
    ck_assert_int_eq(config.streaming_max_msgs, 100);
    ck_assert_int_eq(config.streaming_max_subs, 5);
    ck_assert_int_eq(config.streaming_max_bytes, 1LL << 20);
    ck_assert_int_eq(config.streaming_max_age_ns, 3600LL * 1000000000);
    ck_assert_int_eq(config.streaming_max_inactivity_ns, 600LL * 1000000000);
    ck_assert_int_eq(config.streaming_hb_interval_ns, 10LL * 1000000000);
    ck_assert_int_eq(config.streaming_hb_timeout_ns, 5LL * 1000000000);
    ck_assert_int_eq(config.streaming_hb_fail_count, 3);
    ck_assert(config.streaming_debug);
    ck_assert_int_eq(config.shards, 2);
    ck_assert_str_eq(config.io, "epoll");
    ck_assert_str_eq(config.placement, "reuseport");
    ck_assert_int_eq(config.segment_size, 8LL << 20);
    ck_assert_int_eq(config.xshard_ring_size, 2LL << 20);
    ck_assert_str_eq(config.cpus, "0-1");
    ck_assert_str_eq(config.sync, "none");
    ck_assert_int_eq(config.sync_interval_ns, 60LL * 1000000000);
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, "streaming { store: sql }\n"), CONFIG_EXIT_ERROR);
    ck_said("store: the SQL store is not supported");
    ck_assert_int_eq(parse_file(&config, "streaming { store_limits { channels { foo: {} } } }\n"),
                     CONFIG_EXIT_ERROR);
    ck_said("channels: per-channel limits are not supported yet");
    ck_assert_int_eq(parse_file(&config, "shards: 1000\n"), CONFIG_EXIT_ERROR);
    ck_said(":1:1: invalid value \"1000\" for shards: want an integer from 0 to 256");
}
END_TEST

/* nats-server re-reads its flags after the file: a flag given wins, even one that says the
 * default; -DV after everything. */
START_TEST(test_flags_override_the_file)
{
    struct config config;
    const char *text = "port: 4333\nmax_payload: 2048\ndebug: true\nserver_name: file\n";
    ck_assert_int_eq(parse_file(&config, text, "-p", "4555"), CONFIG_RUN);
    ck_assert_int_eq(config.port, 4555);
    ck_assert_int_eq(config.max_payload, 2048);
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, text, "--port", "4222", "-D=false"), CONFIG_RUN);
    ck_assert_int_eq(config.port, 4222); /* the default, given: it wins */
    ck_assert(!config.debug);
    ck_assert_str_eq(config.server_name, "file");
    config_release(&config);
    /* the flags may come before -c too */
    ck_assert_int_eq(parse(&config, "--max_payload", "1024", "-c",
                           file_write("main.conf", text)),
                     CONFIG_RUN);
    ck_assert_int_eq(config.max_payload, 1024);
    ck_assert_int_eq(config.port, 4333);
    config_release(&config);
}
END_TEST

START_TEST(test_refused_and_ignored)
{
    static const struct {
        const char *text;
        const char *said;
    } refused[] = {
        {"tls { cert_file: a }\n", "missing 'key_file' in TLS configuration"},
        {"tls { cert_file: a, key_file: b }\n", "error parsing X509 certificate/key pair"},
        {"cluster { port: 6222 }\n", "cluster: clusters and gateways are not supported yet"},
        {"accounts { A: {} }\n", "accounts: accounts are not supported yet"},
        {"no_auth_user: a\n", "no_auth_user: \"a\" present, but users/nkeys are not defined"},
        {"websocket { port: 8080 }\n", "websocket: WebSocket and MQTT"},
        {"syslog: true\n", "syslog: syslog is not supported yet"},
        {"port: \"4222\"\n", "port: expected an integer, got a string"},
        {"debug: 5\n", "debug: expected a boolean, got an integer"},
        {"listen: localhost\n", "could not parse address string \"localhost\""},
        {"server_name: \"a b\"\n", "server name cannot contain spaces"},
        {"ping_interval: \"soon\"\n",
         "error parsing ping_interval: time: invalid duration \"soon\""},
        {"max_payload: 100MB\n", "invalid value \"104857600\" for max_payload"},
    };
    struct config config;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_msg(parse_file(&config, refused[i].text) == CONFIG_EXIT_ERROR, "%s accepted",
                      refused[i].text);
        ck_said(refused[i].said);
        ck_said(":1:1: "); /* every error names its place */
    }
    /* what asks for what ionats does anyway, or only tunes what it lacks, passes (noted) */
    ck_assert_int_eq(parse_file(&config, "syslog: false\nlogfile_max_num: 3\nlame_duck_duration: "
                                         "\"45s\"\nno_system_account: true\n"),
                     CONFIG_RUN);
    ck_said("note: logfile_max_num is ignored: ionats keeps every rotated log file");
    ck_assert_int_eq(config.lame_duck_duration_ns, 45000000000LL);
    config_release(&config);
    /* nats-server's floor for a file's lame duck duration */
    ck_assert_int_eq(parse_file(&config, "lame_duck_duration: \"5s\"\n"), CONFIG_EXIT_ERROR);
    ck_said("invalid lame_duck_duration of 5s, minimum is 30 seconds");
    /* the log and process keys set their flags */
    ck_assert_int_eq(parse_file(&config, "logtime: false\nlog_size_limit: 1MB\n"
                                         "pid_file: /tmp/x.pid\nports_file_dir: /tmp\n"),
                     CONFIG_RUN);
    ck_assert(!config.logtime);
    ck_assert_int_eq(config.log_size_limit, 1048576); /* MB: 1024 * 1024 */
    ck_assert_str_eq(config.pid_path, "/tmp/x.pid");
    ck_assert_str_eq(config.ports_file_dir, "/tmp");
    config_release(&config);
}
END_TEST

/* tls {}'s suite and curve choices by Go's names, refused as nats-server refuses them. */
START_TEST(test_tls_choices_refused)
{
    static const struct {
        const char *text;
        const char *said;
    } refused[] = {
        {"tls { cert_file: a, key_file: b, cipher_suites: [] }\n",
         "error parsing tls config, 'cipher_suites' cannot be empty"},
        {"tls { cert_file: a, key_file: b, cipher_suites: [\"TLS_FOO\"] }\n",
         "unrecognized cipher TLS_FOO"},
        {"tls { cert_file: a, key_file: b, curve_preferences: [\"CurveP256\", \"P-256\"] }\n",
         "unrecognized curve preference P-256"},
        {"tls { cert_file: a, key_file: b, curve_preferences: [] }\n",
         "error parsing tls config, 'curve_preferences' cannot be empty"},
        /* names known, then the files are read: the error is theirs */
        {"tls { cert_file: /nonexistent.pem, key_file: b, verify_and_map: true,\n"
         "  cipher_suites: [\"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305\"] }\n",
         "error loading certificate /nonexistent.pem"},
    };
    struct config config;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_msg(parse_file(&config, refused[i].text) == CONFIG_EXIT_ERROR, "%s accepted",
                      refused[i].text);
        ck_said(refused[i].said);
    }
}
END_TEST

/* leafnodes {}: remotes are read (urls in both forms, deny lists, the reconnect delay);
 * what ionats refuses is named, each at its place. */
START_TEST(test_leafnodes_block)
{
    static const struct {
        const char *text;
        const char *said;
    } refused[] = {
        {"leafnodes { listen: 7422, tls: {} }\n", "missing 'cert_file' in TLS configuration"},
        {"leafnodes { listen: 7422, tls: { cert_file: /nonexistent.pem, key_file: k } }\n",
         "error parsing X509 certificate/key pair: error loading certificate /nonexistent.pem"},
        {"leafnodes { listen: 7422, tls: { cert_file: a, key_file: b, handshake_first: 300ms } }\n",
         "handshake_first: a fallback delay is not supported yet (true or false)"},
        {"leafnodes { authorization { users: [] } }\n",
         "users: leafnode users, nkeys and accounts are not supported yet"},
        {"leafnodes { listen: \"127.0.0.1:x\" }\n", "could not parse port \"x\""},
        {"leafnodes { remotes: [ { urls: [\"nats-leaf://a:x\"] } ] }\n",
         "error parsing remote leafnode url \"nats-leaf://a:x\""},
        {"leafnodes { remotes: [ { account: A, url: \"a\" } ] }\n",
         "account: accounts are not supported yet"},
        {"leafnodes { remotes: [ { tls: { cipher_suites: [] } , url: \"a\" } ] }\n",
         "cipher_suites: not supported yet on leafnode links"},
        {"leafnodes { remotes: [ { deny_imports: [\"a..b\"], url: \"a\" } ] }\n",
         "subject \"a..b\" is not a valid subject"},
        {"leafnodes { remotes: [ { account: \"$G\" } ] }\n",
         "leafnode remote requires a url"},
    };
    struct config config;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        ck_assert_msg(parse_file(&config, refused[i].text) == CONFIG_EXIT_ERROR, "%s accepted",
                      refused[i].text);
        ck_said(refused[i].said);
    }
    ck_assert_int_eq(parse_file(&config, "leafnodes {\n reconnect: \"250ms\"\n remotes: [\n"
                                         "  { url: \"nats-leaf://u:p@127.0.0.1:7422\",\n"
                                         "    deny_imports: \"secret.>\", compression: off },\n"
                                         "  { urls: [\"nats://h1\", \"h2:7000\"],\n"
                                         "    deny_exports: [\"a.*\", \"b\"] }\n ]\n}\n"),
                     CONFIG_RUN);
    ck_assert_ptr_nonnull(config.leaf);
    ck_assert_int_eq(config.leaf->remote_count, 2);
    ck_assert_int_eq(config.leaf->remotes[0].url_count, 1);
    ck_assert_str_eq(config.leaf->remotes[0].urls[0], "nats-leaf://u:p@127.0.0.1:7422");
    ck_assert_int_eq(config.leaf->remotes[0].deny_import_count, 1);
    ck_assert_str_eq(config.leaf->remotes[0].deny_imports[0], "secret.>");
    ck_assert_int_eq(config.leaf->remotes[1].url_count, 2);
    ck_assert_int_eq(config.leaf->remotes[1].deny_export_count, 2);
    ck_assert_int_eq(config.leaf_reconnect_ns, 250LL * 1000000LL);
    ck_said("note: compression is ignored: leafnode links are not compressed");
    config_release(&config);
    /* the leafs that connect here: listen as the flags, one user */
    ck_assert_int_eq(parse_file(&config, "leafnodes {\n listen: \"127.0.0.2:7433\"\n"
                                         " authorization { user: lu, password: lp }\n}\n"),
                     CONFIG_RUN);
    ck_assert_int_eq(config.leaf_port, 7433);
    ck_assert_str_eq(config.leaf_host, "127.0.0.2");
    ck_assert_str_eq(config.leaf->user, "lu");
    ck_assert_str_eq(config.leaf->pass, "lp");
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, "leafnodes { port: 7434 }\n"), CONFIG_RUN);
    ck_assert_int_eq(config.leaf_port, 7434);
    config_release(&config);
}
END_TEST

START_TEST(test_unknown_keys_and_test_flag)
{
    struct config config;
    /* an unknown key is a warning: the broker runs */
    ck_assert_int_eq(parse_file(&config, "port: 4333\nno_such_key: 1\n"), CONFIG_RUN);
    ck_said(":2:1: warning: unknown field \"no_such_key\"");
    config_release(&config);
    /* a variable read elsewhere is not unknown */
    ck_assert_int_eq(parse_file(&config, "PORT = 4333\nport: $PORT\n"), CONFIG_RUN);
    ck_assert_str_eq(err_text, "");
    config_release(&config);
    /* -t: valid, or a warning fails it as it fails nats-server's -t */
    ck_assert_int_eq(parse_file(&config, "port: 4333\n", "-t"), CONFIG_EXIT_OK);
    ck_said("configuration file ");
    ck_said(" is valid");
    config_release(&config);
    ck_assert_int_eq(parse_file(&config, "port: 4333\nno_such_key: 1\n", "-t"), CONFIG_EXIT_ERROR);
    ck_assert_int_eq(parse_file(&config, "", "-t"), CONFIG_EXIT_ERROR);
    ck_said("config has no values or is empty");
    ck_assert_int_eq(parse_file(&config, "ping_interval: 60\n", "-t"), CONFIG_EXIT_ERROR);
    ck_said("ping_interval should be converted to a duration");
    /* relations between settings are checked by -t too */
    ck_assert_int_eq(parse_file(&config, "max_payload: 2048\nmax_pending: 1024\n", "-t"),
                     CONFIG_EXIT_ERROR);
    ck_said("cannot be higher than");
    config_release(&config);
    ck_assert_int_eq(parse(&config, "-t"), CONFIG_EXIT_ERROR);
    ck_said("must specify [-c, --config] option to check configuration file syntax");
    ck_assert_int_eq(parse(&config, "-c", "/tmp/ionats-no-such-file.conf"), CONFIG_EXIT_ERROR);
    ck_said("cannot read configuration file /tmp/ionats-no-such-file.conf");
    /* a parse error: nats-server's message at file:line:col */
    ck_assert_int_eq(parse_file(&config, "port: 4333\nserver_name: \"open\n"), CONFIG_EXIT_ERROR);
    ck_said(":3:1: Parse error on line 3: 'Unexpected EOF.'");
    /* a bad flag is still a usage error, before the file is read */
    ck_assert_int_eq(parse_file(&config, "port: 1\n", "--no_such_flag"), CONFIG_EXIT_USAGE);
}
END_TEST

START_TEST(test_environment_and_include)
{
    struct config config;
    ck_assert_int_eq(setenv("IONATS_CONF_TEST_PAYLOAD", "4KB", 1), 0);
    char include[80];
    snprintf(include, sizeof include, "%s", file_write("auth.conf", "user: bob\npass: pw\n"));
    char text[256];
    snprintf(text, sizeof text,
             "max_payload: $IONATS_CONF_TEST_PAYLOAD\nauthorization {\n  include '%s'\n}\n",
             strrchr(include, '/') + 1); /* relative to the including file */
    ck_assert_int_eq(parse_file(&config, text), CONFIG_RUN);
    ck_assert_int_eq(config.max_payload, 4096);
    ck_assert_str_eq(config.user, "bob");
    ck_assert_str_eq(config.pass, "pw");
    config_release(&config);
    unlink(include);
    ck_assert_int_eq(parse_file(&config, "max_payload: $IONATS_CONF_TEST_UNSET\n"),
                     CONFIG_EXIT_ERROR);
    ck_said(":1:14: variable reference for 'IONATS_CONF_TEST_UNSET' on line 1 can not be found");
}
END_TEST

static void teardown(void)
{
    unlink(file_write("main.conf", ""));
}

static Suite *config_file_suite(void)
{
    Suite *suite = suite_create("config_file");
    TCase *mapping = tcase_create("mapping");
    tcase_add_checked_fixture(mapping, NULL, teardown);
    tcase_add_test(mapping, test_nats_keys);
    tcase_add_test(mapping, test_authorization);
    tcase_add_test(mapping, test_jetstream);
    tcase_add_test(mapping, test_streaming_and_ionats_keys);
    tcase_add_test(mapping, test_flags_override_the_file);
    tcase_add_test(mapping, test_refused_and_ignored);
    tcase_add_test(mapping, test_tls_choices_refused);
    tcase_add_test(mapping, test_leafnodes_block);
    tcase_add_test(mapping, test_unknown_keys_and_test_flag);
    tcase_add_test(mapping, test_environment_and_include);
    suite_add_tcase(suite, mapping);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(config_file_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
