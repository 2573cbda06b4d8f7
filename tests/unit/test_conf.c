/* The configuration parser (proto/conf.c, conf_lex.c, conf_duration.c): every construct of
 * nats-server's format, the tree and the positions it gives, includes through an
 * in-memory file system, variables from the maps and from a fake environment, errors
 * with their places and nats-server's texts, Go's durations, every prefix of a file, and
 * every allocation failing in turn.
 *
 * The texts of the expected errors were checked against nats-server 2.15.1 and 2.9.10
 * (`nats-server -t -c FILE`); where the two differ, these follow 2.15.1. */
#include "proto/conf.h"
#include "tests/unit/alloc_fail.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- an in-memory file system and environment -------------------------------------------- */

struct fake_file {
    const char *path;
    const char *text;
};

struct fake_world {
    const struct fake_file *files;
    const char *const *environment; /* NAME, VALUE, …, NULL */
};

static int fake_read(void *context, const char *path, char **text, size_t *length)
{
    const struct fake_world *world = context;
    for (const struct fake_file *f = world->files; f != NULL && f->path != NULL; f++) {
        if (strcmp(f->path, path) == 0) {
            *length = strlen(f->text);
            *text = malloc(*length + 1);
            if (*text == NULL) {
                return -ENOMEM;
            }
            memcpy(*text, f->text, *length + 1);
            return 0;
        }
    }
    return -ENOENT;
}

static const char *fake_getenv(void *context, const char *name)
{
    const struct fake_world *world = context;
    for (const char *const *e = world->environment; e != NULL && e[0] != NULL; e += 2) {
        if (strcmp(e[0], name) == 0) {
            return e[1];
        }
    }
    return NULL;
}

static const struct fake_world no_world = {NULL, NULL};

/* ---- the tree as text ------------------------------------------------------------------ */

struct text {
    char bytes[8192];
    size_t length;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *format,
                                                            ...)
{
    va_list args;
    va_start(args, format);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start just above
    int n = vsnprintf(t->bytes + t->length, sizeof t->bytes - t->length, format, args);
    va_end(args);
    ck_assert_int_ge(n, 0);
    ck_assert_uint_lt(t->length + (size_t)n, sizeof t->bytes);
    t->length += (size_t)n;
}

/* {k:v,…} with strings quoted, datetimes as dt(…), floats with %g. */
static void dump(struct text *t, const struct conf_node *node)
{
    switch (node->type) {
    case CONF_STRING:
        text_add(t, "\"%s\"", node->as.string.bytes);
        return;
    case CONF_DATETIME:
        text_add(t, "dt(%s)", node->as.string.bytes);
        return;
    case CONF_BOOL:
        text_add(t, "%s", node->as.boolean ? "true" : "false");
        return;
    case CONF_INTEGER:
        text_add(t, "%" PRId64, node->as.integer);
        return;
    case CONF_FLOAT:
        text_add(t, "%g", node->as.real);
        return;
    case CONF_MAP:
        text_add(t, "{");
        for (size_t i = 0; i < node->as.map.count; i++) {
            text_add(t, "%s%s:", i > 0 ? "," : "", node->as.map.members[i].key);
            dump(t, node->as.map.members[i].value);
        }
        text_add(t, "}");
        return;
    case CONF_ARRAY:
        text_add(t, "[");
        for (size_t i = 0; i < node->as.array.count; i++) {
            text_add(t, "%s", i > 0 ? "," : "");
            dump(t, node->as.array.items[i]);
        }
        text_add(t, "]");
        return;
    }
    ck_abort_msg("bad node type %d", node->type);
}

static struct conf_doc *parse_in(const struct fake_world *world, const char *path,
                                 const char *text)
{
    struct conf_reader reader = {fake_read, fake_getenv, (void *)world};
    struct conf_doc *doc = NULL;
    struct conf_error error;
    int rc = conf_parse(text, strlen(text), path, &reader, &doc, &error);
    ck_assert_msg(rc == 0, "%s rejected: %s:%d:%d: %s", text, error.file, error.line,
                  error.column, error.message);
    return doc;
}

