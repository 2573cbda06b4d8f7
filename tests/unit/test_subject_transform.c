/* Unit tests for proto/subject_transform.c: nats-server's own cases, mapped subjects observed
 * on a running nats-server 2.15.1 (partition values above all), the quirks read from its code,
 * match and no-match, every output size, long subjects, allocation failure, and a differential
 * test against a model that follows nats-server's TransformTokenizedSubject statement by
 * statement. None of it needs nats-server at run time. */
#include "proto/subject_transform.h"

#include "tests/unit/alloc_fail.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest output any case here makes, with its terminator. */
enum { TEST_OUT_SIZE = 3 * SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX };

struct apply_case {
    const char *source;
    const char *destination;
    const char *subject;
    const char *expected; /* NULL: no match (-ENOENT) */
};

static struct subject_transform *test_new(const char *source, const char *destination)
{
    char error[SUBJECT_TRANSFORM_ERROR_SIZE] = "";
    struct subject_transform *transform = NULL;
    int rc = subject_transform_new(source, destination, &transform, error, sizeof error);
    ck_assert_msg(rc == 0, "new(\"%s\", \"%s\"): %d %s", source ? source : "(null)",
                  destination ? destination : "(null)", rc, error);
    return transform;
}

/* Applies `c` and checks the answer, and that matches() agrees with it. */
static void test_apply_case(const struct apply_case *c)
{
    struct subject_transform *transform = test_new(c->source, c->destination);
    static char out[TEST_OUT_SIZE];
    size_t length = SIZE_MAX;
    size_t subject_length = strlen(c->subject);
    int rc = subject_transform_apply(transform, c->subject, subject_length, out, sizeof out,
                                     &length);
    bool matches = subject_transform_matches(transform, c->subject, subject_length);
    if (c->expected == NULL) {
        ck_assert_msg(rc == -ENOENT, "\"%s\" -> \"%s\" on \"%s\": %d, want -ENOENT", c->source,
                      c->destination, c->subject, rc);
        ck_assert(!matches);
    } else {
        ck_assert_msg(rc == 0, "\"%s\" -> \"%s\" on \"%s\": %d", c->source, c->destination,
                      c->subject, rc);
        ck_assert_msg(length == strlen(c->expected) && strcmp(out, c->expected) == 0,
                      "\"%s\" -> \"%s\" on \"%s\": got \"%s\", want \"%s\"", c->source,
                      c->destination, c->subject, out, c->expected);
        ck_assert(matches);
    }
    subject_transform_free(transform);
}

/* ---- nats-server's cases --------------------------------------------------------------- */

/* From nats-server server/subject_transform_test.go, TestSubjectTransforms: every shouldMatch
 * (the random(6) one is test_random_range). */
static const struct apply_case go_match_cases[] = {
    {"", "prefix.>", "foo", "prefix.foo"},
    {"foo", "", "foo", "foo"},
    {"foo", "bar", "foo", "bar"},
    {"foo.*.bar.*.baz", "req.$2.$1", "foo.A.bar.B.baz", "req.B.A"},
    {"foo.*.bar.*.baz", "req.{{wildcard(2)}}.{{wildcard(1)}}", "foo.A.bar.B.baz", "req.B.A"},
    {"baz.>", "my.pre.>", "baz.1.2.3", "my.pre.1.2.3"},
    {"baz.>", "foo.bar.>", "baz.1.2.3", "foo.bar.1.2.3"},
    {"*", "foo.bar.$1", "foo", "foo.bar.foo"},
    {"*", "{{splitfromleft(1,3)}}", "12345", "123.45"},
    {"*", "{{SplitFromRight(1,3)}}", "12345", "12.345"},
    {"*", "{{SliceFromLeft(1,3)}}", "1234567890", "123.456.789.0"},
    {"*", "{{SliceFromRight(1,3)}}", "1234567890", "1.234.567.890"},
    {"*", "{{split(1,-)}}", "-abc-def--ghi-", "abc.def.ghi"},
    {"*", "{{split(1,-)}}", "abc-def--ghi-", "abc.def.ghi"},
    {"*.*", "{{split(2,-)}}.{{splitfromleft(1,2)}}", "foo.-abc-def--ghij-", "abc.def.ghij.fo.o"},
    {"*", "{{right(1,1)}}", "1234", "4"},
    {"*", "{{right(1,3)}}", "1234", "234"},
    {"*", "{{right(1,6)}}", "1234", "1234"},
    {"*", "{{left(1,1)}}", "1234", "1"},
    {"*", "{{left(1,3)}}", "1234", "123"},
    {"*", "{{left(1,6)}}", "1234", "1234"},
    {"*", "bar.{{partition(0)}}", "baz", "bar.0"},
    {"*", "bar.{{partition(10, 0)}}", "foo", "bar.3"},
    {"*.*", "bar.{{partition(10)}}", "foo.bar", "bar.6"},
    {"*", "bar.{{partition(10)}}", "foo", "bar.3"},
    {"*", "bar.{{partition(10)}}", "baz", "bar.0"},
    {"*", "bar.{{partition(10)}}", "qux", "bar.9"},
    {"*", "bar.{{random(0)}}", "qux", "bar.0"},
    {"foo.bar", "baz.{{partition(10)}}", "foo.bar", "baz.6"},
    {"foo.baz", "qux.{{partition(10)}}", "foo.baz", "qux.4"},
    {"test.subject", "result.{{partition(5)}}", "test.subject", "result.0"},
};

START_TEST(test_go_match)
{
    test_apply_case(&go_match_cases[_i]);
}
END_TEST

struct error_case {
    const char *source;
    const char *destination;
    const char *error; /* nats-server's error text */
};

/* From the same test: every shouldErr that is not a strict (import) transform, with the text
 * nats-server's error gives (server/errors.go, mappingDestinationErr). */
