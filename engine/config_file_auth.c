/* The configuration file's authorization {} block: the single user and password or token
 * (set as the --user, --pass and --auth flags), the auth timeout, and the users list with
 * permissions (default_permissions for users without their own), built into the
 * configuration's struct auth_config (auth.h). nats-server's texts for every error
 * (opts.go's parseUsers, parseUserPermissions, parseAllowResponses, checkPermSubjectArray),
 * each at the value's file, line and column. Strings stay in the parsed file, which lives
 * as long as the configuration. Main thread only, before anything starts. */
#include "engine/config_file_internal.h"

#include "engine/auth.h"
#include "proto/go_json.h"
#include "proto/subject.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* nats-server warns when an authorization timeout exceeds this (seconds). */
enum { AUTH_TIMEOUT_HIGH_S = 60, QUOTED_SIZE = 512 };

/* Go's %q of `text` into `out`, cut at QUOTED_SIZE. */
static const char *quoted(char *out, const char *text, size_t length)
{
    struct go_json json;
    go_json_init_lent(&json, out, QUOTED_SIZE - 1);
    go_json_quote(&json, text, length);
    out[json.length] = '\0';
    return out;
}

static struct auth_config *auth_of(struct config_file_state *a, const struct conf_node *at)
{
    if (a->config->auth == NULL) {
        a->config->auth = auth_config_new();
        if (a->config->auth == NULL) {
            config_file_out_of_memory(a, at);
        }
    }
    return a->config->auth;
}

/* Go's %T of a configuration value, as nats-server's messages print it. */
static const char *go_type_name(const struct conf_node *value)
{
    switch (value->type) {
    case CONF_STRING:
        return "string";
    case CONF_BOOL:
        return "bool";
    case CONF_INTEGER:
        return "int64";
    case CONF_FLOAT:
        return "float64";
    case CONF_DATETIME:
        return "time.Time";
    case CONF_MAP:
        return "map[string]interface {}";
    case CONF_ARRAY:
        return "[]interface {}";
    }
    return "?";
}

/* ---- subjects and permissions ------------------------------------------------------------ */

/* nats-server's checkPermSubjectArray for one subject: a subject, or (for subscribe) a
 * subject and a queue separated by whitespace. */
static bool subject_entry_add(struct config_file_state *a, const struct conf_node *at,
                              struct auth_subjects *list, const char *text, bool allow_queue)
{
    char q[QUOTED_SIZE];
    size_t length = strlen(text);
    const char *queue = NULL;
    const char *subject = text;
    if (!subject_valid_for_sub(text, length)) {
        /* strings.Fields: split on runs of whitespace */
        const char *ws = " \t\r\n\v\f";
        const char *start = text + strspn(text, ws);
        size_t first = strcspn(start, ws);
        const char *second_start = start + first + strspn(start + first, ws);
        size_t second = strcspn(second_start, ws);
        const char *rest = second_start + second + strspn(second_start + second, ws);
        if (!allow_queue || first == 0 || second == 0 || *rest != '\0') {
            config_file_error(a, at, "subject %s is not a valid subject", quoted(q, text, length));
            return false;
        }
        if (!subject_valid_for_sub(start, first)) {
            config_file_error(a, at, "subject %s is not a valid subject", quoted(q, start, first));
            return false;
        }
        if (!subject_valid_for_sub(second_start, second)) {
            config_file_error(a, at, "queue %s is not a valid queue",
                              quoted(q, second_start, second));
            return false;
        }
        subject = conf_doc_strdup(a->doc, start, first);
        queue = conf_doc_strdup(a->doc, second_start, second);
        if (subject == NULL || queue == NULL) {
            config_file_out_of_memory(a, at);
            return false;
        }
    }
    int rc = auth_subjects_add(list, subject, queue);
    if (rc == -E2BIG) {
        config_file_error(a, at, "more than %d subjects in one permission list", AUTH_SUBJECTS_MAX);
        return false;
    }
    if (rc != 0) {
        config_file_out_of_memory(a, at);
        return false;
    }
    return true;
}

