/* Consumer config tests, the refusals: every check nats-server 2.15.1 makes of a new
 * consumer's config (setConsumerConfigDefaults in pedantic mode, checkConsumerCfg, the
 * workqueue rules of addConsumer) with its error, on a limits, a workqueue, an interest
 * stream and one with consumer limits; and ionats's bounds. See test_js_consumer_config.c
 * for how the replies were recorded. One test thread. */
#include "tests/unit/test_js_consumer_config.h"

#include "tests/unit/alloc_fail.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_S "{\"name\":\"S\",\"subjects\":[\"s.>\"]}"

/* ---- a limits stream --------------------------------------------------------------------- */

/* In checkConsumerCfg's order: names, replicas (> 1 refused by the handler first), ack wait
 * and backoff, push (deliver subject wildcards, validity, cycle into the stream, max
 * waiting, ack policy for max ack pending, heartbeat) and pull rules, direct, filters, the
 * deliver policy's start (nats-server's "optional start start sequence" included), sampling
 * (Go's strconv.Atoi texts, "<nil>" for a negative frequency), flow control, priority
 * groups, the flow_control ack policy (2.14+), pedantic mode's refusals of each default.
 * nats-server 2.9.10 differs widely: a bad name is 10103 ("durable name can not contain
 * '.', '*', '>'"), negative limits are refused (10087, 10114, 10115) rather than zeroed, a
 * backoff needs max_deliver (10116), a filter outside the stream's subjects is refused
 * (10093), and filter_subjects, priority groups, the flow_control ack policy, pedantic
 * mode and the negative ack wait and backoff checks do not exist. */