static const struct error_case go_error_cases[] = {
    {"foo..", "bar", "invalid subject"},
    {"foo.*", "bar.*", "invalid subject"},
    {"foo.*", "bar.$2", "invalid mapping destination: wildcard index out of range in $2: [2]"},
    {"foo.*", "bar.$1.>", "invalid subject"},
    {"foo.>", "bar.baz", "invalid subject"},
    {"foo.*", "foo.{{wildcard(2)}}",
     "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"},
    {"foo.*", "foo.{{unimplemented(1)}}",
     "invalid mapping destination: unknown function in {{unimplemented(1)}}"},
    {"foo.*", "foo.{{partition()}}",
     "invalid mapping destination: function argument is invalid or in the wrong format in "
     "{{partition()}}"},
    {"foo.*", "foo.{{random()}}",
     "invalid mapping destination: function argument is invalid or in the wrong format in "
     "{{random()}}"},
    {"foo.*", "foo.{{wildcard(foo)}}",
     "invalid mapping destination: function argument is invalid or in the wrong format in "
     "{{wildcard(foo)}}"},
    {"foo.*", "foo.{{wildcard()}}",
     "invalid mapping destination: not enough arguments passed to the function in "
     "{{wildcard()}}"},
    {"foo.*", "foo.{{wildcard(1,2)}}",
     "invalid mapping destination: too many arguments passed to the function in "
     "{{wildcard(1,2)}}"},
    {"foo.*", "foo.{{ wildcard5) }}",
     "invalid mapping destination: unknown function in {{ wildcard5) }}"},
    {"foo.*", "foo.{{splitLeft(2,2}}",
     "invalid mapping destination: unknown function in {{splitLeft(2,2}}"},
    {"foo", "bla.{{wildcard(1)}}",
     "invalid mapping destination: wildcard index out of range in {{wildcard(1)}}"},
    {"foo.*", "foo.{{partition(2147483648)}}",
     "invalid mapping destination: function argument is invalid or in the wrong format in "
     "{{partition(2147483648)}}"},
    {"foo.*", "foo.{{random(2147483648)}}",
     "invalid mapping destination: function argument is invalid or in the wrong format in "
     "{{random(2147483648)}}"},
};

START_TEST(test_go_errors)
{
    const struct error_case *c = &go_error_cases[_i];
    char error[SUBJECT_TRANSFORM_ERROR_SIZE] = "";
    struct subject_transform *transform = NULL;
    ck_assert_int_eq(subject_transform_new(c->source, c->destination, &transform, error,
                                           sizeof error),
                     -EINVAL);
    ck_assert_ptr_null(transform);
    ck_assert_str_eq(error, c->error);
    /* the check is the same parser */
    char check[SUBJECT_TRANSFORM_ERROR_SIZE] = "";
    ck_assert_int_eq(subject_transform_check(c->source, c->destination, false, check,
                                             sizeof check),
                     -EINVAL);
    ck_assert_str_eq(check, c->error);
}
END_TEST

/* From the same test: every shouldBeOK that is not strict. */
static const char *const go_ok_cases[][2] = {
    {"foo.*.*", "bar.$2"},
    {"foo.*.*", "bar.{{wildcard(1)}}"},
    {"foo.*.*", "bar.{{partition(1)}}"},
    {"foo.*.*", "bar.{{random(5)}}"},
    {"foo", "bar"},
    {"foo.*.bar.*.baz", "req.$2.$1"},
    {"baz.>", "mybaz.>"},
    {"*", "{{splitfromleft(1,1)}}"},
    {"", "prefix.>"},
    {"*.*", "{{partition(10,1,2)}}"},
    {"foo.*.*", "foo.{{wildcard(1)}}.{{wildcard(2)}}.{{partition(5,1,2)}}"},
    {"foo.*", "foo.{{partition(2147483647)}}"},
    {"foo.*", "foo.{{random(2147483647)}}"},
    {"foo.bar", "foo.{{random(2147483647)}}"},
    {"foo.bar", "baz.{{partition(10)}}"},
};

START_TEST(test_go_ok)
{
    char error[SUBJECT_TRANSFORM_ERROR_SIZE] = "";
    ck_assert_int_eq(subject_transform_check(go_ok_cases[_i][0], go_ok_cases[_i][1], false,
                                             error, sizeof error),
                     0);
    subject_transform_free(test_new(go_ok_cases[_i][0], go_ok_cases[_i][1]));
}
END_TEST

/* From the same test: random(6) gives 0 to 5. */
START_TEST(test_random_range)
{
    struct subject_transform *transform = test_new("*", "bar.{{random(6)}}");
    bool seen[6] = {false};
    char out[32];
    size_t length;
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(subject_transform_apply(transform, "qux", 3, out, sizeof out, &length),
                         0);
        ck_assert_uint_eq(length, 5);
        ck_assert(strncmp(out, "bar.", 4) == 0 && out[4] >= '0' && out[4] <= '5');
        seen[out[4] - '0'] = true;
    }
    for (int i = 0; i < 6; i++) {
        ck_assert_msg(seen[i], "random(6) never gave %d in 1000 draws", i);
    }
    subject_transform_free(transform);
    /* a negative ceiling: Go's % keeps the dividend's sign, so 0 to 2 */
    transform = test_new("*", "{{random(-3)}}");
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(subject_transform_apply(transform, "q", 1, out, sizeof out, &length),
                         0);
        ck_assert(length == 1 && out[0] >= '0' && out[0] <= '2');
    }
    subject_transform_free(transform);
}
END_TEST

/* ---- observed on nats-server 2.15.1 ---------------------------------------------------- */

/* Observed on nats-server 2.15.1 (.venv-tests/bin/nats-server): these mappings in its config
 * file's `mappings` block, a client subscribed to "dst.>" published each subject and recorded
 * the subject each message arrived on. The partition values are fnv-1a 32 of the named tokens
 * concatenated with no separator (of the whole subject for partition(count), and for a source
 * without wildcards), modulo the count taken as a uint32. */
static const char *const observed_mappings[][2] = {
    {"p2.*.*", "dst.p2.{{partition(10,1,2)}}.{{wildcard(1)}}.{{wildcard(2)}}"},
    {"p21.*.*", "dst.p21.{{partition(10,2,1)}}.{{wildcard(1)}}.{{wildcard(2)}}"},
    {"p1.*", "dst.p1.{{partition(10)}}.{{wildcard(1)}}"},
    {"pl.a.b", "dst.pl.{{partition(10)}}"},
    {"pbig.*.*", "dst.pbig.{{partition(1000003,1,2)}}.$1.$2"},
    {"pneg.*", "dst.pneg.{{partition(-7,1)}}.$1"},
    {"pwrap.*", "dst.pwrap.{{partition(-4294967286,1)}}.$1"},
    {"p0.*.*", "dst.p0.{{partition(10,0)}}.$1.$2"},
    {"pfwc.*.>", "dst.pfwc.{{partition(10,1)}}.$1.>"},
    {"pfs.*.>", "dst.pfs.{{partition(10)}}.$1.>"},
    {"ws.*.>", "dst.ws.$0.{{wildcard(-1)}}.>"},
    {"split.*", "dst.split.{{split(1,)}}"},
    {"sp.*", "dst.sp.{{split(1,-)}}"},
    {"sfl.*", "dst.sfl.{{splitfromleft(1,3)}}.{{splitfromright(1,-2)}}"},
    {"slr.*", "dst.slr.{{slicefromleft(1,3)}}.{{slicefromright(1,3)}}"},
    {"lr.*", "dst.lr.{{left(1,2)}}.{{right(1,2)}}"},
    {"strip.>", "dst.>"},
};

struct observed_case {
    size_t mapping; /* in observed_mappings */
    const char *subject;
    const char *expected;
};

