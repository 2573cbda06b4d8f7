/* The configuration file (-c): nats-server's keys, read with nats-server's meanings, onto
 * struct config (see config.h; the format itself is proto/conf.c's).
 *
 * The one idea: every key is in exactly one of four tables' classes. Mapped keys set a
 * flag through config_flag_set, so a value from a file passes the same checks and ranges
 * as the same value on the command line (nats-server's type is checked first: `port: "x"`
 * is an error, as it is there). Refused keys ask for something ionats does not do (TLS,
 * accounts, clustering, a users list): starting anyway would serve with less security or
 * another topology than the file asks for, so they are errors that name the key. Ignored
 * keys only tune what ionats does not have (log rotation, cluster tuning) and are noted.
 * Any other key sets the ionats flag of that long name (shards, io, sync, …), or is
 * unknown: a warning, as the issue asks (nats-server makes it an error; -t fails on a
 * warning here as there, so `ionats -t` and `nats-server -t` agree on such a file).
 *
 * Runs on the main thread before anything starts. Errors are collected (each printed
 * with file:line:col), so one run shows them all, as nats-server does. This file holds the
 * rules' engine, the top level and the reading; the authorization, jetstream and streaming
 * blocks are config_file_block.c's (what the two share is config_file_internal.h). */
#include "engine/config.h"

#include "engine/config_file_internal.h"
#include "proto/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest file (or included file) read: configurations are kilobytes; this only stops
 * a wrong path (a disk image, /dev/zero) from being read whole. */
#define CONFIG_FILE_SIZE_MAX (16LL * 1024 * 1024)

/* ---- messages -------------------------------------------------------------------------- */

static void say(struct config_file_state *a, struct conf_position at, const char *kind,
                const char *format, va_list args)
{
    fprintf(a->err, "ionats: %s:%d:%d: %s", at.file, at.line, at.column, kind);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): each caller's va_start
    vfprintf(a->err, format, args);
    fputc('\n', a->err);
}

void config_file_error(struct config_file_state *a, const struct conf_node *at, const char *format,
                       ...)
{
    va_list args;
    va_start(args, format);
    say(a, at->position, "", format, args);
    va_end(args);
    a->error_count++;
}

void config_file_warning(struct config_file_state *a, const struct conf_node *at,
                         const char *format, ...)
{
    va_list args;
    va_start(args, format);
    say(a, at->position, "warning: ", format, args);
    va_end(args);
    a->warning_count++;
}

__attribute__((format(printf, 3, 4))) static void
apply_note(struct config_file_state *a, const struct conf_node *at, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    say(a, at->position, "note: ", format, args);
    va_end(args);
}

void config_file_out_of_memory(struct config_file_state *a, const struct conf_node *at)
{
    config_file_error(a, at, "out of memory");
}

/* ---- values as flag text --------------------------------------------------------------- */

/* The value as the command line would spell it, in memory owned by the tree (a string
 * flag keeps the pointer); NULL for maps, arrays and datetimes (said as an error). */
static const char *value_text(struct config_file_state *a, const char *key,
                              const struct conf_node *value)
{
    char text[64];
    switch (value->type) {
    case CONF_STRING:
        if (strlen(value->as.string.bytes) != value->as.string.length) {
            config_file_error(a, value, "%s: the value holds a NUL byte", key);
            return NULL;
        }
        return value->as.string.bytes;
    case CONF_INTEGER:
        snprintf(text, sizeof text, "%" PRId64, value->as.integer);
        break;
    case CONF_FLOAT:
        snprintf(text, sizeof text, "%.17g", value->as.real);
        break;
    case CONF_BOOL:
        return value->as.boolean ? "true" : "false";
    default:
        config_file_error(a, value, "%s: expected a single value, got a %s", key,
                          conf_type_name(value->type));
        return NULL;
    }
    const char *copy = conf_doc_strdup(a->doc, text, strlen(text));
    if (copy == NULL) {
        config_file_out_of_memory(a, value);
    }
    return copy;
}

