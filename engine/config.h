/* The broker's settings: every command-line flag, its default and its parser, and the
 * configuration file (-c, config_file.c) in nats-server's format.
 *
 * Flags are spelled the way nats-server spells them and accept `-flag value`,
 * `--flag value` and `--flag=value`, so scripts written for nats-server start ionats.
 * A file is applied over the defaults and the flags over the file, as nats-server does.
 * The parsed struct is immutable once the shards start; every shard reads it. */
#ifndef IONATS_ENGINE_CONFIG_H
#define IONATS_ENGINE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* nats-server's defaults, kept so a drop-in replacement behaves the same. */
enum {
    CONFIG_PORT_DEFAULT = 4222,
    CONFIG_MAX_PAYLOAD_DEFAULT = 1024 * 1024,
    CONFIG_MAX_CONTROL_LINE_DEFAULT = 4096,
    CONFIG_MAX_CONTROL_LINE_MAX = 1024 * 1024,
    CONFIG_MAX_CONNECTIONS_DEFAULT = 64 * 1024,
    CONFIG_PING_MAX_DEFAULT = 2,
    CONFIG_RECV_BUF_SIZE_DEFAULT = 64 * 1024,
    CONFIG_RECV_BUF_COUNT_DEFAULT = 32,
    CONFIG_RING_ENTRIES_DEFAULT = 1024,
    /* The completion queue is 8× the submission queue and the kernel allows 65536. */
    CONFIG_RING_ENTRIES_MAX = 8192,
    CONFIG_SHARDS_MAX = 256,
    CONFIG_XSHARD_RING_SIZE_DEFAULT = 1024 * 1024,
    /* Half of it (a ring's largest record) takes the largest inline publish
     * (XSHARD_INLINE_BYTES_MAX) and a default-length SUB's interest record: see the
     * STATIC_ASSERTs in config.c. */
    CONFIG_XSHARD_RING_SIZE_MIN = 64 * 1024,
    CONFIG_XSHARD_RING_SIZE_MAX = 1 << 30,
};
#define CONFIG_MAX_PENDING_DEFAULT (64LL * 1024 * 1024)
/* Bytes a shard's cross-shard overflow queues may hold before it stops reading every
 * connection (see xshard.h): as much as one client's default --max_pending, 64 rings' worth
 * at the default ring size, so a burst toward a busy shard passes without pausing anyone
 * but its publisher. 0 stops reading every connection at the first overflow. */
#define CONFIG_XSHARD_OVERFLOW_MAX_DEFAULT (64LL * 1024 * 1024)
#define CONFIG_XSHARD_OVERFLOW_MAX_MAX (1LL << 40)
#define CONFIG_PING_INTERVAL_NS_DEFAULT (120LL * 1000000000LL)
#define CONFIG_AUTH_TIMEOUT_NS_DEFAULT (2LL * 1000000000LL)
#define CONFIG_WRITE_DEADLINE_NS_DEFAULT (10LL * 1000000000LL)
/* nats-server sends its first PING this soon after connect, or at ping_interval if sooner. */
#define CONFIG_FIRST_PING_NS (2LL * 1000000000LL)
/* JetStream: the largest segment file, and the default --sync_interval (nats-server's
 * sync_interval). */
#define CONFIG_SEGMENT_SIZE_DEFAULT (64LL * 1024 * 1024)
#define CONFIG_SYNC_INTERVAL_NS_DEFAULT (120LL * 1000000000LL)
/* nats-server's store directory when -sd is not given. */
#define CONFIG_STORE_DIR_DEFAULT "/tmp/nats/jetstream"
/* nats-streaming-server's defaults. */
#define CONFIG_STREAMING_MAX_CHANNELS_DEFAULT 100
#define CONFIG_STREAMING_MAX_SUBS_DEFAULT 1000
#define CONFIG_STREAMING_MAX_MSGS_DEFAULT 1000000
#define CONFIG_STREAMING_MAX_BYTES_DEFAULT (1000000LL * 1024)
#define CONFIG_STREAMING_HB_INTERVAL_NS_DEFAULT (30LL * 1000000000LL)
#define CONFIG_STREAMING_HB_TIMEOUT_NS_DEFAULT (10LL * 1000000000LL)
#define CONFIG_STREAMING_HB_FAIL_COUNT_DEFAULT 10
/* nats-server's leafnode reconnect delay (leafnodes { reconnect }) and the most URLs one
 * remote lists, remotes a server has. */
