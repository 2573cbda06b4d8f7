/* Check tests for store/: the record format (round trips, every flipped bit, chained
 * seeds), segment headers and files, and the stream store: append and read, subjects,
 * delete, purge (all, one subject, below a sequence, keep N), limits (max_msgs, max_bytes
 * with discard old and new, max_msgs_per_subject, max_age with an injected clock),
 * segment rollover and dropping, segments created without waiting for the disk (their
 * header with the first batch), the memory-backed variant, the sync policies (under
 * `always`, one datasync for all the batches written while the last one ran), I/O
 * failures, short writes and back-pressure, ENOSPC (injected, and on a real 1 MiB tmpfs
 * where a mount namespace can be had), a differential test against a naive model under
 * random operations and reopens, recovery after truncation, a flipped byte or a
 * zero-filled tail at every record boundary (and a lost record with valid ones behind
 * it), damaged and never-written headers, the io_uring and helper-thread store_ios, and a
 * crash test: a child appends with `always` (through the synchronous store_io, io_uring and
 * the helper thread, in turn) and reports each durable sequence, the parent SIGKILLs it at
 * random points and checks every reported sequence is back with its exact bytes.
 *
 * Every test works in its own mkdtemp directory under /tmp and removes it. */
#include "base/hash.h"
#include "engine/store_thread.h"
#include "engine/store_uring.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/stream_store.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    /* Bound on flush/reap rounds while draining a store: each round completes at least one
     * operation, and no test queues more than a few hundred. */
    DRAIN_ROUNDS_MAX = 100000,
    /* Payload bytes of the generated messages: 1 .. PAYLOAD_SPREAD. */
    PAYLOAD_SPREAD = 200,
    PAYLOAD_SIZE_MAX = 4096,
    /* Distinct subjects of the generated messages. */
    SUBJECT_SPREAD = 5,
    /* Small segments, so a few dozen messages span several. */
    SMALL_SEGMENT_SIZE = 4096,
    /* Crash test: rounds, kill delay range, segment size. */
    CRASH_ROUNDS = 20,
    /* How long the parent waits for a killed child's ring to release the store. */
    CRASH_UNLOCK_WAIT_ROUNDS = 400,
    CRASH_UNLOCK_WAIT_US = 5000,
    CRASH_DELAY_MIN_US = 2000,
    CRASH_DELAY_SPREAD_US = 30000,
    CRASH_SEGMENT_SIZE = 64 * 1024,
    /* Submission queue entries of the rings the io_uring tests use. */
    URING_TEST_ENTRIES = 64,
    /* Messages the io_uring store test appends, in flushes of URING_TEST_FLUSH_EVERY. */
    URING_TEST_MSGS = 20000,
    URING_TEST_FLUSH_EVERY = 100,
    /* How long the helper-thread test waits for one completion before it fails. */
    THREAD_TEST_WAIT_MS = 10000,
    /* Exit codes of helper children. */
    CHILD_EXIT_SKIP = 77,
};

/* ---- Generated messages: every byte is a function of the sequence -------------------- */

struct gen_msg {
    char subject[32];
    uint32_t subject_length;
    uint8_t header[64];
    uint32_t header_length;
    uint8_t payload[PAYLOAD_SIZE_MAX];
    uint32_t payload_length;
};

static void gen_msg_make(uint64_t seq, struct gen_msg *msg)
{
    msg->subject_length =
        (uint32_t)snprintf(msg->subject, sizeof msg->subject, "gen.%" PRIu64, seq % SUBJECT_SPREAD);
    msg->header_length = 0;
    if (seq % 3 == 0) {
        static const char header[] = "NATS/1.0\r\nK: v\r\n\r\n";
        msg->header_length = sizeof header - 1;
        memcpy(msg->header, header, msg->header_length);
    }
    uint64_t state = seq;
    msg->payload_length = 1 + (uint32_t)(hash_sequence_next(&state) % PAYLOAD_SPREAD);
    for (uint32_t i = 0; i < msg->payload_length; i++) {
        msg->payload[i] = (uint8_t)hash_sequence_next(&state);
    }
}

static uint32_t gen_msg_record_size(uint64_t seq)
{
    struct gen_msg msg;
    gen_msg_make(seq, &msg);
    return (uint32_t)record_size_for(msg.subject_length, msg.header_length, msg.payload_length);
}

/* An operation of the io_uring tests, with what its completion said. */
struct uring_test_op {
    struct store_io_op op; /* first: uring_test_done casts back */
    int32_t result;
    bool completed;
};

/* ---- An injecting store_io over store_io_sync ------------------------------------------ */

struct inject_io {
    struct store_io_sync sync; /* its io.ops points at inject_ops */
    int allocate_error;        /* != 0: allocate fails with it */
    bool write_fail;           /* writes complete with an error (-EBADF) */
    bool datasync_fail;        /* datasyncs complete with an error (-EBADF) */
    uint32_t write_refuse_count; /* the next N writes are refused with -EAGAIN */
    uint32_t write_size_max;   /* != 0: a write completes at most this many bytes */
    uint32_t allocate_count;
    /* Datasyncs run at once but their completion is held until inject_release_datasync:
     * a slow disk, deterministically. */
    bool datasync_hold;
    struct store_io_op *held_op;
    int32_t held_result;
    uint32_t dir_datasync_count; /* datasyncs of a directory */
};

static struct inject_io *inject_from(struct store_io *io)
{
    return (struct inject_io *)((char *)io - offsetof(struct inject_io, sync.io));
}

/* Errors are produced by the real syscalls on a closed descriptor, so they travel the same
 * completion path as any other result. */
static int inject_write(struct store_io *io, int fd, const void *data, uint32_t size,
                        uint64_t offset, struct store_io_op *op)
{
    struct inject_io *inject = inject_from(io);
    if (inject->write_refuse_count > 0) {
        inject->write_refuse_count--;
        return -EAGAIN;
    }
    if (inject->write_size_max != 0 && size > inject->write_size_max) {
        size = inject->write_size_max;
    }
    return store_io_sync_ops.write(io, inject->write_fail ? -1 : fd, data, size, offset, op);
}

static int inject_datasync(struct store_io *io, int fd, struct store_io_op *op)
{
    struct inject_io *inject = inject_from(io);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        inject->dir_datasync_count++;
    }
    if (inject->datasync_hold) {
        ck_assert_ptr_null(inject->held_op); /* a store has one datasync in flight */
        inject->held_op = op;
        inject->held_result = fdatasync(inject->datasync_fail ? -1 : fd) == 0 ? 0 : -errno;
        inject->sync.datasync_count++;
        return 0;
    }
    return store_io_sync_ops.datasync(io, inject->datasync_fail ? -1 : fd, op);
}

/* Completes the held datasync, if any; returns whether there was one. */
static bool inject_release_datasync(struct inject_io *inject)
{
    struct store_io_op *op = inject->held_op;
    if (op == NULL) {
        return false;
    }
    inject->held_op = NULL;
    op->done(op, inject->held_result);
    return true;
}

static int inject_allocate(struct store_io *io, int fd, uint64_t offset, uint64_t size)
{
    struct inject_io *inject = inject_from(io);
    inject->allocate_count++;
    if (inject->allocate_error != 0) {
        return inject->allocate_error;
    }
    return store_io_sync_ops.allocate(io, fd, offset, size);
}

static void inject_release(struct store_io *io, int fd)
{
    store_io_sync_ops.release(io, fd);
}

static const struct store_io_ops inject_ops = {
    .write = inject_write,
    .datasync = inject_datasync,
    .allocate = inject_allocate,
    .release = inject_release,
};

static void inject_init(struct inject_io *inject)
{
    *inject = (struct inject_io){0};
    store_io_sync_init(&inject->sync);
    inject->sync.io.ops = &inject_ops;
}

/* ---- Fixture: a temporary directory, a store, its hooks -------------------------------- */

struct fixture {
    char root[64];  /* mkdtemp'd */
    char path[96];  /* root/stream */
    struct inject_io io;
    struct stream_store_config config;
    struct stream_store_hooks hooks;
    struct stream_store *store;
    uint64_t committed_seq;
    uint64_t committed_lsn;
    uint32_t committed_calls;
    int failed_error;
    int64_t now_ns;
};

static void fx_committed(void *context, uint64_t seq, uint64_t lsn)
{
    struct fixture *fx = context;
    ck_assert_uint_ge(seq, fx->committed_seq);
    ck_assert_uint_gt(lsn, fx->committed_lsn);
    fx->committed_seq = seq;
    fx->committed_lsn = lsn;
    fx->committed_calls++;
}

static void fx_failed(void *context, int error)
{
    struct fixture *fx = context;
    fx->failed_error = error;
}

static int64_t fx_clock(void *context)
{
    struct fixture *fx = context;
    return fx->now_ns;
}