void config_file_flag(struct config_file_state *a, const char *flag, const char *key,
                      const struct conf_node *value)
{
    const char *text = value_text(a, key, value);
    if (text == NULL) {
        return;
    }
    char where[CONF_ERROR_FILE_SIZE + 32];
    snprintf(where, sizeof where, "%s:%d:%d: ", value->position.file, value->position.line,
             value->position.column);
    int rc = config_flag_set(a->config, flag, text, where, a->err);
    if (rc == -EINVAL) {
        a->error_count++;
    }
    if (rc == -ENOENT) {
        config_file_error(a, value, "%s: ionats has no flag --%s", key, flag); /* a table's bug */
    }
}

bool config_file_type_is(struct config_file_state *a, const char *key,
                         const struct conf_node *value, enum conf_type type)
{
    if (value->type == type) {
        return true;
    }
    config_file_error(a, value, "%s: expected %s %s, got %s %s", key,
                      type == CONF_INTEGER || type == CONF_ARRAY ? "an" : "a", conf_type_name(type),
                      value->type == CONF_INTEGER || value->type == CONF_ARRAY ? "an" : "a",
                      conf_type_name(value->type));
    return false;
}

void config_file_duration(struct config_file_state *a, const char *flag, const char *key,
                          const struct conf_node *value)
{
    if (value->type == CONF_INTEGER) {
        config_file_warning(a, value,
                            "invalid use of field \"%s\": %s should be converted to a "
                            "duration",
                            key, key);
    } else if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    if (value->type == CONF_STRING) {
        int64_t ns = 0;
        char reason[160];
        if (conf_duration_parse(value->as.string.bytes, &ns, reason, sizeof reason) != 0) {
            config_file_error(a, value, "error parsing %s: %s", key, reason);
            return;
        }
    }
    config_file_flag(a, flag, key, value);
}

void config_file_seconds(struct config_file_state *a, const char *flag, const char *key,
                         const struct conf_node *value, double seconds)
{
    char text[64];
    snprintf(text, sizeof text, "%.9fs", seconds);
    struct conf_node timeout = *value;
    timeout.type = CONF_STRING;
    timeout.as.string.bytes = conf_doc_strdup(a->doc, text, strlen(text));
    if (timeout.as.string.bytes == NULL) {
        config_file_out_of_memory(a, value);
        return;
    }
    timeout.as.string.length = strlen(text);
    config_file_flag(a, flag, key, &timeout);
}

/* ---- the rules ------------------------------------------------------------------------- */

static const struct config_file_rule *rule_find(const struct config_file_rule *rules, size_t count,
                                                const char *key)
{
    for (size_t i = 0; i < count; i++) {
        for (int n = 0; n < 5 && rules[i].names[n] != NULL; n++) {
            if (strcmp(rules[i].names[n], key) == 0) {
                return &rules[i];
            }
        }
    }
    return NULL;
}

/* Applies one key by its rule; a key without one is ionats's flag of that name, else
 * unknown (a warning, unless a $variable read it: then it was a variable). */
static void rule_apply(struct config_file_state *a, const struct config_file_rule *rule,
                       const char *key, const struct conf_node *value, bool flags_allowed)
{
    if (rule == NULL) {
        if (flags_allowed && config_flag_set(a->config, key, NULL, "?", NULL) == 0) {
            config_file_flag(a, key, key, value);
        } else if (!value->variable_used) {
            config_file_warning(a, value, "unknown field \"%s\"", key);
        }
        return;
    }
    switch (rule->action) {
    case KEY_FLAG:
        if (config_file_type_is(a, key, value, rule->type)) {
            config_file_flag(a, rule->flag, key, value);
        }
        return;
    case KEY_HANDLER:
        rule->handler(a, rule, key, value);
        return;
    case KEY_OFF:
        if (value->type == CONF_BOOL && !value->as.boolean) {
            return;
        }
        config_file_error(a, value, "%s: %s", key, rule->why);
        return;
    case KEY_REFUSE:
        config_file_error(a, value, "%s: %s", key, rule->why);
        return;
    case KEY_IGNORE:
        apply_note(a, value, "%s is ignored: %s", key, rule->why);
        return;
    }
}