static const struct step refusal_steps[] = {
    {"$JS.API.CONSUMER.CREATE.S", "{\"stream_name\":\"S\",\"config\":{\"name\":\"a.b\"}}", 500,
     10052, "consumer name can not contain '.', '*', '\\u003e', '\\\\', '/'"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.a*b",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"a*b\"}}", 500, 10052,
     "consumer name can not contain '.', '*', '\\u003e', '\\\\', '/'"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"R1\",\"num_replicas\":3}}", 500, 10074,
     "replicas \\u003e 1 not supported in non-clustered mode"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"R2\",\"num_replicas\":-1}}", 400, 10133,
     "replicas count cannot be negative"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"B1\",\"backoff\":[-1]}}", 400, 10184,
     "consumer backoff needs to be positive"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"B2\",\"ack_wait\":-1}}", 400, 10183,
     "consumer ack wait needs to be positive"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"B3\",\"backoff\":[1000000000,2000000000],\"max_"
     "deliver\":1,\"ack_policy\":\"explicit\"}}",
     400, 10116, "max deliver is required to be \\u003e length of backoff values"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DS1\",\"deliver_subject\":\"a.*\"}}", 400,
     10079, "consumer deliver subject has wildcards"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DS2\",\"deliver_subject\":\"a..b\"}}", 400,
     10112, "invalid push consumer deliver subject"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DS3\",\"deliver_subject\":\"s.x\"}}", 400,
     10081, "consumer deliver subject forms a cycle"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DS4\",\"deliver_subject\":\"d\",\"max_"
     "waiting\":5}}",
     400, 10080, "consumer in push mode can not set max waiting"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DS5\",\"deliver_subject\":\"d\",\"max_ack_"
     "pending\":5}}",
     400, 10082, "consumer requires ack policy for max ack pending"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DS6\",\"deliver_subject\":\"d\",\"idle_"
     "heartbeat\":50000000}}",
     400, 10083, "consumer idle heartbeat needs to be \\u003e= 100ms"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DS7\",\"deliver_subject\":\"d\",\"flow_"
     "control\":true}}",
     400, 10108, "consumer with flow control also needs heartbeats"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DS8\",\"deliver_subject\":\"s.>\"}}", 400,
     10079, "consumer deliver subject has wildcards"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PL1\",\"rate_limit_bps\":5}}", 400, 10086,
     "consumer in pull mode can not have rate limit set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PL2\",\"idle_heartbeat\":1000000000}}", 400,
     10088, "consumer idle heartbeat requires a push based consumer"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PL3\",\"flow_control\":true}}", 400, 10089,
     "consumer flow control requires a push based consumer"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PL4\",\"max_expires\":500}}", 400, 10115,
     "consumer max request expires needs to be \\u003e= 1ms"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DIR1\",\"direct\":true}}", 400, 10090,
     "consumer direct requires a push based consumer"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.S.DIR2",
     "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"DIR2\",\"direct\":true,\"deliver_"
     "subject\":\"d\"}}",
     400, 10091, "consumer direct requires an ephemeral consumer"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F1\",\"filter_subject\":\"s.a\",\"filter_"
     "subjects\":[\"s.b\"]}}",
     400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F2\",\"filter_subject\":\"s..a\"}}", 500, 10052,
     "invalid subject"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F3\",\"filter_subjects\":[\"s.a\",\"\"]}}", 400,
     10139, "consumer filter in FilterSubjects cannot be empty"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F4\",\"filter_subjects\":[\"s.a\",\"s.*\"]}}",
     400, 10138, "consumer subject filters cannot overlap"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F5\",\"filter_subjects\":[\"s.a\",\"s..b\"]}}",
     500, 10052, "invalid subject"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"F8\",\"filter_subjects\":[\"s.a\",\"s.a\"]}}",
     400, 10138, "consumer subject filters cannot overlap"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP1\",\"opt_start_seq\":5}}", 400, 10094,
     "consumer delivery policy is deliver all, but optional start sequence is also set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP2\",\"opt_start_time\":\"2024-01-01T00:00:"
     "00Z\"}}",
     400, 10094, "consumer delivery policy is deliver all, but optional start time is also set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP3\",\"deliver_policy\":\"last_per_subject\"}"
     "}",
     400, 10094,
     "consumer delivery policy is deliver last per subject, but optional filter subject is not "
     "set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP4\",\"deliver_policy\":\"by_start_sequence\"}"
     "}",
     400, 10094,
     "consumer delivery policy is deliver by start sequence, but optional start sequence is not "
     "set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP5\",\"deliver_policy\":\"by_start_time\"}}",
     400, 10094,
     "consumer delivery policy is deliver by start time, but optional start time is not set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP6\",\"deliver_policy\":\"by_start_time\","
     "\"opt_start_time\":\"2024-01-01T00:00:00+02:00\",\"opt_start_seq\":3}}",
     400, 10094,
     "consumer delivery policy is deliver by start time, but optional start start sequence is also "
     "set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP8\",\"deliver_policy\":\"new\",\"opt_start_"
     "seq\":1}}",
     400, 10094,
     "consumer delivery policy is deliver new, but optional start sequence is also set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP9\",\"deliver_policy\":\"last\",\"opt_start_"
     "time\":\"2024-01-01T00:00:00Z\"}}",
     400, 10094, "consumer delivery policy is deliver last, but optional start time is also set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP10\",\"deliver_policy\":\"by_start_"
     "sequence\",\"opt_start_seq\":4,\"opt_start_time\":\"2024-01-01T00:00:00Z\"}}",
     400, 10094,
     "consumer delivery policy is deliver by start sequence, but optional start time is also set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"DP12\",\"deliver_policy\":\"last_per_subject\","
     "\"opt_start_seq\":2}}",
     400, 10094,
     "consumer delivery policy is deliver last per subject, but optional start sequence is also "
     "set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF1\",\"sample_freq\":\"x%\"}}", 400, 10095,
     "failed to parse consumer sampling configuration: strconv.Atoi: parsing \\\"x\\\": invalid "
     "syntax"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF2\",\"sample_freq\":\"-5%\"}}", 400, 10095,
     "failed to parse consumer sampling configuration: \\u003cnil\\u003e"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF4\",\"sample_freq\":\"%\"}}", 400, 10095,
     "failed to parse consumer sampling configuration: strconv.Atoi: parsing \\\"\\\": invalid "
     "syntax"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF5\",\"sample_freq\":\"99999999999999999999\"}"
     "}",
     400, 10095,
     "failed to parse consumer sampling configuration: strconv.Atoi: parsing "
     "\\\"99999999999999999999\\\": value out of range"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF7\",\"sample_freq\":\"5%%\"}}", 400, 10095,
     "failed to parse consumer sampling configuration: strconv.Atoi: parsing \\\"5%\\\": invalid "
     "syntax"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF8\",\"sample_freq\":\" 5\"}}", 400, 10095,
     "failed to parse consumer sampling configuration: strconv.Atoi: parsing \\\" 5\\\": invalid "
     "syntax"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF9\",\"sample_freq\":\"-9223372036854775808\"}"
     "}",
     400, 10095, "failed to parse consumer sampling configuration: \\u003cnil\\u003e"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF10\",\"sample_freq\":\"9223372036854775808\"}"
     "}",
     400, 10095,
     "failed to parse consumer sampling configuration: strconv.Atoi: parsing "
     "\\\"9223372036854775808\\\": value out of range"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF11\",\"sample_freq\":"
     "\"99999999999999999999x\"}}",
     400, 10095,
     "failed to parse consumer sampling configuration: strconv.Atoi: parsing "
     "\\\"99999999999999999999x\\\": value out of range"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"SF12\",\"sample_freq\":"
     "\"1x999999999999999999999\"}}",
     400, 10095,
     "failed to parse consumer sampling configuration: strconv.Atoi: parsing "
     "\\\"1x999999999999999999999\\\": invalid syntax"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP1\",\"priority_policy\":\"overflow\","
     "\"deliver_subject\":\"d\"}}",
     400, 10178, "priority groups can not be used with push consumers"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP2\",\"priority_policy\":\"overflow\"}}", 400,
     10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP3\",\"priority_policy\":\"overflow\","
     "\"priority_groups\":[\"\"]}}",
     400, 10161, "Group name cannot be an empty string"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP4\",\"priority_policy\":\"overflow\","
     "\"priority_groups\":[\"a.b\"]}}",
     400, 10162,
     "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP5\",\"priority_groups\":[\"a\"]}}", 400,
     10196, "consumer can not have priority groups when policy is none"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP6\",\"priority_timeout\":5}}", 400, 10197,
     "PinnedTTL cannot be set when PriorityPolicy is none"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PP9\",\"priority_policy\":\"overflow\","
     "\"priority_groups\":[\"abcdefghijklmnopq\"]}}",
     400, 10162,
     "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"AF1\",\"ack_policy\":\"flow_control\"}}", 400,
     10218, "flow control ack policy requires a push based consumer"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"AF4\",\"ack_policy\":\"flow_control\","
     "\"deliver_subject\":\"d\",\"max_ack_pending\":10,\"max_deliver\":3}}",
     400, 10222, "flow control ack policy requires unset max deliver"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"AF5\",\"ack_policy\":\"flow_control\","
     "\"deliver_subject\":\"d\",\"max_ack_pending\":10,\"ack_wait\":5}}",
     400, 10221, "flow control ack policy requires unset ack wait"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"AF6\",\"ack_policy\":\"flow_control\","
     "\"deliver_subject\":\"d\",\"max_ack_pending\":10},\"pedantic\":true}",
     400, 10219, "flow control ack policy requires flow control"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"AF7\",\"ack_policy\":\"flow_control\","
     "\"deliver_subject\":\"d\",\"max_ack_pending\":-1}}",
     400, 10220, "flow control ack policy requires max ack pending"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD1\",\"max_deliver\":-5},\"pedantic\":true}",
     400, 10157, "pedantic mode: max_deliver must be set to -1"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD2\",\"max_waiting\":-5},\"pedantic\":true}",
     400, 10157, "pedantic mode: max_waiting must not be negative"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD3\",\"backoff\":[1000000000],\"ack_policy\":"
     "\"explicit\"},\"pedantic\":true}",
     400, 10157, "pedantic mode: first backoff value has to equal batch AckWait"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD5\",\"max_waiting\":-1,\"deliver_subject\":"
     "\"d\"},\"pedantic\":true}",
     400, 10157, "pedantic mode: max_waiting must not be negative"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD8\",\"max_ack_pending\":-2},\"pedantic\":"
     "true}",
     400, 10157, "pedantic mode: max_ack_pending must be set to -1"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD9\",\"max_batch\":-1},\"pedantic\":true}",
     400, 10157, "pedantic mode: max_batch must not be negative"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD10\",\"max_expires\":-1},\"pedantic\":true}",
     400, 10157, "pedantic mode: max_expires must not be negative"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD11\",\"max_bytes\":-1},\"pedantic\":true}",
     400, 10157, "pedantic mode: max_bytes must not be negative"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD12\",\"idle_heartbeat\":-1},\"pedantic\":"
     "true}",
     400, 10157, "pedantic mode: idle_heartbeat must not be negative"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD13\",\"inactive_threshold\":-1},\"pedantic\":"
     "true}",
     400, 10157, "pedantic mode: inactive_threshold must not be negative"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"PD14\",\"priority_timeout\":-1},\"pedantic\":"
     "true}",
     400, 10157, "pedantic mode: priority_timeout must not be negative"},
    {"$JS.API.CONSUMER.CREATE.S",
     "{\"stream_name\":\"S\",\"config\":{\"name\":\"N1\",\"durable_name\":\"N2\"}}", 400, 10020,
     "consumer expected to be ephemeral but a durable name was set in request"},
};

