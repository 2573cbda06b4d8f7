/* The leafnode module: its state on shard 0 (the remotes, leaf_remote.c, and the accepted
 * links), what may cross a link, and the table of this server's interest that the links
 * tell their peers (leaf_internal.h). Shard 0's thread only. */
#include "engine/leaf.h"
#include "engine/leaf_internal.h"

#include "base/hash.h"
#include "base/log.h"
#include "engine/interest.h"
#include "engine/shard.h"
#include "engine/shard_module.h"
#include "proto/subject.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

enum { INTEREST_BUCKETS_MIN = 256 };

/* ---- what crosses ------------------------------------------------------------------- */

/* JetStream's API, KV and object store stay on each side of a link whose JetStream
 * domains do not line up (nats-server denies them both ways): no domain is served yet. */
static bool jetstream_subject(const char *subject, uint32_t length)
{
    static const char *const prefixes[] = {"$JS.API.", "$KV.", "$OBJ."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (length >= n && memcmp(subject, prefixes[i], n) == 0) {
            return true;
        }
    }
    return false;
}

/* True when `subject` (a subscription's or a message's) falls under one of `patterns`. */
static bool denied(const char *const *patterns, uint32_t count, const char *subject,
                   uint32_t length)
{
    for (uint32_t i = 0; i < count; i++) {
        if (subject_matches(patterns[i], strlen(patterns[i]), subject, length) ||
            (strlen(patterns[i]) == length && memcmp(patterns[i], subject, length) == 0)) {
            return true;
        }
    }
    return false;
}

bool leaf_export_allowed(const struct leaf_remote *remote, const char *subject,
                         uint32_t length)
{
    const struct config_leaf_remote *config = remote != NULL ? remote->config : NULL;
    return !jetstream_subject(subject, length) &&
           (config == NULL ||
            !denied(config->deny_exports, config->deny_export_count, subject, length));
}

bool leaf_import_allowed(const struct leaf_remote *remote, const char *subject,
                         uint32_t length)
{
    const struct config_leaf_remote *config = remote != NULL ? remote->config : NULL;
    return !jetstream_subject(subject, length) &&
           (config == NULL ||
            !denied(config->deny_imports, config->deny_import_count, subject, length));
}

/* ---- this server's interest ------------------------------------------------------------ */

static uint64_t interest_hash(const struct leaf_state *state, const char *subject,
                              uint32_t subject_length, const char *queue,
                              uint32_t queue_length)
{
    uint64_t h = hash_bytes(subject, subject_length, state->seed);
    return queue_length ? hash_bytes(queue, queue_length, h) : h;
}

static struct leaf_interest **interest_link(struct leaf_state *state, uint64_t hash,
                                            const char *subject, uint32_t subject_length,
                                            const char *queue, uint32_t queue_length)
{
    struct leaf_interest **link = &state->buckets[hash & (state->bucket_count - 1)];
    for (; *link != NULL; link = &(*link)->next) {
        const struct leaf_interest *e = *link;
        if (e->hash == hash && e->subject_length == subject_length &&
            e->queue_length == queue_length && memcmp(e->text, subject, subject_length) == 0 &&
            (queue_length == 0 || memcmp(e->text + subject_length + 1, queue, queue_length) == 0)) {
            break;
        }
    }
    return link;
}

static void interest_grow(struct leaf_state *state)
{
    uint32_t count = state->bucket_count * 2;
    struct leaf_interest **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL) {
        return; /* longer chains, still correct */
    }
    for (uint32_t b = 0; b < state->bucket_count; b++) {
        while (state->buckets[b] != NULL) {
            struct leaf_interest *e = state->buckets[b];
            state->buckets[b] = e->next;
            e->next = buckets[e->hash & (count - 1)];
            buckets[e->hash & (count - 1)] = e;
        }
    }
    free(state->buckets);
    state->buckets = buckets;
    state->bucket_count = count;
}

/* The counts of an entry, before or after a change. */
struct interest_counts {
    uint64_t local;
    uint64_t accepted;
    uint64_t hub;
};

/* What `link` sees of an entry: a hub (solicited link) our clients' and our leafs'
 * interest, an accepted leaf everything but its own. */
static uint64_t visible(const struct leaf_link *link, const struct interest_counts *c, bool own)
{
    if (!link->accepted) {
        return c->local + c->accepted;
    }
    return c->local + c->accepted - (own ? 1 : 0) + c->hub;
}

/* Tells one active link what changed for it: LS+ when it starts seeing the entry (or a
 * queue group's weight changes), LS- when it stops. */
