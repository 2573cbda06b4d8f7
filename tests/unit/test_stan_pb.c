/* Unit tests for the NATS Streaming (STAN) protobuf messages (proto/stan.proto, C generated
 * by protoc-c into proto/stan.pb-c.h): every message packs and unpacks with its fields
 * intact, encodings as STAN clients write them decode (and the same messages pack to the
 * same bytes), unknown fields are skipped, and malformed input fails to unpack (NULL)
 * without crashing.
 *
 * The client encodings were worked out by hand from the protobuf wire format (each field a
 * varint key, field number << 3 | wire type, then a varint or a varint length and the
 * bytes) and checked against node-nats-streaming's generated protocol_pb.js
 * (serializeBinary). One test thread. */
#include "proto/stan.pb-c.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BIN(s) ((ProtobufCBinaryData){sizeof(s) - 1, (uint8_t *)(s)})

static void expect_bin(ProtobufCBinaryData got, const char *expected, size_t length)
{
    ck_assert_uint_eq(got.len, length);
    if (length > 0)
        ck_assert(memcmp(got.data, expected, length) == 0);
}
#define EXPECT_BIN(got, lit) expect_bin((got), (lit), sizeof(lit) - 1)

/* Packs `message` of message kind `kind` into a new buffer of exactly its packed size, with
 * the kind's own functions as engine code calls them; the caller frees it. */
#define PACK(kind, message, buffer, length)                                            \
    do {                                                                               \
        (length) = pb__##kind##__get_packed_size(message);                             \
        (buffer) = malloc((length) > 0 ? (length) : 1);                               \
        ck_assert_ptr_nonnull(buffer);                                                 \
        ck_assert_uint_eq(pb__##kind##__pack((message), (buffer)), (length));          \
    } while (0)

START_TEST(test_pub_msg)
{
    Pb__PubMsg msg = PB__PUB_MSG__INIT;
    msg.client_id = "me";
    msg.guid = "guid-1";
    msg.subject = "orders";
    msg.reply = "_INBOX.r";
    msg.data = BIN("pay\0load");
    msg.conn_id = BIN("conn");
    msg.sha256 = BIN("\x01\x02\x03");
    size_t length;
    uint8_t *buffer;
    PACK(pub_msg, &msg, buffer, length);
    Pb__PubMsg *back = pb__pub_msg__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->client_id, "me");
    ck_assert_str_eq(back->guid, "guid-1");
    ck_assert_str_eq(back->subject, "orders");
    ck_assert_str_eq(back->reply, "_INBOX.r");
    EXPECT_BIN(back->data, "pay\0load");
    EXPECT_BIN(back->conn_id, "conn");
    EXPECT_BIN(back->sha256, "\x01\x02\x03");
    pb__pub_msg__free_unpacked(back, NULL);
    free(buffer);
}
END_TEST

START_TEST(test_pub_ack)
{
    Pb__PubAck ack = PB__PUB_ACK__INIT;
    ack.guid = "guid-1";
    ack.error = "stan: invalid publish request";
    size_t length;
    uint8_t *buffer;
    PACK(pub_ack, &ack, buffer, length);
    Pb__PubAck *back = pb__pub_ack__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->guid, "guid-1");
    ck_assert_str_eq(back->error, "stan: invalid publish request");
    pb__pub_ack__free_unpacked(back, NULL);
    free(buffer);
}
END_TEST

START_TEST(test_msg_proto)
{
    Pb__MsgProto msg = PB__MSG_PROTO__INIT;
    msg.sequence = UINT64_MAX;
    msg.subject = "orders";
    msg.reply = "r";
    msg.data = BIN("x");
    msg.timestamp = INT64_MIN;
    msg.redelivered = 1;
    msg.redelivery_count = UINT32_MAX;
    msg.crc32 = 0xdeadbeef;
    size_t length;
    uint8_t *buffer;
    PACK(msg_proto, &msg, buffer, length);
    Pb__MsgProto *back = pb__msg_proto__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->sequence, UINT64_MAX);
    ck_assert_str_eq(back->subject, "orders");
    ck_assert_str_eq(back->reply, "r");
    EXPECT_BIN(back->data, "x");
    ck_assert_int_eq(back->timestamp, INT64_MIN);
    ck_assert(back->redelivered);
    ck_assert_uint_eq(back->redelivery_count, UINT32_MAX);
    ck_assert_uint_eq(back->crc32, 0xdeadbeef);
    pb__msg_proto__free_unpacked(back, NULL);
    free(buffer);
}
END_TEST