static void expect_tree_in(const struct fake_world *world, const char *text, const char *tree)
{
    struct conf_doc *doc = parse_in(world, "test.conf", text);
    struct text dumped = {.length = 0};
    dump(&dumped, conf_doc_root(doc));
    ck_assert_msg(strcmp(dumped.bytes, tree) == 0, "%s\n gave %s\nwant %s", text, dumped.bytes,
                  tree);
    conf_doc_free(doc);
}

static void expect_tree(const char *text, const char *tree)
{
    expect_tree_in(&no_world, text, tree);
}

static void expect_error_in(const struct fake_world *world, const char *path, const char *text,
                            const char *file, int line, int column, const char *message)
{
    struct conf_reader reader = {fake_read, fake_getenv, (void *)world};
    struct conf_doc *doc = (struct conf_doc *)&doc; /* must be cleared */
    struct conf_error error;
    int rc = conf_parse(text, strlen(text), path, &reader, &doc, &error);
    ck_assert_msg(rc == -EINVAL, "%s accepted (rc %d)", text, rc);
    ck_assert_ptr_null(doc);
    ck_assert_msg(strcmp(error.message, message) == 0, "%s\n said %s\n want %s", text,
                  error.message, message);
    ck_assert_msg(strcmp(error.file, file) == 0 && error.line == line && error.column == column,
                  "%s: error at %s:%d:%d, want %s:%d:%d", text, error.file, error.line,
                  error.column, file, line, column);
}

static void expect_error(const char *text, int line, int column, const char *message)
{
    expect_error_in(&no_world, "test.conf", text, "test.conf", line, column, message);
}

static const struct conf_node *member_value(const struct conf_node *map, const char *key)
{
    const struct conf_member *member = conf_map_find(map, key);
    ck_assert_msg(member != NULL, "no key %s", key);
    return member->value;
}

/* ---- the constructs -------------------------------------------------------------------- */

START_TEST(test_separators)
{
    expect_tree("a: 1\nb = 2\nc 3\nd:4\ne=5\n", "{a:1,b:2,c:3,d:4,e:5}");
    expect_tree("a: 1; b: 2, c: 3\n", "{a:1,b:2,c:3}");
    expect_tree("\"quoted key\": 1\n'single': 2\n", "{quoted key:1,single:2}");
    expect_tree("a\n\n: 1\n", "{a:1}"); /* blanks and new lines between key and separator */
    expect_tree("", "{}");
    expect_tree("# only a comment\n", "{}");
    expect_tree("a: 1\na: 2\n", "{a:2}"); /* set twice: the last value, the first place */
}
END_TEST

START_TEST(test_maps)
{
    expect_tree("m {\n  a: 1\n  b = 2\n  c 3\n}\n", "{m:{a:1,b:2,c:3}}");
    expect_tree("m: { a: 1, b: 2; c: 3 }\n", "{m:{a:1,b:2,c:3}}");
    expect_tree("m = {a {b {c: deep}}}\n", "{m:{a:{b:{c:\"deep\"}}}}");
    expect_tree("m {}\n", "{m:{}}");
    expect_tree("m { 'q k': 1, \"d k\": 2 }\n", "{m:{q k:1,d k:2}}");
    expect_tree("{\n  port: 4222\n}\n", "{port:4222}"); /* a top-level block is transparent */
    expect_tree("{ a: 1, b: 2 }\n", "{a:1,b:2}");
}
END_TEST

START_TEST(test_arrays)
{
    expect_tree("a: [1, 2, 3 ]\n", "{a:[1,2,3]}");
    expect_tree("a: [\n  x\n  y\n  z\n]\n", "{a:[\"x\",\"y\",\"z\"]}");
    expect_tree("a: [ [1, 2 ], {k: v}, \"s\", 1.5, true ]\n",
                "{a:[[1,2],{k:\"v\"},\"s\",1.5,true]}");
    expect_tree("a: []\n", "{a:[]}");
    expect_tree("a: [ # comment\n  1 // another\n  2\n]\n", "{a:[1,2]}");
    /* nats-server's quirk: a number followed by ']' takes it into a string */
    expect_error("a: [1, 2]\n", 2, 1,
                 "Parse error on line 2: 'Expected an array value terminator \",\" or an array "
                 "terminator \"]\", but got '' instead.'");
}
END_TEST

