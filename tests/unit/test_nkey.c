/* nkeys' text form (proto/nkey.h): a known public key decodes, and encode/decode round
 * trip; a wrong type, checksum, length or alphabet is refused. The known key was accepted
 * by nats-server 2.15.1 as a user nkey (its seed signed the nonce libnats was given). */
#include "proto/nkey.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char known_user[] = "UDSAGCMYZ7K22FZDYFU7SVVKBOPLQYM3LGJL2YJMFL2CR26HT6G7AGME";

START_TEST(test_nkey_round_trip)
{
    uint8_t key[NKEY_KEY_SIZE];
    ck_assert(nkey_public_decode(known_user, strlen(known_user), NKEY_TYPE_USER, key));
    char text[NKEY_PUBLIC_LENGTH + 1];
    nkey_public_encode(NKEY_TYPE_USER, key, text);
    ck_assert_str_eq(text, known_user);
    /* the same key as an account key starts with 'A' and is no user key */
    nkey_public_encode(NKEY_TYPE_ACCOUNT, key, text);
    ck_assert_int_eq(text[0], 'A');
    uint8_t again[NKEY_KEY_SIZE];
    ck_assert(!nkey_public_decode(text, strlen(text), NKEY_TYPE_USER, again));
    ck_assert(nkey_public_decode(text, strlen(text), NKEY_TYPE_ACCOUNT, again));
    ck_assert_mem_eq(again, key, sizeof key);
}
END_TEST

START_TEST(test_nkey_refusals)
{
    uint8_t key[NKEY_KEY_SIZE];
    char text[NKEY_PUBLIC_LENGTH + 2];
    memcpy(text, known_user, sizeof known_user);
    text[10] = text[10] == 'A' ? 'B' : 'A'; /* checksum no longer matches */
    ck_assert(!nkey_public_decode(text, NKEY_PUBLIC_LENGTH, NKEY_TYPE_USER, key));
    memcpy(text, known_user, sizeof known_user);
    text[10] = '1'; /* outside the alphabet */
    ck_assert(!nkey_public_decode(text, NKEY_PUBLIC_LENGTH, NKEY_TYPE_USER, key));
    ck_assert(!nkey_public_decode(known_user, NKEY_PUBLIC_LENGTH - 1, NKEY_TYPE_USER, key));
    ck_assert(!nkey_public_decode("UABCDEF", 7, NKEY_TYPE_USER, key));
    ck_assert(!nkey_public_decode("", 0, NKEY_TYPE_USER, key));
}
END_TEST

START_TEST(test_nkey_seed)
{
    uint8_t seed[NKEY_KEY_SIZE];
    for (size_t i = 0; i < sizeof seed; i++) {
        seed[i] = (uint8_t)(i * 7 + 1);
    }
    char text[NKEY_SEED_LENGTH + 1];
    nkey_seed_encode(NKEY_TYPE_USER, seed, text);
    /* a user seed reads "SU..." (observed on nats-server 2.15.1 with this very seed) */
    ck_assert_str_eq(text, "SUAACCAPCYOSIKZSHFAEOTSVLRRWU4LYP6DI3FE3UKU3BN56YXGNHWVCJA");
    /* and back; a wrong type or checksum is refused */
    uint8_t again[NKEY_KEY_SIZE];
    ck_assert(nkey_seed_decode(text, strlen(text), NKEY_TYPE_USER, again));
    ck_assert_mem_eq(again, seed, sizeof seed);
    ck_assert(!nkey_seed_decode(text, strlen(text), NKEY_TYPE_ACCOUNT, again));
    text[20] = text[20] == 'A' ? 'B' : 'A';
    ck_assert(!nkey_seed_decode(text, strlen(text), NKEY_TYPE_USER, again));
    ck_assert(!nkey_seed_decode(known_user, strlen(known_user), NKEY_TYPE_USER, again));
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("nkey");
    TCase *tc = tcase_create("nkey");
    tcase_add_test(tc, test_nkey_round_trip);
    tcase_add_test(tc, test_nkey_refusals);
    tcase_add_test(tc, test_nkey_seed);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
