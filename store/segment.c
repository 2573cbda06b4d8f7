/* Segment files: see segment.h.
 *
 * Byte-level format of a segment file. All integers little-endian.
 *
 *   offset  size  field
 *   0       8     magic         the ASCII bytes "IONATSSG"
 *   8       4     version       1
 *   12      4     header_size   128: the first record starts at this offset
 *   16      4     flags         SEGMENT_F_PURGED (bit 0); other bits zero
 *   20      4     reserved      zero
 *   24      8     segment_id    the number in the file name; ids grow by one per new
 *                               segment of a stream, so they order its segments
 *   32      8     salt          random, drawn when the file is created; seeds the checksum
 *                               chain of the records (record.c)
 *   40      8     first_seq     sequence the first MSG record in this segment has, or would
 *                               have (>= 1)
 *   48      8     created_ns    wall-clock nanoseconds at creation (signed)
 *   56      8     capacity      bytes the file was preallocated to, 4 KiB .. 2 GiB
 *   64      56    reserved      zero
 *   120     8     checksum      xxh3-64 of bytes [0, 120), seed 0
 *   128     ...   records, back to back, until the first that does not validate
 *
 * A header is valid when magic, version and header_size match, no unknown flag is set,
 * the reserved bytes are zero, segment_id >= 1, first_seq >= 1, capacity is within limits,
 * and the checksum matches. The file is named after segment_id: 20 decimal digits and
 * ".seg"; a file being created is "." + that name + ".tmp" until it is renamed into place
 * whole. */
#include "store/segment.h"

#include "base/assert.h"
#include "base/hash.h"
#include "base/log.h"
#include "store/le.h"
#include "store/record.h"
#include "store/store_io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    SEGMENT_OFFSET_MAGIC = 0,
    SEGMENT_OFFSET_VERSION = 8,
    SEGMENT_OFFSET_HEADER_SIZE = 12,
    SEGMENT_OFFSET_FLAGS = 16,
    SEGMENT_OFFSET_RESERVED = 20,
    SEGMENT_OFFSET_SEGMENT_ID = 24,
    SEGMENT_OFFSET_SALT = 32,
    SEGMENT_OFFSET_FIRST_SEQ = 40,
    SEGMENT_OFFSET_CREATED = 48,
    SEGMENT_OFFSET_CAPACITY = 56,
    SEGMENT_OFFSET_RESERVED_TAIL = 64,
    SEGMENT_OFFSET_CHECKSUM = 120,
    SEGMENT_MAGIC_SIZE = 8,
    /* Digits of a segment file name: enough for UINT64_MAX. */
    SEGMENT_NAME_DIGITS = 20,
    /* "." + a segment name + ".tmp" and the terminator, with room to spare. */
    SEGMENT_TEMPORARY_NAME_SIZE = SEGMENT_NAME_SIZE + 8,
};

/* The header checksum needs no secret: it only guards against damage. */
#define SEGMENT_HEADER_CHECKSUM_SEED ((uint64_t)0)
#define SEGMENT_FLAGS_KNOWN ((uint32_t)SEGMENT_F_PURGED)

static const uint8_t segment_magic[SEGMENT_MAGIC_SIZE] = {'I', 'O', 'N', 'A', 'T', 'S', 'S', 'G'};
static const char segment_name_suffix[] = ".seg";
static const char segment_temporary_suffix[] = ".tmp";

STATIC_ASSERT(SEGMENT_OFFSET_CHECKSUM + 8 == SEGMENT_HEADER_SIZE, "the checksum ends the header");
STATIC_ASSERT(SEGMENT_HEADER_SIZE + RECORD_OVERHEAD_SIZE <= 4096,
              "the smallest segment holds a record");
STATIC_ASSERT(SEGMENT_NAME_DIGITS + sizeof segment_name_suffix <= SEGMENT_NAME_SIZE,
              "segment names fit their buffer");
STATIC_ASSERT(1 + SEGMENT_NAME_SIZE + sizeof segment_temporary_suffix <=
                  SEGMENT_TEMPORARY_NAME_SIZE,
              "temporary names fit theirs");

