/* Stream config tests, updates: a stream updated request by request as nats-server
 * 2.15.1 answered the same sequence, mirrors and schedules, equality of a create with an
 * existing stream, the API level, subject overlap (see test_js_stream_config.c for how the
 * replies were recorded). One test thread. */
#include "tests/unit/test_js_stream_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- update, equality ------------------------------------------------------------------ */

/* A stream U is created, then updated request by request, each answered as nats-server
 * 2.15.1 answered the same sequence; another stream O1 owns "o.>". (2.9.10 refuses the
 * max_consumers change: "stream configuration update can not change MaxConsumers".) */
START_TEST(test_update)
{
    struct js_stream_config other;
    free(create_reply("O1", "{\"name\":\"O1\",\"subjects\":[\"o.>\"]}", NULL, &other));
    struct js_stream_config stream;
    free(create_reply("U",
                      "{\"name\":\"U\",\"subjects\":[\"u\"],\"deny_delete\":true,"
                      "\"deny_purge\":true,\"allow_msg_ttl\":true,\"metadata\":{\"k\":\"v\"}}",
                      &other, &stream));
#define U_KEEP "\"name\":\"U\",\"subjects\":[\"u\"],\"deny_delete\":true,\"deny_purge\":true"
    static const struct {
        const char *name;
        const char *body;
        const char *reply;
    } steps[] = {
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"storage\":\"memory\"}",
         "500,10052,stream configuration update can not change storage type"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"retention\":\"workqueue\"}",
         "500,10052,stream configuration update can not change retention policy to/from "
         "workqueue"},
        {"U", "{\"name\":\"U\",\"subjects\":[\"u\"],\"deny_purge\":true,\"allow_msg_ttl\":true}",
         "500,10052,stream configuration update can not cancel deny message deletes"},
        {"U", "{\"name\":\"U\",\"subjects\":[\"u\"],\"deny_delete\":true,\"allow_msg_ttl\":true}",
         "500,10052,stream configuration update can not cancel deny purge"},
        {"U", "{" U_KEEP "}", "500,10052,message TTL status can not be disabled"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"allow_msg_counter\":true}",
         "500,10052,counter stream cannot use message TTLs"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"persist_mode\":\"async\"}",
         "500,10052,stream configuration update can not change persist mode"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"num_replicas\":3}",
         "500,10074,replicas \\u003e 1 not supported in non-clustered mode"},
        {"U",
         "{\"name\":\"U\",\"subjects\":[\"u\",\"o.y\"],\"deny_delete\":true,"
         "\"deny_purge\":true,\"allow_msg_ttl\":true}",
         "400,10065,subjects overlap with an existing stream"},
        {"U", "{\"name\":\"V\",\"subjects\":[\"u\"]}",
         "400,10056,stream name in subject does not match request"},
        {"V", "{\"name\":\"V\",\"subjects\":[\"v\"]}", "404,10059,stream not found"},
        {"U", "{\"name\":\"U\",\"max_age\":-1}", "500,10052,max age can not be negative"},
        {"U", "{bad",
         "400,10025,invalid JSON: invalid character 'b' looking for beginning of object key "
         "string at offset 2"},
        {"U",
         "{" U_KEEP ",\"allow_msg_ttl\":true,\"max_consumers\":5,\"max_msgs\":10,"
         "\"description\":\"d\"}",
         "\"config\":{\"name\":\"U\",\"description\":\"d\",\"subjects\":[\"u\"],\"retention\":"
         "\"limits\",\"max_consumers\":5,\"max_msgs\":10,\"max_bytes\":-1,\"max_age\":0,"
         "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\",\"storage\":"
         "\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,\"compression\":"
         "\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":false,"
         "\"deny_delete\":true,\"deny_purge\":true,\"allow_rollup_hdrs\":false,"
         "\"consumer_limits\":{},\"allow_msg_ttl\":true,\"metadata\":{\"_nats.level\":\"5\","
         "\"_nats.req.level\":\"1\",\"_nats.ver\":\"2.15.1\"}}"},
        /* sealing brings sealed's settings; unsealing is refused */
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true,\"sealed\":true,\"max_age\":3600000000000}",
         "\"config\":{\"name\":\"U\",\"subjects\":[\"u\"],\"retention\":\"limits\","
         "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
         "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"new\",\"storage\":"
         "\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,\"compression\":"
         "\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":true,"
         "\"deny_delete\":true,\"deny_purge\":true,\"allow_rollup_hdrs\":false,"
         "\"consumer_limits\":{},\"allow_msg_ttl\":true,\"metadata\":{\"_nats.level\":\"5\","
         "\"_nats.req.level\":\"1\",\"_nats.ver\":\"2.15.1\"}}"},
        {"U", "{" U_KEEP ",\"allow_msg_ttl\":true}",
         "500,10052,stream configuration update can not unseal a sealed stream"},
    };
