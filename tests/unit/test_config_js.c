/* Unit tests for the JetStream flags of engine/config.{h,c}: their defaults, nats-server's
 * spellings (-js, -sd), sizes with units as nats-server's configuration reads them
 * (config_size_parse: K/M/G/T powers of 1000, KB/MB/GB/TB and KiB... powers of 1024, any
 * case), --sync's three policies and its refusal of anything else, --sync_interval, and
 * --segment_size's bounds (1MB..4GB). */
#include "engine/config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ARGS_MAX = 16 };

/* config_parse on "ionats" and `args`; what it wrote to stderr goes to `err_text`. */
static enum config_result parse_into(struct config *config, const char *const *args,
                                     char *err_text, size_t err_size)
{
    char *argv[ARGS_MAX + 1] = {"ionats"};
    int argc = 1;
    for (; args[argc - 1] != NULL; argc++) {
        ck_assert_int_lt(argc, ARGS_MAX);
        argv[argc] = (char *)args[argc - 1];
    }
    char *out_buffer = NULL;
    char *err_buffer = NULL;
    size_t out_length = 0;
    size_t err_length = 0;
    FILE *out = open_memstream(&out_buffer, &out_length);
    FILE *err = open_memstream(&err_buffer, &err_length);
    ck_assert(out != NULL && err != NULL);
    enum config_result result = config_parse(config, argc, argv, out, err);
    fclose(out);
    fclose(err);
    snprintf(err_text, err_size, "%s", err_buffer != NULL ? err_buffer : "");
    free(out_buffer);
    free(err_buffer);
    return result;
}

#define parse(config, err, ...)                                                              \
    parse_into((config), (const char *const[]){__VA_ARGS__, NULL}, (err), sizeof(err))

START_TEST(test_js_defaults)
{
    struct config config;
    char err[512];
    ck_assert_int_eq(parse(&config, err, "-p", "0"), CONFIG_RUN);
    ck_assert(!config.jetstream);
    ck_assert_str_eq(config.store_dir, CONFIG_STORE_DIR_DEFAULT);
    ck_assert_int_eq(config.max_memory_store, 0);
    ck_assert_int_eq(config.max_file_store, 0);
    ck_assert_str_eq(config.sync, "always");
    ck_assert_int_eq(config.sync_interval_ns, CONFIG_SYNC_INTERVAL_NS_DEFAULT);
    ck_assert_int_eq(config.segment_size, CONFIG_SEGMENT_SIZE_DEFAULT);
}
END_TEST

START_TEST(test_js_spellings)
{
    struct config config;
    char err[512];
    ck_assert_int_eq(parse(&config, err, "-js", "-sd", "/data/js"), CONFIG_RUN);
    ck_assert(config.jetstream);
    ck_assert_str_eq(config.store_dir, "/data/js");
    ck_assert_int_eq(parse(&config, err, "--jetstream", "--store_dir=/x"), CONFIG_RUN);
    ck_assert(config.jetstream);
    ck_assert_str_eq(config.store_dir, "/x");
    ck_assert_int_eq(parse(&config, err, "--jetstream=false"), CONFIG_RUN);
    ck_assert(!config.jetstream);
    ck_assert_int_eq(parse(&config, err, "--store_dir", ""), CONFIG_EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "--store_dir is empty"));
}
END_TEST

START_TEST(test_size_units)
{
    static const struct {
        const char *text;
        int64_t bytes;
    } good[] = {
        {"0", 0},
        {"512", 512},
        {"1K", 1000},
        {"1k", 1000},
        {"1KB", 1024},
        {"1kib", 1024},
        {"2MB", 2LL << 20},
        {"2M", 2000000},
        {"1GB", 1LL << 30},
        {"1gi", 1LL << 30},
        {"3G", 3000000000LL},
        {"1TB", 1LL << 40},
        {"1T", 1000000000000LL},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t bytes = -1;
        ck_assert_msg(config_size_parse(good[i].text, &bytes) == 0, "%s refused", good[i].text);
        ck_assert_int_eq(bytes, good[i].bytes);
    }
    static const char *const bad[] = {"", "MB", "-1", "1.5GB", "1 GB", " 1", "1XB", "1GBB",
                                      "99999999999999999999", "9223372036854775807KB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t bytes = 0;
        ck_assert_msg(config_size_parse(bad[i], &bytes) == -EINVAL, "\"%s\" accepted", bad[i]);
    }
}
END_TEST

START_TEST(test_size_flags)
{
    struct config config;
    char err[512];
    ck_assert_int_eq(parse(&config, err, "--max_memory_store", "512MB", "--max_file_store", "10GB",
                           "--segment_size", "8MB"),
                     CONFIG_RUN);
    ck_assert_int_eq(config.max_memory_store, 512LL << 20);
    ck_assert_int_eq(config.max_file_store, 10LL << 30);
    ck_assert_int_eq(config.segment_size, 8LL << 20);
    ck_assert_int_eq(parse(&config, err, "--max_file_store", "lots"), CONFIG_EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "invalid size \"lots\" for --max_file_store"));
    /* a segment holds at least 1MB and at most 4GB */
    ck_assert_int_eq(parse(&config, err, "--segment_size", "512KB"), CONFIG_EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(err, "--segment_size"));
    ck_assert_int_eq(parse(&config, err, "--segment_size", "5GB"), CONFIG_EXIT_USAGE);
    ck_assert_int_eq(parse(&config, err, "--segment_size", "1MB"), CONFIG_RUN);
    ck_assert_int_eq(parse(&config, err, "--segment_size", "4GB"), CONFIG_RUN);
}
END_TEST

START_TEST(test_sync_policies)
{
    struct config config;
    char err[512];
    static const char *const policies[] = {"always", "interval", "none"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(parse(&config, err, "--sync", policies[i]), CONFIG_RUN);
        ck_assert_str_eq(config.sync, policies[i]);
    }
    ck_assert_int_eq(parse(&config, err, "--sync", "sometimes"), CONFIG_EXIT_USAGE);
    ck_assert_ptr_nonnull(
        strstr(err, "--sync must be always, interval or none, not \"sometimes\""));
    ck_assert_int_eq(parse(&config, err, "--sync", "interval", "--sync_interval", "250ms"),
                     CONFIG_RUN);
    ck_assert_int_eq(config.sync_interval_ns, 250LL * 1000000LL);
    ck_assert_int_eq(parse(&config, err, "--sync_interval", "0"), CONFIG_EXIT_USAGE);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("config_js");
    TCase *tc = tcase_create("jetstream flags");
    tcase_add_test(tc, test_js_defaults);
    tcase_add_test(tc, test_js_spellings);
    tcase_add_test(tc, test_size_units);
    tcase_add_test(tc, test_size_flags);
    tcase_add_test(tc, test_sync_policies);
    suite_add_tcase(suite, tc);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