START_TEST(test_comments)
{
    expect_tree("# hash\n// slashes\na: 1 # after\nb: 2 // after\n", "{a:1,b:2}");
    expect_tree("m {\n  # inside\n  a: 1 # after\n  // also\n}\n", "{m:{a:1}}");
    expect_tree("a: nats://host:4222\n", "{a:\"nats://host:4222\"}");
}
END_TEST

START_TEST(test_strings)
{
    expect_tree("a: \"x\\ty\\nz\\r\\\"\\\\\\x41\"\n", "{a:\"x\ty\nz\r\"\\A\"}");
    expect_tree("a: 'x\\ty'\n", "{a:\"x\\ty\"}"); /* single quotes: raw */
    expect_tree("a: x\\ty\n", "{a:\"x\ty\"}");    /* unquoted: escapes too */
    expect_error("a: hello world\n", 1, 10,
                 "Parse error on line 1: 'Expected a top-level value to end with a new line, "
                 "comment or EOF, but got 'w' instead.'");
    expect_tree("a: one;b: two,c: three\n", "{a:\"one\",b:\"two\",c:\"three\"}");
    expect_tree("a: 127.0.0.1\nb: 127.0.0.1:4222\nc: 1.2.3\n",
                "{a:\"127.0.0.1\",b:\"127.0.0.1:4222\",c:\"1.2.3\"}");
    expect_tree("a: 12abc\n", "{a:\"12abc\"}");
    expect_tree("a: \"\"\nb: ''\n", "{a:\"\",b:\"\"}");
    expect_tree("a: (\nline one\nline two\n)\n", "{a:\"\nline one\nline two\n\"}");
    /* \x00 stays in the string, which carries its length */
    struct conf_doc *doc = parse_in(&no_world, "t", "a: \"x\\x00y\"\n");
    const struct conf_node *a = member_value(conf_doc_root(doc), "a");
    ck_assert_uint_eq(a->as.string.length, 3);
    ck_assert_int_eq(memcmp(a->as.string.bytes, "x\0y", 4), 0);
    conf_doc_free(doc);
}
END_TEST

START_TEST(test_integers_and_sizes)
{
    static const struct {
        const char *text;
        int64_t value;
    } sizes[] = {
        {"0", 0},
        {"-5", -5},
        {"123456789012", 123456789012LL},
        {"1k", 1000},
        {"1K", 1000},
        {"1kb", 1024},
        {"1KB", 1024},
        {"1ki", 1024},
        {"1KiB", 1024},
        {"2m", 2000000},
        {"2mb", 2 << 20},
        {"2MiB", 2 << 20},
        {"3g", 3000000000LL},
        {"3gb", 3LL << 30},
        {"3GI", 3LL << 30},
        {"1t", 1000000000000LL},
        {"1tb", 1LL << 40},
        {"1p", 1000000000000000LL},
        {"1pb", 1LL << 50},
        {"1e", 1000000000000000000LL},
        {"1eb", 1LL << 60},
        {"-2k", -2000},
        {"64MB", 64LL << 20},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "a: %s\n", sizes[i].text);
        struct conf_doc *doc = parse_in(&no_world, "t", text);
        const struct conf_node *a = member_value(conf_doc_root(doc), "a");
        ck_assert_int_eq(a->type, CONF_INTEGER);
        ck_assert_msg(a->as.integer == sizes[i].value, "%s gave %" PRId64, sizes[i].text,
                      a->as.integer);
        conf_doc_free(doc);
    }
    /* a suffix followed by anything but the value's end is a string (nats-server 2.15) */
    expect_tree("a: 4e2abc\nb: 0K1\nc: 1Ghz\nd: 8mb4\n",
                "{a:\"4e2abc\",b:\"0K1\",c:\"1Ghz\",d:\"8mb4\"}");
    /* a suffix nats-server does not list sets nothing */
    expect_tree("a: 1kbb\nb: 2\n", "{b:2}");
    /* and leaves its key to the next map closed (nats-server: unknown field "a") */
    expect_tree("x { a: 1kbb }\n", "{a:{}}");
    expect_tree("m { , }\n", "{,:{}}"); /* the same: ',' is a key with no value */
    expect_error("a: 99999999999999999999\n", 1, 4,
                 "integer '99999999999999999999' is out of the range");
    expect_error("a: 12-3\n", 1, 6, "Parse error on line 1: 'All ISO8601 dates must be in full "
                                    "Zulu form.'");
}
END_TEST

