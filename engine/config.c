/* Command-line parsing: see config.h.
 *
 * One table (config_flags.c) lists every flag with its names, its kind and its help line,
 * so --help, parsing and defaults cannot drift apart. getopt_long is not used: it does not accept
 * nats-server's single-dash long flags (`-max_payload 1024`, `-DV`). The text of a value
 * (a size, a duration, a CPU list) is read by config_value.c; a configuration file's keys
 * come through config_flag_set from config_file.c. Main thread only, before the shards
 * start. */
#include "engine/config.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/spsc.h"
#include "engine/auth.h"
#include "engine/xshard_record.h"
#include "proto/conf.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef IONATS_VERSION
#define IONATS_VERSION "0.0.0"
#endif


/* Where a flag's value comes from, for its errors: the command line (where "", label
 * "--max_payload") or a file's key (where "file:line:col: ", label "max_payload"). */
struct flag_source {
    const struct flag *flag;
    const char *where;
    const char *label;
};

#define FIELD(name) offsetof(struct config, name)

/* The largest record body spsc_reserve accepts in a ring of `size` bytes. test_config
 * reserves a record of exactly the size config_check lets through in a real ring. */
#define XSHARD_RECORD_BODY_MAX(ring_size) SPSC_BODY_MAX(ring_size)

/* The largest XSHARD_INTEREST body a SUB can cause (xshard_announce): the header, then the
 * subject and the queue. Both sit in the SUB's arguments, which the parser bounds by
 * max_control_line (and which also hold two blanks and the sid), so subject + queue is
 * less than max_control_line. */
#define XSHARD_INTEREST_BODY_MAX(max_control_line)                                          \
    ((int64_t)sizeof(struct xshard_interest) + (int64_t)(max_control_line))

/* The bytes that half a ring must hold beyond max_control_line, for the help text. */
STATIC_ASSERT(sizeof(struct xshard_interest) + SPSC_HEADER_SIZE == 24,
              "--max_control_line's help says: half --xshard_ring_size less 24");
STATIC_ASSERT(XSHARD_INTEREST_BODY_MAX(CONFIG_MAX_CONTROL_LINE_DEFAULT) <=
                  XSHARD_RECORD_BODY_MAX(CONFIG_XSHARD_RING_SIZE_MIN),
              "the default --max_control_line fits every allowed --xshard_ring_size");
STATIC_ASSERT(XSHARD_INTEREST_BODY_MAX(CONFIG_MAX_CONTROL_LINE_MAX) <=
                  XSHARD_RECORD_BODY_MAX(CONFIG_XSHARD_RING_SIZE_MAX),
              "every allowed --max_control_line fits some allowed --xshard_ring_size");
STATIC_ASSERT(XSHARD_INLINE_BYTES_MAX <= XSHARD_RECORD_BODY_MAX(CONFIG_XSHARD_RING_SIZE_MIN),
              "an inline publish fits every allowed --xshard_ring_size");
STATIC_ASSERT((CONFIG_XSHARD_RING_SIZE_MIN & (CONFIG_XSHARD_RING_SIZE_MIN - 1)) == 0,
              "the smallest ring is a power of two");

