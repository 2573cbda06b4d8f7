/* Authentication and permissions (engine/auth.h) without a broker: nats-server's rules for
 * allow and deny lists, queue entries and the delivery filter; the replies a connection
 * may answer (counted, expired, the oldest forgotten past AUTH_REPLIES_MAX); password
 * checks (plain, bcrypt from libxcrypt, an unknown user) and no_auth_user. */
#include "engine/auth.h"
#include "engine/auth_check.h"
#include "engine/config.h"

#include <check.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool pub(const struct auth_permissions *p, const char *subject)
{
    return auth_publish_allowed(p, subject, strlen(subject));
}

static bool sub(const struct auth_permissions *p, const char *subject, const char *queue)
{
    return auth_subscribe_allowed(p, subject, strlen(subject), queue, queue ? strlen(queue) : 0);
}

START_TEST(test_auth_publish_lists)
{
    struct auth_config *auth = auth_config_new();
    struct auth_permissions *p = auth_permissions_new(auth);
    ck_assert_int_eq(auth_subjects_add(&p->pub_allow, "orders.>", NULL), 0);
    ck_assert_int_eq(auth_subjects_add(&p->pub_deny, "orders.secret", NULL), 0);
    ck_assert(pub(p, "orders.new"));
    ck_assert(pub(p, "orders.a.b"));
    ck_assert(!pub(p, "orders.secret"));
    ck_assert(!pub(p, "orders"));
    ck_assert(!pub(p, "billing"));
    ck_assert(pub(NULL, "anything"));
    /* a deny list alone: everything else passes */
    struct auth_permissions *deny_only = auth_permissions_new(auth);
    ck_assert_int_eq(auth_subjects_add(&deny_only->pub_deny, "*.secret", NULL), 0);
    ck_assert(pub(deny_only, "a.public"));
    ck_assert(!pub(deny_only, "a.secret"));
    /* allow_responses makes an absent allow list an empty one */
    struct auth_permissions *responder = auth_permissions_new(auth);
    responder->responses = true;
    auth_config_finish(auth);
    ck_assert(!pub(responder, "x"));
    auth_config_free(auth);
}
END_TEST

START_TEST(test_auth_subscribe_lists)
{
    struct auth_config *auth = auth_config_new();
    struct auth_permissions *p = auth_permissions_new(auth);
    ck_assert_int_eq(auth_subjects_add(&p->sub_allow, "orders.*", NULL), 0);
    ck_assert_int_eq(auth_subjects_add(&p->sub_allow, "work.*", "workers"), 0);
    ck_assert_int_eq(auth_subjects_add(&p->sub_allow, "jobs.>", "pool.*"), 0);
    ck_assert_int_eq(auth_subjects_add(&p->sub_deny, "orders.secret", NULL), 0);
    ck_assert_int_eq(auth_subjects_add(&p->sub_deny, "orders.x", "spies"), 0);
    ck_assert(sub(p, "orders.new", NULL));
    ck_assert(sub(p, "orders.*", NULL)); /* a wildcard is a literal token to the list */
    ck_assert(!sub(p, "orders.secret", NULL));
    ck_assert(sub(p, "orders.x", "friends"));
    ck_assert(!sub(p, "orders.x", "spies"));
    ck_assert(!sub(p, "work.a", NULL)); /* only the queue entry names it */
    ck_assert(sub(p, "work.a", "workers"));
    ck_assert(!sub(p, "work.a", "others"));
    ck_assert(sub(p, "jobs.a.b", "pool.one")); /* a queue pattern */
    ck_assert(!sub(p, "jobs.a.b", "other.one"));
    ck_assert(!sub(p, "billing", NULL));
    /* the delivery filter: plain deny entries only */
    ck_assert(auth_delivery_denied(p, "orders.secret", strlen("orders.secret")));
    ck_assert(!auth_delivery_denied(p, "orders.x", strlen("orders.x")));
    ck_assert(!auth_delivery_denied(NULL, "orders.secret", strlen("orders.secret")));
    auth_config_free(auth);
}
END_TEST

static bool use(struct auth_replies *r, const struct auth_permissions *p, const char *s,
                int64_t now)
{
    return auth_replies_use(r, p, s, strlen(s), strlen(s) * 31u, now);
}

static void note(struct auth_replies *r, const char *s, int64_t now)
{
    ck_assert(auth_replies_note(r, s, strlen(s), strlen(s) * 31u, now));
}

