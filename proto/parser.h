/* The NATS text protocol parser: bytes in, one operation at a time out.
 *
 * The one idea: control lines and payloads are handed out as slices that point into the
 * caller's receive buffer, with no copy, whenever a whole operation sits in that buffer.
 * Only an operation split across two receives is stitched together in the parser's carry
 * buffer (owned), so the common case of many pipelined operations per receive never
 * copies. A slice is valid until the next call to parser_next on the same parser or until
 * the caller's buffer is released, whichever comes first.
 *
 * Input rules (nats-server's): op names are case-insensitive; arguments are separated by
 * runs of spaces or tabs; a control line ends at '\n' and a '\r' before it is optional; a
 * payload of the announced size must be followed by exactly "\r\n". A parser is owned by
 * one connection on one shard. */
#ifndef IONATS_PROTO_PARSER_H
#define IONATS_PROTO_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum proto_op_kind {
    PROTO_OP_NONE = 0,
    /* client → server */
    PROTO_OP_CONNECT,
    PROTO_OP_PUB,
    PROTO_OP_HPUB,
    PROTO_OP_SUB,
    PROTO_OP_UNSUB,
    /* both directions */
    PROTO_OP_PING,
    PROTO_OP_PONG,
    /* server → client */
    PROTO_OP_INFO,
    PROTO_OP_MSG,
    PROTO_OP_HMSG,
    PROTO_OP_OK,
    PROTO_OP_ERR,
    /* leafnode links, both directions (PARSER_ROLE_LEAF) */
    PROTO_OP_LSUB,   /* LS+ <subject> [<queue> <weight>] */
    PROTO_OP_LUNSUB, /* LS- <subject> [<queue>] */
    PROTO_OP_LMSG,   /* LMSG <subject> [reply | + reply queue... | "|" queue...] <size> */
    PROTO_OP_HLMSG,  /* a leaf link's HMSG: the same with <header size> <total size> */
};

/* Which side of the connection the parser reads: a broker reads client operations, a
 * leafnode link reads the leaf protocol (either end: CONNECT, INFO and the LS/LMSG ops). */
enum parser_role {
    PARSER_ROLE_SERVER = 0,
    PARSER_ROLE_CLIENT = 1,
    PARSER_ROLE_LEAF = 2,
};

/* Why input was rejected; the engine maps each to nats-server's exact -ERR text. */
enum proto_error {
    PROTO_ERR_UNKNOWN_OP = -1,          /* not an op of this role, or bad framing */
    PROTO_ERR_CONTROL_LINE_TOO_LONG = -2,
    PROTO_ERR_MAX_PAYLOAD = -3,         /* announced size above payload_max */
    PROTO_ERR_ARGUMENTS = -4,           /* wrong argument count or malformed number */
    PROTO_ERR_HEADER_SIZE = -5,         /* HPUB/HMSG header size above total size */
    PROTO_ERR_PAYLOAD_TERMINATOR = -6,  /* payload not followed by "\r\n" */
    PROTO_ERR_NO_MEMORY = -7,           /* carry buffer could not grow */
};

struct proto_slice {
    const char *data; /* borrowed: into the receive buffer or the parser's carry */
    uint32_t length;
};

struct proto_op {
    enum proto_op_kind kind;
    struct proto_slice subject; /* PUB HPUB SUB MSG HMSG */
    struct proto_slice reply;   /* PUB HPUB MSG HMSG; length 0 when absent */
    struct proto_slice queue;   /* SUB LS+ LS-; length 0 when absent. LMSG HLMSG: the queue
                                 * names, blank-separated (proto_queue_next), in one slice */
    struct proto_slice sid;     /* SUB UNSUB MSG HMSG */
    struct proto_slice text;    /* CONNECT and INFO JSON, -ERR text (quotes kept) */
    struct proto_slice payload; /* PUB HPUB MSG HMSG: header block + body, without CRLF */
    uint32_t header_length;     /* HPUB HMSG: bytes of payload that are the header block */
    uint64_t max_msgs;          /* UNSUB: 0 when absent. LS+: the queue weight (1 absent) */
};

struct parser {
    uint32_t control_line_max; /* bytes of a control line, CRLF excluded */
    uint32_t payload_max;      /* the largest payload an op may announce (any role) */
    enum parser_role role;
    /* Carry: an operation split across receives, stitched here. Owned. */
    char *carry;
    uint32_t carry_length;
    uint32_t carry_capacity;
    uint32_t carry_need;       /* bytes the carried op needs in all; 0 = until '\n' */
    bool carry_handed_out;     /* the last op pointed into carry: reset it on next call */
    uint64_t carry_count;      /* ops that had to be stitched (a statistic) */
};

void parser_init(struct parser *parser, enum parser_role role, uint32_t control_line_max,
                 uint32_t payload_max);
void parser_destroy(struct parser *parser);

/* New limits for the ops still to come (a configuration reload); an op already being
 * stitched keeps the size it announced. */
void parser_limits_set(struct parser *parser, uint32_t control_line_max, uint32_t payload_max);

/* Parses the next operation from [*cursor, end). Returns 1 with `op` filled and *cursor
 * advanced past it; 0 when the input is used up (an incomplete op is carried internally;
 * *cursor == end); or a negative proto_error, after which the connection must be closed
 * or the error reported (the parser's state is unspecified). */
int parser_next(struct parser *parser, const char **cursor, const char *end,
                struct proto_op *op);

/* The next queue name of an LMSG's blank-separated list in [*cursor, end): false when
 * none is left. */
bool proto_queue_next(const char **cursor, const char *end, struct proto_slice *name);

/* True while part of an operation waits in the carry buffer. */
static inline bool parser_mid_op(const struct parser *parser)
{
    return parser->carry_length > 0 && !parser->carry_handed_out;
}

#endif
