/* /metrics on a running broker: the Prometheus text page has prometheus-nats-exporter's
 * series with the figures of what the test did (clients connected, messages published and
 * delivered, a stream with a pull consumer part acknowledged), agrees with /varz, has one
 * set of ionats_shard_* series per shard, and reads without a complaint through
 * prometheus_client's own parser (tests/integration/metrics_check.py, run with the
 * virtualenv's python that scripts/setup.sh fills).
 *
 * The one idea: every figure checked is one the test caused or one /varz says in the same
 * quiet moment (nothing runs between the two requests), so the comparison is exact; the
 * page is read with a small line reader (name, labels, value), as a scraper reads it.
 * ionats only: the harness gives the reference no HTTP port, so with IONATS_TEST_SERVER=
 * nats-server the tests say so and pass. Runs with $IONATS_TEST_IO and $IONATS_TEST_SHARDS
 * (several shards: the clients and the stream land on others than shard 0, whose gather
 * collects them). Test thread, and libnats's for the subscriber's count. */
#include "tests/integration/itest.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { PAGE_MAX = 1 << 20, CLIENTS = 4, MESSAGES = 100, PAYLOAD = 16 };
enum { STORED = 20, FETCHED = 5, ACKED = 2 };

static const char *const MONITOR_ARGS[] = {"-m", "-1", NULL};
static const char CONTENT_TYPE[] = "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n";
/* What the exporter's collectors declare, with their types, as metrics_check.py checks. */
static const char *const FAMILIES[] = {"gnatsd_varz_connections=gauge",
                                       "gnatsd_varz_in_msgs=gauge",
                                       "gnatsd_varz_out_msgs=gauge",
                                       "gnatsd_varz_in_bytes=gauge",
                                       "gnatsd_varz_out_bytes=gauge",
                                       "gnatsd_varz_mem=gauge",
                                       "gnatsd_varz_cpu=gauge",
                                       "gnatsd_varz_subscriptions=gauge",
                                       "gnatsd_varz_slow_consumers=gauge",
                                       "gnatsd_varz_total_connections=gauge",
                                       "gnatsd_varz_start=gauge",
                                       "gnatsd_connz_in_msgs=counter",
                                       "gnatsd_connz_total=gauge",
                                       "jetstream_server_total_streams=gauge",
                                       "jetstream_server_total_messages=gauge",
                                       "ionats_shard_loop_turns_total=counter",
                                       "ionats_shard_recv_buffers_exhausted_total=counter",
                                       "ionats_shard_loop_completions_per_turn=histogram",
                                       "ionats_shard_fdatasync_seconds=histogram",
                                       NULL};

/* The store directory of the JetStream case, made and removed by its unchecked fixture
 * (the parent process: a failed test's forked child leaves nothing behind). */
static char store_dir[128];

static void store_dir_make(void)
{
    ck_assert_int_eq(test_store_dir_create(store_dir, sizeof store_dir), 0);
}

static void store_dir_remove(void)
{
    (void)test_store_dir_remove(store_dir);
}

struct page {
    char text[PAGE_MAX]; /* the whole response, NUL-terminated */
    const char *body;    /* into text */
};

/* GETs `path` on a connection of its own (Connection: close), read until the broker closes
 * it; the status must be 200. */