START_TEST(test_refusals)
{
    RUN_STEPS(STREAM_S, refusal_steps);
}
END_TEST

/* ---- other streams ----------------------------------------------------------------------- */

/* A workqueue stream: a pull consumer needs acks (10084, checkConsumerCfg), then a new one
 * explicit acks (10098) and deliver all (10101); once one exists, a new one needs a filter
 * (10099) that collides with no other (10100), also when an existing one changes its
 * filter; direct and sourcing consumers are left out of both. */
static const struct step workqueue_steps[] = {
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W1\",\"ack_policy\":\"none\"}}", 400, 10084,
     "consumer in pull mode requires explicit ack policy on workqueue stream"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W2\",\"ack_policy\":\"all\"}}", 400, 10098,
     "workqueue stream requires explicit ack"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W3\",\"deliver_policy\":\"new\",\"ack_policy\":"
     "\"explicit\"}}",
     400, 10101, "consumer must be deliver all on workqueue stream"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W4\",\"ack_policy\":\"explicit\",\"filter_"
     "subject\":\"w.a\"}}",
     OK,
     "{\"name\":\"W4\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"filter_subject\":\"w.a\",\"replay_policy\":\"instant\","
     "\"max_waiting\":512,\"max_ack_pending\":1000,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W5\",\"ack_policy\":\"explicit\"}}", 400, 10099,
     "multiple non-filtered consumers not allowed on workqueue stream"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W6\",\"ack_policy\":\"explicit\",\"filter_"
     "subject\":\"w.*\"}}",
     400, 10100, "filtered consumer not unique on workqueue stream"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W7\",\"ack_policy\":\"explicit\",\"filter_"
     "subjects\":[\"w.b\",\"w.c.>\"]}}",
     OK,
     "{\"name\":\"W7\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"filter_subjects\":[\"w.b\",\"w.c.\\u003e\"],\"replay_"
     "policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"inactive_threshold\":"
     "5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\","
     "\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W8\",\"ack_policy\":\"explicit\",\"num_"
     "replicas\":1,\"filter_subject\":\"w.d\"}}",
     OK,
     "{\"name\":\"W8\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"filter_subject\":\"w.d\",\"replay_policy\":\"instant\","
     "\"max_waiting\":512,\"max_ack_pending\":1000,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":1,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W9\",\"ack_policy\":\"explicit\",\"num_"
     "replicas\":0,\"filter_subject\":\"w.c.x\"}}",
     400, 10100, "filtered consumer not unique on workqueue stream"},
    {"$JS.API.CONSUMER.CREATE.W.W4",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W4\",\"ack_policy\":\"explicit\",\"filter_"
     "subject\":\"w.b\"}}",
     400, 10100, "filtered consumer not unique on workqueue stream"},
    {"$JS.API.CONSUMER.CREATE.W.W4",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W4\",\"ack_policy\":\"explicit\",\"filter_"
     "subject\":\"w.e\",\"description\":\"moved\"}}",
     OK,
     "{\"name\":\"W4\",\"description\":\"moved\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"explicit\",\"ack_wait\":30000000000,\"max_deliver\":-1,\"filter_subject\":\"w.e\",\"replay_"
     "policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":1000,\"inactive_threshold\":"
     "5000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\","
     "\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W10\",\"ack_policy\":\"flow_control\","
     "\"deliver_subject\":\"dw\",\"max_ack_pending\":5}}",
     400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"},
    {"$JS.API.CONSUMER.CREATE.W",
     "{\"stream_name\":\"W\",\"config\":{\"name\":\"W11\",\"ack_policy\":\"explicit\",\"deliver_"
     "subject\":\"dw2\",\"filter_subject\":\"w.f\"}}",
     OK,
     "{\"name\":\"W11\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"filter_subject\":\"w.f\",\"replay_policy\":\"instant\","
     "\"max_ack_pending\":1000,\"deliver_subject\":\"dw2\",\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
};

START_TEST(test_workqueue)
{
    RUN_STEPS("{\"name\":\"W\",\"subjects\":[\"w.>\"],\"retention\":\"workqueue\"}",
              workqueue_steps);
}
END_TEST

/* A stream's consumer_limits: its max_ack_pending and inactive_threshold are the defaults
 * (for a durable too) and the maxima (10121, 10153 with Go's duration text); pedantic mode
 * wants them given. */
static const struct step consumer_limits_steps[] = {
    {"$JS.API.CONSUMER.CREATE.L", "{\"stream_name\":\"L\",\"config\":{\"name\":\"LL1\"}}", OK,
     "{\"name\":\"LL1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":50,\"inactive_"
     "threshold\":10000000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.L",
     "{\"stream_name\":\"L\",\"config\":{\"name\":\"LL2\",\"ack_policy\":\"explicit\"}}", OK,
     "{\"name\":\"LL2\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_"
     "pending\":50,\"inactive_threshold\":10000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.L",
     "{\"stream_name\":\"L\",\"config\":{\"name\":\"LL3\",\"max_ack_pending\":51,\"ack_policy\":"
     "\"explicit\"}}",
     400, 10121, "consumer max ack pending exceeds system limit of 50"},
    {"$JS.API.CONSUMER.CREATE.L",
     "{\"stream_name\":\"L\",\"config\":{\"name\":\"LL4\",\"inactive_threshold\":11000000000}}",
     400, 10153, "consumer inactive threshold exceeds system limit of 10s"},
    {"$JS.API.CONSUMER.DURABLE.CREATE.L.LL5",
     "{\"stream_name\":\"L\",\"config\":{\"durable_name\":\"LL5\"}}", OK,
     "{\"durable_name\":\"LL5\",\"name\":\"LL5\",\"deliver_policy\":\"all\",\"ack_policy\":"
     "\"none\",\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_"
     "pending\":50,\"inactive_threshold\":10000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.L",
     "{\"stream_name\":\"L\",\"config\":{\"name\":\"LL6\",\"inactive_threshold\":1},\"pedantic\":"
     "true}",
     400, 10157, "pedantic mode: max_ack_pending must be set if it's configured in stream limits"},
    {"$JS.API.CONSUMER.CREATE.L",
     "{\"stream_name\":\"L\",\"config\":{\"name\":\"LL7\",\"max_ack_pending\":3},\"pedantic\":"
     "true}",
     400, 10157,
     "pedantic mode: inactive_threshold must be set if it's configured in stream limits"},
    {"$JS.API.CONSUMER.CREATE.L",
     "{\"stream_name\":\"L\",\"config\":{\"name\":\"LL8\",\"max_ack_pending\":3,\"inactive_"
     "threshold\":1500000000},\"pedantic\":true}",
     OK,
     "{\"name\":\"LL8\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_pending\":3,\"inactive_"
     "threshold\":1500000000,\"num_replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req."
     "level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.L",
     "{\"stream_name\":\"L\",\"config\":{\"name\":\"LL9\",\"max_ack_pending\":-1,\"ack_policy\":"
     "\"explicit\"}}",
     OK,
     "{\"name\":\"LL9\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":"
     "30000000000,\"max_deliver\":-1,\"replay_policy\":\"instant\",\"max_waiting\":512,\"max_ack_"
     "pending\":-1,\"inactive_threshold\":10000000000,\"num_replicas\":0,\"metadata\":{\"_nats."
     "level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2.15.1\"}}"},
};

START_TEST(test_consumer_limits)
{
    RUN_STEPS("{\"name\":\"L\",\"subjects\":[\"l.>\"],\"consumer_limits\":{\"inactive_threshold\":"
              "10000000000,\"max_ack_pending\":50}}",
              consumer_limits_steps);
}
END_TEST

/* An interest stream: replicas must match the stream's when given. */
static const struct step interest_steps[] = {
    {"$JS.API.CONSUMER.CREATE.I", "{\"stream_name\":\"I\",\"config\":{\"name\":\"I1\"}}", OK,
     "{\"name\":\"I1\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":0,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.I",
     "{\"stream_name\":\"I\",\"config\":{\"name\":\"I2\",\"num_replicas\":1,\"ack_policy\":"
     "\"none\"}}",
     OK,
     "{\"name\":\"I2\",\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":-1,"
     "\"replay_policy\":\"instant\",\"max_waiting\":512,\"inactive_threshold\":5000000000,\"num_"
     "replicas\":1,\"metadata\":{\"_nats.level\":\"5\",\"_nats.req.level\":\"0\",\"_nats.ver\":\"2."
     "15.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.I",
     "{\"stream_name\":\"I\",\"config\":{\"name\":\"I3\",\"ack_policy\":\"none\",\"deliver_"
     "subject\":\"i.x\"}}",
     400, 10081, "consumer deliver subject forms a cycle"},
};

START_TEST(test_interest)
{
    RUN_STEPS("{\"name\":\"I\",\"subjects\":[\"i.>\"],\"retention\":\"interest\"}", interest_steps);
}
END_TEST

/* ---- sizes and bounds -------------------------------------------------------------------- */

/* A request body built by `fill`: {"stream_name":"S","config":{...}} with `count` repeats
 * of `item` (a printf format taking the index) joined by `separator`, between `head` and
 * `tail`. The caller frees it. */
static char *build_body(const char *head, const char *item, const char *separator, size_t count,
                        const char *tail)
{
    size_t size = strlen(head) + strlen(tail) + count * (strlen(item) + strlen(separator) + 24) + 1;
    char *body = malloc(size);
    ck_assert_ptr_nonnull(body);
    size_t used = (size_t)snprintf(body, size, "%s", head);
    for (size_t i = 0; i < count; i++) {
        used += (size_t)snprintf(body + used, size - used, "%s", i ? separator : "");
        used += (size_t)snprintf(body + used, size - used, item, i);
    }
    snprintf(body + used, size - used, "%s", tail);
    return body;
}

static void expect_body(const char *subject, char *body, int code, int err_code,
                        const char *description)
{
    struct fixture *fixture = malloc(sizeof *fixture);
    ck_assert_ptr_nonnull(fixture);
    fixture_init(fixture, STREAM_S);
    char *reply = create_reply(fixture, subject, body);
    if (code == 0) {
        ck_assert_msg(strncmp(reply, "\"config\":", 9) == 0, "%.200s", reply);
        free(reply);
    } else {
        expect_error(reply, code, err_code, description, subject);
    }
    fixture_free(fixture);
    free(fixture);
    free(body);
}

/* nats-server's own limits, recorded: a description of 4097 bytes (10107), metadata of
 * more than 128 KiB, keys and values, the server's "_nats.req.level":"0" (16 bytes)
 * included (10135), a durable name of 256 bytes (10102, after the checks); 4096 bytes,
 * 128 KiB with the level's 16 and 255 bytes pass. An ephemeral's name has no such check:
 * nats-server fails to create its store directory instead (10012 "error creating store for
 * consumer"), the engine's part. */
START_TEST(test_sizes)
{
    static const char create[] = "$JS.API.CONSUMER.CREATE.S";
    char *text = malloc(128 * 1024 + 2);
    ck_assert_ptr_nonnull(text);
    memset(text, 'x', 128 * 1024 + 1);
    text[4097] = '\0';
    char *body =
        build_body("{\"stream_name\":\"S\",\"config\":{\"description\":\"", text, "", 1, "\"}}");
    expect_body(create, body, 400, 10107,
                "consumer description is too long, maximum allowed is 4096");
    text[4096] = '\0';
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"description\":\"", text, "", 1, "\"}}");
    expect_body(create, body, OK, NULL);
    memset(text, 'x', 128 * 1024 + 1);
    text[128 * 1024 - 16] = '\0'; /* with "k" and the level, one byte too many */
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"metadata\":{\"k\":\"", text, "", 1,
                      "\"}}}");
    expect_body(create, body, 400, 10135, "consumer metadata exceeds maximum size of 128KB");
    text[128 * 1024 - 17] = '\0';
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"metadata\":{\"k\":\"", text, "", 1,
                      "\"}}}");
    expect_body(create, body, OK, NULL);
    text[256] = '\0';
    char subject[512];
    snprintf(subject, sizeof subject, "$JS.API.CONSUMER.DURABLE.CREATE.S.%s", text);
    body =
        build_body("{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"", text, "", 1, "\"}}");
    expect_body(subject, body, 400, 10102, "consumer name is too long, maximum allowed is 255");
    text[255] = '\0';
    snprintf(subject, sizeof subject, "$JS.API.CONSUMER.DURABLE.CREATE.S.%s", text);
    body =
        build_body("{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"", text, "", 1, "\"}}");
    expect_body(subject, body, OK, NULL);
    free(text);
}
END_TEST

