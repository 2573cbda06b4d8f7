/* Consumer config tests, the echo: what clients send and every field as nats-server 2.15.1
 * echoes them: its defaults, field order, omissions and escaping. See
 * test_js_consumer_config.c for how the replies were recorded. One test thread. */
#include "tests/unit/test_js_consumer_config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stream every sequence here runs against. */
#define STREAM_S "{\"name\":\"S\",\"subjects\":[\"s.>\"]}"

/* ---- what clients send ------------------------------------------------------------------- */

/* In order: nats-py 2.16's pull_subscribe("s.foo", durable="dur") (the 2.10+ named and
 * filtered subject form), its subscribe("s.bar") (a push ephemeral), subscribe("s.baz",
 * durable="pushdur") (DURABLE.CREATE), pull_subscribe("s.qux", durable=None) (a named
 * ephemeral); nats.go v1.16's js.Subscribe("s.go"), js.PullSubscribe("s.gp", "gopull"),
 * an OrderedConsumer, a ChanSubscribe with a 64K channel, a QueueSubscribe (a durable named
 * after the queue), and PullSubscribe again, answered with the existing consumer.
 * nats-server 2.9.10 echoes the same configs without "metadata", without "name" in the
 * DURABLE.CREATE form's, and with idle_heartbeat before flow_control (the order of its
 * ConsumerConfig). */
