/* The configuration file's blocks with tables of their own: tls {} (certificate, key, CA,
 * verify, verify_and_map, timeout, handshake_first, min_version, cipher_suites and
 * curve_preferences by Go's names; pinned certificates and certificate stores are refused), jetstream {} (store,
 * sync and storage sizes as nats-server reads them, the domain; encryption and limits are
 * refused) and streaming {} (nats-streaming-server's keys, its channel limits also in
 * store_limits {}). Each block is a map applied by its table through the rules' engine in
 * config_file.c, with the same refusals and notes as the top level. Main thread only,
 * before anything starts. */
#include "engine/config_file_internal.h"

#include "engine/conn_tls.h"
#include "engine/tls_names.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tls {} ------------------------------------------------------------------------------ */

/* nats-server's TLS timeout: seconds (integer or float) or a duration string. */
static void tls_timeout_apply(struct config_file_state *a, const struct config_file_rule *rule,
                              const char *key, const struct conf_node *value)
{
    if (value->type == CONF_INTEGER || value->type == CONF_FLOAT) {
        double seconds = value->type == CONF_INTEGER ? (double)value->as.integer : value->as.real;
        if (seconds > 0) { /* else the default */
            config_file_seconds(a, "tls_timeout", key, value, seconds);
        }
    } else if (value->type == CONF_STRING) {
        config_file_duration(a, "tls_timeout", key, value);
    } else {
        config_file_error(a, value, "error parsing tls config, 'timeout' wrong type");
    }
}

/* handshake_first: a boolean; nats-server's fallback delay (a duration) is not served. */
static void tls_handshake_first_apply(struct config_file_state *a,
                                      const struct config_file_rule *rule, const char *key,
                                      const struct conf_node *value)
{
    if (value->type == CONF_STRING) {
        config_file_error(a, value,
                          "%s: a fallback delay is not supported yet (true or false)", key);
        return;
    }
    if (config_file_type_is(a, key, value, CONF_BOOL)) {
        config_file_flag(a, "tls_handshake_first", key, value);
    }
}

/* cipher_suites and curve_preferences: a non-empty array of the names nats-server knows,
 * kept joined by ':' (tls_names.h turns them into OpenSSL's). */
static void tls_names_apply_key(struct config_file_state *a, const char *key,
                                const struct conf_node *value, bool ciphers)
{
    if (!config_file_type_is(a, key, value, CONF_ARRAY)) {
        return;
    }
    if (value->as.array.count == 0) {
        config_file_error(a, value, "error parsing tls config, '%s' cannot be empty", key);
        return;
    }
    size_t length = 0;
    for (size_t i = 0; i < value->as.array.count; i++) {
        const struct conf_node *item = value->as.array.items[i];
        if (item->type != CONF_STRING) {
            config_file_error(a, item, "error parsing tls config, '%s' wrong type", key);
            return;
        }
        const char *name = item->as.string.bytes;
        bool known = ciphers ? tls_names_cipher_known(name) : tls_names_curve_known(name);
        if (!known) {
            config_file_error(a, item, ciphers ? "unrecognized cipher %s"
                                               : "unrecognized curve preference %s",
                              name);
            return;
        }
        length += item->as.string.length + 1;
    }
    char *joined = calloc(1, length);
    if (joined == NULL) {
        config_file_error(a, value, "out of memory");
        return;
    }
    for (size_t i = 0; i < value->as.array.count; i++) {
        if (i > 0) {
            strcat(joined, ":");
        }
        strcat(joined, value->as.array.items[i]->as.string.bytes);
    }
    char **field = ciphers ? &a->config->tls_ciphers : &a->config->tls_curves;
    free(*field);
    *field = joined;
}

static void tls_ciphers_apply(struct config_file_state *a, const struct config_file_rule *rule,
                              const char *key, const struct conf_node *value)
{
    tls_names_apply_key(a, key, value, true);
}

