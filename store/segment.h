/* One segment file of a stream: its header, creation, opening and read-only map.
 *
 * A segment is a file preallocated to its full capacity before any record is written to
 * it, so running out of disk is an error at creation (-ENOSPC), never a SIGBUS on a map.
 * Its header (byte-level format at the top of segment.c) carries a random salt that seeds
 * the checksum chain of its records (record.h), the first sequence it holds and its id;
 * the file name is the id, which grows by one per new segment of a stream, so a sorted
 * directory listing is the stream's order. (Two segments may start at the same sequence:
 * one that holds only tombstones is followed by one starting where it started.)
 * Records are read through `map`, a read-only shared map of the file: bytes written with
 * the store_io (the same page cache) are visible there once their write has completed.
 *
 * A new file is written under a temporary name and renamed into place complete, so a
 * segment file under its final name always has a whole header.
 *
 * A segment belongs to the store that opened it, on one thread. */
#ifndef IONATS_STORE_SEGMENT_H
#define IONATS_STORE_SEGMENT_H

#include <stdbool.h>
#include <stdint.h>

struct store_io;

enum {
    /* Bytes of the header; the first record starts here. Room is left for fields a later
     * version may add. */
    SEGMENT_HEADER_SIZE = 128,
    SEGMENT_VERSION = 1,
    /* "00000000000000000001.seg" plus the terminator: 20 digits hold any uint64. */
    SEGMENT_NAME_SIZE = 32,
};

/* Header flags. */
enum {
    /* Created by a purge: every sequence below first_seq is gone, so recovery removes the
     * segments before this one. Creating this file is what commits the purge. */
    SEGMENT_F_PURGED = 1u << 0,
};

/* Segment capacities: offsets inside a segment are 32-bit in the store's index, and a
 * segment must hold at least its header and one record. */
#define SEGMENT_CAPACITY_MIN ((uint64_t)4096)
#define SEGMENT_CAPACITY_MAX ((uint64_t)1 << 31)

struct segment_header {
    uint32_t flags;
    uint64_t segment_id;
    uint64_t salt;
    uint64_t first_seq;
    int64_t created_ns;
    uint64_t capacity; /* bytes the file is preallocated to */
};

struct segment {
    int fd;              /* owned, O_RDWR */
    const uint8_t *map;  /* owned: PROT_READ, MAP_SHARED, [0, map_size) */
    uint64_t map_size;   /* capacity, or less for a file found shorter (truncated) */
    struct segment_header header;
    char name[SEGMENT_NAME_SIZE];
};

/* Encodes `header` into SEGMENT_HEADER_SIZE bytes at `target`. */
void segment_header_encode(const struct segment_header *header, uint8_t *target);

/* Decodes and validates SEGMENT_HEADER_SIZE bytes: magic, version, header size, known
 * flags, zero reserved bytes, segment_id >= 1, first_seq >= 1, capacity within limits,
 * checksum.
 * 0, or -EBADMSG. */
int segment_header_decode(const uint8_t *source, struct segment_header *out);

/* The file name of segment `segment_id`. */
void segment_name_format(uint64_t segment_id, char name[SEGMENT_NAME_SIZE]);

/* True when `name` is a segment file name; sets *segment_id. */
bool segment_name_parse(const char *name, uint64_t *segment_id);

/* True when `name` is a segment file being created (left behind by a crash). */
bool segment_name_is_temporary(const char *name);

enum segment_create_mode {
    /* The header is written; nothing is synced. */
    SEGMENT_CREATE_WRITTEN,
    /* The header is written, and the file and the directory are synced before returning. */
    SEGMENT_CREATE_DURABLE,
    /* The header is not written: the caller writes it (segment_header_encode of
     * out->header) at offset 0 with its first records, and syncs the file and the
     * directory when its policy asks. Until then the file reads as a header of zeros,
     * which segment_open reports as -ENODATA. Nothing here waits for the disk. */
    SEGMENT_CREATE_DEFERRED,
};

/* Creates the segment file for `header` (its salt is drawn here and written back into
 * out->header) in `dir_fd`: under a temporary name, preallocates the whole capacity
 * through io->ops->allocate, writes the header (see `mode`), and renames it into place
 * (segment ids are never reused, so nothing is replaced). 0, or -errno (-ENOSPC when the
 * disk is full); on failure nothing is left behind and nothing is logged (the caller knows
 * whether a line per failure is too many). With `dir_fd` < 0 the segment is an
 * anonymous memory file (memfd) of a memory-backed store: preallocated the same way, its
 * header written, never named or synced, whatever `mode` says. */
int segment_create(int dir_fd, struct store_io *io, const struct segment_header *header,
                   enum segment_create_mode mode, struct segment *out);

/* Opens the existing segment file `name` in `dir_fd`, validates its header (its first
 * sequence must match the name) and maps it. 0, -ENODATA for a file whose header was never
 * written (all zeros: SEGMENT_CREATE_DEFERRED, cut by a crash), -EBADMSG for a file that
 * is not a whole segment of ours, or another -errno. The id in the header must match the
 * name. */
int segment_open(int dir_fd, const char *name, struct segment *out);

/* Makes a segment found shorter than its capacity whole again (preallocates the rest and
 * maps all of it), so records can be appended. 0, or -errno (-ENOSPC). */
int segment_extend(struct segment *segment, struct store_io *io);

/* Removes the file of `segment` (which stays open and mapped until segment_close); nothing
 * for a memory segment (dir_fd < 0). */
int segment_unlink(int dir_fd, const struct segment *segment);

void segment_close(struct segment *segment);

/* As segment_close, with the descriptor closed through io->ops->release: for a segment
 * whose file was unlinked, whose last close frees its blocks. */
void segment_release(struct segment *segment, struct store_io *io);

#endif