/* nats-server's parsePermSubjects: a subject or an array of subjects. */
static void subjects_apply(struct config_file_state *a, const struct conf_node *value,
                           struct auth_subjects *list, bool allow_queue)
{
    list->present = true;
    if (value->type == CONF_STRING) {
        subject_entry_add(a, value, list, value->as.string.bytes, allow_queue);
        return;
    }
    if (value->type != CONF_ARRAY) {
        config_file_error(a, value,
                          "Expected subject permissions to be a subject, or array of subjects, "
                          "got %s",
                          go_type_name(value));
        return;
    }
    for (size_t i = 0; i < value->as.array.count; i++) {
        const struct conf_node *item = value->as.array.items[i];
        if (item->type != CONF_STRING) {
            config_file_error(a, item, "Subject in permissions array cannot be cast to string");
            return;
        }
        if (!subject_entry_add(a, item, list, item->as.string.bytes, allow_queue)) {
            return;
        }
    }
}

/* nats-server's parseVariablePermissions: {allow, deny}, or the old style (an allow list). */
static void variable_permissions_apply(struct config_file_state *a, const struct conf_node *value,
                                       struct auth_subjects *allow, struct auth_subjects *deny,
                                       bool allow_queue)
{
    if (value->type != CONF_MAP) {
        subjects_apply(a, value, allow, allow_queue);
        return;
    }
    for (size_t i = 0; i < value->as.map.count; i++) {
        const struct conf_member *member = &value->as.map.members[i];
        if (strcasecmp(member->key, "allow") == 0) {
            subjects_apply(a, member->value, allow, allow_queue);
        } else if (strcasecmp(member->key, "deny") == 0) {
            subjects_apply(a, member->value, deny, allow_queue);
        } else if (!member->value->variable_used) {
            char q[QUOTED_SIZE];
            config_file_error(a, member->value,
                              "Unknown field name %s parsing subject permissions, only 'allow' "
                              "or 'deny' are permitted",
                              quoted(q, member->key, member->key_length));
        }
    }
}

/* nats-server's parseAllowResponses: true (the defaults), false, or {max, expires}. */
static void responses_apply(struct config_file_state *a, const struct conf_node *value,
                            struct auth_permissions *p)
{
    if (value->type == CONF_BOOL) {
        p->responses = value->as.boolean;
        return;
    }
    if (value->type != CONF_MAP) {
        config_file_error(a, value,
                          "error parsing response permissions, expected a boolean or a map");
        return;
    }
    p->responses = true;
    for (size_t i = 0; i < value->as.map.count; i++) {
        const struct conf_member *member = &value->as.map.members[i];
        const struct conf_node *v = member->value;
        const char *key = member->key;
        if (strcasecmp(key, "max") == 0 || strcasecmp(key, "max_msgs") == 0 ||
            strcasecmp(key, "max_messages") == 0 || strcasecmp(key, "max_responses") == 0) {
            if (!config_file_type_is(a, key, v, CONF_INTEGER)) {
                return;
            }
            if (v->as.integer != 0) { /* 0: the default; negative: unlimited */
                p->responses_max = v->as.integer;
            }
        } else if (strcasecmp(key, "expires") == 0 || strcasecmp(key, "expiration") == 0 ||
                   strcasecmp(key, "ttl") == 0) {
            if (v->type != CONF_STRING) {
                config_file_error(a, v, "error parsing expires, not a duration string");
                p->responses = false;
                return;
            }
            int64_t ns = 0;
            char reason[160];
            if (conf_duration_parse(v->as.string.bytes, &ns, reason, sizeof reason) != 0) {
                config_file_error(a, v, "error parsing expires: %s", reason);
                p->responses = false;
                return;
            }
            if (ns != 0) {
                p->responses_ttl_ns = ns;
            }
        } else if (!v->variable_used) {
            char q[QUOTED_SIZE];
            config_file_error(a, v, "Unknown field %s parsing permissions",
                              quoted(q, key, member->key_length));
        }
    }
}