static const struct observed_case observed_cases[] = {
    {0, "p2.a.a", "dst.p2.7.a.a"},
    {0, "p2.a.0", "dst.p2.6.a.0"},
    {0, "p2.b.baz", "dst.p2.6.b.baz"},
    {0, "p2.foo.foo", "dst.p2.9.foo.foo"},
    {0, "p2.bar.a", "dst.p2.3.bar.a"},
    {0, "p2.bar.0", "dst.p2.4.bar.0"},
    {0, "p2.baz.baz", "dst.p2.1.baz.baz"},
    {0, "p2.qux.foo", "dst.p2.5.qux.foo"},
    {0, "p2.0.a", "dst.p2.4.0.a"},
    {0, "p2.0.0", "dst.p2.1.0.0"},
    {0, "p2.1.baz", "dst.p2.5.1.baz"},
    {0, "p2.12.foo", "dst.p2.0.12.foo"},
    {0, "p2.123.a", "dst.p2.0.123.a"},
    {0, "p2.123.0", "dst.p2.5.123.0"},
    {0, "p2.acme.baz", "dst.p2.2.acme.baz"},
    {0, "p2.order-17.foo", "dst.p2.6.order-17.foo"},
    {0, "p2.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.a",
     "dst.p2.0.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.a"},
    {0, "p2.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.0",
     "dst.p2.3.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.0"},
    {0, "p2.ABC.baz", "dst.p2.6.ABC.baz"},
    {0, "p2.h\xc3\xa9llo.foo", "dst.p2.0.h\xc3\xa9llo.foo"},
    {0, "p2.z9.a", "dst.p2.5.z9.a"},
    {0, "p2.z9.0", "dst.p2.8.z9.0"},
    {0, "p2.user_42.baz", "dst.p2.0.user_42.baz"},
    {0, "p2.-.foo", "dst.p2.0.-.foo"},
    {1, "p21.a.a", "dst.p21.7.a.a"},
    {1, "p21.b.1", "dst.p21.0.b.1"},
    {1, "p21.bar.0", "dst.p21.0.bar.0"},
    {1, "p21.qux.qux", "dst.p21.7.qux.qux"},
    {1, "p21.1.baz", "dst.p21.7.1.baz"},
    {1, "p21.123.bar", "dst.p21.2.123.bar"},
    {1, "p21.order-17.foo", "dst.p21.4.order-17.foo"},
    {1, "p21.ABC.b", "dst.p21.5.ABC.b"},
    {1, "p21.z9.a", "dst.p21.5.z9.a"},
    {1, "p21.user_42.1", "dst.p21.4.user_42.1"},
    {2, "p1.a", "dst.p1.5.a"},
    {2, "p1.b", "dst.p1.4.b"},
    {2, "p1.foo", "dst.p1.0.foo"},
    {2, "p1.bar", "dst.p1.5.bar"},
    {2, "p1.baz", "dst.p1.7.baz"},
    {2, "p1.qux", "dst.p1.0.qux"},
    {2, "p1.0", "dst.p1.6.0"},
    {2, "p1.1", "dst.p1.5.1"},
    {2, "p1.12", "dst.p1.1.12"},
    {2, "p1.123", "dst.p1.8.123"},
    {2, "p1.acme", "dst.p1.6.acme"},
    {2, "p1.order-17", "dst.p1.9.order-17"},
    {2, "p1.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
     "dst.p1.8.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {2, "p1.ABC", "dst.p1.8.ABC"},
    {2, "p1.h\xc3\xa9llo", "dst.p1.9.h\xc3\xa9llo"},
    {2, "p1.z9", "dst.p1.5.z9"},
    {2, "p1.user_42", "dst.p1.6.user_42"},
    {2, "p1.-", "dst.p1.1.-"},
    {2, "p1.\xc3\xb1", "dst.p1.2.\xc3\xb1"},
    {3, "pl.a.b", "dst.pl.6"},
    {4, "pbig.a.a", "dst.pbig.490496.a.a"},
    {4, "pbig.b.1", "dst.pbig.696175.b.1"},
    {4, "pbig.bar.0", "dst.pbig.615129.bar.0"},
    {4, "pbig.qux.qux", "dst.pbig.319482.qux.qux"},
    {4, "pbig.1.baz", "dst.pbig.862863.1.baz"},
    {4, "pbig.123.bar", "dst.pbig.237285.123.bar"},
    {4, "pbig.order-17.foo", "dst.pbig.602483.order-17.foo"},
    {4, "pbig.ABC.b", "dst.pbig.894310.ABC.b"},
    {4, "pbig.z9.a", "dst.pbig.777393.z9.a"},
    {4, "pbig.user_42.1", "dst.pbig.998681.user_42.1"},
    {5, "pneg.a", "dst.pneg.3826002220.a"},
    {5, "pneg.foo", "dst.pneg.2851307223.foo"},
    {5, "pneg.baz", "dst.pneg.1857515650.baz"},
    {5, "pneg.0", "dst.pneg.890022063.0"},
    {5, "pneg.12", "dst.pneg.501951850.12"},
    {5, "pneg.acme", "dst.pneg.1174237615.acme"},
    {5, "pneg.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
     "dst.pneg.2226015845.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {5, "pneg.h\xc3\xa9llo", "dst.pneg.1252296000.h\xc3\xa9llo"},
    {6, "pwrap.a", "dst.pwrap.0.a"},
    {6, "pwrap.bar", "dst.pwrap.2.bar"},
    {6, "pwrap.0", "dst.pwrap.3.0"},
    {6, "pwrap.123", "dst.pwrap.1.123"},
    {6, "pwrap.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
     "dst.pwrap.5.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {6, "pwrap.z9", "dst.pwrap.0.z9"},
    {7, "p0.a.a", "dst.p0.3.a.a"},
    {7, "p0.baz.0", "dst.p0.3.baz.0"},
    {7, "p0.123.baz", "dst.p0.3.123.baz"},
    {7, "p0.h\xc3\xa9llo.foo", "dst.p0.3.h\xc3\xa9llo.foo"},
    {8, "pfwc.a.x.y", "dst.pfwc.0.a.x.y"},
    {8, "pfwc.bar.x.y", "dst.pfwc.2.bar.x.y"},
    {8, "pfwc.0.x.y", "dst.pfwc.3.0.x.y"},
    {8, "pfwc.123.x.y", "dst.pfwc.1.123.x.y"},
    {8, "pfwc.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.x.y",
     "dst.pfwc.5.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.x.y"},
    {8, "pfwc.z9.x.y", "dst.pfwc.0.z9.x.y"},
    {9, "pfs.a.x.y", "dst.pfs.4.a.x.y"},
    {9, "pfs.bar.x.y", "dst.pfs.6.bar.x.y"},
    {9, "pfs.0.x.y", "dst.pfs.1.0.x.y"},
    {9, "pfs.123.x.y", "dst.pfs.5.123.x.y"},
    {9, "pfs.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.x.y",
     "dst.pfs.3.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.x.y"},
    {9, "pfs.z9.x.y", "dst.pfs.8.z9.x.y"},
    {10, "ws.A.B.C", "dst.ws.ws.ws.B.C"},
    {10, "ws.A.B", "dst.ws.ws.ws.B"},
    {11, "split.abc", "dst.split.a.b.c"},
    {11, "split.h\xc3\xa9llo", "dst.split.h.\xc3\xa9.l.l.o"},
    {11, "split.a\xc3\xbf" "b", "dst.split.a.\xc3\xbf.b"},
    {12, "sp.-abc-def--ghi-", "dst.sp.abc.def.ghi"},
    {12, "sp.a--", "dst.sp.a"},
    {12, "sp.abc", "dst.sp.abc"},
    {13, "sfl.12345", "dst.sfl.123.45.12345"},
    {13, "sfl.12", "dst.sfl.12.12"},
    {13, "sfl.123", "dst.sfl.123.123"},
    {14, "slr.1234567890", "dst.slr.123.456.789.0.1.234.567.890"},
    {14, "slr.123", "dst.slr.123.123"},
    {14, "slr.1234", "dst.slr.123.4.1.234"},
    {14, "slr.12", "dst.slr.12.12"},
    {15, "lr.1234", "dst.lr.12.34"},
    {15, "lr.12", "dst.lr.12.12"},
    {15, "lr.1", "dst.lr.1.1"},
    {16, "strip.a", "dst.a"},
    {16, "strip.a.b.c", "dst.a.b.c"},
};

START_TEST(test_observed)
{
    const struct observed_case *o = &observed_cases[_i];
    struct apply_case c = {observed_mappings[o->mapping][0], observed_mappings[o->mapping][1],
                           o->subject, o->expected};
    test_apply_case(&c);
}
END_TEST

/* ---- quirks and edges, read from nats-server's code -------------------------------------- */

/* Each from a reading of server/subject_transform.go (nats-server 2.15): what its Match and
 * TransformTokenizedSubject make of these. The first two split() rows are mapped by a running
 * 2.15.1 too, but to subjects with an empty token, which it then delivers to nobody. */
static const struct apply_case quirk_cases[] = {
    {"sp.*", "dst.sp.{{split(1,-)}}", "sp.--a", "dst.sp..a"},
    {"sp.*", "dst.sp.{{split(1,-)}}", "sp.-", "dst.sp."},
    {"*", "{{split(1,ab)}}", "xabyabab", "x.y"},
    {"*", "{{split(1,-)}}", "abc", "abc"},
    /* an empty delimiter cuts between UTF-8 characters as Go decodes them: an invalid or cut
     * sequence is one character a byte */
    {"*", "{{split(1,)}}", "a\xff" "b", "a.\xff.b"},
    {"*", "{{split(1,)}}", "\xe2\x82", "\xe2.\x82"},
    {"*", "{{split(1,)}}", "\xe2\x82\xac!", "\xe2\x82\xac.!"},
    {"*", "{{split(1,)}}", "\xf0\x9f\x98\x80x", "\xf0\x9f\x98\x80.x"},
    {"*", "{{split(1,)}}", "\xed\xa0\x80", "\xed.\xa0.\x80"},         /* a surrogate */
    {"*", "{{split(1,)}}", "\xc0\xaf", "\xc0.\xaf"},                   /* overlong */
    {"*", "{{split(1,)}}", "\xe0\x80\xaf", "\xe0.\x80.\xaf"},          /* overlong */
    {"*", "{{split(1,)}}", "\xf4\x90\x80\x80", "\xf4.\x90.\x80.\x80"}, /* past U+10FFFF */
    {"*", "{{split(1,)}}", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},    /* U+10FFFF */
    /* a source token that starts with '*' matches any token (isSubsetMatch) */
    {"q.*x", "r", "q.anything", "r"},
    {"q.*x", "r", "q.*x", "r"},
    /* "$" with anything but a number is text */
    {"a.*", "b.$foo.$1.$", "a.x", "b.$foo.x.$"},
    {"*", "$01.{{wildcard(+1)}}.{{ Wildcard ( 1 ) }}", "abc", "abc.abc.abc"},
    /* a wildcard index of 0 or less names the first token */
    {"*.>", "{{wildcard(0)}}.$-5.>", "a.b.c", "a.a.b.c"},
    {"x.*", "{{partition(10,0)}}.{{partition(10)}}", "x.foo", "5.7"},
    /* without wildcards in the source, partition() hashes the whole subject whatever tokens it
     * names ("pl.a.b" hashes to 6, observed above) */
    {"pl.a.b", "x.{{partition(10,5,9)}}", "pl.a.b", "x.6"},
    {"*", "{{ Partition ( 10 , 1 ) }}", "foo", "3"},
    {"*", "{{partition(1,1)}}", "x", "0"},
    {"*", "{{partition(-4294967296,1)}}", "x", "0"}, /* Go's int32 of the count is 0 */
    {"*.*", "{{partition(10,1,2)}}", "fo.o", "3"},   /* "foo": no separator in the key */
    {"*", "{{partition(10)}}", "foo", "3"},
    /* a ">" destination carries the source's ">" tokens */
    {">", "x.>", "a.b", "x.a.b"},
    {"foo.>", ">", "foo.a.b", "a.b"},
    {"foo.*.>", "$1.>", "foo.a.b", "a.b"},
    /* positions, sizes and lengths outside (0, token length) leave the token whole */
    {"*", "{{splitfromleft(1,0)}}.{{splitfromright(1,3)}}", "abc", "abc.abc"},
    {"*", "{{slicefromleft(1,-1)}}.{{slicefromright(1,2147483647)}}", "abc", "abc.abc"},
    {"*", "{{right(1,0)}}.{{left(1,-3)}}", "abc", "abc.abc"},
    {"*", "{{slicefromleft(1,2)}}.{{slicefromright(1,2)}}", "abcd", "ab.cd.ab.cd"},
    {"*", "{{slicefromleft(1,2)}}.{{slicefromright(1,2)}}", "abcde", "ab.cd.e.a.bc.de"},
    {"*", "{{slicefromleft(1,1)}}", "abc", "a.b.c"},
    {"*", "{{splitfromleft(1,1)}}.{{splitfromright(1,1)}}", "ab", "a.b.a.b"},
    /* whitespace in a subject is not looked at */
    {"*", "x.$1", "a b", "x.a b"},
};

START_TEST(test_quirks)
{
    test_apply_case(&quirk_cases[_i]);
}
END_TEST

/* Subjects the source does not match, and the transforms that match everything. */
static const struct apply_case match_cases[] = {
    {"foo.*", "bar.$1", "foo", NULL},
    {"foo.*", "bar.$1", "foo.a.b", NULL},
    {"foo.*", "bar.$1", "bar.a", NULL},
    {"foo.*", "bar.$1", "fo.a", NULL},
    {"foo.*", "bar.$1", "fooo.a", NULL},
    {"foo.*", "bar.$1", "foo.*", NULL}, /* not a literal subject */
    {"foo.*", "bar.$1", "foo.>", NULL},
    {"foo.*", "bar.$1", "foo.", NULL},
    {"foo.*", "bar.$1", ".a", NULL},
    {"foo.*", "bar.$1", "", NULL},
    {"foo.*", "bar.$1", "foo.a", "bar.a"},
    {"foo.*", "bar.$1", "foo.*a", "bar.*a"},
    {"foo.>", "bar.>", "foo", NULL},
    {"foo.>", "bar.>", "foo..a", NULL},
    {"foo.>", "bar.>", "foo.a..", NULL},
    {"foo.>", "bar.>", "foo.a.*", NULL}, /* Match looks at every token */
    {"foo", "bar", "foo.bar", NULL},
    {"foo.bar", "x", "foo", NULL},
    {">", "x.>", "a..b", NULL},
    /* no destination: the source filters, the subject stays */
    {"foo.*", "", "foo.a", "foo.a"},
    {"foo.*", NULL, "bar.a", NULL},
    {"foo.*", "", "foo.*", NULL},
    /* a source ">" with a destination ">" or none: every subject as it is, even invalid */
    {">", "", "a..b", "a..b"},
    {">", ">", "", ""},
    {NULL, NULL, "*", "*"},
    {"", ">", "a.>", "a.>"},
};

START_TEST(test_match)
{
    test_apply_case(&match_cases[_i]);
}
END_TEST

/* With no destination the source still filters, so it must be a subject; the check, like
 * nats-server, takes any source then. */
START_TEST(test_no_destination)
{
    char error[SUBJECT_TRANSFORM_ERROR_SIZE] = "";
    struct subject_transform *transform = NULL;
    ck_assert_int_eq(subject_transform_new("foo..", "", &transform, error, sizeof error),
                     -EINVAL);
    ck_assert_ptr_null(transform);
    ck_assert_str_eq(error, "invalid subject");
    ck_assert_int_eq(subject_transform_new("a.>.b", NULL, &transform, error, sizeof error),
                     -EINVAL);
    ck_assert_int_eq(subject_transform_check("foo..", "", true, error, sizeof error), 0);
    ck_assert_int_eq(subject_transform_check("foo..", NULL, false, error, sizeof error), 0);
    subject_transform_free(NULL);
}
END_TEST

/* Only `length` bytes of the subject are read. */
START_TEST(test_respects_length)
{
    struct subject_transform *transform = test_new("foo", "x");
    char out[8];
    size_t length;
    ck_assert_int_eq(subject_transform_apply(transform, "foo.bar", 3, out, sizeof out, &length),
                     0);
    ck_assert_str_eq(out, "x");
    ck_assert(subject_transform_matches(transform, "foo.bar", 3));
    ck_assert(!subject_transform_matches(transform, "foo.bar", 7));
    subject_transform_free(transform);
    transform = test_new("foo.>", "x.>");
    ck_assert_int_eq(subject_transform_apply(transform, "foo.a.b.c", 5, out, sizeof out, &length),
                     0);
    ck_assert_str_eq(out, "x.a");
    subject_transform_free(transform);
}
END_TEST

/* Every size of `out` short of the result (the terminator included) is -ENOSPC. */
START_TEST(test_out_sizes)
{
    const struct apply_case *c = &go_match_cases[_i];
    struct subject_transform *transform = test_new(c->source, c->destination);
    size_t expected = strlen(c->expected);
    char out[64];
    ck_assert_uint_lt(expected, sizeof out);
    for (size_t size = 0; size <= expected; size++) {
        size_t length = SIZE_MAX;
        ck_assert_int_eq(subject_transform_apply(transform, c->subject, strlen(c->subject), out,
                                                 size, &length),
                         -ENOSPC);
        ck_assert_uint_eq(length, SIZE_MAX);
    }
    size_t length;
    ck_assert_int_eq(subject_transform_apply(transform, c->subject, strlen(c->subject), out,
                                             expected + 1, &length),
                     0);
    ck_assert_uint_eq(length, expected);
    ck_assert_str_eq(out, c->expected);
    subject_transform_free(transform);
}
END_TEST

/* ---- bounds ---------------------------------------------------------------------------- */

static uint32_t test_fnv1a(const char *bytes, size_t length)
{
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < length; i++) {
        hash = (hash ^ (uint8_t)bytes[i]) * 16777619u;
    }
    return hash;
}

/* A source of SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX bytes is taken, one more is refused, and
 * a source with as many wildcards as fit is mapped from its last one too. */
START_TEST(test_long_source)
{
    static char source[SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX + 2];
    static char subject[4 * SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX];
    static char out[TEST_OUT_SIZE];
    char error[SUBJECT_TRANSFORM_ERROR_SIZE];
    struct subject_transform *transform = NULL;
    memset(source, 'a', SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX + 1);
    source[SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX + 1] = '\0';
    ck_assert_int_eq(subject_transform_new(source, "x", &transform, error, sizeof error),
                     -EINVAL);
    ck_assert_str_eq(error, "invalid subject");
    ck_assert_int_eq(subject_transform_new("x", source, &transform, error, sizeof error),
                     -EINVAL);
    ck_assert_int_eq(subject_transform_check("x", source, true, error, sizeof error), -EINVAL);
    source[SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX] = '\0';
    subject_transform_free(test_new(source, "x"));
    subject_transform_free(test_new("x", source));

    /* "*.*. ... .*": 2048 wildcards in 4095 bytes */
    enum { STARS = SUBJECT_TRANSFORM_SUBJECT_LENGTH_MAX / 2 };
    size_t at = 0;
    size_t subject_length = 0;
    for (int i = 0; i < STARS; i++) {
        at += (size_t)snprintf(source + at, sizeof source - at, i ? ".*" : "*");
        subject_length += (size_t)snprintf(subject + subject_length,
                                           sizeof subject - subject_length, i ? ".t%d" : "t%d", i);
    }
    char destination[128];
    snprintf(destination, sizeof destination, "{{wildcard(%d)}}.$1.{{partition(1000003,%d,1)}}",
             STARS, STARS);
    transform = test_new(source, destination);
    size_t length;
    ck_assert_int_eq(subject_transform_apply(transform, subject, subject_length, out, sizeof out,
                                             &length),
                     0);
    char expected[64];
    uint32_t hash = test_fnv1a("t2047t0", 7);
    snprintf(expected, sizeof expected, "t%d.t0.%u", STARS - 1, hash % 1000003u);
    ck_assert_str_eq(out, expected);
    /* one token short, one too many */
    ck_assert(!subject_transform_matches(transform, subject, subject_length - 6));
    memcpy(subject + subject_length, ".z", 2);
    ck_assert(!subject_transform_matches(transform, subject, subject_length + 2));
    subject_transform_free(transform);
    snprintf(destination, sizeof destination, "{{wildcard(%d)}}", STARS + 1);
    ck_assert_int_eq(subject_transform_new(source, destination, &transform, error, sizeof error),
                     -EINVAL);
}
END_TEST

/* A subject longer than the bound still maps under a ">" (the bound is on the transform). */
START_TEST(test_long_subject)
{
    enum { LENGTH = 100000 };
    char *subject = malloc(LENGTH);
    char *out = malloc(LENGTH + 8);
    ck_assert_ptr_nonnull(subject);
    ck_assert_ptr_nonnull(out);
    for (size_t i = 0; i < LENGTH; i++) {
        subject[i] = i % 2 ? '.' : 'a';
    }
    subject[LENGTH - 1] = 'z';
    struct subject_transform *transform = test_new("a.>", "x.{{partition(3)}}.>");
    size_t length;
    ck_assert_int_eq(subject_transform_apply(transform, subject, LENGTH, out, LENGTH + 8, &length),
                     0);
    char head[8];
    snprintf(head, sizeof head, "x.%u.", test_fnv1a(subject, LENGTH) % 3);
    ck_assert_uint_eq(length, strlen(head) + LENGTH - 2);
    ck_assert(memcmp(out, head, strlen(head)) == 0);
    ck_assert(memcmp(out + strlen(head), subject + 2, LENGTH - 2) == 0);
    ck_assert_int_eq(subject_transform_apply(transform, subject, LENGTH, out, LENGTH, &length),
                     -ENOSPC);
    subject_transform_free(transform);
    free(out);
    free(subject);
}
END_TEST

/* Building fails cleanly without memory; checking and applying allocate nothing. */
START_TEST(test_allocation)
{
    char error[SUBJECT_TRANSFORM_ERROR_SIZE];
    struct subject_transform *transform = NULL;
    int64_t live = alloc_fail.live_count;
    alloc_fail_at(1);
    alloc_fail.armed = true;
    int rc = subject_transform_new("a.*", "b.$1", &transform, error, sizeof error);
    alloc_fail.armed = false;
    ck_assert_int_eq(rc, -ENOMEM);
    ck_assert_ptr_null(transform);
    ck_assert_int_eq(alloc_fail.live_count, live);

    alloc_fail_at(0);
    alloc_fail.armed = true;
    rc = subject_transform_new("a.*", "b.$1.{{random(3)}}", &transform, error, sizeof error);
    alloc_fail.armed = false;
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(alloc_fail.armed_count, 1); /* one block */

    char out[32];
    size_t length;
    alloc_fail_at(0);
    alloc_fail.armed = true;
    int check = subject_transform_check("a.*", "b.{{partition(3,1)}}", true, error, sizeof error);
    int apply = subject_transform_apply(transform, "a.x", 3, out, sizeof out, &length);
    alloc_fail.armed = false;
    ck_assert_int_eq(check, 0);
    ck_assert_int_eq(apply, 0);
    ck_assert_uint_eq(alloc_fail.armed_count, 0);
    subject_transform_free(transform);
    ck_assert_int_eq(alloc_fail.live_count, live);
}
END_TEST

/* ---- differential test ----------------------------------------------------------------- */

/* A model of nats-server's runtime: transforms are generated from a description, so the model
 * needs no parser, and it maps a subject the way TransformTokenizedSubject's statements do
 * (tokens split into an array, strings.Split into pieces, the slice loops as Go writes them). */
enum model_kind {
    M_LITERAL,
    M_DOLLAR,
    M_WILDCARD,
    M_PARTITION,
    M_SPLIT_FROM_LEFT,
    M_SPLIT_FROM_RIGHT,
    M_SLICE_FROM_LEFT,
    M_SLICE_FROM_RIGHT,
    M_LEFT,
    M_RIGHT,
    M_SPLIT,
    M_KIND_COUNT,
    M_TAIL = M_KIND_COUNT,
};

enum { MODEL_TOKENS_MAX = 16, MODEL_PARTS_MAX = 6, MODEL_TEXT_SIZE = 512 };

struct model_part {
    enum model_kind kind;
    int index;    /* a wildcard number; 0 or less reads token 0 */
    int argument; /* the count, position, size or length */
    int partition_indexes[3];
    int partition_index_count;
    const char *delimiter;
};

struct model {
    char source[MODEL_TEXT_SIZE];
    char destination[MODEL_TEXT_SIZE];
    int star_position[MODEL_TOKENS_MAX + 1]; /* of the n-th '*' (from 1) */
    int stars;
    int source_count;
    bool wild;
    struct model_part part[MODEL_PARTS_MAX + 1];
    int part_count;
};

static uint64_t model_random_state;

static uint32_t model_random(uint32_t bound)
{
    model_random_state ^= model_random_state << 13;
    model_random_state ^= model_random_state >> 7;
    model_random_state ^= model_random_state << 17;
    return (uint32_t)(model_random_state % bound);
}

static void model_append(char *text, const char *format, int a, int b)
{
    size_t used = strlen(text);
    snprintf(text + used, MODEL_TEXT_SIZE - used, format, a, b);
}

/* The destination token for a part; names as nats-server spells them, cases varied. */
static void model_part_text(const struct model_part *p, char *text)
{
    static const char *const names[M_KIND_COUNT] = {
        [M_SPLIT_FROM_LEFT] = "splitFromLeft", [M_SPLIT_FROM_RIGHT] = "SplitFromRight",
        [M_SLICE_FROM_LEFT] = "slicefromleft", [M_SLICE_FROM_RIGHT] = "SliceFromRight",
        [M_LEFT] = "left",                     [M_RIGHT] = "Right",
    };
    switch (p->kind) {
    case M_LITERAL:
        model_append(text, "lit", 0, 0);
        return;
    case M_TAIL:
        model_append(text, ">", 0, 0);
        return;
    case M_DOLLAR:
        model_append(text, "$%d", p->index, 0);
        return;
    case M_WILDCARD:
        model_append(text, "{{wildcard(%d)}}", p->index, 0);
        return;
    case M_PARTITION:
        model_append(text, "{{partition(%d", p->argument, 0);
        for (int i = 0; i < p->partition_index_count; i++) {
            model_append(text, i % 2 ? ", %d" : ",%d", p->partition_indexes[i], 0);
        }
        model_append(text, ")}}", 0, 0);
        return;
    case M_SPLIT: {
        size_t used = strlen(text);
        snprintf(text + used, MODEL_TEXT_SIZE - used, "{{split(%d,%s)}}", p->index,
                 p->delimiter);
        return;
    }
    default: {
        size_t used = strlen(text);
        snprintf(text + used, MODEL_TEXT_SIZE - used, "{{%s(%d,%d)}}", names[p->kind], p->index,
                 p->argument);
        return;
    }
    }
}

/* A source of 1 to 4 tokens ("*", "a" or "b"), perhaps a last ">", and a destination of up to
 * MODEL_PARTS_MAX parts that fits it. */
static void model_generate(struct model *m)
{
    memset(m, 0, sizeof *m);
    int count = 1 + (int)model_random(4);
    for (int i = 0; i < count; i++) {
        bool star = model_random(2) == 0;
        const char *token = star ? "*" : (model_random(2) ? "a" : "b");
        size_t used = strlen(m->source);
        snprintf(m->source + used, MODEL_TEXT_SIZE - used, "%s%s", i ? "." : "", token);
        if (star) {
            m->star_position[++m->stars] = i;
        }
    }
    bool tail = model_random(3) == 0;
    if (tail) {
        model_append(m->source, ".>", 0, 0);
    }
    m->source_count = count + tail;
    m->wild = m->stars > 0 || tail;
    static const char *const delimiters[] = {"-", "ab", "", "\xc3\xa9", "a"};
    static const int counts[] = {0, 1, 7, -7, 1000003, 10};
    m->part_count = 1 + (int)model_random(MODEL_PARTS_MAX);
    for (int i = 0; i < m->part_count; i++) {
        struct model_part *p = &m->part[i];
        /* without wildcards only literals and partition() are allowed */
        p->kind = m->wild ? (enum model_kind)model_random(M_KIND_COUNT)
                          : (model_random(2) ? M_LITERAL : M_PARTITION);
        p->index = (int)model_random((uint32_t)m->stars + 2) - 1; /* -1 to stars */
        p->argument = (int)model_random(12) - 2;
        p->delimiter = delimiters[model_random(sizeof delimiters / sizeof *delimiters)];
        if (p->kind == M_PARTITION) {
            p->argument = counts[model_random(sizeof counts / sizeof *counts)];
            p->partition_index_count = (int)model_random(4);
            for (int j = 0; j < p->partition_index_count; j++) {
                p->partition_indexes[j] = (int)model_random((uint32_t)m->stars + 2) - 1;
            }
        }
    }
    if (tail) {
        m->part[m->part_count++] = (struct model_part){.kind = M_TAIL};
    }
    for (int i = 0; i < m->part_count; i++) {
        if (i > 0) {
            model_append(m->destination, ".", 0, 0);
        }
        model_part_text(&m->part[i], m->destination);
    }
}

/* A subject the source matches: its literal tokens, a random token for each "*", one to three
 * for a ">". Tokens are 1 to 6 bytes of an alphabet with delimiters and broken UTF-8. */
static size_t model_subject(const struct model *m, char *subject)
{
    static const char alphabet[] = "ab-1\xc3\xa9\xff\xe2\x82\xac\xed\xa0\x80\xf0\x9f\x98";
    size_t length = 0;
    const char *source = m->source;
    for (int i = 0; i < m->source_count; i++) {
        const char *dot = strchr(source, '.');
        size_t token_length = dot ? (size_t)(dot - source) : strlen(source);
        int repeat = token_length == 1 && source[0] == '>' ? 1 + (int)model_random(3) : 1;
        for (int r = 0; r < repeat; r++) {
            if (length > 0) {
                subject[length++] = '.';
            }
            if (token_length == 1 && (source[0] == '*' || source[0] == '>')) {
                int n = 1 + (int)model_random(6);
                for (int k = 0; k < n; k++) {
                    subject[length++] = alphabet[model_random(sizeof alphabet - 1)];
                }
            } else {
                memcpy(subject + length, source, token_length);
                length += token_length;
            }
        }
        source = dot ? dot + 1 : source + token_length;
    }
    subject[length] = '\0';
    return length;
}

struct model_tokens {
    const char *start[MODEL_TOKENS_MAX];
    size_t length[MODEL_TOKENS_MAX];
    int count;
};

static void model_split_subject(const char *subject, size_t length, struct model_tokens *tokens)
{
    tokens->count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i == length || subject[i] == '.') {
            tokens->start[tokens->count] = subject + start;
            tokens->length[tokens->count++] = i - start;
            start = i + 1;
        }
    }
}

