// Timer wheel micro benchmark: ns per timer for arm + cancel, arm + re-arm + cancel, and
// arm + expire, with a million timers armed at once (base/timer.h).
//
// The one idea: arm and cancel are O(1) list operations and expiry is amortised O(1) (a timer
// cascades at most five times), so ns per timer should stay flat from a 1 s spread of
// deadlines (levels 0-1) to a 10 min one (levels 0-3); what grows is the cache misses of
// touching a million entries, which every figure here includes.
#include <benchmark/benchmark.h>

#include <cstdint>

extern "C" {
#include "bench/micro/timer_shim.h"
}

namespace
{

constexpr uint32_t TIMER_COUNT = 1000000;

template <uint64_t (*run)(timer_shim *)> void timer_per_timer(benchmark::State &state)
{
    timer_shim *shim = timer_shim_create(TIMER_COUNT, static_cast<uint32_t>(state.range(0)));
    uint64_t sum = 0;
    for (auto _ : state) {
        sum += run(shim);
    }
    benchmark::DoNotOptimize(sum);
    state.SetItemsProcessed(state.iterations() * TIMER_COUNT);
    timer_shim_destroy(shim);
}

void spreads(benchmark::internal::Benchmark *benchmark)
{
    benchmark->ArgName("spread_ms")->Arg(1000)->Arg(600000)->Unit(benchmark::kMillisecond);
}

} // namespace

BENCHMARK(timer_per_timer<timer_shim_arm_cancel>)->Name("arm_cancel")->Apply(spreads);
BENCHMARK(timer_per_timer<timer_shim_arm_rearm_cancel>)->Name("arm_rearm_cancel")->Apply(spreads);
BENCHMARK(timer_per_timer<timer_shim_arm_expire>)->Name("arm_expire")->Apply(spreads);

BENCHMARK_MAIN();
