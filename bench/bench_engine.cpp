// Engine benchmarks. Targets (issue 2): record_llm_call <= 150 ns median with tracing, <= 5 ns
// disabled; two threads lose nothing and scale; fold + write of 100,000 events <= 200 ms;
// reading a session file >= 300 MB/s; <= 200 bytes of memory per event. Issue 3: the journal
// lines of one agent step <= 1 us (the background worker's share of every step).
#include <sop_telemetry/telemetry.hpp>

#include "detail/journal.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <sstream>
#include <fstream>
#include <unistd.h>

using namespace sop_telemetry;

namespace {

std::string bench_dir() {
    static const std::string dir = [] {
        std::string pattern = (std::filesystem::temp_directory_path() / "sop_bench_XXXXXX").string();
        return std::string(::mkdtemp(pattern.data()));
    }();
    return dir;
}

std::unique_ptr<TelemetryManager> bench_manager(std::uint64_t max_events = 100'000'000) {
    auto manager = std::make_unique<TelemetryManager>();
    Config config;
    config.storage_dir = bench_dir();
    config.journal = false;  // measure the hot path, not the disk
    config.code_metrics = false;
    config.auto_cleanup = false;
    config.max_events_per_session = max_events;
    manager->initialize(config);
    return manager;
}

/// Resident memory. Event chunks come from fresh, populated mmap slabs, so the growth of RSS
/// while recording is what the events really cost.
std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// A realistic session: tasks → agents → steps → LLM and tool calls; `events` in total.
void record_session(TelemetryCollector& collector, int events) {
    int recorded = 0;
    for (int task = 0; recorded < events; ++task) {
        TaskScope scope(collector, "task-" + std::to_string(task), "分析代码仓库 benchmark task");
        recorded += 2;
        SpanScope agent(collector, SpanKind::agent, "search_agent", "micro");
        recorded += 2;
        for (int step = 0; step < 50 && recorded < events; ++step) {
            SpanScope span(collector, SpanKind::step, "step", "action");
            LlmCallInfo call;
            call.model = step % 3 ? "gpt-4o" : "claude-sonnet-4-5";
            call.tokens = {1200, 300, 512, 0, 0};
            call.duration = 0.8;
            collector.record_llm_call(call);
            collector.record_tool_usage("file_reader", 0.01, step % 7 != 0, step % 7 ? "" : "no such file");
            recorded += 4;
        }
    }
}

/// One manager for every repetition, never shut down: ending a session folds and writes it,
/// which for tens of millions of benchmark events would cost more time and memory than the
/// benchmark itself.
TelemetryManager& shared_manager() {
    static TelemetryManager* manager = bench_manager().release();
    return *manager;
}

void BM_RecordLlmCall(benchmark::State& state) {
    TelemetryCollector collector = shared_manager().get_collector();
    for (auto _ : state) collector.record_llm_call("gpt-4o", 1200, 300, 0.8);
    state.SetItemsProcessed(state.iterations());
    if (state.thread_index() == 0) {
        // Every call of every thread must be in the session: report what was lost.
        const auto stats = shared_manager().get_storage_stats();
        state.counters["dropped"] = static_cast<double>(stats.dropped_events);
        state.counters["recorded"] = static_cast<double>(stats.events_recorded);
    }
}
BENCHMARK(BM_RecordLlmCall)->Threads(1)->Threads(2)->Iterations(2'000'000)->Repetitions(5)
    ->ReportAggregatesOnly(true)->UseRealTime();

void BM_RecordLlmCallDisabled(benchmark::State& state) {
    auto manager = bench_manager();
    manager->disable_telemetry();
    TelemetryCollector collector = manager->get_collector();
    for (auto _ : state) collector.record_llm_call("gpt-4o", 1200, 300, 0.8);
}
BENCHMARK(BM_RecordLlmCallDisabled)->Repetitions(5)->ReportAggregatesOnly(true);

void BM_SpanScope(benchmark::State& state) {
    auto manager = bench_manager();
    TelemetryCollector collector = manager->get_collector();
    for (auto _ : state) SpanScope span(collector, SpanKind::tool, "file_reader");
}
BENCHMARK(BM_SpanScope)->Repetitions(3)->ReportAggregatesOnly(true);

void BM_FoldAndWrite100k(benchmark::State& state) {
    auto manager = bench_manager();
    TelemetryCollector collector = manager->get_collector();
    record_session(collector, 100'000);
    for (auto _ : state) benchmark::DoNotOptimize(manager->flush_data());
    state.counters["events"] = static_cast<double>(manager->get_storage_stats().events_recorded);
}
BENCHMARK(BM_FoldAndWrite100k)->Unit(benchmark::kMillisecond)->Iterations(10)->Repetitions(3)
    ->ReportAggregatesOnly(true);

void BM_ReadSessionFile(benchmark::State& state) {
    auto manager = bench_manager();
    TelemetryCollector collector = manager->get_collector();
    record_session(collector, 100'000);
    manager->flush_data();
    const std::string id = manager->session_id();
    const std::string path = bench_dir() + "/" + id + ".json";
    const auto bytes = std::filesystem::file_size(path);
    TelemetryDataStore store(bench_dir());
    for (auto _ : state) {
        auto session = store.read_session(id, PriceTable::built_in());
        if (!session) state.SkipWithError("session file unreadable");
        benchmark::DoNotOptimize(session);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
    state.counters["file_MB"] = static_cast<double>(bytes) / 1e6;
}
BENCHMARK(BM_ReadSessionFile)->Unit(benchmark::kMillisecond)->Iterations(10)->Repetitions(3)
    ->ReportAggregatesOnly(true);

/// Encoding agent steps' journal lines, the background worker's share of every step: step
/// begin, LLM call, tool begin, tool end, step end (three records once joined). Per step, in a
/// batch of one second's worth of steps.
void BM_JournalStepLines(benchmark::State& state) {
    using detail::Event;
    using detail::EventType;
    constexpr int kSteps = 2000;
    std::vector<Event> events;
    for (std::uint64_t i = 0; i < kSteps; ++i) {
        const std::uint64_t step_id = 0x0123456789abc000ULL + 4 * i;
        const std::int64_t t0 = 1'764'000'000'000'000'000 + static_cast<std::int64_t>(i) * 1'000'000;
        events.push_back({.span_id = step_id, .parent_id = 0x000000000000a001ULL, .start_ns = t0,
                          .name = "step 7", .detail = "action", .type = EventType::begin,
                          .kind = SpanKind::step, .status = TaskStatus::running});
        events.push_back({.span_id = step_id + 1, .parent_id = step_id, .start_ns = t0 + 1000,
                          .end_ns = t0 + 900'000, .name = "gpt-4o", .tokens = {1200, 300, 512, 0, 0},
                          .kind = SpanKind::llm});
        events.push_back({.span_id = step_id + 2, .parent_id = step_id, .start_ns = t0 + 901'000,
                          .name = "file_reader", .type = EventType::begin, .kind = SpanKind::tool,
                          .status = TaskStatus::running});
        events.push_back({.span_id = step_id + 2, .end_ns = t0 + 950'000, .type = EventType::end,
                          .kind = SpanKind::tool});
        events.push_back({.span_id = step_id, .end_ns = t0 + 960'000, .type = EventType::end,
                          .kind = SpanKind::step});
    }
    std::vector<const Event*> batch;
    for (const Event& event : events) batch.push_back(&event);
    std::string lines;
    for (auto _ : state) {
        lines.clear();
        detail::append_span_lines(batch, lines);
        benchmark::DoNotOptimize(lines.data());
    }
    state.SetItemsProcessed(state.iterations() * kSteps);  // items: steps
    state.counters["bytes_per_step"] = static_cast<double>(lines.size()) / kSteps;
}
BENCHMARK(BM_JournalStepLines)->Repetitions(3)->ReportAggregatesOnly(true);

void BM_MemoryPerEvent(benchmark::State& state) {
    constexpr int kEvents = 1'000'000;
    for (auto _ : state) {
        auto manager = bench_manager();
        TelemetryCollector collector = manager->get_collector();
        collector.record_llm_call("warm-up", 1, 1, 0);
        const std::size_t before = resident_bytes();
        for (int i = 0; i < kEvents; ++i) collector.record_llm_call("gpt-4o", 1200, 300, 0.8);
        const std::size_t after = resident_bytes();
        state.counters["bytes_per_event"] = static_cast<double>(after - before) / kEvents;
        state.counters["accounted_bytes_per_event"] =
            static_cast<double>(manager->get_storage_stats().memory_bytes) / kEvents;
    }
}
BENCHMARK(BM_MemoryPerEvent)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
    get_error_handler().set_log_level(LogLevel::error);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    std::filesystem::remove_all(bench_dir());
    return 0;
}
