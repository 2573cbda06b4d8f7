/* Unit tests for CONNECT parsing and INFO building (proto/connect.c): every field, nats-
 * server's defaults for absent ones, every wrong type, invalid JSON, unknown and nested
 * keys, duplicates, very long values, and the INFO line's shape.
 *
 * What the connection does with each result is the wire tests' business
 * (tests/wire/test_wire_errors.c): CONNECT_ERR_JSON closes the connection without a word,
 * as nats-server does when its typed JSON decoding fails; CONNECT_ERR_PROTOCOL is answered
 * with -ERR 'invalid client protocol'. Each input is a heap copy of exactly its length, so
 * a read past it is caught by ASan. */
#include "proto/connect.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses `json` from a buffer of exactly its length (no terminating NUL). */
static int parse_exact(const char *json, size_t length, struct connect_options *options)
{
    char *copy = malloc(length ? length : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, json, length);
    int rc = connect_options_parse(copy, length, options);
    free(copy);
    return rc;
}

static int parse(const char *json, struct connect_options *options)
{
    return parse_exact(json, strlen(json), options);
}

/* After an error, `options` owns nothing. */
static void expect_error(const char *json, int error)
{
    struct connect_options options;
    int rc = parse(json, &options);
    ck_assert_msg(rc == error, "%s gave %d, want %d", json, rc, error);
    ck_assert_ptr_null(options.user);
    ck_assert_ptr_null(options.pass);
    ck_assert_ptr_null(options.auth_token);
}

/* ---- fields --------------------------------------------------------------------------- */

/* An empty object: nats-server's defaults (verbose, pedantic, echo on). */
START_TEST(test_empty_object)
{
    struct connect_options options;
    ck_assert_int_eq(parse("{}", &options), 0);
    ck_assert(options.verbose);
    ck_assert(options.pedantic);
    ck_assert(options.echo);
    ck_assert(!options.headers);
    ck_assert(!options.no_responders);
    ck_assert_int_eq(options.protocol, 0);
    ck_assert_str_eq(options.name, "");
    ck_assert_str_eq(options.lang, "");
    ck_assert_str_eq(options.version, "");
    ck_assert_ptr_null(options.user);
    ck_assert_ptr_null(options.pass);
    ck_assert_ptr_null(options.auth_token);
    connect_options_free(&options);
    /* blanks around and inside are JSON */
    ck_assert_int_eq(parse(" \t\r\n{ } \n", &options), 0);
    ck_assert(options.verbose);
}
END_TEST

START_TEST(test_every_field)
{
    static const char json[] =
        "{\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"echo\":false,"
        "\"headers\":true,\"no_responders\":true,\"protocol\":1,\"name\":\"svc\","
        "\"lang\":\"go\",\"version\":\"1.30.0\",\"user\":\"alice\",\"pass\":\"s3cret\","
        "\"auth_token\":\"tok\",\"jwt\":\"j\",\"nkey\":\"k\",\"sig\":\"s\"}";
    struct connect_options options;
    ck_assert_int_eq(parse(json, &options), 0);
    ck_assert(!options.verbose);
    ck_assert(!options.pedantic);
    ck_assert(!options.echo);
    ck_assert(options.headers);
    ck_assert(options.no_responders);
    ck_assert_int_eq(options.protocol, 1);
    ck_assert_str_eq(options.name, "svc");
    ck_assert_str_eq(options.lang, "go");
    ck_assert_str_eq(options.version, "1.30.0");
    ck_assert_str_eq(options.user, "alice");
    ck_assert_str_eq(options.pass, "s3cret");
    ck_assert_str_eq(options.auth_token, "tok");
    connect_options_free(&options);
    ck_assert_ptr_null(options.user);
    ck_assert_ptr_null(options.pass);
    ck_assert_ptr_null(options.auth_token);
    connect_options_free(&options); /* twice is harmless */
}
END_TEST