void config_file_map_apply(struct config_file_state *a, const struct conf_node *map,
                           const struct config_file_rule *rules, size_t count, bool flags_allowed)
{
    for (size_t i = 0; i < map->as.map.count; i++) {
        const struct conf_member *member = &map->as.map.members[i];
        char key[128];
        size_t length = member->key_length; /* a longer key is no key of these tables */
        if (length > sizeof key - 1) {
            length = sizeof key - 1;
        }
        for (size_t c = 0; c < length; c++) {
            char ch = member->key[c];
            key[c] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        }
        key[length] = '\0';
        rule_apply(a, rule_find(rules, count, key), key, member->value, flags_allowed);
    }
}

/* ---- listen, http, server_name, store_dir ------------------------------------------------ */

/* Go's net.SplitHostPort: "host:port", "[v6]:port", ":port". False when it is none. */
static bool host_port_split(const char *text, const char **host, size_t *host_length,
                            const char **port)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL) {
        return false;
    }
    *port = colon + 1;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close + 1 != colon) {
            return false;
        }
        *host = text + 1;
        *host_length = (size_t)(close - text - 1);
    } else {
        *host = text;
        *host_length = (size_t)(colon - text);
        if (memchr(text, ':', *host_length) != NULL || memchr(text, ']', *host_length) != NULL) {
            return false; /* too many colons: a v6 address needs brackets */
        }
    }
    return memchr(*host, '[', *host_length) == NULL;
}

/* nats-server's parseListen: a port, or "host:port"; sets `host_flag` and `port_flag`. */
static void listen_apply(struct config_file_state *a, const char *key,
                         const struct conf_node *value, const char *host_flag,
                         const char *port_flag)
{
    if (value->type == CONF_INTEGER) {
        config_file_flag(a, port_flag, key, value);
        return;
    }
    if (value->type != CONF_STRING) {
        config_file_error(a, value, "%s: expected port or host:port, got %s %s", key,
                          value->type == CONF_INTEGER || value->type == CONF_ARRAY ? "an" : "a",
                          conf_type_name(value->type));
        return;
    }
    const char *text = value->as.string.bytes;
    const char *host = NULL;
    const char *port = NULL;
    size_t host_length = 0;
    if (!host_port_split(text, &host, &host_length, &port)) {
        config_file_error(a, value, "could not parse address string \"%s\"", text);
        return;
    }
    char *end = NULL;
    long number = strtol(port, &end, 10);
    if (port[0] == '\0' || *end != '\0' || port[0] == ' ') {
        config_file_error(a, value, "could not parse port \"%s\"", port);
        return;
    }
    char port_text[32];
    snprintf(port_text, sizeof port_text, "%ld", number);
    const char *owned_port = conf_doc_strdup(a->doc, port_text, strlen(port_text));
    const char *owned_host = host_length > 0 ? conf_doc_strdup(a->doc, host, host_length)
                                             : "0.0.0.0";
    if (owned_port == NULL || owned_host == NULL) {
        config_file_out_of_memory(a, value);
        return;
    }
    struct conf_node port_node = *value;
    port_node.as.string.bytes = owned_port;
    port_node.as.string.length = strlen(owned_port);
    config_file_flag(a, port_flag, key, &port_node);
    if (host_length > 0 || strcmp(host_flag, "addr") == 0) {
        struct conf_node host_node = *value;
        host_node.as.string.bytes = owned_host;
        host_node.as.string.length = strlen(owned_host);
        config_file_flag(a, host_flag, key, &host_node);
    }
}

static void handle_listen(struct config_file_state *a, const struct config_file_rule *rule,
                          const char *key, const struct conf_node *value)
{
    listen_apply(a, key, value, "addr", "port");
}