static void model_put(char *out, size_t *at, const char *bytes, size_t length)
{
    memcpy(out + *at, bytes, length);
    *at += length;
}

/* utf8.DecodeRuneInString's size, decoded the long way: the code point is built and checked
 * against its length's minimum, the surrogates and U+10FFFF. */
static size_t model_rune_size(const unsigned char *s, size_t n)
{
    int size = s[0] < 0x80 ? 1 : s[0] >> 5 == 6 ? 2 : s[0] >> 4 == 14 ? 3 : s[0] >> 3 == 30 ? 4 : 0;
    if (size <= 1 || (size_t)size > n) {
        return 1;
    }
    uint32_t cp = s[0] & (0x7F >> size);
    for (int i = 1; i < size; i++) {
        if (s[i] >> 6 != 2) {
            return 1;
        }
        cp = cp << 6 | (s[i] & 0x3F);
    }
    static const uint32_t minimum[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minimum[size] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        return 1;
    }
    return (size_t)size;
}

/* strings.Split(token, delimiter), then the split case's loop. */
static void model_split(const char *token, size_t n, const char *delimiter, char *out,
                        size_t *at)
{
    const char *piece[64];
    size_t piece_length[64];
    int count = 0;
    size_t d = strlen(delimiter);
    size_t start = 0;
    for (size_t i = 0; i < n;) {
        if (d == 0) {
            size_t size = model_rune_size((const unsigned char *)token + i, n - i);
            piece[count] = token + i;
            piece_length[count++] = size;
            i += size;
        } else if (i + d <= n && memcmp(token + i, delimiter, d) == 0) {
            piece[count] = token + start;
            piece_length[count++] = i - start;
            i += d;
            start = i;
        } else {
            i++;
        }
    }
    if (d > 0) {
        piece[count] = token + start;
        piece_length[count++] = n - start;
    }
    for (int j = 0; j < count; j++) {
        model_put(out, at, piece[j], piece_length[j]);
        if (j < count - 1 && piece_length[j + 1] != 0 && !(j == 0 && piece_length[j] == 0)) {
            model_put(out, at, ".", 1);
        }
    }
}