static void fx_init(struct fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    strcpy(fx->root, "/tmp/ionats-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx->root));
    snprintf(fx->path, sizeof fx->path, "%s/stream", fx->root);
    inject_init(&fx->io);
    stream_store_config_default(&fx->config);
    fx->hooks = (struct stream_store_hooks){
        .committed = fx_committed,
        .failed = fx_failed,
        .clock_ns = fx_clock,
        .context = fx,
    };
    fx->now_ns = INT64_C(1700000000) * 1000000000;
}

static int fx_open(struct fixture *fx)
{
    ck_assert_ptr_null(fx->store);
    /* lsn counts from each open. */
    fx->committed_seq = 0;
    fx->committed_lsn = 0;
    return stream_store_open(fx->path, &fx->config, &fx->io.sync.io, &fx->hooks, &fx->store);
}

static void fx_open_ok(struct fixture *fx)
{
    int rc = fx_open(fx);
    ck_assert_msg(rc == 0, "open: %s", strerror(-rc));
}

static void fx_drain(struct fixture *fx)
{
    for (int round = 0; round < DRAIN_ROUNDS_MAX; round++) {
        stream_store_flush(fx->store);
        store_io_sync_reap(&fx->io.sync, UINT32_MAX);
        inject_release_datasync(&fx->io);
        if (!stream_store_busy(fx->store) || fx->failed_error != 0) {
            return;
        }
    }
    ck_abort_msg("the store stays busy");
}

static void fx_close(struct fixture *fx)
{
    if (fx->store != NULL) {
        if (fx->failed_error == 0) {
            fx_drain(fx);
        }
        store_io_sync_reap(&fx->io.sync, UINT32_MAX);
        inject_release_datasync(&fx->io);
        stream_store_close(fx->store);
        fx->store = NULL;
    }
}

static void fx_reopen(struct fixture *fx)
{
    fx_close(fx);
    fx_open_ok(fx);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fx_fini(struct fixture *fx)
{
    fx_close(fx);
    nftw(fx->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t fx_append_gen(struct fixture *fx, uint64_t seq_expected)
{
    struct gen_msg msg;
    gen_msg_make(seq_expected, &msg);
    uint64_t seq = 0;
    int rc = stream_store_append(fx->store, (const uint8_t *)msg.subject, msg.subject_length,
                                 msg.header, msg.header_length, msg.payload,
                                 msg.payload_length, &seq);
    ck_assert_msg(rc == 0, "append %" PRIu64 ": %s", seq_expected, strerror(-rc));
    ck_assert_uint_eq(seq, seq_expected);
    return seq;
}

static void fx_append_gen_range(struct fixture *fx, uint64_t first, uint64_t last)
{
    for (uint64_t seq = first; seq <= last; seq++) {
        fx_append_gen(fx, seq);
    }
}

static void expect_gen(struct stream_store *store, uint64_t seq)
{
    struct gen_msg want;
    gen_msg_make(seq, &want);
    struct stream_store_msg got;
    int rc = stream_store_get(store, seq, &got);
    ck_assert_msg(rc == 0, "get %" PRIu64 ": %s", seq, strerror(-rc));
    ck_assert_uint_eq(got.seq, seq);
    ck_assert_uint_eq(got.subject_length, want.subject_length);
    ck_assert(memcmp(got.subject, want.subject, want.subject_length) == 0);
    ck_assert_uint_eq(got.header_length, want.header_length);
    ck_assert(memcmp(got.header, want.header, want.header_length) == 0);
    ck_assert_uint_eq(got.payload_length, want.payload_length);
    ck_assert(memcmp(got.payload, want.payload, want.payload_length) == 0);
    ck_assert_uint_eq(got.size, gen_msg_record_size(seq));
}

static void expect_gone(struct stream_store *store, uint64_t seq)
{
    struct stream_store_msg got;
    ck_assert_int_eq(stream_store_get(store, seq, &got), -ENOENT);
}

static struct stream_store_info info_of(struct stream_store *store)
{
    struct stream_store_info info;
    stream_store_info_get(store, &info);
    return info;
}

static uint32_t count_segment_files(const char *path)
{
    char command[256];
    snprintf(command, sizeof command, "ls %s | grep -c '\\.seg$'", path);
    FILE *pipe = popen(command, "r");
    ck_assert_ptr_nonnull(pipe);
    unsigned count = 0;
    ck_assert_int_eq(fscanf(pipe, "%u", &count), 1);
    pclose(pipe);
    return count;
}

static void segment_path(const struct fixture *fx, uint64_t segment_id, char *out, size_t size)
{
    char name[SEGMENT_NAME_SIZE];
    segment_name_format(segment_id, name);
    snprintf(out, size, "%s/%s", fx->path, name);
}

/* Offsets of the records in a segment file, found by walking their frames. */
static uint32_t segment_record_offsets(const char *file, uint64_t *offsets, uint32_t offsets_max,
                                       uint64_t *end)
{
    int fd = open(file, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    uint8_t *bytes = malloc((size_t)st.st_size);
    ck_assert_int_eq(pread(fd, bytes, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    uint32_t count = 0;
    uint64_t position = SEGMENT_HEADER_SIZE;
    struct record rec;
    while (position < (uint64_t)st.st_size &&
           record_view(bytes + position, (size_t)((uint64_t)st.st_size - position), &rec) == 0) {
        ck_assert_uint_lt(count, offsets_max);
        offsets[count++] = position;
        position += rec.size;
    }
    free(bytes);
    *end = position;
    return count;
}

static void file_flip_byte(const char *file, uint64_t offset)
{
    int fd = open(file, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t byte;
    ck_assert_int_eq(pread(fd, &byte, 1, (off_t)offset), 1);
    byte ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &byte, 1, (off_t)offset), 1);
    close(fd);
}

static void file_zero(const char *file, uint64_t offset, uint64_t size)
{
    int fd = open(file, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t zeros[4096] = {0};
    while (size > 0) {
        size_t chunk = size < sizeof zeros ? (size_t)size : sizeof zeros;
        ck_assert_int_eq(pwrite(fd, zeros, chunk, (off_t)offset), (ssize_t)chunk);
        offset += chunk;
        size -= chunk;
    }
    close(fd);
}

static void copy_tree(const char *from, const char *to)
{
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    ck_assert_int_eq(system(command), 0);
}

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
    control = (struct record){.kind = (enum record_kind)9};
    ck_assert_int_eq(record_check_fields(&control), -EINVAL);
    /* A nonzero flags byte or an unknown kind in the bytes is refused. */
    uint8_t bytes[RECORD_OVERHEAD_SIZE + 1];
    rec.floor_seq = 5;
    record_encode(&rec, 0, bytes);
    struct record out;
    ck_assert_int_eq(record_decode(bytes, sizeof bytes, 0, &out), 0);
    bytes[5] = 1;
    ck_assert_int_eq(record_view(bytes, sizeof bytes, &out), -EBADMSG);
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

/* ---- stream store: basics ------------------------------------------------------------- */

START_TEST(test_store_empty)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.first_seq, 1);
    ck_assert_uint_eq(info.last_seq, 0);
    ck_assert_uint_eq(info.segment_count, 1);
    expect_gone(fx.store, 0);
    expect_gone(fx.store, 1);
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_next(fx.store, 1, &msg), -ENOENT);
    uint64_t seq;
    ck_assert_int_eq(stream_store_subject_last(fx.store, (const uint8_t *)"a", 1, &seq), -ENOENT);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, 0, &seq), -ENOENT);
    /* A second opener is kept out while the first holds the directory. */
    struct stream_store *second = NULL;
    ck_assert_int_eq(stream_store_open(fx.path, &fx.config, &fx.io.sync.io, NULL, &second),
                     -EBUSY);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 0);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_append_get)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 50);
    /* Readable at once, from the batch, before any write. */
    for (uint64_t seq = 1; seq <= 50; seq++) {
        expect_gen(fx.store, seq);
    }
    ck_assert_uint_eq(fx.io.sync.write_count, 0);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.io.sync.write_count, 1);
    ck_assert_uint_eq(fx.committed_seq, 50);
    for (uint64_t seq = 1; seq <= 50; seq++) {
        expect_gen(fx.store, seq);
    }
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 50);
    ck_assert_uint_eq(info.first_seq, 1);
    ck_assert_uint_eq(info.last_seq, 50);
    uint64_t bytes = 0;
    for (uint64_t seq = 1; seq <= 50; seq++) {
        bytes += gen_msg_record_size(seq);
    }
    ck_assert_uint_eq(info.byte_count, bytes);
    ck_assert_uint_eq(info.subject_count, SUBJECT_SPREAD);
    ck_assert_uint_eq(info.first_timestamp_ns, fx.now_ns);
    expect_gone(fx.store, 51);
    expect_gone(fx.store, 0);
    /* Bad subjects. */
    uint64_t seq;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"x", 0, NULL, 0, NULL, 0, &seq),
                     -EINVAL);
    /* Everything is back, byte for byte, after a reopen. */
    fx_reopen(&fx);
    for (uint64_t s = 1; s <= 50; s++) {
        expect_gen(fx.store, s);
    }
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 50);
    ck_assert_uint_eq(info.byte_count, bytes);
    ck_assert_uint_eq(info.truncated_count, 0);
    ck_assert_uint_eq(info.lost_count, 0);
    fx_append_gen(&fx, 51);
    expect_gen(fx.store, 51);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_subjects)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 30); /* subject gen.(seq % 5) */
    uint64_t seq;
    const uint8_t *s2 = (const uint8_t *)"gen.2";
    ck_assert_int_eq(stream_store_subject_first(fx.store, s2, 5, &seq), 0);
    ck_assert_uint_eq(seq, 2);
    ck_assert_int_eq(stream_store_subject_last(fx.store, s2, 5, &seq), 0);
    ck_assert_uint_eq(seq, 27);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, s2, 5), 6);
    ck_assert_int_eq(stream_store_subject_last(fx.store, (const uint8_t *)"gen", 3, &seq), -ENOENT);
    /* Deleting a subject's first and last moves them to the next ones on the subject. */
    ck_assert_int_eq(stream_store_delete(fx.store, 2), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 27), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 7), 0);
    ck_assert_int_eq(stream_store_subject_first(fx.store, s2, 5, &seq), 0);
    ck_assert_uint_eq(seq, 12);
    ck_assert_int_eq(stream_store_subject_last(fx.store, s2, 5, &seq), 0);
    ck_assert_uint_eq(seq, 22);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, s2, 5), 3);
    ck_assert_int_eq(stream_store_delete(fx.store, 12), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 17), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 22), 0);
    ck_assert_int_eq(stream_store_subject_first(fx.store, s2, 5, &seq), -ENOENT);
    ck_assert_uint_eq(info_of(fx.store).subject_count, SUBJECT_SPREAD - 1);
    fx_reopen(&fx);
    ck_assert_int_eq(stream_store_subject_first(fx.store, s2, 5, &seq), -ENOENT);
    ck_assert_int_eq(stream_store_subject_last(fx.store, (const uint8_t *)"gen.3", 5, &seq), 0);
    ck_assert_uint_eq(seq, 28);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_delete)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 10);
    ck_assert_int_eq(stream_store_delete(fx.store, 5), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 5), -ENOENT);
    ck_assert_int_eq(stream_store_delete(fx.store, 11), -ENOENT);
    ck_assert_int_eq(stream_store_delete(fx.store, 0), -ENOENT);
    expect_gone(fx.store, 5);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 9);
    ck_assert_uint_eq(info.deleted_count, 1);
    ck_assert_uint_eq(info.last_seq, 10);
    /* Deleting the first moves first_seq past every gone sequence. */
    ck_assert_int_eq(stream_store_delete(fx.store, 4), 0);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        ck_assert_int_eq(stream_store_delete(fx.store, seq), 0);
    }
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 6);
    ck_assert_uint_eq(info.deleted_count, 0);
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_next(fx.store, 1, &msg), 0);
    ck_assert_uint_eq(msg.seq, 6);
    /* Deleting the last keeps last_seq: sequences are never reused. */
    ck_assert_int_eq(stream_store_delete(fx.store, 10), 0);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 6);
    ck_assert_uint_eq(info.last_seq, 10);
    ck_assert_uint_eq(info.msg_count, 4);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        expect_gone(fx.store, seq);
    }
    expect_gone(fx.store, 10);
    for (uint64_t seq = 6; seq <= 9; seq++) {
        expect_gen(fx.store, seq);
    }
    fx_append_gen(&fx, 11);
    /* Delete everything: the store is empty and sequences go on. */
    for (uint64_t seq = 6; seq <= 11; seq++) {
        if (seq != 10) {
            ck_assert_int_eq(stream_store_delete(fx.store, seq), 0);
        }
    }
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.first_seq, 12);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.first_seq, 12);
    ck_assert_uint_eq(info.last_seq, 11);
    fx_append_gen(&fx, 12);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_purge)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 100);
    ck_assert_uint_gt(info_of(fx.store).segment_count, 2);
    uint64_t purged = 0;
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, &purged), 0);
    ck_assert_uint_eq(purged, 100);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.byte_count, 0);
    ck_assert_uint_eq(info.first_seq, 101);
    ck_assert_uint_eq(info.last_seq, 100);
    ck_assert_uint_eq(info.segment_count, 1);
    ck_assert_uint_eq(info.subject_count, 0);
    expect_gone(fx.store, 50);
    fx_drain(&fx); /* the batches of the purged segments still complete */
    ck_assert_uint_eq(fx.committed_seq, 100);
    ck_assert_uint_eq(count_segment_files(fx.path), 1);
    fx_append_gen_range(&fx, 101, 110);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 10);
    ck_assert_uint_eq(info.first_seq, 101);
    expect_gone(fx.store, 100);
    expect_gen(fx.store, 101);
    /* A purge is committed by its segment alone: older segment files that come back
     * (the unlinks not yet durable) are removed again on open. */
    fx_close(&fx);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_purge_survives_stale_files)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 60);
    fx_close(&fx);
    char saved[128];
    snprintf(saved, sizeof saved, "%s/saved", fx.root);
    copy_tree(fx.path, saved);
    fx_open_ok(&fx);
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, NULL), 0);
    fx_append_gen_range(&fx, 61, 62);
    fx_close(&fx);
    /* Put the old segment files back, as if the unlinks never reached the disk. */
    char command[512];
    snprintf(command, sizeof command, "cp -n %s/*.seg %s/", saved, fx.path);
    ck_assert_int_eq(system(command), 0);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 2);
    ck_assert_uint_eq(info.first_seq, 61);
    ck_assert_uint_eq(info.segment_count, 1);
    expect_gen(fx.store, 61);
    expect_gone(fx.store, 1);
    fx_fini(&fx);
}
END_TEST