static void tls_curves_apply(struct config_file_state *a, const struct config_file_rule *rule,
                             const char *key, const struct conf_node *value)
{
    tls_names_apply_key(a, key, value, false);
}

/* verify_and_map: client certificates required, and the user is the one they name. */
static void tls_map_apply(struct config_file_state *a, const struct config_file_rule *rule,
                          const char *key, const struct conf_node *value)
{
    if (!config_file_type_is(a, key, value, CONF_BOOL)) {
        return;
    }
    a->config->tls_map = value->as.boolean;
    if (value->as.boolean) {
        config_file_flag(a, "tlsverify", key, value);
    }
}

static const struct config_file_rule tls_rules[] = {
    {{"cert_file"}, KEY_FLAG, CONF_STRING, "tlscert", NULL, NULL},
    {{"key_file"}, KEY_FLAG, CONF_STRING, "tlskey", NULL, NULL},
    {{"ca_file"}, KEY_FLAG, CONF_STRING, "tlscacert", NULL, NULL},
    {{"verify"}, KEY_FLAG, CONF_BOOL, "tlsverify", NULL, NULL},
    {{"timeout"}, KEY_HANDLER, 0, NULL, tls_timeout_apply, NULL},
    {{"handshake_first", "first", "immediate"}, KEY_HANDLER, 0, NULL, tls_handshake_first_apply,
     NULL},
    {{"min_version"}, KEY_FLAG, CONF_STRING, "tls_min_version", NULL, NULL},
    {{"verify_and_map"}, KEY_HANDLER, 0, NULL, tls_map_apply, NULL},
    {{"verify_cert_and_check_known_urls"}, KEY_OFF, 0, NULL, NULL,
     "checking certificates against known URLs is for routes and gateways, not supported"},
    {{"cipher_suites"}, KEY_HANDLER, 0, NULL, tls_ciphers_apply, NULL},
    {{"curve_preferences"}, KEY_HANDLER, 0, NULL, tls_curves_apply, NULL},
    {{"pinned_certs", "certs", "cert_store", "cert_match_by", "cert_match"}, KEY_REFUSE, 0,
     NULL, NULL, "not supported yet"},
    {{"cert_match_skip_invalid", "ca_certs_match", "ocsp_peer", "insecure"}, KEY_REFUSE, 0,
     NULL, NULL, "not supported yet"},
};

void config_file_tls(struct config_file_state *a, const struct config_file_rule *rule,
                     const char *key, const struct conf_node *value)
{
    if (!config_file_type_is(a, key, value, CONF_MAP)) {
        return;
    }
    struct conf_node on = *value;
    on.type = CONF_BOOL;
    on.as.boolean = true;
    config_file_flag(a, "tls", key, &on);
    int errors = a->error_count;
    config_file_map_apply(a, value, CONFIG_FILE_RULES(tls_rules), false);
    const struct config *config = a->config;
    if (a->error_count > errors) {
        return;
    }
    if (config->tls_cert == NULL || config->tls_key == NULL) {
        config_file_error(a, value, "missing '%s' in TLS configuration",
                          config->tls_cert == NULL ? "cert_file" : "key_file");
        return;
    }
    /* as nats-server, the files are read now: -t finds a bad certificate too */
    const struct tls_settings settings = {
        .cert_file = config->tls_cert,
        .key_file = config->tls_key,
        .ca_file = config->tls_ca,
        .min_version = config->tls_min_version,
        .ciphers = config->tls_ciphers,
        .curves = config->tls_curves,
    };
    char error[512];
    struct tls_server *check = tls_server_new(&settings, error, sizeof error);
    if (check == NULL) {
        config_file_error(a, value, "error parsing X509 certificate/key pair: %s", error);
    }
    tls_server_free(check);
}

/* ---- jetstream {} ----------------------------------------------------------------------- */

/* nats-server's getStorageSize: an integer (the file's size suffixes already applied), or a
 * string ending in K, M, G or T, powers of 1024 (a string's G is not an integer's G). */
