/* The configuration file's leafnodes {} block: the remotes this server connects to as a
 * leaf (urls, account, deny_imports, deny_exports), the reconnect delay, and the leafs
 * that connect to it (listen, host, port as --leafnode_host and --leafnode_port;
 * authorization { user, password }), and TLS on both sides (tls {}: certificate, key, CA,
 * verify, insecure), into the configuration's struct config_leaf. Credentials and nkeys
 * on the link, a users list or accounts for leafs, and hub role
 * reversal are refused by name; settings ionats does not need (compression, URL order,
 * advertising, timeouts of its own) are noted as ignored. Strings stay in the parsed file.
 * Main thread only, before anything starts. */
#include "engine/config_file_internal.h"

#include "engine/conn_tls.h"
#include "engine/leaf.h"
#include "engine/leaf_internal.h"
#include "proto/nkey.h"
#include "proto/subject.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Each string of a string-or-array value, through `take` (the array's items in order). */
static void strings_each(struct config_file_state *a, const char *key,
                         const struct conf_node *value,
                         void (*take)(struct config_file_state *a, const struct conf_node *item))
{
    if (value->type == CONF_STRING) {
        take(a, value);
        return;
    }
    if (!config_file_type_is(a, key, value, CONF_ARRAY)) {
        return;
    }
    for (size_t i = 0; i < value->as.array.count; i++) {
        const struct conf_node *item = value->as.array.items[i];
        if (config_file_type_is(a, key, item, CONF_STRING)) {
            take(a, item);
        }
    }
}

static void url_take(struct config_file_state *a, const struct conf_node *item)
{
    struct config_leaf_remote *remote = a->entry;
    struct leaf_url url;
    if (leaf_url_parse(item->as.string.bytes, &url) != 0) {
        config_file_error(a, item, "error parsing remote leafnode url \"%s\"",
                          item->as.string.bytes);
        return;
    }
    if (remote->url_count == CONFIG_LEAF_URLS_MAX) {
        config_file_error(a, item, "a leafnode remote takes at most %d URLs",
                          CONFIG_LEAF_URLS_MAX);
        return;
    }
    remote->urls[remote->url_count++] = item->as.string.bytes;
}

static void urls_apply(struct config_file_state *a, const struct config_file_rule *rule,
                       const char *key, const struct conf_node *value)
{
    strings_each(a, key, value, url_take);
}

/* A deny list's subject, into `list`. */
static void deny_take(struct config_file_state *a, const struct conf_node *item,
                      const char **list, uint32_t *count)
{
    if (!subject_valid_for_sub(item->as.string.bytes, item->as.string.length)) {
        config_file_error(a, item, "subject \"%s\" is not a valid subject",
                          item->as.string.bytes);
        return;
    }
    if (*count == CONFIG_LEAF_URLS_MAX) {
        config_file_error(a, item, "a deny list takes at most %d subjects", CONFIG_LEAF_URLS_MAX);
        return;
    }
    list[(*count)++] = item->as.string.bytes;
}

static void deny_import_take(struct config_file_state *a, const struct conf_node *item)
{
    struct config_leaf_remote *remote = a->entry;
    deny_take(a, item, remote->deny_imports, &remote->deny_import_count);
}

static void deny_export_take(struct config_file_state *a, const struct conf_node *item)
{
    struct config_leaf_remote *remote = a->entry;
    deny_take(a, item, remote->deny_exports, &remote->deny_export_count);
}

static void deny_imports_apply(struct config_file_state *a, const struct config_file_rule *rule,
                               const char *key, const struct conf_node *value)
{
    strings_each(a, key, value, deny_import_take);
}

static void deny_exports_apply(struct config_file_state *a, const struct config_file_rule *rule,
                               const char *key, const struct conf_node *value)
{
    strings_each(a, key, value, deny_export_take);
}

