/* Unit tests for the command line (engine/config.c): durations, CPU lists, every spelling
 * of a flag, switch values, every relation config_check enforces between flags, and the
 * start-up of the broker when a shard's listener cannot be opened.
 *
 * config_parse is called as main calls it, with its help and error text captured through
 * open_memstream, so each test checks both the result and what the user is told. The
 * start-up tests run the real binary ($IONATS_BIN) with tests/unit/listen_fail_shim.c
 * preloaded ($IONATS_LISTEN_FAIL_SHIM), every wait bounded. */
#include "engine/config.h"

#include "base/spsc.h"
#include "engine/xshard.h"
#include "tests/harness/server.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { ARG_COUNT_MAX = 32, TEXT_SIZE = 1 << 16 };

/* What the last parse() wrote to its `out` and `err`. */
static char out_text[TEXT_SIZE];
static char err_text[TEXT_SIZE];

static void capture(char *target, char *buffer, size_t length)
{
    ck_assert_uint_lt(length, TEXT_SIZE);
    memcpy(target, buffer, length);
    target[length] = '\0';
    free(buffer);
}

/* Runs config_parse on "ionats" followed by the NULL-terminated `args`. */
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
    capture(out_text, out_buffer, out_length);
    capture(err_text, err_buffer, err_length);
    return result;
}

#define parse(config, ...) parse_args((config), (const char *const[]){__VA_ARGS__, NULL})

/* A usage error: exit code 2, a message containing `text`, nothing on `out`. */
#define ck_usage(result, text)                                                               \
    do {                                                                                     \
        ck_assert_int_eq((result), CONFIG_EXIT_USAGE);                                       \
        ck_assert_msg(strstr(err_text, (text)) != NULL, "error \"%s\" lacks \"%s\"", err_text, \
                      (text));                                                               \
        ck_assert_str_eq(out_text, "");                                                      \
    } while (0)

/* Runs and expects a successful parse with nothing said. */
#define ck_run(result)                                                                       \
    do {                                                                                     \
        ck_assert_int_eq((result), CONFIG_RUN);                                              \
        ck_assert_str_eq(err_text, "");                                                      \
    } while (0)

/* ---- durations ------------------------------------------------------------------------ */

static void duration_expect(const char *text, int64_t ns)
{
    int64_t parsed = -1;
    ck_assert_msg(config_duration_parse(text, &parsed) == 0, "\"%s\" rejected", text);
    ck_assert_msg(parsed == ns, "\"%s\" gave %lld ns, want %lld", text, (long long)parsed,
                  (long long)ns);
}

static void duration_reject(const char *text)
{
    int64_t parsed = 12345;
    ck_assert_msg(config_duration_parse(text, &parsed) == -EINVAL, "\"%s\" accepted", text);
    ck_assert_int_eq(parsed, 12345); /* untouched on error */
}

START_TEST(test_duration_units)
{
    duration_expect("250ms", 250000000LL);
    duration_expect("2s", 2000000000LL);
    duration_expect("1.5m", 90000000000LL);
    duration_expect("1h", 3600000000000LL);
    duration_expect("7ns", 7);
    duration_expect("10us", 10000);
    duration_expect("0.5s", 500000000LL);
    duration_expect("0s", 0);
    duration_expect("0", 0);
}
END_TEST

/* A bare number is seconds, as in nats-server's configuration files. */
START_TEST(test_duration_bare_seconds)
{
    duration_expect("3", 3000000000LL);
    duration_expect("0.25", 250000000LL);
    duration_expect("120", 120000000000LL);
}
END_TEST

START_TEST(test_duration_invalid)
{
    static const char *const bad[] = {
        "",   "s",    "ms",    "abc", "-1s", "-1",   "1x",    "1 s",    "1sec",  "1S",
        "1H", "1ms ", "1.5.m", "nan", "inf", "infs", "1e30h", "9.3e9s", "1h30m",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        duration_reject(bad[i]);
    }
}
END_TEST

/* The largest accepted duration still fits an int64 of nanoseconds. */
START_TEST(test_duration_limit)
{
    duration_expect("9e9s", 9000000000000000000LL);
    duration_reject("9.2e9s");
    duration_expect("2500000h", 2500000LL * 3600 * 1000000000LL);
    duration_reject("2600000h");
}
END_TEST

/* ---- CPU lists ------------------------------------------------------------------------ */

static void cpus_expect(const char *text, const int *want, int want_count)
{
    int cpus[16];
    int count = config_cpus_parse(text, cpus, 16);
    ck_assert_msg(count == want_count, "\"%s\" gave %d CPUs, want %d", text, count, want_count);
    for (int i = 0; i < want_count; i++) {
        ck_assert_int_eq(cpus[i], want[i]);
    }
}