static void model_slice_from_left(const char *token, int n, int size, char *out, size_t *at)
{
    for (int i = 0; i + size <= n; i += size) {
        if (i != 0) {
            model_put(out, at, ".", 1);
        }
        model_put(out, at, token + i, (size_t)size);
        if (i + size != n && i + size + size > n) {
            model_put(out, at, ".", 1);
            model_put(out, at, token + i + size, (size_t)(n - i - size));
            break;
        }
    }
}

static void model_slice_from_right(const char *token, int n, int size, char *out, size_t *at)
{
    int remainder = n % size;
    if (remainder > 0) {
        model_put(out, at, token, (size_t)remainder);
        model_put(out, at, ".", 1);
    }
    for (int i = remainder; i + size <= n; i += size) {
        model_put(out, at, token + i, (size_t)size);
        if (i + size < n) {
            model_put(out, at, ".", 1);
        }
    }
}

static void model_partition(const struct model *m, const struct model_part *p,
                            const struct model_tokens *tokens, const char *subject,
                            size_t length, char *out, size_t *at)
{
    char key[MODEL_TEXT_SIZE];
    size_t key_length = 0;
    if (!m->wild || p->partition_index_count == 0) {
        memcpy(key, subject, length);
        key_length = length;
    }
    for (int j = 0; m->wild && j < p->partition_index_count; j++) {
        int w = p->partition_indexes[j];
        int position = w >= 1 ? m->star_position[w] : 0;
        memcpy(key + key_length, tokens->start[position], tokens->length[position]);
        key_length += tokens->length[position];
    }
    char text[16];
    int32_t count = (int32_t)p->argument;
    snprintf(text, sizeof text, "%u",
             count == 0 ? 0u : test_fnv1a(key, key_length) % (uint32_t)count);
    model_put(out, at, text, strlen(text));
}