static void storage_size_apply(struct config_file_state *a, const struct config_file_rule *rule,
                               const char *key, const struct conf_node *value)
{
    static const char suffixes[] = "KMGT";
    int64_t bytes = 0;
    if (value->type == CONF_INTEGER) {
        bytes = value->as.integer;
    } else if (value->type != CONF_STRING) {
        config_file_error(a, value, "%s must be int64 or string", key);
        return;
    } else if (value->as.string.length > 0) {
        const char *text = value->as.string.bytes;
        size_t digits = value->as.string.length - 1;
        char prefix[32];
        char *end = prefix;
        long long number = 0;
        errno = 0;
        if (digits > 0 && digits < sizeof prefix && text[0] != ' ') {
            memcpy(prefix, text, digits);
            prefix[digits] = '\0';
            number = strtoll(prefix, &end, 10);
        }
        if (end != prefix + digits || digits == 0 || errno != 0) {
            config_file_error(a, value, "%s strconv.ParseInt: parsing \"%.*s\": %s", key,
                              (int)digits, text,
                              errno == ERANGE ? "value out of range" : "invalid syntax");
            return;
        }
        const char *suffix = text[digits] != '\0' ? strchr(suffixes, text[digits]) : NULL;
        if (suffix == NULL) {
            config_file_error(a, value, "%s sizes defined as strings must end in K, M, G, T", key);
            return;
        }
        bytes = (int64_t)((uint64_t)number << (10 * (suffix - suffixes + 1)));
    }
    struct conf_node size = *value;
    size.type = CONF_INTEGER;
    size.as.integer = bytes < 0 ? 0 : bytes; /* nats-server's -1: the default */
    config_file_flag(a, rule->flag, key, &size);
}

static void sync_apply(struct config_file_state *a, const struct config_file_rule *rule,
                       const char *key, const struct conf_node *value)
{
    if (value->type == CONF_STRING && strcasecmp(value->as.string.bytes, "always") == 0) {
        a->config->sync = "always";
        return;
    }
    int errors = a->error_count;
    config_file_duration(a, "sync_interval", key, value);
    if (a->error_count == errors) {
        a->config->sync = "interval";
    }
}

static void jetstream_store_dir(struct config_file_state *a, const struct config_file_rule *rule,
                                const char *key, const struct conf_node *value)
{
    config_file_store_dir(a, key, value);
}

static void bool_checked(struct config_file_state *a, const struct config_file_rule *rule,
                         const char *key, const struct conf_node *value)
{
    config_file_type_is(a, key, value, CONF_BOOL); /* read below, by config_file_jetstream */
}

static const struct config_file_rule jetstream_rules[] = {
    {{"store", "store_dir", "storedir"}, KEY_HANDLER, 0, NULL, jetstream_store_dir, NULL},
    {{"sync", "sync_interval"}, KEY_HANDLER, 0, NULL, sync_apply, NULL},
    {{"max_memory_store", "max_mem_store", "max_mem"}, KEY_HANDLER, 0, "max_memory_store",
     storage_size_apply, NULL},
    {{"max_file_store", "max_file"}, KEY_HANDLER, 0, "max_file_store", storage_size_apply,
     NULL},
    {{"enable", "enabled"}, KEY_HANDLER, 0, NULL, bool_checked, NULL},
    {{"domain"}, KEY_FLAG, CONF_STRING, "js_domain", NULL, NULL},
    {{"key", "ek", "encryption_key", "cipher"}, KEY_REFUSE, 0, NULL, NULL,
     "encryption at rest is not supported yet"},
    {{"prev_key", "prev_ek", "prev_encryption_key", "tpm"}, KEY_REFUSE, 0, NULL, NULL,
     "encryption at rest is not supported yet"},
    {{"limits"}, KEY_REFUSE, 0, NULL, NULL, "JetStream limits are not supported yet"},
    {{"strict", "extension_hint", "unique_tag", "max_outstanding_catchup"}, KEY_IGNORE, 0,
     NULL, NULL, "ionats's JetStream API is always strict and has no cluster"},
    {{"max_buffered_size", "max_buffered_msgs", "request_queue_limit", "info_queue_limit"},
     KEY_IGNORE, 0, NULL, NULL, "ionats has no such queue"},
    {{"meta_compact", "meta_compact_size", "meta_compact_sync", "max_concurrent_io"},
     KEY_IGNORE, 0, NULL, NULL, "ionats has no meta layer or I/O pool to tune"},
};