/* ionats's bounds on what a request may hold (nats-server has none): past each, 10052
 * naming the field and the bound; at each, the request goes on. */
START_TEST(test_bounds)
{
    static const char create[] = "$JS.API.CONSUMER.CREATE.S";
    char *body = build_body("{\"stream_name\":\"S\",\"config\":{\"filter_subjects\":[", "\"s.%zu\"",
                            ",", JS_CONSUMER_CONFIG_FILTERS_MAX + 1, "]}}");
    expect_body(create, body, 500, 10052,
                "CreateConsumerRequest.config.filter_subjects has too many entries, maximum "
                "allowed is 1024");
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"filter_subjects\":[", "\"s.%zu\"", ",",
                      JS_CONSUMER_CONFIG_FILTERS_MAX, "]}}");
    expect_body(create, body, OK, NULL);
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"backoff\":[", "%zu", ",",
                      JS_CONSUMER_CONFIG_BACKOFF_MAX + 1, "]}}");
    expect_body(create, body, 500, 10052,
                "CreateConsumerRequest.config.backoff has too many entries, maximum allowed is "
                "1024");
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"priority_policy\":\"overflow\","
                      "\"priority_groups\":[",
                      "\"g%zu\"", ",", JS_CONSUMER_CONFIG_PRIORITY_GROUPS_MAX + 1, "]}}");
    expect_body(create, body, 500, 10052,
                "CreateConsumerRequest.config.priority_groups has too many entries, maximum "
                "allowed is 256");
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"priority_policy\":\"overflow\","
                      "\"priority_groups\":[",
                      "\"g%zu\"", ",", JS_CONSUMER_CONFIG_PRIORITY_GROUPS_MAX, "]}}");
    expect_body(create, body, OK, NULL);
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"metadata\":{", "\"k%zu\":\"v\"", ",",
                      JS_CONSUMER_CONFIG_METADATA_ENTRIES_MAX + 1, "}}}");
    expect_body(create, body, 500, 10052,
                "CreateConsumerRequest.config.metadata has too many entries, maximum allowed is "
                "1024");
    /* at the bound, the server's _nats.req.level still gets its entry */
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"metadata\":{", "\"k%zu\":\"v\"", ",",
                      JS_CONSUMER_CONFIG_METADATA_ENTRIES_MAX, "}}}");
    expect_body(create, body, OK, NULL);
    char subject[JS_STREAM_CONFIG_SUBJECT_LENGTH_MAX + 2];
    memset(subject, 'a', sizeof subject - 1);
    subject[sizeof subject - 1] = '\0';
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"filter_subject\":\"", subject, "", 1,
                      "\"}}");
    expect_body(create, body, 500, 10052,
                "CreateConsumerRequest.config.filter_subject is too long, maximum allowed is "
                "1024");
    body = build_body("{\"stream_name\":\"S\",\"config\":{\"deliver_subject\":\"", subject, "", 1,
                      "\"}}");
    expect_body(create, body, 500, 10052,
                "CreateConsumerRequest.config.deliver_subject is too long, maximum allowed is "
                "1024");
}
END_TEST