START_TEST(test_ack)
{
    Pb__Ack ack = PB__ACK__INIT;
    ack.subject = "orders";
    ack.sequence = 42;
    size_t length;
    uint8_t *buffer;
    PACK(ack, &ack, buffer, length);
    Pb__Ack *back = pb__ack__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->subject, "orders");
    ck_assert_uint_eq(back->sequence, 42);
    pb__ack__free_unpacked(back, NULL);
    free(buffer);
}
END_TEST

START_TEST(test_connect_request)
{
    Pb__ConnectRequest request = PB__CONNECT_REQUEST__INIT;
    request.client_id = "client-1";
    request.heartbeat_inbox = "_INBOX.hb";
    request.protocol = 1;
    request.conn_id = BIN("nuid");
    request.ping_interval = -5; /* negative int32: ten varint bytes */
    request.ping_max_out = INT32_MAX;
    size_t length;
    uint8_t *buffer;
    PACK(connect_request, &request, buffer, length);
    Pb__ConnectRequest *back = pb__connect_request__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->client_id, "client-1");
    ck_assert_str_eq(back->heartbeat_inbox, "_INBOX.hb");
    ck_assert_int_eq(back->protocol, 1);
    EXPECT_BIN(back->conn_id, "nuid");
    ck_assert_int_eq(back->ping_interval, -5);
    ck_assert_int_eq(back->ping_max_out, INT32_MAX);
    pb__connect_request__free_unpacked(back, NULL);
    free(buffer);
}
END_TEST

START_TEST(test_connect_response)
{
    Pb__ConnectResponse response = PB__CONNECT_RESPONSE__INIT;
    response.pub_prefix = "_STAN.pub.c";
    response.sub_requests = "_STAN.sub.c";
    response.unsub_requests = "_STAN.unsub.c";
    response.close_requests = "_STAN.close.c";
    response.error = "";
    response.sub_close_requests = "_STAN.subclose.c";
    response.ping_requests = "_STAN.ping.c";
    response.ping_interval = 5;
    response.ping_max_out = 88;
    response.protocol = 1;
    response.public_key = "key";
    size_t length;
    uint8_t *buffer;
    PACK(connect_response, &response, buffer, length);
    Pb__ConnectResponse *back = pb__connect_response__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->pub_prefix, "_STAN.pub.c");
    ck_assert_str_eq(back->sub_requests, "_STAN.sub.c");
    ck_assert_str_eq(back->unsub_requests, "_STAN.unsub.c");
    ck_assert_str_eq(back->close_requests, "_STAN.close.c");
    ck_assert_str_eq(back->error, "");
    ck_assert_str_eq(back->sub_close_requests, "_STAN.subclose.c");
    ck_assert_str_eq(back->ping_requests, "_STAN.ping.c");
    ck_assert_int_eq(back->ping_interval, 5);
    ck_assert_int_eq(back->ping_max_out, 88);
    ck_assert_int_eq(back->protocol, 1);
    ck_assert_str_eq(back->public_key, "key");
    pb__connect_response__free_unpacked(back, NULL);
    free(buffer);
}
END_TEST

START_TEST(test_ping)
{
    Pb__Ping ping = PB__PING__INIT;
    ping.conn_id = BIN("conn\0id");
    size_t length;
    uint8_t *buffer;
    PACK(ping, &ping, buffer, length);
    Pb__Ping *back = pb__ping__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(back);
    EXPECT_BIN(back->conn_id, "conn\0id");
    pb__ping__free_unpacked(back, NULL);
    free(buffer);

    Pb__PingResponse response = PB__PING_RESPONSE__INIT;
    response.error = "client has been replaced or is no longer registered";
    PACK(ping_response, &response, buffer, length);
    Pb__PingResponse *response_back = pb__ping_response__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(response_back);
    ck_assert_str_eq(response_back->error, "client has been replaced or is no longer registered");
    pb__ping_response__free_unpacked(response_back, NULL);
    free(buffer);
}
END_TEST