void config_file_jetstream(struct config_file_state *a, const struct config_file_rule *rule,
                           const char *key, const struct conf_node *value)
{
    struct config *config = a->config;
    if (value->type == CONF_BOOL) {
        config->jetstream = value->as.boolean;
    } else if (value->type == CONF_STRING) {
        const char *text = value->as.string.bytes;
        if (strcasecmp(text, "enabled") == 0 || strcasecmp(text, "enable") == 0) {
            config->jetstream = true;
        } else if (strcasecmp(text, "disabled") == 0 || strcasecmp(text, "disable") == 0) {
            config->jetstream = false;
        } else {
            config_file_error(a, value,
                              "Expected 'enabled' or 'disabled' for string value, got '%s'", text);
        }
    } else if (value->type == CONF_MAP) {
        config_file_map_apply(a, value, CONFIG_FILE_RULES(jetstream_rules), false);
        const struct conf_member *enabled = conf_map_find(value, "enabled");
        enabled = enabled != NULL ? enabled : conf_map_find(value, "enable");
        bool on = enabled == NULL || enabled->value->type != CONF_BOOL ||
                  enabled->value->as.boolean;
        config->jetstream = on;
    } else {
        config_file_error(a, value, "Expected map, bool or string to define JetStream, got %s %s",
                          value->type == CONF_INTEGER || value->type == CONF_ARRAY ? "an" : "a",
                          conf_type_name(value->type));
    }
}

/* ---- streaming {} (nats-streaming-server's keys) ---------------------------------------- */

static void streaming_store(struct config_file_state *a, const struct config_file_rule *rule,
                            const char *key, const struct conf_node *value)
{
    if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    const char *type = value->as.string.bytes;
    if (strcasecmp(type, "SQL") == 0) {
        config_file_error(a, value, "%s: the SQL store is not supported (FILE or MEMORY)", key);
    } else if (strcasecmp(type, "FILE") != 0 && strcasecmp(type, "MEMORY") != 0) {
        config_file_error(a, value, "unknown store type: %s", type);
    } else {
        config_file_flag(a, "store", key, value);
    }
}

/* The channel limits, in store_limits {} as nats-streaming-server has them, and directly in
 * streaming {} too. */
#define STREAMING_LIMIT_RULES                                                                 \
    {{"mc", "max_channels", "maxchannels"}, KEY_FLAG, CONF_INTEGER, "max_channels", NULL,     \
     NULL},                                                                                   \
        {{"msu", "max_subs", "max_subscriptions", "maxsubscriptions"}, KEY_FLAG, CONF_INTEGER, \
         "max_subs", NULL, NULL},                                                             \
        {{"mm", "max_msgs", "maxmsgs", "max_count", "maxcount"}, KEY_FLAG, CONF_INTEGER,       \
         "max_msgs", NULL, NULL},                                                             \
        {{"mb", "max_bytes", "maxbytes"}, KEY_FLAG, CONF_INTEGER, "max_bytes", NULL, NULL},   \
        {{"ma", "max_age", "maxage"}, KEY_FLAG, CONF_STRING, "max_age", NULL, NULL},          \
        {{"mi", "max_inactivity", "maxinactivity"}, KEY_FLAG, CONF_STRING, "max_inactivity",  \
         NULL, NULL},                                                                         \
        {{"channels", "channels_limits", "channelslimits", "per_channel",                     \
          "per_channel_limits"},                                                              \
         KEY_REFUSE, 0, NULL, NULL, "per-channel limits are not supported yet"}