static void link_tell(struct leaf_link *link, const struct leaf_interest *e,
                      const struct interest_counts *before, const struct interest_counts *after,
                      bool own_before, bool own_after)
{
    if (link->phase != LEAF_ACTIVE || conn_ending(&link->conn)) {
        return;
    }
    uint64_t was = visible(link, before, own_before);
    uint64_t is = visible(link, after, own_after);
    const char *queue = e->queue_length ? e->text + e->subject_length + 1 : NULL;
    if (is > 0 && (was == 0 || (e->queue_length > 0 && was != is))) {
        leaf_link_interest(link, true, e->text, e->subject_length, queue, e->queue_length, is);
    } else if (is == 0 && was > 0) {
        leaf_link_interest(link, false, e->text, e->subject_length, queue, e->queue_length, 0);
    }
}

/* Tells every active link of a change of `e` from `before`; `source` (a link whose own
 * interest changed, or NULL) owned it before as `source_before`. */
static void interest_tell(struct leaf_state *state, const struct leaf_interest *e,
                          const struct interest_counts *before, const struct leaf_link *source,
                          bool source_before)
{
    const struct interest_counts after = {e->local, e->accepted, e->hub};
    const char *queue = e->queue_length ? e->text + e->subject_length + 1 : NULL;
    for (uint32_t r = 0; r < state->remote_count; r++) {
        struct leaf_link *link = state->remotes[r].link;
        if (link != NULL) {
            link_tell(link, e, before, &after, false, false);
        }
    }
    for (struct leaf_link *link = state->accepted_head; link != NULL;
         link = link->accepted_next) {
        bool own = link == source ? !source_before
                                  : leaf_link_has(link, e->text, e->subject_length, queue,
                                                  e->queue_length);
        link_tell(link, e, before, &after, link == source ? source_before : own, own);
    }
}

/* The entry for (subject, queue), created when `add` and absent (NULL when out of memory,
 * or when absent and not `add`). */
static struct leaf_interest *interest_entry(struct leaf_state *state, bool add,
                                            const char *subject, uint32_t subject_length,
                                            const char *queue, uint32_t queue_length)
{
    uint64_t hash = interest_hash(state, subject, subject_length, queue, queue_length);
    struct leaf_interest **link =
        interest_link(state, hash, subject, subject_length, queue, queue_length);
    if (*link != NULL || !add) {
        return *link;
    }
    struct leaf_interest *e = calloc(1, sizeof *e + subject_length + queue_length + 2);
    if (e == NULL) {
        LOG_ERROR("out of memory counting interest in %.*s for leafnode links",
                  (int)subject_length, subject);
        return NULL;
    }
    e->hash = hash;
    e->subject_length = subject_length;
    e->queue_length = queue_length;
    memcpy(e->text, subject, subject_length);
    if (queue_length > 0) {
        memcpy(e->text + subject_length + 1, queue, queue_length);
    }
    *link = e;
    state->interest_count++;
    if (state->interest_count > state->bucket_count) {
        interest_grow(state);
    }
    return e;
}

/* Frees an entry nobody counts any more. */
static void interest_entry_drop(struct leaf_state *state, struct leaf_interest *e)
{
    if (e->local + e->accepted + e->hub > 0) {
        return;
    }
    struct leaf_interest **link = &state->buckets[e->hash & (state->bucket_count - 1)];
    while (*link != e) {
        link = &(*link)->next;
    }
    *link = e->next;
    state->interest_count--;
    free(e);
}

/* interest.h's watch: a subscription of this server came or went. */
static void interest_changed(void *ctx, bool add, const char *subject, uint32_t subject_length,
                             const char *queue, uint32_t queue_length)
{
    struct leaf_state *state = ctx;
    struct leaf_interest *e =
        interest_entry(state, add, subject, subject_length, queue, queue_length);
    if (e == NULL || (!add && e->local == 0)) {
        return; /* its add was never counted (out of memory then) */
    }
    const struct interest_counts before = {e->local, e->accepted, e->hub};
    e->local = add ? e->local + 1 : e->local - 1;
    interest_tell(state, e, &before, NULL, false);
    interest_entry_drop(state, e);
}

void leaf_interest_link_changed(struct leaf_state *state, struct leaf_link *link, bool add,
                                const char *subject, uint32_t subject_length, const char *queue,
                                uint32_t queue_length)
{
    struct leaf_interest *e =
        interest_entry(state, add, subject, subject_length, queue, queue_length);
    uint64_t *count = e == NULL ? NULL : link->accepted ? &e->accepted : &e->hub;
    if (count == NULL || (!add && *count == 0)) {
        return;
    }
    const struct interest_counts before = {e->local, e->accepted, e->hub};
    *count = add ? *count + 1 : *count - 1;
    interest_tell(state, e, &before, link, !add);
    interest_entry_drop(state, e);
}