START_TEST(test_cpus_lists)
{
    cpus_expect("0", (const int[]){0}, 1);
    cpus_expect("7", (const int[]){7}, 1);
    cpus_expect("0,2-5", (const int[]){0, 2, 3, 4, 5}, 5);
    cpus_expect("3-3", (const int[]){3}, 1);
    cpus_expect("0-1,4-5,9", (const int[]){0, 1, 4, 5, 9}, 5);
    /* repeats are kept: two shards may share a CPU */
    cpus_expect("1,1", (const int[]){1, 1}, 2);
    cpus_expect("4095", (const int[]){4095}, 1);
}
END_TEST

START_TEST(test_cpus_invalid)
{
    static const char *const bad[] = {
        "",     ",",    "0,",     ",0",  "0,,1", "5-2", "a",    "-1", "1-",   "-",
        "0--1", "1-2-3", "4096",  "0-4096", "1;2", "1 2", " 1",  "1, 2", "+1", "1-+2",
        "0x1",  "99999999999999999999",
    };
    int cpus[16];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(config_cpus_parse(bad[i], cpus, 16) == -EINVAL, "\"%s\" accepted", bad[i]);
    }
}
END_TEST

START_TEST(test_cpus_capacity)
{
    int cpus[4096];
    ck_assert_int_eq(config_cpus_parse("0-3", cpus, 4), 4);
    ck_assert_int_eq(config_cpus_parse("0-3", cpus, 3), -EINVAL);
    ck_assert_int_eq(config_cpus_parse("0,1,2", cpus, 2), -EINVAL);
    ck_assert_int_eq(config_cpus_parse("0-4095", cpus, 4096), 4096);
    ck_assert_int_eq(cpus[4095], 4095);
    ck_assert_int_eq(config_cpus_parse("0", cpus, 0), -EINVAL);
}
END_TEST

/* ---- flag spellings ------------------------------------------------------------------- */

START_TEST(test_defaults)
{
    struct config config;
    ck_run(parse_args(&config, (const char *const[]){NULL}));
    ck_assert_str_eq(config.host, "0.0.0.0");
    ck_assert_int_eq(config.port, CONFIG_PORT_DEFAULT);
    ck_assert_ptr_null(config.server_name);
    ck_assert_ptr_null(config.log_path);
    ck_assert(!config.debug);
    ck_assert(!config.trace);
    ck_assert_int_eq(config.max_payload, CONFIG_MAX_PAYLOAD_DEFAULT);
    ck_assert_int_eq(config.max_control_line, CONFIG_MAX_CONTROL_LINE_DEFAULT);
    ck_assert_int_eq(config.max_pending, CONFIG_MAX_PENDING_DEFAULT);
    ck_assert_int_eq(config.max_connections, CONFIG_MAX_CONNECTIONS_DEFAULT);
    ck_assert_int_eq(config.max_subscriptions, 0);
    ck_assert_int_eq(config.max_closed_clients, 10000);
    ck_assert_int_eq(config.ping_interval_ns, CONFIG_PING_INTERVAL_NS_DEFAULT);
    ck_assert_int_eq(config.ping_max, CONFIG_PING_MAX_DEFAULT);
    ck_assert_int_eq(config.auth_timeout_ns, CONFIG_AUTH_TIMEOUT_NS_DEFAULT);
    ck_assert_int_eq(config.write_deadline_ns, CONFIG_WRITE_DEADLINE_NS_DEFAULT);
    ck_assert_int_eq(config.shards, 0);
    ck_assert_ptr_null(config.cpus);
    ck_assert_str_eq(config.placement, "acceptor");
    ck_assert_str_eq(config.io, "auto");
    ck_assert_int_eq(config.xshard_ring_size, CONFIG_XSHARD_RING_SIZE_DEFAULT);
    ck_assert_int_eq(config.xshard_overflow_max, CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT);
    ck_assert_int_eq(config.stats_interval_ns, 0);
    ck_assert_int_eq(config.recv_buf_size, CONFIG_RECV_BUF_SIZE_DEFAULT);
    ck_assert_int_eq(config.recv_buf_count, CONFIG_RECV_BUF_COUNT_DEFAULT);
    ck_assert_int_eq(config.ring_entries, CONFIG_RING_ENTRIES_DEFAULT);
}
END_TEST

/* -flag value, --flag value, --flag=value, -flag=value, and '-' for '_' in each. */
START_TEST(test_flag_spellings)
{
    static const char *const spellings[][3] = {
        {"-max_payload", "1024", NULL}, {"--max_payload", "1024", NULL},
        {"--max_payload=1024", NULL},   {"-max_payload=1024", NULL},
        {"--max-payload", "1024", NULL}, {"-max-payload", "1024", NULL},
        {"--max-payload=1024", NULL},
    };
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        struct config config;
        ck_run(parse_args(&config, spellings[i]));
        ck_assert_msg(config.max_payload == 1024, "%s", spellings[i][0]);
    }
    struct config config;
    ck_run(parse(&config, "--ring-entries", "64", "--recv-buf-count=128", "--ping-max", "5"));
    ck_assert_int_eq(config.ring_entries, 64);
    ck_assert_int_eq(config.recv_buf_count, 128);
    ck_assert_int_eq(config.ping_max, 5);
    /* a value may contain '=' and '-': only the first '=' splits */
    ck_run(parse(&config, "--name=a=b-c", "--log", "-D"));
    ck_assert_str_eq(config.server_name, "a=b-c");
    /* the value after a flag that takes one is taken whatever it looks like, as Go does */
    ck_assert_str_eq(config.log_path, "-D");
    ck_assert(!config.debug);
}
END_TEST

