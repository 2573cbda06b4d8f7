/* NATS text protocol parser: see parser.h for the contract.
 *
 * Wire format read here (client → server unless noted; fields split on runs of SP/TAB,
 * lines end in "\n" with an optional "\r" before it):
 *   CONNECT <json>            PING            PONG
 *   PUB <subject> [reply] <size>\r\n<size bytes>\r\n
 *   HPUB <subject> [reply] <header size> <total size>\r\n<total bytes>\r\n
 *   SUB <subject> [queue] <sid>               UNSUB <sid> [max]
 *   server → client: INFO <json>, MSG <subject> <sid> [reply] <size>, HMSG <subject> <sid>
 *   [reply] <header size> <total size>, +OK, -ERR <text>
 *   leafnode links, both ways: CONNECT, INFO, PING, PONG, +OK, -ERR and
 *   LS+ <subject> [<queue> <weight>]          LS- <subject> [<queue>]
 *   LMSG <subject> <size> | LMSG <subject> <reply> <size>
 *   LMSG <subject> + <reply> <queue>... <size> | LMSG <subject> "|" <queue>... <size>
 *   HMSG (on a leaf link): the same forms ending in <header size> <total size>
 * An op is valid when its name is known for the role, its argument count fits, its sizes
 * are decimal numbers within the limits and its payload ends in "\r\n".
 *
 * Hand-written rather than generated: the parser must hand out slices into the caller's
 * buffer and stitch only split operations, which general parser generators do not do. */
#include "proto/parser.h"

#include "base/assert.h"

#include <stdlib.h>
#include <string.h>

/* Most fields any op has: HMSG <subject> <sid> <reply> <header size> <total size>. */
enum { ARGS_MAX = 5 };
/* Longest op name ("CONNECT"): names longer than this cannot be known. */
enum { OP_NAME_LENGTH_MAX = 7 };
/* Carry buffers above this are freed after use instead of kept for the next split op. */
enum { CARRY_KEEP_BYTES_MAX = 64 * 1024 };
/* Decimal digits of the largest size accepted (uint32). */
enum { SIZE_DIGITS_MAX = 10 };

/* Which roles read an op: a bit per enum parser_role. */
enum {
    R_SERVER = 1u << PARSER_ROLE_SERVER,
    R_CLIENT = 1u << PARSER_ROLE_CLIENT,
    R_LEAF = 1u << PARSER_ROLE_LEAF,
};

struct op_name {
    const char *name;
    enum proto_op_kind kind;
    uint8_t length;
    uint8_t roles; /* R_* */
};

static const struct op_name op_names[] = {
    {"PUB", PROTO_OP_PUB, 3, R_SERVER},
    {"HPUB", PROTO_OP_HPUB, 4, R_SERVER},
    {"SUB", PROTO_OP_SUB, 3, R_SERVER},
    {"UNSUB", PROTO_OP_UNSUB, 5, R_SERVER},
    {"CONNECT", PROTO_OP_CONNECT, 7, R_SERVER | R_LEAF},
    {"PING", PROTO_OP_PING, 4, R_SERVER | R_CLIENT | R_LEAF},
    {"PONG", PROTO_OP_PONG, 4, R_SERVER | R_CLIENT | R_LEAF},
    {"MSG", PROTO_OP_MSG, 3, R_CLIENT},
    {"HMSG", PROTO_OP_HMSG, 4, R_CLIENT},
    {"INFO", PROTO_OP_INFO, 4, R_SERVER | R_CLIENT | R_LEAF},
    {"+OK", PROTO_OP_OK, 3, R_SERVER | R_CLIENT | R_LEAF},
    {"-ERR", PROTO_OP_ERR, 4, R_SERVER | R_CLIENT | R_LEAF},
    {"LS+", PROTO_OP_LSUB, 3, R_LEAF},
    {"LS-", PROTO_OP_LUNSUB, 3, R_LEAF},
    {"LMSG", PROTO_OP_LMSG, 4, R_LEAF},
    {"HMSG", PROTO_OP_HLMSG, 4, R_LEAF}, /* a leaf link's HMSG has LMSG's form */
};