static void config_defaults(struct config *config)
{
    memset(config, 0, sizeof *config);
    config->host = "0.0.0.0";
    config->logtime = true;
    config->port = CONFIG_PORT_DEFAULT;
    config->max_payload = CONFIG_MAX_PAYLOAD_DEFAULT;
    config->max_control_line = CONFIG_MAX_CONTROL_LINE_DEFAULT;
    config->max_pending = CONFIG_MAX_PENDING_DEFAULT;
    config->max_connections = CONFIG_MAX_CONNECTIONS_DEFAULT;
    config->max_closed_clients = 10000; /* nats-server's DEFAULT_MAX_CLOSED_CLIENTS */
    config->ping_interval_ns = CONFIG_PING_INTERVAL_NS_DEFAULT;
    config->ping_max = CONFIG_PING_MAX_DEFAULT;
    config->auth_timeout_ns = CONFIG_AUTH_TIMEOUT_NS_DEFAULT;
    config->tls_timeout_ns = CONFIG_TLS_TIMEOUT_NS_DEFAULT;
    config->leaf_reconnect_ns = CONFIG_LEAF_RECONNECT_NS_DEFAULT;
    config->lame_duck_duration_ns = CONFIG_LAME_DUCK_DURATION_NS_DEFAULT;
    config->lame_duck_grace_period_ns = CONFIG_LAME_DUCK_GRACE_NS_DEFAULT;
    config->write_deadline_ns = CONFIG_WRITE_DEADLINE_NS_DEFAULT;
    config->recv_buf_size = CONFIG_RECV_BUF_SIZE_DEFAULT;
    config->recv_buf_count = CONFIG_RECV_BUF_COUNT_DEFAULT;
    config->ring_entries = CONFIG_RING_ENTRIES_DEFAULT;
    config->placement = "acceptor";
    config->io = "auto";
    config->xshard_ring_size = CONFIG_XSHARD_RING_SIZE_DEFAULT;
    config->xshard_overflow_max = CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT;
    config->store_dir = CONFIG_STORE_DIR_DEFAULT;
    config->sync = "always";
    config->sync_interval_ns = CONFIG_SYNC_INTERVAL_NS_DEFAULT;
    config->segment_size = CONFIG_SEGMENT_SIZE_DEFAULT;
    config->streaming_store = "FILE";
    config->streaming_max_channels = CONFIG_STREAMING_MAX_CHANNELS_DEFAULT;
    config->streaming_max_subs = CONFIG_STREAMING_MAX_SUBS_DEFAULT;
    config->streaming_max_msgs = CONFIG_STREAMING_MAX_MSGS_DEFAULT;
    config->streaming_max_bytes = CONFIG_STREAMING_MAX_BYTES_DEFAULT;
    config->streaming_hb_interval_ns = CONFIG_STREAMING_HB_INTERVAL_NS_DEFAULT;
    config->streaming_hb_timeout_ns = CONFIG_STREAMING_HB_TIMEOUT_NS_DEFAULT;
    config->streaming_hb_fail_count = CONFIG_STREAMING_HB_FAIL_COUNT_DEFAULT;
}

/* How --help and errors spell a flag: one dash for the one- and two-letter ones (-D, -DV). */
static const char *flag_dashes(const char *name)
{
    return strlen(name) <= 2 ? "-" : "--";
}

static void config_usage(FILE *out)
{
    fprintf(out, "\nUsage: ionats [options]\n\nOptions (each also as -flag, --flag value or "
                 "--flag=value):\n");
    for (size_t i = 0; i < config_flag_count; i++) {
        char spelled[96] = "";
        size_t used = 0;
        for (int n = 0; n < 4 && config_flags[i].names[n] != NULL; n++) {
            int w = snprintf(spelled + used, sizeof spelled - used, "%s%s%s", n ? ", " : "",
                             flag_dashes(config_flags[i].names[n]), config_flags[i].names[n]);
            used += w > 0 ? (size_t)w : 0;
        }
        if (config_flags[i].value_name != NULL) {
            snprintf(spelled + used, sizeof spelled - used, " %s", config_flags[i].value_name);
        }
        fprintf(out, "    %-36s %s\n", spelled, config_flags[i].help);
    }
    fprintf(out, "\nDurations: 250ms, 2s, 1.5m, 1h, or a number of seconds.\n"
                 "Switches are on when given; -D=false (or 0, f) turns one off.\n\n"
                 "JetStream settings accepted but not yet honoured (see README): stream "
                 "compression s2,\nplacement, no_erase false; Nats-TTL never under max_age. "
                 "Refused: durable mirror and source consumers,\nfast batches, "
                 "message schedules.\n\n");
}