/* Every alias of a flag sets the same field. */
START_TEST(test_flag_aliases)
{
    static const char *const hosts[] = {"-a", "--addr", "-net", "--net", "-addr"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        struct config config;
        ck_run(parse(&config, hosts[i], "127.0.0.1"));
        ck_assert_str_eq(config.host, "127.0.0.1");
    }
    static const char *const names[] = {"-n", "--name", "--server_name", "--server-name"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct config config;
        ck_run(parse(&config, names[i], "srv"));
        ck_assert_str_eq(config.server_name, "srv");
    }
    struct config config;
    ck_run(parse(&config, "-p", "5000", "-l", "/tmp/x.log"));
    ck_assert_int_eq(config.port, 5000);
    ck_assert_str_eq(config.log_path, "/tmp/x.log");
    ck_run(parse(&config, "--port=6000", "--log=/tmp/y.log", "--user", "u", "--pass", "p"));
    ck_assert_int_eq(config.port, 6000);
    ck_assert_str_eq(config.log_path, "/tmp/y.log");
    ck_assert_str_eq(config.user, "u");
    ck_assert_str_eq(config.pass, "p");
    ck_run(parse(&config, "--auth", "secret"));
    ck_assert_str_eq(config.token, "secret");
    /* the last of repeated flags wins */
    ck_run(parse(&config, "-p", "1", "--port", "2"));
    ck_assert_int_eq(config.port, 2);
}
END_TEST

/* -1 and 0 both ask for any free port. */
START_TEST(test_port_any)
{
    struct config config;
    ck_run(parse(&config, "-p", "-1"));
    ck_assert_int_eq(config.port, 0);
    ck_run(parse(&config, "--port=0"));
    ck_assert_int_eq(config.port, 0);
    ck_usage(parse(&config, "-p", "-2"), "want an integer from -1 to 65535");
    ck_usage(parse(&config, "-p", "65536"), "for -p:");
}
END_TEST

/* Leafnodes and the JetStream domain: their flags, defaults and refusals. */
START_TEST(test_leaf_and_domain_flags)
{
    struct config config;
    ck_run(parse_args(&config, (const char *const[]){NULL}));
    ck_assert_ptr_null(config.leaf_url);
    ck_assert_int_eq(config.leaf_port, 0);
    ck_assert_int_eq(config.leaf_reconnect_ns, 1000000000LL);
    ck_assert_ptr_null(config.js_domain);
    ck_run(parse(&config, "--leafnodes", "nats-leaf://h:7422,nats-leaf://g:7422",
                 "--leafnode_port", "-1", "--leafnode_host", "127.0.0.1",
                 "--leafnode_reconnect", "250ms", "--js_domain", "EDGE-1"));
    ck_assert_str_eq(config.leaf_url, "nats-leaf://h:7422,nats-leaf://g:7422");
    ck_assert_int_eq(config.leaf_port, -1);
    ck_assert_str_eq(config.leaf_host, "127.0.0.1");
    ck_assert_int_eq(config.leaf_reconnect_ns, 250000000LL);
    ck_assert_str_eq(config.js_domain, "EDGE-1");
    ck_usage(parse(&config, "--leafnode_port", "65536"), "ionats: invalid value");
    ck_usage(parse(&config, "--js_domain", "a.b"), "invalid domain name: \"a.b\"");
    ck_usage(parse(&config, "--js_domain", ""), "invalid domain name");
}
END_TEST