static void page_get(int port, const char *path, struct page *page)
{
    int fd = test_connect_raw(port);
    ck_assert_int_ge(fd, 0);
    char request[256];
    snprintf(request, sizeof request,
             "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    ck_assert_int_eq(test_send_all(fd, request, strlen(request)), 0);
    size_t length = 0;
    int64_t deadline = itest_now_ms() + ITEST_WAIT_MS;
    for (;;) {
        struct pollfd poll_fd = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - itest_now_ms());
        ck_assert_msg(left > 0 && poll(&poll_fd, 1, left) == 1, "%s: no whole answer", path);
        ck_assert_uint_lt(length, sizeof page->text - 1);
        ssize_t n = recv(fd, page->text + length, sizeof page->text - 1 - length, 0);
        ck_assert_int_ge(n, 0);
        if (n == 0) {
            break;
        }
        length += (size_t)n;
    }
    close(fd);
    page->text[length] = '\0';
    ck_assert_msg(strncmp(page->text, "HTTP/1.1 200 ", 13) == 0, "%s: %.200s", path, page->text);
    const char *end = strstr(page->text, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    page->body = end + 4;
}

/* ---- reading the page as a scraper does ---- */

/* Calls back for each sample `name` (exactly) whose labels contain `labels` (NULL: any);
 * returns how many. The value is the text after the line's last space. */
static int samples(const char *body, const char *name, const char *labels, double *sum,
                   double *first)
{
    size_t name_length = strlen(name);
    int count = 0;
    *sum = 0;
    *first = NAN;
    for (const char *line = body; *line != '\0';) {
        const char *end = strchr(line, '\n');
        ck_assert_ptr_nonnull(end); /* every line of the format ends with one */
        if (line[0] != '#' && strncmp(line, name, name_length) == 0 &&
            (line[name_length] == '{' || line[name_length] == ' ')) {
            char text[2048];
            size_t length = (size_t)(end - line);
            ck_assert_uint_lt(length, sizeof text);
            memcpy(text, line, length);
            text[length] = '\0';
            if (labels == NULL || strstr(text, labels) != NULL) {
                double value = strtod(strrchr(text, ' ') + 1, NULL);
                *sum += value;
                if (count == 0) {
                    *first = value;
                }
                count++;
            }
        }
        line = end + 1;
    }
    return count;
}

/* The one sample `name` with `labels`; fails the test unless there is exactly one. */
static double value_of(const char *body, const char *name, const char *labels)
{
    double sum;
    double first;
    int count = samples(body, name, labels, &sum, &first);
    ck_assert_msg(count == 1, "%s{%s}: %d samples", name, labels ? labels : "", count);
    return first;
}

/* The sum of every sample `name`, and in *count how many there are. */
static double sum_of(const char *body, const char *name, int *count)
{
    double sum;
    double first;
    *count = samples(body, name, NULL, &sum, &first);
    return sum;
}

/* A number of /varz's indented JSON: "key": value at the top level. */
static double varz_number(const char *varz, const char *key)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\n  \"%s\": ", key);
    const char *at = strstr(varz, needle);
    ck_assert_msg(at != NULL, "varz has no %s", key);
    return strtod(at + strlen(needle), NULL);
}

/* metrics_check.py over the page, with FAMILIES required: it must exit 0. */
static void python_check(const char *body)
{
    const char *python = getenv("IONATS_METRICS_PYTHON");
    const char *script = getenv("IONATS_METRICS_CHECK");
    ck_assert_msg(python != NULL && script != NULL, "meson sets IONATS_METRICS_PYTHON/_CHECK");
    ck_assert_msg(access(python, X_OK) == 0,
                  "%s: no python with prometheus_client; run scripts/setup.sh", python);
    char command[1024];
    int length = snprintf(command, sizeof command, "'%s' '%s'", python, script);
    for (int i = 0; FAMILIES[i] != NULL; i++) {
        length += snprintf(command + length, sizeof command - (size_t)length, " %s", FAMILIES[i]);
        ck_assert_uint_lt((size_t)length, sizeof command);
    }
    FILE *pipe = popen(command, "w");
    ck_assert_ptr_nonnull(pipe);
    ck_assert_uint_eq(fwrite(body, 1, strlen(body), pipe), strlen(body));
    int status = pclose(pipe);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "prometheus_client refused the page (status %d)", status);
}

/* Starts a broker with monitoring (and `jetstream` on store_dir); its monitoring port, or
 * 0 with the reference (the test then passes). */
static int metrics_start(struct test_server *server, bool jetstream)
{
    if (test_server_reference()) {
        fprintf(stderr, "test_monitor_metrics: the reference gets no HTTP port from the "
                        "harness; skipped\n");
        return 0;
    }
    struct test_server_options options = {
        .extra_args = MONITOR_ARGS, .jetstream = jetstream, .store_dir = store_dir};
    itest_server_start(server, &options);
    return itest_monitor_port(server, ITEST_WAIT_MS);
}

static void counted(natsConnection *connection, natsSubscription *sub, natsMsg *msg, void *closure)
{
    itest_counter_add(closure, 1);
    natsMsg_Destroy(msg);
}

