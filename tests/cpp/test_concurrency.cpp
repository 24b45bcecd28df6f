#include "test_support.hpp"

#include "detail/event_log.hpp"
#include "detail/session_core.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace sop_telemetry {
namespace {

/// Every test here records into a session of its own.
class Concurrency : public ::testing::Test {
protected:
    testing::TempDir dir;
    std::unique_ptr<TelemetryManager> manager = testing::make_manager(testing::test_config(dir.str()));
    TelemetryCollector collector = manager->get_collector();
};

TEST_F(Concurrency, EightThreadsRecordWithoutLosingAnEvent) {
    ASSERT_TRUE(collector.start_task("parallel", "8 threads"));

    constexpr int kThreads = 8;
    constexpr int kCallsPerThread = 5000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            const std::string model = "model-" + std::to_string(t % 2);
            const std::string agent = "agent-" + std::to_string(t);
            SpanScope scope(collector, SpanKind::agent, agent, "micro");
            for (int i = 0; i < kCallsPerThread; ++i) {
                collector.record_llm_call(model, 3, 2, 0.001);
                collector.record_tool_usage("tool", 0.001, i % 10 != 0);
            }
        });
    }
    // Read while they write: the journal worker and a concurrent fold must see consistent data.
    for (int i = 0; i < 5; ++i) {
        const auto partial = manager->get_session_data();
        ASSERT_TRUE(partial.has_value());
        EXPECT_LE(partial->total_tokens.call_count, kThreads * kCallsPerThread);
    }
    for (auto& thread : threads) thread.join();
    collector.end_task("parallel");

    const TelemetrySession s = manager->get_session_data().value();
    ASSERT_EQ(s.tasks.size(), 1u);
    const TaskExecution& task = s.tasks[0];
    EXPECT_EQ(task.llm_calls.size(), std::size_t(kThreads * kCallsPerThread));
    EXPECT_EQ(task.tools.size(), std::size_t(kThreads * kCallsPerThread));
    EXPECT_EQ(task.agents.size(), std::size_t(kThreads));
    EXPECT_EQ(s.total_tokens.prompt_tokens, 3 * kThreads * kCallsPerThread);
    EXPECT_EQ(s.total_tokens.completion_tokens, 2 * kThreads * kCallsPerThread);
    EXPECT_EQ(s.total_tokens.model_breakdown.at("model-0").call_count, 4 * kCallsPerThread);
    EXPECT_EQ(s.total_tokens.model_breakdown.at("model-1").call_count, 4 * kCallsPerThread);
    std::size_t failed = 0;
    for (const auto& tool : task.tools) failed += !tool.success;
    EXPECT_EQ(failed, std::size_t(kThreads * kCallsPerThread / 10));
    // Each thread's calls hang under that thread's own agent span.
    std::map<std::uint64_t, int> children;
    for (const auto& call : task.llm_calls) ++children[call.parent_id];
    EXPECT_EQ(children.size(), std::size_t(kThreads));
    for (const auto& [parent, count] : children) EXPECT_EQ(count, kCallsPerThread);
    EXPECT_EQ(s.dropped_events, 0u);

    // Everything reaches the session file as well.
    ASSERT_TRUE(manager->flush_data());
    const auto stored = TelemetrySession::from_json(
        testing::read_text(dir / (s.session_id + ".json")));
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->total_tokens.total_tokens, s.total_tokens.total_tokens);
}


TEST_F(Concurrency, TwoThreadsFillSlabsFromSeveralReservationsAndLoseNothing) {
    // Past one 32 MiB reservation of slabs, each thread populating its own slabs at once.
    constexpr int kCallsPerThread = 150'000;
    static_assert(2 * kCallsPerThread * sizeof(detail::Event) > 16 * detail::ChunkSlabs::kSlabBytes);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&, t] {
            const std::string model = "model-" + std::to_string(t);
            for (int i = 0; i < kCallsPerThread; ++i) collector.record_llm_call(model, 3, 2, 0.001);
        });
    }
    for (auto& thread : threads) thread.join();
    const TelemetrySession s = manager->get_session_data().value();
    EXPECT_EQ(s.dropped_events, 0u);
    EXPECT_EQ(s.total_tokens.model_breakdown.at("model-0").call_count, kCallsPerThread);
    EXPECT_EQ(s.total_tokens.model_breakdown.at("model-1").call_count, kCallsPerThread);
    EXPECT_EQ(s.total_tokens.total_tokens, 2 * 5 * kCallsPerThread);
    EXPECT_GT(manager->get_storage_stats().memory_bytes, 16 * detail::ChunkSlabs::kSlabBytes);
}


