/* Check tests for the bytes store/ writes: the record format (round trips, every flipped
 * bit refused, chained seeds, the field rules of each kind) and segment files (header
 * round trip and damage, names, creation, preallocation, deferred headers, ENOSPC at
 * creation leaving nothing behind).
 *
 * The one idea: nothing that was not written whole by its writer validates. Every test
 * runs in its own process (Check's fork mode) and its own mkdtemp directory. */
#include "base/hash.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/stream_store.h"
#include "tests/store/store_fixture.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- record ---------------------------------------------------------------------------- */

START_TEST(test_record_roundtrip)
{
    static const uint8_t subject[] = "orders.eu";
    static const uint8_t header[] = "NATS/1.0\r\nA: b\r\n\r\n";
    static const uint8_t payload[] = "hello";
    struct record rec = {
        .kind = RECORD_KIND_MSG,
        .sequence = 42,
        .timestamp_ns = -7,
        .floor_seq = 40,
        .subject = subject,
        .header = header,
        .payload = payload,
        .subject_length = sizeof subject - 1,
        .header_length = sizeof header - 1,
        .payload_length = sizeof payload - 1,
    };
    uint32_t size = (uint32_t)record_size_for(rec.subject_length, rec.header_length,
                                              rec.payload_length);
    uint8_t bytes[256];
    uint64_t checksum = record_encode(&rec, 1234, bytes);
    struct record out;
    ck_assert_int_eq(record_decode(bytes, size, 1234, &out), 0);
    ck_assert_int_eq(out.kind, RECORD_KIND_MSG);
    ck_assert_uint_eq(out.sequence, 42);
    ck_assert_int_eq(out.timestamp_ns, -7);
    ck_assert_uint_eq(out.floor_seq, 40);
    ck_assert_uint_eq(out.size, size);
    ck_assert_uint_eq(out.checksum, checksum);
    ck_assert_uint_eq(out.subject_length, rec.subject_length);
    ck_assert(memcmp(out.subject, subject, rec.subject_length) == 0);
    ck_assert(memcmp(out.header, header, rec.header_length) == 0);
    ck_assert(memcmp(out.payload, payload, rec.payload_length) == 0);
    /* More bytes available than the record takes: still exactly one record. */
    ck_assert_int_eq(record_decode(bytes, sizeof bytes, 1234, &out), 0);
    ck_assert_uint_eq(out.size, size);
    /* The seed is part of the checksum: the chain of another segment does not validate. */
    ck_assert_int_eq(record_decode(bytes, size, 1235, &out), -EBADMSG);
    /* record_view skips only the checksum. */
    ck_assert_int_eq(record_view(bytes, size, &out), 0);

    struct record control = {.kind = RECORD_KIND_DELETE, .sequence = 9, .floor_seq = 3};
    record_encode(&control, 5, bytes);
    ck_assert_int_eq(record_decode(bytes, RECORD_OVERHEAD_SIZE, 5, &out), 0);
    ck_assert_int_eq(out.kind, RECORD_KIND_DELETE);
    ck_assert_uint_eq(out.sequence, 9);
    ck_assert_uint_eq(out.size, RECORD_OVERHEAD_SIZE);
    control = (struct record){.kind = RECORD_KIND_FLOOR, .floor_seq = 77};
    record_encode(&control, 5, bytes);
    ck_assert_int_eq(record_decode(bytes, RECORD_OVERHEAD_SIZE, 5, &out), 0);
    ck_assert_int_eq(out.kind, RECORD_KIND_FLOOR);
    ck_assert_uint_eq(out.floor_seq, 77);
    control = (struct record){.kind = RECORD_KIND_SKIP, .sequence = 1000, .floor_seq = 12};
    record_encode(&control, 5, bytes);
    ck_assert_int_eq(record_decode(bytes, RECORD_OVERHEAD_SIZE, 5, &out), 0);
    ck_assert_int_eq(out.kind, RECORD_KIND_SKIP);
    ck_assert_uint_eq(out.sequence, 1000);
    ck_assert_uint_eq(out.floor_seq, 12);
    ck_assert_uint_eq(out.size, RECORD_OVERHEAD_SIZE);
}
END_TEST

