/* What the configuration file's two files share, and nobody else uses: the state of one
 * config_file_apply, the rules a table holds for its keys, and the steps every handler is
 * written with (messages with file:line:col, a value set as a flag, a map applied by a
 * table).
 *
 * The one idea: config_file.c owns the rules' engine, the top level's table and its
 * handlers (listen, http, server_name, store_dir) and the reading of the file;
 * config_file_block.c owns the blocks with tables of their own, jetstream {} and
 * streaming {}; config_file_auth.c owns authorization {} (users and permissions). Main
 * thread only, before anything starts. */
#ifndef IONATS_ENGINE_CONFIG_FILE_INTERNAL_H
#define IONATS_ENGINE_CONFIG_FILE_INTERNAL_H

#include "engine/config.h"
#include "proto/conf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* One config_file_apply's state. */
struct config_file_state {
    struct config *config;
    struct conf_doc *doc; /* owned until handed to the config */
    FILE *err;
    int error_count;
    int warning_count;
    bool store_dir_set; /* store_dir was given once (top level or in jetstream {}) */
    const struct conf_node *no_auth_user; /* where no_auth_user was given, if it was */
    void *entry; /* what a block's handlers fill while its table applies one entry (a user
                  * of authorization {}'s users list) */
};

/* What a table says about a key. */
enum config_file_action {
    KEY_FLAG,    /* the value, of `type`, sets `flag` */
    KEY_HANDLER, /* `handler` reads the value */
    KEY_REFUSE,  /* an error: `why` */
    KEY_OFF,     /* refused (`why`) unless it is `false`, which asks for what ionats does */
    KEY_IGNORE,  /* a note: `why` */
};

struct config_file_rule;

typedef void (*config_file_handler)(struct config_file_state *a,
                                    const struct config_file_rule *rule, const char *key,
                                    const struct conf_node *value);

struct config_file_rule {
    const char *names[5]; /* lower case, as nats-server matches them */
    enum config_file_action action;
    enum conf_type type; /* KEY_FLAG: what nats-server takes */
    const char *flag;    /* KEY_FLAG: the flag it sets */
    config_file_handler handler;
    const char *why;
};

/* A table and its length, as config_file_map_apply takes them. */
#define CONFIG_FILE_RULES(table) (table), sizeof(table) / sizeof((table)[0])

/* ---- messages (config_file.c) ---------------------------------------------------------- */

/* An error at `at`'s place; counted, so the file is refused once all are said. */
void config_file_error(struct config_file_state *a, const struct conf_node *at,
                       const char *format, ...) __attribute__((format(printf, 3, 4)));

/* A warning at `at`'s place; counted (-t fails on one). */
void config_file_warning(struct config_file_state *a, const struct conf_node *at,
                         const char *format, ...) __attribute__((format(printf, 3, 4)));

void config_file_out_of_memory(struct config_file_state *a, const struct conf_node *at);

/* ---- values and rules (config_file.c) -------------------------------------------------- */

/* Sets ionats's flag `flag` from the file's value (errors say where). */
void config_file_flag(struct config_file_state *a, const char *flag, const char *key,
                      const struct conf_node *value);

/* True when `value` is of `type`; else an error that names both. */
bool config_file_type_is(struct config_file_state *a, const char *key,
                         const struct conf_node *value, enum conf_type type);

/* nats-server's parseDuration: a duration string, or (with a warning) seconds. */
void config_file_duration(struct config_file_state *a, const char *flag, const char *key,
                          const struct conf_node *value);

/* Sets duration flag `flag` to `seconds`, nats-server's float seconds (`value` names the
 * place for errors). */
void config_file_seconds(struct config_file_state *a, const char *flag, const char *key,
                         const struct conf_node *value, double seconds);

/* Applies every member of a map by `rules`. Keys are matched in lower case. */
void config_file_map_apply(struct config_file_state *a, const struct conf_node *map,
                           const struct config_file_rule *rules, size_t count,
                           bool flags_allowed);

/* A listen value (a port, or "host:port") into the flags `host_flag` and `port_flag`. */
void config_file_listen(struct config_file_state *a, const char *key,
                        const struct conf_node *value, const char *host_flag,
                        const char *port_flag);

/* store_dir, at the top level or in jetstream {}: a string, given once. */
void config_file_store_dir(struct config_file_state *a, const char *key,
                           const struct conf_node *value);

/* ---- blocks (config_file_block.c): handlers of the top level's table ------------------- */

void config_file_authorization(struct config_file_state *a, const struct config_file_rule *rule,
                               const char *key, const struct conf_node *value);
void config_file_no_auth_user(struct config_file_state *a, const struct config_file_rule *rule,
                              const char *key, const struct conf_node *value);
void config_file_tls(struct config_file_state *a, const struct config_file_rule *rule,
                     const char *key, const struct conf_node *value);
void config_file_jetstream(struct config_file_state *a, const struct config_file_rule *rule,
                           const char *key, const struct conf_node *value);
void config_file_streaming(struct config_file_state *a, const struct config_file_rule *rule,
                           const char *key, const struct conf_node *value);
/* config_file_leaf.c: leafnodes {} (the remotes). */
void config_file_leafnodes(struct config_file_state *a, const struct config_file_rule *rule,
                           const char *key, const struct conf_node *value);

/* Checks what only the whole file shows (no_auth_user names a user) and completes the
 * users (config_file_auth.c). */
void config_file_auth_finish(struct config_file_state *a);

#endif