/* ---- limits --------------------------------------------------------------------------- */

START_TEST(test_store_max_msgs_discard_old)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs = 2;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 3);
    expect_gone(fx.store, 1);
    expect_gen(fx.store, 2);
    ck_assert_int_eq(stream_store_delete(fx.store, 3), 0);
    /* Evicted 1 must not come back on reopen although only one message is left. */
    fx_reopen(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 1);
    ck_assert_uint_eq(info.first_seq, 2);
    expect_gone(fx.store, 1);
    expect_gen(fx.store, 2);
    fx_append_gen_range(&fx, 4, 20);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 2);
    ck_assert_uint_eq(info.first_seq, 19);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"gen.4", 5), 1);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"gen.0", 5), 1);
    ck_assert_uint_eq(info.subject_count, 2);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_max_bytes_discard_old)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_bytes = 2000;
    fx_open_ok(&fx);
    for (uint64_t seq = 1; seq <= 100; seq++) {
        fx_append_gen(&fx, seq);
        struct stream_store_info info = info_of(fx.store);
        ck_assert_uint_le(info.byte_count, 2000);
        ck_assert_uint_eq(info.last_seq, seq);
        /* The oldest ones went, and only as many as needed. */
        uint64_t before = info.first_seq - 1;
        if (before >= 1) {
            ck_assert_uint_gt(info.byte_count + gen_msg_record_size(before), 2000);
        }
    }
    fx_reopen(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_le(info.byte_count, 2000);
    ck_assert_uint_eq(info.last_seq, 100);
    for (uint64_t seq = info.first_seq; seq <= 100; seq++) {
        expect_gen(fx.store, seq);
    }
    uint64_t seq;
    uint8_t big[2100] = {0};
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, big,
                                         sizeof big, &seq),
                     -EMSGSIZE);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_discard_new)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.discard = STREAM_STORE_DISCARD_NEW;
    fx.config.max_msgs = 5;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 5);
    uint64_t seq;
    uint8_t payload[16] = {0};
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, payload,
                                         8, &seq),
                     -EDQUOT);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 5);
    ck_assert_int_eq(stream_store_delete(fx.store, 1), 0);
    fx_append_gen(&fx, 6);
    uint64_t bytes = info_of(fx.store).byte_count;
    fx_close(&fx);
    /* max_bytes: a record that would pass the limit is refused, a smaller one fits. */
    fx.config.max_msgs = 0;
    fx.config.max_bytes = bytes + RECORD_OVERHEAD_SIZE + 10;
    fx_open_ok(&fx);
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, payload,
                                         10, &seq),
                     -EDQUOT);
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, payload,
                                         9, &seq),
                     0);
    ck_assert_uint_eq(seq, 7);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 6);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_max_msgs_per_subject)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_msgs_per_subject = 2;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 20); /* subjects gen.0 .. gen.4 in turn */
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 10);
    ck_assert_uint_eq(info.first_seq, 11);
    for (uint64_t seq = 11; seq <= 20; seq++) {
        expect_gen(fx.store, seq);
    }
    /* A key-value style subject keeps its newest values only. */
    uint64_t seq = 0;
    for (int i = 0; i < 5; i++) {
        uint8_t value = (uint8_t)i;
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"kv.k", 4, NULL, 0,
                                             &value, 1, &seq),
                         0);
    }
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"kv.k", 4), 2);
    uint64_t first = 0;
    ck_assert_int_eq(stream_store_subject_first(fx.store, (const uint8_t *)"kv.k", 4, &first), 0);
    ck_assert_uint_eq(first, seq - 1);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 12);
    ck_assert_uint_eq(info.first_seq, 11);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"kv.k", 4), 2);
    expect_gone(fx.store, seq - 2);
    for (uint64_t s = 0; s < SUBJECT_SPREAD; s++) {
        char subject[16];
        int length = snprintf(subject, sizeof subject, "gen.%" PRIu64, s);
        ck_assert_uint_eq(
            stream_store_subject_count(fx.store, (const uint8_t *)subject, (uint32_t)length), 2);
    }
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_purge_variants)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 30);
    uint64_t purged = 0;
    struct stream_store_purge_request request = {.up_to_seq = 11};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 10);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 11);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 11);
    request = (struct stream_store_purge_request){.keep = 5};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 15);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 26);
    ck_assert_uint_eq(info.msg_count, 5);
    request = (struct stream_store_purge_request){.keep = 50};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 0);
    fx_append_gen_range(&fx, 31, 50);
    /* One subject: gen.1 holds 26, 31, 36, 41, 46; keep the newest two. */
    request = (struct stream_store_purge_request){
        .subject = (const uint8_t *)"gen.1", .subject_length = 5, .keep = 2};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 3);
    ck_assert_uint_eq(stream_store_subject_count(fx.store, (const uint8_t *)"gen.1", 5), 2);
    /* gen.2 holds 27, 32, 37, 42, 47; those below 40 go. */
    request = (struct stream_store_purge_request){
        .subject = (const uint8_t *)"gen.2", .subject_length = 5, .up_to_seq = 40};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 3);
    request = (struct stream_store_purge_request){.up_to_seq = 40, .keep = 1};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), -EINVAL);
    request = (struct stream_store_purge_request){
        .subject = (const uint8_t *)"nothing", .subject_length = 7};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 0);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 28);
    ck_assert_uint_eq(info.msg_count, 25 - 6);
    static const uint64_t gone[] = {26, 27, 31, 32, 36, 37};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
        expect_gone(fx.store, gone[i]);
    }
    for (uint64_t seq = 28; seq <= 50; seq++) {
        bool is_gone = false;
        for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
            is_gone = is_gone || gone[i] == seq;
        }
        if (!is_gone) {
            expect_gen(fx.store, seq);
        }
    }
    /* A request with nothing set purges everything. */
    request = (struct stream_store_purge_request){0};
    ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
    ck_assert_uint_eq(purged, 19);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 0);
    fx_fini(&fx);
}
END_TEST

/* ---- differential test against a naive model ----------------------------------------- */

enum {
    MODEL_SEQ_MAX = 8192,
    MODEL_SUBJECTS = 7,
    MODEL_OPS = 6000,
    MODEL_MAX_MSGS = 150,
    MODEL_MAX_PER_SUBJECT = 25,
};

/* The store as a list: for each sequence, held or not and its subject. */
struct model {
    bool held[MODEL_SEQ_MAX];
    uint8_t subject[MODEL_SEQ_MAX];
    uint64_t last_seq;
};

static int model_subject_name(uint32_t index, char *name)
{
    return snprintf(name, 16, "r.%u", index);
}

static uint64_t model_count(const struct model *model, int subject)
{
    uint64_t count = 0;
    for (uint64_t seq = 1; seq <= model->last_seq; seq++) {
        count += model->held[seq] && (subject < 0 || model->subject[seq] == subject);
    }
    return count;
}

static uint64_t model_first(const struct model *model, int subject)
{
    for (uint64_t seq = 1; seq <= model->last_seq; seq++) {
        if (model->held[seq] && (subject < 0 || model->subject[seq] == subject)) {
            return seq;
        }
    }
    return 0;
}

static uint64_t model_last(const struct model *model, int subject)
{
    for (uint64_t seq = model->last_seq; seq >= 1; seq--) {
        if (model->held[seq] && (subject < 0 || model->subject[seq] == subject)) {
            return seq;
        }
    }
    return 0;
}

static void model_append(struct model *model, uint8_t subject)
{
    uint64_t seq = ++model->last_seq;
    ck_assert_uint_lt(seq, MODEL_SEQ_MAX);
    model->held[seq] = true;
    model->subject[seq] = subject;
    while (model_count(model, subject) > MODEL_MAX_PER_SUBJECT) {
        model->held[model_first(model, subject)] = false;
    }
    while (model_count(model, -1) > MODEL_MAX_MSGS) {
        model->held[model_first(model, -1)] = false;
    }
}

static void model_check(struct fixture *fx, const struct model *model)
{
    struct stream_store_info info = info_of(fx->store);
    ck_assert_uint_eq(info.last_seq, model->last_seq);
    ck_assert_uint_eq(info.msg_count, model_count(model, -1));
    uint64_t first = model_first(model, -1);
    ck_assert_uint_eq(info.first_seq, first != 0 ? first : model->last_seq + 1);
    for (uint64_t seq = 1; seq <= model->last_seq + 1; seq++) {
        struct stream_store_msg msg;
        int rc = stream_store_get(fx->store, seq, &msg);
        if (!model->held[seq]) {
            ck_assert_int_eq(rc, -ENOENT);
            continue;
        }
        ck_assert_int_eq(rc, 0);
        char name[16];
        int length = model_subject_name(model->subject[seq], name);
        ck_assert_uint_eq(msg.subject_length, (uint32_t)length);
        ck_assert(memcmp(msg.subject, name, (size_t)length) == 0);
        struct gen_msg want;
        gen_msg_make(seq, &want);
        ck_assert_uint_eq(msg.payload_length, want.payload_length);
        ck_assert(memcmp(msg.payload, want.payload, want.payload_length) == 0);
    }
    for (uint32_t subject = 0; subject < MODEL_SUBJECTS; subject++) {
        char name[16];
        uint32_t length = (uint32_t)model_subject_name(subject, name);
        const uint8_t *bytes = (const uint8_t *)name;
        uint64_t want_first = model_first(model, (int)subject);
        uint64_t got = 0;
        ck_assert_uint_eq(stream_store_subject_count(fx->store, bytes, length),
                          model_count(model, (int)subject));
        if (want_first == 0) {
            ck_assert_int_eq(stream_store_subject_first(fx->store, bytes, length, &got), -ENOENT);
            continue;
        }
        ck_assert_int_eq(stream_store_subject_first(fx->store, bytes, length, &got), 0);
        ck_assert_uint_eq(got, want_first);
        ck_assert_int_eq(stream_store_subject_last(fx->store, bytes, length, &got), 0);
        ck_assert_uint_eq(got, model_last(model, (int)subject));
    }
}