START_TEST(test_metrics_clients)
{
    struct test_server server;
    int port = metrics_start(&server, false);
    if (port == 0) {
        return;
    }
    natsConnection *clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = itest_connect(server.url);
    }
    struct itest_counter received;
    itest_counter_init(&received);
    natsSubscription *sub = NULL;
    ITEST_OK(natsConnection_Subscribe(&sub, clients[0], "metrics.>", counted, &received));
    itest_flush(clients[0]);
    char payload[PAYLOAD];
    memset(payload, 'x', sizeof payload);
    for (int i = 0; i < MESSAGES; i++) {
        ITEST_OK(natsConnection_Publish(clients[1], "metrics.test", payload, PAYLOAD));
    }
    itest_flush(clients[1]);
    ck_assert_int_eq(itest_counter_wait(&received, MESSAGES, ITEST_WAIT_MS), MESSAGES);

    static struct page metrics;
    static struct page varz;
    page_get(port, "/metrics", &metrics);
    page_get(port, "/varz", &varz);
    ck_assert_ptr_nonnull(strstr(metrics.text, CONTENT_TYPE));
    const char *body = metrics.body;
    /* what the test did, exactly */
    ck_assert_double_eq(value_of(body, "gnatsd_varz_connections", NULL), CLIENTS);
    ck_assert_double_eq(value_of(body, "gnatsd_varz_in_msgs", NULL), MESSAGES);
    ck_assert_double_eq(value_of(body, "gnatsd_varz_out_msgs", NULL), MESSAGES);
    ck_assert_double_eq(value_of(body, "gnatsd_varz_in_bytes", NULL), MESSAGES * PAYLOAD);
    ck_assert_double_eq(value_of(body, "gnatsd_varz_out_bytes", NULL), MESSAGES * PAYLOAD);
    ck_assert_double_eq(value_of(body, "gnatsd_connz_total", NULL), CLIENTS);
    ck_assert_double_eq(value_of(body, "gnatsd_connz_num_connections", NULL), CLIENTS);
    ck_assert_double_eq(value_of(body, "gnatsd_connz_in_msgs", NULL), MESSAGES);
    ck_assert_double_eq(value_of(body, "gnatsd_connz_out_bytes", NULL), MESSAGES * PAYLOAD);
    ck_assert_double_eq(value_of(body, "gnatsd_connz_subscriptions", NULL), 1);
    ck_assert_double_eq(value_of(body, "gnatsd_connz_limit", NULL), 1024);
    ck_assert_double_eq(value_of(body, "jetstream_server_jetstream_disabled", NULL), 1);
    ck_assert_double_ge(value_of(body, "gnatsd_varz_http_req_stats_metrics", NULL), 1);
    /* as /varz says, read right after */
    static const char *const same[] = {"subscriptions",  "total_connections",
                                       "slow_consumers", "max_payload",
                                       "port",           "gomaxprocs"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "gnatsd_varz_%s", same[i]);
        ck_assert_double_eq(value_of(body, name, NULL), varz_number(varz.body, same[i]));
    }
    const char *id = strstr(varz.body, "\"server_id\": \"");
    ck_assert_ptr_nonnull(id);
    char label[128];
    snprintf(label, sizeof label, "value=\"%.56s\"", id + strlen("\"server_id\": \""));
    ck_assert_double_eq(value_of(body, "gnatsd_varz_server_id", label), 1);
    /* one series per shard, whose own figures add up to the server's */
    int shards = 0;
    ck_assert_double_eq(sum_of(body, "ionats_shard_connections", &shards), CLIENTS);
    ck_assert_int_eq(shards, (int)varz_number(varz.body, "gomaxprocs"));
    int count = 0;
    double turns = sum_of(body, "ionats_shard_loop_turns_total", &count);
    ck_assert_int_eq(count, shards);
    ck_assert_double_gt(turns, 0);
    ck_assert_double_eq(sum_of(body, "ionats_shard_loop_completions_per_turn_count", &count),
                        turns);
    ck_assert_double_ge(sum_of(body, "ionats_shard_in_bytes_total", &count), MESSAGES * PAYLOAD);
    ck_assert_double_eq(
        value_of(body, "ionats_shard_loop_completions_per_turn_bucket", "shard=\"0\",le=\"+Inf\""),
        value_of(body, "ionats_shard_loop_completions_per_turn_count", "shard=\"0\""));
    python_check(body);

    natsSubscription_Destroy(sub);
    for (int i = 0; i < CLIENTS; i++) {
        natsConnection_Destroy(clients[i]);
    }
    itest_counter_destroy(&received);
    itest_server_stop(&server);
}
END_TEST

