/* JetStream across a leafnode link: the broker under test as the leaf of a nats-server hub
 * (Debian's 2.9.10 on the PATH, and the current release from .venv-tests), each with a
 * JetStream domain of its own (HUB, LEAFD): a client of the hub manages and publishes to
 * the leaf's streams through $JS.LEAFD.API; a stream on the leaf mirrors and sources a
 * stream of the hub through the external API prefix $JS.HUB.API, and a hub stream mirrors
 * one of the leaf's the same way; push consumers across the link deliver messages under
 * their own subjects (nats-server carries a delivery's subject after its ack reply's '@').
 *
 * With IONATS_TEST_SERVER=nats-server every case runs with nats-server as the leaf too:
 * the expectations are nats-server's behaviour (observed with 2.9.10 and 2.15.1). */
#include "tests/integration/itest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CONFIG_MAX = 1024, COPY_WAIT_MS = 20000 };

/* The hubs the cases run against: the PATH's nats-server, then the current release. */
static const char *hub_binary(int which)
{
    if (which == 0) {
        return NULL;
    }
    const char *current = getenv("IONATS_NATS_SERVER_CURRENT");
    return current != NULL && access(current, X_OK) == 0 ? current : NULL;
}

static char hub_config[CONFIG_MAX];
static char hub_store[64];

/* A nats-server hub listening for leafnodes on a free port (returned), with JetStream in
 * domain HUB when `jetstream`. */
static int hub_start(struct test_server *hub, int which, const char *jetstream)
{
    int leaf_port = test_free_port();
    ck_assert_int_gt(leaf_port, 0);
    char js[256] = "";
    if (jetstream != NULL) {
        ck_assert_int_eq(test_store_dir_create(hub_store, sizeof hub_store), 0);
        snprintf(js, sizeof js, "jetstream { store_dir: \"%s\", domain: %s }\n", hub_store,
                 jetstream);
    }
    snprintf(hub_config, sizeof hub_config,
             "server_name: HUB\n%sleafnodes {\n  listen: \"127.0.0.1:%d\"\n}\n", js, leaf_port);
    static struct test_server_options options;
    memset(&options, 0, sizeof options);
    options.config_text = hub_config;
    options.reference_binary = hub_binary(which);
    itest_reference_start(hub, &options);
    return leaf_port;
}

/* The broker under test as the hub's leaf, JetStream in domain LEAFD on `store`. */
static void leaf_start(struct test_server *leaf, int leaf_port, const char *store, char *config,
                       size_t size)
{
    snprintf(config, size,
             "server_name: JSLEAF\ndebug: true\njetstream { store_dir: \"%s\", domain: LEAFD }\n"
             "leafnodes {\n  reconnect: 1\n"
             "  remotes: [ { url: \"nats-leaf://127.0.0.1:%d\" } ]\n}\n",
             store, leaf_port);
    struct test_server_options options = {.config_text = config};
    itest_server_start(leaf, &options);
    if (!itest_log_shows(leaf, "Leafnode connection created", ITEST_WAIT_MS)) {
        itest_logs_show();
        ck_abort_msg("no leafnode link");
    }
}

static jsCtx *js_at(natsConnection *connection, const char *domain)
{
    jsOptions options;
    ITEST_OK(jsOptions_Init(&options));
    options.Domain = domain;
    options.Wait = ITEST_WAIT_MS;
    jsCtx *js = NULL;
    ITEST_OK(natsConnection_JetStream(&js, connection, &options));
    return js;
}

/* Creates stream `name` on `subject` (file storage), retrying while the domain's API
 * interest is still on its way across the link. */
static void stream_add(jsCtx *js, const char *name, const char *subject,
                       const jsStreamSource *mirror, jsStreamSource **sources, int source_count)
{
    jsStreamConfig config;
    ITEST_OK(jsStreamConfig_Init(&config));
    const char *subjects[] = {subject};
    config.Name = name;
    if (subject != NULL) {
        config.Subjects = subjects;
        config.SubjectsLen = 1;
    }
    config.Storage = js_FileStorage;
    config.Mirror = (jsStreamSource *)mirror;
    config.Sources = sources;
    config.SourcesLen = source_count;
    jsStreamInfo *info = NULL;
    jsErrCode code = 0;
    natsStatus status = NATS_TIMEOUT;
    int64_t deadline = itest_now_ms() + ITEST_WAIT_MS;
    while (status != NATS_OK && itest_now_ms() < deadline) {
        status = js_AddStream(&info, js, &config, NULL, &code);
    }
    ck_assert_msg(status == NATS_OK, "add %s: %s (%d)", name, natsStatus_GetText(status),
                  (int)code);
    jsStreamInfo_Destroy(info);
}

