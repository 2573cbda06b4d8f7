/* CONNECT parsing and INFO building: see connect.h.
 *
 * INFO is what nats-server 2.x sends, key order kept:
 *   INFO {"server_id":…,"server_name":…,"version":…,"proto":1,"go":…,"host":…,"port":N,
 *   "headers":true,"max_payload":N[,"jetstream":true][,"auth_required":true]
 *   [,"tls_required":true][,"tls_verify":true],"client_id":N,"client_ip":…
 *   [,"nonce":…]} \r\n
 * (a space before CRLF, as the reference sends it). */
#include "proto/connect.h"

#include "base/assert.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* INFO reports the runtime it was built with; clients only display it. */
static const char INFO_GO_FIELD[] = "ionats";

/* Reads a boolean key; a value of another type makes the CONNECT invalid, as nats-server's
 * typed decoding does. */
static bool json_flag(json_t *object, const char *key, bool absent_value, bool *typed)
{
    json_t *value = json_object_get(object, key);
    if (value == NULL || json_is_null(value)) {
        return absent_value;
    }
    if (!json_is_boolean(value)) {
        *typed = false;
    }
    return json_is_true(value);
}

/* True when every known string key holds a string (or null) and protocol a number. */
static bool json_strings_typed(json_t *object)
{
    static const char *const string_keys[] = {"name", "lang", "version", "user", "pass",
                                              "auth_token", "jwt", "nkey", "sig"};
    for (size_t i = 0; i < sizeof string_keys / sizeof string_keys[0]; i++) {
        json_t *value = json_object_get(object, string_keys[i]);
        if (value != NULL && !json_is_null(value) && !json_is_string(value)) {
            return false;
        }
    }
    json_t *protocol = json_object_get(object, "protocol");
    return protocol == NULL || json_is_null(protocol) || json_is_integer(protocol);
}

static void json_label(json_t *object, const char *key, char *target, size_t size)
{
    const char *text = json_string_value(json_object_get(object, key));
    snprintf(target, size, "%s", text ? text : "");
}

/* Copies a credential whole; *target stays NULL when the key is absent or empty (an
 * empty credential is no credential to nats-server). */
static int json_secret(json_t *object, const char *key, char **target)
{
    json_t *value = json_object_get(object, key);
    if (!json_is_string(value) || json_string_length(value) == 0) {
        return 0;
    }
    *target = strndup(json_string_value(value), json_string_length(value));
    return *target ? 0 : CONNECT_ERR_NO_MEMORY;
}

int connect_options_parse(const char *json, size_t length, struct connect_options *options)
{
    memset(options, 0, sizeof *options);
    json_error_t error;
    json_t *root = json_loadb(json, length, 0, &error);
    if (root == NULL) {
        return CONNECT_ERR_JSON;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return CONNECT_ERR_JSON;
    }
    bool typed = json_strings_typed(root);
    options->verbose = json_flag(root, "verbose", true, &typed);
    options->pedantic = json_flag(root, "pedantic", true, &typed);
    options->echo = json_flag(root, "echo", true, &typed);
    options->headers = json_flag(root, "headers", false, &typed);
    options->no_responders = json_flag(root, "no_responders", false, &typed);
    json_flag(root, "tls_required", false, &typed);
    if (!typed) {
        json_decref(root);
        return CONNECT_ERR_JSON;
    }
    json_t *protocol = json_object_get(root, "protocol");
    json_int_t protocol_value = json_is_integer(protocol) ? json_integer_value(protocol) : 0;
    /* range-checked before narrowing, so 2^32 + 1 is not read as 1 */
    options->protocol = (protocol_value < 0 || protocol_value > CONNECT_PROTOCOL_MAX)
                            ? -1
                            : (int)protocol_value;
    json_label(root, "name", options->name, sizeof options->name);
    json_label(root, "lang", options->lang, sizeof options->lang);
    json_label(root, "version", options->version, sizeof options->version);
    int rc = json_secret(root, "user", &options->user);
    if (rc == 0) {
        rc = json_secret(root, "pass", &options->pass);
    }
    if (rc == 0) {
        rc = json_secret(root, "auth_token", &options->auth_token);
    }
    if (rc == 0) {
        rc = json_secret(root, "nkey", &options->nkey);
    }
    if (rc == 0) {
        rc = json_secret(root, "sig", &options->sig);
    }
    json_decref(root);
    if (rc == 0 && (options->protocol < 0 || options->protocol > CONNECT_PROTOCOL_MAX)) {
        rc = CONNECT_ERR_PROTOCOL;
    }
    if (rc != 0) {
        connect_options_free(options);
    }
    return rc;
}