#undef U_KEEP
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char *reply = update_reply(steps[i].name, steps[i].body, &stream, &other);
        if (steps[i].reply[0] == '"') {
            expect_reply(reply, steps[i].reply, steps[i].body);
            continue;
        }
        int code;
        int err_code;
        int skip;
        ck_assert_int_eq(sscanf(steps[i].reply, "%d,%d,%n", &code, &err_code, &skip), 2);
        expect_error(reply, code, err_code, steps[i].reply + skip, steps[i].body);
    }
    js_stream_config_free(&stream);
    js_stream_config_free(&other);
}
END_TEST

/* Schedules can not be turned off; a mirror can not change, but can be dropped. */
START_TEST(test_update_mirror_and_schedules)
{
    struct js_stream_config stream;
    free(create_reply("W", "{\"name\":\"W\",\"subjects\":[\"w\"],\"allow_msg_schedules\":true}",
                      NULL, &stream));
    expect_error(update_reply("W", "{\"name\":\"W\",\"subjects\":[\"w\"]}", &stream, NULL), 500,
                 10052, "message schedules can not be disabled", "schedules off");
    expect_error(update_reply("W",
                              "{\"name\":\"W\",\"subjects\":[\"w\"],\"allow_msg_schedules\":true,"
                              "\"discard_new_per_subject\":true}",
                              &stream, NULL),
                 500, 10052, "discard new per subject requires discard new policy to be set",
                 "discard new per subject");
    js_stream_config_free(&stream);
    free(create_reply("M", "{\"name\":\"M\",\"mirror\":{\"name\":\"O1\"}}", NULL, &stream));
    expect_error(update_reply("M", "{\"name\":\"M\",\"mirror\":{\"name\":\"O2\"}}", &stream, NULL),
                 400, 10055, "stream mirror configuration can not be updated", "mirror");
    char *reply = update_reply("M", "{\"name\":\"M\",\"mirror\":{\"name\":\"O1\"},\"max_msgs\":7}",
                               &stream, NULL);
    ck_assert_msg(strstr(reply, "\"max_msgs\":7,") != NULL, "%s", reply);
    free(reply);
    /* promoting the mirror to a plain stream */
    expect_reply(update_reply("M", "{\"name\":\"M\",\"subjects\":[\"mm\"]}", &stream, NULL),
                 "\"config\":{\"name\":\"M\",\"subjects\":[\"mm\"],\"retention\":\"limits\","
                 "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
                 "\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\",\"storage\":"
                 "\"file\",\"num_replicas\":1,\"duplicate_window\":120000000000,\"compression\":"
                 "\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":false,"
                 "\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,"
                 "\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":"
                 "\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}",
                 "promote");
    js_stream_config_free(&stream);
}
END_TEST

/* A create naming an existing stream: the same config (after defaults, ignoring
 * nats-server's own metadata keys) is that stream; anything else is 10058. */