START_TEST(test_floats_booleans_dates)
{
    expect_tree("a: 1.5\nb: -0.25\nc: 10.0\n", "{a:1.5,b:-0.25,c:10}");
    expect_tree("a: true\nb: FALSE\nc: yes\nd: No\ne: on\nf: OFF\ng: truex\n",
                "{a:true,b:false,c:true,d:false,e:true,f:false,g:\"truex\"}");
    expect_tree("a: 2020-02-29T23:59:59Z\n", "{a:dt(2020-02-29T23:59:59Z)}");
    expect_error("a: 2019-02-29T00:00:00Z\n", 1, 4,
                 "expected Zulu formatted DateTime, but got '2019-02-29T00:00:00Z'");
    expect_error("a: 2020-13-01T00:00:00Z\n", 1, 4,
                 "expected Zulu formatted DateTime, but got '2020-13-01T00:00:00Z'");
    expect_error("a: 2020-01-01T24:00:00Z\n", 1, 4,
                 "expected Zulu formatted DateTime, but got '2020-01-01T24:00:00Z'");
    expect_error("a: 2020-01-01X\n", 1, 14,
                 "Parse error on line 1: 'Expected 'T' in ISO8601 datetime, but found 'X' "
                 "instead.'");
    expect_error("a: .5\n", 1, 4, "Parse error on line 1: 'Floats must start with a digit'");
    expect_error("a: 1.x\n", 1, 6,
                 "Parse error on line 1: 'Floats must have a digit after the '.', but got 'x' "
                 "instead.'");
    /* past double's range (Go: ErrRange) */
    char big[400] = "a: 1";
    memset(big + 4, '0', 320);
    strcpy(big + 324, ".5\n");
    char message[512];
    snprintf(message, sizeof message, "float '%.*s' is out of the range", 323, big + 3);
    expect_error(big, 1, 4, message);
}
END_TEST

/* ---- includes -------------------------------------------------------------------------- */

static const struct fake_file include_files[] = {
    {"/etc/n/sub/a.conf", "include ../b.conf\nmax_payload: 2\n"},
    {"/etc/n/b.conf", "debug: true\n"},
    {"/etc/n/auth.conf", "user: alice\npassword: secret\n"},
    {"/etc/n/self.conf", "include self.conf\n"},
    {"/etc/n/bad.conf", "a: 1\nb: \"open\n"},
    {"/etc/n/uses.conf", "c: $shared\n"},
    {"/etc/n/etc/abs.conf", "absolute: joined\n"},
    {NULL, NULL},
};

static const struct fake_world include_world = {include_files, NULL};

START_TEST(test_include)
{
    struct conf_doc *doc = parse_in(&include_world, "/etc/n/main.conf",
                                    "port: 1\ninclude sub/a.conf\n");
    struct text dumped = {.length = 0};
    dump(&dumped, conf_doc_root(doc));
    ck_assert_str_eq(dumped.bytes, "{port:1,debug:true,max_payload:2}");
    /* values keep the place they were written in */
    const struct conf_node *debug = member_value(conf_doc_root(doc), "debug");
    ck_assert_str_eq(debug->position.file, "/etc/n/b.conf");
    ck_assert_int_eq(debug->position.line, 1);
    ck_assert_int_eq(debug->position.column, 1);
    const struct conf_node *max_payload = member_value(conf_doc_root(doc), "max_payload");
    ck_assert_str_eq(max_payload->position.file, "/etc/n/sub/a.conf");
    ck_assert_int_eq(max_payload->position.line, 2);
    conf_doc_free(doc);
}
END_TEST

/* Quoted, inside a map; an absolute name is joined to the directory, as Go's Join does. */
START_TEST(test_include_places)
{
    struct conf_doc *doc = parse_in(&include_world, "/etc/n/main.conf",
                                    "authorization {\n  include \"auth.conf\"\n}\n"
                                    "include /etc/abs.conf\n");
    struct text dumped = {.length = 0};
    dump(&dumped, conf_doc_root(doc));
    ck_assert_str_eq(dumped.bytes,
                     "{authorization:{user:\"alice\",password:\"secret\"},absolute:\"joined\"}");
    conf_doc_free(doc);
}
END_TEST

