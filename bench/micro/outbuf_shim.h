/* C side of the output coalescing micro benchmark: MSG frames appended to one outbuf.
 *
 * The one idea: a subscriber's frames are copied back to back into its output buffer and
 * the buffer is handed to one send when the turn ends, so the cost that matters is bytes
 * formatted and copied per frame. Here the buffer is emptied (as if sent) each time it
 * reaches SEND_BYTES; the two writers differ only in how the control line is formatted:
 * the engine's outbuf_put/outbuf_put_u64 sequence, or snprintf as a baseline. One thread
 * only; the C++ harness never sees engine/outbuf.h. */
#ifndef IONATS_BENCH_MICRO_OUTBUF_SHIM_H
#define IONATS_BENCH_MICRO_OUTBUF_SHIM_H

#include <stddef.h>
#include <stdint.h>

/* Bytes after which the buffer counts as sent and starts again from empty. */
#define OUTBUF_SHIM_SEND_BYTES (64u * 1024u)

struct outbuf_shim;

/* A writer of frames "MSG orders.eu.created 42 <size>\r\n<payload>\r\n" with a payload of
 * `payload_bytes`. Aborts when out of memory. */
struct outbuf_shim *outbuf_shim_create(uint32_t payload_bytes);
void outbuf_shim_destroy(struct outbuf_shim *shim);

/* Bytes of one frame, control line and both CRLFs included. */
size_t outbuf_shim_frame_bytes(const struct outbuf_shim *shim);

/* Appends `frame_count` frames as engine/route.c does (reserve, then outbuf_put and
 * outbuf_put_u64). Returns the bytes appended. */
uint64_t outbuf_shim_append(struct outbuf_shim *shim, uint32_t frame_count);

/* The same frames with the control line formatted by snprintf. */
uint64_t outbuf_shim_append_snprintf(struct outbuf_shim *shim, uint32_t frame_count);

#endif