/* nats-server's parseUserPermissions. NULL when the value is not a map. */
static const struct auth_permissions *permissions_parse(struct config_file_state *a,
                                                        const struct conf_node *value)
{
    if (value->type != CONF_MAP) {
        config_file_error(a, value, "Expected permissions to be a map/struct, got %s",
                          go_type_name(value));
        return NULL;
    }
    struct auth_config *auth = auth_of(a, value);
    struct auth_permissions *p = auth != NULL ? auth_permissions_new(auth) : NULL;
    if (p == NULL) {
        config_file_out_of_memory(a, value);
        return NULL;
    }
    for (size_t i = 0; i < value->as.map.count; i++) {
        const struct conf_member *member = &value->as.map.members[i];
        const char *key = member->key;
        if (strcasecmp(key, "pub") == 0 || strcasecmp(key, "publish") == 0 ||
            strcasecmp(key, "import") == 0) {
            variable_permissions_apply(a, member->value, &p->pub_allow, &p->pub_deny, false);
        } else if (strcasecmp(key, "sub") == 0 || strcasecmp(key, "subscribe") == 0 ||
                   strcasecmp(key, "export") == 0) {
            variable_permissions_apply(a, member->value, &p->sub_allow, &p->sub_deny, true);
        } else if (strcasecmp(key, "publish_allow_responses") == 0 ||
                   strcasecmp(key, "allow_responses") == 0) {
            responses_apply(a, member->value, p);
        } else if (!member->value->variable_used) {
            char q[QUOTED_SIZE];
            config_file_error(a, member->value, "Unknown field %s parsing permissions",
                              quoted(q, key, member->key_length));
        }
    }
    return p;
}

/* ---- users ------------------------------------------------------------------------------- */

static void user_string_apply(struct config_file_state *a, const struct config_file_rule *rule,
                              const char *key, const struct conf_node *value)
{
    struct auth_user *user = a->entry;
    if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    const char *text = value->as.string.length > 0 ? value->as.string.bytes : NULL;
    if (strcmp(rule->names[0], "nkey") == 0) {
        user->nkey = text;
    } else if (strcmp(rule->names[0], "user") == 0) {
        user->name = text;
    } else {
        user->password = text;
    }
}

static void user_permissions_apply(struct config_file_state *a, const struct config_file_rule *rule,
                                   const char *key, const struct conf_node *value)
{
    struct auth_user *user = a->entry;
    user->permissions = permissions_parse(a, value);
}

/* allowed_connection_types: nats-server's names; ionats serves STANDARD clients only, so a
 * list without STANDARD shuts the user out (as nats-server does for such a client). */
static void user_connection_types_apply(struct config_file_state *a,
                                        const struct config_file_rule *rule, const char *key,
                                        const struct conf_node *value)
{
    static const char *const known[] = {"STANDARD", "WEBSOCKET", "LEAFNODE",  "LEAFNODE_WS",
                                        "MQTT",     "MQTT_WS",   "IN_PROCESS"};
    struct auth_user *user = a->entry;
    if (!config_file_type_is(a, key, value, CONF_ARRAY)) {
        return;
    }
    bool standard = value->as.array.count == 0; /* empty: every type */
    for (size_t i = 0; i < value->as.array.count; i++) {
        const struct conf_node *item = value->as.array.items[i];
        if (!config_file_type_is(a, key, item, CONF_STRING)) {
            return;
        }
        bool found = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
            found = found || strcasecmp(item->as.string.bytes, known[k]) == 0;
        }
        if (!found) {
            char q[QUOTED_SIZE];
            config_file_error(a, item, "unknown connection type %s",
                              quoted(q, item->as.string.bytes, item->as.string.length));
            return;
        }
        standard = standard || strcasecmp(item->as.string.bytes, "STANDARD") == 0;
    }
    user->standard_denied = !standard;
}

static const struct config_file_rule user_rules[] = {
    {{"nkey"}, KEY_HANDLER, 0, NULL, user_string_apply, NULL},
    {{"user", "username"}, KEY_HANDLER, 0, NULL, user_string_apply, NULL},
    {{"pass", "password"}, KEY_HANDLER, 0, NULL, user_string_apply, NULL},
    {{"permission", "permissions", "authorization"},
     KEY_HANDLER,
     0,
     NULL,
     user_permissions_apply,
     NULL},
    {{"allowed_connection_types", "connection_types", "clients"},
     KEY_HANDLER,
     0,
     NULL,
     user_connection_types_apply,
     NULL},
    {{"proxy_required"}, KEY_OFF, 0, NULL, NULL, "proxies are not supported yet"},
    {{"account"}, KEY_REFUSE, 0, NULL, NULL, "accounts are not supported yet"},
};