START_TEST(test_store_differential)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.max_msgs = MODEL_MAX_MSGS;
    fx.config.max_msgs_per_subject = MODEL_MAX_PER_SUBJECT;
    fx.config.batch_size = 1024;
    fx_open_ok(&fx);
    static struct model model;
    memset(&model, 0, sizeof model);
    uint64_t random = 0x5eed;
    for (int op = 0; op < MODEL_OPS; op++) {
        uint64_t dice = hash_sequence_next(&random) % 100;
        if (dice < 70) {
            uint8_t subject = (uint8_t)(hash_sequence_next(&random) % MODEL_SUBJECTS);
            char name[16];
            int length = model_subject_name(subject, name);
            struct gen_msg msg;
            gen_msg_make(model.last_seq + 1, &msg);
            uint64_t seq = 0;
            ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)name,
                                                 (uint32_t)length, NULL, 0, msg.payload,
                                                 msg.payload_length, &seq),
                             0);
            model_append(&model, subject);
            ck_assert_uint_eq(seq, model.last_seq);
        } else if (dice < 85) {
            uint64_t seq = 1 + hash_sequence_next(&random) % (model.last_seq + 1);
            int rc = stream_store_delete(fx.store, seq);
            ck_assert_int_eq(rc, seq <= model.last_seq && model.held[seq] ? 0 : -ENOENT);
            model.held[seq] = false;
        } else if (dice < 88) {
            uint8_t subject = (uint8_t)(hash_sequence_next(&random) % MODEL_SUBJECTS);
            char name[16];
            int length = model_subject_name(subject, name);
            uint64_t keep = hash_sequence_next(&random) % 10;
            struct stream_store_purge_request request = {
                .subject = (const uint8_t *)name, .subject_length = (uint32_t)length,
                .keep = keep};
            uint64_t purged = 0;
            ck_assert_int_eq(stream_store_purge(fx.store, &request, &purged), 0);
            uint64_t removed = 0;
            while (model_count(&model, subject) > keep) {
                model.held[model_first(&model, subject)] = false;
                removed++;
            }
            ck_assert_uint_eq(purged, removed);
        } else if (dice < 90) {
            uint64_t up_to = model.last_seq > 20 ? model.last_seq - 20 : 1;
            struct stream_store_purge_request request = {.up_to_seq = up_to};
            ck_assert_int_eq(stream_store_purge(fx.store, &request, NULL), 0);
            for (uint64_t seq = 1; seq < up_to; seq++) {
                model.held[seq] = false;
            }
        } else if (dice < 98) {
            fx_drain(&fx);
        } else {
            fx_reopen(&fx);
        }
        if (op % 500 == 0) {
            model_check(&fx, &model);
        }
    }
    model_check(&fx, &model);
    fx_reopen(&fx);
    model_check(&fx, &model);
    fx_fini(&fx);
}
END_TEST

/* ---- segments: rollover and dropping -------------------------------------------------- */

START_TEST(test_store_rollover_and_drop)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 200);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_gt(info.segment_count, 5);
    uint32_t segments = info.segment_count;
    fx_drain(&fx);
    ck_assert_uint_eq(count_segment_files(fx.path), segments);
    for (uint64_t seq = 1; seq <= 200; seq++) {
        expect_gen(fx.store, seq);
    }
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).segment_count, segments);
    for (uint64_t seq = 1; seq <= 200; seq++) {
        expect_gen(fx.store, seq);
    }
    /* Deleting every message of the first segments drops them, files included; deleting
     * within a later segment keeps it. */
    for (uint64_t seq = 1; seq <= 100; seq++) {
        ck_assert_int_eq(stream_store_delete(fx.store, seq), 0);
    }
    info = info_of(fx.store);
    ck_assert_uint_lt(info.segment_count, segments);
    ck_assert_uint_eq(info.first_seq, 101);
    fx_drain(&fx);
    ck_assert_uint_eq(count_segment_files(fx.path), info.segment_count);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 101);
    for (uint64_t seq = 101; seq <= 200; seq++) {
        expect_gen(fx.store, seq);
    }
    /* A record larger than a segment can hold is refused. */
    static uint8_t big[SMALL_SEGMENT_SIZE];
    uint64_t seq;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, big,
                                         sizeof big, &seq),
                     -EMSGSIZE);
    /* The largest that fits takes a segment of its own. */
    uint32_t fits = SMALL_SEGMENT_SIZE - SEGMENT_HEADER_SIZE - RECORD_OVERHEAD_SIZE - 1;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, big, fits,
                                         &seq),
                     0);
    fx_reopen(&fx);
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_get(fx.store, seq, &msg), 0);
    ck_assert_uint_eq(msg.payload_length, fits);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_retention_drops_segments)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.max_msgs = 30;
    fx_open_ok(&fx);
    for (uint64_t seq = 1; seq <= 1000; seq++) {
        fx_append_gen(&fx, seq);
        if (seq % 50 == 0) {
            fx_drain(&fx);
        }
    }
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 30);
    ck_assert_uint_eq(info.first_seq, 971);
    /* 30 messages of at most ~270 bytes need at most 3 segments of 4 KiB, plus the one
     * being cut. */
    ck_assert_uint_le(info.segment_count, 4);
    fx_drain(&fx);
    ck_assert_uint_eq(count_segment_files(fx.path), info.segment_count);
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 30);
    ck_assert_uint_eq(info.first_seq, 971);
    for (uint64_t seq = 971; seq <= 1000; seq++) {
        expect_gen(fx.store, seq);
    }
    /* Lowering the limit between opens applies it at open, durably. */
    fx_close(&fx);
    fx.config.max_msgs = 10;
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 991);
    fx.config.max_msgs = 0;
    fx_reopen(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 10);
    ck_assert_uint_eq(info.first_seq, 991);
    fx_fini(&fx);
}
END_TEST

/* ---- time ----------------------------------------------------------------------------- */

START_TEST(test_store_time)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.max_age_ns = 100;
    int64_t start_ns = fx.now_ns;
    fx_open_ok(&fx);
    for (uint64_t seq = 1; seq <= 20; seq++) {
        fx.now_ns = start_ns + (int64_t)seq * 10;
        fx_append_gen(&fx, seq);
    }
    uint64_t seq;
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, start_ns + 55, &seq), 0);
    ck_assert_uint_eq(seq, 6);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, 0, &seq), 0);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, start_ns + 201, &seq), -ENOENT);
    ck_assert_int_eq(stream_store_delete(fx.store, 6), 0);
    ck_assert_int_eq(stream_store_delete(fx.store, 7), 0);
    ck_assert_int_eq(stream_store_seq_for_time(fx.store, start_ns + 55, &seq), 0);
    ck_assert_uint_eq(seq, 8);
    /* A clock that steps back does not make timestamps decrease. */
    fx.now_ns = start_ns;
    fx_append_gen(&fx, 21);
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_get(fx.store, 21, &msg), 0);
    ck_assert_int_eq(msg.timestamp_ns, start_ns + 200);
    /* max_age: everything older than now - 100 goes at the tick, durably. */
    ck_assert_int_eq(stream_store_tick(fx.store, start_ns + 150), 0);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.first_seq, 5);
    ck_assert_uint_eq(info.first_timestamp_ns, start_ns + 50);
    fx.config.max_age_ns = 0;
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 5);
    ck_assert_int_eq(stream_store_tick(fx.store, start_ns + 100000), 0);
    ck_assert_uint_eq(info_of(fx.store).first_seq, 5);
    fx_close(&fx);
    fx.config.max_age_ns = 1;
    fx_open_ok(&fx);
    ck_assert_int_eq(stream_store_tick(fx.store, start_ns + 100000), 0);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 0);
    ck_assert_uint_eq(info.first_seq, 22);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 0);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 21);
    fx_fini(&fx);
}
END_TEST

/* ---- sync policies and I/O behaviour -------------------------------------------------- */