START_TEST(test_subscription_request)
{
    static const Pb__StartPosition positions[] = {
        PB__START_POSITION__new_only,       PB__START_POSITION__last_received,
        PB__START_POSITION__time_delta_start, PB__START_POSITION__sequence_start,
        PB__START_POSITION__first,
    };
    for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
        ck_assert_int_eq(positions[i], (int)i); /* the schema's enum values */
        Pb__SubscriptionRequest request = PB__SUBSCRIPTION_REQUEST__INIT;
        request.client_id = "client-1";
        request.subject = "orders";
        request.q_group = "workers";
        request.inbox = "_INBOX.sub";
        request.max_in_flight = 1024;
        request.ack_wait_in_secs = 30;
        request.durable_name = "dur";
        request.start_position = positions[i];
        request.start_sequence = 1ull << 40;
        request.start_time_delta = -1000000000ll;
        size_t length;
        uint8_t *buffer;
        PACK(subscription_request, &request, buffer, length);
        Pb__SubscriptionRequest *back = pb__subscription_request__unpack(NULL, length, buffer);
        ck_assert_ptr_nonnull(back);
        ck_assert_str_eq(back->client_id, "client-1");
        ck_assert_str_eq(back->subject, "orders");
        ck_assert_str_eq(back->q_group, "workers");
        ck_assert_str_eq(back->inbox, "_INBOX.sub");
        ck_assert_int_eq(back->max_in_flight, 1024);
        ck_assert_int_eq(back->ack_wait_in_secs, 30);
        ck_assert_str_eq(back->durable_name, "dur");
        ck_assert_int_eq(back->start_position, positions[i]);
        ck_assert_uint_eq(back->start_sequence, 1ull << 40);
        ck_assert_int_eq(back->start_time_delta, -1000000000ll);
        pb__subscription_request__free_unpacked(back, NULL);
        free(buffer);
    }
}
END_TEST

START_TEST(test_subscription_response_and_unsubscribe)
{
    Pb__SubscriptionResponse response = PB__SUBSCRIPTION_RESPONSE__INIT;
    response.ack_inbox = "_STAN.acks.x";
    response.error = "stan: invalid subject";
    size_t length;
    uint8_t *buffer;
    PACK(subscription_response, &response, buffer, length);
    Pb__SubscriptionResponse *response_back =
        pb__subscription_response__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(response_back);
    ck_assert_str_eq(response_back->ack_inbox, "_STAN.acks.x");
    ck_assert_str_eq(response_back->error, "stan: invalid subject");
    pb__subscription_response__free_unpacked(response_back, NULL);
    free(buffer);

    Pb__UnsubscribeRequest request = PB__UNSUBSCRIBE_REQUEST__INIT;
    request.client_id = "client-1";
    request.subject = "orders";
    request.inbox = "_STAN.acks.x";
    request.durable_name = "dur";
    PACK(unsubscribe_request, &request, buffer, length);
    Pb__UnsubscribeRequest *request_back = pb__unsubscribe_request__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(request_back);
    ck_assert_str_eq(request_back->client_id, "client-1");
    ck_assert_str_eq(request_back->subject, "orders");
    ck_assert_str_eq(request_back->inbox, "_STAN.acks.x");
    ck_assert_str_eq(request_back->durable_name, "dur");
    pb__unsubscribe_request__free_unpacked(request_back, NULL);
    free(buffer);
}
END_TEST

START_TEST(test_close)
{
    Pb__CloseRequest request = PB__CLOSE_REQUEST__INIT;
    request.client_id = "client-1";
    size_t length;
    uint8_t *buffer;
    PACK(close_request, &request, buffer, length);
    Pb__CloseRequest *request_back = pb__close_request__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(request_back);
    ck_assert_str_eq(request_back->client_id, "client-1");
    pb__close_request__free_unpacked(request_back, NULL);
    free(buffer);

    Pb__CloseResponse response = PB__CLOSE_RESPONSE__INIT;
    response.error = "stan: unknown clientID";
    PACK(close_response, &response, buffer, length);
    Pb__CloseResponse *response_back = pb__close_response__unpack(NULL, length, buffer);
    ck_assert_ptr_nonnull(response_back);
    ck_assert_str_eq(response_back->error, "stan: unknown clientID");
    pb__close_response__free_unpacked(response_back, NULL);
    free(buffer);
}
END_TEST

/* proto3 leaves zero values out: an empty message packs to no bytes, and no bytes unpack to
 * empty strings (never NULL), empty bytes and zeros. */
