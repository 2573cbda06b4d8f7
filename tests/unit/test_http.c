/* Unit tests for engine/http.c: request heads as the monitoring port reads them (what is
 * taken, what is refused with which status, every split point of a head, pipelined heads,
 * the bound), query strings as Go's url.ParseQuery reads them, and the Date header.
 *
 * Go's net/http is the reference for each refusal; the expected texts are those its server
 * answers (seen from nats-server's monitoring port). */
#include "engine/http.h"

#include "base/clock.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum http_head_result parse(const char *text, struct http_request *request)
{
    return http_head_parse(text, strlen(text), request);
}

static bool slice_is(struct http_slice slice, const char *text)
{
    return slice.length == strlen(text) && memcmp(slice.data, text, slice.length) == 0;
}

START_TEST(test_head_simple)
{
    static const char text[] = "GET /varz?a=1&b=2 HTTP/1.1\r\nHost: localhost:8222\r\n"
                               "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    struct http_request request;
    ck_assert_int_eq(parse(text, &request), HTTP_HEAD_COMPLETE);
    ck_assert_uint_eq(request.head_length, sizeof text - 1);
    ck_assert(slice_is(request.method, "GET"));
    ck_assert_str_eq(request.path, "/varz");
    ck_assert(!request.path_cut);
    ck_assert(slice_is(request.query, "a=1&b=2"));
    ck_assert_int_eq(request.version_minor, 1);
    ck_assert(request.keep_alive);
    ck_assert(!request.connection_header);
    ck_assert(!request.chunked);
    ck_assert_uint_eq(request.content_length, 0);
}
END_TEST

/* Every prefix of a head is incomplete, the whole is complete: a head split anywhere. */
START_TEST(test_head_every_split)
{
    static const char text[] = "POST /connz?subs=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
                               "Connection: keep-alive, Upgrade\r\n\r\nthe body....";
    size_t head_length = strstr(text, "\r\n\r\n") + 4 - text;
    for (size_t length = 0; length < head_length; length++) {
        struct http_request request;
        ck_assert_msg(http_head_parse(text, length, &request) == HTTP_HEAD_INCOMPLETE,
                      "prefix of %zu bytes", length);
    }
    for (size_t length = head_length; length <= sizeof text - 1; length++) {
        struct http_request request;
        ck_assert_int_eq(http_head_parse(text, length, &request), HTTP_HEAD_COMPLETE);
        ck_assert_uint_eq(request.head_length, head_length);
        ck_assert_uint_eq(request.content_length, 12);
        ck_assert(request.keep_alive);
        ck_assert(request.connection_header);
        ck_assert_str_eq(request.path, "/connz");
    }
}
END_TEST