START_TEST(test_int_values)
{
    struct config config;
    ck_run(parse(&config, "--max_connections", "1", "--max_subscriptions", "0",
                 "--recv_buf_size", "4096", "--shards", "256", "--ring_entries", "8192",
                 "--max_closed_clients", "0"));
    ck_assert_int_eq(config.max_connections, 1);
    ck_assert_int_eq(config.max_closed_clients, 0);
    ck_assert_int_eq(config.recv_buf_size, 4096);
    ck_assert_int_eq(config.shards, 256);
    ck_assert_int_eq(config.ring_entries, 8192);
    static const char *const bad[][2] = {
        {"--max_payload", "0"},       {"--max_payload", "12abc"},
        {"--max_payload", ""},        {"--max_payload", "99999999999999999999"},
        {"--max_payload", " 1"},      {"--shards", "257"},
        {"--ring_entries", "8193"},   {"--max_control_line", "31"},
        {"--max_control_line", "1048577"}, {"--xshard_ring_size", "32768"},
        {"--recv_buf_count", "1"},    {"--ping_max", "0"},
        {"--max_closed_clients", "-1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_usage(parse(&config, bad[i][0], bad[i][1]), "ionats: invalid value");
    }
}
END_TEST

/* HTTP monitoring: -m/--http_port (0 off, -1 any free port), --http_host; -ms/--https_port
 * refused by name (no TLS yet), whatever its value. */
START_TEST(test_monitor_flags)
{
    struct config config;
    ck_run(parse_args(&config, (const char *const[]){NULL}));
    ck_assert_int_eq(config.http_port, 0);
    ck_assert_ptr_null(config.http_host);
    static const char *const spellings[][3] = {
        {"-m", "8222", NULL}, {"--http_port", "8222", NULL}, {"--http-port=8222", NULL, NULL},
        {"-m=8222", NULL, NULL}};
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
        ck_run(parse_args(&config, spellings[i]));
        ck_assert_msg(config.http_port == 8222, "%s", spellings[i][0]);
    }
    ck_run(parse(&config, "-m", "-1", "--http_host", "127.0.0.1"));
    ck_assert_int_eq(config.http_port, -1);
    ck_assert_str_eq(config.http_host, "127.0.0.1");
    ck_usage(parse(&config, "-m", "-2"), "want an integer from -1 to 65535");
    ck_usage(parse(&config, "-m", "65536"), "for -m:");
    ck_usage(parse(&config, "--http_host="), "--http_host is empty");
    ck_run(parse(&config, "-ms", "8443"));
    ck_assert_int_eq(config.https_port, 8443);
    ck_run(parse(&config, "--https_port=-1"));
    ck_assert_int_eq(config.https_port, -1);
    ck_usage(parse(&config, "--https_port"), "needs a value");
    ck_assert_int_eq(parse(&config, "--help"), CONFIG_EXIT_OK);
    ck_assert_ptr_nonnull(strstr(out_text, "-m, --http_port <port>"));
    ck_assert_ptr_nonnull(strstr(out_text, "(default: 0, off)"));
    ck_assert_ptr_nonnull(strstr(out_text, "--http_host <host>"));
    ck_assert_ptr_nonnull(strstr(out_text, "-ms, --https_port <port>"));
}
END_TEST

START_TEST(test_duration_flags)
{
    struct config config;
    ck_run(parse(&config, "--ping_interval", "250ms", "--auth_timeout=1.5s", "--write_deadline",
                 "3", "--stats", "0"));
    ck_assert_int_eq(config.ping_interval_ns, 250000000LL);
    ck_assert_int_eq(config.auth_timeout_ns, 1500000000LL);
    ck_assert_int_eq(config.write_deadline_ns, 3000000000LL);
    ck_assert_int_eq(config.stats_interval_ns, 0);
    ck_run(parse(&config, "--stats", "1m"));
    ck_assert_int_eq(config.stats_interval_ns, 60000000000LL);
    ck_usage(parse(&config, "--auth_timeout", "0"), "invalid duration \"0\" for --auth_timeout");
    ck_usage(parse(&config, "--ping_interval", "soon"), "invalid duration");
    ck_usage(parse(&config, "--write_deadline=-1s"), "invalid duration");
}
END_TEST

START_TEST(test_flag_errors)
{
    struct config config;
    ck_usage(parse(&config, "--max_payload"), "flag \"--max_payload\" needs a value <bytes>");
    ck_usage(parse(&config, "--nosuch"), "unknown flag \"--nosuch\"");
    ck_usage(parse(&config, "--nosuch=1"), "unknown flag \"--nosuch=1\"");
    ck_usage(parse(&config, "--"), "unknown flag \"--\"");
    ck_usage(parse(&config, "---port", "1"), "unknown flag");
    ck_usage(parse(&config, "--Port", "1"), "unknown flag"); /* names are case-sensitive */
    ck_usage(parse(&config, "foo"), "unexpected argument \"foo\"");
    ck_usage(parse(&config, "-"), "unexpected argument \"-\"");
    ck_usage(parse(&config, "-p", "1", "extra"), "unexpected argument \"extra\"");
}
END_TEST

START_TEST(test_help_version)
{
    struct config config;
    ck_assert_int_eq(parse(&config, "--help"), CONFIG_EXIT_OK);
    ck_assert_ptr_nonnull(strstr(out_text, "Usage: ionats [options]"));
    ck_assert_ptr_nonnull(strstr(out_text, "--max_control_line <bytes>"));
    ck_assert_ptr_nonnull(strstr(out_text, "-D, --debug"));
    ck_assert_str_eq(err_text, "");
    ck_assert_int_eq(parse(&config, "-h"), CONFIG_EXIT_OK);
    ck_assert_int_eq(parse(&config, "-v"), CONFIG_EXIT_OK);
    ck_assert_ptr_nonnull(strstr(out_text, "ionats: v"));
    ck_assert_int_eq(parse(&config, "--version=true"), CONFIG_EXIT_OK);
    /* help stops parsing: what follows is not checked */
    ck_assert_int_eq(parse(&config, "--help", "--nosuch"), CONFIG_EXIT_OK);
    /* switched off, they do nothing (Go's -h=false) */
    ck_run(parse(&config, "--help=false", "-v=0"));
    ck_assert_str_eq(out_text, "");
    ck_usage(parse(&config, "--help=please"), "invalid value \"please\" for -h");
}
END_TEST

