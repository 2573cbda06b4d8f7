/* Unit tests for proto/subject.c: validation for subscribe and publish, wildcard detection,
 * and the matching table, each case named so a failure says which subject broke. */
#include "proto/subject.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

struct validity_case {
    const char *subject;
    bool valid_for_sub;
    bool valid_literal;
    bool has_wildcard; /* only meaningful when valid_for_sub */
};

static const struct validity_case validity_cases[] = {
    {"foo", true, true, false},
    {"foo.bar", true, true, false},
    {"foo.bar.baz", true, true, false},
    {"_INBOX.abcdef.1", true, true, false},
    {"$JS.API.INFO", true, true, false},
    {"a", true, true, false},
    {"*", true, false, true},
    {">", true, false, true},
    {"foo.*", true, false, true},
    {"foo.>", true, false, true},
    {"*.bar", true, false, true},
    {"*.*.*", true, false, true},
    {"a.*.>", true, false, true},
    {"*.>", true, false, true},
    {"foo*", true, true, false},    /* '*' inside a token is a literal byte */
    {"a.*b", true, true, false},
    {"a.b*.c", true, true, false},
    {"foo>", true, true, false},
    {"a.>b", true, true, false},
    {"a.b>.c", true, true, false},
    {"**", true, true, false},
    {">>", true, true, false},
    {"", false, false, false},
    {".", false, false, false},
    {".a", false, false, false},
    {"a.", false, false, false},
    {"a..b", false, false, false},
    {"..", false, false, false},
    {"a.>.b", false, false, false},
    {">.a", false, false, false},
    {">.>", false, false, false},
    {"a.>.", false, false, false},
    {"a.*.", false, false, false},
    {"foo bar", false, false, false},
    {" foo", false, false, false},
    {"foo ", false, false, false},
    {"foo\tbar", false, false, false},
    {"foo\rbar", false, false, false},
    {"foo\nbar", false, false, false},
    {"a.\t.b", false, false, false},
    {"* ", false, false, false},
};

START_TEST(test_validity_table)
{
    const struct validity_case *c = &validity_cases[_i];
    size_t length = strlen(c->subject);
    ck_assert_msg(subject_valid_for_sub(c->subject, length) == c->valid_for_sub,
                  "subject_valid_for_sub(\"%s\") should be %d", c->subject, c->valid_for_sub);
    ck_assert_msg(subject_valid_literal(c->subject, length) == c->valid_literal,
                  "subject_valid_literal(\"%s\") should be %d", c->subject, c->valid_literal);
    if (c->valid_for_sub) {
        ck_assert_msg(subject_has_wildcard(c->subject, length) == c->has_wildcard,
                      "subject_has_wildcard(\"%s\") should be %d", c->subject, c->has_wildcard);
        /* A valid subscription subject is a literal exactly when it has no wildcard. */
        ck_assert(c->valid_literal == !c->has_wildcard);
    }
}
END_TEST

START_TEST(test_validity_respects_length)
{
    /* Only `length` bytes count: the bytes after them (a space, a '.') are not read. */
    ck_assert(subject_valid_literal("foo bar", 3));
    ck_assert(subject_valid_literal("foo.", 3));
    ck_assert(!subject_valid_literal("foo.", 4));
    ck_assert(subject_valid_for_sub("a.>.b", 3));
    ck_assert(!subject_valid_for_sub("a.>.b", 5));
    ck_assert(!subject_valid_for_sub("foo", 0));
    ck_assert(!subject_valid_literal(NULL, 0));
    ck_assert(subject_has_wildcard("a.*x", 3));
    ck_assert(!subject_has_wildcard("a.*x", 4));
}
END_TEST

START_TEST(test_validity_embedded_bytes)
{
    /* Bytes other than the four whitespace bytes are not NATS's business here. */
    static const char with_nul[] = {'a', '\0', 'b'};
    ck_assert(subject_valid_literal(with_nul, sizeof with_nul));
    ck_assert(subject_valid_literal("caf\xc3\xa9.x", 7));
    ck_assert(subject_valid_literal("a\x0b", 2)); /* vertical tab is not in the list */
}
END_TEST

struct match_case {
    const char *pattern;
    const char *subject;
    bool matches;
};