START_TEST(test_include_errors)
{
    expect_error_in(&include_world, "/etc/n/main.conf", "include missing.conf\n",
                    "/etc/n/main.conf", 1, 9,
                    "error parsing include file 'missing.conf', open /etc/n/missing.conf: no "
                    "such file or directory");
    /* an error inside is placed there, wrapped as nats-server wraps it */
    expect_error_in(&include_world, "/etc/n/main.conf", "include bad.conf\n", "/etc/n/bad.conf",
                    3, 1,
                    "error parsing include file 'bad.conf', Parse error on line 3: 'Unexpected "
                    "EOF.'");
    /* an included file does not see the including file's variables */
    expect_error_in(&include_world, "/etc/n/main.conf", "shared = 1\ninclude uses.conf\n",
                    "/etc/n/uses.conf", 1, 4,
                    "error parsing include file 'uses.conf', variable reference for 'shared' on "
                    "line 1 can not be found");
    /* a cycle stops at the depth bound (nats-server recurses until its stack overflows) */
    char message[CONF_ERROR_MESSAGE_SIZE];
    struct conf_reader reader = {fake_read, fake_getenv, (void *)&include_world};
    struct conf_doc *doc = NULL;
    struct conf_error error;
    ck_assert_int_eq(conf_parse("include self.conf\n", 18, "/etc/n/main.conf", &reader, &doc,
                                &error),
                     -EINVAL);
    snprintf(message, sizeof message, "includes and variables nested deeper than %d",
             CONF_FRAME_DEPTH_MAX);
    ck_assert_ptr_nonnull(strstr(error.message, message));
    ck_assert_str_eq(error.file, "/etc/n/self.conf");
    /* no reader: nothing can be included */
    ck_assert_int_eq(conf_parse("include x\n", 10, "m.conf", NULL, &doc, &error), -EINVAL);
    ck_assert_str_eq(error.message, "error parsing include file 'x', open x: no such file or "
                                    "directory");
    expect_error("include [x]\n", 1, 9,
                 "Parse error on line 1: 'Expected include value but found start of an array'");
}
END_TEST

/* ---- variables -------------------------------------------------------------------------- */

static const char *const environment[] = {
    "PORT", "4333", "MAP", "{ a: 1, b: [x ] }", "SELF_A", "$SELF_B", "SELF_B", "$SELF_A",
    "EMPTY", "", "CHAIN", "$PORT", "BAD", "\"open", NULL,
};

static const struct fake_world env_world = {NULL, environment};

START_TEST(test_variables)
{
    expect_tree("x = 5\na: $x\n", "{x:5,a:5}");
    expect_tree("x = {k: v}\na: $x\n", "{x:{k:\"v\"},a:{k:\"v\"}}");
    expect_tree("x = 1\nm { x = 2, a: $x }\nb: $x\n", "{x:1,m:{x:2,a:2},b:1}");
    expect_tree("x = 1\nl: [$x, $x ]\n", "{x:1,l:[1,1]}");
    expect_tree("p: $2a$11$abc\n", "{p:\"$2a$11$abc\"}"); /* a bcrypt hash is itself */
    /* defined ones are marked used: nats-server does not call them unknown */
    struct conf_doc *doc = parse_in(&no_world, "t", "x = 5\ny = 6\na: $x\n");
    ck_assert(member_value(conf_doc_root(doc), "x")->variable_used);
    ck_assert(!member_value(conf_doc_root(doc), "y")->variable_used);
    ck_assert(!member_value(conf_doc_root(doc), "a")->variable_used);
    /* the value is placed at its own key */
    ck_assert_int_eq(member_value(conf_doc_root(doc), "a")->position.line, 3);
    conf_doc_free(doc);
    expect_error("m { y = 2 }\nb: $y\n", 2, 4,
                 "variable reference for 'y' on line 2 can not be found");
    expect_error("a: $later\nlater = 1\n", 1, 4,
                 "variable reference for 'later' on line 1 can not be found");
    expect_error("a: $\n", 1, 4, "variable reference for '' on line 1 can not be found");
}
END_TEST