/* One function part on the token it names. */
static void model_function(const struct model_part *p, const char *token, int n, char *out,
                           size_t *at)
{
    int a = p->argument;
    bool inside = a > 0 && a < n;
    switch (p->kind) {
    case M_SPLIT_FROM_LEFT:
    case M_SPLIT_FROM_RIGHT: {
        int cut = p->kind == M_SPLIT_FROM_LEFT ? a : n - a;
        model_put(out, at, token, (size_t)(inside ? cut : n));
        if (inside) {
            model_put(out, at, ".", 1);
            model_put(out, at, token + cut, (size_t)(n - cut));
        }
        return;
    }
    case M_SLICE_FROM_LEFT:
    case M_SLICE_FROM_RIGHT:
        if (!inside) {
            model_put(out, at, token, (size_t)n);
        } else if (p->kind == M_SLICE_FROM_LEFT) {
            model_slice_from_left(token, n, a, out, at);
        } else {
            model_slice_from_right(token, n, a, out, at);
        }
        return;
    case M_LEFT:
        model_put(out, at, token, (size_t)(inside ? a : n));
        return;
    case M_RIGHT:
        model_put(out, at, inside ? token + n - a : token, (size_t)(inside ? a : n));
        return;
    case M_SPLIT:
        model_split(token, (size_t)n, p->delimiter, out, at);
        return;
    default: /* $N and wildcard() */
        model_put(out, at, token, (size_t)n);
        return;
    }
}