void parser_init(struct parser *parser, enum parser_role role, uint32_t control_line_max,
                 uint32_t payload_max)
{
    ASSERT(control_line_max > 0);
    memset(parser, 0, sizeof *parser);
    parser->role = role;
    parser->control_line_max = control_line_max;
    parser->payload_max = payload_max;
}

void parser_limits_set(struct parser *parser, uint32_t control_line_max, uint32_t payload_max)
{
    ASSERT(control_line_max > 0);
    parser->control_line_max = control_line_max;
    parser->payload_max = payload_max;
}

void parser_destroy(struct parser *parser)
{
    free(parser->carry);
    parser->carry = NULL;
    parser->carry_capacity = 0;
    parser->carry_length = 0;
}

static inline bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static inline char to_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* True when `text` equals `name` ignoring ASCII case; `name` is upper case. */
static bool name_equals(const char *text, size_t length, const char *name, size_t name_length)
{
    if (length != name_length) {
        return false;
    }
    for (size_t i = 0; i < length; i++) {
        if (to_upper(text[i]) != name[i]) {
            return false;
        }
    }
    return true;
}

static bool role_allows(const struct parser *parser, const struct op_name *entry)
{
    return (entry->roles & (1u << parser->role)) != 0;
}

static const struct op_name *op_lookup(const struct parser *parser, const char *text,
                                       size_t length)
{
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        if (role_allows(parser, &op_names[i]) &&
            name_equals(text, length, op_names[i].name, op_names[i].length)) {
            return &op_names[i];
        }
    }
    return NULL;
}

/* True when the start of an unfinished line can still become a known op: lets a client
 * that sends garbage without a newline be refused at once, as nats-server does. */
static bool op_prefix_possible(const struct parser *parser, const char *text, size_t length)
{
    size_t name_length = 0;
    while (name_length < length && !is_blank(text[name_length]) && text[name_length] != '\r') {
        name_length++;
    }
    bool name_complete = name_length < length;
    if (name_length > OP_NAME_LENGTH_MAX) {
        return false;
    }
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++) {
        const struct op_name *entry = &op_names[i];
        if (!role_allows(parser, entry) || name_length > entry->length) {
            continue;
        }
        if (name_complete && name_length != entry->length) {
            continue;
        }
        bool same = true;
        for (size_t j = 0; j < name_length && same; j++) {
            same = to_upper(text[j]) == entry->name[j];
        }
        if (same) {
            return true;
        }
    }
    return false;
}

/* Splits `line` into blank-separated fields. Returns the field count, or ARGS_MAX + 1 when
 * there are more fields than any op takes. */
static int split_fields(const char *line, size_t length, struct proto_slice *fields)
{
    int count = 0;
    size_t i = 0;
    while (i < length) {
        while (i < length && is_blank(line[i])) {
            i++;
        }
        if (i == length) {
            break;
        }
        size_t start = i;
        while (i < length && !is_blank(line[i])) {
            i++;
        }
        if (count == ARGS_MAX) {
            return ARGS_MAX + 1;
        }
        fields[count].data = line + start;
        fields[count].length = (uint32_t)(i - start);
        count++;
    }
    return count;
}

/* Parses a decimal number of at most `digits_max` digits. 0 or PROTO_ERR_ARGUMENTS. */
static int parse_decimal(struct proto_slice field, uint32_t digits_max, uint64_t *value)
{
    if (field.length == 0 || field.length > digits_max) {
        return PROTO_ERR_ARGUMENTS;
    }
    uint64_t result = 0;
    for (uint32_t i = 0; i < field.length; i++) {
        char c = field.data[i];
        if (c < '0' || c > '9') {
            return PROTO_ERR_ARGUMENTS;
        }
        result = result * 10 + (uint64_t)(c - '0');
    }
    *value = result;
    return 0;
}

