/* HTTP/1.x request heads as the monitoring port reads them, and the query string of a
 * request's target. Pure functions over the caller's bytes: no I/O, no allocation; any
 * thread.
 *
 * The one idea: a request head is parsed whole once its end (an empty line) is in the
 * buffer, and every piece comes back as a slice into that buffer, so a connection keeps
 * nothing but its bounded input buffer (HTTP_HEAD_MAX) between reads. Parsing is a pure
 * function of the bytes so far, so a head split anywhere parses the same.
 *
 * What a head is (RFC 9112, as Go's net/http reads it, which is what answers nats-server's
 * monitoring port):
 *   request-line = method SP target SP "HTTP/1." ("0" | "1") CRLF
 *   header-line  = name ":" OWS value OWS CRLF      (bare LF ends a line too)
 *   head         = request-line *header-line CRLF
 * The method is a token; the target is origin-form ("/path?query") or absolute-form
 * ("http://host/path?query", reduced to its path and query). A path's %XX escapes
 * are decoded into the request's own copy. Headers read: Host (an HTTP/1.1 request must
 * have exactly one), Connection (close / keep-alive), Content-Length (one value, digits),
 * Transfer-Encoding (chunked only). Refused: another version (505), any other malformed
 * line (an empty one before the request line too), a control byte in a value, a header name
 * that is not a token (400), a transfer coding other than chunked (501). */
#ifndef IONATS_ENGINE_HTTP_H
#define IONATS_ENGINE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest request head read, final empty line included: far above what curl, Prometheus
 * or a browser sends (a few hundred bytes), and small enough to keep per connection. */
enum { HTTP_HEAD_MAX = 8192 };

/* The longest decoded path kept: a path is at most the head's length. */
enum { HTTP_PATH_MAX = 256 };

enum http_head_result {
    HTTP_HEAD_INCOMPLETE = 0, /* no end of head yet: read more */
    HTTP_HEAD_COMPLETE = 1,   /* a head of request->head_length bytes */
    HTTP_HEAD_INVALID = 2,    /* answer request->status, request->error, and close */
};

struct http_slice {
    const char *data; /* borrowed: points into the bytes given to http_head_parse */
    size_t length;
};

struct http_request {
    size_t head_length;      /* bytes of the head, its final empty line included */
    struct http_slice method;
    struct http_slice query; /* after '?', without it; empty when none */
    char path[HTTP_PATH_MAX]; /* decoded, NUL-terminated; longer paths keep a prefix and
                               * set path_cut (they match no endpoint) */
    bool path_cut;
    int version_minor;       /* HTTP/1.0 or HTTP/1.1 */
    bool keep_alive;         /* the connection stays open after the response */
    bool connection_header;  /* the client named its choice: the response repeats it */
    bool chunked;            /* Transfer-Encoding: chunked: the body's end is not read */
    uint64_t content_length; /* body bytes after the head (0 without the header) */
    /* HTTP_HEAD_INVALID: the status to answer and Go's text for it ("" for none) */
    int status;
    const char *error;
};

/* Parses the head at the start of `data` (`length` bytes, of which at most HTTP_HEAD_MAX
 * are looked at). */
enum http_head_result http_head_parse(const char *data, size_t length,
                                      struct http_request *request);

/* The reason phrase of a status this server answers ("OK", "Not Found", ...). */
const char *http_status_text(int status);

/* Finds the first `key` in a query string (keys and values decoded as Go's url.ParseQuery
 * decodes them: %XX escapes, '+' for a blank; a pair with a bad escape or a ';' is
 * skipped) and writes its decoded value into `value` (`size` bytes, NUL-terminated, at
 * least the query's length + 1 so it always fits). True when the key is there. */
bool http_query_get(struct http_slice query, const char *key, char *value, size_t size);

/* Writes the date as an HTTP Date header value ("Mon, 07 Dec 2026 10:11:42 GMT") for a
 * wall time in ns; `size` ≥ HTTP_DATE_SIZE. */
enum { HTTP_DATE_SIZE = 32 };
void http_date_format(int64_t realtime_ns, char *text, size_t size);

#endif
