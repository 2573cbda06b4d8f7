/* Leafnode remotes: the module that connects this server as a leaf to the servers of
 * leafnodes { remotes } and --leafnodes, dials them again after a link is lost, and keeps
 * the table of this server's interest that the links tell their hubs (leaf_internal.h).
 *
 * A remote's URLs are tried in turn, each try after the reconnect delay (nats-server's 1s,
 * --leafnode_reconnect), 30s after the hub found a loop. The connect is non-blocking and
 * the link is handed straight to the loop: the hub speaks first, so the link's receive
 * learns both that the connection was made (INFO) and that it was not (the connect's
 * error ends the receive). Host names are looked up by a thread of their own, which waits
 * for the resolver, and looked at on shard 0's timer (numeric addresses and localhost need
 * no lookup). Shard 0's thread only, but for that lookup thread (struct leaf_lookup: its
 * result is published with a release store). */
#include "engine/leaf.h"
#include "engine/leaf_internal.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "engine/conn_tls.h"
#include "engine/interest.h"
#include "engine/loop.h"
#include "engine/shard.h"
#include "engine/shard_module.h"
#include "proto/subject.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

enum { INTEREST_BUCKETS_MIN = 256 };

/* ---- URLs --------------------------------------------------------------------------- */

/* nats-leaf://[user[:pass]@]host[:port], also nats://, tls:// or no scheme. 0 or -EINVAL. */
int leaf_url_parse(const char *text, struct leaf_url *url)
{
    memset(url, 0, sizeof *url);
    const char *rest = text;
    const char *scheme_end = strstr(text, "://");
    if (scheme_end != NULL) {
        size_t scheme_length = (size_t)(scheme_end - text);
        if (!((scheme_length == 9 && strncmp(text, "nats-leaf", 9) == 0) ||
              (scheme_length == 4 && strncmp(text, "nats", 4) == 0) ||
              (scheme_length == 3 && strncmp(text, "tls", 3) == 0))) {
            return -EINVAL;
        }
        rest = scheme_end + 3;
    }
    const char *at = strrchr(rest, '@');
    if (at != NULL) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        size_t user_length = (size_t)((colon ? colon : at) - rest);
        if (user_length >= sizeof url->user) {
            return -EINVAL;
        }
        memcpy(url->user, rest, user_length);
        if (colon != NULL) {
            size_t pass_length = (size_t)(at - colon - 1);
            if (pass_length >= sizeof url->pass) {
                return -EINVAL;
            }
            memcpy(url->pass, colon + 1, pass_length);
        }
        rest = at + 1;
    }
    size_t host_length = strcspn(rest, "/");
    const char *port_colon = NULL;
    if (rest[0] == '[') { /* [v6]:port */
        const char *close = memchr(rest, ']', host_length);
        if (close == NULL) {
            return -EINVAL;
        }
        port_colon = close[1] == ':' ? close + 1 : NULL;
        if (close - rest - 1 <= 0 || (size_t)(close - rest - 1) >= sizeof url->host) {
            return -EINVAL;
        }
        memcpy(url->host, rest + 1, (size_t)(close - rest - 1));
    } else {
        port_colon = memchr(rest, ':', host_length);
        size_t name_length = port_colon ? (size_t)(port_colon - rest) : host_length;
        if (name_length == 0 || name_length >= sizeof url->host) {
            return -EINVAL;
        }
        memcpy(url->host, rest, name_length);
    }
    url->port = LEAF_PORT_DEFAULT;
    if (port_colon != NULL) {
        char *end;
        long port = strtol(port_colon + 1, &end, 10);
        if (end == port_colon + 1 || (end != rest + host_length) || port <= 0 || port > 65535) {
            return -EINVAL;
        }
        url->port = (int)port;
    }
    return 0;
}

/* The URL's address when it is one (or localhost): true, else a name to look up. */
static bool url_numeric(const struct leaf_url *url, struct sockaddr_storage *address,
                        socklen_t *length)
{
    struct sockaddr_in *in4 = (struct sockaddr_in *)address;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;
    memset(address, 0, sizeof *address);
    const char *host = strcmp(url->host, "localhost") == 0 ? "127.0.0.1" : url->host;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)url->port);
        *length = sizeof *in4;
        return true;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)url->port);
        *length = sizeof *in6;
        return true;
    }
    return false;
}