void config_file_listen(struct config_file_state *a, const char *key,
                        const struct conf_node *value, const char *host_flag,
                        const char *port_flag)
{
    listen_apply(a, key, value, host_flag, port_flag);
}

static void handle_http(struct config_file_state *a, const struct config_file_rule *rule,
                        const char *key, const struct conf_node *value)
{
    listen_apply(a, key, value, "http_host", "http_port");
}

static void handle_https(struct config_file_state *a, const struct config_file_rule *rule,
                         const char *key, const struct conf_node *value)
{
    listen_apply(a, key, value, "http_host", "https_port");
}

/* nats-server takes no lame duck duration under 30 s from a file. */
static void handle_lame_duck_duration(struct config_file_state *a,
                                      const struct config_file_rule *rule, const char *key,
                                      const struct conf_node *value)
{
    if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    int64_t ns = 0;
    char reason[160];
    if (conf_duration_parse(value->as.string.bytes, &ns, reason, sizeof reason) != 0) {
        config_file_error(a, value, "error parsing lame_duck_duration: %s", reason);
        return;
    }
    if (ns < CONFIG_LAME_DUCK_DURATION_NS_FILE_MIN) {
        config_file_error(a, value, "invalid lame_duck_duration of %s, minimum is 30 seconds",
                          value->as.string.bytes);
        return;
    }
    config_file_flag(a, "lame_duck_duration", key, value);
}

static void handle_server_name(struct config_file_state *a, const struct config_file_rule *rule,
                               const char *key, const struct conf_node *value)
{
    if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    if (strchr(value->as.string.bytes, ' ') != NULL) {
        config_file_error(a, value, "server name cannot contain spaces");
        return;
    }
    config_file_flag(a, "server_name", key, value);
}

void config_file_store_dir(struct config_file_state *a, const char *key,
                           const struct conf_node *value)
{
    if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    if (a->store_dir_set) {
        config_file_error(a, value, "Duplicate 'store_dir' configuration");
        return;
    }
    a->store_dir_set = true;
    config_file_flag(a, "store_dir", key, value);
}

static void handle_store_dir(struct config_file_state *a, const struct config_file_rule *rule,
                             const char *key, const struct conf_node *value)
{
    config_file_store_dir(a, key, value);
}

static void handle_duration(struct config_file_state *a, const struct config_file_rule *rule,
                            const char *key, const struct conf_node *value)
{
    config_file_duration(a, rule->flag, key, value);
}

/* ---- the top level ---------------------------------------------------------------------- */