START_TEST(test_auth_replies)
{
    struct auth_config *auth = auth_config_new();
    struct auth_permissions *p = auth_permissions_new(auth);
    p->responses = true;
    p->responses_max = 2;
    p->responses_ttl_ns = 1000;
    struct auth_replies *r = auth_replies_new();
    ck_assert(!use(r, p, "reply.a", 0));
    note(r, "reply.a", 0);
    ck_assert(use(r, p, "reply.a", 10));
    ck_assert(use(r, p, "reply.a", 20));
    ck_assert(!use(r, p, "reply.a", 30)); /* past max */
    note(r, "reply.b", 100);
    ck_assert(!use(r, p, "reply.b", 2000)); /* expired */
    /* unlimited and never expiring */
    p->responses_max = -1;
    p->responses_ttl_ns = -1;
    note(r, "reply.c", 0);
    for (int i = 0; i < 10; i++) {
        ck_assert(use(r, p, "reply.c", INT64_MAX / 2));
    }
    /* past AUTH_REPLIES_MAX the oldest is forgotten first */
    char subject[32];
    for (int i = 0; i <= AUTH_REPLIES_MAX; i++) {
        snprintf(subject, sizeof subject, "r.%d", i);
        ck_assert(auth_replies_note(r, subject, strlen(subject), (uint64_t)i, i));
    }
    ck_assert(!use(r, p, "reply.c", 0));
    ck_assert(auth_replies_use(r, p, "r.1", 3, 1, 0));
    snprintf(subject, sizeof subject, "r.%d", AUTH_REPLIES_MAX);
    ck_assert(auth_replies_use(r, p, subject, strlen(subject), AUTH_REPLIES_MAX, 0));
    auth_replies_free(r);
    auth_config_free(auth);
}
END_TEST

START_TEST(test_auth_passwords)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    ck_assert_ptr_nonnull(crypt_gensalt_rn("$2b$", 4, NULL, 0, setting, sizeof setting));
    struct crypt_data *data = calloc(1, sizeof *data);
    char hash[128];
    snprintf(hash, sizeof hash, "%s", crypt_rn("s3cret", setting, data, sizeof *data));
    free(data);
    ck_assert(auth_password_matches(hash, "s3cret"));
    ck_assert(!auth_password_matches(hash, "s3creT"));
    ck_assert(!auth_password_matches(hash, NULL));
    ck_assert(auth_password_matches("plain", "plain"));
    ck_assert(!auth_password_matches("plain", "plai"));
    ck_assert(!auth_password_matches("plain", "plainn"));
    ck_assert(auth_password_matches("", NULL)); /* no password given, none configured */

    struct config config = {0};
    struct auth_config *auth = auth_config_new();
    config.auth = auth;
    auth->users_given = true;
    struct auth_permissions *guest_permissions = auth_permissions_new(auth);
    struct auth_user alice = {.name = "alice", .password = hash};
    struct auth_user guest = {.name = "guest", .password = "g", .permissions = guest_permissions};
    ck_assert_int_eq(auth_user_add(auth, &alice), 0);
    ck_assert_int_eq(auth_user_add(auth, &guest), 0);
    auth_config_finish(auth);
    ck_assert(auth_required(&config));
    ck_assert(!auth_nonce_required(&config));
    const struct auth_permissions *permissions = guest_permissions;
    struct connect_options options = {.user = "alice", .pass = "s3cret"};
    ck_assert(auth_authenticate(&config, &options, NULL, NULL, &permissions));
    ck_assert_ptr_null(permissions);
    options.pass = "wrong";
    ck_assert(!auth_authenticate(&config, &options, NULL, NULL, &permissions));
    options.user = "mallory";
    ck_assert(!auth_authenticate(&config, &options, NULL, NULL, &permissions));
    struct connect_options none = {0};
    ck_assert(!auth_authenticate(&config, &none, NULL, NULL, &permissions));
    auth->no_auth_user = "guest";
    ck_assert(auth_authenticate(&config, &none, NULL, NULL, &permissions));
    ck_assert_ptr_eq(permissions, guest_permissions);
    auth_config_free(auth);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("auth");
    TCase *tc = tcase_create("auth");
    tcase_add_test(tc, test_auth_publish_lists);
    tcase_add_test(tc, test_auth_subscribe_lists);
    tcase_add_test(tc, test_auth_replies);
    tcase_add_test(tc, test_auth_passwords);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