/* Each boolean on its own: true, false, and null (= absent: the default). */
START_TEST(test_each_boolean)
{
    static const struct {
        const char *key;
        size_t offset;
        bool absent_value;
    } keys[] = {
        {"verbose", offsetof(struct connect_options, verbose), true},
        {"pedantic", offsetof(struct connect_options, pedantic), true},
        {"echo", offsetof(struct connect_options, echo), true},
        {"headers", offsetof(struct connect_options, headers), false},
        {"no_responders", offsetof(struct connect_options, no_responders), false},
    };
    static const char *const values[] = {"true", "false", "null"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
            char json[128];
            snprintf(json, sizeof json, "{\"%s\":%s}", keys[k].key, values[v]);
            struct connect_options options;
            ck_assert_int_eq(parse(json, &options), 0);
            bool got;
            memcpy(&got, (const char *)&options + keys[k].offset, sizeof got);
            bool want = v == 0 ? true : v == 1 ? false : keys[k].absent_value;
            ck_assert_msg(got == want, "%s", json);
            connect_options_free(&options);
        }
    }
    /* tls_required is read only for its type */
    struct connect_options options;
    ck_assert_int_eq(parse("{\"tls_required\":true}", &options), 0);
    connect_options_free(&options);
}
END_TEST

START_TEST(test_protocol_values)
{
    struct connect_options options;
    ck_assert_int_eq(parse("{\"protocol\":0}", &options), 0);
    ck_assert_int_eq(options.protocol, 0);
    ck_assert_int_eq(parse("{\"protocol\":1}", &options), 0);
    ck_assert_int_eq(options.protocol, 1);
    ck_assert_int_eq(parse("{\"protocol\":null}", &options), 0);
    ck_assert_int_eq(options.protocol, 0);
    ck_assert_int_eq(parse("{\"protocol\":-0}", &options), 0);
    ck_assert_int_eq(options.protocol, 0);
    /* outside 0..CONNECT_PROTOCOL_MAX: -ERR 'invalid client protocol' */
    expect_error("{\"protocol\":2}", CONNECT_ERR_PROTOCOL);
    expect_error("{\"protocol\":-1}", CONNECT_ERR_PROTOCOL);
    expect_error("{\"protocol\":4294967297}", CONNECT_ERR_PROTOCOL); /* not read as 1 */
    expect_error("{\"protocol\":9223372036854775807}", CONNECT_ERR_PROTOCOL);
    /* the credentials copied before the check are released */
    expect_error("{\"user\":\"u\",\"pass\":\"p\",\"auth_token\":\"t\",\"protocol\":7}",
                 CONNECT_ERR_PROTOCOL);
}
END_TEST

/* ---- types ---------------------------------------------------------------------------- */

/* A known key with a value of the wrong type fails the whole CONNECT, as nats-server's
 * json.Unmarshal into typed fields does (the wire tests: closed without -ERR). */
START_TEST(test_wrong_types)
{
    static const char *const booleans[] = {"verbose", "pedantic", "echo", "headers",
                                           "no_responders", "tls_required"};
    static const char *const not_booleans[] = {"\"true\"", "1", "0", "[]", "{}", "[true]"};
    for (size_t k = 0; k < sizeof booleans / sizeof booleans[0]; k++) {
        for (size_t v = 0; v < sizeof not_booleans / sizeof not_booleans[0]; v++) {
            char json[128];
            snprintf(json, sizeof json, "{\"%s\":%s}", booleans[k], not_booleans[v]);
            expect_error(json, CONNECT_ERR_JSON);
        }
    }
    static const char *const strings[] = {"name", "lang", "version", "user", "pass",
                                          "auth_token", "jwt", "nkey", "sig"};
    static const char *const not_strings[] = {"1", "true", "false", "[]", "{}", "[\"a\"]",
                                              "{\"a\":\"b\"}", "1.5"};
    for (size_t k = 0; k < sizeof strings / sizeof strings[0]; k++) {
        for (size_t v = 0; v < sizeof not_strings / sizeof not_strings[0]; v++) {
            char json[128];
            snprintf(json, sizeof json, "{\"%s\":%s}", strings[k], not_strings[v]);
            expect_error(json, CONNECT_ERR_JSON);
        }
        /* null is absent */
        char json[128];
        snprintf(json, sizeof json, "{\"%s\":null}", strings[k]);
        struct connect_options options;
        ck_assert_int_eq(parse(json, &options), 0);
        connect_options_free(&options);
    }
    static const char *const not_integers[] = {"\"1\"", "1.0", "1e0", "true", "[]", "{}", "0.5"};
    for (size_t v = 0; v < sizeof not_integers / sizeof not_integers[0]; v++) {
        char json[128];
        snprintf(json, sizeof json, "{\"protocol\":%s}", not_integers[v]);
        expect_error(json, CONNECT_ERR_JSON);
    }
    /* one bad key among good ones is enough, and nothing is kept */
    expect_error("{\"user\":\"u\",\"pass\":\"p\",\"verbose\":\"no\"}", CONNECT_ERR_JSON);
    expect_error("{\"auth_token\":\"t\",\"name\":7}", CONNECT_ERR_JSON);
}
END_TEST