START_TEST(test_defaults)
{
    Pb__ConnectRequest request = PB__CONNECT_REQUEST__INIT;
    ck_assert_uint_eq(pb__connect_request__get_packed_size(&request), 0);
    uint8_t none[1] = {0};
    Pb__ConnectRequest *back = pb__connect_request__unpack(NULL, 0, none);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(back->client_id, "");
    ck_assert_str_eq(back->heartbeat_inbox, "");
    ck_assert_int_eq(back->protocol, 0);
    ck_assert_uint_eq(back->conn_id.len, 0);
    ck_assert_int_eq(back->ping_interval, 0);
    ck_assert_int_eq(back->ping_max_out, 0);
    pb__connect_request__free_unpacked(back, NULL);

    Pb__SubscriptionRequest *sub = pb__subscription_request__unpack(NULL, 0, none);
    ck_assert_ptr_nonnull(sub);
    ck_assert_int_eq(sub->start_position, PB__START_POSITION__new_only);
    ck_assert_str_eq(sub->q_group, "");
    pb__subscription_request__free_unpacked(sub, NULL);
}
END_TEST

/* Checks that `message` packs to exactly `expected`. */
static void expect_packed(const ProtobufCMessage *message, const uint8_t *expected,
                          size_t length)
{
    ck_assert_uint_eq(protobuf_c_message_get_packed_size(message), length);
    uint8_t *buffer = malloc(length);
    ck_assert_ptr_nonnull(buffer);
    ck_assert_uint_eq(protobuf_c_message_pack(message, buffer), length);
    ck_assert(memcmp(buffer, expected, length) == 0);
    free(buffer);
}

/* ConnectRequest{client_id "abc", heartbeat_inbox "hb", protocol 1, ping_interval 5,
 * ping_max_out 3}, as a client sends it. */
START_TEST(test_client_connect_request)
{
    static const uint8_t wire[] = {
        0x0a, 0x03, 'a', 'b', 'c', /* 1 client_id: key 1<<3|2, length 3 */
        0x12, 0x02, 'h', 'b',      /* 2 heartbeat_inbox: key 2<<3|2, length 2 */
        0x18, 0x01,                /* 3 protocol: key 3<<3|0, varint 1 */
        0x28, 0x05,                /* 5 ping_interval: key 5<<3|0 (4 conn_id empty) */
        0x30, 0x03,                /* 6 ping_max_out: key 6<<3|0 */
    };
    Pb__ConnectRequest *request = pb__connect_request__unpack(NULL, sizeof wire, wire);
    ck_assert_ptr_nonnull(request);
    ck_assert_str_eq(request->client_id, "abc");
    ck_assert_str_eq(request->heartbeat_inbox, "hb");
    ck_assert_int_eq(request->protocol, 1);
    ck_assert_uint_eq(request->conn_id.len, 0);
    ck_assert_int_eq(request->ping_interval, 5);
    ck_assert_int_eq(request->ping_max_out, 3);
    expect_packed(&request->base, wire, sizeof wire);
    pb__connect_request__free_unpacked(request, NULL);
}
END_TEST

/* ConnectResponse with the field numbered 100 (public_key), whose key takes two bytes. */
START_TEST(test_client_connect_response)
{
    static const uint8_t wire[] = {
        0x0a, 0x0b, '_', 'S', 'T', 'A', 'N', '.', 'p', 'u', 'b', '.', 'X', /* 1 pub_prefix */
        0x40, 0x05,      /* 8 ping_interval: key 8<<3|0 */
        0x48, 0x03,      /* 9 ping_max_out */
        0x50, 0x01,      /* 10 protocol */
        0xa2, 0x06, 0x01, 'k', /* 100 public_key: key 100<<3|2 = 802, varint a2 06 */
    };
    Pb__ConnectResponse *response = pb__connect_response__unpack(NULL, sizeof wire, wire);
    ck_assert_ptr_nonnull(response);
    ck_assert_str_eq(response->pub_prefix, "_STAN.pub.X");
    ck_assert_str_eq(response->sub_requests, "");
    ck_assert_str_eq(response->error, "");
    ck_assert_int_eq(response->ping_interval, 5);
    ck_assert_int_eq(response->ping_max_out, 3);
    ck_assert_int_eq(response->protocol, 1);
    ck_assert_str_eq(response->public_key, "k");
    expect_packed(&response->base, wire, sizeof wire);
    pb__connect_response__free_unpacked(response, NULL);
}
END_TEST