/* True when `given` spells `name`, a '-' in `given` standing for '_' (--ring-entries). */
static bool flag_name_equals(const char *name, const char *given, size_t length)
{
    if (strlen(name) != length) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        char c = given[i] == '-' ? '_' : given[i];
        if (c != name[i]) {
            return false;
        }
    }
    return true;
}

static const struct flag *flag_find(const char *name, size_t length)
{
    for (size_t i = 0; i < config_flag_count; i++) {
        for (int n = 0; n < 4 && config_flags[i].names[n] != NULL; n++) {
            if (flag_name_equals(config_flags[i].names[n], name, length)) {
                return &config_flags[i];
            }
        }
    }
    return NULL;
}

/* Reads a switch's value as Go's strconv.ParseBool does, so `-D=false` behaves as it does
 * with nats-server; a bare switch (`value` NULL) is on. Accepts 1, t, T, true, TRUE, True
 * and their 0/f/false opposites; anything else (the empty string too) is -EINVAL, said
 * on `err`. */
static int flag_switch_parse(const struct flag_source *source, const char *value, bool *on,
                             FILE *err)
{
    static const char *const spellings_true[] = {"1", "t", "T", "true", "TRUE", "True"};
    static const char *const spellings_false[] = {"0", "f", "F", "false", "FALSE", "False"};
    enum { SPELLING_COUNT = sizeof spellings_true / sizeof spellings_true[0] };
    STATIC_ASSERT(sizeof spellings_false == sizeof spellings_true, "spellings in pairs");
    if (value == NULL) {
        *on = true;
        return 0;
    }
    for (size_t i = 0; i < SPELLING_COUNT; i++) {
        if (strcmp(value, spellings_true[i]) == 0) {
            *on = true;
            return 0;
        }
        if (strcmp(value, spellings_false[i]) == 0) {
            *on = false;
            return 0;
        }
    }
    fprintf(err, "ionats: %sinvalid value \"%s\" for %s: want true or false (or 1, 0, t, f)\n",
            source->where, value, source->label);
    return -EINVAL;
}

/* Reads a decimal integer in the flag's range; a leading blank is refused, as Go's
 * strconv.ParseInt refuses it (strtoll would skip it). */
static int flag_set_int(const struct flag_source *source, const char *value, int64_t *target,
                        FILE *err)
{
    ASSERT(value != NULL); /* flags of kind FLAG_INT always take a value */
    const struct flag *flag = source->flag;
    char *end = NULL;
    errno = 0;
    long long parsed = strtoll(value, &end, 10);
    bool blank = value[0] == ' ' || (value[0] >= '\t' && value[0] <= '\r');
    if (blank || errno != 0 || end == value || *end != '\0' || parsed < flag->min ||
        parsed > flag->max) {
        fprintf(err, "ionats: %sinvalid value \"%s\" for %s: want an integer from %lld to %lld\n",
                source->where, value, source->label, (long long)flag->min,
                (long long)flag->max);
        return -EINVAL;
    }
    *target = parsed;
    return 0;
}