/* ---- switches ------------------------------------------------------------------------- */

START_TEST(test_switch_bare)
{
    struct config config;
    ck_run(parse(&config, "-D"));
    ck_assert(config.debug);
    ck_assert(!config.trace);
    ck_run(parse(&config, "--trace"));
    ck_assert(!config.debug);
    ck_assert(config.trace);
    ck_run(parse(&config, "-debug", "-V"));
    ck_assert(config.debug);
    ck_assert(config.trace);
}
END_TEST

/* -flag=value sets a switch as Go's strconv.ParseBool reads the value. */
START_TEST(test_switch_values)
{
    static const char *const on[] = {"true", "1", "t", "T", "TRUE", "True"};
    static const char *const off[] = {"false", "0", "f", "F", "FALSE", "False"};
    static const char *const flags[] = {"-D", "--debug", "-debug", "-V", "--trace"};
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        bool is_debug = strstr(flags[f], "D") != NULL || strstr(flags[f], "debug") != NULL;
        for (size_t v = 0; v < sizeof on / sizeof on[0]; v++) {
            char arg[64];
            struct config config;
            snprintf(arg, sizeof arg, "%s=%s", flags[f], on[v]);
            ck_run(parse(&config, arg));
            ck_assert_msg(is_debug ? config.debug : config.trace, "%s", arg);
            ck_assert_msg(is_debug ? !config.trace : !config.debug, "%s", arg);
            snprintf(arg, sizeof arg, "%s=%s", flags[f], off[v]);
            /* on first, so that the value must turn it off again */
            ck_run(parse(&config, "-D", "-V", arg));
            ck_assert_msg(is_debug ? !config.debug : !config.trace, "%s", arg);
            ck_assert_msg(is_debug ? config.trace : config.debug, "%s", arg);
        }
    }
    struct config config;
    ck_run(parse(&config, "-D=false", "-D"));
    ck_assert(config.debug);
    ck_run(parse(&config, "-D", "--debug=0"));
    ck_assert(!config.debug);
}
END_TEST

START_TEST(test_switch_bad_values)
{
    static const char *const bad[] = {"-D=", "-D=yes", "-D=on", "-D=2", "--debug=tRUE",
                                      "-V=no", "--trace=truee", "-DV=off", "-D= true"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct config config;
        ck_usage(parse_args(&config, (const char *const[]){bad[i], NULL}), "ionats: invalid value");
        ck_assert_ptr_nonnull(strstr(err_text, "want true or false"));
    }
    struct config config;
    ck_usage(parse(&config, "--debug=maybe"), "invalid value \"maybe\" for -D");
    ck_usage(parse(&config, "-DV=x"), "invalid value \"x\" for -DV");
}
END_TEST

/* A switch never takes the next argument as its value (Go's flag package does not either):
 * "false" is then a stray argument. */
START_TEST(test_switch_next_argument_not_a_value)
{
    struct config config;
    ck_usage(parse(&config, "-D", "false"), "unexpected argument \"false\"");
    ck_run(parse(&config, "-D", "-p", "1"));
    ck_assert(config.debug);
    ck_assert_int_eq(config.port, 1);
}
END_TEST

/* -DV sets debug and trace after every other flag, whatever the order, as nats-server
 * applies it (including -DV=false). */
START_TEST(test_switch_debug_trace)
{
    struct config config;
    ck_run(parse(&config, "-DV"));
    ck_assert(config.debug && config.trace);
    ck_run(parse(&config, "--DV"));
    ck_assert(config.debug && config.trace);
    ck_run(parse(&config, "-DV=true"));
    ck_assert(config.debug && config.trace);
    ck_run(parse(&config, "-DV=false"));
    ck_assert(!config.debug && !config.trace);
    ck_run(parse(&config, "-D", "-V", "-DV=false"));
    ck_assert(!config.debug && !config.trace);
    ck_run(parse(&config, "-DV=false", "-D", "-V"));
    ck_assert(!config.debug && !config.trace);
    ck_run(parse(&config, "-DV", "-D=false"));
    ck_assert(config.debug && config.trace);
    ck_run(parse(&config, "-DV", "-DV=0"));
    ck_assert(!config.debug && !config.trace);
}
END_TEST

/* ---- relations between flags (config_check) ------------------------------------------- */

START_TEST(test_relation_powers_of_two)
{
    struct config config;
    ck_run(parse(&config, "--recv_buf_count", "2"));
    ck_run(parse(&config, "--recv_buf_count", "32768"));
    ck_usage(parse(&config, "--recv_buf_count", "48"), "--recv_buf_count 48 is not a power of two");
    ck_run(parse(&config, "--xshard_ring_size", "65536"));
    ck_run(parse(&config, "--xshard_ring_size", "1073741824"));
    ck_usage(parse(&config, "--xshard_ring_size", "98304"),
             "--xshard_ring_size 98304 is not a power of two");
}
END_TEST