void segment_header_encode(const struct segment_header *header, uint8_t *target)
{
    ASSERT(header->first_seq >= 1);
    ASSERT(header->segment_id >= 1);
    ASSERT((header->flags & ~SEGMENT_FLAGS_KNOWN) == 0);
    memset(target, 0, SEGMENT_HEADER_SIZE);
    memcpy(target + SEGMENT_OFFSET_MAGIC, segment_magic, SEGMENT_MAGIC_SIZE);
    le_store_u32(target + SEGMENT_OFFSET_VERSION, SEGMENT_VERSION);
    le_store_u32(target + SEGMENT_OFFSET_HEADER_SIZE, SEGMENT_HEADER_SIZE);
    le_store_u32(target + SEGMENT_OFFSET_FLAGS, header->flags);
    le_store_u64(target + SEGMENT_OFFSET_SEGMENT_ID, header->segment_id);
    le_store_u64(target + SEGMENT_OFFSET_SALT, header->salt);
    le_store_u64(target + SEGMENT_OFFSET_FIRST_SEQ, header->first_seq);
    le_store_u64(target + SEGMENT_OFFSET_CREATED, (uint64_t)header->created_ns);
    le_store_u64(target + SEGMENT_OFFSET_CAPACITY, header->capacity);
    le_store_u64(target + SEGMENT_OFFSET_CHECKSUM,
                 hash_bytes(target, SEGMENT_OFFSET_CHECKSUM, SEGMENT_HEADER_CHECKSUM_SEED));
}

int segment_header_decode(const uint8_t *source, struct segment_header *out)
{
    if (memcmp(source + SEGMENT_OFFSET_MAGIC, segment_magic, SEGMENT_MAGIC_SIZE) != 0) {
        return -EBADMSG;
    }
    if (le_load_u64(source + SEGMENT_OFFSET_CHECKSUM) !=
        hash_bytes(source, SEGMENT_OFFSET_CHECKSUM, SEGMENT_HEADER_CHECKSUM_SEED)) {
        return -EBADMSG;
    }
    if (le_load_u32(source + SEGMENT_OFFSET_VERSION) != SEGMENT_VERSION) {
        return -EBADMSG;
    }
    if (le_load_u32(source + SEGMENT_OFFSET_HEADER_SIZE) != SEGMENT_HEADER_SIZE) {
        return -EBADMSG;
    }
    if (le_load_u32(source + SEGMENT_OFFSET_RESERVED) != 0) {
        return -EBADMSG;
    }
    for (int i = SEGMENT_OFFSET_RESERVED_TAIL; i < SEGMENT_OFFSET_CHECKSUM; i++) {
        if (source[i] != 0) {
            return -EBADMSG;
        }
    }
    struct segment_header header = {
        .flags = le_load_u32(source + SEGMENT_OFFSET_FLAGS),
        .segment_id = le_load_u64(source + SEGMENT_OFFSET_SEGMENT_ID),
        .salt = le_load_u64(source + SEGMENT_OFFSET_SALT),
        .first_seq = le_load_u64(source + SEGMENT_OFFSET_FIRST_SEQ),
        .created_ns = (int64_t)le_load_u64(source + SEGMENT_OFFSET_CREATED),
        .capacity = le_load_u64(source + SEGMENT_OFFSET_CAPACITY),
    };
    if ((header.flags & ~SEGMENT_FLAGS_KNOWN) != 0 || header.first_seq == 0 ||
        header.segment_id == 0) {
        return -EBADMSG;
    }
    if (header.capacity < SEGMENT_CAPACITY_MIN || header.capacity > SEGMENT_CAPACITY_MAX) {
        return -EBADMSG;
    }
    *out = header;
    return 0;
}

void segment_name_format(uint64_t segment_id, char name[SEGMENT_NAME_SIZE])
{
    int n = snprintf(name, SEGMENT_NAME_SIZE, "%020" PRIu64 "%s", segment_id,
                     segment_name_suffix);
    ASSERT(n == SEGMENT_NAME_DIGITS + (int)sizeof segment_name_suffix - 1);
}

