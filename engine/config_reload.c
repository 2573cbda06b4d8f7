/* What a configuration reload (SIGHUP) may change, and the lines it logs: see config.h.
 *
 * The one idea: nats-server's list of reloadable options, restricted where ionats sized
 * something at start. A reload may change authorization (users, passwords, tokens, the
 * auth timeout), logging (-D, -V, -T, logtime_utc, the log file's path), the pid file, the
 * ports file's directory, max_connections, ping_interval, ping_max, write_deadline, TLS
 * for clients (on or off, certificate, key, CA, verify, timeout, handshake_first,
 * min_version), and max_payload and max_control_line up to the values the broker started
 * with: the cross-shard rings, the link buffers and the records of interest were sized
 * for those, so raising either past them takes a restart (said in the refusal). Moving the
 * log between standard error and a file also takes a restart (the file is behind the
 * descriptor every thread writes to). Every other flag, and the leafnodes {} block, is
 * refused with nats-server's words. Main thread only. */
#include "engine/config.h"

#include "base/log.h"

#include <stdio.h>
#include <string.h>

/* By the table's first name (config.c). */
static const char *const reloadable[] = {
    "c", "t", "user", "pass", "auth", "auth_timeout",                 /* authorization */
    "D", "V", "DV", "T", "logtime_utc", "l",                          /* logging */
    "P", "ports_file_dir",                                            /* files */
    "max_connections", "max_payload", "max_control_line",             /* limits */
    "ping_interval", "ping_max", "write_deadline",                    /* liveness */
    "tls", "tlscert", "tlskey", "tlsverify", "tlscacert",             /* TLS */
    "tls_handshake_first", "tls_timeout", "tls_min_version",
};

static bool is_reloadable(const char *name)
{
    for (size_t i = 0; i < sizeof reloadable / sizeof reloadable[0]; i++) {
        if (strcmp(name, reloadable[i]) == 0) {
            return true;
        }
    }
    return false;
}

struct refusal {
    const struct config *start;
    const struct config *next;
    char *text;
    size_t size;
};

/* A limit the broker sized its buffers for: a reload may lower it, or raise it back. */
static int above_start(struct refusal *refusal, const struct config_flag_change *change,
                       int64_t start, int64_t next)
{
    if (next <= start) {
        return 0;
    }
    snprintf(refusal->text, refusal->size,
             "config reload not supported for %s: old=%s, new=%s (above the %lld ionats "
             "started with, which its buffers are sized for: restart to raise it)",
             change->label, change->before, change->after, (long long)start);
    return 1;
}

static int refuse_change(void *context, const struct config_flag_change *change)
{
    struct refusal *refusal = context;
    if (!is_reloadable(change->name)) {
        snprintf(refusal->text, refusal->size, "config reload not supported for %s: old=%s, new=%s",
                 change->label, change->before, change->after);
        return 1;
    }
    if (strcmp(change->name, "max_payload") == 0) {
        return above_start(refusal, change, refusal->start->max_payload,
                           refusal->next->max_payload);
    }
    if (strcmp(change->name, "max_control_line") == 0) {
        return above_start(refusal, change, refusal->start->max_control_line,
                           refusal->next->max_control_line);
    }
    if (strcmp(change->name, "l") == 0 &&
        (refusal->start->log_path == NULL) != (refusal->next->log_path == NULL)) {
        snprintf(refusal->text, refusal->size,
                 "config reload not supported for %s: old=%s, new=%s (between standard "
                 "error and a file: restart to move the log there)",
                 change->label, change->before, change->after);
        return 1;
    }
    return 0;
}

int config_reload_refused(const struct config *start, const struct config *next, char *text,
                          size_t size)
{
    struct refusal refusal = {.start = start, .next = next, .text = text, .size = size};
    if (config_flags_compare(start, next, refuse_change, &refusal) != 0) {
        return 1;
    }
    if (!config_leaf_equal(start->leaf, next->leaf)) { /* links are not redone on a reload */
        snprintf(text, size, "config reload not supported for LeafNode: the leafnodes block "
                             "changed");
        return 1;
    }
    return 0;
}

static int describe_change(void *context, const struct config_flag_change *change)
{
    (void)context;
    if (strcmp(change->name, "c") == 0 || strcmp(change->name, "t") == 0) {
        return 0;
    }
    if (strcmp(change->name, "user") == 0 || strcmp(change->name, "pass") == 0 ||
        strcmp(change->name, "auth") == 0) {
        LOG_INFO("Reloaded: authorization %s", change->label); /* never the secret */
        return 0;
    }
    LOG_INFO("Reloaded: %s = %s", change->label, change->after);
    return 0;
}

void config_reload_describe(const struct config *current, const struct config *next)
{
    (void)config_flags_compare(current, next, describe_change, NULL);
}