/* Two heads back to back: the first's length stops at its empty line. */
START_TEST(test_head_pipelined)
{
    static const char text[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    struct http_request request;
    ck_assert_int_eq(parse(text, &request), HTTP_HEAD_COMPLETE);
    ck_assert_str_eq(request.path, "/a");
    ck_assert_int_eq(parse(text + request.head_length, &request), HTTP_HEAD_COMPLETE);
    ck_assert_str_eq(request.path, "/b");
}
END_TEST

/* Bare LF ends lines too, as in Go's textproto. */
START_TEST(test_head_bare_lf)
{
    struct http_request request;
    ck_assert_int_eq(parse("GET /healthz HTTP/1.1\nHost: x\n\n", &request), HTTP_HEAD_COMPLETE);
    ck_assert_str_eq(request.path, "/healthz");
    ck_assert_int_eq(parse("GET /healthz HTTP/1.1\nHost: x\r\n\r\n", &request),
                     HTTP_HEAD_COMPLETE);
}
END_TEST

START_TEST(test_head_keep_alive)
{
    struct http_request request;
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert(!request.keep_alive);
    ck_assert(request.connection_header);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nconnection: Keep-Alive, CLOSE\r\n\r\n",
                           &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert(!request.keep_alive);
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\n\r\n", &request), HTTP_HEAD_COMPLETE);
    ck_assert_int_eq(request.version_minor, 0);
    ck_assert(!request.keep_alive); /* HTTP/1.0 needs no Host and closes by default */
    ck_assert_int_eq(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert(request.keep_alive);
}
END_TEST

START_TEST(test_head_target_forms)
{
    struct http_request request;
    ck_assert_int_eq(parse("GET http://example:8222/connz?limit=2 HTTP/1.1\r\nHost: x\r\n\r\n",
                           &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert_str_eq(request.path, "/connz");
    ck_assert(slice_is(request.query, "limit=2"));
    ck_assert_int_eq(parse("GET HTTPS://example HTTP/1.1\r\nHost: x\r\n\r\n", &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert_str_eq(request.path, "/");
    ck_assert_int_eq(parse("GET /heal%74hz HTTP/1.1\r\nHost: x\r\n\r\n", &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert_str_eq(request.path, "/healthz");
    ck_assert_int_eq(parse("GET /a+b? HTTP/1.1\r\nHost: x\r\n\r\n", &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert_str_eq(request.path, "/a+b"); /* '+' is a blank in queries only */
    ck_assert(slice_is(request.query, ""));
    /* a path longer than kept is cut and says so */
    static char text[HTTP_HEAD_MAX];
    int used = snprintf(text, sizeof text, "GET /");
    memset(text + used, 'p', 1000);
    snprintf(text + used + 1000, sizeof text - (size_t)used - 1000, " HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(parse(text, &request), HTTP_HEAD_COMPLETE);
    ck_assert(request.path_cut);
    ck_assert_uint_eq(strlen(request.path), HTTP_PATH_MAX - 1);
}
END_TEST

/* What Go's server refuses, with its status and the text after the reason phrase. */
START_TEST(test_head_refused)
{
    static const struct {
        const char *text;
        int status;
        const char *error;
    } cases[] = {
        {"garbage\r\n\r\n", 400, ""},
        {"\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
        {"GET /varz\r\n\r\n", 400, ""},
        {"GET  /varz HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
        {" GET /varz HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
        {"G@T /varz HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
        {"GET varz HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
        {"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
        {"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
        {"GET /a%4 HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.1 x\r\nHost: x\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.12\r\nHost: x\r\n\r\n", 400, ""},
        {"GET /varz HTTP/2.0\r\nHost: x\r\n\r\n", 505, "unsupported protocol version"},
        {"GET /varz HTTP/0.9\r\nHost: x\r\n\r\n", 505, "unsupported protocol version"},
        {"GET /varz HTTP/1.1\r\n\r\n", 400, "missing required Host header"},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400, "invalid header name"},
        {"GET /varz HTTP/1.1\r\nHost : x\r\n\r\n", 400, "invalid header name"},
        {"GET /varz HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.1\r\nHost: x\rX\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, ""},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400,
         ""},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
         400, ""},
        {"GET /varz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_request request;
        ck_assert_msg(parse(cases[i].text, &request) == HTTP_HEAD_INVALID, "%s", cases[i].text);
        ck_assert_msg(request.status == cases[i].status, "%s: %d", cases[i].text,
                      request.status);
        ck_assert_msg(strcmp(request.error, cases[i].error) == 0, "%s: %s", cases[i].text,
                      request.error);
    }
}
END_TEST

START_TEST(test_head_body_headers)
{
    struct http_request request;
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           "content-length:5\r\n\r\n",
                           &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert_uint_eq(request.content_length, 5);
    ck_assert_int_eq(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n",
                           &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert(request.chunked);
    ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999999999999\r\n"
                           "\r\n",
                           &request),
                     HTTP_HEAD_COMPLETE);
    ck_assert_uint_eq(request.content_length, 9999999999999999999ULL);
}
END_TEST

/* A head that does not end within HTTP_HEAD_MAX bytes is refused with 431; one that ends
 * exactly at the bound is taken. */
START_TEST(test_head_bound)
{
    static char text[HTTP_HEAD_MAX + 64];
    int used = snprintf(text, sizeof text, "GET / HTTP/1.1\r\nHost: x\r\nX: ");
    memset(text + used, 'a', sizeof text - (size_t)used);
    struct http_request request;
    ck_assert_int_eq(http_head_parse(text, HTTP_HEAD_MAX - 1, &request), HTTP_HEAD_INCOMPLETE);
    ck_assert_int_eq(http_head_parse(text, sizeof text, &request), HTTP_HEAD_INVALID);
    ck_assert_int_eq(request.status, 431);
    memcpy(text + HTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
    ck_assert_int_eq(http_head_parse(text, sizeof text, &request), HTTP_HEAD_COMPLETE);
    ck_assert_uint_eq(request.head_length, HTTP_HEAD_MAX);
}
END_TEST

/* Random bytes never read past what is given, and a complete head is within it. */
START_TEST(test_head_random)
{
    static const char alphabet[] = "GET /?=&%+:\r\n HTP1.0x";
    char text[256];
    srand(12345);
    for (int round = 0; round < 200000; round++) {
        size_t length = (size_t)(rand() % (int)sizeof text);
        for (size_t i = 0; i < length; i++) {
            text[i] = alphabet[rand() % (int)(sizeof alphabet - 1)];
        }
        struct http_request request;
        enum http_head_result result = http_head_parse(text, length, &request);
        if (result == HTTP_HEAD_COMPLETE) {
            ck_assert_uint_le(request.head_length, length);
            ck_assert_uint_lt(strlen(request.path), HTTP_PATH_MAX);
        }
    }
}
END_TEST

START_TEST(test_query_get)
{
    static const char query[] = "subs=1&limit=%33&name=a+b%20c&limit=9&flag&bad=%zz&x;y=1&"
                                "sort=";
    struct http_slice slice = {query, sizeof query - 1};
    char value[sizeof query + 1];
    ck_assert(http_query_get(slice, "subs", value, sizeof value));
    ck_assert_str_eq(value, "1");
    ck_assert(http_query_get(slice, "limit", value, sizeof value));
    ck_assert_str_eq(value, "3"); /* the first of two, decoded */
    ck_assert(http_query_get(slice, "name", value, sizeof value));
    ck_assert_str_eq(value, "a b c");
    ck_assert(http_query_get(slice, "flag", value, sizeof value));
    ck_assert_str_eq(value, "");
    ck_assert(!http_query_get(slice, "bad", value, sizeof value)); /* a bad escape: skipped */
    ck_assert(!http_query_get(slice, "x;y", value, sizeof value)); /* a ';': skipped */
    ck_assert(!http_query_get(slice, "x", value, sizeof value));
    ck_assert(http_query_get(slice, "sort", value, sizeof value));
    ck_assert_str_eq(value, "");
    ck_assert(!http_query_get(slice, "offset", value, sizeof value));
    ck_assert_str_eq(value, "");
    static const char encoded_key[] = "%73ubs=detail";
    ck_assert(http_query_get((struct http_slice){encoded_key, sizeof encoded_key - 1}, "subs",
                             value, sizeof value));
    ck_assert_str_eq(value, "detail");
    ck_assert(!http_query_get((struct http_slice){"", 0}, "subs", value, sizeof value));
}
END_TEST

START_TEST(test_date_format)
{
    char date[HTTP_DATE_SIZE];
    /* 2026-12-07 10:11:42 UTC, a Monday */
    http_date_format(1796638302LL * NS_PER_SEC + 123, date, sizeof date);
    ck_assert_str_eq(date, "Mon, 07 Dec 2026 10:11:42 GMT");
    http_date_format(0, date, sizeof date);
    ck_assert_str_eq(date, "Thu, 01 Jan 1970 00:00:00 GMT");
    ck_assert_str_eq(http_status_text(431), "Request Header Fields Too Large");
}
END_TEST

static Suite *http_suite(void)
{
    Suite *suite = suite_create("http");
    TCase *tc = tcase_create("head");
    tcase_add_test(tc, test_head_simple);
    tcase_add_test(tc, test_head_every_split);
    tcase_add_test(tc, test_head_pipelined);
    tcase_add_test(tc, test_head_bare_lf);
    tcase_add_test(tc, test_head_keep_alive);
    tcase_add_test(tc, test_head_target_forms);
    tcase_add_test(tc, test_head_refused);
    tcase_add_test(tc, test_head_body_headers);
    tcase_add_test(tc, test_head_bound);
    tcase_add_test(tc, test_head_random);
    suite_add_tcase(suite, tc);
    tc = tcase_create("query");
    tcase_add_test(tc, test_query_get);
    tcase_add_test(tc, test_date_format);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(http_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