#define CONFIG_LEAF_RECONNECT_NS_DEFAULT (1LL * 1000000000LL)
enum { CONFIG_LEAF_URLS_MAX = 32, CONFIG_LEAF_REMOTES_MAX = 64 };
/* How long a stopping broker waits for clients to take their pending output. */
/* nats-server's lame duck defaults, and the shortest duration its file takes. */
#define CONFIG_LAME_DUCK_DURATION_NS_DEFAULT (120LL * 1000000000LL)
#define CONFIG_LAME_DUCK_GRACE_NS_DEFAULT (10LL * 1000000000LL)
#define CONFIG_LAME_DUCK_DURATION_NS_FILE_MIN (30LL * 1000000000LL)
/* nats-server's TLS timeout. */
#define CONFIG_TLS_TIMEOUT_NS_DEFAULT (2LL * 1000000000LL)
#define CONFIG_DRAIN_NS (500LL * 1000000LL)

struct conf_doc;
struct auth_config;

/* TLS on leafnode links (a tls {} in leafnodes {} or in a remote). */
struct config_leaf_tls {
    bool on;
    const char *cert_file; /* ours: the hub's certificate, or a leaf's client certificate */
    const char *key_file;
    const char *ca_file;   /* the peer's certificate is checked against it (NULL: system) */
    bool verify;           /* hub side: leafs must show a certificate */
    bool insecure;         /* leaf side: the hub's certificate is not checked */
    bool handshake_first;  /* the TLS handshake before the hub's INFO */
};

/* One leafnode remote: a server this one connects to as a leaf (leafnodes { remotes },
 * --leafnodes). Strings borrowed from the file's tree or argv. */
struct config_leaf_remote {
    const char *urls[CONFIG_LEAF_URLS_MAX]; /* nats-leaf://[user:pass@]host:port, nats://,
                                             * tls:// */
    uint32_t url_count;
    const char *account;  /* the local account it binds: "$G" (no other accounts yet) */
    const char *credentials; /* a .creds file: the JWT and the nkey seed that signs */
    const char *seed;        /* nkey/seed: a user seed ("SU...") that signs the nonce */
    const char *deny_imports[CONFIG_LEAF_URLS_MAX]; /* subjects not taken from the hub */
    uint32_t deny_import_count;
    const char *deny_exports[CONFIG_LEAF_URLS_MAX]; /* subjects not sent to the hub */
    uint32_t deny_export_count;
    int64_t first_info_timeout_ns; /* the hub's INFO must come within this (1s) */
    struct config_leaf_tls tls; /* on: the link speaks TLS even if the hub does not ask */
};

/* The leafnodes {} block: the remotes, and who may connect as a leaf (authorization {}:
 * one user and password; NULL: anyone). Owned by the config (config_release). */
struct config_leaf {
    struct config_leaf_remote remotes[CONFIG_LEAF_REMOTES_MAX];
    uint32_t remote_count;
    const char *user;
    const char *pass;
    struct config_leaf_tls tls; /* leafs connecting here speak TLS */
};