/* ---- out of memory ----------------------------------------------------------------------- */

/* A create's steps on `body`, as the engine runs them, with nothing but plain checks (no
 * Check call may run while allocations are armed): the parse, the subject, the metadata,
 * the check, a copy for the store, the echo. 0, or the first step's error code. */
static int create_steps(const struct js_stream_config *stream, const char *body, size_t length)
{
    struct js_consumer_request request;
    struct js_error error;
    int rc = js_consumer_request_parse(body, length, &request, &error);
    if (rc != 0) {
        return rc;
    }
    rc = js_consumer_request_check(&request, JS_CONSUMER_SUBJECT_CREATE_FILTERED, "S", "c", "s.a",
                                   &error);
    rc = rc ? rc : js_consumer_config_metadata_set_static(&request.config);
    struct js_consumer_config_check_options options = {request.pedantic, stream};
    rc = rc ? rc : js_consumer_config_check(&request.config, &options, &error);
    struct js_consumer_config copy;
    if (rc == 0) {
        rc = js_consumer_config_copy(&copy, &request.config);
    }
    if (rc == 0) {
        struct go_json json;
        go_json_init(&json, 1 << 16);
        js_consumer_config_encode(&copy, "2.15.1", 5, &json);
        rc = json.failed ? -ENOMEM : 0;
        go_json_free(&json);
        js_consumer_config_free(&copy);
    }
    js_consumer_request_free(&request);
    return rc;
}