START_TEST(test_store_sync_always_group_commit)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx.io.datasync_hold = true;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 100);
    ck_assert_uint_eq(fx.committed_calls, 0);
    stream_store_flush(fx.store);
    /* The write is issued; nothing is committed until its datasync completes. */
    ck_assert_uint_eq(fx.io.sync.write_count, 1);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 0);
    store_io_sync_reap(&fx.io.sync, 1); /* write done -> datasync issued */
    ck_assert_uint_eq(fx.io.sync.datasync_count, 1);
    ck_assert_uint_eq(fx.committed_calls, 0);
    /* While the datasync runs, two more batches collect and are written. */
    fx_append_gen_range(&fx, 101, 150);
    stream_store_flush(fx.store);
    ck_assert_uint_eq(fx.io.sync.write_count, 2);
    fx_append_gen_range(&fx, 151, 200);
    stream_store_flush(fx.store); /* the second write is still in flight */
    ck_assert_uint_eq(fx.io.sync.write_count, 2);
    store_io_sync_reap(&fx.io.sync, 1); /* second write done -> third written */
    ck_assert_uint_eq(fx.io.sync.write_count, 3);
    store_io_sync_reap(&fx.io.sync, 1);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 1);
    ck_assert_uint_eq(fx.committed_calls, 0);
    /* The first datasync completes: the first batch is committed, and one datasync covers
     * both batches written meanwhile. */
    ck_assert(inject_release_datasync(&fx.io));
    ck_assert_uint_eq(fx.committed_calls, 1);
    ck_assert_uint_eq(fx.committed_seq, 100);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 2);
    ck_assert(inject_release_datasync(&fx.io));
    ck_assert_uint_eq(fx.committed_calls, 2);
    ck_assert_uint_eq(fx.committed_seq, 200);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 2); /* three batches, two datasyncs */
    ck_assert(!stream_store_busy(fx.store));
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.durable_seq, 200);
    ck_assert_uint_eq(info.durable_lsn, info.lsn);
    /* A tombstone is committed like any record: by lsn. */
    ck_assert_int_eq(stream_store_delete(fx.store, 3), 0);
    uint64_t lsn = info_of(fx.store).lsn;
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_lsn, lsn);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 199);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_sync_none_and_interval)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 10);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, 10);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 0);
    fx_close(&fx);
    fx.config.sync = STREAM_STORE_SYNC_INTERVAL;
    fx.config.sync_interval_ns = 1000;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 11, 20);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, 20); /* committed at the write */
    ck_assert_uint_eq(fx.io.sync.datasync_count, 0);
    ck_assert_int_eq(stream_store_tick(fx.store, 5000), 0);
    store_io_sync_reap(&fx.io.sync, UINT32_MAX);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 1);
    ck_assert_int_eq(stream_store_tick(fx.store, 5500), 0); /* nothing new, not due */
    fx_append_gen(&fx, 21);
    fx_drain(&fx);
    ck_assert_int_eq(stream_store_tick(fx.store, 5600), 0); /* not due yet */
    store_io_sync_reap(&fx.io.sync, UINT32_MAX);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 1);
    ck_assert_int_eq(stream_store_tick(fx.store, 6000), 0);
    store_io_sync_reap(&fx.io.sync, UINT32_MAX);
    ck_assert_uint_eq(fx.io.sync.datasync_count, 2);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_write_failure_stops)
{
    struct fixture fx;
    fx_init(&fx);
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 5);
    fx_drain(&fx);
    fx.io.write_fail = true;
    fx_append_gen(&fx, 6);
    fx_drain(&fx);
    ck_assert_int_eq(fx.failed_error, -EBADF);
    uint64_t seq;
    ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"a", 1, NULL, 0, NULL, 0, &seq),
                     -EBADF);
    ck_assert_int_eq(stream_store_delete(fx.store, 1), -EBADF);
    ck_assert_int_eq(info_of(fx.store).failure, -EBADF);
    expect_gen(fx.store, 6); /* reads go on, from the batch */
    ck_assert_uint_eq(fx.committed_seq, 5);
    fx_close(&fx);
    /* Reopened, the store has what reached the file. */
    fx.io.write_fail = false;
    fx.failed_error = 0;
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 5);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_datasync_failure_stops)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx_open_ok(&fx);
    fx.io.datasync_fail = true;
    fx_append_gen_range(&fx, 1, 5);
    fx_drain(&fx);
    ck_assert_int_eq(fx.failed_error, -EBADF);
    ck_assert_uint_eq(fx.committed_calls, 0); /* never acked */
    ck_assert_int_eq(stream_store_flush(fx.store), -EBADF);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_short_writes_and_refusals)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.batch_size = 1024;
    fx.config.pending_bytes_max = 4096;
    fx_open_ok(&fx);
    fx.io.write_size_max = 7;
    fx.io.write_refuse_count = 3;
    fx_append_gen_range(&fx, 1, 10);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.io.write_refuse_count, 0);
    ck_assert_uint_eq(fx.committed_seq, 10);
    ck_assert_uint_gt(fx.io.sync.write_count, 100);
    fx.io.write_size_max = 0;
    /* Back-pressure: with nothing completing, appends stop at pending_bytes_max. */
    fx.io.write_refuse_count = UINT32_MAX;
    uint64_t seq = 11;
    int rc = 0;
    for (; seq < 1000; seq++) {
        struct gen_msg msg;
        gen_msg_make(seq, &msg);
        uint64_t got;
        rc = stream_store_append(fx.store, (const uint8_t *)msg.subject, msg.subject_length,
                                 msg.header, msg.header_length, msg.payload,
                                 msg.payload_length, &got);
        if (rc != 0) {
            break;
        }
    }
    ck_assert_int_eq(rc, -EAGAIN);
    ck_assert_uint_le(info_of(fx.store).pending_bytes, 4096);
    fx.io.write_refuse_count = 0;
    fx_drain(&fx);
    fx_append_gen(&fx, seq);
    fx_reopen(&fx);
    for (uint64_t s = 1; s <= seq; s++) {
        expect_gen(fx.store, s);
    }
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_enospc_injected)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx_open_ok(&fx);
    fx.io.allocate_error = -ENOSPC;
    uint64_t seq = 1;
    int rc = 0;
    for (; seq < 1000; seq++) {
        struct gen_msg msg;
        gen_msg_make(seq, &msg);
        uint64_t got;
        rc = stream_store_append(fx.store, (const uint8_t *)msg.subject, msg.subject_length,
                                 msg.header, msg.header_length, msg.payload,
                                 msg.payload_length, &got);
        if (rc != 0) {
            break;
        }
    }
    ck_assert_int_eq(rc, -ENOSPC);
    ck_assert_uint_eq(info_of(fx.store).last_seq, seq - 1);
    ck_assert_int_eq(info_of(fx.store).failure, 0); /* not fatal: space may come back */
    rc = stream_store_delete(fx.store, 1);
    ck_assert(rc == 0 || rc == -ENOSPC);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, seq - 1);
    fx.io.allocate_error = 0;
    fx_append_gen(&fx, seq);
    fx_reopen(&fx);
    for (uint64_t s = rc == 0 ? 2 : 1; s <= seq; s++) {
        expect_gen(fx.store, s);
    }
    fx_fini(&fx);
}
END_TEST

/* In a child with its own mount namespace: a 1 MiB tmpfs, filled through the store. Exits
 * 0 when the disk filled up as -ENOSPC from append, CHILD_EXIT_SKIP when no namespace or
 * mount can be had here, 1 otherwise. */
static int enospc_child(const char *mount_point)
{
    if (unshare(CLONE_NEWNS) != 0) {
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            return CHILD_EXIT_SKIP;
        }
        char map[64];
        int fd = open("/proc/self/setgroups", O_WRONLY);
        if (fd >= 0) {
            (void)!write(fd, "deny", 4);
            close(fd);
        }
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        fd = open("/proc/self/uid_map", O_WRONLY);
        if (fd < 0 || write(fd, map, strlen(map)) < 0) {
            return CHILD_EXIT_SKIP;
        }
        close(fd);
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        fd = open("/proc/self/gid_map", O_WRONLY);
        if (fd < 0 || write(fd, map, strlen(map)) < 0) {
            return CHILD_EXIT_SKIP;
        }
        close(fd);
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mount_point, "tmpfs", 0, "size=1m") != 0) {
        return CHILD_EXIT_SKIP;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/stream", mount_point);
    struct store_io_sync io;
    store_io_sync_init(&io);
    struct stream_store_config config;
    stream_store_config_default(&config);
    config.segment_size = 256 * 1024;
    config.sync = STREAM_STORE_SYNC_ALWAYS;
    struct stream_store *store = NULL;
    if (stream_store_open(path, &config, &io.io, NULL, &store) != 0) {
        return 1;
    }
    static uint8_t payload[1000];
    int rc = 0;
    uint64_t seq = 0;
    for (int i = 0; i < 10000 && rc == 0; i++) {
        rc = stream_store_append(store, (const uint8_t *)"fill", 4, NULL, 0, payload,
                                 sizeof payload, &seq);
        stream_store_flush(store);
        store_io_sync_reap(&io, UINT32_MAX);
    }
    struct stream_store_info info;
    stream_store_info_get(store, &info);
    bool ok = rc == -ENOSPC && info.failure == 0 && info.last_seq > 100 &&
              info.durable_seq == info.last_seq;
    struct stream_store_msg msg;
    ok = ok && stream_store_get(store, info.last_seq, &msg) == 0;
    stream_store_close(store);
    /* Everything acked is there after a reopen on the full disk. */
    struct stream_store *reopened = NULL;
    ok = ok && stream_store_open(path, &config, &io.io, NULL, &reopened) == 0;
    if (reopened != NULL) {
        struct stream_store_info again;
        stream_store_info_get(reopened, &again);
        ok = ok && again.last_seq == info.last_seq && again.msg_count == info.msg_count;
        stream_store_close(reopened);
    }
    umount(mount_point);
    return ok ? 0 : 1;
}

START_TEST(test_store_enospc_tmpfs)
{
    struct fixture fx;
    fx_init(&fx);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(enospc_child(fx.root));
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    if (WEXITSTATUS(status) == CHILD_EXIT_SKIP) {
        fprintf(stderr, "test_store_enospc_tmpfs: no mount namespace here, skipped "
                        "(the injected ENOSPC test still ran)\n");
    } else {
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    fx_fini(&fx);
}
END_TEST

/* ---- the memory-backed variant ------------------------------------------------------ */

START_TEST(test_store_memory)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx.config.max_msgs = 100;
    ck_assert_int_eq(stream_store_open(NULL, &fx.config, &fx.io.sync.io, &fx.hooks, &fx.store),
                     0);
    for (uint64_t seq = 1; seq <= 300; seq++) {
        fx_append_gen(&fx, seq);
        if (seq % 40 == 0) {
            fx_drain(&fx);
        }
    }
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, 300);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, 100);
    ck_assert_uint_eq(info.first_seq, 201);
    ck_assert_uint_le(info.segment_count, 9);
    for (uint64_t seq = 201; seq <= 300; seq++) {
        expect_gen(fx.store, seq);
    }
    expect_gone(fx.store, 200);
    uint64_t seq;
    ck_assert_int_eq(stream_store_delete(fx.store, 250), 0);
    expect_gone(fx.store, 250);
    ck_assert_int_eq(stream_store_subject_last(fx.store, (const uint8_t *)"gen.0", 5, &seq), 0);
    ck_assert_uint_eq(seq, 300);
    ck_assert_int_eq(stream_store_subject_first(fx.store, (const uint8_t *)"gen.0", 5, &seq), 0);
    ck_assert_uint_eq(seq, 205);
    ck_assert_int_eq(stream_store_purge(fx.store, NULL, NULL), 0);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 0);
    fx_append_gen(&fx, 301);
    expect_gen(fx.store, 301);
    fx_close(&fx);
    /* Nothing reached the file system. */
    char command[256];
    snprintf(command, sizeof command, "test $(ls -A %s | wc -l) -eq 0", fx.root);
    ck_assert_int_eq(system(command), 0);
    fx_fini(&fx);
}
END_TEST

/* ---- recovery ------------------------------------------------------------------------- */

enum {
    RECOVERY_MSG_COUNT = 60,
    RECOVERY_OFFSETS_MAX = 256,
};

/* A pristine store of RECOVERY_MSG_COUNT messages over several 4 KiB segments, closed,
 * under root/pristine; fx->path is where each case works on a copy. */
struct recovery_layout {
    char pristine[128];
    uint32_t segment_count;
    uint64_t first_seq[16];  /* per segment id - 1 */
    uint32_t record_count[16];
    uint64_t offsets[16][RECOVERY_OFFSETS_MAX];
    uint64_t end[16];
};

static void recovery_setup(struct fixture *fx, struct recovery_layout *layout)
{
    fx->config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(fx);
    fx_append_gen_range(fx, 1, RECOVERY_MSG_COUNT);
    fx_close(fx);
    snprintf(layout->pristine, sizeof layout->pristine, "%s/pristine", fx->root);
    copy_tree(fx->path, layout->pristine);
    layout->segment_count = count_segment_files(fx->path);
    ck_assert_uint_ge(layout->segment_count, 3);
    ck_assert_uint_le(layout->segment_count, 16);
    uint64_t first = 1;
    for (uint32_t i = 0; i < layout->segment_count; i++) {
        char file[256];
        segment_path(fx, i + 1, file, sizeof file);
        layout->first_seq[i] = first;
        layout->record_count[i] =
            segment_record_offsets(file, layout->offsets[i], RECOVERY_OFFSETS_MAX, &layout->end[i]);
        first += layout->record_count[i];
    }
    ck_assert_uint_eq(first, RECOVERY_MSG_COUNT + 1);
}