/* The local account a remote binds: only the global one while accounts are not served. */
static void account_apply(struct config_file_state *a, const struct config_file_rule *rule,
                          const char *key, const struct conf_node *value)
{
    struct config_leaf_remote *remote = a->entry;
    if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    if (strcmp(value->as.string.bytes, "$G") != 0) {
        config_file_error(a, value, "%s: accounts are not supported yet (only \"$G\")", key);
        return;
    }
    remote->account = value->as.string.bytes;
}

static void reconnect_apply(struct config_file_state *a, const struct config_file_rule *rule,
                            const char *key, const struct conf_node *value)
{
    if (value->type == CONF_INTEGER || value->type == CONF_FLOAT) {
        double seconds = value->type == CONF_INTEGER ? (double)value->as.integer : value->as.real;
        config_file_seconds(a, "leafnode_reconnect", key, value, seconds);
    } else {
        config_file_duration(a, "leafnode_reconnect", key, value);
    }
}

static struct config_leaf *leaf_of(struct config_file_state *a, const struct conf_node *at)
{
    struct config *config = a->config;
    if (config->leaf == NULL) {
        config->leaf = calloc(1, sizeof *config->leaf);
        if (config->leaf == NULL) {
            config_file_out_of_memory(a, at);
        }
    }
    return config->leaf;
}

/* ---- tls {} of leafnodes {} or of a remote: a->entry is the struct config_leaf_tls ---- */

static void tls_string_apply(struct config_file_state *a, const struct config_file_rule *rule,
                             const char *key, const struct conf_node *value)
{
    struct config_leaf_tls *tls = a->entry;
    if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    const char *name = rule->names[0];
    const char **target = strcmp(name, "cert_file") == 0  ? &tls->cert_file
                          : strcmp(name, "key_file") == 0 ? &tls->key_file
                                                          : &tls->ca_file;
    *target = value->as.string.bytes;
}

static void tls_bool_apply(struct config_file_state *a, const struct config_file_rule *rule,
                           const char *key, const struct conf_node *value)
{
    struct config_leaf_tls *tls = a->entry;
    if (config_file_type_is(a, key, value, CONF_BOOL)) {
        *(strcmp(rule->names[0], "verify") == 0 ? &tls->verify : &tls->insecure) =
            value->as.boolean;
    }
}

/* handshake_first: a boolean; nats-server's fallback delay (a duration) is not served. */
static void tls_first_apply(struct config_file_state *a, const struct config_file_rule *rule,
                            const char *key, const struct conf_node *value)
{
    struct config_leaf_tls *tls = a->entry;
    if (value->type == CONF_STRING) {
        config_file_error(a, value, "%s: a fallback delay is not supported yet (true or false)",
                          key);
        return;
    }
    if (config_file_type_is(a, key, value, CONF_BOOL)) {
        tls->handshake_first = value->as.boolean;
    }
}

static const struct config_file_rule tls_rules[] = {
    {{"cert_file"}, KEY_HANDLER, 0, NULL, tls_string_apply, NULL},
    {{"key_file"}, KEY_HANDLER, 0, NULL, tls_string_apply, NULL},
    {{"ca_file"}, KEY_HANDLER, 0, NULL, tls_string_apply, NULL},
    {{"verify"}, KEY_HANDLER, 0, NULL, tls_bool_apply, NULL},
    {{"insecure"}, KEY_HANDLER, 0, NULL, tls_bool_apply, NULL},
    {{"timeout"}, KEY_IGNORE, 0, NULL, NULL, "a leafnode link's TLS handshake has 2s"},
    {{"handshake_first", "first", "immediate"}, KEY_HANDLER, 0, NULL, tls_first_apply, NULL},
    {{"verify_and_map", "cipher_suites", "curve_preferences", "pinned_certs", "min_version"},
     KEY_REFUSE, 0, NULL, NULL, "not supported yet on leafnode links"},
    {{"cert_store", "cert_match_by", "cert_match", "ocsp_peer", "certs"}, KEY_REFUSE, 0, NULL,
     NULL, "not supported yet on leafnode links"},
};