/* Parses a decimal size that fits in 32 bits. 0 or PROTO_ERR_ARGUMENTS. */
static int parse_size(struct proto_slice field, uint32_t *value)
{
    uint64_t result;
    int rc = parse_decimal(field, SIZE_DIGITS_MAX, &result);
    if (rc != 0 || result > UINT32_MAX) {
        return PROTO_ERR_ARGUMENTS;
    }
    *value = (uint32_t)result;
    return 0;
}

static int parse_u64(struct proto_slice field, uint64_t *value)
{
    enum { U64_DIGITS_SAFE = 19 }; /* 10^19 - 1 < 2^64: no overflow check needed */
    return parse_decimal(field, U64_DIGITS_SAFE, value);
}

/* PUB <subject> [reply] <size>: returns the payload size or a negative error. */
static int64_t parse_pub(const struct parser *parser, struct proto_slice *fields, int count,
                         struct proto_op *op)
{
    if (count != 2 && count != 3) {
        return PROTO_ERR_ARGUMENTS;
    }
    op->subject = fields[0];
    if (count == 3) {
        op->reply = fields[1];
    }
    uint32_t size;
    int rc = parse_size(fields[count - 1], &size);
    if (rc != 0) {
        return rc;
    }
    if (parser->role == PARSER_ROLE_SERVER && size > parser->payload_max) {
        return PROTO_ERR_MAX_PAYLOAD;
    }
    return size;
}

/* HPUB <subject> [reply] <header size> <total size>. */
static int64_t parse_hpub(const struct parser *parser, struct proto_slice *fields, int count,
                          struct proto_op *op)
{
    if (count != 3 && count != 4) {
        return PROTO_ERR_ARGUMENTS;
    }
    op->subject = fields[0];
    if (count == 4) {
        op->reply = fields[1];
    }
    uint32_t header_size;
    uint32_t total_size;
    int rc = parse_size(fields[count - 2], &header_size);
    if (rc == 0) {
        rc = parse_size(fields[count - 1], &total_size);
    }
    if (rc != 0) {
        return rc;
    }
    if (header_size > total_size) {
        return PROTO_ERR_HEADER_SIZE;
    }
    if (parser->role == PARSER_ROLE_SERVER && total_size > parser->payload_max) {
        return PROTO_ERR_MAX_PAYLOAD;
    }
    op->header_length = header_size;
    return total_size;
}

/* MSG <subject> <sid> [reply] <size> and HMSG <subject> <sid> [reply] <hdr> <total>. */
static int64_t parse_msg(struct proto_slice *fields, int count, bool headers,
                         struct proto_op *op)
{
    int sizes = headers ? 2 : 1;
    if (count != 2 + sizes && count != 3 + sizes) {
        return PROTO_ERR_ARGUMENTS;
    }
    op->subject = fields[0];
    op->sid = fields[1];
    if (count == 3 + sizes) {
        op->reply = fields[2];
    }
    uint32_t total_size;
    int rc = parse_size(fields[count - 1], &total_size);
    if (rc != 0) {
        return rc;
    }
    if (headers) {
        uint32_t header_size;
        rc = parse_size(fields[count - 2], &header_size);
        if (rc != 0) {
            return rc;
        }
        if (header_size > total_size) {
            return PROTO_ERR_HEADER_SIZE;
        }
        op->header_length = header_size;
    }
    return total_size;
}

static int parse_sub(struct proto_slice *fields, int count, struct proto_op *op)
{
    if (count != 2 && count != 3) {
        return PROTO_ERR_ARGUMENTS;
    }
    op->subject = fields[0];
    if (count == 3) {
        op->queue = fields[1];
    }
    op->sid = fields[count - 1];
    return 0;
}

static int parse_unsub(struct proto_slice *fields, int count, struct proto_op *op)
{
    if (count != 1 && count != 2) {
        return PROTO_ERR_ARGUMENTS;
    }
    op->sid = fields[0];
    if (count == 2 && parse_u64(fields[1], &op->max_msgs) != 0) {
        op->max_msgs = 0; /* not a number: nats-server treats it as "no max" */
    }
    return 0;
}