/* ---- dialling ------------------------------------------------------------------------- */

static void remote_retry(struct leaf_remote *remote, int64_t delay_ns)
{
    struct shard *shard = remote->state->shard;
    timer_arm(&shard->timers, &remote->retry_timer,
              clock_deadline_ns(clock_monotonic_ns(), delay_ns));
}

static int64_t reconnect_delay(const struct leaf_remote *remote)
{
    return remote->state->shard->server->config->leaf_reconnect_ns;
}

void leaf_dial_error(const struct leaf_remote *remote, const struct leaf_url *url,
                     const char *why)
{
    /* nats-server's connect_error_reports: the first failure and every 3600th are errors */
    enum { REPORT_EVERY = 3600 };
    bool report = remote->attempts == 1 || remote->attempts % REPORT_EVERY == 0;
    log_write(report ? LOG_LEVEL_ERROR : LOG_LEVEL_DEBUG,
              "Error trying to connect as leafnode to remote server \"%s:%d\" (attempt %llu): "
              "%s",
              url->host, url->port, (unsigned long long)remote->attempts, why);
}

static void dial_failed(struct leaf_remote *remote, const struct leaf_url *url, const char *why)
{
    leaf_dial_error(remote, url, why);
    remote_retry(remote, reconnect_delay(remote));
}

/* How often a name being looked up is looked at. */
#define LOOKUP_CHECK_NS (10LL * 1000000LL)

static void remote_connect(struct leaf_remote *remote, const struct leaf_url *url,
                           struct sockaddr_storage *address, socklen_t address_length);

/* A lookup's thread: getaddrinfo, the result published with `done`. */
static void *lookup_thread(void *arg)
{
    struct leaf_lookup *lookup = arg;
    const struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    lookup->rc = getaddrinfo(lookup->host, NULL, &hints, &lookup->result);
    /* release: the result and rc before the flag */
    atomic_store_explicit(&lookup->done, true, memory_order_release);
    return NULL;
}

/* Starts looking the dialled URL's host up on a thread of its own, which waits for the
 * resolver, never shard 0; retry_fired looks at it every LOOKUP_CHECK_NS. (A thread of
 * ours rather than glibc's getaddrinfo_a, whose internal thread the thread sanitizer
 * cannot follow.) */
static void lookup_start(struct leaf_remote *remote)
{
    struct leaf_lookup *lookup = &remote->lookup;
    snprintf(lookup->host, sizeof lookup->host, "%s", remote->dialling.host);
    lookup->result = NULL;
    lookup->rc = 0;
    atomic_store_explicit(&lookup->done, false, memory_order_relaxed); /* no thread yet */
    int rc = pthread_create(&lookup->thread, NULL, lookup_thread, lookup);
    if (rc != 0) {
        dial_failed(remote, &remote->dialling, strerror(rc));
        return;
    }
    lookup->running = true;
    remote_retry(remote, LOOKUP_CHECK_NS);
}

/* The lookup in progress: still running (looked at again later), failed, or an address to
 * connect to. */
static void lookup_check(struct leaf_remote *remote)
{
    struct leaf_lookup *lookup = &remote->lookup;
    /* acquire: pairs with the thread's release of `done` */
    if (!atomic_load_explicit(&lookup->done, memory_order_acquire)) {
        remote_retry(remote, LOOKUP_CHECK_NS);
        return;
    }
    pthread_join(lookup->thread, NULL); /* it has returned: no wait */
    lookup->running = false;
    int rc = lookup->rc;
    struct addrinfo *found = lookup->result;
    lookup->result = NULL;
    if (rc != 0 || found == NULL || found->ai_addrlen > sizeof(struct sockaddr_storage)) {
        if (found != NULL) {
            freeaddrinfo(found);
        }
        dial_failed(remote, &remote->dialling, gai_strerror(rc != 0 ? rc : EAI_NONAME));
        return;
    }
    struct sockaddr_storage address = {0};
    memcpy(&address, found->ai_addr, found->ai_addrlen);
    socklen_t length = found->ai_addrlen;
    freeaddrinfo(found);
    if (address.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)&address)->sin6_port = htons((uint16_t)remote->dialling.port);
    } else {
        ((struct sockaddr_in *)&address)->sin_port = htons((uint16_t)remote->dialling.port);
    }
    remote_connect(remote, &remote->dialling, &address, length);
}