/* Every allocation of a create failing in turn: the step that met it answers -ENOMEM and
 * nothing leaks; with none failing, the create goes through. */
START_TEST(test_allocation_failures)
{
    static const char body[] =
        "{\"stream_name\":\"S\",\"config\":{\"name\":\"c\",\"description\":\"d\","
        "\"ack_policy\":\"explicit\",\"backoff\":[1000000000,2000000000],\"filter_subject\":"
        "\"s.a\",\"sample_freq\":\"5%\",\"metadata\":{\"b\":\"2\",\"a\":\"1\",\"_nats.ver\":\"x\"},"
        "\"priority_policy\":\"overflow\",\"priority_groups\":[\"g1\",\"g2\"],"
        "\"pause_until\":\"2030-01-01T00:00:00Z\"},\"action\":\"create\"}";
    struct js_stream_config stream;
    struct js_error error;
    bool pedantic;
    static const char stream_body[] = STREAM_S;
    ck_assert_int_eq(
        js_stream_config_parse(stream_body, strlen(stream_body), &stream, &pedantic, &error), 0);
    struct js_stream_config_check_options stream_options = {false, 0};
    ck_assert_int_eq(js_stream_config_check(&stream, &stream_options, &error), 0);
    char *copy = malloc(sizeof body - 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, body, sizeof body - 1);
    for (uint64_t fail_at = 1;; fail_at++) {
        int64_t live_before = alloc_fail.live_count;
        alloc_fail_at(fail_at);
        alloc_fail.armed = true;
        int rc = create_steps(&stream, copy, sizeof body - 1);
        alloc_fail.armed = false;
        ck_assert_msg(alloc_fail.live_count == live_before, "leak with allocation %d failing",
                      (int)fail_at);
        if (alloc_fail.failed_count == 0) {
            ck_assert_int_eq(rc, 0);
            ck_assert_uint_gt(fail_at, 10);
            break;
        }
        ck_assert_msg(rc == -ENOMEM, "allocation %d failing: %d", (int)fail_at, rc);
    }
    free(copy);
    js_stream_config_free(&stream);
}
END_TEST

TCase *js_consumer_config_check_tcase(void)
{
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_workqueue);
    tcase_add_test(tc, test_consumer_limits);
    tcase_add_test(tc, test_interest);
    tcase_add_test(tc, test_sizes);
    tcase_add_test(tc, test_bounds);
    tcase_add_test(tc, test_allocation_failures);
    return tc;
}