static const struct config_file_rule top_rules[] = {
    {{"listen"}, KEY_HANDLER, 0, NULL, handle_listen, NULL},
    {{"port"}, KEY_FLAG, CONF_INTEGER, "port", NULL, NULL},
    {{"host", "net"}, KEY_FLAG, CONF_STRING, "addr", NULL, NULL},
    {{"server_name"}, KEY_HANDLER, 0, NULL, handle_server_name, NULL},
    {{"debug"}, KEY_FLAG, CONF_BOOL, "debug", NULL, NULL},
    {{"trace", "trace_verbose"}, KEY_FLAG, CONF_BOOL, "trace", NULL, NULL},
    {{"logfile", "log_file"}, KEY_FLAG, CONF_STRING, "log", NULL, NULL},
    {{"logtime"}, KEY_FLAG, CONF_BOOL, "logtime", NULL, NULL},
    {{"logtime_utc"}, KEY_FLAG, CONF_BOOL, "logtime_utc", NULL, NULL},
    {{"log_size_limit", "logfile_size_limit"}, KEY_FLAG, CONF_INTEGER, "log_size_limit", NULL,
     NULL},
    {{"pidfile", "pid_file"}, KEY_FLAG, CONF_STRING, "pid", NULL, NULL},
    {{"ports_file_dir"}, KEY_FLAG, CONF_STRING, "ports_file_dir", NULL, NULL},
    {{"max_payload"}, KEY_FLAG, CONF_INTEGER, "max_payload", NULL, NULL},
    {{"max_pending"}, KEY_FLAG, CONF_INTEGER, "max_pending", NULL, NULL},
    {{"max_connections", "max_conn"}, KEY_FLAG, CONF_INTEGER, "max_connections", NULL, NULL},
    {{"max_control_line"}, KEY_FLAG, CONF_INTEGER, "max_control_line", NULL, NULL},
    {{"max_subscriptions", "max_subs"}, KEY_FLAG, CONF_INTEGER, "max_subscriptions", NULL,
     NULL},
    {{"ping_interval"}, KEY_HANDLER, 0, "ping_interval", handle_duration, NULL},
    {{"write_deadline"}, KEY_HANDLER, 0, "write_deadline", handle_duration, NULL},
    {{"ping_max"}, KEY_FLAG, CONF_INTEGER, "ping_max", NULL, NULL},
    {{"http"}, KEY_HANDLER, 0, NULL, handle_http, NULL},
    {{"http_port", "monitor_port"}, KEY_FLAG, CONF_INTEGER, "http_port", NULL, NULL},
    {{"authorization"}, KEY_HANDLER, 0, NULL, config_file_authorization, NULL},
    {{"jetstream"}, KEY_HANDLER, 0, NULL, config_file_jetstream, NULL},
    {{"store_dir", "storedir"}, KEY_HANDLER, 0, NULL, handle_store_dir, NULL},
    {{"streaming"}, KEY_HANDLER, 0, NULL, config_file_streaming, NULL},
    {{"tls"}, KEY_HANDLER, 0, NULL, config_file_tls, NULL},
    {{"https"}, KEY_HANDLER, 0, NULL, handle_https, NULL},
    {{"https_port"}, KEY_FLAG, CONF_INTEGER, "https_port", NULL, NULL},
    {{"ocsp", "ocsp_cache"}, KEY_REFUSE, 0, NULL, NULL, "OCSP is not supported yet"},
    {{"allow_non_tls"}, KEY_OFF, 0, NULL, NULL,
     "plain-text clients beside TLS ones are not supported yet"},
    {{"no_auth_user"}, KEY_HANDLER, 0, NULL, config_file_no_auth_user, NULL},
    {{"accounts", "system_account", "system", "default_js_domain"},
     KEY_REFUSE, 0, NULL, NULL, "accounts are not supported yet"},
    {{"operator", "operators", "roots", "root", "root_operators"}, KEY_REFUSE, 0, NULL, NULL,
     "operators and JWT accounts are not supported yet"},
    {{"root_operator", "resolver", "account_resolver", "accounts_resolver", "resolver_tls"},
     KEY_REFUSE, 0, NULL, NULL, "operators and JWT accounts are not supported yet"},
    {{"resolver_preload", "resolver_pinned_accounts", "trusted", "trusted_keys",
      "default_sentinel"},
     KEY_REFUSE, 0, NULL, NULL, "operators and JWT accounts are not supported yet"},
    {{"mappings", "maps"}, KEY_REFUSE, 0, NULL, NULL, "subject mappings are not supported yet"},
    {{"leafnodes", "leaf"}, KEY_HANDLER, 0, NULL, config_file_leafnodes, NULL},
    {{"cluster", "gateway"}, KEY_REFUSE, 0, NULL, NULL,
     "clusters and gateways are not supported yet (leafnode remotes are)"},
    {{"websocket", "ws", "mqtt"}, KEY_REFUSE, 0, NULL, NULL,
     "WebSocket and MQTT clients are not supported yet"},
    {{"prof_port", "http_base_path", "max_sub_tokens", "max_subscription_tokens", "proxies"},
     KEY_REFUSE, 0, NULL, NULL, "not supported yet"},
    {{"syslog", "remote_syslog"}, KEY_OFF, 0, NULL, NULL,
     "syslog is not supported yet (ionats logs to stderr or --log)"},
    {{"no_header_support", "proxy_protocol"}, KEY_OFF, 0, NULL, NULL, "not supported yet"},
    {{"logfile_max_num", "log_max_num"}, KEY_IGNORE, 0, NULL, NULL,
     "ionats keeps every rotated log file"},
    {{"client_advertise", "connect_error_reports", "reconnect_error_reports"}, KEY_IGNORE, 0,
     NULL, NULL, "ionats has no cluster to advertise to or report on"},
    {{"lame_duck_duration"}, KEY_HANDLER, 0, NULL, handle_lame_duck_duration, NULL},
    {{"lame_duck_grace_period"}, KEY_HANDLER, 0, "lame_duck_grace_period", handle_duration,
     NULL},
    {{"no_system_account", "no_system", "no_sys_acc"}, KEY_IGNORE, 0, NULL, NULL,
     "ionats has no system account"},
    {{"max_closed_clients"}, KEY_FLAG, CONF_INTEGER, "max_closed_clients", NULL, NULL},
    {{"max_traced_msg_len", "disable_sublist_cache", "no_sublist_cache", "prof_block_rate"},
     KEY_IGNORE, 0, NULL, NULL, "ionats has no such setting"},
    {{"write_timeout", "server_tags", "server_metadata", "feature_flags",
      "no_fast_producer_stall"},
     KEY_IGNORE, 0, NULL, NULL, "ionats has no such setting"},
};