static const struct match_case match_cases[] = {
    {"foo", "foo", true},
    {"foo", "bar", false},
    {"foo", "foo.bar", false},
    {"foo.bar", "foo", false},
    {"foo", "fo", false},
    {"fo", "foo", false},
    {"foo.bar", "foo.bar", true},
    {"foo.bar", "foo.baz", false},
    {"foo.bar", "foo.ba", false},
    {"foo.ba", "foo.bar", false},
    {"*", "a", true},
    {"*", "a.b", false},
    {"*", "foo*", true},
    {">", "a", true},
    {">", "a.b.c", true},
    {"a.>", "a", false},
    {"a.>", "a.b", true},
    {"a.>", "a.b.c.d", true},
    {"a.>", "b.c", false},
    {"a.>", "ab.c", false},
    {"a.*", "a", false},
    {"a.*", "a.b", true},
    {"a.*", "a.b.c", false},
    {"a.*.c", "a.b.c", true},
    {"a.*.c", "a.xyz.c", true},
    {"a.*.c", "a.b.d", false},
    {"a.*.c", "a.b.c.d", false},
    {"a.*.c", "a.c", false},
    {"a.*.>", "a.b", false},
    {"a.*.>", "a.b.c", true},
    {"a.*.>", "a.b.c.d.e", true},
    {"a.*.>", "x.b.c", false},
    {"*.*", "a.b", true},
    {"*.*", "a", false},
    {"*.*", "a.b.c", false},
    {"*.>", "a", false},
    {"*.>", "a.b", true},
    {"*.b", "a.b", true},
    {"*.b", "a.c", false},
    {"*.b", "a.bb", false},
    {"foo*", "foo*", true},     /* literal '*' inside a token */
    {"foo*", "foobar", false},
    {"foo*", "foo", false},
    {"a.*b", "a.*b", true},
    {"a.*b", "a.xb", false},
    {"a.b>", "a.b>", true},
    {"a.b>", "a.bc", false},
    {"*", "*", true},           /* a published wildcard token is just a token */
    {"a.*", "a.*", true},
    {"a.b", "a.*", false},
    {"_INBOX.*.*", "_INBOX.abc.1", true},
    {"$JS.API.>", "$JS.API.STREAM.INFO.orders", true},
};

START_TEST(test_match_table)
{
    const struct match_case *c = &match_cases[_i];
    bool got = subject_matches(c->pattern, strlen(c->pattern), c->subject, strlen(c->subject));
    ck_assert_msg(got == c->matches, "subject_matches(\"%s\", \"%s\") should be %d", c->pattern,
                  c->subject, c->matches);
}
END_TEST

START_TEST(test_match_literal_self)
{
    /* Every valid literal matches itself, and a proper prefix of it does not. */
    for (size_t i = 0; i < sizeof validity_cases / sizeof validity_cases[0]; i++) {
        const struct validity_case *c = &validity_cases[i];
        if (!c->valid_literal) {
            continue;
        }
        size_t length = strlen(c->subject);
        ck_assert_msg(subject_matches(c->subject, length, c->subject, length), "%s", c->subject);
        if (length > 1 && subject_valid_literal(c->subject, length - 1)) {
            ck_assert_msg(!subject_matches(c->subject, length - 1, c->subject, length), "%s",
                          c->subject);
            ck_assert_msg(!subject_matches(c->subject, length, c->subject, length - 1), "%s",
                          c->subject);
        }
    }
}
END_TEST

START_TEST(test_match_respects_length)
{
    ck_assert(subject_matches("foo.bar", 3, "foo.baz", 3));
    ck_assert(!subject_matches("foo.bar", 7, "foo.baz", 7));
    ck_assert(subject_matches("a.>", 3, "a.bc", 3));
    ck_assert(!subject_matches("a.>", 3, "a.bc", 1));
    ck_assert(!subject_matches("", 0, "a", 1));
    ck_assert(!subject_matches("a", 1, "", 0));
}
END_TEST

START_TEST(test_match_long_subject)
{
    /* Many tokens: no recursion, no limit on the token count. */
    enum { TOKEN_COUNT = 2000 };
    char *subject = malloc(TOKEN_COUNT * 2);
    char *pattern = malloc(TOKEN_COUNT * 2);
    ck_assert_ptr_nonnull(subject);
    ck_assert_ptr_nonnull(pattern);
    for (size_t i = 0; i < TOKEN_COUNT; i++) {
        subject[2 * i] = 'x';
        subject[2 * i + 1] = '.';
        pattern[2 * i] = i % 2 == 0 ? '*' : 'x';
        pattern[2 * i + 1] = '.';
    }
    size_t length = TOKEN_COUNT * 2 - 1;
    ck_assert(subject_valid_literal(subject, length));
    ck_assert(subject_valid_for_sub(pattern, length));
    ck_assert(subject_matches(pattern, length, subject, length));
    pattern[length - 1] = '>';
    ck_assert(subject_valid_for_sub(pattern, length));
    ck_assert(subject_matches(pattern, length, subject, length));
    ck_assert(!subject_matches(pattern, length, subject, length - 2));
    free(subject);
    free(pattern);
}
END_TEST

static Suite *subject_suite(void)
{
    Suite *suite = suite_create("subject");
    TCase *validity = tcase_create("validity");
    tcase_add_loop_test(validity, test_validity_table, 0,
                        (int)(sizeof validity_cases / sizeof validity_cases[0]));
    tcase_add_test(validity, test_validity_respects_length);
    tcase_add_test(validity, test_validity_embedded_bytes);
    suite_add_tcase(suite, validity);
    TCase *match = tcase_create("match");
    tcase_add_loop_test(match, test_match_table, 0,
                        (int)(sizeof match_cases / sizeof match_cases[0]));
    tcase_add_test(match, test_match_literal_self);
    tcase_add_test(match, test_match_respects_length);
    tcase_add_test(match, test_match_long_subject);
    suite_add_tcase(suite, match);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(subject_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