/* Sets a flag from `value`. */
static int flag_apply(struct config *config, const struct flag_source *source, const char *value,
                      FILE *err)
{
    const struct flag *flag = source->flag;
    const char *where = source->where;
    char reason[128]; /* Go's reason for a file's duration, unused: the error below says it */
    char *field = (char *)config + flag->offset;
    int64_t number = 0;
    int rc = 0;
    switch (flag->kind) {
    case FLAG_STRING:
        memcpy(field, &value, sizeof value);
        return 0;
    case FLAG_SWITCH:
        return flag_switch_parse(source, value, (bool *)field, err);
    case FLAG_INT:
        rc = flag_set_int(source, value, &number, err);
        break;
    case FLAG_SIZE:
        rc = config_size_parse(value, &number);
        if (rc != 0 || number < flag->min || number > flag->max) {
            fprintf(err, "ionats: %sinvalid size \"%s\" for %s (e.g. 512MB, 10GB)\n", where,
                    value, source->label);
            return -EINVAL;
        }
        break;
    case FLAG_DURATION: /* from a file also in Go's syntax ("1m30s"), as nats-server reads it */
        rc = where[0] != '\0' && conf_duration_parse(value, &number, reason, sizeof reason) == 0
                 ? 0
                 : config_duration_parse(value, &number);
        if (rc != 0 || number < flag->min) {
            fprintf(err, "ionats: %sinvalid duration \"%s\" for %s (e.g. 250ms, 2s, 2m)\n",
                    where, value, source->label);
            return -EINVAL;
        }
        break;
    }
    if (rc != 0) {
        return rc;
    }
    if (flag->offset == FIELD(port)) {
        config->port = number < 0 ? 0 : (int)number;
    } else {
        memcpy(field, &number, sizeof number);
    }
    return 0;
}

/* A file may set a flag by any of its names but the one- and two-letter ones, which are
 * spelled with one dash (-p, -sd, -DV); a flag with no other name (--io) by that one. */
static bool flag_file_name(const struct flag *flag, const char *name)
{
    for (int n = 0; n < 4 && flag->names[n] != NULL; n++) {
        bool only = flag->names[1] == NULL;
        if (strcmp(flag->names[n], name) == 0 && (strlen(name) > 2 || only)) {
            return true;
        }
    }
    return false;
}

int config_flag_set(struct config *config, const char *name, const char *value,
                    const char *where, FILE *err)
{
    ASSERT(where[0] != '\0'); /* only a file's keys come here */
    for (size_t i = 0; i < config_flag_count; i++) {
        bool command = config_flags[i].offset == FIELD(config_path) ||
                       config_flags[i].offset == FIELD(config_test) || config_flags[i].offset == FIELD(signal);
        if (config_flags[i].action == ACTION_SET && !command && flag_file_name(&config_flags[i], name)) {
            struct flag_source source = {&config_flags[i], where, name};
            return value == NULL ? 0 : flag_apply(config, &source, value, err);
        }
    }
    return -ENOENT;
}

