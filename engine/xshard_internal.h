/* What the two files of the cross-shard transport call of each other: xshard.c (links,
 * reserve/commit, overflow and its budget, flush, drain, wake, announcements, teardown) and
 * xshard_forward.c (the shared block of a large publish, and encoding and decoding the
 * forwarded-publish records). Nothing outside those two files includes it.
 *
 * It declares struct xshard by name only and includes no engine header, so that neither
 * file's module depends on the other's through it (tests/layout/check_layers.sh rejects
 * include circles). Every function here runs on the thread of the shard that owns `x`. */
#ifndef IONATS_ENGINE_XSHARD_INTERNAL_H
#define IONATS_ENGINE_XSHARD_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

struct xshard;

/* ---- xshard.c ---- */

/* Room for a record toward `target` (see xshard_reserve); `bytes`: of the block it will
 * name, 0 for none. The ring takes it when nothing waits before it, the block cap allows
 * it and the ring has room. NULL only when an overflow node could not be allocated. */
void *xshard_record_reserve(struct xshard *x, int target, uint32_t type, uint32_t length,
                            uint64_t bytes, bool *overflowed);

/* The record reserved last toward `target` is written; `bytes` as for
 * xshard_record_reserve. */
void xshard_record_commit(struct xshard *x, int target, bool overflowed, uint64_t bytes);

/* ---- xshard_forward.c ---- */

/* The block bytes a record pins: those of the block it names, 0 for any other type. */
uint64_t xshard_record_block_bytes(uint32_t type, const unsigned char *body, uint32_t length);

/* Drops the block reference a record in a ring or a node holds, if any. */
void xshard_record_release(uint32_t type, const unsigned char *body, uint32_t length);

/* An XSHARD_PUBLISH record from another shard: hands it to the shard's `forwarded`
 * handler. */
void xshard_publish_handle(struct xshard *x, const unsigned char *body, uint32_t length);

/* An XSHARD_PUBLISH_REF record from shard `origin`: hands the message in its block to the
 * `forwarded` handler, then drops the record's reference and its bytes from the link's
 * block count. */
void xshard_publish_ref_handle(struct xshard *x, int origin, const unsigned char *body,
                               uint32_t length);

#endif
