/* C side of the parser micro benchmark: builds a client→server byte stream and parses it.
 *
 * The one idea: the C++ harness never sees proto/parser.h; it holds an opaque handle and
 * asks for "parse the whole stream once", so the timed loop is the parser's own code with
 * one call per pass, not one per op. One thread only. */
#ifndef IONATS_BENCH_MICRO_PARSER_SHIM_H
#define IONATS_BENCH_MICRO_PARSER_SHIM_H

#include <stddef.h>
#include <stdint.h>

enum parser_shim_stream {
    PARSER_SHIM_STREAM_PUB = 0, /* only "PUB foo.bar 128\r\n<128 bytes>\r\n" */
    PARSER_SHIM_STREAM_MIX = 1, /* PUB, PUB with reply, HPUB, SUB, UNSUB, PING */
};

struct parser_shim;

/* A parser in the server role and a stream of `stream_bytes_max` bytes at most, cut at an
 * op boundary. Aborts when out of memory (a benchmark has nothing better to do). */
struct parser_shim *parser_shim_create(enum parser_shim_stream stream, size_t stream_bytes_max);
void parser_shim_destroy(struct parser_shim *shim);

size_t parser_shim_stream_bytes(const struct parser_shim *shim);
uint64_t parser_shim_stream_op_count(const struct parser_shim *shim);

/* Parses the whole stream in one call of the receive path, or fed in chunks of
 * `chunk_bytes` as separate receives would deliver it. Returns the ops parsed (asserted
 * equal to the stream's op count). */
uint64_t parser_shim_parse(struct parser_shim *shim, size_t chunk_bytes);

/* Ops the parser had to stitch in its carry buffer since creation. */
uint64_t parser_shim_carry_count(const struct parser_shim *shim);

#endif