static enum config_result config_check(const struct config *config, FILE *err)
{
    if ((config->recv_buf_count & (config->recv_buf_count - 1)) != 0) {
        fprintf(err, "ionats: --recv_buf_count %lld is not a power of two\n",
                (long long)config->recv_buf_count);
        return CONFIG_EXIT_USAGE;
    }
    if (config->max_payload > config->max_pending) {
        fprintf(err, "ionats: --max_payload (%lld) cannot be higher than --max_pending (%lld)\n",
                (long long)config->max_payload, (long long)config->max_pending);
        return CONFIG_EXIT_USAGE;
    }
    if (strcmp(config->placement, "acceptor") != 0 && strcmp(config->placement, "reuseport") != 0) {
        fprintf(err, "ionats: --placement must be acceptor or reuseport, not \"%s\"\n",
                config->placement);
        return CONFIG_EXIT_USAGE;
    }
    if (strcmp(config->io, "uring") != 0 && strcmp(config->io, "epoll") != 0 &&
        strcmp(config->io, "auto") != 0) {
        fprintf(err, "ionats: --io must be uring, epoll or auto, not \"%s\"\n", config->io);
        return CONFIG_EXIT_USAGE;
    }
    if ((config->xshard_ring_size & (config->xshard_ring_size - 1)) != 0) {
        fprintf(err, "ionats: --xshard_ring_size %lld is not a power of two\n",
                (long long)config->xshard_ring_size);
        return CONFIG_EXIT_USAGE;
    }
    /* Each SUB that is a shard's first for its subject and queue is announced to every other
     * shard as one XSHARD_INTEREST record, and spsc_reserve asserts that a record fits half
     * the ring: a line the ring cannot take would abort every shard at the first long SUB.
     * One shard has no rings; 0 (one per CPU) is checked too, so that a configuration does
     * not start on one machine and fail on the next. */
    int64_t interest_max = XSHARD_INTEREST_BODY_MAX(config->max_control_line);
    if (config->shards != 1 && interest_max > XSHARD_RECORD_BODY_MAX(config->xshard_ring_size)) {
        int64_t ring_size = config->xshard_ring_size;
        while (interest_max > XSHARD_RECORD_BODY_MAX(ring_size)) {
            ring_size *= 2; /* ends by CONFIG_XSHARD_RING_SIZE_MAX: see the STATIC_ASSERTs */
        }
        ASSERT(ring_size <= CONFIG_XSHARD_RING_SIZE_MAX);
        int64_t line_max = XSHARD_RECORD_BODY_MAX(config->xshard_ring_size) -
                           (int64_t)sizeof(struct xshard_interest);
        fprintf(err,
                "ionats: --max_control_line %lld does not fit --xshard_ring_size %lld: a SUB's "
                "cross-shard record must fit half a ring; raise --xshard_ring_size to %lld or "
                "lower --max_control_line to %lld (or run one shard)\n",
                (long long)config->max_control_line, (long long)config->xshard_ring_size,
                (long long)ring_size, (long long)line_max);
        return CONFIG_EXIT_USAGE;
    }
    int cpus[CONFIG_SHARDS_MAX];
    if (config->cpus != NULL && config_cpus_parse(config->cpus, cpus, CONFIG_SHARDS_MAX) < 0) {
        fprintf(err, "ionats: --cpus \"%s\" is not a CPU list like 0,2-3 (at most %d CPUs)\n",
                config->cpus, CONFIG_SHARDS_MAX);
        return CONFIG_EXIT_USAGE;
    }
    enum { SERVER_NAME_LENGTH_MAX = 256 };
    if (config->server_name != NULL && strlen(config->server_name) > SERVER_NAME_LENGTH_MAX) {
        fprintf(err, "ionats: --server_name is longer than %d bytes\n", SERVER_NAME_LENGTH_MAX);
        return CONFIG_EXIT_USAGE;
    }
    if (strcmp(config->sync, "always") != 0 && strcmp(config->sync, "interval") != 0 &&
        strcmp(config->sync, "none") != 0) {
        fprintf(err, "ionats: --sync must be always, interval or none, not \"%s\"\n",
                config->sync);
        return CONFIG_EXIT_USAGE;
    }
    if (config->http_host != NULL && config->http_host[0] == '\0') {
        fprintf(err, "ionats: --http_host is empty\n");
        return CONFIG_EXIT_USAGE;
    }
    enum { JS_DOMAIN_LENGTH_MAX = 64 };
    if (config->js_domain != NULL &&
        (config->js_domain[0] == '\0' || strlen(config->js_domain) > JS_DOMAIN_LENGTH_MAX ||
         strspn(config->js_domain, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789_-") != strlen(config->js_domain))) {
        fprintf(err, "ionats: --js_domain: invalid domain name: \"%s\" (one token of letters, "
                     "digits, '_' and '-')\n",
                config->js_domain);
        return CONFIG_EXIT_USAGE;
    }
    if (config->store_dir[0] == '\0') {
        fprintf(err, "ionats: --store_dir is empty\n");
        return CONFIG_EXIT_USAGE;
    }
    if (strcasecmp(config->streaming_store, "FILE") != 0 &&
        strcasecmp(config->streaming_store, "MEMORY") != 0) {
        fprintf(err, "ionats: --store must be FILE or MEMORY, not \"%s\"\n",
                config->streaming_store);
        return CONFIG_EXIT_USAGE;
    }
    if (config->streaming_cluster_id != NULL && !config_streaming_id_valid(
                                                    config->streaming_cluster_id)) {
        fprintf(err, "ionats: invalid cluster id \"%s\": only alphanumeric and `-` or `_` "
                "characters allowed\n", config->streaming_cluster_id);
        return CONFIG_EXIT_USAGE;
    }
    if ((config->user == NULL) != (config->pass == NULL)) {
        fprintf(err, "ionats: --user and --pass must be given together\n");
        return CONFIG_EXIT_USAGE;
    }
    if (config->user != NULL && config->token != NULL) {
        fprintf(err, "ionats: --auth cannot be combined with --user/--pass\n");
        return CONFIG_EXIT_USAGE;
    }
    bool tls = config->tls || config->tls_verify;
    if (tls && (config->tls_cert == NULL || config->tls_key == NULL)) {
        fprintf(err, "ionats: TLS needs a certificate and its key (--tlscert and --tlskey)\n");
        return CONFIG_EXIT_USAGE;
    }
    return CONFIG_RUN;
}

/* Applies the flags of argv to `config` in order, -DV after every other flag, whatever the
 * order, as nats-server applies it: `-DV=false -D` is all off, `-DV -D=false` all on.
 * CONFIG_RUN, or how the run ends (--help, --version, a bad flag). */
static enum config_result flags_apply(struct config *config, int argc, char **argv, FILE *out,
                                      FILE *err)
{
    bool debug_trace_given = false;
    bool debug_trace = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            fprintf(err, "ionats: unexpected argument \"%s\" (see --help)\n", arg);
            return CONFIG_EXIT_USAGE;
        }
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        const char *equals = strchr(name, '=');
        size_t name_length = equals ? (size_t)(equals - name) : strlen(name);
        const struct flag *flag = flag_find(name, name_length);
        if (flag == NULL) {
            fprintf(err, "ionats: unknown flag \"%s\" (see --help)\n", arg);
            return CONFIG_EXIT_USAGE;
        }
        const char *value = equals ? equals + 1 : NULL;
        if (flag->kind != FLAG_SWITCH && value == NULL) {
            if (i + 1 >= argc) {
                fprintf(err, "ionats: flag \"%s\" needs a value %s\n", arg, flag->value_name);
                return CONFIG_EXIT_USAGE;
            }
            value = argv[++i];
        }
        if (flag->action == ACTION_REFUSE) {
            fprintf(err, "ionats: %s%s/--%s is refused (%s)\n",
                    flag_dashes(flag->names[0]), flag->names[0], flag->names[1], flag->help);
            return CONFIG_EXIT_USAGE;
        }
        char label[48];
        snprintf(label, sizeof label, "%s%s", flag_dashes(flag->names[0]), flag->names[0]);
        struct flag_source source = {flag, "", label};
        bool on = true;
        if (flag->action != ACTION_SET && flag_switch_parse(&source, value, &on, err) != 0) {
            return CONFIG_EXIT_USAGE;
        }
        switch (flag->action) {
        case ACTION_HELP:
            if (on) {
                config_usage(out);
                return CONFIG_EXIT_OK;
            }
            continue;
        case ACTION_VERSION:
            if (on) {
                fprintf(out, "ionats: v%s\n", IONATS_VERSION);
                return CONFIG_EXIT_OK;
            }
            continue;
        case ACTION_DEBUG_TRACE:
            debug_trace_given = true;
            debug_trace = on;
            continue;
        case ACTION_SET:
            break;
        case ACTION_REFUSE:
            UNREACHABLE(); /* refused above */
        }
        if (flag_apply(config, &source, value, err) != 0) {
            return CONFIG_EXIT_USAGE;
        }
    }
    if (debug_trace_given) {
        config->debug = debug_trace;
        config->trace = debug_trace;
    }
    return CONFIG_RUN;
}