static struct proto_slice rest_of_line(const char *args, size_t length);

/* LS+ <subject> [<queue> <weight>] and LS- <subject> [<queue>]: the weight is 1 when
 * absent. */
static int parse_lsub(struct proto_slice *fields, int count, bool add, struct proto_op *op)
{
    if (count < 1 || count > 3 || (!add && count == 3) || (add && count == 2)) {
        return PROTO_ERR_ARGUMENTS;
    }
    op->subject = fields[0];
    op->max_msgs = 1;
    if (count >= 2) {
        op->queue = fields[1];
    }
    if (count == 3 && (parse_u64(fields[2], &op->max_msgs) != 0 || op->max_msgs == 0)) {
        op->max_msgs = 1; /* nats-server takes a weight it cannot read as 1 */
    }
    return 0;
}

/* The field of `line` starting at or after `*i`, or an empty slice at the end. */
static struct proto_slice field_next(const char *line, size_t length, size_t *i)
{
    while (*i < length && is_blank(line[*i])) {
        (*i)++;
    }
    size_t start = *i;
    while (*i < length && !is_blank(line[*i])) {
        (*i)++;
    }
    return (struct proto_slice){.data = line + start, .length = (uint32_t)(*i - start)};
}

/* LMSG and HLMSG (see the grammar above): any number of queue names, so the fields are
 * read one by one rather than through split_fields. The sizes are the last one or two. */
static int64_t parse_lmsg(const char *args, size_t length, bool headers, struct proto_op *op)
{
    enum { HEAD_FIELDS = 3 };
    size_t sizes = headers ? 2 : 1;
    struct proto_slice head[HEAD_FIELDS];
    struct proto_slice tail[2] = {{0}, {0}}; /* the last `sizes` fields, oldest first */
    size_t count = 0;
    size_t i = 0;
    for (;;) {
        struct proto_slice field = field_next(args, length, &i);
        if (field.length == 0) {
            break;
        }
        if (count < HEAD_FIELDS) {
            head[count] = field;
        }
        tail[0] = tail[1];
        tail[1] = field;
        count++;
    }
    if (count < 1 + sizes) {
        return PROTO_ERR_ARGUMENTS;
    }
    op->subject = head[0];
    size_t middle = count - 1 - sizes; /* fields between the subject and the sizes */
    if (middle == 1) {
        op->reply = head[1];
    } else if (middle > 1) {
        if (head[1].length != 1 || (head[1].data[0] != '+' && head[1].data[0] != '|')) {
            return PROTO_ERR_ARGUMENTS;
        }
        bool reply = head[1].data[0] == '+';
        if (reply) {
            op->reply = head[2];
        }
        const char *queues = reply ? head[2].data + head[2].length : head[1].data + 1;
        const char *sizes_start = tail[2 - sizes].data;
        struct proto_slice rest = rest_of_line(queues, (size_t)(sizes_start - queues));
        op->queue = rest; /* "+ reply" with no queue after it: none, as nats-server */
    }
    uint32_t total_size;
    if (parse_size(tail[1], &total_size) != 0) {
        return PROTO_ERR_ARGUMENTS;
    }
    if (headers) {
        uint32_t header_size;
        if (parse_size(tail[0], &header_size) != 0) {
            return PROTO_ERR_ARGUMENTS;
        }
        if (header_size > total_size) {
            return PROTO_ERR_HEADER_SIZE;
        }
        op->header_length = header_size;
    }
    return total_size;
}

bool proto_queue_next(const char **cursor, const char *end, struct proto_slice *name)
{
    size_t i = 0;
    *name = field_next(*cursor, (size_t)(end - *cursor), &i);
    *cursor += i;
    return name->length > 0;
}