static const struct step client_steps[] = {
    {"$JS.API.CONSUMER.CREATE.S.dur.s.foo",
     "{\"stream_name\": \"S\", \"config\": {\"name\": \"dur\", \"durable_name\": \"dur\", "
     "\"deliver_policy\": \"all\", \"ack_policy\": \"explicit\", \"filter_subject\": \"s.foo\", "
     "\"replay_policy\": \"instant\", \"ack_wait\": 0, \"idle_heartbeat\": 0, "
     "\"inactive_threshold\": 0}}",
     OK,
     "{\"durable_name\":\"dur\",\"name\":\"dur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.foo\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\": \"S\", \"config\": {\"deliver_policy\": \"all\", \"ack_policy\": "
     "\"explicit\", \"filter_subject\": \"s.bar\", \"replay_policy\": \"instant\", "
     "\"flow_control\": false, \"deliver_subject\": \"_INBOX.CwEBs8scLIBHRguiQaKhV3\", "
     "\"ack_wait\": 0, \"idle_heartbeat\": 0, \"inactive_threshold\": 0}}",
     OK,
     "{\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_"
     "deliver\":-1,\"filter_subject\":\"s.bar\",\"replay_policy\":\"instant\",\"max_ack_pending\":"
     "1000,\"deliver_subject\":\"_INBOX.CwEBs8scLIBHRguiQaKhV3\",\"inactive_threshold\":5000000000,"
     "\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats."
     "ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.pushdur",
     "{\"stream_name\": \"S\", \"config\": {\"durable_name\": \"pushdur\", \"deliver_policy\": "
     "\"all\", \"ack_policy\": \"explicit\", \"filter_subject\": \"s.baz\", \"replay_policy\": "
     "\"instant\", \"flow_control\": false, \"deliver_subject\": "
     "\"_INBOX.CwEBs8scLIBHRguiQaKhuh\", \"ack_wait\": 0, \"idle_heartbeat\": 0, "
     "\"inactive_threshold\": 0}}",
     OK,
     "{\"durable_name\":\"pushdur\",\"name\":\"pushdur\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.baz\","
     "\"replay_policy\":\"instant\",\"max_ack_pending\":1000,\"deliver_subject\":\"_INBOX."
     "CwEBs8scLIBHRguiQaKhuh\",\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.CwEBs8scLIBHRguiQaKiA5.s.qux",
     "{\"stream_name\": \"S\", \"config\": {\"name\": \"CwEBs8scLIBHRguiQaKiA5\", "
     "\"deliver_policy\": \"all\", \"ack_policy\": \"explicit\", \"filter_subject\": \"s.qux\", "
     "\"replay_policy\": \"instant\", \"ack_wait\": 0, \"idle_heartbeat\": 0, "
     "\"inactive_threshold\": 0}}",
     OK,
     "{\"name\":\"CwEBs8scLIBHRguiQaKiA5\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\","
     "\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.qux\",\"replay_policy\":"
     "\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"inactive_threshold\":5000000000,"
     "\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats."
     "ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.go\",\"replay_policy\":\"instant\",\"deliver_subject\":\"_INBOX.go1\","
     "\"num_replicas\":0}}",
     OK,
     "{\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_"
     "deliver\":-1,\"filter_subject\":\"s.go\",\"replay_policy\":\"instant\",\"max_ack_pending\":"
     "1000,\"deliver_subject\":\"_INBOX.go1\",\"inactive_threshold\":5000000000,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.gopull",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"gopull\",\"deliver_policy\":\"all\","
     "\"ack_policy\":\"explicit\",\"filter_subject\":\"s.gp\",\"replay_policy\":\"instant\",\"num_"
     "replicas\":0}}",
     OK,
     "{\"durable_name\":\"gopull\",\"name\":\"gopull\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.gp\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"ack_"
     "wait\":79200000000000,\"max_deliver\":1,\"filter_subject\":\"s.o\",\"replay_policy\":"
     "\"instant\",\"flow_control\":true,\"idle_heartbeat\":5000000000,\"deliver_subject\":\"_INBOX."
     "o1\",\"num_replicas\":0,\"mem_storage\":true}}",
     OK,
     "{\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"ack_wait\":79200000000000,\"max_"
     "deliver\":1,\"filter_subject\":\"s.o\",\"replay_policy\":\"instant\",\"flow_control\":true,"
     "\"deliver_subject\":\"_INBOX.o1\",\"idle_heartbeat\":5000000000,\"inactive_threshold\":"
     "5000000000,\"num_replicas\":0,\"mem_storage\":true,\"metadata\":{\"_nats.level\":\"5\",\"_"
     "nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\","
     "\"filter_subject\":\"s.ch\",\"replay_policy\":\"instant\",\"max_ack_pending\":65536,"
     "\"deliver_subject\":\"_INBOX.ch1\",\"num_replicas\":0}}",
     OK,
     "{\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":30000000000,\"max_"
     "deliver\":-1,\"filter_subject\":\"s.ch\",\"replay_policy\":\"instant\",\"max_ack_pending\":"
     "65536,\"deliver_subject\":\"_INBOX.ch1\",\"inactive_threshold\":5000000000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.workers",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"workers\",\"deliver_policy\":\"all\","
     "\"ack_policy\":\"explicit\",\"filter_subject\":\"s.q\",\"replay_policy\":\"instant\","
     "\"deliver_subject\":\"_INBOX.q1\",\"deliver_group\":\"workers\",\"num_replicas\":0}}",
     OK,
     "{\"durable_name\":\"workers\",\"name\":\"workers\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.q\",\"replay_"
     "policy\":\"instant\",\"max_ack_pending\":1000,\"deliver_subject\":\"_INBOX.q1\",\"deliver_"
     "group\":\"workers\",\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.gopull",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"gopull\",\"deliver_policy\":\"all\","
     "\"ack_policy\":\"explicit\",\"filter_subject\":\"s.gp\",\"replay_policy\":\"instant\",\"num_"
     "replicas\":0}}",
     OK,
     "{\"durable_name\":\"gopull\",\"name\":\"gopull\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"s.gp\","
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"num_replicas\":"
     "0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
};

START_TEST(test_client_requests)
{
    RUN_STEPS(STREAM_S, client_steps);
}
END_TEST

/* ---- every field ------------------------------------------------------------------------- */

/* Configs that pass, as echoed: the pull and push defaults (max_waiting 512, ack_wait 30 s,
 * max_ack_pending 1000 when acks are asked for, max_deliver -1, inactive_threshold 5 s for
 * an ephemeral), negative limits zeroed, the first backoff as ack_wait, the flow_control ack
 * policy's flow control and 1 s heartbeat, pinned_client's 2 min priority_timeout, times
 * kept in the offset they were given in, metadata sorted with the server's keys, the API
 * level a feature needs in _nats.req.level. */
static const struct step echo_steps[] = {
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"name\":\"P1\"}}", OK,
     "{\"name\":\"P1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"P2\",\"ack_policy\":\"explicit\"}}", OK,
     "{\"name\":\"P2\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_"
     "pending\":1000,\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"P3\",\"ack_policy\":\"all\",\"max_deliver\":-5,"
     "\"max_waiting\":-1}}",
     OK,
     "{\"name\":\"P3\",\"deliver_policy\":\"all\",\"ack_policy\":\"all\",\"ack_wait\":30000000000,"
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":"
     "1000,\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":"
     "\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"B4\",\"backoff\":[1000000000,2000000000],\"max_"
     "deliver\":3,\"ack_policy\":\"explicit\"}}",
     OK,
     "{\"name\":\"B4\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "1000000000,\"max_deliver\":3,\"backoff\":[1000000000,2000000000],\"replay_policy\":"
     "\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"inactive_threshold\":5000000000,"
     "\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats."
     "ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DS9\",\"deliver_subject\":\"s\"}}", OK,
     "{\"name\":\"DS9\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"deliver_subject\":\"s\",\"inactive_threshold\":5000000000,"
     "\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats."
     "ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PL5\",\"max_batch\":-5,\"max_bytes\":-3,\"max_"
     "expires\":-4}}",
     OK,
     "{\"name\":\"PL5\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F6\",\"filter_subjects\":[\"s.a\",\"s.b\"]}}",
     OK,
     "{\"name\":\"F6\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"filter_subjects\":[\"s.a\",\"s.b\"],\"replay_policy\":\"instant\",\"max_waiting\":512,"
     "\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_"
     "nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F7\",\"filter_subject\":\"x.y\"}}", OK,
     "{\"name\":\"F7\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"filter_subject\":\"x.y\",\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_"
     "threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F9\",\"filter_subjects\":[],\"backoff\":[],"
     "\"metadata\":{}}}",
     OK,
     "{\"name\":\"F9\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F10\",\"filter_subject\":\"s.>\",\"filter_"
     "subjects\":[]}}",
     OK,
     "{\"name\":\"F10\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"filter_subject\":\"s.\\u003e\",\"replay_policy\":\"instant\",\"max_waiting\":512,"
     "\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_"
     "nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP7\",\"deliver_policy\":\"by_start_time\","
     "\"opt_start_time\":\"2024-01-01T00:00:00.5+02:00\"}}",
     OK,
     "{\"name\":\"DP7\",\"deliver_policy\":\"by_start_time\",\"opt_start_time\":\"2024-01-01T00:00:"
     "00.5+02:00\",\"ack_policy\":\"none\",\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_"
     "waiting\":512,\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP11\",\"deliver_policy\":\"by_start_time\","
     "\"opt_start_time\":\"2024-02-29T23:59:59.000000001-07:30\"}}",
     OK,
     "{\"name\":\"DP11\",\"deliver_policy\":\"by_start_time\",\"opt_start_time\":\"2024-02-29T23:"
     "59:59.000000001-07:30\",\"ack_policy\":\"none\",\"max_deliver\":-1,\"replay_policy\":"
     "\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP13\",\"deliver_policy\":\"undefined\"}}", OK,
     "{\"name\":\"DP13\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF3\",\"sample_freq\":\"50%\"}}", OK,
     "{\"name\":\"SF3\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"sample_freq\":\"50%\",\"max_waiting\":512,\"inactive_"
     "threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF6\",\"sample_freq\":\"+5\"}}", OK,
     "{\"name\":\"SF6\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"sample_freq\":\"+5\",\"max_waiting\":512,\"inactive_"
     "threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP7\",\"priority_policy\":\"pinned_client\","
     "\"priority_groups\":[\"A\",\"b\"]}}",
     OK,
     "{\"name\":\"PP7\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"1\",\"_nats.ver\":\"2."
     "15.1\"},\"priority_groups\":[\"A\",\"b\"],\"priority_policy\":\"pinned_client\",\"priority_"
     "timeout\":120000000000}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP8\",\"priority_policy\":\"prioritized\","
     "\"priority_groups\":[\"A\"],\"priority_timeout\":7}}",
     OK,
     "{\"name\":\"PP8\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"1\",\"_nats.ver\":\"2."
     "15.1\"},\"priority_groups\":[\"A\"],\"priority_policy\":\"prioritized\",\"priority_timeout\":"
     "7}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP10\",\"priority_policy\":\"overflow\","
     "\"priority_groups\":[\"a-_/=Z9\"]}}",
     OK,
     "{\"name\":\"PP10\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"1\",\"_nats.ver\":\"2."
     "15.1\"},\"priority_groups\":[\"a-_/=Z9\"],\"priority_policy\":\"overflow\"}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP11\",\"priority_policy\":\"none\",\"priority_"
     "groups\":[]}}",
     OK,
     "{\"name\":\"PP11\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"AF2\",\"ack_policy\":\"flow_control\","
     "\"deliver_subject\":\"d\"}}",
     OK,
     "{\"name\":\"AF2\",\"deliver_policy\":\"all\",\"ack_policy\":\"flow_control\",\"max_deliver\":"
     "-1,\"replay_policy\":\"instant\",\"max_ack_pending\":1000,\"flow_control\":true,\"deliver_"
     "subject\":\"d\",\"idle_heartbeat\":1000000000,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"4\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"AF3\",\"ack_policy\":\"flow_control\","
     "\"deliver_subject\":\"d\",\"max_ack_pending\":10}}",
     OK,
     "{\"name\":\"AF3\",\"deliver_policy\":\"all\",\"ack_policy\":\"flow_control\",\"max_deliver\":"
     "-1,\"replay_policy\":\"instant\",\"max_ack_pending\":10,\"flow_control\":true,\"deliver_"
     "subject\":\"d\",\"idle_heartbeat\":1000000000,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"4\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD4\",\"backoff\":[1000000000],\"ack_policy\":"
     "\"explicit\",\"ack_wait\":1000000000},\"pedantic\":true}",
     OK,
     "{\"name\":\"PD4\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "1000000000,\"max_deliver\":-1,\"backoff\":[1000000000],\"replay_policy\":\"instant\",\"max_"
     "waiting\":512,\"max_ack_pending\":1000,\"inactive_threshold\":5000000000,\"num_replicas\":0,"
     "\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD6\",\"max_batch\":5},\"pedantic\":true}", OK,
     "{\"name\":\"PD6\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_batch\":5,\"inactive_threshold\":"
     "5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\","
     "\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD7\",\"priority_policy\":\"pinned_client\","
     "\"priority_groups\":[\"g\"]},\"pedantic\":true}",
     OK,
     "{\"name\":\"PD7\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"1\",\"_nats.ver\":\"2."
     "15.1\"},\"priority_groups\":[\"g\"],\"priority_policy\":\"pinned_client\",\"priority_"
     "timeout\":120000000000}"},
    {"$JS.API.CONSUMER.CREATE.S.N3",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N3\",\"durable_name\":\"N3\",\"deliver_"
     "subject\":\"d.x\",\"idle_heartbeat\":100000000,\"max_waiting\":-1}}",
     OK,
     "{\"durable_name\":\"N3\",\"name\":\"N3\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
     "\"max_deliver\":-1,\"replay_policy\":\"instant\",\"deliver_subject\":\"d.x\",\"idle_"
     "heartbeat\":100000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.N4",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N4\",\"ack_policy\":\"explicit\",\"max_ack_"
     "pending\":-1}}",
     OK,
     "{\"name\":\"N4\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_"
     "pending\":-1,\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.N5",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N5\",\"ack_policy\":\"explicit\",\"max_ack_"
     "pending\":-7}}",
     OK,
     "{\"name\":\"N5\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_"
     "pending\":-1,\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.N6",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N6\",\"ack_policy\":\"none\",\"deliver_"
     "subject\":\"d\",\"max_ack_pending\":-1}}",
     OK,
     "{\"name\":\"N6\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_ack_pending\":-1,\"deliver_subject\":\"d\",\"inactive_"
     "threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.N7",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N7\",\"description\":\"d\",\"deliver_subject\":"
     "\"dd\",\"deliver_group\":\"g\",\"headers_only\":true,\"rate_limit_bps\":5,\"sample_freq\":"
     "\"5\",\"max_ack_pending\":20,\"ack_policy\":\"all\",\"ack_wait\":3000000000,\"max_deliver\":"
     "5,\"backoff\":[1,2],\"idle_heartbeat\":2000000000,\"flow_control\":true,\"inactive_"
     "threshold\":7000000000,\"mem_storage\":true,\"metadata\":{\"z\":\"1\",\"a\":\"<&>\"},"
     "\"replay_policy\":\"original\",\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":9}"
     "}",
     OK,
     "{\"name\":\"N7\",\"description\":\"d\",\"deliver_policy\":\"by_start_sequence\",\"opt_start_"
     "seq\":9,\"ack_policy\":\"all\",\"ack_wait\":1,\"max_deliver\":5,\"backoff\":[1,2],\"replay_"
     "policy\":\"original\",\"rate_limit_bps\":5,\"sample_freq\":\"5\",\"max_ack_pending\":20,"
     "\"flow_control\":true,\"headers_only\":true,\"deliver_subject\":\"dd\",\"deliver_group\":"
     "\"g\",\"idle_heartbeat\":2000000000,\"inactive_threshold\":7000000000,\"num_replicas\":0,"
     "\"mem_storage\":true,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats."
     "ver\":\"2.15.1\",\"a\":\"\\u003c\\u0026\\u003e\",\"z\":\"1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.N8",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N8\",\"max_batch\":10,\"max_expires\":5000000,"
     "\"max_bytes\":1000,\"max_waiting\":7,\"filter_subjects\":[\"s.a\",\"s.b.>\"],\"deliver_"
     "policy\":\"last_per_subject\",\"ack_policy\":\"explicit\",\"backoff\":[1000000000]}}",
     OK,
     "{\"name\":\"N8\",\"deliver_policy\":\"last_per_subject\",\"ack_policy\":\"explicit\",\"ack_"
     "wait\":1000000000,\"max_deliver\":-1,\"backoff\":[1000000000],\"filter_subjects\":[\"s.a\","
     "\"s.b.\\u003e\"],\"replay_policy\":\"instant\",\"max_waiting\":7,\"max_ack_pending\":1000,"
     "\"max_batch\":10,\"max_expires\":5000000,\"max_bytes\":1000,\"inactive_threshold\":"
     "5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\","
     "\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.N9",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N9\",\"metadata\":{\"_nats.req.level\":\"3\","
     "\"_nats.ver\":\"x\",\"_nats.level\":\"0\",\"k\":\"\"}}}",
     OK,
     "{\"name\":\"N9\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\",\"k\":\"\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.N10",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N10\",\"pause_until\":\"2030-01-01T00:00:00."
     "123+02:00\"}}",
     OK,
     "{\"name\":\"N10\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"1\",\"_nats.ver\":\"2."
     "15.1\"},\"pause_until\":\"2030-01-01T00:00:00.123+02:00\"}"},
    {"$JS.API.CONSUMER.CREATE.S.N11",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N11\",\"pause_until\":\"0001-01-01T00:00:00Z\"}"
     "}",
     OK,
     "{\"name\":\"N11\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"},\"pause_until\":\"0001-01-01T00:00:00Z\"}"},
    {"$JS.API.CONSUMER.CREATE.S.N12",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N12\",\"pause_until\":\"0001-01-01T02:00:00+02:"
     "00\"}}",
     OK,
     "{\"name\":\"N12\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"},\"pause_until\":\"0001-01-01T02:00:00+02:00\"}"},
    {"$JS.API.CONSUMER.CREATE.S.N13",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N13\",\"durable_name\":\"N13\",\"inactive_"
     "threshold\":3000000000,\"max_deliver\":0}}",
     OK,
     "{\"durable_name\":\"N13\",\"name\":\"N13\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"none\",\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_"
     "threshold\":3000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.S.N14",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N14\",\"ack_policy\":\"explicit\",\"headers_"
     "only\":false,\"flow_control\":false,\"ack_wait\":0,\"opt_start_seq\":0,\"opt_start_time\":"
     "null,\"pause_until\":null,\"priority_policy\":\"none\"}}",
     OK,
     "{\"name\":\"N14\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_"
     "pending\":1000,\"inactive_threshold\":5000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
};