/* ---- JSON ----------------------------------------------------------------------------- */

START_TEST(test_invalid_json)
{
    static const char *const bad[] = {
        "",           " ",        "{",          "}",          "{bad json",      "{}x",
        "{} {}",      "[]",       "null",       "1",          "\"s\"",          "true",
        "{\"a\":}",   "{'a':1}",  "{\"a\":1,}", "{,}",        "{\"verbose\":tru}",
        "{\"a\" 1}",  "{a:1}",    "{\"a\":01}", "{\"a\":\"\\x\"}", "{\"a\":\"\x01\"}",
        "{\"a\":NaN}", "{\"verbose\":false", "{\"a\":[1,2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_error(bad[i], CONNECT_ERR_JSON);
    }
}
END_TEST

/* Only `length` bytes are read: what follows is not part of the CONNECT. */
START_TEST(test_length_bounds_input)
{
    struct connect_options options;
    ck_assert_int_eq(parse_exact("{}garbage", 2, &options), 0);
    ck_assert_int_eq(parse_exact("{\"verbose\":false}\r\n", 17, &options), 0);
    ck_assert(!options.verbose);
    /* cut short: invalid */
    ck_assert_int_eq(parse_exact("{\"verbose\":false}", 16, &options), CONNECT_ERR_JSON);
    ck_assert_int_eq(parse_exact("{}", 0, &options), CONNECT_ERR_JSON);
    /* an embedded NUL is not the end of the input */
    ck_assert_int_eq(parse_exact("{}\0x", 4, &options), CONNECT_ERR_JSON);
}
END_TEST

START_TEST(test_unknown_keys_ignored)
{
    struct connect_options options;
    ck_assert_int_eq(parse("{\"verbose\":false,\"foo\":1,\"bar\":\"x\",\"baz\":[1,\"a\",null],"
                           "\"qux\":{\"a\":{\"b\":[{},{\"c\":true}]}},\"n\":-1.5e300}",
                           &options),
                     0);
    ck_assert(!options.verbose);
    ck_assert(options.pedantic);
    connect_options_free(&options);
    /* keys real clients send that ionats does not use */
    ck_assert_int_eq(parse("{\"ssl_required\":false,\"account\":\"A\",\"new_account\":false,"
                           "\"auth_required\":\"whatever\",\"port\":\"x\"}",
                           &options),
                     0);
    connect_options_free(&options);
}
END_TEST

/* Nested containers under an unknown key, a hundred levels deep, are skipped. */
START_TEST(test_nested_unknown)
{
    enum { DEPTH = 100 };
    char json[8 + 4 * DEPTH + 32];
    size_t used = 0;
    used += (size_t)snprintf(json + used, sizeof json - used, "{\"x\":");
    for (int i = 0; i < DEPTH; i++) {
        json[used++] = i % 2 ? '[' : '{';
        if (i % 2 == 0) {
            used += (size_t)snprintf(json + used, sizeof json - used, "\"k\":");
        }
    }
    json[used++] = '1';
    for (int i = DEPTH - 1; i >= 0; i--) {
        json[used++] = i % 2 ? ']' : '}';
    }
    used += (size_t)snprintf(json + used, sizeof json - used, ",\"echo\":false}");
    struct connect_options options;
    ck_assert_int_eq(parse_exact(json, used, &options), 0);
    ck_assert(!options.echo);
    connect_options_free(&options);
}

/* Nesting deeper than the JSON parser's bound (jansson: 2048) from a client's CONNECT is
 * refused as bad JSON, with no deep recursion and nothing owned left behind. */
