/* Unit tests for what a reload may change (engine/config_reload.c): nats-server's
 * reloadable flags pass, any other flag is refused in nats-server's words naming it, and
 * ionats's own limits (max_payload and max_control_line above the values it started with,
 * the log moving between standard error and a file) are refused with the reason. */
#include "engine/config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

enum { ARG_COUNT_MAX = 32, TEXT_SIZE = 512 };

/* config_parse on "ionats" and the NULL-terminated `args`, which must be valid. */
static void parse_args(struct config *config, const char *const *args)
{
    char *argv[ARG_COUNT_MAX + 1] = {"ionats"};
    int argc = 1;
    for (; args[argc - 1] != NULL; argc++) {
        ck_assert_int_lt(argc, ARG_COUNT_MAX);
        argv[argc] = (char *)args[argc - 1];
    }
    FILE *quiet = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(quiet);
    ck_assert_int_eq(config_parse(config, argc, argv, quiet, quiet), CONFIG_RUN);
    fclose(quiet);
}

#define parse(config, ...) parse_args((config), (const char *const[]){__VA_ARGS__, NULL})

/* The refusal of going from `start` to `next`; "" when the reload may go on. */
static const char *refusal(const struct config *start, const struct config *next)
{
    static char text[TEXT_SIZE];
    text[0] = '\0';
    int refused = config_reload_refused(start, next, text, sizeof text);
    ck_assert_int_eq(refused, text[0] != '\0');
    return text;
}

START_TEST(test_reloadable_flags)
{
    struct config start;
    struct config next;
    parse(&start, "--max_payload", "4096", "--max_control_line", "2048", "--ping_interval", "2m");
    parse(&next, "--max_payload", "1024", "--max_control_line", "1024", "--ping_interval", "1s",
          "--ping_max", "1", "--write_deadline", "3s", "--max_connections", "5", "-T=false",
          "--logtime_utc", "-P", "/tmp/x.pid", "--ports_file_dir", "/tmp", "-D");
    ck_assert_str_eq(refusal(&start, &next), "");
    /* a later reload back up to the start's values: allowed (each is held to the start) */
    ck_assert_str_eq(refusal(&start, &start), "");
    config_release(&start);
    config_release(&next);
}
END_TEST

START_TEST(test_refused_flags)
{
    struct config start;
    struct config next;
    parse(&start, "--shards", "2");
    parse(&next, "--shards", "3");
    ck_assert_str_eq(refusal(&start, &next), "config reload not supported for shards: old=2, new=3");
    config_release(&next);
    parse(&next, "--shards", "2", "-n", "other");
    ck_assert_str_eq(refusal(&start, &next),
                     "config reload not supported for name: old=, new=other");
    config_release(&start);
    config_release(&next);
}
END_TEST

START_TEST(test_limits_above_start)
{
    struct config start;
    struct config next;
    parse(&start, "--max_payload", "2048");
    parse(&next, "--max_payload", "4096");
    ck_assert_str_eq(refusal(&start, &next),
                     "config reload not supported for max_payload: old=2048, new=4096 (above "
                     "the 2048 ionats started with, which its buffers are sized for: restart "
                     "to raise it)");
    config_release(&next);
    parse(&next, "--max_payload", "2048", "--max_control_line", "8192");
    ck_assert_ptr_nonnull(strstr(refusal(&start, &next),
                                 "config reload not supported for max_control_line: old=4096, "
                                 "new=8192 (above the 4096"));
    config_release(&start);
    config_release(&next);
}
END_TEST

START_TEST(test_log_between_stderr_and_file)
{
    struct config start;
    struct config next;
    parse(&start, "-l", "/tmp/a.log");
    parse(&next, "-l", "/tmp/b.log");
    ck_assert_str_eq(refusal(&start, &next), "");
    config_release(&next);
    parse(&next, "-D");
    ck_assert_str_eq(refusal(&start, &next),
                     "config reload not supported for log: old=/tmp/a.log, new= (between "
                     "standard error and a file: restart to move the log there)");
    config_release(&start);
    config_release(&next);
}
END_TEST

static Suite *config_reload_suite(void)
{
    Suite *suite = suite_create("config_reload");
    TCase *tc = tcase_create("reload");
    tcase_add_test(tc, test_reloadable_flags);
    tcase_add_test(tc, test_refused_flags);
    tcase_add_test(tc, test_limits_above_start);
    tcase_add_test(tc, test_log_between_stderr_and_file);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(config_reload_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}
