// Subject index micro benchmark: ns per sublist_match at 1k, 100k and 1M subscriptions,
// and the cost of inserting and removing a subscription.
//
// The one idea: a literal subject is answered by one hash lookup that grows no slower
// with the index, only colder in the CPU cache; a subject matched by several sets
// (literal + wildcards + a queue group) is merged once and then served from the result
// cache, so "same subject" shows a cache hit and "cycling through 16384 subjects" (4 x the
// 4096-entry cache) shows the full walk and merge. Indexes are built once, outside timing.
#include <benchmark/benchmark.h>

#include <cstdint>

extern "C" {
#include "bench/micro/sublist_shim.h"
}

namespace
{

enum class subjects { same, cycle };

void sublist_match(benchmark::State &state, sublist_shim_shape shape, subjects which)
{
    sublist_shim *shim = sublist_shim_get(shape, static_cast<uint32_t>(state.range(0)));
    uint64_t match_before = 0;
    uint64_t hit_before = 0;
    sublist_shim_counts(shim, &match_before, &hit_before);
    uint32_t step = which == subjects::cycle ? 1 : 0;
    uint32_t subject_index = 0;
    uint64_t result_subs = 0;
    for (auto _ : state) {
        result_subs += sublist_shim_match(shim, subject_index);
        subject_index += step;
    }
    benchmark::DoNotOptimize(result_subs);
    uint64_t match_after = 0;
    uint64_t hit_after = 0;
    sublist_shim_counts(shim, &match_after, &hit_after);
    double match_count = static_cast<double>(match_after - match_before);
    state.SetItemsProcessed(state.iterations());
    state.counters["cache_hit_ratio"] =
        match_count > 0 ? static_cast<double>(hit_after - hit_before) / match_count : 0.0;
    state.counters["subs_per_result"] =
        state.iterations() > 0 ? static_cast<double>(result_subs) / state.iterations() : 0.0;
}

// One item is one insert plus one remove of a subscription the index does not hold.
void sublist_churn(benchmark::State &state, sublist_shim_shape shape)
{
    sublist_shim *shim = sublist_shim_get(shape, static_cast<uint32_t>(state.range(0)));
    for (auto _ : state) {
        sublist_shim_churn(shim);
    }
    state.SetItemsProcessed(state.iterations() * SUBLIST_SHIM_CHURN_COUNT);
}

void sizes(benchmark::internal::Benchmark *benchmark)
{
    benchmark->ArgName("subs")->Arg(1000)->Arg(100000)->Arg(1000000);
}

} // namespace

BENCHMARK_CAPTURE(sublist_match, literal_cycle, SUBLIST_SHIM_LITERAL, subjects::cycle)
    ->Apply(sizes);
BENCHMARK_CAPTURE(sublist_match, literal_same, SUBLIST_SHIM_LITERAL, subjects::same)->Apply(sizes);
BENCHMARK_CAPTURE(sublist_match, wildcard_cache_hit, SUBLIST_SHIM_WILDCARD, subjects::same)
    ->Apply(sizes);
BENCHMARK_CAPTURE(sublist_match, wildcard_cache_miss, SUBLIST_SHIM_WILDCARD, subjects::cycle)
    ->Apply(sizes);
BENCHMARK_CAPTURE(sublist_churn, literal, SUBLIST_SHIM_LITERAL)->Apply(sizes);
BENCHMARK_CAPTURE(sublist_churn, wildcard, SUBLIST_SHIM_WILDCARD)->Apply(sizes);

// Not BENCHMARK_MAIN: the indexes are freed after the run, so a leak checker stays quiet.
int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    sublist_shim_release_all();
    return 0;
}