/* The rest of the line after the op name and its blanks: CONNECT/INFO JSON, -ERR text. */
static struct proto_slice rest_of_line(const char *args, size_t length)
{
    size_t i = 0;
    while (i < length && is_blank(args[i])) {
        i++;
    }
    while (length > i && is_blank(args[length - 1])) {
        length--;
    }
    return (struct proto_slice){.data = args + i, .length = (uint32_t)(length - i)};
}

static bool op_needs_arguments(enum proto_op_kind kind)
{
    return kind == PROTO_OP_PUB || kind == PROTO_OP_HPUB || kind == PROTO_OP_SUB ||
           kind == PROTO_OP_UNSUB || kind == PROTO_OP_MSG || kind == PROTO_OP_HMSG ||
           kind == PROTO_OP_LSUB || kind == PROTO_OP_LUNSUB || kind == PROTO_OP_LMSG ||
           kind == PROTO_OP_HLMSG;
}

/* Bytes of a control line that count against control_line_max: the arguments after the
 * op name and its blanks, as nats-server measures them. */
static size_t line_arguments_length(const char *line, size_t length)
{
    size_t i = 0;
    while (i < length && !is_blank(line[i])) {
        i++;
    }
    while (i < length && is_blank(line[i])) {
        i++;
    }
    return length - i;
}

/* Parses one control line (without its line end). Returns the payload size the op
 * announces (0 for ops without payload) or a negative proto_error. */
static int64_t parse_control_line(const struct parser *parser, const char *line, size_t length,
                                  struct proto_op *op)
{
    memset(op, 0, sizeof *op);
    size_t name_length = 0;
    while (name_length < length && !is_blank(line[name_length])) {
        name_length++;
    }
    const struct op_name *entry = op_lookup(parser, line, name_length);
    if (entry == NULL) {
        return PROTO_ERR_UNKNOWN_OP;
    }
    op->kind = entry->kind;
    if (name_length == length && op_needs_arguments(op->kind)) {
        return PROTO_ERR_UNKNOWN_OP; /* "PUB\r\n" is no PUB at all, as nats-server sees it */
    }
    const char *args = line + name_length;
    size_t args_length = length - name_length;
    struct proto_slice fields[ARGS_MAX];
    int count = 0;
    if (op->kind != PROTO_OP_CONNECT && op->kind != PROTO_OP_INFO && op->kind != PROTO_OP_ERR &&
        op->kind != PROTO_OP_LMSG && op->kind != PROTO_OP_HLMSG) {
        count = split_fields(args, args_length, fields);
    }
    switch (op->kind) {
    case PROTO_OP_PUB:
        return parse_pub(parser, fields, count, op);
    case PROTO_OP_HPUB:
        return parse_hpub(parser, fields, count, op);
    case PROTO_OP_MSG:
    case PROTO_OP_HMSG: {
        /* a client reading a broker holds no more than payload_max of it either */
        int64_t size = parse_msg(fields, count, op->kind == PROTO_OP_HMSG, op);
        return size > (int64_t)parser->payload_max ? PROTO_ERR_MAX_PAYLOAD : size;
    }
    case PROTO_OP_SUB:
        return parse_sub(fields, count, op);
    case PROTO_OP_UNSUB:
        return parse_unsub(fields, count, op);
    case PROTO_OP_LSUB:
    case PROTO_OP_LUNSUB:
        return parse_lsub(fields, count, op->kind == PROTO_OP_LSUB, op);
    case PROTO_OP_LMSG:
    case PROTO_OP_HLMSG:
    {
        int64_t size = parse_lmsg(args, args_length, op->kind == PROTO_OP_HLMSG, op);
        return size > (int64_t)parser->payload_max ? PROTO_ERR_MAX_PAYLOAD : size;
    }
    case PROTO_OP_PING:
    case PROTO_OP_PONG:
        return 0; /* nats-server answers "PING x" too: what follows the name is ignored */
    case PROTO_OP_OK:
        return count == 0 ? 0 : PROTO_ERR_UNKNOWN_OP;
    case PROTO_OP_CONNECT:
    case PROTO_OP_INFO:
    case PROTO_OP_ERR:
        op->text = rest_of_line(args, args_length);
        return 0;
    case PROTO_OP_NONE:
        break;
    }
    UNREACHABLE();
}

