/* Check tests for the stream store's byte accounting (stream_store_config.accounting): the
 * size each mode gives a message (the whole record; nats-server's file store, 30 + subject
 * + payload, and 4 + header more with a header; its memory store, 16 + subject + header +
 * payload), that stream_store_msg.size, info.byte_count and max_bytes all count it, across
 * deletes and reopens (also a reopen in another mode), and that under max_bytes a stream
 * keeps exactly the messages nats-server's store would, with discard old and new.
 *
 * The one idea: the expected sizes are written out here from nats-server's formulas, not
 * taken from the store's code. Every test runs in its own process (Check's fork mode) and
 * its own mkdtemp directory. */
#include "store/record.h"
#include "store/stream_store.h"
#include "tests/store/store_fixture.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    /* Messages of the max_bytes comparisons. */
    ACCOUNTING_MSGS = 300,
    /* A max_bytes that holds a few dozen generated messages. */
    ACCOUNTING_MAX_BYTES = 3000,
};

static const enum stream_store_accounting accounting_modes[] = {
    STREAM_STORE_ACCOUNTING_RECORD,
    STREAM_STORE_ACCOUNTING_FILE,
    STREAM_STORE_ACCOUNTING_MEMORY,
};

/* The sizes as nats-server computes them (server/filestore.go fileStoreMsgSizeRaw,
 * server/memstore.go memStoreMsgSizeRaw), and our record's. */
static uint64_t expected_size(enum stream_store_accounting mode, uint64_t subject_length,
                              uint64_t header_length, uint64_t payload_length)
{
    switch (mode) {
    case STREAM_STORE_ACCOUNTING_RECORD:
        return 48 + subject_length + header_length + payload_length;
    case STREAM_STORE_ACCOUNTING_FILE:
        if (header_length == 0) {
            return 22 + subject_length + payload_length + 8;
        }
        return 22 + subject_length + 4 + header_length + payload_length + 8;
    case STREAM_STORE_ACCOUNTING_MEMORY:
        return subject_length + header_length + payload_length + 16;
    }
    ck_abort_msg("unknown mode %d", (int)mode);
    return 0;
}

static uint64_t gen_size(enum stream_store_accounting mode, uint64_t seq)
{
    struct gen_msg msg;
    gen_msg_make(seq, &msg);
    return expected_size(mode, msg.subject_length, msg.header_length, msg.payload_length);
}

/* The generated messages held from `first` to `last` are all the store holds, each counting
 * its size. */
static void expect_sizes(struct fixture *fx, enum stream_store_accounting mode, uint64_t first,
                         uint64_t last)
{
    uint64_t bytes = 0;
    for (uint64_t seq = first; seq <= last; seq++) {
        struct stream_store_msg msg;
        int rc = stream_store_get(fx->store, seq, &msg);
        if (rc == -ENOENT) {
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_eq(msg.size, gen_size(mode, seq));
        bytes += msg.size;
    }
    ck_assert_uint_eq(info_of(fx->store).byte_count, bytes);
}

/* A few sizes worked out by hand: subject "orders" (6), payload "hello" (5), header
 * "NATS/1.0\r\n\r\n" (12). */
START_TEST(test_accounting_sizes_by_hand)
{
    static const struct {
        enum stream_store_accounting mode;
        uint32_t plain_size;
        uint32_t header_size;
    } cases[] = {
        {STREAM_STORE_ACCOUNTING_RECORD, 59, 71},
        {STREAM_STORE_ACCOUNTING_FILE, 41, 57},
        {STREAM_STORE_ACCOUNTING_MEMORY, 27, 39},
    };
    static const uint8_t header[] = "NATS/1.0\r\n\r\n";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fixture fx;
        fx_init(&fx);
        fx.config.accounting = cases[i].mode;
        fx_open_ok(&fx);
        uint64_t seq = 0;
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"orders", 6, NULL, 0,
                                             (const uint8_t *)"hello", 5, &seq),
                         0);
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"orders", 6, header,
                                             sizeof header - 1, (const uint8_t *)"hello", 5,
                                             &seq),
                         0);
        struct stream_store_msg msg;
        ck_assert_int_eq(stream_store_get(fx.store, 1, &msg), 0);
        ck_assert_uint_eq(msg.size, cases[i].plain_size);
        ck_assert_int_eq(stream_store_get(fx.store, 2, &msg), 0);
        ck_assert_uint_eq(msg.size, cases[i].header_size);
        ck_assert_uint_eq(info_of(fx.store).byte_count,
                          cases[i].plain_size + cases[i].header_size);
        fx_fini(&fx);
    }
}
END_TEST

/* Every mode: sizes of generated messages (with and without headers), the byte count after
 * deletes, a purge of the front and reopens; then a reopen in each other mode rebuilds the
 * count in that mode. */