void connect_options_free(struct connect_options *options)
{
    free(options->user);
    free(options->pass);
    free(options->auth_token);
    free(options->nkey);
    free(options->sig);
    options->nkey = NULL;
    options->sig = NULL;
    options->user = NULL;
    options->pass = NULL;
    options->auth_token = NULL;
}

char *info_prefix_build(const struct info_server *server)
{
    json_t *info = json_object();
    if (info == NULL) {
        return NULL;
    }
    json_object_set_new(info, "server_id", json_string(server->server_id));
    json_object_set_new(info, "server_name", json_string(server->server_name));
    json_object_set_new(info, "version", json_string(server->version));
    json_object_set_new(info, "proto", json_integer(CONNECT_PROTOCOL_MAX));
    json_object_set_new(info, "go", json_string(INFO_GO_FIELD));
    json_object_set_new(info, "host", json_string(server->host));
    json_object_set_new(info, "port", json_integer(server->port));
    json_object_set_new(info, "headers", json_true());
    json_object_set_new(info, "max_payload", json_integer(server->max_payload));
    if (server->jetstream) {
        json_object_set_new(info, "jetstream", json_true());
    }
    if (server->auth_required) {
        json_object_set_new(info, "auth_required", json_true());
    }
    if (server->tls_required) {
        json_object_set_new(info, "tls_required", json_true());
    }
    if (server->tls_verify) {
        json_object_set_new(info, "tls_verify", json_true());
    }
    char *body = json_dumps(info, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(info);
    if (body == NULL) {
        return NULL;
    }
    size_t body_length = strlen(body);
    ASSERT(body_length >= 2);
    ASSERT(body[body_length - 1] == '}');
    body[body_length - 1] = '\0'; /* the per-client fields and the '}' follow */
    size_t size = sizeof "INFO " + body_length;
    char *prefix = malloc(size);
    if (prefix != NULL) {
        snprintf(prefix, size, "INFO %s", body);
    }
    free(body);
    return prefix;
}

size_t info_tail_write(char *buffer, size_t size, uint64_t client_id, const char *client_ip,
                       const char *nonce, bool lame_duck)
{
    int n = snprintf(buffer, size, ",\"client_id\":%llu,\"client_ip\":\"%s\"%s%s%s%s} \r\n",
                     (unsigned long long)client_id, client_ip, nonce != NULL ? ",\"nonce\":\"" : "",
                     nonce != NULL ? nonce : "", nonce != NULL ? "\"" : "",
                     lame_duck ? ",\"ldm\":true" : "");
    if (n < 0 || (size_t)n >= size) {
        return 0;
    }
    return (size_t)n;
}

void info_server_id_make(char *server_id, size_t size, const uint64_t random_words[4])
{
    /* An LCG step per character spreads the 256 random bits over all 55 characters. */
    enum { SERVER_ID_LENGTH = 56, ALPHABET_BITS = 5, WORD_BITS = 64 };
    static const uint64_t LCG_MULTIPLIER = 6364136223846793005ULL;
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    ASSERT(size > SERVER_ID_LENGTH);
    uint64_t state = random_words[0];
    server_id[0] = 'N';
    for (int i = 1; i < SERVER_ID_LENGTH; i++) {
        state = state * LCG_MULTIPLIER + (random_words[i % 4] | 1);
        server_id[i] = alphabet[state >> (WORD_BITS - ALPHABET_BITS)];
    }
    server_id[SERVER_ID_LENGTH] = '\0';
}