bool segment_name_parse(const char *name, uint64_t *segment_id)
{
    uint64_t value = 0;
    for (int i = 0; i < SEGMENT_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(name[i] - '0');
        if (value > (UINT64_MAX - digit) / 10) {
            return false;
        }
        value = value * 10 + digit;
    }
    if (strcmp(name + SEGMENT_NAME_DIGITS, segment_name_suffix) != 0 || value == 0) {
        return false;
    }
    *segment_id = value;
    return true;
}

bool segment_name_is_temporary(const char *name)
{
    size_t length = strlen(name);
    size_t suffix_length = sizeof segment_temporary_suffix - 1;
    return name[0] == '.' && length > suffix_length + 1 &&
           strcmp(name + length - suffix_length, segment_temporary_suffix) == 0;
}

static int segment_salt_draw(uint64_t *salt)
{
    ssize_t n;
    do {
        n = getrandom(salt, sizeof *salt, 0);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof *salt) {
        return n < 0 ? -errno : -EIO;
    }
    return 0;
}

static int segment_map(struct segment *segment, uint64_t size)
{
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, segment->fd, 0);
    if (map == MAP_FAILED) {
        return -errno;
    }
    segment->map = map;
    segment->map_size = size;
    return 0;
}

static int segment_pwrite_all(int fd, const uint8_t *data, size_t size, off_t offset)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, offset + (off_t)done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        done += (size_t)n;
    }
    return 0;
}

/* A segment of a memory-backed store: an anonymous memory file, never named or synced. */
static int segment_create_memory(struct store_io *io, struct segment *segment)
{
    segment->fd = memfd_create(segment->name, MFD_CLOEXEC);
    if (segment->fd < 0) {
        return -errno;
    }
    int rc = io->ops->allocate(io, segment->fd, 0, segment->header.capacity);
    if (rc != 0) {
        goto fail_file; /* the caller logs it */
    }
    uint8_t bytes[SEGMENT_HEADER_SIZE];
    segment_header_encode(&segment->header, bytes);
    rc = segment_pwrite_all(segment->fd, bytes, sizeof bytes, 0);
    if (rc != 0) {
        goto fail_file;
    }
    rc = segment_map(segment, segment->header.capacity);
    if (rc != 0) {
        goto fail_file;
    }
    return 0;

fail_file:
    close(segment->fd);
    return rc;
}

int segment_create(int dir_fd, struct store_io *io, const struct segment_header *header,
                   enum segment_create_mode mode, struct segment *out)
{
    ASSERT(header->capacity >= SEGMENT_CAPACITY_MIN);
    ASSERT(header->capacity <= SEGMENT_CAPACITY_MAX);
    struct segment segment = {.fd = -1, .header = *header};
    int rc = segment_salt_draw(&segment.header.salt);
    if (rc != 0) {
        return rc;
    }
    segment_name_format(header->segment_id, segment.name);
    if (dir_fd < 0) {
        rc = segment_create_memory(io, &segment);
        if (rc == 0) {
            *out = segment;
        }
        return rc;
    }
    bool durable = mode == SEGMENT_CREATE_DURABLE;
    char temporary[SEGMENT_TEMPORARY_NAME_SIZE];
    snprintf(temporary, sizeof temporary, ".%s%s", segment.name, segment_temporary_suffix);