START_TEST(test_accounting_counts_follow_the_mode)
{
    for (size_t m = 0; m < sizeof accounting_modes / sizeof accounting_modes[0]; m++) {
        enum stream_store_accounting mode = accounting_modes[m];
        struct fixture fx;
        fx_init(&fx);
        fx.config.segment_size = SMALL_SEGMENT_SIZE;
        fx.config.accounting = mode;
        fx_open_ok(&fx);
        fx_append_gen_range(&fx, 1, 60);
        expect_sizes(&fx, mode, 1, 60);
        uint64_t before = info_of(fx.store).byte_count;
        ck_assert_int_eq(stream_store_delete(fx.store, 30), 0);
        ck_assert_uint_eq(info_of(fx.store).byte_count, before - gen_size(mode, 30));
        struct stream_store_purge_request request = {.up_to_seq = 11};
        ck_assert_int_eq(stream_store_purge(fx.store, &request, NULL), 0);
        uint64_t want = 0;
        for (uint64_t seq = 11; seq <= 60; seq++) {
            want += seq == 30 ? 0 : gen_size(mode, seq);
        }
        ck_assert_uint_eq(info_of(fx.store).byte_count, want);
        fx_reopen(&fx);
        ck_assert_uint_eq(info_of(fx.store).byte_count, want);
        expect_sizes(&fx, mode, 11, 60);
        for (size_t other = 0; other < sizeof accounting_modes / sizeof accounting_modes[0];
             other++) {
            fx_close(&fx);
            fx.config.accounting = accounting_modes[other];
            fx_open_ok(&fx);
            expect_sizes(&fx, accounting_modes[other], 11, 60);
        }
        fx_fini(&fx);
    }
}
END_TEST

/* nats-server's store under max_bytes and discard old, as a list: after each message is
 * stored, the oldest go while the bytes are over the limit. Returns the first sequence
 * held after `last` messages. */
static uint64_t model_first_held(enum stream_store_accounting mode, uint64_t last,
                                 uint64_t max_bytes)
{
    uint64_t first = 1;
    uint64_t bytes = 0;
    for (uint64_t seq = 1; seq <= last; seq++) {
        bytes += gen_size(mode, seq);
        while (bytes > max_bytes) {
            bytes -= gen_size(mode, first);
            first++;
        }
    }
    return first;
}

START_TEST(test_accounting_max_bytes_keeps_what_nats_server_keeps)
{
    for (size_t m = 0; m < sizeof accounting_modes / sizeof accounting_modes[0]; m++) {
        enum stream_store_accounting mode = accounting_modes[m];
        struct fixture fx;
        fx_init(&fx);
        fx.config.segment_size = SMALL_SEGMENT_SIZE;
        fx.config.accounting = mode;
        fx.config.max_bytes = ACCOUNTING_MAX_BYTES;
        fx_open_ok(&fx);
        for (uint64_t seq = 1; seq <= ACCOUNTING_MSGS; seq++) {
            fx_append_gen(&fx, seq);
            struct stream_store_info info = info_of(fx.store);
            ck_assert_uint_eq(info.first_seq,
                              model_first_held(mode, seq, ACCOUNTING_MAX_BYTES));
            ck_assert_uint_le(info.byte_count, ACCOUNTING_MAX_BYTES);
        }
        uint64_t first = info_of(fx.store).first_seq;
        fx_reopen(&fx);
        ck_assert_uint_eq(info_of(fx.store).first_seq, first);
        expect_sizes(&fx, mode, first, ACCOUNTING_MSGS);
        fx_fini(&fx);
    }
}
END_TEST

/* A message that counts exactly max_bytes fits, whatever its record takes; one more byte
 * is -EMSGSIZE. Under discard new, the message that would pass max_bytes is refused. */
START_TEST(test_accounting_limits_edges)
{
    static const uint8_t payload[100];
    for (size_t m = 0; m < sizeof accounting_modes / sizeof accounting_modes[0]; m++) {
        enum stream_store_accounting mode = accounting_modes[m];
        uint64_t size = expected_size(mode, 1, 0, sizeof payload);
        struct fixture fx;
        fx_init(&fx);
        fx.config.accounting = mode;
        fx.config.max_bytes = size;
        fx_open_ok(&fx);
        uint64_t seq = 0;
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0,
                                             payload, sizeof payload, &seq),
                         0);
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0,
                                             payload, sizeof payload, &seq),
                         0);
        ck_assert_uint_eq(info_of(fx.store).msg_count, 1); /* the first made room */
        ck_assert_uint_eq(info_of(fx.store).byte_count, size);
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"ab", 2, NULL, 0,
                                             payload, sizeof payload, &seq),
                         -EMSGSIZE);
        fx_close(&fx);
        fx.config.discard = STREAM_STORE_DISCARD_NEW;
        fx.config.max_bytes = size + expected_size(mode, 1, 0, 10);
        fx_open_ok(&fx);
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0,
                                             payload, 11, &seq),
                         -EDQUOT);
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0,
                                             payload, 10, &seq),
                         0);
        ck_assert_uint_eq(info_of(fx.store).byte_count, fx.config.max_bytes);
        fx_fini(&fx);
    }
}
END_TEST

START_TEST(test_accounting_bad_mode)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.accounting = (enum stream_store_accounting)3;
    ck_assert_int_eq(fx_open(&fx), -EINVAL);
    fx.config.accounting = STREAM_STORE_ACCOUNTING_MEMORY;
    ck_assert_int_eq(stream_store_open(NULL, &fx.config, &fx.io.sync.io, &fx.hooks, &fx.store),
                     0);
    fx_append_gen_range(&fx, 1, 10); /* the memory-backed store counts the same */
    expect_sizes(&fx, STREAM_STORE_ACCOUNTING_MEMORY, 1, 10);
    fx_fini(&fx);
}
END_TEST

static Suite *accounting_suite(void)
{
    Suite *suite = suite_create("store_accounting");
    TCase *tc = tcase_create("store_accounting");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_accounting_sizes_by_hand);
    tcase_add_test(tc, test_accounting_counts_follow_the_mode);
    tcase_add_test(tc, test_accounting_max_bytes_keeps_what_nats_server_keeps);
    tcase_add_test(tc, test_accounting_limits_edges);
    tcase_add_test(tc, test_accounting_bad_mode);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(accounting_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