static void publish_n(jsCtx *js, const char *subject, int count)
{
    for (int i = 0; i < count; i++) {
        char data[32];
        snprintf(data, sizeof data, "%s-%d", subject, i);
        jsPubAck *ack = NULL;
        jsErrCode code = 0;
        natsStatus status = NATS_TIMEOUT;
        for (int tries = 0; tries < 50 && status != NATS_OK; tries++) {
            status = js_Publish(&ack, js, subject, data, (int)strlen(data), NULL, &code);
        }
        ck_assert_msg(status == NATS_OK, "publish %s: %s (%d)", subject,
                      natsStatus_GetText(status), (int)code);
        jsPubAck_Destroy(ack);
    }
}

/* Waits until stream `name` holds `count` messages, its last sequence `last_seq`. */
static void copies_wait(jsCtx *js, const char *name, uint64_t count, uint64_t last_seq)
{
    uint64_t msgs = 0;
    uint64_t last = 0;
    int64_t deadline = itest_now_ms() + COPY_WAIT_MS;
    while (itest_now_ms() < deadline) {
        jsStreamInfo *info = NULL;
        jsErrCode code = 0;
        if (js_GetStreamInfo(&info, js, name, NULL, &code) == NATS_OK) {
            msgs = info->State.Msgs;
            last = info->State.LastSeq;
            jsStreamInfo_Destroy(info);
            if (msgs == count && last == last_seq) {
                return;
            }
        }
        struct timespec pause = {.tv_nsec = 50 * 1000L * 1000L};
        nanosleep(&pause, NULL);
    }
    itest_logs_show();
    ck_abort_msg("%s holds %llu messages up to %llu, not %llu up to %llu", name,
                 (unsigned long long)msgs, (unsigned long long)last, (unsigned long long)count,
                 (unsigned long long)last_seq);
}

/* Message `seq` of stream `name`: its subject and data as expected, and its
 * Nats-Stream-Source header starting with `source_prefix` (NULL: none). */
static void copy_check(jsCtx *js, const char *name, uint64_t seq, const char *subject,
                       const char *data, const char *source_prefix)
{
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_GetMsg(&msg, js, name, seq, NULL, &code));
    ck_assert_str_eq(natsMsg_GetSubject(msg), subject);
    ck_assert_int_eq(natsMsg_GetDataLength(msg), (int)strlen(data));
    ck_assert(memcmp(natsMsg_GetData(msg), data, strlen(data)) == 0);
    const char *source = NULL;
    natsStatus status = natsMsgHeader_Get(msg, "Nats-Stream-Source", &source);
    if (source_prefix == NULL) {
        ck_assert_int_eq(status, NATS_NOT_FOUND);
    } else {
        ck_assert_int_eq(status, NATS_OK);
        ck_assert_msg(strncmp(source, source_prefix, strlen(source_prefix)) == 0,
                      "%s %llu: Nats-Stream-Source %s", name, (unsigned long long)seq, source);
    }
    natsMsg_Destroy(msg);
}

/* A hub (nats-server) and the broker under test as its leaf, JetStream on the leaf in
 * domain LEAFD and, with `hub_domain`, on the hub too; a client of each, and each one's
 * JetStream context. */
struct pair {
    struct test_server hub;
    struct test_server leaf;
    bool hub_jetstream;
    char store[64];
    char config[CONFIG_MAX];
    natsConnection *at_hub;
    natsConnection *at_leaf;
    jsCtx *hub_js;  /* NULL without JetStream on the hub */
    jsCtx *leaf_js;
};

static void pair_start(struct pair *pair, int which, const char *hub_domain)
{
    memset(pair, 0, sizeof *pair);
    int leaf_port = hub_start(&pair->hub, which, hub_domain);
    pair->hub_jetstream = hub_domain != NULL;
    ck_assert_int_eq(test_store_dir_create(pair->store, sizeof pair->store), 0);
    leaf_start(&pair->leaf, leaf_port, pair->store, pair->config, sizeof pair->config);
    pair->at_hub = itest_connect(pair->hub.url);
    pair->at_leaf = itest_connect(pair->leaf.url);
    itest_expect_crossed(pair->at_hub, pair->at_leaf, "probe.pair");
    pair->hub_js = pair->hub_jetstream ? js_at(pair->at_hub, NULL) : NULL;
    pair->leaf_js = js_at(pair->at_leaf, NULL);
}

static void pair_stop(struct pair *pair)
{
    jsCtx_Destroy(pair->hub_js);
    jsCtx_Destroy(pair->leaf_js);
    natsConnection_Destroy(pair->at_hub);
    natsConnection_Destroy(pair->at_leaf);
    itest_server_stop(&pair->leaf);
    itest_server_stop(&pair->hub);
    test_store_dir_remove(pair->store);
    if (pair->hub_jetstream) {
        test_store_dir_remove(hub_store);
    }
}

