// Output coalescing micro benchmark: MSG frames/s and bytes/s appended to one outbuf,
// 16 B and 128 B payloads, the engine's writer against snprintf.
//
// The one idea: delivery to a subscriber is a copy into its output buffer, and the buffer
// goes out in one send per loop turn (here: emptied at 64 KiB), so frames/s here is the
// ceiling on deliveries per core from formatting and copying alone.
#include <benchmark/benchmark.h>

#include <cstdint>

extern "C" {
#include "bench/micro/outbuf_shim.h"
}

namespace
{

// Frames appended per call into the shim, so the call itself is noise.
constexpr uint32_t FRAMES_PER_ITERATION = 64;

enum class writer { route, snprintf };

void outbuf_append(benchmark::State &state, writer which)
{
    outbuf_shim *shim = outbuf_shim_create(static_cast<uint32_t>(state.range(0)));
    uint64_t appended = 0;
    for (auto _ : state) {
        if (which == writer::route) {
            appended += outbuf_shim_append(shim, FRAMES_PER_ITERATION);
        } else {
            appended += outbuf_shim_append_snprintf(shim, FRAMES_PER_ITERATION);
        }
    }
    benchmark::DoNotOptimize(appended);
    state.SetItemsProcessed(state.iterations() * FRAMES_PER_ITERATION);
    state.SetBytesProcessed(static_cast<int64_t>(appended));
    state.counters["frame_bytes"] = static_cast<double>(outbuf_shim_frame_bytes(shim));
    outbuf_shim_destroy(shim);
}

void payloads(benchmark::internal::Benchmark *benchmark)
{
    benchmark->ArgName("payload")->Arg(16)->Arg(128);
}

} // namespace

BENCHMARK_CAPTURE(outbuf_append, route, writer::route)->Apply(payloads);
BENCHMARK_CAPTURE(outbuf_append, snprintf, writer::snprintf)->Apply(payloads);

BENCHMARK_MAIN();