START_TEST(test_environment)
{
    expect_tree_in(&env_world, "port: $PORT\n", "{port:4333}");
    expect_tree_in(&env_world, "m: $MAP\n", "{m:{a:1,b:[\"x\"]}}");
    expect_tree_in(&env_world, "e: $EMPTY\n", "{e:\"\"}");
    expect_tree_in(&env_world, "c: $CHAIN\n", "{c:4333}");
    expect_tree_in(&env_world, "PORT = 1\nport: $PORT\n", "{PORT:1,port:1}"); /* file first */
    expect_error_in(&env_world, "t.conf", "a: 1\nb: $NOPE\n", "t.conf", 2, 4,
                    "variable reference for 'NOPE' on line 2 can not be found");
    expect_error_in(&env_world, "t.conf", "a: $SELF_A\n", "t.conf", 1, 4,
                    "variable reference for 'SELF_A' on line 1 could not be parsed: variable "
                    "reference for 'SELF_B' on line 1 could not be parsed: variable reference "
                    "for 'SELF_A' on line 1 could not be parsed: variable reference cycle for "
                    "'SELF_A'");
    expect_error_in(&env_world, "t.conf", "\n\na: $BAD\n", "t.conf", 3, 4,
                    "variable reference for 'BAD' on line 3 could not be parsed: Parse error on "
                    "line 1: 'Unexpected EOF.'");
    /* values read from the environment are placed at their key */
    struct conf_doc *doc = parse_in(&env_world, "t.conf", "\nm: $MAP\n");
    const struct conf_node *m = member_value(conf_doc_root(doc), "m");
    ck_assert_int_eq(m->position.line, 2);
    ck_assert_int_eq(member_value(m, "a")->position.line, 2);
    ck_assert_int_eq(member_value(m, "a")->position.column, 4);
    conf_doc_free(doc);
}
END_TEST

/* ---- errors and their places ------------------------------------------------------------ */

START_TEST(test_error_positions)
{
    static const struct {
        const char *text;
        int line;
        int column;
        const char *message;
    } cases[] = {
        {"a: \"open\n", 2, 1, "Parse error on line 2: 'Unexpected EOF.'"},
        {"m {\n a: 1\n", 3, 1, "Parse error on line 3: 'Unexpected EOF processing map.'"},
        {"a: \"x\\qy\"\n", 1, 7,
         "Parse error on line 1: 'Invalid escape character 'q'. Only the following escape "
         "characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.'"},
        {"a: \"\\xZZ\"\n", 1, 8,
         "Parse error on line 1: 'Expected two hexadecimal digits after '\\x', but got 'ZZ''"},
        {"a: [1,,2]\n", 1, 7, "Parse error on line 1: 'Unexpected array value terminator ','.'"},
        {"m { a: 1 b: 2 }\n", 1, 10,
         "Parse error on line 1: 'Expected a map value terminator \",\" or a map terminator "
         "\"}\", but got 'b' instead.'"},
        {"m { a: , }\n", 1, 8, "Parse error on line 1: 'Unexpected map value terminator \",\".'"},
        {"m { = }\n", 1, 5, "Parse error on line 1: 'Unexpected key separator '='.'"},
        {"a:\n1\n", 2, 1, "Parse error on line 2: 'Expected value but found new line'"},
        {"port: 4222 4333\n", 1, 12,
         "Parse error on line 1: 'Expected a top-level value to end with a new line, comment or "
         "EOF, but got '4' instead.'"},
        {": 1\n", 1, 1, "Parse error on line 1: 'Unexpected key separator ':''"},
        {"a: 1\n/\n", 2, 2, "Parse error on line 2: 'Unexpected EOF.'"},
        {"a: (\nno end\n", 3, 1, "Parse error on line 3: 'Unexpected EOF processing block.'"},
        {"a: 1\ndangling\n", 3, 1, "config is invalid (test.conf:3:1)"},
        {"a: -x\n", 1, 5, "Parse error on line 1: 'Expected a digit but got 'x'.'"},
        {"include \"x\n", 2, 1,
         "Parse error on line 2: 'Unexpected EOF in double quoted include'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_error(cases[i].text, cases[i].line, cases[i].column, cases[i].message);
    }
}
END_TEST

START_TEST(test_nesting_bound)
{
    char text[2048] = "a: ";
    for (int i = 0; i < 600; i++) {
        strcat(text, "[");
    }
    struct conf_doc *doc = NULL;
    struct conf_error error;
    ck_assert_int_eq(conf_parse(text, strlen(text), "t", NULL, &doc, &error), -EINVAL);
    ck_assert_ptr_nonnull(strstr(error.message, "nested deeper than"));
    memset(text, 0, sizeof text);
    strcpy(text, "a: ");
    for (int i = 0; i < 200; i++) {
        strcat(text, "[");
    }
    for (int i = 0; i < 200; i++) {
        strcat(text, "]");
    }
    doc = parse_in(&no_world, "t", text);
    conf_doc_free(doc);
}
END_TEST

/* Every prefix of a file with every construct parses or fails with a place inside it. */
START_TEST(test_every_prefix)
{
    static const char text[] =
        "# a file\nport: 4222\nhost = '127.0.0.1'\nm {\n  a: \"x\\ty\\x41\"\n  b: [1, 2.5 ,"
        " yes, 2020-01-01T00:00:00Z ]\n  c: 1kb; d: -3\n}\nx = 5\ny: $x\nz: (\nraw\n)\n"
        "include 'inc.conf'\n{ w: 1 }\n";
    static const struct fake_file files[] = {{"inc.conf", "q: 1\n"}, {NULL, NULL}};
    struct fake_world world = {files, NULL};
    struct conf_reader reader = {fake_read, fake_getenv, &world};
    for (size_t length = 0; length <= sizeof text - 1; length++) {
        char *copy = malloc(length > 0 ? length : 1); /* no NUL after: reads past are caught */
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, text, length);
        struct conf_doc *doc = NULL;
        struct conf_error error;
        int rc = conf_parse(copy, length, "t.conf", &reader, &doc, &error);
        free(copy);
        if (rc == 0) {
            conf_doc_free(doc);
            continue;
        }
        ck_assert_int_eq(rc, -EINVAL);
        ck_assert_int_ge(error.line, 1);
        ck_assert_int_le(error.line, 17);
        ck_assert_int_ge(error.column, 1);
        ck_assert(error.message[0] != '\0');
    }
}
END_TEST