/* A JetStream domain on the leaf: a client of the hub manages the leaf's streams and
 * publishes to them through $JS.LEAFD.API (libnats's jsOptions.Domain), the acks naming
 * the domain; the leaf's own clients see the same stream without a domain. */
START_TEST(test_leaf_jetstream_domain)
{
    struct pair pair;
    pair_start(&pair, 0, NULL);
    natsConnection *at_hub = pair.at_hub;
    /* the domain's API interest reaches the hub with the rest of the leaf's */
    natsMsg *reply = NULL;
    natsStatus status = NATS_NO_RESPONDERS;
    int64_t deadline = itest_now_ms() + ITEST_WAIT_MS;
    while (status != NATS_OK && itest_now_ms() < deadline) {
        status = natsConnection_RequestString(&reply, at_hub, "$JS.LEAFD.API.INFO", "", 1000);
    }
    ck_assert_msg(status == NATS_OK, "%s", natsStatus_GetText(status));
    ck_assert_msg(strstr(natsMsg_GetData(reply), "\"domain\":\"LEAFD\"") != NULL, "%s",
                  natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    jsCtx *js = js_at(at_hub, "LEAFD");
    stream_add(js, "EDGE", "edge.>", NULL, NULL, 0);
    itest_expect_crossed(pair.at_leaf, at_hub, "probe.j2"); /* the stream's subjects too */
    jsStreamInfo *info = NULL;
    jsErrCode code = 0;
    for (int i = 1; i <= 5; i++) {
        jsPubAck *ack = NULL;
        status = NATS_TIMEOUT;
        for (int tries = 0; tries < 50 && status != NATS_OK; tries++) {
            status = js_Publish(&ack, js, "edge.a", "x", 1, NULL, &code);
        }
        ck_assert_msg(status == NATS_OK && ack != NULL, "publish %d: %s (%d)", i,
                      natsStatus_GetText(status), (int)code);
        ck_assert_str_eq(ack->Stream, "EDGE");
        ck_assert_str_eq(ack->Domain, "LEAFD");
        ck_assert_int_eq(ack->Sequence, (uint64_t)i);
        jsPubAck_Destroy(ack);
    }
    ITEST_OK(js_GetStreamInfo(&info, js, "EDGE", NULL, &code));
    ck_assert_int_eq(info->State.Msgs, 5);
    jsStreamInfo_Destroy(info);
    ITEST_OK(js_GetStreamInfo(&info, pair.leaf_js, "EDGE", NULL, &code));
    ck_assert_int_eq(info->State.Msgs, 5);
    jsStreamInfo_Destroy(info);
    jsCtx_Destroy(js);
    pair_stop(&pair);
}
END_TEST


/* Mirrors and sources across the link, both ways: the leaf mirrors and sources the hub's
 * stream HS through $JS.HUB.API, the hub mirrors the leaf's EDGE through $JS.LEAFD.API;
 * each copy has its origin's sequence (mirrors) or a Nats-Stream-Source naming the origin
 * with the API prefix's hash (sources: nats-server's "HS:<hash> <seq> > > <subject>"). */
START_TEST(test_leaf_mirror_and_source)
{
    struct pair pair;
    pair_start(&pair, _i, "HUB");
    jsCtx *hub_js = pair.hub_js;
    jsCtx *leaf_js = pair.leaf_js;
    stream_add(hub_js, "HS", "hs.>", NULL, NULL, 0);
    stream_add(leaf_js, "EDGE", "edge.>", NULL, NULL, 0);
    publish_n(hub_js, "hs.a", 10);
    publish_n(leaf_js, "edge.a", 10);

    jsExternalStream to_hub = {.APIPrefix = "$JS.HUB.API", .DeliverPrefix = ""};
    jsExternalStream to_leaf = {.APIPrefix = "$JS.LEAFD.API", .DeliverPrefix = ""};
    jsStreamSource hub_origin = {.Name = "HS", .External = &to_hub};
    jsStreamSource leaf_origin = {.Name = "EDGE", .External = &to_leaf};
    jsStreamSource *sources[] = {&hub_origin};
    stream_add(leaf_js, "LM", NULL, &hub_origin, NULL, 0);
    stream_add(leaf_js, "LS", "ls.own", NULL, sources, 1);
    stream_add(hub_js, "HM", NULL, &leaf_origin, NULL, 0);
    publish_n(hub_js, "hs.b", 5);
    publish_n(leaf_js, "edge.b", 5);

    copies_wait(leaf_js, "LM", 15, 15);
    copies_wait(leaf_js, "LS", 15, 15);
    copies_wait(hub_js, "HM", 15, 15);
    copy_check(leaf_js, "LM", 3, "hs.a", "hs.a-2", NULL);
    copy_check(leaf_js, "LM", 12, "hs.b", "hs.b-1", NULL);
    copy_check(hub_js, "HM", 12, "edge.b", "edge.b-1", NULL);
    copy_check(leaf_js, "LS", 12, "hs.b", "hs.b-1", "HS:");
    natsMsg *msg = NULL;
    jsErrCode code = 0;
    ITEST_OK(js_GetMsg(&msg, leaf_js, "LS", 14, NULL, &code));
    const char *source = NULL;
    ITEST_OK(natsMsgHeader_Get(msg, "Nats-Stream-Source", &source));
    /* the API prefix's hash is nats-server's (getHash); 2.9 wrote "<index> <seq>" alone */
    static const char HEAD[] = "HS:SqWXyZ3F 14";
    ck_assert_msg(strncmp(source, HEAD, sizeof HEAD - 1) == 0 &&
                      (source[sizeof HEAD - 1] == '\0' ||
                       strncmp(source + sizeof HEAD - 1, " > > hs.b", 9) == 0),
                  "%s", source);
    natsMsg_Destroy(msg);

    jsStreamInfo *info = NULL;
    ITEST_OK(js_GetStreamInfo(&info, leaf_js, "LM", NULL, &code));
    ck_assert_ptr_nonnull(info->Mirror);
    ck_assert_str_eq(info->Mirror->Name, "HS");
    ck_assert_ptr_nonnull(info->Mirror->External);
    ck_assert_str_eq(info->Mirror->External->APIPrefix, "$JS.HUB.API");
    jsStreamInfo_Destroy(info);
    pair_stop(&pair);
}
END_TEST

/* A push consumer across the link shows each message under its own subject, both ways:
 * a client of the leaf reading the hub's stream (domain HUB), and a client of the hub
 * reading the leaf's (domain LEAFD). */
START_TEST(test_leaf_push_consumer_subjects)
{
    struct pair pair;
    pair_start(&pair, _i, "HUB");
    jsCtx *hub_js = pair.hub_js;
    jsCtx *leaf_js = pair.leaf_js;
    stream_add(hub_js, "HP", "hp.>", NULL, NULL, 0);
    stream_add(leaf_js, "LP", "lp.>", NULL, NULL, 0);
    publish_n(hub_js, "hp.x", 3);
    publish_n(leaf_js, "lp.y", 3);
    const struct {
        natsConnection *connection;
        const char *domain;
        const char *stream;
        const char *subject;
    } sides[] = {{pair.at_leaf, "HUB", "HP", "hp.x"}, {pair.at_hub, "LEAFD", "LP", "lp.y"}};
    for (size_t s = 0; s < 2; s++) {
        jsCtx *js = js_at(sides[s].connection, sides[s].domain);
        jsSubOptions options;
        ITEST_OK(jsSubOptions_Init(&options));
        options.Stream = sides[s].stream;
        options.Config.AckPolicy = js_AckNone;
        natsSubscription *sub = NULL;
        jsErrCode code = 0;
        ITEST_OK(js_SubscribeSync(&sub, js, sides[s].subject, NULL, &options, &code));
        for (int i = 0; i < 3; i++) {
            natsMsg *msg = NULL;
            natsStatus status = natsSubscription_NextMsg(&msg, sub, ITEST_WAIT_MS);
            ck_assert_msg(status == NATS_OK, "%s: %s", sides[s].stream, natsStatus_GetText(status));
            ck_assert_str_eq(natsMsg_GetSubject(msg), sides[s].subject);
            char data[32];
            snprintf(data, sizeof data, "%s-%d", sides[s].subject, i);
            ck_assert_int_eq(natsMsg_GetDataLength(msg), (int)strlen(data));
            ck_assert(memcmp(natsMsg_GetData(msg), data, strlen(data)) == 0);
            natsMsg_Destroy(msg);
        }
        natsSubscription_Destroy(sub);
        jsCtx_Destroy(js);
    }
    pair_stop(&pair);
}
END_TEST

static Suite *leaf_jetstream_suite(void)
{
    Suite *suite = suite_create("integration_leaf_jetstream");
    TCase *tc = tcase_create("leaf_jetstream");
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_leaf_jetstream_domain);
    tcase_add_loop_test(tc, test_leaf_mirror_and_source, 0, 2);
    tcase_add_loop_test(tc, test_leaf_push_consumer_subjects, 0, 2);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    return itest_run(leaf_jetstream_suite());
}
