/* Who may connect and what each may do, as nats-server decides it: the single user and
 * password or token of the flags (or authorization {}), or the users list of the
 * configuration file (name and password, plain or bcrypt; nkeys, proven by an ed25519
 * signature of the nonce sent in INFO), each with its publish and subscribe permissions
 * (allow and deny lists with wildcards, queue groups, allow_responses).
 *
 * The one idea: struct auth_config is built once from the configuration on the main
 * thread before the shards start and never changes after, so every shard reads it without
 * locks; what a connection learns as it runs (the reply subjects it may answer) is the
 * connection's own, kept by its home shard (auth_replies). */
#ifndef IONATS_ENGINE_AUTH_H
#define IONATS_ENGINE_AUTH_H

#include "proto/connect.h"
#include "proto/nkey.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


/* nats-server's defaults for allow_responses: one response, within two minutes. */
#define AUTH_RESPONSES_MAX_DEFAULT 1
#define AUTH_RESPONSES_EXPIRES_NS_DEFAULT (2LL * 60 * 1000000000LL)
/* The nonce INFO carries for nkey users: 11 random bytes, 15 characters of URL-safe base64
 * without padding, as nats-server sends. */
enum { AUTH_NONCE_BYTES = 11, AUTH_NONCE_LENGTH = 15 };
/* Reply subjects one connection may be waiting to answer (allow_responses); past this the
 * oldest is forgotten (nats-server keeps them until they expire or are used). */
enum { AUTH_REPLIES_MAX = 65536 };
/* Subjects in one allow or deny list, and users in the file: bounds on what a file makes
 * every check walk. */
enum { AUTH_SUBJECTS_MAX = 4096, AUTH_USERS_MAX = 65536 };

/* One allow or deny list. `present` with no entries is a list that matches nothing (an
 * allow list that admits nothing); absent, the list has no say. */
struct auth_subjects {
    bool present;
    uint32_t count;
    const char **subjects; /* borrowed from the configuration; owned array */
    const char **queues;   /* subscribe lists: the queue of "subject queue", else NULL */
};

struct auth_permissions {
    struct auth_subjects pub_allow;
    struct auth_subjects pub_deny;
    struct auth_subjects sub_allow;
    struct auth_subjects sub_deny;
    bool responses;           /* allow_responses: may publish to replies it received */
    int64_t responses_max;    /* per reply; < 0: unlimited */
    int64_t responses_ttl_ns; /* < 0: never expire */
};

struct auth_user {
    const char *name;     /* borrowed; NULL for an nkey user */
    const char *password; /* borrowed; plain or bcrypt; NULL: none given */
    const char *nkey;     /* borrowed; the public key text of an nkey user, else NULL */
    uint8_t nkey_key[NKEY_KEY_SIZE];
    const struct auth_permissions *permissions; /* NULL: everything allowed */
    bool standard_denied; /* allowed_connection_types leaves out STANDARD clients */
};

struct auth_config {
    struct auth_user *users;
    uint32_t user_count;
    uint32_t user_capacity;
    bool users_given;                      /* `users` appeared, even empty: auth is required */
    struct auth_permissions **permissions; /* owned: every set the users point to */
    uint32_t permissions_count;
    const struct auth_permissions *default_permissions; /* for users without their own */
    const char *no_auth_user;                           /* borrowed; NULL: none */
    bool has_nkeys;
};

/* ---- building (main thread, from the configuration) ------------------------------------ */

struct auth_config *auth_config_new(void);
void auth_config_free(struct auth_config *auth);

/* A new, empty permission set owned by `auth`; NULL when out of memory. */
struct auth_permissions *auth_permissions_new(struct auth_config *auth);

/* Appends `subject` (and `queue`, or NULL) to `list`. -ENOMEM, or -E2BIG past
 * AUTH_SUBJECTS_MAX. */
int auth_subjects_add(struct auth_subjects *list, const char *subject, const char *queue);

/* Appends a user (copied); -ENOMEM, or -E2BIG past AUTH_USERS_MAX. */
int auth_user_add(struct auth_config *auth, const struct auth_user *user);

/* Gives default_permissions to the users without permissions of their own, and
 * allow_responses its implied empty publish allow list, as nats-server does once the
 * block is read. */
void auth_config_finish(struct auth_config *auth);


/* ---- deciding (any shard) --------------------------------------------------------------- */



/* Fills `nonce` (at least AUTH_NONCE_LENGTH + 1 bytes) with a fresh random nonce. */
void auth_nonce_make(char *nonce, size_t size);

/* How a check of credentials ends: in, out, or on a bcrypt comparison that is left to the
 * caller (it takes tens of milliseconds: a shard hands it to the crypt worker). */
enum auth_verdict { AUTH_DENIED, AUTH_GRANTED, AUTH_BCRYPT };

/* The comparison an AUTH_BCRYPT verdict leaves: `given` hashed with the salt and cost of
 * `hash` must give `hash`; the client is then in with the permissions the verdict set,
 * unless `deny` (a name that does not exist: the work is done so that the answer takes as
 * long as for a wrong password, and the answer is no). */
struct auth_bcrypt {
    const char *hash;  /* borrowed from the configuration (kept until exit) */
    const char *given; /* borrowed from the CONNECT options ("" when absent) */
    bool deny;
};

/* The users list's check of CONNECT's credentials (nkeys, then names; auth_check.c calls
 * it), with the permission set in `*permissions` for AUTH_GRANTED and AUTH_BCRYPT. */
enum auth_verdict auth_users_decide(const struct auth_config *auth,
                                    const struct connect_options *options, const char *nonce,
                                    const struct auth_permissions **permissions,
                                    struct auth_bcrypt *bcrypt);

/* Runs the comparison of an AUTH_BCRYPT verdict: true when the client is in. Any thread. */
bool auth_bcrypt_run(const struct auth_bcrypt *bcrypt);

/* True when `secret` is a bcrypt hash, as nats-server tells ($2a$, $2b$, $2x$, $2y$). */
bool auth_is_bcrypt(const char *secret);

/* Compares secrets in time independent of where they differ. */
bool auth_secret_equals(const char *given, const char *expected);

/* True when a password matches the configured one (bcrypt or plain, in constant time). */
bool auth_password_matches(const char *configured, const char *given);

/* ---- permissions (auth_perm.c; any shard, on its own connections) ---------------------- */

/* The publish permission by the allow and deny lists alone. */
bool auth_publish_allowed(const struct auth_permissions *permissions, const char *subject,
                          size_t length);

/* The subscribe permission for `subject` and `queue` (queue_length 0: none). */
bool auth_subscribe_allowed(const struct auth_permissions *permissions, const char *subject,
                            size_t length, const char *queue, size_t queue_length);

/* True when a message on literal `subject` must not be delivered to this connection: a
 * wildcard subscription admitted it, and the subscribe deny list names it. */
bool auth_delivery_denied(const struct auth_permissions *permissions, const char *subject,
                          size_t length);

/* The reply subjects one connection received and may answer under allow_responses. */
struct auth_replies;

struct auth_replies *auth_replies_new(void);
void auth_replies_free(struct auth_replies *replies);

/* Notes a reply subject delivered to the connection at `now_ns`. False when out of memory
 * (the reply then cannot be answered). */
bool auth_replies_note(struct auth_replies *replies, const char *reply, size_t length,
                       uint64_t hash, int64_t now_ns);

/* True when the connection may publish to `subject` as a response now; counts the use. */
bool auth_replies_use(struct auth_replies *replies, const struct auth_permissions *permissions,
                      const char *subject, size_t length, uint64_t hash, int64_t now_ns);

#endif