/* The overflow budget: any byte count from 0 (pause at the first overflow) to 1 TiB. */
START_TEST(test_xshard_overflow_max)
{
    struct config config;
    ck_run(parse(&config, "--xshard_overflow_max", "0"));
    ck_assert_int_eq(config.xshard_overflow_max, 0);
    ck_run(parse(&config, "--xshard_overflow_max=1099511627776"));
    ck_assert_int_eq(config.xshard_overflow_max, CONFIG_XSHARD_OVERFLOW_MAX_MAX);
    ck_run(parse(&config, "-xshard_overflow_max", "1000"));
    ck_assert_int_eq(config.xshard_overflow_max, 1000);
    ck_usage(parse(&config, "--xshard_overflow_max", "-1"), "ionats: invalid value");
    ck_usage(parse(&config, "--xshard_overflow_max", "1099511627777"), "ionats: invalid value");
    ck_usage(parse(&config, "--xshard_overflow_max", "64MiB"), "ionats: invalid value");
    /* its default and range are in --help */
    ck_assert_int_eq(parse(&config, "--help"), CONFIG_EXIT_OK);
    const char *line = strstr(out_text, "--xshard_overflow_max <bytes>");
    ck_assert_ptr_nonnull(line);
    const char *line_end = strchr(line, '\n');
    ck_assert_ptr_nonnull(line_end);
    const char *text_default = strstr(line, "(default: 67108864)");
    ck_assert_ptr_nonnull(text_default);
    ck_assert(text_default < line_end); /* on the flag's own line */
}
END_TEST

START_TEST(test_relation_payload_pending)
{
    struct config config;
    ck_run(parse(&config, "--max_payload", "2048", "--max_pending", "2048"));
    ck_usage(parse(&config, "--max_payload", "2049", "--max_pending", "2048"),
             "--max_payload (2049) cannot be higher than --max_pending (2048)");
    /* the default max_pending bounds max_payload too */
    ck_usage(parse(&config, "--max_payload", "67108864", "--max_pending", "67108863"),
             "cannot be higher");
}
END_TEST

START_TEST(test_io_backend)
{
    struct config config;
    ck_run(parse(&config, "--io", "epoll"));
    ck_assert_str_eq(config.io, "epoll");
    ck_run(parse(&config, "--io=uring"));
    ck_assert_str_eq(config.io, "uring");
    ck_run(parse(&config, "-io", "auto"));
    ck_assert_str_eq(config.io, "auto");
    ck_usage(parse(&config, "--io", "poll"), "--io must be uring, epoll or auto, not \"poll\"");
    ck_usage(parse(&config, "--io", "EPOLL"), "--io must be");
}
END_TEST

START_TEST(test_relation_placement)
{
    struct config config;
    ck_run(parse(&config, "--placement", "acceptor"));
    ck_run(parse(&config, "--placement=reuseport"));
    ck_assert_str_eq(config.placement, "reuseport");
    ck_usage(parse(&config, "--placement", "round-robin"),
             "--placement must be acceptor or reuseport, not \"round-robin\"");
    ck_usage(parse(&config, "--placement", "Acceptor"), "--placement must be");
}
END_TEST

START_TEST(test_relation_cpus)
{
    struct config config;
    ck_run(parse(&config, "--cpus", "0,2-3"));
    ck_assert_str_eq(config.cpus, "0,2-3");
    ck_run(parse(&config, "--cpus", "0-255"));
    ck_usage(parse(&config, "--cpus", "0-256"), "(at most 256 CPUs)");
    ck_usage(parse(&config, "--cpus", "x"), "--cpus \"x\" is not a CPU list like 0,2-3");
    ck_usage(parse(&config, "--cpus", "0,"), "is not a CPU list");
}
END_TEST

START_TEST(test_relation_server_name)
{
    char name[258];
    memset(name, 'n', sizeof name - 1);
    name[257] = '\0';
    struct config config;
    ck_usage(parse(&config, "--server_name", name), "--server_name is longer than 256 bytes");
    name[256] = '\0';
    ck_run(parse(&config, "--server_name", name));
}
END_TEST

START_TEST(test_relation_auth)
{
    struct config config;
    ck_run(parse(&config, "--user", "u", "--pass", "p"));
    ck_run(parse(&config, "--auth", "t"));
    ck_usage(parse(&config, "--user", "u"), "--user and --pass must be given together");
    ck_usage(parse(&config, "--pass", "p"), "--user and --pass must be given together");
    ck_usage(parse(&config, "--user", "u", "--pass", "p", "--auth", "t"),
             "--auth cannot be combined with --user/--pass");
}
END_TEST

/* The longest SUB's cross-shard interest record must fit a ring record: half the ring less
 * the record header, for the xshard_interest header, subject and queue. */
