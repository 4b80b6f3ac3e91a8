// bench_ring.cc - SPSC ring handoff cost (engine/ring.c), ns per item:
//  - BM_RingSameThread: push a batch then pop it on one thread (no sharing:
//    the floor of the copy + index bookkeeping);
//  - BM_RingTwoThreads: a producer thread streams items to this thread, batch
//    size as the argument, blocking on full/empty through the event count
//    (the engine's real pattern; on 2 shared cores the sleeps show up here).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "sw/ring.h"

namespace
{

struct item {
    uint64_t seq;
    uint64_t pad[3]; // 32-byte items, like a small record
};

void BM_RingSameThread(benchmark::State &state)
{
    const size_t batch = static_cast<size_t>(state.range(0));
    sw_ring *r = nullptr;
    if (sw_ring_new(sizeof(item), 4096, &r) != 0) {
        state.SkipWithError("sw_ring_new");
        return;
    }
    std::vector<item> in(batch), out(batch);
    for (auto _ : state) {
        size_t n = sw_ring_push(r, in.data(), batch);
        size_t m = sw_ring_pop(r, out.data(), batch);
        benchmark::DoNotOptimize(n + m);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
    sw_ring_free(r);
}
BENCHMARK(BM_RingSameThread)->Arg(1)->Arg(16)->Arg(256);

void BM_RingTwoThreads(benchmark::State &state)
{
    const size_t batch = static_cast<size_t>(state.range(0));
    const uint64_t total = 2000000;
    for (auto _ : state) {
        sw_ring *r = nullptr;
        if (sw_ring_new(sizeof(item), 4096, &r) != 0) {
            state.SkipWithError("sw_ring_new");
            return;
        }
        std::thread prod([r, batch, total] {
            std::vector<item> buf(batch);
            uint64_t next = 0;
            while (next < total) {
                size_t n = 0;
                while (n < batch && next < total) {
                    buf[n++].seq = next++;
                }
                sw_ring_push_wait(r, buf.data(), n, nullptr);
            }
            sw_ring_close(r);
        });
        std::vector<item> out(batch);
        uint64_t got = 0, sum = 0;
        while (sw_ring_wait_readable(r, nullptr)) {
            size_t n = sw_ring_pop(r, out.data(), batch);
            for (size_t i = 0; i < n; i++) {
                sum += out[i].seq;
            }
            got += n;
        }
        prod.join();
        benchmark::DoNotOptimize(sum);
        if (got != total) {
            state.SkipWithError("lost items");
        }
        sw_ring_free(r);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * total));
}
BENCHMARK(BM_RingTwoThreads)
    ->Arg(1)
    ->Arg(64)
    ->Arg(256)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