/* A lookup still running when the module goes: waited for (shutdown only). */
static void lookup_abandon(struct leaf_remote *remote)
{
    struct leaf_lookup *lookup = &remote->lookup;
    if (!lookup->running) {
        return;
    }
    pthread_join(lookup->thread, NULL); /* waits for the resolver: at shutdown only */
    if (lookup->result != NULL) {
        freeaddrinfo(lookup->result);
    }
    lookup->running = false;
}

static void remote_dial(struct leaf_remote *remote)
{
    remote->dialling = remote->urls[remote->url_next];
    remote->url_dialled = remote->url_next;
    remote->url_next = (remote->url_next + 1) % remote->url_count;
    remote->attempts++;
    const struct leaf_url *url = &remote->dialling;
    LOG_DEBUG("Trying to connect as leafnode to remote server on \"%s:%d\"", url->host,
              url->port);
    struct sockaddr_storage address;
    socklen_t address_length = 0;
    if (url_numeric(url, &address, &address_length)) {
        remote_connect(remote, url, &address, address_length);
    } else {
        lookup_start(remote);
    }
}

static void remote_connect(struct leaf_remote *remote, const struct leaf_url *url,
                           struct sockaddr_storage *address, socklen_t address_length)
{
    struct shard *shard = remote->state->shard;
    int fd = socket(address->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        dial_failed(remote, url, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)address, address_length) != 0 && errno != EINPROGRESS) {
        int error = errno;
        close(fd);
        dial_failed(remote, url, strerror(error));
        return;
    }
    struct conn *conn = conn_table_take(&shard->conns, &leaf_link_kind);
    if (conn == NULL) {
        close(fd);
        dial_failed(remote, url, "out of memory");
        return;
    }
    conn->shard = shard;
    conn->fd = fd;
    /* relaxed: a placement hint, taken back when the slot is freed (as an accept's) */
    atomic_fetch_add_explicit(&shard->shared->load, 1, memory_order_relaxed);
    /* relaxed: ids only need to be unique (nats-server's links share the clients' ids) */
    conn->id = atomic_fetch_add_explicit(&shard->server->next_client_id, 1,
                                         memory_order_relaxed) + 1;
    struct leaf_link *link = (struct leaf_link *)conn;
    link->remote = remote;
    link->url = *url;
    remote->link = link;
    if (conn->kind->open(conn, (struct sockaddr *)address) != 0) {
        conn_close(conn, "Out Of Memory"); /* release gives the remote back its retry */
        return;
    }
    const struct config_leaf_remote *config = remote->config;
    if (config != NULL && config->tls.on && config->tls.handshake_first &&
        conn_tls_start_client(conn, remote->tls, url->host) != 0) {
        conn_close(conn, "TLS Handshake Error"); /* the handshake before the hub's INFO */
        return;
    }
    loop_recv_start(shard->loop, conn);
}

static void retry_fired(struct timer_entry *entry, void *ctx)
{
    struct leaf_remote *remote = ctx;
    if (remote->state->stopping || remote->link != NULL) {
        return;
    }
    if (remote->lookup.running) {
        lookup_check(remote);
    } else {
        remote_dial(remote);
    }
}

static bool url_known(const struct leaf_remote *remote, const struct leaf_url *url)
{
    for (uint32_t u = 0; u < remote->url_count; u++) {
        if (remote->urls[u].port == url->port && strcmp(remote->urls[u].host, url->host) == 0) {
            return true;
        }
    }
    return false;
}