START_TEST(test_equal)
{
    struct js_stream_config stored;
    free(create_reply("O1", "{\"name\":\"O1\",\"subjects\":[\"o.>\"]}", NULL, &stored));
    static const struct {
        const char *body;
        bool equal;
    } cases[] = {
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"]}", true},
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"],\"metadata\":{\"_nats.req.level\":\"3\"}}", true},
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"],\"max_msgs\":-1,\"max_bytes\":0,"
         "\"duplicate_window\":120000000000}",
         true},
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"],\"max_msgs\":5}", false},
        {"{\"name\":\"O1\",\"subjects\":[\"o.>\"],\"metadata\":{\"a\":\"b\"}}", false},
        {"{\"name\":\"O1\",\"subjects\":[\"o.*\"]}", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct js_stream_config config;
        free(create_reply("O1", cases[i].body, NULL, &config));
        ck_assert_msg(js_stream_config_equal(&config, &stored) == cases[i].equal, "%s",
                      cases[i].body);
        js_stream_config_free(&config);
    }
    /* overlapping another stream, as nats-server 2.15.1 answered "O2" after "O1" */
    expect_error(create_reply("O2", "{\"name\":\"O2\",\"subjects\":[\"o.x\"]}", &stored, NULL), 400,
                 10065, "subjects overlap with an existing stream", "O2");
    expect_created(
        create_reply("O3", "{\"name\":\"O3\",\"subjects\":[\"p.*\",\"o\"]}", &stored, NULL), "O3");
    js_stream_config_free(&stored);
}
END_TEST

START_TEST(test_api_level)
{
    static const struct {
        const char *body;
        int level;
    } cases[] = {
        {"{\"name\":\"A\"}", 0},
        {"{\"name\":\"A\",\"allow_msg_ttl\":true}", 1},
        {"{\"name\":\"A\",\"subject_delete_marker_ttl\":1000000000}", 1},
        {"{\"name\":\"A\",\"allow_msg_counter\":true}", 2},
        {"{\"name\":\"A\",\"allow_atomic\":true,\"allow_msg_ttl\":true}", 2},
        {"{\"name\":\"A\",\"persist_mode\":\"async\"}", 2},
        {"{\"name\":\"A\",\"allow_batched\":true}", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct js_stream_config config;
        parse_valid(cases[i].body, &config);
        ck_assert_int_eq(js_stream_config_api_level_required(&config), cases[i].level);
        js_stream_config_free(&config);
    }
}
END_TEST

/* ---- subjects -------------------------------------------------------------------------- */

/* nats-server's SubjectsCollide, its first-byte quirk included ("*bar" counts as a
 * wildcard token once both sides have a wildcard). */
START_TEST(test_subjects_collide)
{
    static const struct {
        const char *a;
        const char *b;
        bool collide;
    } cases[] = {
        {"a.b", "a.b", true},
        {"a.b", "a.c", false},
        {"a.*", "a.b", true},
        {"a.*", "a.b.c", false},
        {"a.>", "a.b.c", true},
        {"a.>", "a", false},
        {">", "a", true},
        {"*.b", "a.*", true},
        {"*.b", "a.c", false},
        {"a.*", "*.*.*", false},
        {"a.>", "*.*.*", true},
        {"a.*.c", "a.>", true},
        {"*.foo", "*.*bar", true},
        {"a.*x", "a.b", false},
        {"foo*", "foo", false},
        {"$JS.API.>", "$JS.>", true},
        {"$JS.EVENT.x", "$JS.>", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(js_stream_config_subjects_collide(cases[i].a, cases[i].b) == cases[i].collide,
                      "%s / %s", cases[i].a, cases[i].b);
        ck_assert_msg(js_stream_config_subjects_collide(cases[i].b, cases[i].a) == cases[i].collide,
                      "%s / %s", cases[i].b, cases[i].a);
    }
    const char *const kv[] = {"$KV.b.>"};
    const char *const orders[] = {"orders.*", "ship.>", "$KV.c.x"};
    const char *const other[] = {"$KV.b.key"};
    ck_assert(!js_stream_config_subject_sets_overlap(kv, 1, orders, 3));
    ck_assert(
        js_stream_config_subject_sets_overlap(orders, 3, (const char *const[]){"ship.a.b"}, 1));
    ck_assert(js_stream_config_subject_sets_overlap(kv, 1, other, 1));
    ck_assert(!js_stream_config_subject_sets_overlap(kv, 1, NULL, 0));
}
END_TEST

TCase *js_stream_config_update_tcase(void)
{
    TCase *tc = tcase_create("update");
    tcase_add_test(tc, test_update);
    tcase_add_test(tc, test_update_mirror_and_schedules);
    tcase_add_test(tc, test_equal);
    tcase_add_test(tc, test_api_level);
    tcase_add_test(tc, test_subjects_collide);
    return tc;
}
