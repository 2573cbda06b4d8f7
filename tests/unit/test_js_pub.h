/* What the js_pub test sources share (test_js_pub.c, test_js_pub_directives.c,
 * test_js_pub_check.c, test_js_pub_ack.c, one test binary): text literals, parsing a
 * block from a heap copy of exactly its length (so ASan catches a read past it), and the
 * suite's test cases. One test thread. */
#ifndef IONATS_TESTS_UNIT_TEST_JS_PUB_H
#define IONATS_TESTS_UNIT_TEST_JS_PUB_H

#include "proto/js_pub.h"

#include <check.h>
#include <stddef.h>

/* A string literal as (bytes, length), and as a struct js_pub_text. */
#define LIT(s) (s), (sizeof(s) - 1)
#define TEXT(s) ((struct js_pub_text){(s), sizeof(s) - 1})

/* Parses a heap copy of `block`; the caller frees the returned copy after the checks, as
 * the directives borrow from it. */
char *parse(const char *block, size_t length, struct js_pub_directives *directives);

/* Header lookup and the values read (test_js_pub_directives.c), the stages' checks
 * (test_js_pub_check.c), the acks (test_js_pub_ack.c). */
TCase *js_pub_lookup_tcase(void);
TCase *js_pub_values_tcase(void);
TCase *js_pub_checks_tcase(void);
TCase *js_pub_acks_tcase(void);

#endif