struct config {
    const char *config_path; /* -c; NULL: no file */
    bool config_test;        /* -t: check the configuration and exit */
    /* Owned: the parsed -c file. String fields set from it point into it, so it lives as
     * long as the config (config_release). */
    struct conf_doc *config_doc;
    const char *host;
    int port;
    const char *server_name;
    const char *log_path; /* NULL: stderr */
    bool logtime;         /* -T: date and time on log lines (default true, as nats-server) */
    bool logtime_utc;     /* ... in UTC rather than local time */
    int64_t log_size_limit; /* bytes; rotate the -l file past this; 0: never */
    const char *pid_path;   /* -P: write the pid here at start; NULL: none */
    const char *ports_file_dir; /* write <exe>_<pid>.ports here once listening; NULL: none */
    /* -sl/--signal: `command[=pid or pid file]` to send to a running broker instead of
     * starting one (config_parse returns CONFIG_SIGNAL); NULL: start. */
    const char *signal;
    bool debug;
    bool trace;
    int64_t max_payload;
    int64_t max_control_line;
    int64_t max_pending;
    int64_t max_connections;
    int64_t max_subscriptions; /* per connection; 0 = unlimited */
    int64_t max_closed_clients; /* kept for connz?state=closed, all shards; 0 = none */
    int64_t ping_interval_ns;
    int64_t ping_max;
    int64_t auth_timeout_ns;
    int64_t write_deadline_ns;
    const char *user;
    const char *pass;
    const char *token;
    /* Owned: the users, accounts and permissions of the file's authorization {} and
     * accounts {} blocks (auth.h); NULL: none (the flags' single user or token, if any). */
    struct auth_config *auth;
    /* TLS for clients (--tls* flags, tls {}); on with tls or tls_verify */
    bool tls;
    const char *tls_cert;
    const char *tls_key;
    const char *tls_ca;       /* NULL: the system's CAs check client certificates */
    bool tls_verify;          /* client certificates required */
    bool tls_handshake_first; /* the handshake before INFO */
    int64_t tls_timeout_ns;
    const char *tls_min_version; /* "1.2" or "1.3"; NULL: 1.2 */
    /* tls {} only (no flags): cipher_suites and curve_preferences, Go's names joined by
     * ':' (owned; NULL: OpenSSL's defaults), and verify_and_map: the user is the one the
     * client certificate names (auth_tls_map.c) */
    char *tls_ciphers;
    char *tls_curves;
    bool tls_map;
    /* Leafnodes: the remotes this server connects to, from the file (owned; NULL: none)
     * and --leafnodes (one more remote: URLs, comma-separated); the delay before a lost or
     * refused link is tried again. */
    struct config_leaf *leaf;
    const char *leaf_url;
    int64_t leaf_reconnect_ns;
    /* Leafs connecting to this server (leafnodes { listen }): 0 none, -1 any free port. */
    int64_t leaf_port;
    const char *leaf_host; /* NULL: the client address (host) */
    int64_t shards;            /* 0: one per online CPU */
    const char *cpus;          /* NULL: shard i on CPU i modulo the online CPUs */
    const char *placement;     /* "acceptor" or "reuseport" */
    const char *io;            /* "uring", "epoll" or "auto" */
    int64_t xshard_ring_size;  /* bytes per cross-shard ring, a power of two */
    int64_t xshard_overflow_max; /* bytes a shard's overflow queues hold before it stops
                                  * reading its connections */
    int64_t stats_interval_ns; /* 0: counters only on SIGUSR1 */
    int64_t recv_buf_size;
    int64_t recv_buf_count;
    int64_t ring_entries;
    /* HTTP monitoring */
    int64_t http_port;         /* 0: off; -1: any free port */
    int64_t https_port;        /* the same over TLS; not both */
    int64_t lame_duck_duration_ns;     /* SIGUSR2: clients closed over this long */
    int64_t lame_duck_grace_period_ns; /* ... after this long */
    const char *http_host;     /* NULL: the client address (host) */
    /* JetStream */
    bool jetstream;
    const char *js_domain;     /* $JS.<domain>.API reaches this JetStream; NULL: none */
    const char *store_dir;     /* CONFIG_STORE_DIR_DEFAULT when not given */
    int64_t max_memory_store;  /* bytes; 0: 75% of the host's memory, as nats-server */
    int64_t max_file_store;    /* bytes; 0: 75% of the store's free disk, at most 1 TB */
    const char *sync;          /* "always", "interval" or "none" */
    int64_t sync_interval_ns;  /* --sync interval: how often stored data is synced */
    int64_t segment_size;      /* bytes of each stream segment file */
    /* NATS Streaming (nats-streaming-server's flags); on when a cluster id is given */
    const char *streaming_cluster_id; /* NULL: off */
    const char *streaming_store;      /* "FILE" or "MEMORY", any case */
    const char *streaming_dir;        /* NULL: <store_dir>/streaming */
    int64_t streaming_max_channels;   /* 0: unlimited */
    int64_t streaming_max_subs;       /* per channel; 0: unlimited */
    int64_t streaming_max_msgs;       /* per channel; 0: unlimited */
    int64_t streaming_max_bytes;      /* per channel; 0: unlimited */
    int64_t streaming_max_age_ns;     /* per channel; 0: unlimited */
    int64_t streaming_max_inactivity_ns; /* a channel without subscriptions or publishes for
                                          * this long is deleted; 0: never */
    int64_t streaming_hb_interval_ns; /* server heartbeats to each client */
    int64_t streaming_hb_timeout_ns;  /* how long each heartbeat waits for its answer */
    int64_t streaming_hb_fail_count;  /* missed heartbeats in a row that drop a client */
    bool streaming_debug;
    bool streaming_trace;
    bool streaming_debug_trace;
};

enum config_result {
    CONFIG_RUN = 0,     /* start the broker */
    CONFIG_EXIT_OK = 1, /* --help or --version was answered */
    CONFIG_EXIT_USAGE = 2,
    CONFIG_EXIT_ERROR = 3, /* a bad configuration file, or -t found a fault: exit 1 */
    CONFIG_SIGNAL = 4,     /* --signal was given: send it (config->signal) and exit */
};

/* Fills `config` from argv. Writes help/version to `out` and errors to `err`.
 * A switch (-D, -V, -DV, -h, -v) is on when given bare; `-D=false` sets it as Go's flag
 * package does (true/false, 1/0, t/f, TRUE/FALSE, True/False), and `-D false` does not
 * take "false" as its value. */