TEST_F(Concurrency, ShortLivedThreadsReuseBuffersAndLoseNothing) {
    constexpr int kThreads = 200;
    for (int i = 0; i < kThreads; ++i) {
        std::thread([&] { collector.record_tool_usage("step_tool", 0.001); }).join();
    }
    const TelemetrySession s = manager->get_session_data().value();
    EXPECT_EQ(s.outside_tasks.tools.size(), std::size_t(kThreads));
    std::set<std::uint64_t> ids;
    for (const auto& tool : s.outside_tasks.tools) ids.insert(tool.span_id);
    EXPECT_EQ(ids.size(), std::size_t(kThreads)) << "span ids stay unique across reuse";
    // One thread at a time: a handful of buffers, not one per thread. Each buffer holds a chunk
    // of its own; 200 of them would fill eight slabs, reuse keeps it to the slab in use plus
    // the spare the worker maps ahead.
    static_assert(200 * sizeof(detail::ThreadBuffer::Chunk) > 7 * detail::ChunkSlabs::kSlabBytes);
    EXPECT_LT(manager->get_storage_stats().memory_bytes, 3 * detail::ChunkSlabs::kSlabBytes);
}


TEST_F(Concurrency, SerializedCollectorWritesOneBufferFromAnyThread) {
    const auto& log = collector.core()->log;
    collector.record_tool_usage("warm-up", 0.001);  // this thread's own buffer
    const std::size_t buffers_before = log.buffers().size();
    {
        TelemetryCollector serialized = collector.serialized();
        const std::uint64_t agent = serialized.begin_span(SpanKind::agent, "agent", 0, "micro");
        constexpr int kThreads = 50;
        for (int i = 0; i < kThreads; ++i) {
            // One caller at a time (the threads are joined in turn), as the rule asks.
            std::thread([&] {
                const std::uint64_t tool = serialized.begin_span(SpanKind::tool, "step_tool", agent);
                serialized.end_span(tool);
            }).join();
        }
        serialized.end_span(agent);
        EXPECT_EQ(log.buffers().size(), buffers_before + 1) << "one lane, no buffer per thread";

        const TelemetrySession s = manager->get_session_data().value();
        ASSERT_EQ(s.outside_tasks.tools.size(), std::size_t(kThreads + 1));
        std::set<std::uint64_t> ids;
        for (const auto& tool : s.outside_tasks.tools) {
            ids.insert(tool.span_id);
            if (tool.tool_name == "step_tool") EXPECT_EQ(tool.parent_id, agent);
        }
        EXPECT_EQ(ids.size(), std::size_t(kThreads + 1));
    }
    // The lane's buffer went back to the registry: the next new thread reuses it.
    std::thread([&] { collector.record_tool_usage("after", 0.001); }).join();
    EXPECT_EQ(log.buffers().size(), buffers_before + 1);
    EXPECT_EQ(manager->get_session_data()->outside_tasks.tools.size(), std::size_t(52));  // + "after"
}

TEST(Fork, AChildForkedWhileTheWorkerIsBusyNeverHangs) {
    // A task start wakes the worker, which then takes the session's lock: a fork at that moment
    // left the lock held in the child (no worker there to release it), whose next task start
    // or get_session_data() waited for ever (a review saw 3 hangs in 10 Python forks).
    testing::TempDir dir;
    Config config = testing::test_config(dir.str());
    config.code_metrics = true;
    auto manager = testing::make_manager(config);
    TelemetryCollector collector = manager->get_collector();
    for (int i = 0; i < 20; ++i) {  // before the fix the first fork hung already
        const std::string task = "parent-" + std::to_string(i);
        ASSERT_TRUE(collector.start_task(task, "forking"));
        const testing::ChildOutcome outcome = testing::run_in_child([&] {
            TelemetryCollector child = manager->get_collector();
            const bool started = child.start_task("child", "in the child");
            child.record_llm_call("gpt-4o", 1, 1, 0);
            return started && child.end_task("child") && manager->get_session_data().has_value();
        }, std::chrono::seconds(5));
        ASSERT_EQ(outcome, testing::ChildOutcome::passed) << "fork " << i;
        collector.end_task(task);
    }
}

}  // namespace
}  // namespace sop_telemetry
