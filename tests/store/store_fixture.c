/* The shared part of the store/ Check suites: see store_fixture.h. Runs in each test's
 * own process (Check forks one per test), on its one thread. */
#include "tests/store/store_fixture.h"

#include "base/hash.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/store_io.h"
#include "store/stream_store.h"
#include "tests/harness/ck_quiet.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Generated messages: every byte is a function of the sequence -------------------- */

void gen_msg_make(uint64_t seq, struct gen_msg *msg)
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

uint32_t gen_msg_record_size(uint64_t seq)
{
    struct gen_msg msg;
    gen_msg_make(seq, &msg);
    return (uint32_t)record_size_for(msg.subject_length, msg.header_length, msg.payload_length);
}

/* ---- An injecting store_io over store_io_sync ------------------------------------------ */

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
bool inject_release_datasync(struct inject_io *inject)
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

void inject_init(struct inject_io *inject)
{
    *inject = (struct inject_io){0};
    store_io_sync_init(&inject->sync);
    inject->sync.io.ops = &inject_ops;
}

/* ---- Fixture: a temporary directory, a store, its hooks -------------------------------- */

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

void fx_init(struct fixture *fx)
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

int fx_open(struct fixture *fx)
{
    ck_assert_ptr_null(fx->store);
    /* lsn counts from each open. */
    fx->committed_seq = 0;
    fx->committed_lsn = 0;
    return stream_store_open(fx->path, &fx->config, &fx->io.sync.io, &fx->hooks, &fx->store);
}

void fx_open_ok(struct fixture *fx)
{
    int rc = fx_open(fx);
    ck_assert_msg(rc == 0, "open: %s", strerror(-rc));
}

void fx_drain(struct fixture *fx)
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

void fx_close(struct fixture *fx)
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

void fx_reopen(struct fixture *fx)
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

void fx_fini(struct fixture *fx)
{
    fx_close(fx);
    nftw(fx->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t fx_append_gen(struct fixture *fx, uint64_t seq_expected)
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

void fx_append_gen_range(struct fixture *fx, uint64_t first, uint64_t last)
{
    for (uint64_t seq = first; seq <= last; seq++) {
        fx_append_gen(fx, seq);
    }
}

void expect_gen(struct stream_store *store, uint64_t seq)
{
    struct gen_msg want;
    gen_msg_make(seq, &want);
    struct stream_store_msg got;
    int rc = stream_store_get(store, seq, &got);
    /* quiet (ck_quiet.h): called for every message of every pass, half a million times */
    quiet_assert_msg(rc == 0, "get %" PRIu64 ": %s", seq, strerror(-rc));
    quiet_assert_uint_eq(got.seq, seq);
    quiet_assert_uint_eq(got.subject_length, want.subject_length);
    quiet_assert(memcmp(got.subject, want.subject, want.subject_length) == 0);
    quiet_assert_uint_eq(got.header_length, want.header_length);
    quiet_assert(memcmp(got.header, want.header, want.header_length) == 0);
    quiet_assert_uint_eq(got.payload_length, want.payload_length);
    quiet_assert(memcmp(got.payload, want.payload, want.payload_length) == 0);
    quiet_assert_uint_eq(got.size, gen_msg_record_size(seq));
}

void expect_gone(struct stream_store *store, uint64_t seq)
{
    struct stream_store_msg got;
    ck_assert_int_eq(stream_store_get(store, seq, &got), -ENOENT);
}

struct stream_store_info info_of(struct stream_store *store)
{
    struct stream_store_info info;
    stream_store_info_get(store, &info);
    return info;
}

uint32_t count_segment_files(const char *path)
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

void segment_path(const struct fixture *fx, uint64_t segment_id, char *out, size_t size)
{
    char name[SEGMENT_NAME_SIZE];
    segment_name_format(segment_id, name);
    snprintf(out, size, "%s/%s", fx->path, name);
}

uint32_t segment_record_offsets(const char *file, uint64_t *offsets, uint32_t offsets_max,
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

void file_flip_byte(const char *file, uint64_t offset)
{
    int fd = open(file, O_RDWR);
    ck_assert_int_ge(fd, 0);
    uint8_t byte;
    ck_assert_int_eq(pread(fd, &byte, 1, (off_t)offset), 1);
    byte ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &byte, 1, (off_t)offset), 1);
    close(fd);
}

void file_zero(const char *file, uint64_t offset, uint64_t size)
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

void copy_tree(const char *from, const char *to)
{
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    ck_assert_int_eq(system(command), 0);
}

uint64_t fx_append_until_segments(struct fixture *fx, uint32_t segment_count)
{
    uint64_t seq = info_of(fx->store).last_seq;
    while (info_of(fx->store).segment_count < segment_count) {
        fx_append_gen(fx, ++seq);
    }
    return seq;
}

void fx_close_discarding(struct fixture *fx)
{
    store_io_sync_reap(&fx->io.sync, UINT32_MAX);
    stream_store_close(fx->store);
    fx->store = NULL;
}