/* Every allocation failing in turn: -ENOMEM, nothing left behind; then a clean parse. */
START_TEST(test_allocation_failures)
{
    static const char text[] = "a: 1\nm { b: \"x\\ty\", c: [1, 2 ] }\nv = 3\nw: $v\n"
                               "e: $PORT\ninclude sub/a.conf\n";
    static const struct fake_file files[] = {{"/etc/n/sub/a.conf", "z: 1\n"}, {NULL, NULL}};
    static const char *const env[] = {"PORT", "[1, 2 ]", NULL};
    struct fake_world world = {files, env};
    struct conf_reader reader = {fake_read, fake_getenv, &world};
    bool succeeded = false;
    for (uint64_t fail_at = 1; fail_at < 2000 && !succeeded; fail_at++) {
        int64_t live = alloc_fail.live_count;
        alloc_fail_at(fail_at);
        struct conf_doc *doc = NULL;
        struct conf_error error;
        alloc_fail.armed = true;
        int rc = conf_parse(text, sizeof text - 1, "/etc/n/main.conf", &reader, &doc, &error);
        alloc_fail.armed = false;
        if (rc == 0) {
            ck_assert_uint_eq(alloc_fail.failed_count, 0);
            succeeded = true;
            conf_doc_free(doc);
        } else {
            ck_assert_msg(rc == -ENOMEM, "fail_at %" PRIu64 ": rc %d (%s)", fail_at, rc,
                          error.message);
            ck_assert_ptr_null(doc);
        }
        ck_assert_int_eq(alloc_fail.live_count, live);
    }
    ck_assert(succeeded);
}
END_TEST

/* ---- durations (Go's time.ParseDuration) -------------------------------------------------- */

