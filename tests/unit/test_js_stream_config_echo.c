/* Stream config tests, the echo: configs as nats-server 2.15.1 echoes them, read back
 * again, and the parse alone (Go's decoding rules, every prefix of a request). See
 * test_js_stream_config.c for how the replies were recorded. One test thread. */
#include "tests/unit/test_js_stream_config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- create: the echo ------------------------------------------------------------------ */

/* Configs as nats-server 2.15.1 echoes them: its defaults, its field order and omissions,
 * its escaping, its adjustments (delete markers and schedules turn roll-ups on, a short
 * max_age shortens the duplicate window), the metadata sorted with its own keys. */
static const struct {
    const char *name;
    const char *body;
    const char *config;
} create_echoes[] = {
    {"P", "{\"name\":\"P\"}",
     "{\"name\":\"P\",\"subjects\":[\"P\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consum"
     "er_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.l"
     "evel\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"META",
     "{\"name\":\"META\",\"metadata\":{\"b\":\"2\",\"a\":\"1\",\"_nats.ver\":\"x\",\"_nats.lev"
     "el\":\"9\",\"_nats.req.level\":\"7\"}}",
     "{\"name\":\"META\",\"subjects\":[\"META\"],\"retention\":\"limits\",\"max_consumers\":-1"
     ",\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_si"
     "ze\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\""
     ":120000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\""
     "sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\""
     "consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats"
     ".req.level\":\"0\",\"_nats.ver\":\"2.15.1\",\"a\":\"1\",\"b\":\"2\"}}"},
    {"S", "{\"name\":\"S\",\"max_age\":3600000000000}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":3600000000000,\"max_msgs_per_subject\":-1,\"max_"
     "msg_size\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_wi"
     "ndow\":120000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":fa"
     "lse,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":fa"
     "lse,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\","
     "\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"duplicate_window\":5000000000}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":50000"
     "00000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed\""
     ":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consumer"
     "_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.lev"
     "el\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"subject_delete_marker_ttl\":1000000000,\"deny_purge\":true}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":true,\"consume"
     "r_limits\":{},\"allow_msg_ttl\":true,\"subject_delete_marker_ttl\":1000000000,\"metadata"
     "\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"1\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"allow_msg_schedules\":true}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":true,\"consume"
     "r_limits\":{},\"allow_msg_ttl\":false,\"allow_msg_schedules\":true,\"metadata\":{\"_nats"
     ".level\":\"5\",\"_nats.req.level\":\"2\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"persist_mode\":\"async\"}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consum"
     "er_limits\":{},\"allow_msg_ttl\":false,\"persist_mode\":\"async\",\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"2\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"allow_batched\":true}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consum"
     "er_limits\":{},\"allow_msg_ttl\":false,\"allow_batched\":true,\"metadata\":{\"_nats.leve"
     "l\":\"5\",\"_nats.req.level\":\"4\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"no_ack\":true,\"subjects\":[\">\"]}",
     "{\"name\":\"S\",\"subjects\":[\"\\u003e\"],\"retention\":\"limits\",\"max_consumers\":-1"
     ",\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_si"
     "ze\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"no_ack\":true,\"du"
     "plicate_window\":120000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_d"
     "irect\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup"
     "_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level"
     "\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"placement\":{\"tags\":[\"a\",\"b\"]}}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"placement\":{\"tags\":[\"a\",\"b\"]},\"compression\":\"none\",\"allow_direct\""
     ":false,\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":fal"
     "se,\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata"
     "\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"consumer_limits\":{\"inactive_threshold\":5,\"max_ack_pending\":10}}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"sealed"
     "\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consum"
     "er_limits\":{\"inactive_threshold\":5,\"max_ack_pending\":10},\"allow_msg_ttl\":false,\""
     "metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S", "{\"name\":\"S\",\"republish\":{\"src\":\"R\",\"dest\":\"out\",\"headers_only\":true}}",
     "{\"name\":\"S\",\"subjects\":[\"S\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"republish\":{\"src\":\"R\",\"dest\":\"out\",\"headers"
     "_only\":true},\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":false,\"deny_del"
     "ete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"al"
     "low_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nat"
     "s.ver\":\"2.15.1\"}}"},
    {"S",
     "{\"name\":\"S\",\"subjects\":[\"in.>\"],\"subject_transform\":{\"src\":\"in.>\",\"dest\""
     ":\"mid.>\"},\"republish\":{\"src\":\">\",\"dest\":\">\"}}",
     "{\"name\":\"S\",\"subjects\":[\"in.\\u003e\"],\"retention\":\"limits\",\"max_consumers\""
     ":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg"
     "_size\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_windo"
     "w\":120000000000,\"compression\":\"none\",\"subject_transform\":{\"src\":\"in.\\u003e\","
     "\"dest\":\"mid.\\u003e\"},\"republish\":{\"src\":\"mid.\\u003e\",\"dest\":\"mid.\\u003e"
     "\"},\"allow_direct\":false,\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":fals"
     "e,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_tt"
     "l\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\""
     "2.15.1\"}}"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"external\":{\"api\":\"$JS.x.API\",\"deliv"
     "er\":\"d\"}}]}",
     "{\"name\":\"S\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_byte"
     "s\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\""
     ",\"storage\":\"file\",\"num_replicas\":1,\"sources\":[{\"name\":\"A\",\"external\":{\"ap"
     "i\":\"$JS.x.API\",\"deliver\":\"d\"}}],\"compression\":\"none\",\"allow_direct\":false,"
     "\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"al"
     "low_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_"
     "nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S",
     "{\"name\":\"S\",\"sources\":[{\"name\":\"A\",\"consumer\":{\"name\":\"c\",\"deliver_subj"
     "ect\":\"d\"}}]}",
     "{\"name\":\"S\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_byte"
     "s\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\""
     ",\"storage\":\"file\",\"num_replicas\":1,\"sources\":[{\"name\":\"A\",\"consumer\":{\"na"
     "me\":\"c\",\"deliver_subject\":\"d\"}}],\"compression\":\"none\",\"allow_direct\":false,"
     "\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"al"
     "low_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_"
     "nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"S",
     "{\"name\":\"S\",\"mirror\":{\"name\":\"A\",\"opt_start_time\":\"2024-05-06T07:08:09.0000"
     "00100-05:30\"}}",
     "{\"name\":\"S\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_byte"
     "s\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\""
     ",\"storage\":\"file\",\"num_replicas\":1,\"mirror\":{\"name\":\"A\",\"opt_start_time\":"
     "\"2024-05-06T07:08:09.0000001-05:30\"},\"compression\":\"none\",\"allow_direct\":false,"
     "\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,\"al"
     "low_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_"
     "nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"T",
     "{\"name\":\"T\",\"description\":\"<a&b> \\u2028 \\u2029 caf\\u00e9 \\\"q\\\" \\\\ \\t\"}",
     "{\"name\":\"T\",\"description\":\"\\u003ca\\u0026b\\u003e \\u2028 \\u2029 caf\303\251 \\"
     "\"q\\\" \\\\ \\t\",\"subjects\":[\"T\"],\"retention\":\"limits\",\"max_consumers\":-1,\""
     "max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size"
     "\":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":1"
     "20000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"se"
     "aled\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"co"
     "nsumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.r"
     "eq.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"T", "{\"name\":\"T\",\"first_seq\":18446744073709551615}",
     "{\"name\":\"T\",\"subjects\":[\"T\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max"
     "_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-"
     "1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":12000"
     "0000000,\"compression\":\"none\",\"first_seq\":18446744073709551615,\"allow_direct\":fal"
     "se,\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,"
     "\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":"
     "{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"T",
     "{\"name\":\"T\",\"sources\":[{\"name\":\"A\",\"opt_start_time\":\"2024-02-29T23:59:59.99"
     "9999999+14:00\"}]}",
     "{\"name\":\"T\",\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_byte"
     "s\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,\"discard\":\"old\""
     ",\"storage\":\"file\",\"num_replicas\":1,\"sources\":[{\"name\":\"A\",\"opt_start_time\""
     ":\"2024-02-29T23:59:59.999999999+14:00\"}],\"compression\":\"none\",\"allow_direct\":fal"
     "se,\"mirror_direct\":false,\"sealed\":false,\"deny_delete\":false,\"deny_purge\":false,"
     "\"allow_rollup_hdrs\":false,\"consumer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":"
     "{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"T", "{\"name\":\"T\",\"NAME\":\"T\",\"Subjects\":[\"q.q\"]}",
     "{\"name\":\"T\",\"subjects\":[\"q.q\"],\"retention\":\"limits\",\"max_consumers\":-1,\"m"
     "ax_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\""
     ":-1,\"discard\":\"old\",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":120"
     "000000000,\"compression\":\"none\",\"allow_direct\":false,\"mirror_direct\":false,\"seal"
     "ed\":false,\"deny_delete\":false,\"deny_purge\":false,\"allow_rollup_hdrs\":false,\"cons"
     "umer_limits\":{},\"allow_msg_ttl\":false,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req"
     ".level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
};

START_TEST(test_create_echo)
{
    for (size_t i = 0; i < sizeof create_echoes / sizeof create_echoes[0]; i++) {
        expect_config(create_reply(create_echoes[i].name, create_echoes[i].body, NULL, NULL),
                      create_echoes[i].config, create_echoes[i].body);
    }
}
END_TEST

/* The echo read back as a request gives the same config and the same echo. */
START_TEST(test_round_trip)
{
    for (size_t i = 0; i < sizeof create_echoes / sizeof create_echoes[0]; i++) {
        struct js_stream_config first;
        free(create_reply(create_echoes[i].name, create_echoes[i].body, NULL, &first));
        const char *echo = create_echoes[i].config;
        expect_config(create_reply(create_echoes[i].name, echo, NULL, NULL), echo, echo);
        struct js_stream_config again;
        struct js_error error;
        ck_assert(!parse_valid(echo, &again));
        ck_assert_int_eq(js_stream_config_metadata_set_static(&again), 0);
        struct js_stream_config_check_options options = {false, 0};
        ck_assert_int_eq(js_stream_config_check(&again, &options, &error), 0);
        ck_assert_msg(js_stream_config_equal(&first, &again), "%s", echo);
        js_stream_config_free(&again);
        js_stream_config_free(&first);
    }
}
END_TEST

/* Parse alone: Go's decoding rules on fields the checks do not touch. */
START_TEST(test_parse_fields)
{
    struct js_stream_config config;
    struct js_error error;
    bool pedantic;
    ck_assert_int_eq(parse("", &config, &pedantic, &error), 0); /* Go: io.EOF, no error */
    ck_assert_ptr_null(config.name);
    ck_assert(!pedantic);
    ck_assert_int_eq(parse(" null ", &config, &pedantic, &error), 0);
    ck_assert_int_eq(parse("{\"name\":\"A\",\"max_msgs\":5} {\"max_bytes\":7,\"pedantic\":true}",
                           &config, &pedantic, &error),
                     0);
    ck_assert_str_eq(config.name, "A");
    ck_assert_int_eq(config.max_msgs, 5);
    ck_assert_int_eq(config.max_bytes, 7);
    ck_assert(pedantic);
    js_stream_config_free(&config);
    ck_assert_int_eq(parse("{\"NAME\":\"B\",\"Max_Msgs\":1,\"subjects\":[\"a\",null],"
                           "\"metadata\":{\"k\":null},\"storage\":\"memory\","
                           "\"discard\":\"NEW\",\"first_seq\":18446744073709551615,"
                           "\"mirror\":{\"name\":\"M\",\"opt_start_time\":"
                           "\"2024-01-02T03:04:05.5+01:30\"}}",
                           &config, &pedantic, &error),
                     0);
    ck_assert_str_eq(config.name, "B");
    ck_assert_int_eq(config.max_msgs, 1);
    ck_assert_uint_eq(config.subject_count, 2);
    ck_assert_ptr_null(config.subjects[1]);
    ck_assert_uint_eq(config.metadata_count, 1);
    ck_assert_str_eq(config.metadata[0].value, "");
    ck_assert_int_eq(config.storage, JS_STREAM_STORAGE_MEMORY);
    ck_assert_int_eq(config.discard, JS_STREAM_DISCARD_NEW);
    ck_assert(config.first_seq == UINT64_MAX);
    ck_assert(config.mirror->has_opt_start_time);
    ck_assert_int_eq(config.mirror->opt_start_time.offset_seconds, 5400);
    ck_assert(js_stream_time_unix_ns(&config.mirror->opt_start_time) ==
              INT64_C(1704164645500000000) - INT64_C(5400000000000));
    js_stream_config_free(&config);
    /* an empty subjects array is no subjects: the stream's name becomes its subject */
    char *reply = create_reply("E", "{\"name\":\"E\",\"subjects\":[]}", NULL, NULL);
    ck_assert_msg(strstr(reply, "\"subjects\":[\"E\"],") != NULL, "%s", reply);
    free(reply);
    /* after an error the config owns nothing */
    ck_assert_int_eq(parse("{\"name\":\"C\",\"subjects\":[\"a\"],\"max_msgs\":\"x\"}", &config,
                           &pedantic, &error),
                     -EINVAL);
    ck_assert_ptr_null(config.name);
    ck_assert_ptr_null(config.subjects);
    ck_assert_str_eq(error.description, "invalid JSON: json: cannot unmarshal string into Go "
                                        "struct field StreamConfigRequest.max_msgs of type int64");
}
END_TEST

/* Every proper prefix of a request is "unexpected EOF" (Go's decoder needs the rest), and
 * nothing is read past the bytes given. */
START_TEST(test_every_prefix)
{
    static const char body[] =
        "{\"name\":\"ORDERS\",\"subjects\":[\"orders.*\",\"ship.>\"],\"retention\":\"limits\","
        "\"max_msgs\":-1,\"max_age\":86400000000000,\"discard\":\"new\",\"storage\":\"memory\","
        "\"num_replicas\":1,\"duplicate_window\":1.5e9,\"sealed\":false,\"deny_delete\":true,"
        "\"mirror\":null,\"sources\":[{\"name\":\"A\",\"opt_start_time\":"
        "\"2024-01-01T00:00:00Z\",\"subject_transforms\":[{\"src\":\"a.*\",\"dest\":\"b.$1\"}]}],"
        "\"metadata\":{\"owner\":\"caf\\u00e9 \\ud83d\\ude00\"},\"placement\":{\"tags\":[]}}";
    size_t length = sizeof body - 1;
    for (size_t cut = 1; cut < length; cut++) {
        struct js_stream_config config;
        struct js_error error;
        bool pedantic;
        char *copy = exact_copy(body, cut);
        int rc = js_stream_config_parse(copy, cut, &config, &pedantic, &error);
        free(copy);
        ck_assert_msg(rc == -EINVAL, "cut %zu: %d", cut, rc);
        ck_assert_int_eq(error.id, JS_ERR_INVALID_JSON);
        ck_assert_msg(strcmp(error.description, "invalid JSON: unexpected EOF") == 0, "cut %zu: %s",
                      cut, error.description);
    }
    /* the whole body decodes, and its one number that is not an integer is refused */
    expect_error(create_reply("ORDERS", body, NULL, NULL), 400, 10025,
                 "invalid JSON: json: cannot unmarshal number 1.5e9 into Go struct field "
                 "StreamConfigRequest.duplicate_window of type time.Duration",
                 "whole");
}
END_TEST

TCase *js_stream_config_echo_tcase(void)
{
    TCase *tc = tcase_create("echo");
    tcase_add_test(tc, test_create_echo);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_parse_fields);
    tcase_add_test(tc, test_every_prefix);
    return tc;
}