/* The flags; with -c, the file over the defaults and the flags again over the file, as
 * nats-server does (a flag given wins even when it says the default). With -t a warning
 * fails the check, as it fails nats-server's. */
static enum config_result config_parse_all(struct config *config, int argc, char **argv,
                                           FILE *out, FILE *err)
{
    config_defaults(config);
    enum config_result result = flags_apply(config, argc, argv, out, err);
    const char *path = config->config_path;
    bool test = config->config_test;
    int warnings = 0;
    if (result != CONFIG_RUN) {
        return result;
    }
    if (config->signal != NULL && config->signal[0] != '\0') { /* "" is none, as there */
        return CONFIG_SIGNAL; /* before the file is read, as nats-server sends it */
    }
    if (path != NULL) {
        config_defaults(config);
        if (config_file_apply(config, path, err, &warnings) != 0 || (test && warnings > 0)) {
            return CONFIG_EXIT_ERROR;
        }
        result = flags_apply(config, argc, argv, out, err);
        if (result != CONFIG_RUN) {
            return result;
        }
    } else if (test) {
        fprintf(err, "ionats: must specify [-c, --config] option to check configuration file "
                     "syntax\n");
        return CONFIG_EXIT_ERROR;
    }
    if (config->streaming_debug_trace) {
        config->streaming_debug = true;
        config->streaming_trace = true;
    }
    if (config->streaming_cluster_id != NULL) {
        config->jetstream = true; /* channels are streams */
    }
    result = config_check(config, err);
    if (!config->config_test) {
        return result;
    }
    if (result != CONFIG_RUN) {
        return CONFIG_EXIT_ERROR;
    }
    fprintf(err, "ionats: configuration file %s is valid\n", config->config_path);
    return CONFIG_EXIT_OK;
}