static size_t model_apply(const struct model *m, const char *subject, size_t length, char *out)
{
    struct model_tokens tokens;
    model_split_subject(subject, length, &tokens);
    size_t at = 0;
    for (int i = 0; i < m->part_count; i++) {
        const struct model_part *p = &m->part[i];
        if (p->kind == M_TAIL) {
            break;
        }
        if (p->kind == M_LITERAL) {
            model_put(out, &at, "lit", 3);
        } else if (p->kind == M_PARTITION) {
            model_partition(m, p, &tokens, subject, length, out, &at);
        } else {
            int position = p->index >= 1 ? m->star_position[p->index] : 0;
            model_function(p, tokens.start[position], (int)tokens.length[position], out, &at);
        }
        if (i < m->part_count - 1) {
            model_put(out, &at, ".", 1);
        }
    }
    if (m->part[m->part_count - 1].kind == M_TAIL) {
        for (int i = m->source_count - 1; i < tokens.count; i++) {
            model_put(out, &at, tokens.start[i], tokens.length[i]);
            if (i < tokens.count - 1) {
                model_put(out, &at, ".", 1);
            }
        }
    }
    out[at] = '\0';
    return at;
}

START_TEST(test_differential)
{
    model_random_state = 0x9E3779B97F4A7C15u + (uint64_t)_i;
    for (int round = 0; round < 20000; round++) {
        struct model m;
        model_generate(&m);
        struct subject_transform *transform = test_new(m.source, m.destination);
        for (int s = 0; s < 4; s++) {
            char subject[MODEL_TEXT_SIZE];
            size_t length = model_subject(&m, subject);
            char want[4 * MODEL_TEXT_SIZE];
            size_t want_length = model_apply(&m, subject, length, want);
            char got[4 * MODEL_TEXT_SIZE];
            size_t got_length = 0;
            int rc = subject_transform_apply(transform, subject, length, got, sizeof got,
                                             &got_length);
            ck_assert_msg(rc == 0 && got_length == want_length &&
                              memcmp(got, want, want_length) == 0,
                          "\"%s\" -> \"%s\" on \"%s\": %d \"%s\", model \"%s\"", m.source,
                          m.destination, subject, rc, got, want);
        }
        subject_transform_free(transform);
    }
}
END_TEST