/* SubscriptionRequest starting at a sequence, with a negative int64 (ten varint bytes). */
START_TEST(test_client_subscription_request)
{
    static const uint8_t wire[] = {
        0x0a, 0x01, 'c',           /* 1 client_id */
        0x12, 0x03, 'f', 'o', 'o', /* 2 subject */
        0x22, 0x02, 'i', 'n',      /* 4 inbox */
        0x28, 0x80, 0x08,          /* 5 max_in_flight 1024 */
        0x30, 0x1e,                /* 6 ack_wait_in_secs 30 */
        0x50, 0x03,                /* 10 start_position sequence_start */
        0x58, 0xac, 0x02,          /* 11 start_sequence 300 */
        0x60, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* 12: -1 */
    };
    Pb__SubscriptionRequest *request = pb__subscription_request__unpack(NULL, sizeof wire, wire);
    ck_assert_ptr_nonnull(request);
    ck_assert_str_eq(request->client_id, "c");
    ck_assert_str_eq(request->subject, "foo");
    ck_assert_str_eq(request->q_group, "");
    ck_assert_str_eq(request->inbox, "in");
    ck_assert_int_eq(request->max_in_flight, 1024);
    ck_assert_int_eq(request->ack_wait_in_secs, 30);
    ck_assert_str_eq(request->durable_name, "");
    ck_assert_int_eq(request->start_position, PB__START_POSITION__sequence_start);
    ck_assert_uint_eq(request->start_sequence, 300);
    ck_assert_int_eq(request->start_time_delta, -1);
    expect_packed(&request->base, wire, sizeof wire);
    pb__subscription_request__free_unpacked(request, NULL);
}
END_TEST

/* MsgProto and PubMsg with their fields numbered 10 (CRC32, sha256). */
START_TEST(test_client_msg_and_pub)
{
    static const uint8_t msg_wire[] = {
        0x08, 0x07,                                           /* 1 sequence 7 */
        0x12, 0x03, 'f', 'o', 'o',                            /* 2 subject */
        0x22, 0x02, 'h', 'i',                                 /* 4 data */
        0x28, 0x80, 0x80, 0xa8, 0xb1, 0xe3, 0x9f, 0xe7, 0xcb, 0x17, /* 5 timestamp 1.7e18 */
        0x30, 0x01,                                           /* 6 redelivered */
        0x38, 0x02,                                           /* 7 redelivery_count 2 */
        0x50, 0xef, 0xfd, 0xb6, 0xf5, 0x0d,                   /* 10 CRC32 0xdeadbeef */
    };
    Pb__MsgProto *msg = pb__msg_proto__unpack(NULL, sizeof msg_wire, msg_wire);
    ck_assert_ptr_nonnull(msg);
    ck_assert_uint_eq(msg->sequence, 7);
    ck_assert_str_eq(msg->subject, "foo");
    ck_assert_str_eq(msg->reply, "");
    EXPECT_BIN(msg->data, "hi");
    ck_assert_int_eq(msg->timestamp, 1700000000000000000ll);
    ck_assert(msg->redelivered);
    ck_assert_uint_eq(msg->redelivery_count, 2);
    ck_assert_uint_eq(msg->crc32, 0xdeadbeef);
    expect_packed(&msg->base, msg_wire, sizeof msg_wire);
    pb__msg_proto__free_unpacked(msg, NULL);

    static const uint8_t pub_wire[] = {
        0x0a, 0x01, 'c',             /* 1 client_id */
        0x12, 0x01, 'g',             /* 2 guid */
        0x1a, 0x03, 'f', 'o', 'o',   /* 3 subject */
        0x2a, 0x03, 0x00, 0x01, 0x02, /* 5 data */
        0x32, 0x02, 'i', 'd',        /* 6 conn_id */
        0x52, 0x01, 0xaa,            /* 10 sha256 */
    };
    Pb__PubMsg *pub = pb__pub_msg__unpack(NULL, sizeof pub_wire, pub_wire);
    ck_assert_ptr_nonnull(pub);
    ck_assert_str_eq(pub->client_id, "c");
    ck_assert_str_eq(pub->guid, "g");
    ck_assert_str_eq(pub->subject, "foo");
    ck_assert_str_eq(pub->reply, "");
    EXPECT_BIN(pub->data, "\x00\x01\x02");
    EXPECT_BIN(pub->conn_id, "id");
    EXPECT_BIN(pub->sha256, "\xaa");
    expect_packed(&pub->base, pub_wire, sizeof pub_wire);
    pb__pub_msg__free_unpacked(pub, NULL);
}
END_TEST

