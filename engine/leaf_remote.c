/* Leafnode remotes: a server this one connects to as a leaf (leaf_internal.h): its URLs
 * (configured, then learned from the hub's INFO), its TLS client context, and the dialling:
 * tries in turn, each after the reconnect delay (nats-server's 1s, --leafnode_reconnect),
 * 30s after the hub found a loop. The connect is non-blocking and the link is handed
 * straight to the loop: the hub speaks first, so the link's receive learns both that the
 * connection was made (INFO) and that it was not (the connect's error ends the receive).
 * Host names are looked up by a thread of their own, which waits for the resolver, and
 * looked at on shard 0's timer (numeric addresses and localhost need no lookup). Shard 0's
 * thread only, but for that lookup thread (struct leaf_lookup: its result is published
 * with a release store). */
#include "engine/leaf.h"
#include "engine/leaf_internal.h"

#include "base/clock.h"
#include "base/log.h"
#include "engine/conn_tls.h"
#include "engine/loop.h"
#include "engine/shard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* ---- a remote's life ------------------------------------------------------------------ */

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

int leaf_remote_init(struct leaf_state *state, struct leaf_remote *remote,
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

void leaf_remote_start(struct leaf_remote *remote)
{
    remote_retry(remote, 0); /* the first try, once the loop runs */
}

void leaf_remote_stop(struct leaf_remote *remote)
{
    timer_cancel(&remote->state->shard->timers, &remote->retry_timer);
}

void leaf_remote_free(struct leaf_remote *remote)
{
    lookup_abandon(remote);
    tls_server_free(remote->tls);
    remote->tls = NULL;
}