static Suite *subject_transform_suite(void)
{
    Suite *suite = suite_create("subject_transform");
    TCase *go = tcase_create("nats_server_tests");
    tcase_add_loop_test(go, test_go_match, 0,
                        (int)(sizeof go_match_cases / sizeof go_match_cases[0]));
    tcase_add_loop_test(go, test_go_errors, 0,
                        (int)(sizeof go_error_cases / sizeof go_error_cases[0]));
    tcase_add_loop_test(go, test_go_ok, 0, (int)(sizeof go_ok_cases / sizeof go_ok_cases[0]));
    tcase_add_test(go, test_random_range);
    suite_add_tcase(suite, go);
    TCase *observed = tcase_create("observed");
    tcase_add_loop_test(observed, test_observed, 0,
                        (int)(sizeof observed_cases / sizeof observed_cases[0]));
    suite_add_tcase(suite, observed);
    TCase *apply = tcase_create("apply");
    tcase_add_loop_test(apply, test_quirks, 0,
                        (int)(sizeof quirk_cases / sizeof quirk_cases[0]));
    tcase_add_loop_test(apply, test_match, 0,
                        (int)(sizeof match_cases / sizeof match_cases[0]));
    tcase_add_test(apply, test_no_destination);
    tcase_add_test(apply, test_respects_length);
    tcase_add_loop_test(apply, test_out_sizes, 0,
                        (int)(sizeof go_match_cases / sizeof go_match_cases[0]));
    suite_add_tcase(suite, apply);
    TCase *bounds = tcase_create("bounds");
    tcase_add_test(bounds, test_long_source);
    tcase_add_test(bounds, test_long_subject);
    tcase_add_test(bounds, test_allocation);
    suite_add_tcase(suite, bounds);
    TCase *differential = tcase_create("differential");
    tcase_add_loop_test(differential, test_differential, 0, 4);
    suite_add_tcase(suite, differential);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(subject_transform_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