void leaf_remote_learn(struct leaf_remote *remote, const struct leaf_url *dialled,
                       const char *const *urls, size_t count)
{
    enum { LEARNED_MAX = CONFIG_LEAF_URLS_MAX };
    remote->url_count = remote->configured_count;
    for (size_t i = 0; i < count && remote->url_count < remote->configured_count + LEARNED_MAX;
         i++) {
        struct leaf_url url;
        if (leaf_url_parse(urls[i], &url) != 0 || url_known(remote, &url)) {
            continue;
        }
        memcpy(url.user, dialled->user, sizeof url.user); /* nats-server's saveUserPassword */
        memcpy(url.pass, dialled->pass, sizeof url.pass);
        remote->urls[remote->url_count++] = url;
    }
    /* the next try: the URL after the one dialled (a learned one is now in reach) */
    remote->url_next = (remote->url_dialled + 1) % remote->url_count;
}

void leaf_remote_lost(struct leaf_remote *remote)
{
    remote->link = NULL;
    if (remote->state->stopping) {
        return;
    }
    int64_t delay = remote->delay_ns > 0 ? remote->delay_ns : reconnect_delay(remote);
    remote->delay_ns = 0;
    remote_retry(remote, delay);
}

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

/* Fills a remote from its configuration (or, for --leafnodes, from a comma-separated URL
 * list). 0 or -EINVAL (logged). */
/* The client side of TLS for a remote: its tls {}, or the defaults (the system's CAs) for a
 * hub that asks for TLS unbidden. 0 or -EINVAL (logged). */
static int remote_tls_init(struct leaf_remote *remote, const struct config_leaf_remote *config)
{
    struct tls_settings settings = {0};
    if (config != NULL && config->tls.on) {
        settings.cert_file = config->tls.cert_file;
        settings.key_file = config->tls.key_file;
        settings.ca_file = config->tls.ca_file;
        settings.insecure = config->tls.insecure;
    }
    char error[512];
    remote->tls = tls_client_new(&settings, error, sizeof error);
    if (remote->tls == NULL) {
        LOG_ERROR("leafnode remote TLS: %s", error);
        return -EINVAL;
    }
    return 0;
}

static int remote_init(struct leaf_state *state, struct leaf_remote *remote,
                       const struct config_leaf_remote *config, const char *url_list)
{
    remote->state = state;
    remote->config = config;
    timer_entry_init(&remote->retry_timer, retry_fired, remote);
    if (remote_tls_init(remote, config) != 0) {
        return -EINVAL;
    }
    if (config != NULL) {
        for (uint32_t u = 0; u < config->url_count; u++) {
            if (leaf_url_parse(config->urls[u], &remote->urls[remote->url_count]) != 0) {
                LOG_ERROR("leafnode remote URL \"%s\" is not valid", config->urls[u]);
                return -EINVAL;
            }
            remote->url_count++;
        }
        remote->configured_count = remote->url_count;
        return 0;
    }
    char copy[CONFIG_LEAF_URLS_MAX * 128];
    snprintf(copy, sizeof copy, "%s", url_list);
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        if (remote->url_count == CONFIG_LEAF_URLS_MAX ||
            leaf_url_parse(item, &remote->urls[remote->url_count]) != 0) {
            LOG_ERROR("--leafnodes: URL \"%s\" is not valid", item);
            return -EINVAL;
        }
        remote->url_count++;
    }
    remote->configured_count = remote->url_count;
    return remote->url_count > 0 ? 0 : -EINVAL;
}

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
        lookup_abandon(&state->remotes[r]);
        tls_server_free(state->remotes[r].tls);
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
        if (remote_init(state, &state->remotes[r], rc, config->leaf_url) != 0) {
            state_free(state);
            return -EINVAL;
        }
    }
    shard->interest.watch = (struct interest_watch){.changed = interest_changed, .ctx = state};
    for (uint32_t r = 0; r < state->remote_count; r++) {
        remote_retry(&state->remotes[r], 0); /* the first try, once the loop runs */
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
        timer_cancel(&shard->timers, &remote->retry_timer);
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
        timer_cancel(&shard->timers, &remote->retry_timer);
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