/* A tls {} into `tls` (the hub side's certificate and key are required). */
static void tls_block_apply(struct config_file_state *a, const char *key,
                            const struct conf_node *value, struct config_leaf_tls *tls,
                            bool server)
{
    if (!config_file_type_is(a, key, value, CONF_MAP)) {
        return;
    }
    void *entry = a->entry;
    a->entry = tls;
    tls->on = true;
    config_file_map_apply(a, value, CONFIG_FILE_RULES(tls_rules), false);
    a->entry = entry;
    if (!server) {
        return;
    }
    if (tls->cert_file == NULL || tls->key_file == NULL) {
        config_file_error(a, value, "missing '%s' in TLS configuration",
                          tls->cert_file == NULL ? "cert_file" : "key_file");
        return;
    }
    /* read now, as nats-server does: -t finds a bad certificate too */
    const struct tls_settings settings = {
        .cert_file = tls->cert_file, .key_file = tls->key_file, .ca_file = tls->ca_file};
    char error[512];
    struct tls_server *check = tls_server_new(&settings, error, sizeof error);
    if (check == NULL) {
        config_file_error(a, value, "error parsing X509 certificate/key pair: %s", error);
    }
    tls_server_free(check);
}

static void remote_tls_apply(struct config_file_state *a, const struct config_file_rule *rule,
                             const char *key, const struct conf_node *value)
{
    struct config_leaf_remote *remote = a->entry;
    tls_block_apply(a, key, value, &remote->tls, false);
}

static void leafnodes_tls_apply(struct config_file_state *a, const struct config_file_rule *rule,
                                const char *key, const struct conf_node *value)
{
    struct config_leaf *leaf = leaf_of(a, value);
    if (leaf != NULL) {
        tls_block_apply(a, key, value, &leaf->tls, true);
    }
}

static void remote_credentials_apply(struct config_file_state *a,
                                     const struct config_file_rule *rule, const char *key,
                                     const struct conf_node *value)
{
    struct config_leaf_remote *remote = a->entry;
    if (config_file_type_is(a, key, value, CONF_STRING)) {
        remote->credentials = value->as.string.bytes;
    }
}

static void remote_seed_apply(struct config_file_state *a, const struct config_file_rule *rule,
                              const char *key, const struct conf_node *value)
{
    struct config_leaf_remote *remote = a->entry;
    uint8_t seed[NKEY_KEY_SIZE];
    if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    if (!nkey_seed_decode(value->as.string.bytes, value->as.string.length, NKEY_TYPE_USER,
                          seed)) {
        config_file_error(a, value, "%s: not a valid user nkey seed", key);
        return;
    }
    memset(seed, 0, sizeof seed);
    remote->seed = value->as.string.bytes;
}

static const struct config_file_rule remote_rules[] = {
    {{"url", "urls"}, KEY_HANDLER, 0, NULL, urls_apply, NULL},
    {{"account", "local"}, KEY_HANDLER, 0, NULL, account_apply, NULL},
    {{"deny_imports", "deny_import"}, KEY_HANDLER, 0, NULL, deny_imports_apply, NULL},
    {{"deny_exports", "deny_export"}, KEY_HANDLER, 0, NULL, deny_exports_apply, NULL},
    {{"reconnect", "reconnect_delay", "reconnect_interval"}, KEY_HANDLER, 0, NULL,
     reconnect_apply, NULL},
    {{"credentials", "creds"}, KEY_HANDLER, 0, NULL, remote_credentials_apply, NULL},
    {{"nkey", "seed"}, KEY_HANDLER, 0, NULL, remote_seed_apply, NULL},
    {{"tls"}, KEY_HANDLER, 0, NULL, remote_tls_apply, NULL},
    {{"hub", "disabled"}, KEY_OFF, 0, NULL, NULL, "not supported yet"},
    {{"ws_compression", "ws_no_masking", "proxy", "jetstream_cluster_migrate"}, KEY_REFUSE, 0,
     NULL, NULL, "not supported yet"},
    {{"isolate_leafnode_interest", "isolate", "request_isolation"}, KEY_REFUSE, 0, NULL, NULL,
     "interest isolation is not supported yet"},
    {{"compression"}, KEY_IGNORE, 0, NULL, NULL, "leafnode links are not compressed"},
    {{"no_randomize", "dont_randomize"}, KEY_IGNORE, 0, NULL, NULL,
     "ionats tries a remote's URLs in the order given"},
    {{"first_info_timeout", "dial_timeout", "ignore_discovered_servers"}, KEY_IGNORE, 0, NULL,
     NULL, "ionats waits 1s for the hub's INFO and dials only the URLs given"},
};