    segment.fd = openat(dir_fd, temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (segment.fd < 0) {
        return -errno;
    }
    rc = io->ops->allocate(io, segment.fd, 0, header->capacity);
    if (rc != 0) {
        goto fail_file; /* the caller logs it, at most once a second on the message path */
    }
    if (mode != SEGMENT_CREATE_DEFERRED) {
        uint8_t bytes[SEGMENT_HEADER_SIZE];
        segment_header_encode(&segment.header, bytes);
        rc = segment_pwrite_all(segment.fd, bytes, sizeof bytes, 0);
        if (rc != 0) {
            goto fail_file;
        }
    }
    if (durable && fdatasync(segment.fd) != 0) {
        rc = -errno;
        goto fail_file;
    }
    if (renameat(dir_fd, temporary, dir_fd, segment.name) != 0) {
        rc = -errno;
        goto fail_file;
    }
    if (durable && fsync(dir_fd) != 0) {
        rc = -errno;
        goto fail_renamed;
    }
    rc = segment_map(&segment, header->capacity);
    if (rc != 0) {
        goto fail_renamed;
    }
    *out = segment;
    return 0;

fail_renamed:
    unlinkat(dir_fd, segment.name, 0);
    close(segment.fd);
    return rc;
fail_file:
    unlinkat(dir_fd, temporary, 0);
    close(segment.fd);
    return rc;
}

int segment_open(int dir_fd, const char *name, struct segment *out)
{
    struct segment segment = {.fd = -1};
    uint64_t name_id = 0;
    ASSERT(segment_name_parse(name, &name_id));
    ASSERT(strlen(name) < SEGMENT_NAME_SIZE);
    strcpy(segment.name, name);
    segment.fd = openat(dir_fd, name, O_RDWR | O_CLOEXEC);
    if (segment.fd < 0) {
        return -errno;
    }
    int rc;
    struct stat st;
    if (fstat(segment.fd, &st) != 0) {
        rc = -errno;
        goto fail_file;
    }
    uint8_t bytes[SEGMENT_HEADER_SIZE];
    if (st.st_size < SEGMENT_HEADER_SIZE ||
        pread(segment.fd, bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        rc = -EBADMSG;
        goto fail_file;
    }
    static const uint8_t never_written[SEGMENT_HEADER_SIZE];
    if (memcmp(bytes, never_written, sizeof bytes) == 0) {
        rc = -ENODATA;
        goto fail_file;
    }
    rc = segment_header_decode(bytes, &segment.header);
    if (rc != 0) {
        goto fail_file;
    }
    if (segment.header.segment_id != name_id) {
        rc = -EBADMSG;
        goto fail_file;
    }
    uint64_t size = (uint64_t)st.st_size < segment.header.capacity ? (uint64_t)st.st_size
                                                                   : segment.header.capacity;
    rc = segment_map(&segment, size);
    if (rc != 0) {
        goto fail_file;
    }
    *out = segment;
    return 0;

fail_file:
    close(segment.fd);
    return rc;
}

int segment_extend(struct segment *segment, struct store_io *io)
{
    uint64_t capacity = segment->header.capacity;
    if (segment->map_size == capacity) {
        return 0;
    }
    ASSERT(segment->map_size < capacity);
    int rc = io->ops->allocate(io, segment->fd, 0, capacity);
    if (rc != 0) {
        LOG_ERROR("store: cannot preallocate segment %s again to %" PRIu64 " bytes: %s",
                  segment->name, capacity, strerror(-rc));
        return rc;
    }
    void *map = mmap(NULL, (size_t)capacity, PROT_READ, MAP_SHARED, segment->fd, 0);
    if (map == MAP_FAILED) {
        return -errno;
    }
    munmap((void *)segment->map, (size_t)segment->map_size);
    segment->map = map;
    segment->map_size = capacity;
    return 0;
}

int segment_unlink(int dir_fd, const struct segment *segment)
{
    if (dir_fd < 0) {
        return 0; /* a memory segment has no name */
    }
    return unlinkat(dir_fd, segment->name, 0) == 0 ? 0 : -errno;
}

void segment_release(struct segment *segment, struct store_io *io)
{
    if (segment->map != NULL) {
        munmap((void *)segment->map, (size_t)segment->map_size);
        segment->map = NULL;
    }
    if (segment->fd >= 0) {
        io->ops->release(io, segment->fd);
        segment->fd = -1;
    }
}

void segment_close(struct segment *segment)
{
    if (segment->map != NULL) {
        munmap((void *)segment->map, (size_t)segment->map_size);
        segment->map = NULL;
    }
    if (segment->fd >= 0) {
        close(segment->fd);
        segment->fd = -1;
    }
}