static bool op_has_payload(enum proto_op_kind kind)
{
    return kind == PROTO_OP_PUB || kind == PROTO_OP_HPUB || kind == PROTO_OP_MSG ||
           kind == PROTO_OP_HMSG || kind == PROTO_OP_LMSG || kind == PROTO_OP_HLMSG;
}

/* Length of the line content [line, newline) without a trailing '\r'. */
static size_t line_content_length(const char *line, const char *newline)
{
    size_t length = (size_t)(newline - line);
    if (length > 0 && line[length - 1] == '\r') {
        length--;
    }
    return length;
}

static int carry_reserve(struct parser *parser, uint64_t capacity)
{
    if (capacity <= parser->carry_capacity) {
        return 0;
    }
    if (capacity > UINT32_MAX) {
        return PROTO_ERR_NO_MEMORY;
    }
    char *grown = realloc(parser->carry, capacity);
    if (grown == NULL) {
        return PROTO_ERR_NO_MEMORY;
    }
    parser->carry = grown;
    parser->carry_capacity = (uint32_t)capacity;
    return 0;
}

static int carry_append(struct parser *parser, const char *data, size_t length)
{
    int rc = carry_reserve(parser, (uint64_t)parser->carry_length + length);
    if (rc != 0) {
        return rc;
    }
    memcpy(parser->carry + parser->carry_length, data, length);
    parser->carry_length += (uint32_t)length;
    return 0;
}

static void carry_reset(struct parser *parser)
{
    parser->carry_length = 0;
    parser->carry_need = 0;
    parser->carry_handed_out = false;
    if (parser->carry_capacity > CARRY_KEEP_BYTES_MAX) {
        free(parser->carry);
        parser->carry = NULL;
        parser->carry_capacity = 0;
    }
}

/* Checks the payload that follows a control line and fills op->payload. */
static int take_payload(const char *payload, uint32_t size, struct proto_op *op)
{
    if (payload[size] != '\r' || payload[size + 1] != '\n') {
        return PROTO_ERR_PAYLOAD_TERMINATOR;
    }
    op->payload.data = payload;
    op->payload.length = size;
    return 1;
}

/* A line still without '\n': refuse it early when it is already too long or cannot be a
 * known op, otherwise keep it in the carry. */
static int carry_partial_line(struct parser *parser, const char *data, size_t length)
{
    /* The longest unfinished line that can still be within the limit: the op name, some
     * blanks, control_line_max argument bytes and a '\r'. Bounds the carry before the
     * exact measure below. */
    uint64_t bound = (uint64_t)parser->control_line_max * 2 + OP_NAME_LENGTH_MAX + 1;
    if ((uint64_t)parser->carry_length + length > bound) {
        return PROTO_ERR_CONTROL_LINE_TOO_LONG;
    }
    int rc = carry_append(parser, data, length);
    if (rc != 0) {
        return rc;
    }
    size_t content = parser->carry_length;
    if (content > 0 && parser->carry[content - 1] == '\r') {
        content--;
    }
    if (line_arguments_length(parser->carry, content) > parser->control_line_max) {
        return PROTO_ERR_CONTROL_LINE_TOO_LONG;
    }
    if (!op_prefix_possible(parser, parser->carry, parser->carry_length)) {
        return PROTO_ERR_UNKNOWN_OP;
    }
    return 0;
}