static void remotes_apply(struct config_file_state *a, const struct config_file_rule *rule,
                          const char *key, const struct conf_node *value)
{
    if (!config_file_type_is(a, key, value, CONF_ARRAY)) {
        return;
    }
    struct config *config = a->config;
    if (leaf_of(a, value) == NULL) {
        return;
    }
    for (size_t i = 0; i < value->as.array.count; i++) {
        const struct conf_node *item = value->as.array.items[i];
        if (!config_file_type_is(a, key, item, CONF_MAP)) {
            continue;
        }
        if (config->leaf->remote_count == CONFIG_LEAF_REMOTES_MAX) {
            config_file_error(a, item, "at most %d leafnode remotes", CONFIG_LEAF_REMOTES_MAX);
            return;
        }
        struct config_leaf_remote *remote = &config->leaf->remotes[config->leaf->remote_count];
        memset(remote, 0, sizeof *remote);
        a->entry = remote;
        config_file_map_apply(a, item, CONFIG_FILE_RULES(remote_rules), false);
        a->entry = NULL;
        if (remote->url_count == 0) {
            config_file_error(a, item, "leafnode remote requires a url");
            continue;
        }
        config->leaf->remote_count++;
    }
}

static void listen_apply(struct config_file_state *a, const struct config_file_rule *rule,
                         const char *key, const struct conf_node *value)
{
    config_file_listen(a, key, value, "leafnode_host", "leafnode_port");
}

/* authorization { user, password }: the one user a leaf connects as. */
static void auth_user_apply(struct config_file_state *a, const struct config_file_rule *rule,
                            const char *key, const struct conf_node *value)
{
    struct config_leaf *leaf = leaf_of(a, value);
    if (leaf != NULL && config_file_type_is(a, key, value, CONF_STRING)) {
        if (strcmp(rule->names[0], "user") == 0) {
            leaf->user = value->as.string.bytes;
        } else {
            leaf->pass = value->as.string.bytes;
        }
    }
}

static const struct config_file_rule authorization_rules[] = {
    {{"user", "username"}, KEY_HANDLER, 0, NULL, auth_user_apply, NULL},
    {{"password", "pass"}, KEY_HANDLER, 0, NULL, auth_user_apply, NULL},
    {{"timeout"}, KEY_IGNORE, 0, NULL, NULL, "a leaf has 2s to send its CONNECT"},
    {{"users", "nkey", "account", "proxy_required"}, KEY_REFUSE, 0, NULL, NULL,
     "leafnode users, nkeys and accounts are not supported yet (one user and password are)"},
};

static void authorization_apply(struct config_file_state *a, const struct config_file_rule *rule,
                                const char *key, const struct conf_node *value)
{
    if (config_file_type_is(a, key, value, CONF_MAP)) {
        config_file_map_apply(a, value, CONFIG_FILE_RULES(authorization_rules), false);
    }
}