START_TEST(test_nested_too_deep)
{
    enum { DEPTH = 100000 };
    static char json[DEPTH * 2 + 16];
    size_t used = 0;
    json[used++] = '{';
    json[used++] = '"';
    json[used++] = 'x';
    json[used++] = '"';
    json[used++] = ':';
    for (int i = 0; i < DEPTH; i++) {
        json[used++] = '[';
    }
    for (int i = 0; i < DEPTH; i++) {
        json[used++] = ']';
    }
    json[used++] = '}';
    struct connect_options options;
    ck_assert_int_eq(parse_exact(json, used, &options), CONNECT_ERR_JSON);
    ck_assert_ptr_null(options.user);
    ck_assert_ptr_null(options.pass);
    ck_assert_ptr_null(options.auth_token);
}
END_TEST
END_TEST

/* A repeated key: the last one counts, as with Go's json.Unmarshal. */
START_TEST(test_duplicate_keys)
{
    struct connect_options options;
    ck_assert_int_eq(parse("{\"verbose\":true,\"verbose\":false}", &options), 0);
    ck_assert(!options.verbose);
    ck_assert_int_eq(parse("{\"echo\":false,\"echo\":true}", &options), 0);
    ck_assert(options.echo);
    ck_assert_int_eq(parse("{\"user\":\"a\",\"pass\":\"p\",\"user\":\"b\"}", &options), 0);
    ck_assert_str_eq(options.user, "b");
    connect_options_free(&options);
    ck_assert_int_eq(parse("{\"name\":\"one\",\"name\":\"two\"}", &options), 0);
    ck_assert_str_eq(options.name, "two");
    ck_assert_int_eq(parse("{\"protocol\":5,\"protocol\":1}", &options), 0);
    ck_assert_int_eq(options.protocol, 1);
    expect_error("{\"protocol\":1,\"protocol\":5}", CONNECT_ERR_PROTOCOL);
    expect_error("{\"verbose\":false,\"verbose\":1}", CONNECT_ERR_JSON);
}
END_TEST

/* ---- strings -------------------------------------------------------------------------- */

static char *long_string(size_t length, char fill)
{
    char *text = malloc(length + 1);
    ck_assert_ptr_nonnull(text);
    memset(text, fill, length);
    text[length] = '\0';
    return text;
}

/* Labels are cut to CONNECT_LABEL_SIZE - 1 bytes; credentials are kept whole, since they
 * are compared. */
START_TEST(test_long_strings)
{
    enum { LONG_LENGTH = 100000 };
    char *value = long_string(LONG_LENGTH, 'v');
    size_t size = LONG_LENGTH * 6 + 256;
    char *json = malloc(size);
    ck_assert_ptr_nonnull(json);
    snprintf(json, size,
             "{\"name\":\"%s\",\"lang\":\"%s\",\"version\":\"%s\",\"user\":\"%s\",\"pass\":\"%s\","
             "\"auth_token\":\"%s\"}",
             value, value, value, value, value, value);
    struct connect_options options;
    ck_assert_int_eq(parse(json, &options), 0);
    ck_assert_uint_eq(strlen(options.name), CONNECT_LABEL_SIZE - 1);
    ck_assert_uint_eq(strlen(options.lang), CONNECT_LABEL_SIZE - 1);
    ck_assert_uint_eq(strlen(options.version), CONNECT_LABEL_SIZE - 1);
    ck_assert_int_eq(strncmp(options.name, value, CONNECT_LABEL_SIZE - 1), 0);
    ck_assert_str_eq(options.user, value);
    ck_assert_str_eq(options.pass, value);
    ck_assert_str_eq(options.auth_token, value);
    connect_options_free(&options);
    /* at the limit and one below: kept whole */
    char *label = long_string(CONNECT_LABEL_SIZE - 1, 'n');
    snprintf(json, size, "{\"name\":\"%s\"}", label);
    ck_assert_int_eq(parse(json, &options), 0);
    ck_assert_str_eq(options.name, label);
    label[CONNECT_LABEL_SIZE - 2] = '\0';
    snprintf(json, size, "{\"lang\":\"%s\"}", label);
    ck_assert_int_eq(parse(json, &options), 0);
    ck_assert_str_eq(options.lang, label);
    free(label);
    free(json);
    free(value);
}
END_TEST

START_TEST(test_string_escapes)
{
    struct connect_options options;
    ck_assert_int_eq(parse("{\"user\":\"a\\\"b\\\\c\\/d\\u00e9\\n\",\"pass\":\"\",\"name\":"
                           "\"\\u263a\"}",
                           &options),
                     0);
    ck_assert_str_eq(options.user, "a\"b\\c/d\xc3\xa9\n");
    ck_assert_ptr_null(options.pass); /* empty is no credential, as to nats-server */
    ck_assert_str_eq(options.name, "\xe2\x98\xba");
    connect_options_free(&options);
}
END_TEST