static void recovery_restore(struct fixture *fx, const struct recovery_layout *layout)
{
    copy_tree(layout->pristine, fx->path);
}

/* Reopens after damage to the last segment at sequence `seq_cut` and checks the log ends
 * just before it, byte-exact, then that an append there is not followed by stale records. */
static void recovery_check_cut(struct fixture *fx, uint64_t seq_cut, uint64_t truncated_count)
{
    fx_open_ok(fx);
    struct stream_store_info info = info_of(fx->store);
    ck_assert_uint_eq(info.last_seq, seq_cut - 1);
    ck_assert_uint_eq(info.msg_count, seq_cut - 1);
    ck_assert_uint_eq(info.truncated_count, truncated_count);
    ck_assert_uint_eq(info.lost_count, 0);
    for (uint64_t seq = 1; seq < seq_cut; seq++) {
        expect_gen(fx->store, seq);
    }
    /* A different record takes the cut one's place (in a new segment after a torn record,
     * in place after a clean end): nothing stale behind it comes back. */
    fx->now_ns += 1000;
    uint64_t seq = 0;
    ck_assert_int_eq(stream_store_append(fx->store, (const uint8_t *)"other", 5, NULL, 0,
                                         (const uint8_t *)"x", 1, &seq),
                     0);
    ck_assert_uint_eq(seq, seq_cut);
    fx_reopen(fx);
    info = info_of(fx->store);
    ck_assert_uint_eq(info.last_seq, seq_cut);
    ck_assert_uint_eq(info.truncated_count, truncated_count); /* the damage stays visible */
    ck_assert_uint_eq(info.lost_count, 0);
    for (uint64_t s = 1; s < seq_cut; s++) {
        expect_gen(fx->store, s);
    }
    struct stream_store_msg msg;
    ck_assert_int_eq(stream_store_get(fx->store, seq_cut, &msg), 0);
    ck_assert_uint_eq(msg.subject_length, 5);
    fx_close(fx);
}

START_TEST(test_recovery_last_segment_every_boundary)
{
    struct fixture fx;
    fx_init(&fx);
    static struct recovery_layout layout;
    recovery_setup(&fx, &layout);
    uint32_t last = layout.segment_count - 1;
    char file[256];
    segment_path(&fx, last + 1, file, sizeof file);
    ck_assert_uint_gt(layout.record_count[last], 0);
    for (uint32_t k = 0; k < layout.record_count[last]; k++) {
        uint64_t seq = layout.first_seq[last] + k;
        uint64_t offset = layout.offsets[last][k];
        /* Truncated at the boundary: a clean end. */
        recovery_restore(&fx, &layout);
        ck_assert_int_eq(truncate(file, (off_t)offset), 0);
        recovery_check_cut(&fx, seq, 0);
        /* Truncated inside the record: a torn tail. */
        recovery_restore(&fx, &layout);
        ck_assert_int_eq(truncate(file, (off_t)offset + 5), 0);
        recovery_check_cut(&fx, seq, 1);
        /* Zeros from the boundary on: a clean end. */
        recovery_restore(&fx, &layout);
        file_zero(file, offset, SMALL_SEGMENT_SIZE - offset);
        recovery_check_cut(&fx, seq, 0);
        /* A flipped byte in the frame, and one in the body. */
        recovery_restore(&fx, &layout);
        file_flip_byte(file, offset);
        recovery_check_cut(&fx, seq, 1);
        recovery_restore(&fx, &layout);
        file_flip_byte(file, offset + RECORD_HEADER_SIZE + 2);
        recovery_check_cut(&fx, seq, 1);
    }
    /* A record that never reached the disk while the ones after it did (pages written out
     * of order): the log ends cleanly before it. A new record of exactly its size then
     * sits where it was, so the old next record lines up behind it, and must not validate:
     * its checksum chains from the old record, not the new one. */
    for (uint32_t k = 0; k + 1 < layout.record_count[last]; k++) {
        uint64_t seq = layout.first_seq[last] + k;
        uint64_t offset = layout.offsets[last][k];
        uint64_t size = layout.offsets[last][k + 1] - offset;
        recovery_restore(&fx, &layout);
        file_zero(file, offset, size);
        fx_open_ok(&fx);
        struct stream_store_info info = info_of(fx.store);
        ck_assert_uint_eq(info.last_seq, seq - 1);
        ck_assert_uint_eq(info.truncated_count, 0);
        static const uint8_t filler[PAYLOAD_SIZE_MAX];
        uint64_t got = 0;
        uint32_t payload_length = (uint32_t)(size - RECORD_OVERHEAD_SIZE - 5);
        ck_assert_int_eq(stream_store_append(fx.store, (const uint8_t *)"other", 5, NULL, 0,
                                             filler, payload_length, &got),
                         0);
        ck_assert_uint_eq(got, seq);
        fx_reopen(&fx);
        info = info_of(fx.store);
        ck_assert_uint_eq(info.last_seq, seq);
        ck_assert_uint_eq(info.truncated_count, 1); /* the stale record behind is refused */
        fx_close(&fx);
    }
    /* Untouched, everything is there. */
    recovery_restore(&fx, &layout);
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, RECOVERY_MSG_COUNT);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_recovery_inner_segment_every_boundary)
{
    struct fixture fx;
    fx_init(&fx);
    static struct recovery_layout layout;
    recovery_setup(&fx, &layout);
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    uint32_t count = layout.record_count[0];
    for (uint32_t k = 0; k < count; k++) {
        uint64_t seq = layout.first_seq[0] + k;
        uint64_t offset = layout.offsets[0][k];
        for (int variant = 0; variant < 3; variant++) {
            recovery_restore(&fx, &layout);
            if (variant == 0) {
                file_flip_byte(file, offset + RECORD_HEADER_SIZE + 1);
            } else if (variant == 1) {
                ck_assert_int_eq(truncate(file, (off_t)offset), 0);
            } else {
                file_zero(file, offset, SMALL_SEGMENT_SIZE - offset);
            }
            fx_open_ok(&fx);
            struct stream_store_info info = info_of(fx.store);
            /* The rest of the first segment is lost, and only that: contained. */
            uint64_t lost = count - k;
            ck_assert_uint_eq(info.lost_count, lost);
            ck_assert_uint_eq(info.truncated_count, variant == 0 ? 1 : 0);
            ck_assert_uint_eq(info.last_seq, RECOVERY_MSG_COUNT);
            ck_assert_uint_eq(info.msg_count, RECOVERY_MSG_COUNT - lost);
            for (uint64_t s = 1; s <= RECOVERY_MSG_COUNT; s++) {
                if (s >= seq && s < seq + lost) {
                    expect_gone(fx.store, s);
                } else {
                    expect_gen(fx.store, s);
                }
            }
            fx_append_gen(&fx, RECOVERY_MSG_COUNT + 1);
            fx_close(&fx);
        }
    }
    fx_fini(&fx);
}
END_TEST

START_TEST(test_recovery_empty_last_segment_after_gap)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    uint64_t seq = 0;
    while (info_of(fx.store).segment_count < 2) {
        fx_append_gen(&fx, ++seq);
    }
    fx_close(&fx);
    /* The crash came after segment 2 was created and before the batch holding the last
     * record of segment 1, and segment 2's first record, reached the disk. */
    char file[256];
    uint64_t offsets[RECOVERY_OFFSETS_MAX];
    uint64_t end;
    segment_path(&fx, 1, file, sizeof file);
    uint32_t count = segment_record_offsets(file, offsets, RECOVERY_OFFSETS_MAX, &end);
    ck_assert_uint_eq(count, seq - 1);
    file_zero(file, offsets[count - 1], SMALL_SEGMENT_SIZE - offsets[count - 1]);
    segment_path(&fx, 2, file, sizeof file);
    file_zero(file, SEGMENT_HEADER_SIZE, SMALL_SEGMENT_SIZE - SEGMENT_HEADER_SIZE);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, seq - 2);
    ck_assert_uint_eq(info.lost_count, 0);
    ck_assert_uint_eq(info.segment_count, 1);
    fx_append_gen(&fx, seq - 1);
    fx_append_gen(&fx, seq);
    fx_reopen(&fx);
    for (uint64_t s = 1; s <= seq; s++) {
        expect_gen(fx.store, s);
    }
    fx_fini(&fx);
}
END_TEST

START_TEST(test_recovery_damaged_header_and_leftovers)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = SMALL_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 40);
    fx_close(&fx);
    /* A file half created by a crash is removed. */
    char leftover[256];
    snprintf(leftover, sizeof leftover, "%s/.00000000000000000099.seg.tmp", fx.path);
    int fd = open(leftover, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    fx_open_ok(&fx);
    ck_assert_int_eq(access(leftover, F_OK), -1);
    ck_assert_uint_eq(info_of(fx.store).last_seq, 40);
    fx_close(&fx);
    /* A damaged segment header: the salt is gone, so nothing in it can be validated. */
    char file[256];
    segment_path(&fx, 1, file, sizeof file);
    file_flip_byte(file, 30);
    ck_assert_int_eq(fx_open(&fx), -EBADMSG);
    ck_assert_ptr_null(fx.store);
    file_flip_byte(file, 30);
    /* A header shorter than a header. */
    ck_assert_int_eq(truncate(file, 10), 0);
    ck_assert_int_eq(fx_open(&fx), -EBADMSG);
    fx_fini(&fx);
}
END_TEST

START_TEST(test_store_bad_config)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = 100;
    ck_assert_int_eq(fx_open(&fx), -EINVAL);
    stream_store_config_default(&fx.config);
    fx.config.sync = STREAM_STORE_SYNC_INTERVAL;
    fx.config.sync_interval_ns = 0;
    ck_assert_int_eq(fx_open(&fx), -EINVAL);
    stream_store_config_default(&fx.config);
    fx.config.pending_bytes_max = fx.config.batch_size - 1;
    ck_assert_int_eq(fx_open(&fx), -EINVAL);
    fx_fini(&fx);
}
END_TEST

/* Appends generated messages from info.last_seq + 1 until the store has `segment_count`
 * segments; returns the last sequence appended. */
static uint64_t fx_append_until_segments(struct fixture *fx, uint32_t segment_count)
{
    uint64_t seq = info_of(fx->store).last_seq;
    while (info_of(fx->store).segment_count < segment_count) {
        fx_append_gen(fx, ++seq);
    }
    return seq;
}

/* "Crashes" the way a killed process would leave the files: the store is closed with its
 * unsubmitted batches discarded. */
static void fx_close_discarding(struct fixture *fx)
{
    store_io_sync_reap(&fx->io.sync, UINT32_MAX);
    stream_store_close(fx->store);
    fx->store = NULL;
}

/* A segment created on the message path waits for no disk: its header goes out with its
 * first batch. Cut before that batch is written, the file reads as never written and
 * recovery removes it (ids are not reused); in the middle of the log it is damage. */