enum config_result config_parse(struct config *config, int argc, char **argv, FILE *out,
                                FILE *err)
{
    enum config_result result = config_parse_all(config, argc, argv, out, err);
    if (result != CONFIG_RUN) {
        config_release(config); /* nothing is read from a config that does not run */
    }
    return result;
}

void config_release(struct config *config)
{
    conf_doc_free(config->config_doc);
    config->config_doc = NULL;
    auth_config_free(config->auth);
    config->auth = NULL;
    free(config->leaf);
    config->leaf = NULL;
    free(config->tls_ciphers);
    config->tls_ciphers = NULL;
    free(config->tls_curves);
    config->tls_curves = NULL;
}

/* ---- comparison (config_reload.c decides what a reload may change) ---------------------- */

static void flag_value_text(const struct flag *flag, const struct config *config, char *text,
                            size_t size)
{
    const char *field = (const char *)config + flag->offset;
    switch (flag->kind) {
    case FLAG_STRING: {
        const char *value = *(const char *const *)(const void *)field;
        snprintf(text, size, "%s", value != NULL ? value : "");
        return;
    }
    case FLAG_SWITCH:
        snprintf(text, size, "%s", *(const bool *)(const void *)field ? "true" : "false");
        return;
    case FLAG_INT:
    case FLAG_DURATION:
    case FLAG_SIZE:
        snprintf(text, size, "%lld", (long long)*(const int64_t *)(const void *)field);
        return;
    }
    text[0] = '\0';
}

int config_flags_compare(const struct config *a, const struct config *b,
                         config_flag_change_fn *visit, void *context)
{
    for (size_t i = 0; i < config_flag_count; i++) {
        const struct flag *flag = &config_flags[i];
        if (flag->action != ACTION_SET) {
            continue;
        }
        char before[128];
        char after[128];
        flag_value_text(flag, a, before, sizeof before);
        flag_value_text(flag, b, after, sizeof after);
        if (strcmp(before, after) != 0) {
            const struct config_flag_change change = {
                .name = flag->names[0],
                .label = flag->names[flag->names[1] != NULL ? 1 : 0],
                .before = before,
                .after = after,
            };
            int rc = visit(context, &change);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}