/* ---- reading ---------------------------------------------------------------------------- */

/* Reads a whole file (at most CONFIG_FILE_SIZE_MAX) into a malloc'ed buffer. 0 or -errno. */
static int file_read(void *context, const char *path, char **text, size_t *length)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    struct stat status;
    int rc = fstat(fd, &status) != 0 ? -errno : 0;
    if (rc == 0 && S_ISDIR(status.st_mode)) {
        rc = -EISDIR;
    } else if (rc == 0 && (!S_ISREG(status.st_mode) || status.st_size > CONFIG_FILE_SIZE_MAX)) {
        rc = -EFBIG;
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }
    size_t size = (size_t)status.st_size;
    char *buffer = malloc(size + 1);
    size_t done = 0;
    rc = buffer == NULL ? -ENOMEM : 0;
    while (rc == 0 && done < size) { /* bounded by the size read above */
        ssize_t n = read(fd, buffer + done, size - done);
        if (n < 0 && errno != EINTR) {
            rc = -errno;
        } else if (n == 0) {
            break; /* the file shrank: take what is there */
        } else if (n > 0) {
            done += (size_t)n;
        }
    }
    close(fd);
    if (rc != 0) {
        free(buffer);
        return rc;
    }
    buffer[done] = '\0';
    *text = buffer;
    *length = done;
    return 0;
}

static const char *environment_get(void *context, const char *name)
{
    return getenv(name);
}

int config_file_apply(struct config *config, const char *path, FILE *err, int *warning_count)
{
    *warning_count = 0;
    char *text = NULL;
    size_t length = 0;
    int rc = file_read(NULL, path, &text, &length);
    if (rc != 0) {
        fprintf(err, "ionats: cannot read configuration file %s: %s\n", path, strerror(-rc));
        return -EINVAL;
    }
    const struct conf_reader reader = {.read = file_read, .getenv = environment_get};
    struct conf_error error;
    struct config_file_state a = {.config = config, .err = err};
    rc = conf_parse(text, length, path, &reader, &a.doc, &error);
    free(text);
    if (rc != 0) {
        fprintf(err, "ionats: %s:%d:%d: %s\n", error.file, error.line, error.column,
                error.message);
        return -EINVAL;
    }
    const struct conf_node *root = conf_doc_root(a.doc);
    if (root->as.map.count == 0) {
        fprintf(err, "ionats: %s: warning: config has no values or is empty\n", path);
        a.warning_count++;
    }
    config_file_map_apply(&a, root, CONFIG_FILE_RULES(top_rules), true);
    config_file_auth_finish(&a);
    *warning_count = a.warning_count;
    if (a.error_count > 0) {
        conf_doc_free(a.doc);
        return -EINVAL;
    }
    config->config_doc = a.doc;
    return 0;
}