/* A field this schema does not know (a newer client's) is skipped, not an error. */
START_TEST(test_unknown_field)
{
    static const uint8_t wire[] = {
        0x0a, 0x01, 'c',       /* 1 client_id */
        0x7a, 0x02, 'x', 'y',  /* 15, length-delimited: unknown */
        0xa0, 0x1f, 0x05,      /* 500, varint: unknown */
    };
    Pb__CloseRequest *request = pb__close_request__unpack(NULL, sizeof wire, wire);
    ck_assert_ptr_nonnull(request);
    ck_assert_str_eq(request->client_id, "c");
    pb__close_request__free_unpacked(request, NULL);
}
END_TEST

/* Malformed input unpacks to NULL. */
START_TEST(test_garbage)
{
    static const struct {
        const char *what;
        uint8_t bytes[16];
        size_t length;
    } cases[] = {
        {"string longer than the buffer", {0x0a, 0x05, 'a', 'b'}, 4},
        {"key without its value", {0x0a}, 1},
        {"varint never ending", {0x18, 0xff, 0xff, 0xff}, 4},
        {"varint over ten bytes",
         {0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 13},
        {"wire type 7", {0x0f, 0x00}, 2},
        {"field number 0", {0x02, 0x00}, 2},
        {"int32 field sent length-delimited", {0x1a, 0x01, 0x00}, 3},
        {"string field sent as a varint", {0x08, 0x01}, 2},
        {"length over the buffer by far", {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, 6},
        {"fixed64 cut short", {0x39, 0x01, 0x02}, 3},
        {"printable junk", {'P', 'I', 'N', 'G', '\r', '\n'}, 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Pb__ConnectRequest *request =
            pb__connect_request__unpack(NULL, cases[i].length, cases[i].bytes);
        ck_assert_msg(request == NULL, "%s unpacked", cases[i].what);
    }
    /* every message kind refuses a cut-off length-delimited field */
    static const uint8_t cut[] = {0x12, 0x09, 'x'};
    ck_assert_ptr_null(pb__pub_msg__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__pub_ack__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__msg_proto__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__ack__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__connect_response__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__ping__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__ping_response__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__subscription_request__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__subscription_response__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__unsubscribe_request__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__close_request__unpack(NULL, sizeof cut, cut));
    ck_assert_ptr_null(pb__close_response__unpack(NULL, sizeof cut, cut));

    /* random bytes: whatever they unpack to, nothing crashes and results free cleanly */
    uint32_t state = 12345;
    uint8_t random_bytes[64];
    for (int round = 0; round < 2000; round++) {
        size_t length = (size_t)(round % 64);
        for (size_t i = 0; i < length; i++) {
            state = state * 1103515245u + 12345u;
            random_bytes[i] = (uint8_t)(state >> 16);
        }
        Pb__SubscriptionRequest *request =
            pb__subscription_request__unpack(NULL, length, random_bytes);
        if (request != NULL)
            pb__subscription_request__free_unpacked(request, NULL);
        Pb__MsgProto *msg = pb__msg_proto__unpack(NULL, length, random_bytes);
        if (msg != NULL)
            pb__msg_proto__free_unpacked(msg, NULL);
    }
}
END_TEST

static Suite *stan_pb_suite(void)
{
    Suite *suite = suite_create("stan_pb");
    TCase *tc = tcase_create("round_trip");
    tcase_add_test(tc, test_pub_msg);
    tcase_add_test(tc, test_pub_ack);
    tcase_add_test(tc, test_msg_proto);
    tcase_add_test(tc, test_ack);
    tcase_add_test(tc, test_connect_request);
    tcase_add_test(tc, test_connect_response);
    tcase_add_test(tc, test_ping);
    tcase_add_test(tc, test_subscription_request);
    tcase_add_test(tc, test_subscription_response_and_unsubscribe);
    tcase_add_test(tc, test_close);
    tcase_add_test(tc, test_defaults);
    suite_add_tcase(suite, tc);
    tc = tcase_create("wire");
    tcase_add_test(tc, test_client_connect_request);
    tcase_add_test(tc, test_client_connect_response);
    tcase_add_test(tc, test_client_subscription_request);
    tcase_add_test(tc, test_client_msg_and_pub);
    tcase_add_test(tc, test_unknown_field);
    tcase_add_test(tc, test_garbage);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(stan_pb_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