static bool user_duplicate(const struct auth_config *auth, const struct auth_user *user)
{
    for (uint32_t i = 0; i < auth->user_count; i++) {
        const struct auth_user *other = &auth->users[i];
        if ((user->name != NULL && other->name != NULL && strcmp(user->name, other->name) == 0) ||
            (user->nkey != NULL && other->nkey != NULL && strcmp(user->nkey, other->nkey) == 0)) {
            return true;
        }
    }
    return false;
}

/* One entry of the users list, checked as nats-server's parseUsers and duplicate check. */
static void user_entry_apply(struct config_file_state *a, struct auth_config *auth,
                             const struct conf_node *item, const struct conf_node *list)
{
    char q[QUOTED_SIZE];
    struct auth_user user = {0};
    a->entry = &user;
    config_file_map_apply(a, item, CONFIG_FILE_RULES(user_rules), false);
    a->entry = NULL;
    const char *identity = user.nkey != NULL ? user.nkey : user.name;
    if (identity == NULL) {
        config_file_error(a, item, "User entry requires a user");
        return;
    }
    if (user.nkey != NULL) {
        if (!nkey_public_decode(user.nkey, strlen(user.nkey), NKEY_TYPE_USER, user.nkey_key)) {
            config_file_error(a, item, "Not a valid public nkey for a user");
            return;
        }
        if (user.name != NULL || user.password != NULL) {
            config_file_error(a, item, "Nkey users do not take usernames or passwords");
            return;
        }
    }
    if (user_duplicate(auth, &user)) {
        config_file_error(a, list, "Duplicate %s %s detected", user.nkey != NULL ? "nkey" : "user",
                          quoted(q, identity, strlen(identity)));
        return;
    }
    int rc = auth_user_add(auth, &user);
    if (rc == -E2BIG) {
        config_file_error(a, item, "more than %d users", AUTH_USERS_MAX);
    } else if (rc != 0) {
        config_file_out_of_memory(a, item);
    }
}

static void users_apply(struct config_file_state *a, const struct config_file_rule *rule,
                        const char *key, const struct conf_node *value)
{
    if (value->type != CONF_ARRAY) {
        config_file_error(a, value, "Expected users field to be an array, got %s",
                          go_type_name(value));
        return;
    }
    struct auth_config *auth = auth_of(a, value);
    if (auth == NULL) {
        return;
    }
    auth->users_given = true;
    for (size_t i = 0; i < value->as.array.count; i++) {
        const struct conf_node *item = value->as.array.items[i];
        if (item->type != CONF_MAP) {
            config_file_error(a, item, "Expected user entry to be a map/struct, got %s",
                              go_type_name(item));
            continue;
        }
        user_entry_apply(a, auth, item, value);
    }
}

static void default_permissions_apply(struct config_file_state *a,
                                      const struct config_file_rule *rule, const char *key,
                                      const struct conf_node *value)
{
    const struct auth_permissions *p = permissions_parse(a, value);
    if (p != NULL) {
        a->config->auth->default_permissions = p;
    }
}

/* A secret: plain, or a bcrypt hash ($2a$, $2b$...) compared as nats-server does. */
static void secret_apply(struct config_file_state *a, const struct config_file_rule *rule,
                         const char *key, const struct conf_node *value)
{
    if (config_file_type_is(a, key, value, CONF_STRING)) {
        config_file_flag(a, rule->flag, key, value);
    }
}

/* nats-server's timeout: seconds (integer or float) or a duration string; 0 keeps the
 * default. */