/* The carried bytes hold a whole control line and, when needed, its whole payload. */
static int finish_carried_op(struct parser *parser, struct proto_op *op)
{
    const char *newline = memchr(parser->carry, '\n', parser->carry_length);
    ASSERT(newline != NULL);
    size_t line_length = line_content_length(parser->carry, newline);
    int64_t size = parse_control_line(parser, parser->carry, line_length, op);
    if (size < 0) {
        return (int)size;
    }
    const char *payload = newline + 1;
    uint64_t need = (uint64_t)(payload - parser->carry) + (uint64_t)size + 2;
    if (!op_has_payload(op->kind)) {
        parser->carry_handed_out = true;
        return 1;
    }
    if (parser->carry_length < need) {
        parser->carry_need = (uint32_t)need;
        return carry_reserve(parser, need);
    }
    ASSERT(parser->carry_length == need);
    parser->carry_handed_out = true;
    return take_payload(payload, (uint32_t)size, op);
}

/* Continues an op that was split across receives. */
static int parse_carried(struct parser *parser, const char **cursor, const char *end,
                         struct proto_op *op)
{
    size_t available = (size_t)(end - *cursor);
    if (parser->carry_need == 0) {
        const char *newline = memchr(*cursor, '\n', available);
        if (newline == NULL) {
            int rc = carry_partial_line(parser, *cursor, available);
            *cursor = end;
            return rc;
        }
        size_t take = (size_t)(newline + 1 - *cursor);
        int rc = carry_append(parser, *cursor, take);
        if (rc != 0) {
            return rc;
        }
        size_t line_length =
            line_content_length(parser->carry, parser->carry + parser->carry_length - 1);
        if (line_arguments_length(parser->carry, line_length) > parser->control_line_max) {
            return PROTO_ERR_CONTROL_LINE_TOO_LONG;
        }
        *cursor += take;
        rc = finish_carried_op(parser, op);
        if (rc != 0 || parser->carry_need == 0) {
            return rc;
        }
        available = (size_t)(end - *cursor);
    }
    size_t missing = parser->carry_need - parser->carry_length;
    size_t take = missing < available ? missing : available;
    int rc = carry_append(parser, *cursor, take);
    if (rc != 0) {
        return rc;
    }
    *cursor += take;
    if (parser->carry_length < parser->carry_need) {
        return 0;
    }
    return finish_carried_op(parser, op);
}

/* Starts the carry with the unfinished tail of the caller's buffer. */
static int start_carry(struct parser *parser, const char *data, size_t length, uint64_t need)
{
    ASSERT(parser->carry_length == 0);
    if (need > 0) {
        int rc = carry_reserve(parser, need);
        if (rc != 0) {
            return rc;
        }
    }
    parser->carry_need = (uint32_t)need;
    parser->carry_count++;
    return need > 0 ? carry_append(parser, data, length)
                    : carry_partial_line(parser, data, length);
}

int parser_next(struct parser *parser, const char **cursor, const char *end,
                struct proto_op *op)
{
    ASSERT(*cursor <= end);
    if (parser->carry_handed_out) {
        carry_reset(parser);
    }
    if (*cursor == end) {
        return 0;
    }
    if (parser->carry_length > 0) {
        return parse_carried(parser, cursor, end, op);
    }
    const char *line = *cursor;
    size_t available = (size_t)(end - line);
    const char *newline = memchr(line, '\n', available);
    if (newline == NULL) {
        *cursor = end;
        return start_carry(parser, line, available, 0);
    }
    size_t line_length = line_content_length(line, newline);
    if (line_arguments_length(line, line_length) > parser->control_line_max) {
        return PROTO_ERR_CONTROL_LINE_TOO_LONG;
    }
    int64_t size = parse_control_line(parser, line, line_length, op);
    if (size < 0) {
        return (int)size;
    }
    const char *payload = newline + 1;
    if (!op_has_payload(op->kind)) {
        *cursor = payload;
        return 1;
    }
    if ((uint64_t)(end - payload) >= (uint64_t)size + 2) {
        *cursor = payload + size + 2;
        return take_payload(payload, (uint32_t)size, op);
    }
    *cursor = end;
    return start_carry(parser, line, available, (uint64_t)(payload - line) + (uint64_t)size + 2);
}
