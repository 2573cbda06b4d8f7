// SPSC ring micro benchmark: records per second through base/spsc.h, publishing after
// every record (unbatched) or once per batch, on one thread and across two threads.
//
// The one idea: a shard publishes each ring once per loop turn, so the release store of
// the tail and the consumer's acquire load are paid per batch; the unbatched case shows
// what publishing per message would cost instead.
#include <benchmark/benchmark.h>

#include <cstdint>

extern "C" {
#include "bench/micro/spsc_shim.h"
}

namespace
{

constexpr uint64_t RING_BYTES = 1 << 20;
constexpr uint32_t RECORDS_PER_ITERATION = 1024;
constexpr uint64_t TWO_THREAD_RECORDS = 1 << 20;

void single_thread(benchmark::State &state)
{
    auto batch = static_cast<uint32_t>(state.range(0));
    auto record_bytes = static_cast<uint32_t>(state.range(1));
    spsc_shim *shim = spsc_shim_create(RING_BYTES, record_bytes);
    uint64_t sum = 0;
    for (auto _ : state) {
        sum += spsc_shim_single_thread(shim, RECORDS_PER_ITERATION, batch);
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * RECORDS_PER_ITERATION);
    spsc_shim_destroy(shim);
}

void two_threads(benchmark::State &state)
{
    auto batch = static_cast<uint32_t>(state.range(0));
    auto record_bytes = static_cast<uint32_t>(state.range(1));
    for (auto _ : state) {
        spsc_shim *shim = spsc_shim_create(RING_BYTES, record_bytes);
        uint64_t ns = spsc_shim_two_threads(shim, TWO_THREAD_RECORDS, batch);
        state.SetIterationTime(static_cast<double>(ns) / 1e9);
        spsc_shim_destroy(shim);
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(TWO_THREAD_RECORDS));
}

} // namespace

// batch 1 = unbatched; 64 ≈ one loop turn's worth; record sizes of a small publish
BENCHMARK(single_thread)->ArgsProduct({{1, 64}, {32, 160}});
BENCHMARK(two_threads)->ArgsProduct({{1, 64}, {32, 160}})->UseManualTime();

BENCHMARK_MAIN();