static void auth_timeout_apply(struct config_file_state *a, const struct config_file_rule *rule,
                               const char *key, const struct conf_node *value)
{
    double seconds = 0;
    char reason[160];
    int64_t ns = 0;
    if (value->type == CONF_INTEGER) {
        seconds = (double)value->as.integer;
    } else if (value->type == CONF_FLOAT) {
        seconds = value->as.real;
    } else if (value->type == CONF_STRING) {
        if (conf_duration_parse(value->as.string.bytes, &ns, reason, sizeof reason) != 0) {
            config_file_error(a, value, "error parsing authorization config, 'timeout' %s", reason);
            return;
        }
        seconds = (double)ns / 1e9;
    } else {
        config_file_error(a, value, "error parsing authorization config, 'timeout' wrong type");
        return;
    }
    if (seconds > AUTH_TIMEOUT_HIGH_S) {
        char written[64];
        if (value->type == CONF_STRING) {
            snprintf(written, sizeof written, "%s", value->as.string.bytes);
        } else {
            snprintf(written, sizeof written, "%g", seconds);
        }
        config_file_warning(a, value,
                            "invalid use of field \"%s\": timeout of %s (%f seconds) is "
                            "high, consider keeping it under 60 seconds. possibly caused by "
                            "unquoted duration; use '1m' instead of 1m, for example",
                            key, written, seconds);
    }
    if (seconds == 0) {
        return;
    }
    config_file_seconds(a, "auth_timeout", key, value, seconds);
}

static const struct config_file_rule authorization_rules[] = {
    {{"user", "username"}, KEY_HANDLER, 0, "user", secret_apply, NULL},
    {{"pass", "password"}, KEY_HANDLER, 0, "pass", secret_apply, NULL},
    {{"token"}, KEY_HANDLER, 0, "auth", secret_apply, NULL},
    {{"timeout"}, KEY_HANDLER, 0, NULL, auth_timeout_apply, NULL},
    {{"users"}, KEY_HANDLER, 0, NULL, users_apply, NULL},
    {{"permissions", "default_permission", "default_permissions"},
     KEY_HANDLER,
     0,
     NULL,
     default_permissions_apply,
     NULL},
    {{"auth_callout", "auth_hook"}, KEY_REFUSE, 0, NULL, NULL, "auth callout is not supported yet"},
    {{"proxy_required"}, KEY_OFF, 0, NULL, NULL, "proxies are not supported yet"},
};

void config_file_authorization(struct config_file_state *a, const struct config_file_rule *rule,
                               const char *key, const struct conf_node *value)
{
    if (!config_file_type_is(a, key, value, CONF_MAP)) {
        return;
    }
    config_file_map_apply(a, value, CONFIG_FILE_RULES(authorization_rules), false);
    const struct config *config = a->config;
    if ((config->user != NULL || config->pass != NULL) && config->token != NULL) {
        config_file_error(a, value, "Cannot have a user/pass and token");
        return;
    }
    if (config->auth != NULL && config->auth->users_given) {
        if (config->user != NULL) {
            config_file_error(a, value, "Can not have a single user/pass and a users array");
        } else if (config->token != NULL) {
            config_file_error(a, value, "Can not have a token and a users array");
        }
    }
}

void config_file_no_auth_user(struct config_file_state *a, const struct config_file_rule *rule,
                              const char *key, const struct conf_node *value)
{
    if (!config_file_type_is(a, key, value, CONF_STRING)) {
        return;
    }
    struct auth_config *auth = auth_of(a, value);
    if (auth != NULL) {
        auth->no_auth_user = value->as.string.bytes;
        a->no_auth_user = value;
    }
}

/* nats-server's validateNoAuthUser, once the whole file is read; then the users get their
 * default permissions. */
void config_file_auth_finish(struct config_file_state *a)
{
    struct auth_config *auth = a->config->auth;
    if (auth == NULL) {
        return;
    }
    const char *name = auth->no_auth_user;
    if (name != NULL && name[0] != '\0') {
        bool found = false;
        for (uint32_t i = 0; i < auth->user_count && !found; i++) {
            const struct auth_user *user = &auth->users[i];
            found = (user->name != NULL && strcmp(user->name, name) == 0) ||
                    (user->nkey != NULL && strcmp(user->nkey, name) == 0);
        }
        if (!auth->users_given) {
            config_file_error(a, a->no_auth_user,
                              "no_auth_user: \"%s\" present, but users/nkeys are not defined",
                              name);
        } else if (!found) {
            config_file_error(a, a->no_auth_user,
                              "no_auth_user: \"%s\" not present as user or nkey in authorization "
                              "block or account configuration",
                              name);
        }
    }
    auth_config_finish(auth);
}