START_TEST(test_metrics_jetstream)
{
    struct test_server server;
    int port = metrics_start(&server, true);
    if (port == 0) {
        return;
    }
    natsConnection *connection = itest_connect(server.url);
    jsCtx *js = NULL;
    ITEST_OK(natsConnection_JetStream(&js, connection, NULL));
    jsStreamConfig config;
    ITEST_OK(jsStreamConfig_Init(&config));
    const char *subjects[] = {"orders.>"};
    config.Name = "ORDERS";
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    jsStreamInfo *info = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_AddStream(&info, js, &config, NULL, &code));
    jsStreamInfo_Destroy(info);
    for (int i = 0; i < STORED; i++) {
        jsPubAck *ack = NULL;
        char data[32];
        int length = snprintf(data, sizeof data, "order %d", i);
        ITEST_OK(js_Publish(&ack, js, "orders.new", data, length, NULL, &code));
        jsPubAck_Destroy(ack);
    }
    /* made by hand: libnats writes a description into its JSON unescaped, and this one's
     * quotes and newline must come out escaped in the consumer_desc label */
    static const char create[] =
        "{\"stream_name\":\"ORDERS\",\"config\":{\"durable_name\":\"ship\","
        "\"description\":\"ship \\\"it\\\"\\nnow\",\"ack_policy\":\"explicit\","
        "\"filter_subject\":\"orders.>\"}}";
    natsMsg *reply = NULL;
    ITEST_OK(natsConnection_RequestString(
        &reply, connection, "$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.ship", create, ITEST_WAIT_MS));
    ck_assert_msg(strstr(natsMsg_GetData(reply), "\"error\"") == NULL, "%s",
                  natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    natsSubscription *sub = NULL;
    ITEST_OK(js_PullSubscribe(&sub, js, "orders.>", "ship", NULL, NULL, &code));
    natsMsg *msgs[FETCHED];
    int fetched = 0;
    int64_t deadline = itest_now_ms() + ITEST_WAIT_MS;
    while (fetched < FETCHED && itest_now_ms() < deadline) {
        natsMsgList list = {0};
        if (natsSubscription_Fetch(&list, sub, FETCHED - fetched, 1000, &code) == NATS_OK) {
            for (int i = 0; i < list.Count; i++) {
                msgs[fetched++] = list.Msgs[i];
                list.Msgs[i] = NULL;
            }
        }
        natsMsgList_Destroy(&list);
    }
    ck_assert_int_eq(fetched, FETCHED);
    for (int i = 0; i < ACKED; i++) {
        ITEST_OK(natsMsg_AckSync(msgs[i], NULL, &code));
    }

    static struct page metrics;
    page_get(port, "/metrics", &metrics);
    const char *body = metrics.body;
    ck_assert_double_eq(value_of(body, "jetstream_server_jetstream_disabled", NULL), 0);
    ck_assert_double_eq(value_of(body, "jetstream_server_total_streams", NULL), 1);
    ck_assert_double_eq(value_of(body, "jetstream_server_total_consumers", NULL), 1);
    ck_assert_double_eq(value_of(body, "jetstream_server_total_messages", NULL), STORED);
    const char *stream = "stream_name=\"ORDERS\"";
    ck_assert_double_eq(value_of(body, "jetstream_stream_total_messages", stream), STORED);
    ck_assert_double_eq(value_of(body, "jetstream_stream_first_seq", stream), 1);
    ck_assert_double_eq(value_of(body, "jetstream_stream_last_seq", stream), STORED);
    ck_assert_double_eq(value_of(body, "jetstream_stream_consumer_count", stream), 1);
    ck_assert_double_eq(value_of(body, "jetstream_stream_limit_messages", stream), -1);
    ck_assert_double_eq(value_of(body, "jetstream_stream_total_bytes", stream),
                        value_of(body, "jetstream_server_total_message_bytes", NULL));
    ck_assert_double_eq(value_of(body, "jetstream_account_storage_used", "account=\"$G\""),
                        value_of(body, "jetstream_server_total_message_bytes", NULL));
    const char *consumer = "consumer_desc=\"ship \\\"it\\\"\\nnow\",consumer_leader=\"\","
                           "consumer_name=\"ship\"";
    ck_assert_double_eq(value_of(body, "jetstream_consumer_delivered_stream_seq", consumer),
                        FETCHED);
    ck_assert_double_eq(value_of(body, "jetstream_consumer_num_ack_pending", consumer),
                        FETCHED - ACKED);
    ck_assert_double_eq(value_of(body, "jetstream_consumer_ack_floor_stream_seq", consumer), ACKED);
    ck_assert_double_eq(value_of(body, "jetstream_consumer_num_pending", consumer),
                        STORED - FETCHED);
    ck_assert_double_ge(value_of(body, "jetstream_consumer_last_delivery_seconds", consumer), 0);
    /* the stream stores' group commits, and their fdatasyncs timed */
    int count = 0;
    double commits = sum_of(body, "ionats_shard_group_commits_total", &count);
    ck_assert_double_gt(commits, 0);
    double timed = sum_of(body, "ionats_shard_fdatasync_seconds_count", &count);
    ck_assert_double_gt(timed, 0);
    ck_assert_double_le(timed, commits);
    ck_assert_double_gt(sum_of(body, "ionats_shard_store_writes_total", &count), 0);
    python_check(body);

    for (int i = 0; i < FETCHED; i++) {
        natsMsg_Destroy(msgs[i]);
    }
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(connection);
    itest_server_stop(&server);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *suite = suite_create("monitor_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, store_dir_make, store_dir_remove);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_metrics_clients);
    tcase_add_test(tc, test_metrics_jetstream);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(metrics_suite());
}