enum config_result config_parse(struct config *config, int argc, char **argv, FILE *out,
                                FILE *err);

/* Frees what the configuration file left in `config` (its string fields then dangle).
 * config_parse has done it already when it returned anything but CONFIG_RUN. */
void config_release(struct config *config);

/* ---- the table of flags (config_flags.c) ---- */

enum flag_kind {
    FLAG_STRING,
    FLAG_INT,
    FLAG_DURATION,
    FLAG_SIZE,   /* bytes, with an optional unit (config_size_parse) */
    FLAG_SWITCH, /* takes no value */
};

enum flag_action {
    ACTION_SET = 0,
    ACTION_HELP,
    ACTION_VERSION,
    ACTION_DEBUG_TRACE,
    ACTION_REFUSE, /* nats-server's flag, not supported yet: named in the error */
};

struct flag {
    const char *names[4]; /* spellings without leading dashes */
    enum flag_kind kind;
    enum flag_action action;
    size_t offset; /* into struct config, for ACTION_SET */
    int64_t min;
    int64_t max;
    const char *value_name;
    const char *help;
};

extern const struct flag config_flags[];
extern const size_t config_flag_count;

/* A settable flag whose value differs between two configurations: its first name (the
 * table's key: "P", "max_payload"), the name nats-server's messages use ("pid"), and both
 * values as text (a switch "true"/"false", a number in its unit: bytes, nanoseconds). */
struct config_flag_change {
    const char *name;
    const char *label;
    const char *before;
    const char *after;
};

typedef int config_flag_change_fn(void *context, const struct config_flag_change *change);

/* Calls `visit` for each settable flag whose value differs between `a` and `b`, in the
 * table's order (--help's), and stops at the first nonzero return, which it returns; 0
 * when every call returned 0. */
int config_flags_compare(const struct config *a, const struct config *b,
                         config_flag_change_fn *visit, void *context);

/* What a reload may not change (config_reload.c): 0 when `next` differs from `start` (the
 * configuration the broker started with) only in what a reload applies; else 1 with
 * nats-server's message ("config reload not supported for X: old=…, new=…") or ionats's
 * own reason in `text`. */
int config_reload_refused(const struct config *start, const struct config *next, char *text,
                          size_t size);

/* Logs nats-server's "Reloaded: <name> = <value>" for each flag that a reload from
 * `current` to `next` changes (config_reload.c). */
void config_reload_describe(const struct config *current, const struct config *next);

/* True when two leafnodes {} blocks ask for the same (NULL: none); config_file_leaf.c. */
bool config_leaf_equal(const struct config_leaf *a, const struct config_leaf *b);

/* Sets the flag a configuration file names `name` (a flag's name longer than two letters,
 * or its only name) from `value`, as the command line would, but for durations also in
 * Go's syntax ("1m30s"); `where` ("file:line:col: ") prefixes an error on `err`.
 * 0, -ENOENT when no such flag may be set from a file, or -EINVAL (said on `err`).
 * A string value is kept, not copied. With `value` NULL, only whether the flag may be set
 * (0 or -ENOENT). For config_file.c. */
int config_flag_set(struct config *config, const char *name, const char *value,
                    const char *where, FILE *err);

/* Reads the configuration file at `path` and applies it over `config` (config_file.c):
 * nats-server's keys with its meanings, ionats's own flags by their long names, the keys
 * ionats refuses or ignores as the README lists them. Errors, warnings (an unknown key)
 * and notes (an ignored key) go to `err` with file:line:col. 0, or -EINVAL after an error
 * (the file's tree is then freed); *warning_count counts the warnings. */
int config_file_apply(struct config *config, const char *path, FILE *err, int *warning_count);

/* Parses a CPU list ("0,2-5") into `cpus` (up to `capacity`). Returns the count or
 * -EINVAL. */
int config_cpus_parse(const char *text, int *cpus, int capacity);

/* Parses a byte size as nats-server's configuration does: a number, or one with a unit,
 * K/M/G/T (powers of 1000) or KB/MB/GB/TB (and KiB..., powers of 1024), any case.
 * 0 or -EINVAL (also on overflow). */
int config_size_parse(const char *text, int64_t *bytes);

/* A NATS Streaming cluster or client id: letters, digits, '-' and '_', not empty. */
bool config_streaming_id_valid(const char *id);

/* Parses "250ms", "2s", "1.5m", "1h" or a bare number of seconds. 0 or -EINVAL. */
int config_duration_parse(const char *text, int64_t *ns);

#endif
