// Parser micro benchmark: ops/s and bytes/s of parser_next over a 64 KiB client stream.
//
// The one idea: a receive holds many pipelined ops and the parser hands out slices into
// it without copying; only an op split across two receives is copied into the carry. So
// the stream is parsed once whole (one receive) and once in 1 KiB chunks (many receives,
// about one op in seven split); the difference is the price of stitching.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>

extern "C" {
#include "bench/micro/parser_shim.h"
}

namespace
{

// The stream one pass parses: a 64 KiB receive buffer's worth, cut at an op boundary.
constexpr size_t STREAM_BYTES_MAX = 64 * 1024;
// A small receive, so that ops regularly straddle two of them.
constexpr size_t CHUNK_BYTES_SMALL = 1024;
// Chunk size meaning "the whole stream in one receive".
constexpr size_t CHUNK_WHOLE = STREAM_BYTES_MAX;

void parser_parse(benchmark::State &state, parser_shim_stream stream, size_t chunk_bytes)
{
    parser_shim *shim = parser_shim_create(stream, STREAM_BYTES_MAX);
    uint64_t carry_before = parser_shim_carry_count(shim);
    for (auto _ : state) {
        benchmark::DoNotOptimize(parser_shim_parse(shim, chunk_bytes));
    }
    uint64_t pass_count = static_cast<uint64_t>(state.iterations());
    uint64_t op_count = parser_shim_stream_op_count(shim);
    state.SetItemsProcessed(static_cast<int64_t>(pass_count * op_count));
    state.SetBytesProcessed(static_cast<int64_t>(pass_count * parser_shim_stream_bytes(shim)));
    state.counters["ops_per_pass"] = static_cast<double>(op_count);
    state.counters["split_per_pass"] =
        pass_count > 0
            ? static_cast<double>(parser_shim_carry_count(shim) - carry_before) / pass_count
            : 0.0;
    parser_shim_destroy(shim);
}

} // namespace

BENCHMARK_CAPTURE(parser_parse, pub_whole, PARSER_SHIM_STREAM_PUB, CHUNK_WHOLE);
BENCHMARK_CAPTURE(parser_parse, pub_chunk_1k, PARSER_SHIM_STREAM_PUB, CHUNK_BYTES_SMALL);
BENCHMARK_CAPTURE(parser_parse, mix_whole, PARSER_SHIM_STREAM_MIX, CHUNK_WHOLE);
BENCHMARK_CAPTURE(parser_parse, mix_chunk_1k, PARSER_SHIM_STREAM_MIX, CHUNK_BYTES_SMALL);

BENCHMARK_MAIN();