START_TEST(test_relation_control_line_ring)
{
    /* 65536 / 2 - 8 (record header) - 16 (struct xshard_interest) */
    enum { LINE_MAX_SMALLEST_RING = 32744 };
    ck_assert_int_eq(LINE_MAX_SMALLEST_RING,
                     CONFIG_XSHARD_RING_SIZE_MIN / 2 - SPSC_HEADER_SIZE -
                         (int)sizeof(struct xshard_interest));
    struct config config;
    ck_run(parse(&config, "--shards", "2", "--xshard_ring_size", "65536", "--max_control_line",
                 "32744"));
    enum config_result result = parse(&config, "--shards", "2", "--xshard_ring_size", "65536",
                                      "--max_control_line", "32745");
    ck_usage(result, "--max_control_line 32745 does not fit --xshard_ring_size 65536");
    ck_assert_ptr_nonnull(strstr(err_text, "raise --xshard_ring_size to 131072"));
    ck_assert_ptr_nonnull(strstr(err_text, "lower --max_control_line to 32744"));
    /* the order of the flags does not matter */
    ck_usage(parse(&config, "--max_control_line", "32745", "--xshard_ring_size", "65536"),
             "does not fit");
    /* 0 shards (one per CPU) is checked as several */
    ck_usage(parse(&config, "--shards", "0", "--max_control_line", "1048576"),
             "--max_control_line 1048576 does not fit --xshard_ring_size 1048576");
    ck_assert_ptr_nonnull(strstr(err_text, "raise --xshard_ring_size to 4194304"));
    /* the default ring takes lines up to 512 KiB less 24 bytes */
    ck_run(parse(&config, "--shards", "8", "--max_control_line", "524264"));
    ck_usage(parse(&config, "--shards", "8", "--max_control_line", "524265"), "does not fit");
    ck_run(parse(&config, "--shards", "2", "--max_control_line", "1048576",
                 "--xshard_ring_size", "4194304"));
    /* one shard has no rings */
    ck_run(parse(&config, "--shards", "1", "--max_control_line", "1048576",
                 "--xshard_ring_size", "65536"));
    /* the defaults fit the smallest ring */
    ck_run(parse(&config, "--shards", "2", "--xshard_ring_size", "65536"));
    ck_assert_int_eq(config.max_control_line, CONFIG_MAX_CONTROL_LINE_DEFAULT);
}
END_TEST

/* What config_check lets through, a real ring takes: for each ring size, the largest
 * interest record of the longest accepted line is reserved (spsc_reserve asserts it fits,
 * and would abort this test otherwise), and one line longer is refused. */
START_TEST(test_relation_matches_spsc)
{
    static const int64_t ring_sizes[] = {CONFIG_XSHARD_RING_SIZE_MIN, 128 * 1024, 1024 * 1024};
    for (size_t i = 0; i < sizeof ring_sizes / sizeof ring_sizes[0]; i++) {
        int64_t size = ring_sizes[i];
        int64_t line_max = -1;
        /* the longest accepted line, found by parsing, not by the formula */
        int64_t low = 32;
        int64_t high = CONFIG_MAX_CONTROL_LINE_MAX;
        while (low <= high) {
            int64_t mid = low + (high - low) / 2;
            char ring_arg[64];
            char line_arg[64];
            snprintf(ring_arg, sizeof ring_arg, "--xshard_ring_size=%lld", (long long)size);
            snprintf(line_arg, sizeof line_arg, "--max_control_line=%lld", (long long)mid);
            struct config config;
            if (parse(&config, "--shards", "4", ring_arg, line_arg) == CONFIG_RUN) {
                line_max = mid;
                low = mid + 1;
            } else {
                high = mid - 1;
            }
        }
        ck_assert_int_gt(line_max, 0);
        void *bytes = aligned_alloc(SPSC_CACHE_LINE_PAIR, (size_t)size);
        ck_assert_ptr_nonnull(bytes);
        struct spsc ring;
        spsc_init(&ring, bytes, (uint64_t)size);
        uint32_t record_length = (uint32_t)(sizeof(struct xshard_interest) + (size_t)line_max);
        ck_assert_uint_eq(record_length, spsc_body_max(&ring));
        ck_assert_ptr_nonnull(spsc_reserve(&ring, XSHARD_INTEREST, record_length));
        spsc_commit(&ring);
        free(bytes);
    }
}
END_TEST

/* ---- start-up: a shard whose listener fails ------------------------------------------- */

enum { STARTUP_WAIT_MS = 5000 };

struct broker_run {
    int status;   /* exit code, or -1 when it died of a signal */
    bool stopped; /* it got SIGTERM: still running after the wait, or `stop_when` seen */
    char output[TEXT_SIZE];
};

/* Runs ionats with `args`, listen_fail_shim preloaded and `fail_at` as the listen() call
 * to fail (NULL: none). It is stopped with SIGTERM once its output shows `stop_when` (not
 * NULL: its signals are blocked by then, so the stop is a clean one), or when it still runs
 * after `wait_ms`. */