START_TEST(test_store_deferred_segment_header)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = CRASH_SEGMENT_SIZE;
    fx_open_ok(&fx);
    fx_append_until_segments(&fx, 2);
    fx_drain(&fx);
    uint64_t written_last = info_of(fx.store).last_seq;
    uint64_t unwritten_last = fx_append_until_segments(&fx, 3);
    ck_assert_uint_gt(unwritten_last, written_last);
    ck_assert_uint_eq(count_segment_files(fx.path), 3);
    fx_close_discarding(&fx);
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, written_last);
    ck_assert_uint_eq(info.msg_count, written_last);
    ck_assert_uint_eq(info.lost_count, 0);
    for (uint64_t seq = 1; seq <= written_last; seq++) {
        expect_gen(fx.store, seq);
    }
    /* Appends go on, into a segment with a new id, and survive. */
    uint64_t last = fx_append_until_segments(&fx, info_of(fx.store).segment_count + 1);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, last);
    expect_gen(fx.store, last);
    fx_close(&fx);
    ck_assert_uint_eq(count_segment_files(fx.path), 3);
    char name[SEGMENT_NAME_SIZE];
    segment_name_format(3, name);
    char file[256];
    snprintf(file, sizeof file, "%s/%s", fx.path, name);
    ck_assert_int_ne(access(file, F_OK), 0); /* removed, and not reused */
    /* A never-written header with valid segments behind it is damage, not a crash. */
    int fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, CRASH_SEGMENT_SIZE), 0);
    close(fd);
    ck_assert_int_eq(fx_open(&fx), -EBADMSG);
    ck_assert_int_eq(unlink(file), 0);
    fx_open_ok(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, last);
    fx_fini(&fx);
}
END_TEST

/* While the newest segment's header is not yet in the file, the segment before it stays
 * even when retention has emptied it: its header is the floor a recovery starts from, so
 * sequences never go back after a crash. */
START_TEST(test_store_deferred_segment_keeps_floor)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = CRASH_SEGMENT_SIZE;
    fx.config.max_msgs = 5;
    fx_open_ok(&fx);
    /* Normally an emptied segment goes as soon as the next one's header is written. */
    uint64_t seq = fx_append_until_segments(&fx, 2);
    fx_append_gen_range(&fx, seq + 1, seq + 10);
    fx_drain(&fx);
    ck_assert_uint_eq(info_of(fx.store).segment_count, 1);
    uint64_t written_last = info_of(fx.store).last_seq;
    /* Writes stall: the next segment's header stays in memory while retention empties the
     * segment before it, which stays. */
    fx.io.write_refuse_count = UINT32_MAX;
    seq = fx_append_until_segments(&fx, 2);
    fx_append_gen_range(&fx, seq + 1, seq + 10);
    ck_assert_uint_eq(info_of(fx.store).msg_count, 5);
    ck_assert_uint_eq(info_of(fx.store).first_seq, seq + 6);
    ck_assert_uint_eq(info_of(fx.store).segment_count, 2);
    fx_close_discarding(&fx);
    fx.io.write_refuse_count = 0;
    fx_open_ok(&fx);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_eq(info.last_seq, written_last);
    ck_assert_uint_eq(info.msg_count, 5);
    ck_assert_uint_eq(info.first_seq, written_last - 4);
    fx_append_gen(&fx, written_last + 1);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, written_last + 1);
    fx_fini(&fx);
}
END_TEST

/* Under `always`, a segment created on the message path is made durable by the first
 * group commit that covers it: the file's datasync, then the directory's, before anything
 * in it is committed. */
START_TEST(test_store_deferred_segment_always)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.segment_size = CRASH_SEGMENT_SIZE;
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx_open_ok(&fx);
    fx_append_gen_range(&fx, 1, 10);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.io.dir_datasync_count, 0);
    fx.io.datasync_hold = true;
    uint64_t last = fx_append_until_segments(&fx, 2);
    stream_store_flush(fx.store);
    store_io_sync_reap(&fx.io.sync, UINT32_MAX); /* both batches written */
    ck_assert(inject_release_datasync(&fx.io));  /* the first segment's batch */
    ck_assert_uint_eq(fx.committed_seq, last - 1);
    store_io_sync_reap(&fx.io.sync, UINT32_MAX);
    ck_assert(inject_release_datasync(&fx.io)); /* the new segment's file */
    ck_assert_uint_eq(fx.committed_seq, last - 1);
    ck_assert_uint_eq(fx.io.dir_datasync_count, 1);
    ck_assert(inject_release_datasync(&fx.io)); /* its directory entry */
    ck_assert_uint_eq(fx.committed_seq, last);
    /* Later commits of that segment sync the file only. */
    fx_append_gen(&fx, last + 1);
    fx_drain(&fx);
    ck_assert_uint_eq(fx.committed_seq, last + 1);
    ck_assert_uint_eq(fx.io.dir_datasync_count, 1);
    fx_reopen(&fx);
    ck_assert_uint_eq(info_of(fx.store).last_seq, last + 1);
    fx_fini(&fx);
}
END_TEST

/* ---- the io_uring store_io -------------------------------------------------------------- */

/* A store written through io_uring with group commit, as a shard drives it: appends with
 * flushes and non-blocking reaps in between, across several segments, then every message
 * back after a reopen. */
START_TEST(test_store_uring_always)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx.config.segment_size = CRASH_SEGMENT_SIZE * 4;
    fx.config.batch_size = 4096;
    struct io_uring ring;
    ck_assert_int_eq(io_uring_queue_init(URING_TEST_ENTRIES, &ring, 0), 0);
    struct store_uring uring;
    store_uring_init(&uring, &ring, 7, URING_TEST_ENTRIES);
    ck_assert_int_eq(stream_store_open(fx.path, &fx.config, &uring.io, &fx.hooks, &fx.store), 0);
    for (uint64_t seq = 1; seq <= URING_TEST_MSGS; seq++) {
        fx_append_gen(&fx, seq);
        if (seq % URING_TEST_FLUSH_EVERY == 0) {
            ck_assert_int_eq(stream_store_flush(fx.store), 0);
            ck_assert_int_ge(store_uring_reap(&uring, false), 0);
        }
    }
    ck_assert_int_eq(stream_store_flush(fx.store), 0);
    while (stream_store_busy(fx.store)) {
        ck_assert_int_ge(store_uring_reap(&uring, true), 0);
        ck_assert_int_eq(stream_store_flush(fx.store), 0);
    }
    ck_assert_int_eq(fx.failed_error, 0);
    ck_assert_uint_eq(fx.committed_seq, URING_TEST_MSGS);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_gt(info.segment_count, 1);
    ck_assert_uint_eq(info.durable_lsn, info.lsn);
    ck_assert_uint_eq(uring.in_flight, 0);
    /* Group commit: never more datasyncs than writes, and at least one per segment. */
    ck_assert_uint_le(uring.datasync_count, uring.write_count);
    ck_assert_uint_ge(uring.datasync_count, info.segment_count);
    stream_store_close(fx.store);
    fx.store = NULL;
    ck_assert_int_eq(store_uring_drain(&uring), 0);
    /* Closing the store closed every segment file through the ring. */
    ck_assert_uint_eq(uring.release_count, info.segment_count);
    io_uring_queue_exit(&ring);
    fx_open_ok(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, URING_TEST_MSGS);
    for (uint64_t seq = 1; seq <= URING_TEST_MSGS; seq++) {
        expect_gen(fx.store, seq);
    }
    fx_fini(&fx);
}
END_TEST

static void uring_test_done(struct store_io_op *op, int32_t result)
{
    struct uring_test_op *test_op = (struct uring_test_op *)op;
    test_op->result = result;
    test_op->completed = true;
}

/* The bound on operations in flight refuses with -EBUSY and frees up on completion; a
 * release closes the descriptor; a failed write completes with its -errno; completions
 * carry their tag. */
START_TEST(test_store_uring_bounds_and_errors)
{
    struct io_uring ring;
    ck_assert_int_eq(io_uring_queue_init(URING_TEST_ENTRIES, &ring, 0), 0);
    struct store_uring uring;
    store_uring_init(&uring, &ring, 0xab, 1);
    char path[] = "/tmp/ionats-uring-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    ck_assert_int_eq(uring.io.ops->allocate(&uring.io, fd, 0, 4096), 0);
    static const char bytes[] = "0123456789";
    struct uring_test_op first = {.op = {.done = uring_test_done}};
    struct uring_test_op second = {.op = {.done = uring_test_done}};
    ck_assert_int_eq(uring.io.ops->write(&uring.io, fd, bytes, 10, 100, &first.op), 0);
    ck_assert_int_eq(uring.io.ops->datasync(&uring.io, fd, &second.op), -EBUSY);
    ck_assert_int_eq(io_uring_submit(&ring), 1);
    struct io_uring_cqe *cqe;
    ck_assert_int_eq(io_uring_wait_cqe(&ring, &cqe), 0);
    ck_assert(store_uring_owns(&uring, cqe));
    ck_assert_uint_eq(io_uring_cqe_get_data64(cqe) >> STORE_URING_TAG_SHIFT, 0xab);
    store_uring_complete(&uring, cqe);
    io_uring_cqe_seen(&ring, cqe);
    ck_assert(first.completed);
    ck_assert_int_eq(first.result, 10);
    char back[10];
    ck_assert_int_eq(pread(fd, back, sizeof back, 100), 10);
    ck_assert_int_eq(memcmp(back, bytes, 10), 0);
    ck_assert_int_eq(uring.io.ops->datasync(&uring.io, fd, &second.op), 0);
    ck_assert_int_eq(store_uring_reap(&uring, true), 1);
    ck_assert(second.completed);
    ck_assert_int_eq(second.result, 0);
    /* A release closes the descriptor in the kernel's workers. */
    uring.io.ops->release(&uring.io, fd);
    ck_assert_uint_eq(uring.in_flight, 1);
    ck_assert_int_eq(store_uring_drain(&uring), 0);
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
    /* A write to a descriptor that is not open completes with -EBADF. */
    first.completed = false;
    ck_assert_int_eq(uring.io.ops->write(&uring.io, fd, bytes, 10, 0, &first.op), 0);
    ck_assert_int_eq(store_uring_reap(&uring, true), 1);
    ck_assert(first.completed);
    ck_assert_int_eq(first.result, -EBADF);
    ck_assert_uint_eq(uring.in_flight, 0);
    io_uring_queue_exit(&ring);
}
END_TEST

/* ---- the helper-thread store_io --------------------------------------------------------- */

/* One turn of an epoll shard's loop for the store: wait for the completion eventfd when
 * the store is busy, run what completed, flush. */
static void thread_test_turn(struct fixture *fx, struct store_thread *st, bool wait)
{
    if (wait && st->in_flight > 0) {
        struct pollfd pollfd = {.fd = store_thread_event_fd(st), .events = POLLIN};
        ck_assert_int_eq(poll(&pollfd, 1, THREAD_TEST_WAIT_MS), 1);
    }
    (void)store_thread_reap(st, UINT32_MAX);
    ck_assert_int_eq(stream_store_flush(fx->store), 0);
}