START_TEST(test_record_every_flipped_byte)
{
    struct gen_msg msg;
    gen_msg_make(3, &msg);
    struct record rec = {
        .kind = RECORD_KIND_MSG,
        .sequence = 3,
        .timestamp_ns = 99,
        .floor_seq = 1,
        .subject = (const uint8_t *)msg.subject,
        .header = msg.header,
        .payload = msg.payload,
        .subject_length = msg.subject_length,
        .header_length = msg.header_length,
        .payload_length = msg.payload_length,
    };
    uint32_t size = gen_msg_record_size(3);
    uint8_t bytes[PAYLOAD_SIZE_MAX + 128];
    record_encode(&rec, 77, bytes);
    struct record out;
    for (uint32_t i = 0; i < size; i++) {
        for (int bit = 0; bit < 8; bit++) {
            bytes[i] ^= (uint8_t)(1u << bit);
            int rc = record_decode(bytes, size, 77, &out);
            ck_assert_msg(rc == -EBADMSG || rc == -ENODATA, "byte %u bit %d: %d", i, bit, rc);
            bytes[i] ^= (uint8_t)(1u << bit);
        }
    }
    ck_assert_int_eq(record_decode(bytes, size, 77, &out), 0);
    /* Every truncation is refused. */
    for (uint32_t available = 0; available < size; available++) {
        ck_assert_int_eq(record_decode(bytes, available, 77, &out), -EBADMSG);
    }
    /* Zeros: the clean end of a log. */
    memset(bytes, 0, sizeof bytes);
    ck_assert_int_eq(record_decode(bytes, sizeof bytes, 77, &out), -ENODATA);
}
END_TEST

START_TEST(test_record_field_rules)
{
    static const uint8_t subject[] = "a";
    struct record rec = {.kind = RECORD_KIND_MSG, .sequence = 1, .subject = subject,
                         .subject_length = 1};
    ck_assert_int_eq(record_check_fields(&rec), 0);
    rec.subject_length = 0;
    ck_assert_int_eq(record_check_fields(&rec), -EINVAL);
    rec.subject_length = 1;
    rec.sequence = 0;
    ck_assert_int_eq(record_check_fields(&rec), -EINVAL);
    rec.sequence = 5;
    rec.floor_seq = 6;
    ck_assert_int_eq(record_check_fields(&rec), -EINVAL);
    struct record control = {.kind = RECORD_KIND_DELETE, .sequence = 0};
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    control = (struct record){.kind = RECORD_KIND_FLOOR, .sequence = 1};
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    control = (struct record){.kind = RECORD_KIND_FLOOR, .payload_length = 1};
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    /* A skip names the last sequence it assigns, carries nothing, and no floor above it. */
    control = (struct record){.kind = RECORD_KIND_SKIP, .sequence = 7, .floor_seq = 7};
    ck_assert_int_eq(record_check_fields(&control), 0);
    control.sequence = 0;
    control.floor_seq = 0;
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    control = (struct record){.kind = RECORD_KIND_SKIP, .sequence = 7, .floor_seq = 8};
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    control = (struct record){.kind = RECORD_KIND_SKIP, .sequence = 7, .subject = subject,
                              .subject_length = 1};
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    control = (struct record){.kind = RECORD_KIND_SKIP, .sequence = 7, .header_length = 1};
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    control = (struct record){.kind = (enum record_kind)9};
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    control = (struct record){.kind = (enum record_kind)5};
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    /* An unknown flag bit or an unknown kind in the bytes is refused; the batch bit is
     * carried both ways. */
    uint8_t bytes[RECORD_OVERHEAD_SIZE + 1];
    rec.floor_seq = 5;
    record_encode(&rec, 0, bytes);
    struct record out;
    ck_assert_int_eq(record_decode(bytes, sizeof bytes, 0, &out), 0);
    ck_assert_uint_eq(out.flags, 0);
    for (unsigned bit = 1; bit < 8; bit++) {
        bytes[5] = (uint8_t)(1u << bit);
        ck_assert_int_eq(record_view(bytes, sizeof bytes, &out), -EBADMSG);
    }
    bytes[5] = RECORD_F_BATCH_MORE;
    ck_assert_int_eq(record_view(bytes, sizeof bytes, &out), 0);
    ck_assert_uint_eq(out.flags, RECORD_F_BATCH_MORE);
    control = rec;
    control.flags = 0x80;
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    control.flags = RECORD_F_BATCH_MORE;
    uint8_t flagged[RECORD_OVERHEAD_SIZE + 1];
    uint64_t checksum = record_encode(&control, 0, flagged);
    ck_assert_int_eq(record_decode(flagged, sizeof flagged, 0, &out), 0);
    ck_assert_uint_eq(out.flags, RECORD_F_BATCH_MORE);
    ck_assert_uint_eq(out.checksum, checksum);
    bytes[5] = 0;
    bytes[4] = 9;
    ck_assert_int_eq(record_view(bytes, sizeof bytes, &out), -EBADMSG);
}
END_TEST

/* ---- segment --------------------------------------------------------------------------- */