static const struct config_file_rule streaming_limit_rules[] = {STREAMING_LIMIT_RULES};

static void streaming_limits(struct config_file_state *a, const struct config_file_rule *rule,
                             const char *key, const struct conf_node *value)
{
    if (config_file_type_is(a, key, value, CONF_MAP)) {
        config_file_map_apply(a, value, CONFIG_FILE_RULES(streaming_limit_rules), false);
    }
}

static const struct config_file_rule streaming_rules[] = {
    {{"id", "cid", "cluster_id"}, KEY_FLAG, CONF_STRING, "cluster_id", NULL, NULL},
    {{"st", "store_type", "store", "storetype"}, KEY_HANDLER, 0, NULL, streaming_store, NULL},
    {{"dir", "datastore"}, KEY_FLAG, CONF_STRING, "dir", NULL, NULL},
    {{"sd", "stan_debug"}, KEY_FLAG, CONF_BOOL, "stan_debug", NULL, NULL},
    {{"sv", "stan_trace"}, KEY_FLAG, CONF_BOOL, "stan_trace", NULL, NULL},
    {{"hbi", "hb_interval", "server_to_client_hb_interval"}, KEY_FLAG, CONF_STRING,
     "hb_interval", NULL, NULL},
    {{"hbt", "hb_timeout", "server_to_client_hb_timeout"}, KEY_FLAG, CONF_STRING, "hb_timeout",
     NULL, NULL},
    {{"hbf", "hb_fail_count", "server_to_client_hb_fail_count"}, KEY_FLAG, CONF_INTEGER,
     "hb_fail_count", NULL, NULL},
    {{"limits", "store_limits", "storelimits"}, KEY_HANDLER, 0, NULL, streaming_limits, NULL},
    STREAMING_LIMIT_RULES,
    {{"ns", "nats_server", "nats_server_url", "discover_prefix"}, KEY_REFUSE, 0, NULL, NULL,
     "ionats serves streaming itself, on its own subjects"},
    {{"ft_group", "ft_group_name", "cluster", "partitioning"}, KEY_REFUSE, 0, NULL, NULL,
     "fault-tolerant, clustered and partitioned streaming are not supported"},
    {{"encrypt", "encryption_cipher", "encryption_key"}, KEY_REFUSE, 0, NULL, NULL,
     "encryption at rest is not supported yet"},
    {{"sql", "sql_options"}, KEY_REFUSE, 0, NULL, NULL, "the SQL store is not supported"},
    {{"replace_durable", "replace_durables", "replace_duplicate_durable",
      "replace_duplicate_durables"},
     KEY_OFF, 0, NULL, NULL, "replacing duplicate durables is not supported"},
    {{"credentials", "username", "user", "password", "pass"}, KEY_IGNORE, 0, NULL, NULL,
     "streaming runs inside ionats and needs no credentials"},
    {{"token", "nkey_seed_file", "secure", "tls"}, KEY_IGNORE, 0, NULL, NULL,
     "streaming runs inside ionats and needs no connection"},
    {{"file", "file_options", "syslog_name"}, KEY_IGNORE, 0, NULL, NULL,
     "channels are JetStream streams (--sync, --segment_size tune them)"},
};

void config_file_streaming(struct config_file_state *a, const struct config_file_rule *rule,
                           const char *key, const struct conf_node *value)
{
    if (value->type != CONF_MAP) {
        config_file_error(a, value, "expected streaming section to be a map/struct, got %s %s",
                          value->type == CONF_INTEGER || value->type == CONF_ARRAY ? "an" : "a",
                          conf_type_name(value->type));
        return;
    }
    config_file_map_apply(a, value, CONFIG_FILE_RULES(streaming_rules), false);
}