/* The io_uring test's store, written through the helper thread as an epoll shard drives
 * it: flushes with reaps in between, waiting on the completion eventfd only when an append
 * meets back-pressure or at the end; every message back after a reopen. */
START_TEST(test_store_thread_always)
{
    struct fixture fx;
    fx_init(&fx);
    fx.config.sync = STREAM_STORE_SYNC_ALWAYS;
    fx.config.segment_size = (uint64_t)CRASH_SEGMENT_SIZE * 4;
    fx.config.batch_size = 4096;
    struct store_thread st;
    ck_assert_int_eq(store_thread_init(&st, URING_TEST_ENTRIES), 0);
    ck_assert_int_eq(stream_store_open(fx.path, &fx.config, &st.io, &fx.hooks, &fx.store), 0);
    for (uint64_t seq = 1; seq <= URING_TEST_MSGS; seq++) {
        struct gen_msg msg;
        gen_msg_make(seq, &msg);
        uint64_t appended = 0;
        int rc;
        while ((rc = stream_store_append(fx.store, (const uint8_t *)msg.subject,
                                         msg.subject_length, msg.header, msg.header_length,
                                         msg.payload, msg.payload_length, &appended)) ==
               -EAGAIN) {
            thread_test_turn(&fx, &st, true); /* back-pressure: wait for batches */
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_uint_eq(appended, seq);
        if (seq % URING_TEST_FLUSH_EVERY == 0) {
            thread_test_turn(&fx, &st, false);
        }
    }
    ck_assert_int_eq(stream_store_flush(fx.store), 0);
    while (stream_store_busy(fx.store)) {
        thread_test_turn(&fx, &st, true);
    }
    ck_assert_int_eq(fx.failed_error, 0);
    ck_assert_uint_eq(fx.committed_seq, URING_TEST_MSGS);
    struct stream_store_info info = info_of(fx.store);
    ck_assert_uint_gt(info.segment_count, 1);
    ck_assert_uint_eq(info.durable_lsn, info.lsn);
    ck_assert_uint_eq(st.in_flight, 0);
    ck_assert_uint_le(st.datasync_count, st.write_count);
    ck_assert_uint_ge(st.datasync_count, info.segment_count);
    stream_store_close(fx.store);
    fx.store = NULL;
    /* Closing the store released every segment file; destroy joins the helper after it
     * closed them. */
    ck_assert_uint_eq(st.release_count, info.segment_count);
    store_thread_destroy(&st);
    fx_open_ok(&fx);
    info = info_of(fx.store);
    ck_assert_uint_eq(info.msg_count, URING_TEST_MSGS);
    for (uint64_t seq = 1; seq <= URING_TEST_MSGS; seq++) {
        expect_gen(fx.store, seq);
    }
    fx_fini(&fx);
}
END_TEST

/* ---- crash test ------------------------------------------------------------------------ */

static void crash_committed(void *context, uint64_t seq, uint64_t lsn)
{
    (void)lsn;
    int fd = *(int *)context;
    if (write(fd, &seq, sizeof seq) != (ssize_t)sizeof seq) {
        _exit(3);
    }
}

static void crash_config(struct stream_store_config *config)
{
    stream_store_config_default(config);
    config->segment_size = CRASH_SEGMENT_SIZE;
    config->sync = STREAM_STORE_SYNC_ALWAYS;
}

/* The store_io a crash child writes through: the synchronous one, io_uring or the helper
 * thread (the last two with a write and a datasync truly in flight when the kill comes). */
enum crash_io_kind {
    CRASH_IO_SYNC,
    CRASH_IO_URING,
    CRASH_IO_THREAD,
    CRASH_IO_KIND_COUNT,
};

struct crash_io {
    enum crash_io_kind kind;
    struct store_io_sync sync;
    struct io_uring ring;
    struct store_uring uring;
    struct store_thread thread;
};

static struct store_io *crash_io_open(struct crash_io *io)
{
    if (io->kind == CRASH_IO_SYNC) {
        store_io_sync_init(&io->sync);
        return &io->sync.io;
    }
    if (io->kind == CRASH_IO_URING) {
        if (io_uring_queue_init(URING_TEST_ENTRIES, &io->ring, 0) != 0) {
            _exit(5);
        }
        store_uring_init(&io->uring, &io->ring, 0, URING_TEST_ENTRIES);
        return &io->uring.io;
    }
    if (store_thread_init(&io->thread, URING_TEST_ENTRIES) != 0) {
        _exit(5);
    }
    return &io->thread.io;
}

static void crash_io_reap(struct crash_io *io)
{
    if (io->kind == CRASH_IO_SYNC) {
        store_io_sync_reap(&io->sync, UINT32_MAX);
    } else if (io->kind == CRASH_IO_URING) {
        if (store_uring_reap(&io->uring, false) < 0) {
            _exit(6);
        }
    } else {
        (void)store_thread_reap(&io->thread, UINT32_MAX);
    }
}

/* Appends generated messages in batches of random size with `always` until killed,
 * reporting each durable sequence on `report_fd`. */
static _Noreturn void crash_child(const char *path, int report_fd, uint64_t seed,
                                  enum crash_io_kind kind)
{
    struct crash_io io = {.kind = kind};
    struct store_io *store_io = crash_io_open(&io);
    struct stream_store_config config;
    crash_config(&config);
    struct stream_store_hooks hooks = {.committed = crash_committed, .context = &report_fd};
    struct stream_store *store = NULL;
    if (stream_store_open(path, &config, store_io, &hooks, &store) != 0) {
        _exit(2);
    }
    struct stream_store_info info;
    stream_store_info_get(store, &info);
    uint64_t next = info.last_seq + 1;
    for (;;) {
        uint64_t batch = 1 + hash_sequence_next(&seed) % 20;
        for (uint64_t i = 0; i < batch; i++, next++) {
            struct gen_msg msg;
            gen_msg_make(next, &msg);
            uint64_t seq = 0;
            int rc;
            while ((rc = stream_store_append(store, (const uint8_t *)msg.subject,
                                             msg.subject_length, msg.header, msg.header_length,
                                             msg.payload, msg.payload_length, &seq)) ==
                   -EAGAIN) {
                crash_io_reap(&io); /* back-pressure: wait for batches to complete */
            }
            if (rc != 0 || seq != next) {
                _exit(4);
            }
        }
        stream_store_flush(store);
        crash_io_reap(&io);
    }
}

START_TEST(test_crash_sigkill)
{
    struct fixture fx;
    fx_init(&fx);
    crash_config(&fx.config);
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    uint64_t durable_max = 0;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(fx.path, fds[1], hash_sequence_next(&seed),
                        (enum crash_io_kind)(round % CRASH_IO_KIND_COUNT));
        }
        close(fds[1]);
        usleep(CRASH_DELAY_MIN_US +
               (useconds_t)(hash_sequence_next(&seed) % CRASH_DELAY_SPREAD_US));
        kill(pid, SIGKILL);
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFSIGNALED(status), "the child exited on its own: %d",
                      WEXITSTATUS(status));
        uint64_t seq;
        ssize_t n;
        while ((n = read(fds[0], &seq, sizeof seq)) == (ssize_t)sizeof seq) {
            ck_assert_uint_ge(seq, durable_max);
            durable_max = seq;
        }
        close(fds[0]);
        /* Every sequence reported durable is back with its exact bytes; whatever else came
         * back is exact too (a torn record and all after it are gone). A killed child's
         * ring lets go of the directory (and its lock) only once the kernel has cancelled
         * what it had in flight, a moment after the child is reaped. */
        int rc;
        for (int wait = 0; (rc = fx_open(&fx)) == -EBUSY && wait < CRASH_UNLOCK_WAIT_ROUNDS;
             wait++) {
            usleep(CRASH_UNLOCK_WAIT_US);
        }
        ck_assert_msg(rc == 0, "round %d: open: %s", round, strerror(-rc));
        struct stream_store_info info = info_of(fx.store);
        ck_assert_msg(info.last_seq >= durable_max,
                      "round %d: durable up to %" PRIu64 ", recovered up to %" PRIu64, round,
                      durable_max, info.last_seq);
        ck_assert_uint_eq(info.msg_count, info.last_seq);
        ck_assert_uint_eq(info.lost_count, 0);
        for (uint64_t s = 1; s <= info.last_seq; s++) {
            expect_gen(fx.store, s);
        }
        durable_max = info.last_seq;
        fx_close(&fx);
    }
    ck_assert_uint_gt(durable_max, 0);
    fx_fini(&fx);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *suite = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_record_roundtrip);
    tcase_add_test(tc, test_record_every_flipped_byte);
    tcase_add_test(tc, test_record_field_rules);
    tcase_add_test(tc, test_segment_header);
    tcase_add_test(tc, test_segment_create_open);
    tcase_add_test(tc, test_store_empty);
    tcase_add_test(tc, test_store_append_get);
    tcase_add_test(tc, test_store_subjects);
    tcase_add_test(tc, test_store_delete);
    tcase_add_test(tc, test_store_purge);
    tcase_add_test(tc, test_store_purge_survives_stale_files);
    tcase_add_test(tc, test_store_max_msgs_discard_old);
    tcase_add_test(tc, test_store_max_bytes_discard_old);
    tcase_add_test(tc, test_store_discard_new);
    tcase_add_test(tc, test_store_max_msgs_per_subject);
    tcase_add_test(tc, test_store_purge_variants);
    tcase_add_test(tc, test_store_differential);
    tcase_add_test(tc, test_store_rollover_and_drop);
    tcase_add_test(tc, test_store_retention_drops_segments);
    tcase_add_test(tc, test_store_time);
    tcase_add_test(tc, test_store_sync_always_group_commit);
    tcase_add_test(tc, test_store_sync_none_and_interval);
    tcase_add_test(tc, test_store_write_failure_stops);
    tcase_add_test(tc, test_store_datasync_failure_stops);
    tcase_add_test(tc, test_store_short_writes_and_refusals);
    tcase_add_test(tc, test_store_enospc_injected);
    tcase_add_test(tc, test_store_enospc_tmpfs);
    tcase_add_test(tc, test_store_memory);
    tcase_add_test(tc, test_recovery_last_segment_every_boundary);
    tcase_add_test(tc, test_recovery_inner_segment_every_boundary);
    tcase_add_test(tc, test_recovery_empty_last_segment_after_gap);
    tcase_add_test(tc, test_recovery_damaged_header_and_leftovers);
    tcase_add_test(tc, test_store_bad_config);
    tcase_add_test(tc, test_store_deferred_segment_header);
    tcase_add_test(tc, test_store_deferred_segment_keeps_floor);
    tcase_add_test(tc, test_store_deferred_segment_always);
    tcase_add_test(tc, test_store_uring_always);
    tcase_add_test(tc, test_store_uring_bounds_and_errors);
    tcase_add_test(tc, test_store_thread_always);
    tcase_add_test(tc, test_crash_sigkill);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(store_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