void leaf_interest_send_all(struct leaf_state *state, struct leaf_link *link)
{
    leaf_link_interest(link, true, state->lds, (uint32_t)strlen(state->lds), NULL, 0, 1);
    for (uint32_t b = 0; b < state->bucket_count; b++) {
        for (const struct leaf_interest *e = state->buckets[b]; e != NULL; e = e->next) {
            const char *queue = e->queue_length ? e->text + e->subject_length + 1 : NULL;
            const struct interest_counts c = {e->local, e->accepted, e->hub};
            bool own = link->accepted &&
                       leaf_link_has(link, e->text, e->subject_length, queue, e->queue_length);
            uint64_t count = visible(link, &c, own);
            if (count > 0) {
                leaf_link_interest(link, true, e->text, e->subject_length, queue,
                                   e->queue_length, count);
            }
        }
    }
}

/* ---- the module --------------------------------------------------------------------------- */

static int leaf_prepare(struct server *server, void **shared)
{
    *shared = NULL;
    return 0;
}

static void leaf_release(void *shared)
{
}

static void state_free(struct leaf_state *state)
{
    for (uint32_t b = 0; b < state->bucket_count; b++) {
        while (state->buckets[b] != NULL) {
            struct leaf_interest *e = state->buckets[b];
            state->buckets[b] = e->next;
            free(e);
        }
    }
    free(state->buckets);
    for (uint32_t r = 0; r < state->remote_count; r++) {
        leaf_remote_free(&state->remotes[r]);
    }
    free(state->remotes);
    free(state);
}

static int leaf_start(struct shard *shard, void **out)
{
    *out = NULL;
    if (shard->index != LEAF_SHARD) {
        return 0;
    }
    const struct config *config = shard->server->config;
    uint32_t file_count = config->leaf != NULL ? config->leaf->remote_count : 0;
    uint32_t count = file_count + (config->leaf_url != NULL);
    struct leaf_state *state = calloc(1, sizeof *state);
    if (state == NULL) {
        return -ENOMEM;
    }
    state->shard = shard;
    state->remotes = calloc(count > 0 ? count : 1, sizeof *state->remotes);
    state->bucket_count = INTEREST_BUCKETS_MIN;
    state->buckets = calloc(state->bucket_count, sizeof *state->buckets);
    uint64_t random[2] = {0, 0};
    if (state->remotes == NULL || state->buckets == NULL ||
        getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        state_free(state);
        return -ENOMEM;
    }
    state->seed = random[0];
    snprintf(state->lds, sizeof state->lds, "$LDS.%016llx%016llx", (unsigned long long)random[0],
             (unsigned long long)random[1]);
    for (uint32_t r = 0; r < count; r++) {
        const struct config_leaf_remote *rc = r < file_count ? &config->leaf->remotes[r] : NULL;
        state->remote_count++; /* counted first: state_free frees what init made */
        if (leaf_remote_init(state, &state->remotes[r], rc, config->leaf_url) != 0) {
            state_free(state);
            return -EINVAL;
        }
    }
    shard->interest.watch = (struct interest_watch){.changed = interest_changed, .ctx = state};
    for (uint32_t r = 0; r < state->remote_count; r++) {
        leaf_remote_start(&state->remotes[r]);
    }
    *out = state;
    return 0;
}

static void leaf_turn_end(struct shard *shard, void *state)
{
}

static bool leaf_stop_step(struct shard *shard, void *opaque)
{
    struct leaf_state *state = opaque;
    if (state == NULL) {
        return true;
    }
    state->stopping = true;
    for (uint32_t r = 0; r < state->remote_count; r++) {
        struct leaf_remote *remote = &state->remotes[r];
        leaf_remote_stop(remote);
        if (remote->link != NULL) {
            leaf_link_stop(remote->link);
        }
    }
    for (struct leaf_link *link = state->accepted_head; link != NULL; link = link->accepted_next) {
        leaf_link_stop(link);
    }
    return true;
}

static void leaf_destroy(struct shard *shard, void *opaque)
{
    struct leaf_state *state = opaque;
    if (state == NULL) {
        return;
    }
    shard->interest.watch = (struct interest_watch){0};
    for (uint32_t r = 0; r < state->remote_count; r++) {
        struct leaf_remote *remote = &state->remotes[r];
        leaf_remote_stop(remote);
        if (remote->link != NULL) {
            remote->link->remote = NULL; /* the connection outlives the module's state */
            leaf_link_forget(remote->link);
        }
    }
    while (state->accepted_head != NULL) {
        leaf_link_forget(state->accepted_head);
    }
    state_free(state);
}

static void leaf_message(struct shard *shard, void *state, int origin, void *message)
{
    free(message); /* the instances send each other nothing */
}

const struct shard_module leaf_module = {
    .name = "leafnode",
    .prepare = leaf_prepare,
    .release = leaf_release,
    .start = leaf_start,
    .turn_end = leaf_turn_end,
    .stop_step = leaf_stop_step,
    .destroy = leaf_destroy,
    .message = leaf_message,
};

struct leaf_state *leaf_state_of(struct shard *shard)
{
    for (int m = 0; m < shard->server->module_count; m++) {
        if (shard->server->modules[m] == &leaf_module) {
            return shard->module_state[m];
        }
    }
    return NULL;
}
