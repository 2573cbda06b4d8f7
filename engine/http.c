/* HTTP/1.x request heads and query strings: see http.h.
 *
 * The head is found first (an empty line within HTTP_HEAD_MAX bytes), then read line by
 * line; nothing is copied but the decoded path. Go's net/http is the reference for what is
 * refused and with which status, since it answers nats-server's monitoring port. Pure;
 * any thread. */
#include "engine/http.h"

#include "base/assert.h"
#include "base/clock.h"
#include "base/hex.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A Content-Length has at most this many digits: 10^19 - 1 fits a uint64_t. */
enum { CONTENT_LENGTH_DIGITS_MAX = 19 };

/* RFC 9110's tchar: the bytes of a token (a method, a header name). */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Decodes %XX escapes (and '+' as a blank when `plus`) of in[0, length) into `out`, which
 * has room for `size` bytes and gets a NUL; what does not fit is cut (*cut set). False on
 * a bad escape. */
static bool unescape(const char *in, size_t length, bool plus, char *out, size_t size,
                     bool *cut)
{
    ASSERT(size > 0);
    size_t used = 0;
    *cut = false;
    for (size_t i = 0; i < length; i++) {
        char c = in[i];
        if (c == '%') {
            if (length - i < 3) {
                return false; /* "%" or "%X" at the end */
            }
            int high = hex_value(in[i + 1]);
            int low = hex_value(in[i + 2]);
            if (high < 0 || low < 0) {
                return false;
            }
            c = (char)(high * 16 + low);
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        if (used + 1 < size) {
            out[used++] = c;
        } else {
            *cut = true;
        }
    }
    out[used] = '\0';
    return true;
}

/* The length of the head at `data`, through its empty line, or 0 when its end is not within
 * `length` bytes. An empty line first is a head too (with an empty request line, which is
 * refused: Go's net/http skips no empty line before a request). */
static size_t head_end(const char *data, size_t length)
{
    if (length >= 1 && data[0] == '\n') {
        return 1;
    }
    if (length >= 2 && data[0] == '\r' && data[1] == '\n') {
        return 2;
    }
    for (size_t i = 0; i < length; i++) {
        if (data[i] != '\n') {
            continue;
        }
        if (i + 1 < length && data[i + 1] == '\n') {
            return i + 2;
        }
        if (i + 2 < length && data[i + 1] == '\r' && data[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

/* The next line from *cursor (up to `end`), without its LF and a CR before it. */
static struct http_slice line_next(const char **cursor, const char *end)
{
    const char *line = *cursor;
    const char *lf = memchr(line, '\n', (size_t)(end - line));
    ASSERT(lf != NULL); /* head_end found the empty line that ends every line before it */
    *cursor = lf + 1;
    size_t length = (size_t)(lf - line);
    if (length > 0 && line[length - 1] == '\r') {
        length--;
    }
    return (struct http_slice){line, length};
}

static enum http_head_result invalid(struct http_request *request, int status,
                                     const char *error)
{
    request->status = status;
    request->error = error;
    return HTTP_HEAD_INVALID;
}

static bool slice_equals_nocase(struct http_slice slice, const char *text)
{
    return slice.length == strlen(text) && strncasecmp(slice.data, text, slice.length) == 0;
}

/* The target: origin-form, absolute-form (reduced to path and query) or "*". */
static enum http_head_result target_parse(struct http_request *request,
                                          struct http_slice target)
{
    const char *p = target.data;
    const char *end = target.data + target.length;
    if (*p != '/') {
        size_t scheme = target.length >= 7 && strncasecmp(p, "http://", 7) == 0    ? 7
                        : target.length >= 8 && strncasecmp(p, "https://", 8) == 0 ? 8
                                                                                     : 0;
        if (scheme == 0) {
            return invalid(request, 400, "");
        }
        p += scheme;
        while (p < end && *p != '/' && *p != '?') {
            p++; /* the authority: the Host header names the server anyway */
        }
    }
    const char *query = memchr(p, '?', (size_t)(end - p));
    const char *path_end = query != NULL ? query : end;
    if (query != NULL) {
        request->query = (struct http_slice){query + 1, (size_t)(end - query - 1)};
    }
    if (p == path_end) {
        strcpy(request->path, "/");
        return HTTP_HEAD_COMPLETE;
    }
    if (!unescape(p, (size_t)(path_end - p), false, request->path, sizeof request->path,
                  &request->path_cut)) {
        return invalid(request, 400, "");
    }
    return HTTP_HEAD_COMPLETE;
}

static enum http_head_result request_line_parse(struct http_request *request,
                                                struct http_slice line)
{
    const char *end = line.data + line.length;
    const char *space = memchr(line.data, ' ', line.length);
    if (space == NULL || space == line.data) {
        return invalid(request, 400, "");
    }
    request->method = (struct http_slice){line.data, (size_t)(space - line.data)};
    for (size_t i = 0; i < request->method.length; i++) {
        if (!is_tchar((unsigned char)request->method.data[i])) {
            return invalid(request, 400, "");
        }
    }
    const char *target = space + 1;
    const char *second = memchr(target, ' ', (size_t)(end - target));
    if (second == NULL || second == target) {
        return invalid(request, 400, "");
    }
    struct http_slice version = {second + 1, (size_t)(end - second - 1)};
    bool well_formed = version.length == 8 && memcmp(version.data, "HTTP/", 5) == 0 &&
                       version.data[5] >= '0' && version.data[5] <= '9' &&
                       version.data[6] == '.' && version.data[7] >= '0' &&
                       version.data[7] <= '9';
    if (!well_formed) {
        return invalid(request, 400, "");
    }
    if (version.data[5] != '1') {
        return invalid(request, 505, "unsupported protocol version");
    }
    /* HTTP/1.x past 1.1 is answered as 1.1, as Go's server does */
    request->version_minor = version.data[7] == '0' ? 0 : 1;
    return target_parse(request, (struct http_slice){target, (size_t)(second - target)});
}

/* Connection: a comma-separated list of options, any case. */
static void connection_parse(struct http_request *request, struct http_slice value,
                             bool *close, bool *keep_alive)
{
    const char *p = value.data;
    const char *end = value.data + value.length;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma != NULL ? comma : end;
        struct http_slice item = {p, (size_t)(item_end - p)};
        while (item.length > 0 && is_blank(item.data[0])) {
            item.data++;
            item.length--;
        }
        while (item.length > 0 && is_blank(item.data[item.length - 1])) {
            item.length--;
        }
        *close |= slice_equals_nocase(item, "close");
        *keep_alive |= slice_equals_nocase(item, "keep-alive");
        p = item_end + (comma != NULL);
    }
    request->connection_header = true;
}

/* Content-Length: digits only; a repeated header must say the same. */
static bool content_length_parse(struct http_request *request, struct http_slice value,
                                 bool *seen)
{
    if (value.length == 0 || value.length > CONTENT_LENGTH_DIGITS_MAX) {
        return false;
    }
    uint64_t number = 0;
    for (size_t i = 0; i < value.length; i++) {
        if (value.data[i] < '0' || value.data[i] > '9') {
            return false;
        }
        number = number * 10 + (uint64_t)(value.data[i] - '0');
    }
    if (*seen && number != request->content_length) {
        return false;
    }
    *seen = true;
    request->content_length = number;
    return true;
}

/* Every header line of the head, up to its empty line. */
static enum http_head_result headers_parse(struct http_request *request, const char *cursor,
                                           const char *end)
{
    int host_count = 0;
    bool close = false;
    bool keep_alive = false;
    bool length_seen = false;
    for (;;) {
        struct http_slice line = line_next(&cursor, end);
        if (line.length == 0) {
            break;
        }
        const char *colon = memchr(line.data, ':', line.length);
        if (colon == NULL || colon == line.data) {
            return invalid(request, 400, "");
        }
        struct http_slice name = {line.data, (size_t)(colon - line.data)};
        for (size_t i = 0; i < name.length; i++) {
            if (!is_tchar((unsigned char)name.data[i])) {
                return invalid(request, 400, "invalid header name"); /* a blank before ':' */
            }
        }
        struct http_slice value = {colon + 1, (size_t)(line.data + line.length - colon - 1)};
        while (value.length > 0 && is_blank(value.data[0])) {
            value.data++;
            value.length--;
        }
        while (value.length > 0 && is_blank(value.data[value.length - 1])) {
            value.length--;
        }
        for (size_t i = 0; i < value.length; i++) {
            unsigned char c = (unsigned char)value.data[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                return invalid(request, 400, "");
            }
        }
        if (slice_equals_nocase(name, "host")) {
            host_count++;
        } else if (slice_equals_nocase(name, "connection")) {
            connection_parse(request, value, &close, &keep_alive);
        } else if (slice_equals_nocase(name, "content-length")) {
            if (!content_length_parse(request, value, &length_seen)) {
                return invalid(request, 400, "");
            }
        } else if (slice_equals_nocase(name, "transfer-encoding")) {
            if (!slice_equals_nocase(value, "chunked")) {
                return invalid(request, 501, "");
            }
            request->chunked = true;
        }
    }
    if (host_count > 1) {
        return invalid(request, 400, "");
    }
    if (request->version_minor == 1 && host_count == 0) {
        return invalid(request, 400, "missing required Host header");
    }
    request->keep_alive = request->version_minor == 1 ? !close : keep_alive && !close;
    return HTTP_HEAD_COMPLETE;
}

enum http_head_result http_head_parse(const char *data, size_t length,
                                      struct http_request *request)
{
    memset(request, 0, sizeof *request);
    request->query = (struct http_slice){"", 0};
    size_t window = length < HTTP_HEAD_MAX ? length : HTTP_HEAD_MAX;
    size_t head_length = head_end(data, window);
    if (head_length == 0) {
        return window == HTTP_HEAD_MAX ? invalid(request, 431, "") : HTTP_HEAD_INCOMPLETE;
    }
    request->head_length = head_length;
    const char *cursor = data;
    const char *end = data + head_length;
    struct http_slice line = line_next(&cursor, end);
    enum http_head_result result = request_line_parse(request, line);
    if (result != HTTP_HEAD_COMPLETE) {
        return result;
    }
    return headers_parse(request, cursor, end);
}

const char *http_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

bool http_query_get(struct http_slice query, const char *key, char *value, size_t size)
{
    ASSERT(size > query.length);
    const char *p = query.data;
    const char *end = query.data + query.length;
    size_t key_length = strlen(key);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pair_end = amp != NULL ? amp : end;
        const char *equals = memchr(p, '=', (size_t)(pair_end - p));
        const char *key_end = equals != NULL ? equals : pair_end;
        bool semicolon = memchr(p, ';', (size_t)(pair_end - p)) != NULL;
        bool cut = false;
        /* the key decodes into `value` first: it is no longer than the query */
        if (!semicolon && p < pair_end &&
            unescape(p, (size_t)(key_end - p), true, value, size, &cut) &&
            strlen(value) == key_length && memcmp(value, key, key_length) == 0) {
            const char *v = equals != NULL ? equals + 1 : pair_end;
            if (unescape(v, (size_t)(pair_end - v), true, value, size, &cut)) {
                return true;
            }
        }
        p = pair_end + (amp != NULL);
    }
    value[0] = '\0';
    return false;
}

void http_date_format(int64_t realtime_ns, char *text, size_t size)
{
    ASSERT(size >= HTTP_DATE_SIZE);
    time_t seconds = (time_t)(realtime_ns / NS_PER_SEC);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(text, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[utc.tm_wday % 7],
             utc.tm_mday, months[utc.tm_mon % 12], utc.tm_year + 1900, utc.tm_hour,
             utc.tm_min, utc.tm_sec);
}