START_TEST(test_durations)
{
    static const struct {
        const char *text;
        int64_t ns;
    } good[] = {
        {"0", 0},
        {"5s", 5000000000LL},
        {"30s", 30000000000LL},
        {"1478s", 1478000000000LL},
        {"-5s", -5000000000LL},
        {"+5s", 5000000000LL},
        {"5.6s", 5600000000LL},
        {"5.s", 5000000000LL},
        {".5s", 500000000LL},
        {"1.004s", 1004000000LL},
        {"100.00100s", 100001000000LL},
        {"10ns", 10},
        {"11us", 11000},
        {"12\xC2\xB5s", 12000},
        {"12\xCE\xBCs", 12000},
        {"13ms", 13000000},
        {"14s", 14000000000LL},
        {"15m", 900000000000LL},
        {"16h", 57600000000000LL},
        {"3h30m", 12600000000000LL},
        {"10.5s4m", 250500000000LL},
        {"-2m3.4s", -123400000000LL},
        {"1h2m3s4ms5us6ns", 3723004005006LL},
        {"39h9m14.425s", 140954425000000LL},
        {"52763797000ns", 52763797000LL},
        {"0.3333333333333333333h", 1200000000000LL},
        {"9007199254740993ns", 9007199254740993LL},
        {"9223372036854775807ns", INT64_MAX},
        {"-9223372036854775808ns", INT64_MIN},
        {"0.100000000000000000000h", 360000000000LL},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t ns = 1;
        char reason[128] = "";
        ck_assert_msg(conf_duration_parse(good[i].text, &ns, reason, sizeof reason) == 0,
                      "%s: %s", good[i].text, reason);
        ck_assert_msg(ns == good[i].ns, "%s gave %" PRId64 ", want %" PRId64, good[i].text, ns,
                      good[i].ns);
    }
    static const struct {
        const char *text;
        const char *reason;
    } bad[] = {
        {"", "time: invalid duration \"\""},
        {"3", "time: missing unit in duration \"3\""},
        {"-", "time: invalid duration \"-\""},
        {"s", "time: invalid duration \"s\""},
        {".", "time: invalid duration \".\""},
        {"-.", "time: invalid duration \"-.\""},
        {".s", "time: invalid duration \".s\""},
        {"+.s", "time: invalid duration \"+.s\""},
        {"1d", "time: unknown unit \"d\" in duration \"1d\""},
        {"1.5x3s", "time: unknown unit \"x\" in duration \"1.5x3s\""},
        {"9223372036854775810ns", "time: invalid duration \"9223372036854775810ns\""},
        {"9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\""},
        {"3000000h", "time: invalid duration \"3000000h\""},
        {"abc", "time: invalid duration \"abc\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns = 7;
        char reason[128] = "";
        ck_assert_msg(conf_duration_parse(bad[i].text, &ns, reason, sizeof reason) == -EINVAL,
                      "%s accepted", bad[i].text);
        ck_assert_str_eq(reason, bad[i].reason);
        ck_assert_int_eq(ns, 7);
    }
}
END_TEST

START_TEST(test_helpers)
{
    struct conf_doc *doc = parse_in(&no_world, "t", "a: 1\nB: 2\n");
    ck_assert_ptr_nonnull(conf_map_find(conf_doc_root(doc), "a"));
    ck_assert_ptr_null(conf_map_find(conf_doc_root(doc), "b")); /* keys match exactly */
    char *copy = conf_doc_strdup(doc, "abcdef", 3);
    ck_assert_str_eq(copy, "abc");
    conf_doc_free(doc);
    conf_doc_free(NULL);
    ck_assert_str_eq(conf_type_name(CONF_INTEGER), "integer");
    ck_assert_str_eq(conf_type_name(CONF_MAP), "map");
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *suite = suite_create("conf");
    TCase *constructs = tcase_create("constructs");
    tcase_add_test(constructs, test_separators);
    tcase_add_test(constructs, test_maps);
    tcase_add_test(constructs, test_arrays);
    tcase_add_test(constructs, test_comments);
    tcase_add_test(constructs, test_strings);
    tcase_add_test(constructs, test_integers_and_sizes);
    tcase_add_test(constructs, test_floats_booleans_dates);
    tcase_add_test(constructs, test_helpers);
    suite_add_tcase(suite, constructs);
    TCase *includes = tcase_create("includes and variables");
    tcase_add_test(includes, test_include);
    tcase_add_test(includes, test_include_places);
    tcase_add_test(includes, test_include_errors);
    tcase_add_test(includes, test_variables);
    tcase_add_test(includes, test_environment);
    suite_add_tcase(suite, includes);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_error_positions);
    tcase_add_test(errors, test_nesting_bound);
    tcase_add_test(errors, test_every_prefix);
    tcase_add_test(errors, test_allocation_failures);
    suite_add_tcase(suite, errors);
    TCase *durations = tcase_create("durations");
    tcase_add_test(durations, test_durations);
    suite_add_tcase(suite, durations);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(conf_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