static void broker_run(const char *const *args, const char *fail_at, long wait_ms,
                       const char *stop_when, struct broker_run *run)
{
    const char *shim = getenv("IONATS_LISTEN_FAIL_SHIM");
    ck_assert_msg(getenv("IONATS_BIN") != NULL && shim != NULL, "run through meson test");
    static char preload[PATH_MAX + 16];
    static char fail_setting[64];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", shim);
    snprintf(fail_setting, sizeof fail_setting, "IONATS_TEST_LISTEN_FAIL_AT=%s",
             fail_at != NULL ? fail_at : "0");
    const char *const env[] = {preload, fail_setting, NULL};
    struct test_binary_run result;
    int rc = test_binary_run(args, env, wait_ms, stop_when, run->output, sizeof run->output,
                             &result);
    ck_assert_msg(rc == 0, "ionats did not stop on SIGTERM:\n%s", run->output);
    run->status = result.status;
    run->stopped = result.stopped;
}

/* Shard 1's own listener fails with EPERM (-EPERM == -1, "no listener"): the broker must
 * say so and exit 1, not run with a shard that never accepts. */
START_TEST(test_startup_shard_listener_eperm)
{
    static const char *const args[] = {"-a", "127.0.0.1", "-p", "0", "--shards", "2",
                                       "--placement", "reuseport", NULL};
    static struct broker_run run;
    broker_run(args, "2", STARTUP_WAIT_MS, NULL, &run);
    ck_assert_msg(!run.stopped, "ionats ran without shard 1's listener:\n%s", run.output);
    ck_assert_int_eq(run.status, 1);
    ck_assert_msg(strstr(run.output, "shard 1 has no listener: Operation not permitted"),
                  "%s", run.output);
    ck_assert_msg(strstr(run.output, " ready:") == NULL, "%s", run.output);
}
END_TEST

/* The same with the shim inert: every shard listens, the broker runs until SIGTERM. */
START_TEST(test_startup_shard_listeners)
{
    static const char *const args[] = {"-a", "127.0.0.1", "-p", "0", "--shards", "2",
                                       "--placement", "reuseport", NULL};
    static struct broker_run run;
    broker_run(args, NULL, STARTUP_WAIT_MS, " ready:", &run);
    ck_assert_msg(run.stopped, "ionats exited by itself:\n%s", run.output);
    ck_assert_int_eq(run.status, 0);
    ck_assert_msg(strstr(run.output, " ready: 2 shard(s), reuseport placement"), "%s",
                  run.output);
}
END_TEST

/* The listener that server_init opens fails: exit 1 before any shard starts. */
START_TEST(test_startup_first_listener_eperm)
{
    static const char *const args[] = {"-a", "127.0.0.1", "-p", "0", "--shards", "2", NULL};
    static struct broker_run run;
    broker_run(args, "1", STARTUP_WAIT_MS, NULL, &run);
    ck_assert_msg(!run.stopped, "%s", run.output);
    ck_assert_int_eq(run.status, 1);
    ck_assert_msg(strstr(run.output, "cannot listen on 127.0.0.1:0: Operation not permitted"),
                  "%s", run.output);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *suite = suite_create("config");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, test_duration_units);
    tcase_add_test(tc, test_duration_bare_seconds);
    tcase_add_test(tc, test_duration_invalid);
    tcase_add_test(tc, test_duration_limit);
    tcase_add_test(tc, test_cpus_lists);
    tcase_add_test(tc, test_cpus_invalid);
    tcase_add_test(tc, test_cpus_capacity);
    suite_add_tcase(suite, tc);

    tc = tcase_create("flags");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_flag_spellings);
    tcase_add_test(tc, test_flag_aliases);
    tcase_add_test(tc, test_port_any);
    tcase_add_test(tc, test_leaf_and_domain_flags);
    tcase_add_test(tc, test_int_values);
    tcase_add_test(tc, test_monitor_flags);
    tcase_add_test(tc, test_duration_flags);
    tcase_add_test(tc, test_flag_errors);
    tcase_add_test(tc, test_help_version);
    suite_add_tcase(suite, tc);

    tc = tcase_create("switches");
    tcase_add_test(tc, test_switch_bare);
    tcase_add_test(tc, test_switch_values);
    tcase_add_test(tc, test_switch_bad_values);
    tcase_add_test(tc, test_switch_next_argument_not_a_value);
    tcase_add_test(tc, test_switch_debug_trace);
    suite_add_tcase(suite, tc);

    tc = tcase_create("relations");
    tcase_add_test(tc, test_relation_powers_of_two);
    tcase_add_test(tc, test_xshard_overflow_max);
    tcase_add_test(tc, test_relation_payload_pending);
    tcase_add_test(tc, test_relation_placement);
    tcase_add_test(tc, test_io_backend);
    tcase_add_test(tc, test_relation_cpus);
    tcase_add_test(tc, test_relation_server_name);
    tcase_add_test(tc, test_relation_auth);
    tcase_add_test(tc, test_relation_control_line_ring);
    tcase_add_test(tc, test_relation_matches_spsc);
    suite_add_tcase(suite, tc);

    tc = tcase_create("startup");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_startup_shard_listener_eperm);
    tcase_add_test(tc, test_startup_shard_listeners);
    tcase_add_test(tc, test_startup_first_listener_eperm);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(config_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
