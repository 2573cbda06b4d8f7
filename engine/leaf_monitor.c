/* What monitoring shows of the leafnode links: /leafz's entries, nats-server's fields in
 * its order (id, name, is_spoke, account, ip, port, rtt, the four counters, subscriptions,
 * subscriptions_list with ?subs=1, compression), and the link count /varz reports. A link
 * shows once its handshake is over. Shard 0's thread (the monitor's). */
#include "engine/leaf.h"
#include "engine/leaf_internal.h"

#include "engine/server.h"
#include "engine/shard.h"
#include "proto/go_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool link_shown(const struct leaf_link *link)
{
    return link != NULL && link->phase == LEAF_ACTIVE && !conn_ending(&link->conn);
}

int leaf_link_count(const struct leaf_state *state)
{
    int count = 0;
    for (uint32_t r = 0; r < state->remote_count; r++) {
        count += link_shown(state->remotes[r].link);
    }
    for (const struct leaf_link *link = state->accepted_head; link != NULL;
         link = link->accepted_next) {
        count += link_shown(link);
    }
    return count;
}

/* Go's time.Duration String for durations under a minute: "850ns", "1.5µs", "27.18ms",
 * "1.2s" (trailing zeros of the fraction dropped). */
static void duration_write(struct go_json *json, int64_t ns)
{
    static const struct {
        int64_t unit;
        int digits;
        const char *suffix;
    } scales[] = {{1000000000LL, 9, "s"}, {1000000LL, 6, "ms"}, {1000LL, 3, "\xc2\xb5s"}};
    char text[64];
    if (ns < 1000) {
        snprintf(text, sizeof text, "%" PRId64 "ns", ns);
    } else {
        size_t s = 0;
        while (ns < scales[s].unit) {
            s++;
        }
        char fraction[16];
        snprintf(fraction, sizeof fraction, "%0*" PRId64, scales[s].digits, ns % scales[s].unit);
        size_t length = strlen(fraction);
        while (length > 0 && fraction[length - 1] == '0') {
            fraction[--length] = '\0';
        }
        snprintf(text, sizeof text, "%" PRId64 "%s%s%s", ns / scales[s].unit,
                 length > 0 ? "." : "", fraction, scales[s].suffix);
    }
    go_json_cstring(json, text);
}

static void link_write(const struct leaf_link *link, struct go_json *json, bool subs)
{
    go_json_comma(json);
    go_json_raw(json, "{", 1);
    go_json_key_uint(json, "id", link->conn.id);
    go_json_key_cstring(json, "name", link->hub_name);
    go_json_key_bool(json, "is_spoke", !link->accepted); /* we dialled it: we are the spoke */
    go_json_key_cstring(json, "account", "$G");
    go_json_key_cstring(json, "ip", link->conn.ip);
    go_json_key_int(json, "port", link->conn.port);
    if (link->rtt_ns > 0) {
        go_json_key(json, "rtt");
        duration_write(json, link->rtt_ns);
    }
    go_json_key_uint(json, "in_msgs", link->conn.stats.in_msgs);
    go_json_key_uint(json, "out_msgs", link->conn.stats.out_msgs);
    go_json_key_uint(json, "in_bytes", link->conn.stats.in_bytes);
    go_json_key_uint(json, "out_bytes", link->conn.stats.out_bytes);
    go_json_key_uint(json, "subscriptions", link->sub_count);
    if (subs && link->sub_count > 0) {
        go_json_key(json, "subscriptions_list");
        go_json_raw(json, "[", 1);
        for (uint32_t b = 0; b < link->bucket_count; b++) {
            for (const struct leaf_sub *sub = link->buckets[b]; sub != NULL; sub = sub->next) {
                go_json_comma(json);
                go_json_string(json, sub->route.sub.subject, sub->route.sub.subject_length);
            }
        }
        go_json_raw(json, "]", 1);
    }
    go_json_key_cstring(json, "compression", "off");
    go_json_raw(json, "}", 1);
}

/* nats-server's LeafNodeOptsVarz: omitempty fields, seconds as numbers. */
void leaf_varz_json(const struct leaf_state *state, struct go_json *json)
{
    const struct server *server = state->shard->server;
    const struct config *config = server->config;
    go_json_raw(json, "{", 1);
    if (server->leaf_listen_fd >= 0) {
        go_json_key_cstring(json, "host", config->leaf_host != NULL ? config->leaf_host
                                                                    : config->host);
        go_json_key_int(json, "port", server->leaf_port);
        go_json_key_int(json, "auth_timeout", 2); /* a leaf's CONNECT must come within 2s */
        go_json_key_int(json, "tls_timeout", 2);
        if (server->leaf_tls != NULL) {
            go_json_key_bool(json, "tls_required", true);
        }
    }
    if (state->remote_count > 0) {
        go_json_key(json, "remotes");
        go_json_raw(json, "[", 1);
        for (uint32_t r = 0; r < state->remote_count; r++) {
            const struct leaf_remote *remote = &state->remotes[r];
            go_json_comma(json);
            go_json_raw(json, "{", 1);
            go_json_key_cstring(json, "local_account", "$G");
            go_json_key(json, "urls");
            go_json_raw(json, "[", 1);
            for (uint32_t u = 0; u < remote->configured_count; u++) {
                char text[LEAF_HOST_MAX + 16];
                snprintf(text, sizeof text, "%s:%d", remote->urls[u].host, remote->urls[u].port);
                go_json_comma(json);
                go_json_cstring(json, text);
            }
            go_json_raw(json, "]}", 2);
        }
        go_json_raw(json, "]", 1);
    }
    go_json_raw(json, "}", 1);
}

void leaf_leafz_json(struct leaf_state *state, struct go_json *json, bool subs)
{
    go_json_key_int(json, "leafnodes", leaf_link_count(state));
    go_json_key(json, "leafs");
    go_json_raw(json, "[", 1);
    for (uint32_t r = 0; r < state->remote_count; r++) {
        const struct leaf_link *link = state->remotes[r].link;
        if (link_shown(link)) {
            link_write(link, json, subs);
        }
    }
    for (const struct leaf_link *link = state->accepted_head; link != NULL;
         link = link->accepted_next) {
        if (link_shown(link)) {
            link_write(link, json, subs);
        }
    }
    go_json_raw(json, "]", 1);
}