START_TEST(test_segment_header)
{
    struct segment_header header = {
        .flags = SEGMENT_F_PURGED,
        .segment_id = 12,
        .salt = 0xfeedface,
        .first_seq = 1000,
        .created_ns = 5,
        .capacity = 1 << 20,
    };
    uint8_t bytes[SEGMENT_HEADER_SIZE];
    segment_header_encode(&header, bytes);
    struct segment_header out;
    ck_assert_int_eq(segment_header_decode(bytes, &out), 0);
    ck_assert_uint_eq(out.flags, SEGMENT_F_PURGED);
    ck_assert_uint_eq(out.segment_id, 12);
    ck_assert_uint_eq(out.salt, 0xfeedface);
    ck_assert_uint_eq(out.first_seq, 1000);
    ck_assert_int_eq(out.created_ns, 5);
    ck_assert_uint_eq(out.capacity, 1 << 20);
    for (uint32_t i = 0; i < SEGMENT_HEADER_SIZE; i++) {
        bytes[i] ^= 0x10;
        ck_assert_int_eq(segment_header_decode(bytes, &out), -EBADMSG);
        bytes[i] ^= 0x10;
    }
    char name[SEGMENT_NAME_SIZE];
    segment_name_format(12, name);
    ck_assert_str_eq(name, "00000000000000000012.seg");
    uint64_t id = 0;
    ck_assert(segment_name_parse(name, &id));
    ck_assert_uint_eq(id, 12);
    ck_assert(!segment_name_parse("0000000000000000012.seg", &id));
    ck_assert(!segment_name_parse("00000000000000000000.seg", &id));
    ck_assert(!segment_name_parse("00000000000000000012.segx", &id));
    ck_assert(!segment_name_parse("99999999999999999999.seg", &id));
    ck_assert(segment_name_is_temporary(".00000000000000000012.seg.tmp"));
    ck_assert(!segment_name_is_temporary(name));
}
END_TEST

START_TEST(test_segment_create_open)
{
    struct fixture fx;
    fx_init(&fx);
    int dir_fd = open(fx.root, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(dir_fd, 0);
    struct segment_header header = {.segment_id = 1, .first_seq = 1, .capacity = 8192};
    struct segment a, b;
    struct store_io *io = &fx.io.sync.io;
    ck_assert_int_eq(segment_create(dir_fd, io, &header, SEGMENT_CREATE_DURABLE, &a), 0);
    header.segment_id = 2;
    ck_assert_int_eq(segment_create(dir_fd, io, &header, SEGMENT_CREATE_WRITTEN, &b), 0);
    ck_assert_uint_ne(a.header.salt, b.header.salt);
    ck_assert_uint_eq(a.map_size, 8192);
    struct stat st;
    ck_assert_int_eq(fstat(a.fd, &st), 0);
    ck_assert_int_eq(st.st_size, 8192);
    ck_assert_uint_ge((uint64_t)st.st_blocks * 512, 8192); /* preallocated, not sparse */
    struct segment reopened;
    ck_assert_int_eq(segment_open(dir_fd, a.name, &reopened), 0);
    ck_assert_uint_eq(reopened.header.salt, a.header.salt);
    segment_close(&reopened);
    /* A deferred header reads as never written until the caller writes it. */
    header.segment_id = 3;
    struct segment d;
    ck_assert_int_eq(segment_create(dir_fd, io, &header, SEGMENT_CREATE_DEFERRED, &d), 0);
    ck_assert_int_eq(segment_open(dir_fd, d.name, &reopened), -ENODATA);
    uint8_t bytes[SEGMENT_HEADER_SIZE];
    segment_header_encode(&d.header, bytes);
    ck_assert_int_eq(pwrite(d.fd, bytes, sizeof bytes, 0), (ssize_t)sizeof bytes);
    ck_assert_int_eq(segment_open(dir_fd, d.name, &reopened), 0);
    ck_assert_uint_eq(reopened.header.salt, d.header.salt);
    segment_close(&reopened);
    /* A full disk at creation is -ENOSPC and leaves nothing behind. */
    fx.io.allocate_error = -ENOSPC;
    header.segment_id = 4;
    struct segment c;
    ck_assert_int_eq(segment_create(dir_fd, io, &header, SEGMENT_CREATE_DURABLE, &c), -ENOSPC);
    ck_assert_uint_eq(count_segment_files(fx.root), 3);
    char command[256];
    snprintf(command, sizeof command, "test $(ls -A %s | wc -l) -eq 3", fx.root);
    ck_assert_int_eq(system(command), 0);
    segment_close(&a);
    segment_close(&b);
    segment_close(&d);
    close(dir_fd);
    fx_fini(&fx);
}
END_TEST

static Suite *store_format_suite(void)
{
    Suite *suite = suite_create("store_format");
    TCase *tc = tcase_create("store_format");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_record_roundtrip);
    tcase_add_test(tc, test_record_every_flipped_byte);
    tcase_add_test(tc, test_record_field_rules);
    tcase_add_test(tc, test_segment_header);
    tcase_add_test(tc, test_segment_create_open);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_format_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
