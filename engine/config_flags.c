/* The table of flags (config.h's struct flag): every flag's names, kind, field, bounds and
 * help line, in --help's order. One table, so that --help, parsing, the configuration
 * file's keys and a reload's comparison cannot drift apart (config.c, config_file.c,
 * config_reload.c read it). Immutable. */
#include "engine/config.h"

#include "base/spsc.h"
#include "engine/xshard_record.h"

#include <stddef.h>

#define FIELD(name) offsetof(struct config, name)

const struct flag config_flags[] = {
    {{"c", "config"}, FLAG_STRING, ACTION_SET, FIELD(config_path), 0, 0, "<file>",
     "Configuration file, in nats-server's format; flags given override it"},
    {{"t"}, FLAG_SWITCH, ACTION_SET, FIELD(config_test), 0, 0, NULL,
     "Test the configuration file and exit: 0 if it is valid, else 1 and why"},
    {{"a", "addr", "net"}, FLAG_STRING, ACTION_SET, FIELD(host), 0, 0, "<host>",
     "Bind to host address (default: 0.0.0.0)"},
    {{"p", "port"}, FLAG_INT, ACTION_SET, FIELD(port), -1, 65535, "<port>",
     "Use port for clients, -1 or 0 for any free port (default: 4222)"},
    {{"n", "name", "server_name"}, FLAG_STRING, ACTION_SET, FIELD(server_name), 0, 0, "<name>",
     "Server name (default: the server id)"},
    {{"l", "log"}, FLAG_STRING, ACTION_SET, FIELD(log_path), 0, 0, "<file>",
     "File to redirect log output (default: stderr)"},
    {{"T", "logtime"}, FLAG_SWITCH, ACTION_SET, FIELD(logtime), 0, 0, NULL,
     "Timestamp log entries; -T=false leaves the date and time out (default: true)"},
    {{"logtime_utc"}, FLAG_SWITCH, ACTION_SET, FIELD(logtime_utc), 0, 0, NULL,
     "Timestamps in UTC instead of the local time zone (default: false)"},
    {{"log_size_limit"}, FLAG_SIZE, ACTION_SET, FIELD(log_size_limit), 0, INT64_MAX, "<size>",
     "Rotate the --log file once it is larger than this, e.g. 10MB; the full file is kept as "
     "<file>.<date and time> (default: 0, never)"},
    {{"P", "pid"}, FLAG_STRING, ACTION_SET, FIELD(pid_path), 0, 0, "<file>",
     "File to store the process id in at start (default: none)"},
    {{"ports_file_dir"}, FLAG_STRING, ACTION_SET, FIELD(ports_file_dir), 0, 0, "<dir>",
     "Write <executable>_<pid>.ports, the client and monitoring URLs as JSON, in this "
     "directory once listening; removed at exit (default: none)"},
    {{"sl", "signal"}, FLAG_STRING, ACTION_SET, FIELD(signal), 0, 0, "<signal>[=<pid>]",
     "Send a signal to a running ionats and exit: stop, quit, term, reopen, reload or ldm; "
     "<pid> is a PID, a PID file, or a PID prefix ending in * (default: the only ionats "
     "running)"},
    {{"D", "debug"}, FLAG_SWITCH, ACTION_SET, FIELD(debug), 0, 0, NULL,
     "Enable debugging output"},
    {{"V", "trace"}, FLAG_SWITCH, ACTION_SET, FIELD(trace), 0, 0, NULL,
     "Trace the raw protocol"},
    {{"DV"}, FLAG_SWITCH, ACTION_DEBUG_TRACE, 0, 0, 0, NULL, "Debug and trace"},
    {{"user"}, FLAG_STRING, ACTION_SET, FIELD(user), 0, 0, "<user>",
     "User required for connections"},
    {{"pass"}, FLAG_STRING, ACTION_SET, FIELD(pass), 0, 0, "<password>",
     "Password required for connections"},
    {{"auth"}, FLAG_STRING, ACTION_SET, FIELD(token), 0, 0, "<token>",
     "Authorization token required for connections"},
    {{"auth_timeout"}, FLAG_DURATION, ACTION_SET, FIELD(auth_timeout_ns), 1, INT64_MAX,
     "<duration>", "Time a client has to authenticate when auth is on (default: 2s)"},
    {{"tls"}, FLAG_SWITCH, ACTION_SET, FIELD(tls), 0, 0, NULL,
     "Enable TLS for clients, without checking their certificates (default: false)"},
    {{"tlscert"}, FLAG_STRING, ACTION_SET, FIELD(tls_cert), 0, 0, "<file>",
     "Server certificate chain file (PEM)"},
    {{"tlskey"}, FLAG_STRING, ACTION_SET, FIELD(tls_key), 0, 0, "<file>",
     "Private key of the server certificate (PEM)"},
    {{"tlsverify"}, FLAG_SWITCH, ACTION_SET, FIELD(tls_verify), 0, 0, NULL,
     "Enable TLS and require client certificates signed by --tlscacert (default: false)"},
    {{"tlscacert"}, FLAG_STRING, ACTION_SET, FIELD(tls_ca), 0, 0, "<file>",
     "CA certificates client certificates are checked against (PEM; default: the "
     "system's)"},
    {{"tls_handshake_first"}, FLAG_SWITCH, ACTION_SET, FIELD(tls_handshake_first), 0, 0, NULL,
     "TLS handshake before INFO, as tls { handshake_first } (default: false)"},
    {{"tls_timeout"}, FLAG_DURATION, ACTION_SET, FIELD(tls_timeout_ns), 1, INT64_MAX,
     "<duration>", "Time a TLS handshake may take (default: 2s)"},
    {{"tls_min_version"}, FLAG_STRING, ACTION_SET, FIELD(tls_min_version), 0, 0, "<version>",
     "Lowest TLS version accepted: 1.2 or 1.3 (default: 1.2)"},
    {{"leafnodes"}, FLAG_STRING, ACTION_SET, FIELD(leaf_url), 0, 0, "<url,...>",
     "Connect as a leafnode to the server at these URLs, nats-leaf://[user:pass@]host:port "
     "(default: none)"},
    {{"leafnode_port"}, FLAG_INT, ACTION_SET, FIELD(leaf_port), -1, 65535, "<port>",
     "Accept leafnode connections on this port, -1 any free one (default: 0, none)"},
    {{"leafnode_host"}, FLAG_STRING, ACTION_SET, FIELD(leaf_host), 0, 0, "<host>",
     "Address leafnode connections are accepted on (default: the client address)"},
    {{"leafnode_reconnect"}, FLAG_DURATION, ACTION_SET, FIELD(leaf_reconnect_ns), 1,
     INT64_MAX, "<duration>",
     "Wait before a lost or refused leafnode link is tried again (default: 1s)"},
    {{"max_payload"}, FLAG_INT, ACTION_SET, FIELD(max_payload), 1, 64LL * 1024 * 1024,
     "<bytes>", "Largest message payload a client may publish (default: 1048576)"},
    {{"max_control_line"}, FLAG_INT, ACTION_SET, FIELD(max_control_line), 32,
     CONFIG_MAX_CONTROL_LINE_MAX, "<bytes>",
     "Longest protocol control line; with several shards at most half --xshard_ring_size "
     "less 24 (default: 4096)"},
    {{"max_pending"}, FLAG_INT, ACTION_SET, FIELD(max_pending), 1024, 1LL << 40, "<bytes>",
     "Output bytes a client may have pending before it is cut off as a slow consumer "
     "(default: 67108864)"},
    {{"max_connections"}, FLAG_INT, ACTION_SET, FIELD(max_connections), 1, 1 << 24,
     "<count>", "Most client connections at once (default: 65536)"},
    {{"max_subscriptions"}, FLAG_INT, ACTION_SET, FIELD(max_subscriptions), 0, 1 << 30,
     "<count>", "Most subscriptions per connection, 0 for no limit (default: 0)"},
    {{"max_closed_clients"}, FLAG_INT, ACTION_SET, FIELD(max_closed_clients), 0, 1 << 24,
     "<count>",
     "Closed client connections kept for /connz?state=closed, 0 for none (default: 10000)"},
    {{"ping_interval"}, FLAG_DURATION, ACTION_SET, FIELD(ping_interval_ns), 1, INT64_MAX,
     "<duration>", "Interval between server PINGs to an idle client (default: 2m)"},
    {{"write_deadline"}, FLAG_DURATION, ACTION_SET, FIELD(write_deadline_ns), 1, INT64_MAX,
     "<duration>",
     "Time a send to a client may make no progress before it is cut off as a slow consumer "
     "(default: 10s)"},
    {{"ping_max"}, FLAG_INT, ACTION_SET, FIELD(ping_max), 1, 1000, "<count>",
     "Unanswered PINGs before the client is closed as stale (default: 2)"},
    {{"shards"}, FLAG_INT, ACTION_SET, FIELD(shards), 0, CONFIG_SHARDS_MAX, "<count>",
     "Shard threads, each with its own io_uring, connections and index; 0 for one per "
     "online CPU (default: 0)"},
    {{"cpus"}, FLAG_STRING, ACTION_SET, FIELD(cpus), 0, 0, "<list>",
     "CPUs to pin shards to, e.g. 0,2-3; shard i takes the i-th, cycling (default: all)"},
    {{"placement"}, FLAG_STRING, ACTION_SET, FIELD(placement), 0, 0, "<how>",
     "acceptor: one listener hands each connection to the least-loaded shard; reuseport: "
     "a SO_REUSEPORT listener per shard (default: acceptor)"},
    {{"io"}, FLAG_STRING, ACTION_SET, FIELD(io), 0, 0, "<backend>",
     "uring, epoll, or auto: io_uring, or epoll with a warning where io_uring is refused "
     "(seccomp, kernel.io_uring_disabled) (default: auto)"},
    {{"xshard_ring_size"}, FLAG_INT, ACTION_SET, FIELD(xshard_ring_size),
     CONFIG_XSHARD_RING_SIZE_MIN, CONFIG_XSHARD_RING_SIZE_MAX, "<bytes>",
     "Bytes of each shard-to-shard ring, a power of two (default: 1048576)"},
    {{"xshard_overflow_max"}, FLAG_INT, ACTION_SET, FIELD(xshard_overflow_max), 0,
     CONFIG_XSHARD_OVERFLOW_MAX_MAX, "<bytes>",
     "Bytes of messages and announcements a shard may queue for full shard-to-shard rings "
     "before it stops reading all its connections until they drain (default: 67108864)"},
    {{"stats"}, FLAG_DURATION, ACTION_SET, FIELD(stats_interval_ns), 0, INT64_MAX, "<duration>",
     "Log per-shard counters at this interval, 0 for only on SIGUSR1 (default: 0)"},
    {{"recv_buf_size"}, FLAG_INT, ACTION_SET, FIELD(recv_buf_size), 4096, 1 << 24, "<bytes>",
     "Size of each provided receive buffer (default: 65536)"},
    {{"recv_buf_count"}, FLAG_INT, ACTION_SET, FIELD(recv_buf_count), 2, 32768, "<count>",
     "Provided receive buffers per shard, a power of two (default: 32)"},
    {{"ring_entries"}, FLAG_INT, ACTION_SET, FIELD(ring_entries), 8, CONFIG_RING_ENTRIES_MAX,
     "<count>",
     "io_uring submission queue entries per shard (default: 1024)"},
    {{"m", "http_port"}, FLAG_INT, ACTION_SET, FIELD(http_port), -1, 65535, "<port>",
     "Use port for http monitoring, -1 for any free port (default: 0, off)"},
    {{"http_host"}, FLAG_STRING, ACTION_SET, FIELD(http_host), 0, 0, "<host>",
     "Bind http monitoring to this address (default: the --addr host)"},
    {{"lame_duck_duration"}, FLAG_DURATION, ACTION_SET, FIELD(lame_duck_duration_ns), 1,
     INT64_MAX, "<duration>",
     "Lame duck mode (SIGUSR2): close the clients over this long (default: 2m; a file "
     "takes 30s at least, as nats-server)"},
    {{"lame_duck_grace_period"}, FLAG_DURATION, ACTION_SET, FIELD(lame_duck_grace_period_ns),
     0, INT64_MAX, "<duration>",
     "Lame duck mode: wait this long before closing the first client (default: 10s)"},
    {{"ms", "https_port"}, FLAG_INT, ACTION_SET, FIELD(https_port), -1, 65535, "<port>",
     "Use port for https monitoring (the --tls certificate), -1 for any free port "
     "(default: 0, off)"},
    {{"js", "jetstream"}, FLAG_SWITCH, ACTION_SET, FIELD(jetstream), 0, 0, NULL,
     "Enable JetStream (default: off)"},
    {{"js_domain"}, FLAG_STRING, ACTION_SET, FIELD(js_domain), 0, 0, "<name>",
     "JetStream domain: $JS.<name>.API reaches this JetStream, from across leafnode links "
     "too (default: none)"},
    {{"sd", "store_dir"}, FLAG_STRING, ACTION_SET, FIELD(store_dir), 0, 0, "<dir>",
     "JetStream storage directory (default: " CONFIG_STORE_DIR_DEFAULT ")"},
    {{"max_memory_store"}, FLAG_SIZE, ACTION_SET, FIELD(max_memory_store), 0, INT64_MAX,
     "<size>", "JetStream memory storage limit, e.g. 1GB (default: 75% of the host's memory)"},
    {{"max_file_store"}, FLAG_SIZE, ACTION_SET, FIELD(max_file_store), 0, INT64_MAX, "<size>",
     "JetStream file storage limit, e.g. 10GB (default: 75% of the free disk, at most 1TB)"},
    {{"sync"}, FLAG_STRING, ACTION_SET, FIELD(sync), 0, 0, "<policy>",
     "always: a publish is acknowledged once it is on disk (group commit); interval: synced "
     "every --sync_interval, acknowledged when written; none: left to the kernel "
     "(default: always)"},
    {{"sync_interval"}, FLAG_DURATION, ACTION_SET, FIELD(sync_interval_ns), 1, INT64_MAX,
     "<duration>", "How often --sync interval syncs stored data (default: 2m)"},
    {{"segment_size"}, FLAG_SIZE, ACTION_SET, FIELD(segment_size), 1LL << 20, 1LL << 32,
     "<size>", "Bytes of each stream segment file, from 1MB to 4GB; a stored message must fit "
     "one (default: 64MB)"},
    {{"cid", "cluster_id"}, FLAG_STRING, ACTION_SET, FIELD(streaming_cluster_id), 0, 0, "<id>",
     "NATS Streaming: serve this cluster id, which turns streaming (and JetStream) on "
     "(default: off; nats-streaming-server's own default id is test-cluster)"},
    {{"st", "store"}, FLAG_STRING, ACTION_SET, FIELD(streaming_store), 0, 0, "<type>",
     "NATS Streaming store: FILE (channels, clients and subscriptions on disk, acked by "
     "--sync) or MEMORY (default: FILE, where nats-streaming-server defaults to MEMORY)"},
    {{"dir"}, FLAG_STRING, ACTION_SET, FIELD(streaming_dir), 0, 0, "<dir>",
     "NATS Streaming: directory of its clients and subscriptions; channels are JetStream "
     "streams in --store_dir (default: <store_dir>/streaming)"},
    {{"mc", "max_channels"}, FLAG_INT, ACTION_SET, FIELD(streaming_max_channels), 0, INT64_MAX,
     "<count>", "NATS Streaming: most channels, 0 for unlimited (default: 100)"},
    {{"msu", "max_subs"}, FLAG_INT, ACTION_SET, FIELD(streaming_max_subs), 0, INT64_MAX,
     "<count>", "NATS Streaming: most subscriptions per channel, 0 for unlimited "
     "(default: 1000)"},
    {{"mm", "max_msgs"}, FLAG_INT, ACTION_SET, FIELD(streaming_max_msgs), 0, INT64_MAX,
     "<count>", "NATS Streaming: most messages per channel, 0 for unlimited "
     "(default: 1000000)"},
    {{"mb", "max_bytes"}, FLAG_SIZE, ACTION_SET, FIELD(streaming_max_bytes), 0, INT64_MAX,
     "<size>", "NATS Streaming: most message bytes per channel, 0 for unlimited "
     "(default: 976.6MB)"},
    {{"ma", "max_age"}, FLAG_DURATION, ACTION_SET, FIELD(streaming_max_age_ns), 0, INT64_MAX,
     "<duration>", "NATS Streaming: messages older than this go, 0 for unlimited (default: 0)"},
    {{"mi", "max_inactivity"}, FLAG_DURATION, ACTION_SET, FIELD(streaming_max_inactivity_ns), 0,
     INT64_MAX, "<duration>",
     "NATS Streaming: a channel with no subscription and no publish for this long is "
     "deleted, 0 for never (default: 0)"},
    {{"hbi", "hb_interval"}, FLAG_DURATION, ACTION_SET, FIELD(streaming_hb_interval_ns), 1,
     INT64_MAX, "<duration>",
     "NATS Streaming: interval of the server's heartbeats to each client (default: 30s)"},
    {{"hbt", "hb_timeout"}, FLAG_DURATION, ACTION_SET, FIELD(streaming_hb_timeout_ns), 1,
     INT64_MAX, "<duration>",
     "NATS Streaming: how long a heartbeat waits for the client's answer (default: 10s)"},
    {{"hbf", "hb_fail_count"}, FLAG_INT, ACTION_SET, FIELD(streaming_hb_fail_count), 1,
     INT64_MAX, "<count>",
     "NATS Streaming: missed heartbeats in a row after which a client is dropped "
     "(default: 10)"},
    {{"SD", "stan_debug"}, FLAG_SWITCH, ACTION_SET, FIELD(streaming_debug), 0, 0, NULL,
     "NATS Streaming: log its connects, subscriptions and closes (default: off)"},
    {{"SV", "stan_trace"}, FLAG_SWITCH, ACTION_SET, FIELD(streaming_trace), 0, 0, NULL,
     "NATS Streaming: also log each request it handles (default: off)"},
    {{"SDV"}, FLAG_SWITCH, ACTION_SET, FIELD(streaming_debug_trace), 0, 0, NULL,
     "NATS Streaming: -SD and -SV"},
    {{"h", "help"}, FLAG_SWITCH, ACTION_HELP, 0, 0, 0, NULL, "Show this message"},
    {{"v", "version"}, FLAG_SWITCH, ACTION_VERSION, 0, 0, 0, NULL, "Show version"},
};

const size_t config_flag_count = sizeof config_flags / sizeof config_flags[0];