/* ---- INFO ----------------------------------------------------------------------------- */

START_TEST(test_info_line)
{
    struct info_server server = {.server_id = "NABC", .server_name = "srv", .version = "2.10.0",
                                 .host = "0.0.0.0", .port = 4222, .max_payload = 1048576};
    char *prefix = info_prefix_build(&server);
    ck_assert_ptr_nonnull(prefix);
    ck_assert_int_eq(strncmp(prefix, "INFO {\"server_id\":\"NABC\",", 25), 0);
    ck_assert_ptr_null(strstr(prefix, "auth_required"));
    char line[1024];
    size_t prefix_length = strlen(prefix);
    ck_assert_uint_lt(prefix_length, sizeof line);
    memcpy(line, prefix, prefix_length);
    size_t tail_length =
        info_tail_write(line + prefix_length, sizeof line - prefix_length, 42, "127.0.0.1", NULL, false);
    ck_assert_uint_gt(tail_length, 0);
    size_t length = prefix_length + tail_length;
    ck_assert_uint_eq(length, strlen(line));
    ck_assert_str_eq(line + length - 4, "} \r\n");
    json_error_t error;
    json_t *root = json_loadb(line + 5, length - 5 - 3, 0, &error);
    ck_assert_msg(root != NULL, "%s", error.text);
    ck_assert_str_eq(json_string_value(json_object_get(root, "server_name")), "srv");
    ck_assert_int_eq(json_integer_value(json_object_get(root, "proto")), CONNECT_PROTOCOL_MAX);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "max_payload")), 1048576);
    ck_assert_int_eq(json_integer_value(json_object_get(root, "client_id")), 42);
    ck_assert_str_eq(json_string_value(json_object_get(root, "client_ip")), "127.0.0.1");
    ck_assert(json_is_true(json_object_get(root, "headers")));
    json_decref(root);
    /* too small: 0, never a cut line */
    ck_assert_uint_eq(info_tail_write(line, tail_length, 42, "127.0.0.1", NULL, false), 0);
    ck_assert_uint_eq(info_tail_write(line, tail_length + 1, 42, "127.0.0.1", NULL, false), tail_length);
    free(prefix);
    server.auth_required = true;
    prefix = info_prefix_build(&server);
    ck_assert_ptr_nonnull(strstr(prefix, ",\"auth_required\":true"));
    free(prefix);
}
END_TEST

START_TEST(test_server_id)
{
    static const uint64_t words[][4] = {{0, 0, 0, 0}, {1, 2, 3, 4}, {UINT64_MAX, 7, 0, 9}};
    char first[57];
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        char id[57];
        info_server_id_make(id, sizeof id, words[w]);
        ck_assert_uint_eq(strlen(id), 56);
        ck_assert_int_eq(id[0], 'N');
        ck_assert_uint_eq(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 56);
        if (w == 0) {
            memcpy(first, id, sizeof id);
        } else {
            ck_assert_str_ne(id, first);
        }
    }
}
END_TEST

static Suite *connect_suite(void)
{
    Suite *suite = suite_create("connect");
    TCase *tc = tcase_create("fields");
    tcase_add_test(tc, test_empty_object);
    tcase_add_test(tc, test_every_field);
    tcase_add_test(tc, test_each_boolean);
    tcase_add_test(tc, test_protocol_values);
    tcase_add_test(tc, test_wrong_types);
    suite_add_tcase(suite, tc);

    tc = tcase_create("json");
    tcase_add_test(tc, test_invalid_json);
    tcase_add_test(tc, test_length_bounds_input);
    tcase_add_test(tc, test_unknown_keys_ignored);
    tcase_add_test(tc, test_nested_unknown);
    tcase_add_test(tc, test_nested_too_deep);
    tcase_add_test(tc, test_duplicate_keys);
    tcase_add_test(tc, test_long_strings);
    tcase_add_test(tc, test_string_escapes);
    suite_add_tcase(suite, tc);

    tc = tcase_create("info");
    tcase_add_test(tc, test_info_line);
    tcase_add_test(tc, test_server_id);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(connect_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