static const struct config_file_rule leafnodes_rules[] = {
    {{"remotes"}, KEY_HANDLER, 0, NULL, remotes_apply, NULL},
    {{"reconnect", "reconnect_delay", "reconnect_interval"}, KEY_HANDLER, 0, NULL,
     reconnect_apply, NULL},
    {{"listen"}, KEY_HANDLER, 0, NULL, listen_apply, NULL},
    {{"port"}, KEY_FLAG, CONF_INTEGER, "leafnode_port", NULL, NULL},
    {{"host", "net"}, KEY_FLAG, CONF_STRING, "leafnode_host", NULL, NULL},
    {{"authorization"}, KEY_HANDLER, 0, NULL, authorization_apply, NULL},
    {{"advertise", "leafnode_advertise", "no_advertise"}, KEY_IGNORE, 0, NULL, NULL,
     "ionats tells leafs no other URLs"},
    {{"tls"}, KEY_HANDLER, 0, NULL, leafnodes_tls_apply, NULL},
    {{"min_version", "minimum_version"}, KEY_REFUSE, 0, NULL, NULL,
     "a minimum version for leafs is not supported yet"},
    {{"isolate_leafnode_interest", "isolate"}, KEY_REFUSE, 0, NULL, NULL,
     "interest isolation is not supported yet"},
    {{"compression"}, KEY_IGNORE, 0, NULL, NULL, "leafnode links are not compressed"},
    {{"dial_timeout", "write_deadline", "write_timeout"}, KEY_IGNORE, 0, NULL, NULL,
     "leafnode links use the clients' write deadline"},
};

/* ---- reload ---------------------------------------------------------------------------- */

static bool text_equal(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool texts_equal(const char *const *a, uint32_t a_count, const char *const *b,
                        uint32_t b_count)
{
    if (a_count != b_count) {
        return false;
    }
    for (uint32_t i = 0; i < a_count; i++) {
        if (!text_equal(a[i], b[i])) {
            return false;
        }
    }
    return true;
}

static bool tls_equal(const struct config_leaf_tls *a, const struct config_leaf_tls *b)
{
    return a->on == b->on && text_equal(a->cert_file, b->cert_file) &&
           text_equal(a->key_file, b->key_file) && text_equal(a->ca_file, b->ca_file) &&
           a->verify == b->verify && a->insecure == b->insecure &&
           a->handshake_first == b->handshake_first;
}

static bool remote_equal(const struct config_leaf_remote *a, const struct config_leaf_remote *b)
{
    return texts_equal(a->urls, a->url_count, b->urls, b->url_count) &&
           text_equal(a->account, b->account) && text_equal(a->credentials, b->credentials) &&
           text_equal(a->seed, b->seed) &&
           texts_equal(a->deny_imports, a->deny_import_count, b->deny_imports,
                       b->deny_import_count) &&
           texts_equal(a->deny_exports, a->deny_export_count, b->deny_exports,
                       b->deny_export_count) &&
           tls_equal(&a->tls, &b->tls);
}

bool config_leaf_equal(const struct config_leaf *a, const struct config_leaf *b)
{
    static const struct config_leaf none = {0};
    a = a != NULL ? a : &none;
    b = b != NULL ? b : &none;
    if (a->remote_count != b->remote_count || !text_equal(a->user, b->user) ||
        !text_equal(a->pass, b->pass) || !tls_equal(&a->tls, &b->tls)) {
        return false;
    }
    for (uint32_t r = 0; r < a->remote_count; r++) {
        if (!remote_equal(&a->remotes[r], &b->remotes[r])) {
            return false;
        }
    }
    return true;
}

void config_file_leafnodes(struct config_file_state *a, const struct config_file_rule *rule,
                           const char *key, const struct conf_node *value)
{
    if (config_file_type_is(a, key, value, CONF_MAP)) {
        config_file_map_apply(a, value, CONFIG_FILE_RULES(leafnodes_rules), false);
    }
}