START_TEST(test_echo)
{
    RUN_STEPS(STREAM_S, echo_steps);
}
END_TEST

/* Without a server version the metadata holds what is stored only, and a config without
 * metadata has none: the object as INFO's "config" would hold it before the dynamic keys. */
START_TEST(test_encode_plain)
{
    struct js_consumer_config config;
    js_consumer_config_init(&config);
    config.max_deliver = -1;
    struct go_json json;
    go_json_init(&json, 4096);
    js_consumer_config_encode(&config, NULL, 0, &json);
    ck_assert_str_eq(json.data,
                     "{\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
                     "\"replay_policy\":\"instant\",\"num_replicas\":0}");
    go_json_free(&json);
    /* every field set, in ConsumerConfig's order */
    struct js_consumer_request request;
    struct js_error error;
    ck_assert_int_eq(
        parse("{\"config\":{\"priority_timeout\":9,\"priority_policy\":\"overflow\",\"priority_"
              "groups\":"
              "[\"g\"],\"pause_until\":\"2030-01-01T00:00:00Z\",\"metadata\":{\"k\":\"v\"},"
              "\"sourcing\":true,\"direct\":true,\"mem_storage\":true,\"num_replicas\":1,"
              "\"inactive_threshold\":8,\"idle_heartbeat\":7,\"deliver_group\":\"q\","
              "\"deliver_subject\":\"d\",\"max_bytes\":6,\"max_expires\":5,\"max_batch\":4,"
              "\"headers_only\":true,\"flow_control\":true,\"max_ack_pending\":3,\"max_waiting\":2,"
              "\"sample_freq\":\"1%\",\"rate_limit_bps\":18446744073709551615,\"replay_policy\":"
              "\"original\",\"filter_subjects\":[\"a\",\"b\"],\"filter_subject\":\"f\",\"backoff\":"
              "[1,2],\"max_deliver\":3,\"ack_wait\":1,\"ack_policy\":\"flow_control\","
              "\"opt_start_time\":\"2024-01-01T00:00:00.1-01:00\",\"opt_start_seq\":1,"
              "\"deliver_policy\":\"last_per_subject\",\"description\":\"x\",\"name\":\"n\","
              "\"durable_name\":\"n\"}}",
              &request, &error),
        0);
    go_json_init(&json, 4096);
    js_consumer_config_encode(&request.config, "2.15.1", 5, &json);
    ck_assert_str_eq(
        json.data,
        "{\"durable_name\":\"n\",\"name\":\"n\",\"description\":\"x\",\"deliver_policy\":"
        "\"last_per_subject\",\"opt_start_seq\":1,\"opt_start_time\":\"2024-01-01T00:00:00.1-01:"
        "00\","
        "\"ack_policy\":\"flow_control\",\"ack_wait\":1,\"max_deliver\":3,\"backoff\":[1,2],"
        "\"filter_subject\":\"f\",\"filter_subjects\":[\"a\",\"b\"],\"replay_policy\":\"original\","
        "\"rate_limit_bps\":18446744073709551615,\"sample_freq\":\"1%\",\"max_waiting\":2,"
        "\"max_ack_pending\":3,\"flow_control\":true,\"headers_only\":true,\"max_batch\":4,"
        "\"max_expires\":5,\"max_bytes\":6,\"deliver_subject\":\"d\",\"deliver_group\":\"q\","
        "\"idle_heartbeat\":7,\"inactive_threshold\":8,\"num_replicas\":1,\"mem_storage\":true,"
        "\"direct\":true,\"sourcing\":true,\"metadata\":{\"_nats.level\":\"5\",\"_nats.ver\":"
        "\"2.15.1\",\"k\":\"v\"},\"pause_until\":\"2030-01-01T00:00:00Z\",\"priority_groups\":"
        "[\"g\"],\"priority_policy\":\"overflow\",\"priority_timeout\":9}");
    go_json_free(&json);
    /* a deep copy encodes the same and owns its own strings */
    struct js_consumer_config copy;
    ck_assert_int_eq(js_consumer_config_copy(&copy, &request.config), 0);
    ck_assert_ptr_ne(copy.filter_subjects, request.config.filter_subjects);
    ck_assert(js_consumer_config_equal(&request.config, &copy));
    js_consumer_request_free(&request);
    go_json_init(&json, 4096);
    js_consumer_config_encode(&copy, NULL, 0, &json);
    ck_assert(strstr(json.data, "\"metadata\":{\"k\":\"v\"}") != NULL);
    go_json_free(&json);
    js_consumer_config_free(&copy);
}
END_TEST

TCase *js_consumer_config_echo_tcase(void)
{
    TCase *tc = tcase_create("echo");
    tcase_add_test(tc, test_client_requests);
    tcase_add_test(tc, test_echo);
    tcase_add_test(tc, test_encode_plain);
    return tc;
}
