#include "test_support.hpp"
#include "detail/event_log.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace sop_telemetry {
namespace {

using testing::TempDir;

class CollectorTest : public ::testing::Test {
protected:
    TempDir dir;
    std::unique_ptr<TelemetryManager> manager = testing::make_manager(testing::test_config(dir.str()));
    TelemetryCollector collector = manager->get_collector();

    TelemetrySession session() { return manager->get_session_data().value(); }
    const Span& span_named(const TelemetrySession& s, const std::string& name) {
        for (const auto& span : s.spans)
            if (span.name == name) return span;
        throw std::runtime_error("no span " + name);
    }
};

TEST_F(CollectorTest, RecordsTheDesignDocumentExampleWithExactTotals) {
    ASSERT_TRUE(collector.start_task("custom_task", "自定义任务"));
    collector.record_llm_call("gpt-4", 150, 75, 3.2);
    collector.record_llm_call("gpt-4", 100, 50, 2.5);
    collector.record_llm_call("gpt-4o-mini", 10, 5, 0.1);
    collector.record_agent_execution("supervisor", "RepoAnalysisAgent", 30.2);
    collector.record_tool_usage("file_reader", 0.8);
    ASSERT_TRUE(collector.end_task("custom_task", TaskStatus::completed));

    const TelemetrySession s = session();
    ASSERT_EQ(s.tasks.size(), 1u);
    const TaskExecution& task = s.tasks[0];
    EXPECT_EQ(task.task_id, "custom_task");
    EXPECT_EQ(task.description, "自定义任务");
    EXPECT_EQ(task.status, TaskStatus::completed);
    ASSERT_TRUE(task.end_time.has_value());
    EXPECT_GE(task.duration, 0.0);
    ASSERT_EQ(task.llm_calls.size(), 3u);
    EXPECT_EQ(task.llm_calls[0].model, "gpt-4");
    EXPECT_NEAR(task.llm_calls[0].duration, 3.2, 1e-3);
    ASSERT_EQ(task.agents.size(), 1u);
    EXPECT_EQ(task.agents[0].agent_type, "supervisor");
    EXPECT_EQ(task.agents[0].agent_name, "RepoAnalysisAgent");
    EXPECT_NEAR(task.agents[0].duration, 30.2, 1e-3);
    ASSERT_EQ(task.tools.size(), 1u);
    EXPECT_EQ(task.tools[0].tool_name, "file_reader");
    EXPECT_TRUE(task.tools[0].success);

    EXPECT_EQ(s.total_tokens.prompt_tokens, 260);
    EXPECT_EQ(s.total_tokens.completion_tokens, 130);
    EXPECT_EQ(s.total_tokens.total_tokens, 390);
    EXPECT_EQ(s.total_tokens.call_count, 3);
    EXPECT_EQ(s.total_tokens.model_breakdown.at("gpt-4").total_tokens, 375);
    EXPECT_EQ(s.total_tokens.model_breakdown.at("gpt-4o-mini").total_tokens, 15);
    EXPECT_EQ(task.total_tokens.total_tokens, 390);
    EXPECT_TRUE(s.total_tokens.cost_estimate.has_value());
}

TEST_F(CollectorTest, PrefetchIsAHintThatChangesNothing) {
    collector.prefetch();  // a collector of the threads' buffers: nothing to do
    TelemetryCollector lane = collector.serialized();
    lane.prefetch();  // before its first event: no chunk yet
    constexpr int kCalls = 1500;  // across chunk boundaries (512 events a chunk)
    for (int i = 0; i < kCalls; ++i) {
        lane.prefetch();
        lane.record_llm_call("gpt-4o", 1, 1, 0);
    }
    manager->disable_telemetry();
    lane.prefetch();
    manager->enable_telemetry();
    EXPECT_EQ(session().total_tokens.total_tokens, 2 * kCalls);
    EXPECT_EQ(manager->get_storage_stats().dropped_events, 0u);
}

TEST_F(CollectorTest, CallsOutsideAnyTaskAreKeptAndCounted) {
    collector.record_llm_call("gpt-4o", 7, 3, 0.01);
    collector.record_tool_usage("grep", 0.01);
    const TelemetrySession s = session();
    EXPECT_TRUE(s.tasks.empty());
    ASSERT_EQ(s.outside_tasks.llm_calls.size(), 1u);
    ASSERT_EQ(s.outside_tasks.tools.size(), 1u);
    EXPECT_EQ(s.total_tokens.total_tokens, 10);
    EXPECT_TRUE(s.spans[0].task_id.empty());
}

TEST_F(CollectorTest, SpansNestThroughScopesExplicitParentsAndTheOpenTask) {
    collector.start_task("t", "nesting");
    std::uint64_t agent_id = 0, step_id = 0;
    {
        SpanScope agent(collector, SpanKind::agent, "supervisor", "supervisor");
        agent_id = agent.id();
        SpanScope step(collector, SpanKind::step, "step 1", "action");
        step_id = step.id();
        collector.record_llm_call("gpt-4o", 1, 1, 0);
        EXPECT_EQ(collector.current_span(), step_id);
    }
    const std::uint64_t detached = collector.begin_span(SpanKind::agent, "micro", agent_id, "micro");
    collector.record_tool_usage("file_search", 0.1, true, {}, detached);
    collector.end_span(detached, {TaskStatus::failed, "boom", {}});
    collector.end_task("t", TaskStatus::failed);

    const TelemetrySession s = session();
    const Span& task = span_named(s, "t");
    EXPECT_EQ(task.parent_id, 0u);
    EXPECT_EQ(span_named(s, "supervisor").parent_id, task.span_id);
    EXPECT_EQ(span_named(s, "step 1").parent_id, agent_id);
    EXPECT_EQ(span_named(s, "gpt-4o").parent_id, step_id);
    const Span& micro = span_named(s, "micro");
    EXPECT_EQ(micro.parent_id, agent_id);
    EXPECT_EQ(micro.status, TaskStatus::failed);
    EXPECT_EQ(micro.error, "boom");
    EXPECT_EQ(span_named(s, "file_search").parent_id, micro.span_id);
    for (const Span& span : s.spans) EXPECT_EQ(span.task_id, "t") << span.name;
    EXPECT_EQ(s.tasks[0].status, TaskStatus::failed);
    ASSERT_EQ(s.tasks[0].agents.size(), 2u);
    EXPECT_EQ(s.tasks[0].agents[1].error, "boom");
}

TEST_F(CollectorTest, ATaskCanOpenUnderAnExplicitParentSpan) {
    const std::uint64_t cli = collector.begin_span(SpanKind::other, "sop-agents run", 0, "cli");
    const std::uint64_t task = collector.open_task("t", "under the cli", "repo_analysis", cli);
    collector.record_llm_call({"gpt-4o", {1, 1, 0, 0, 0}, 0.1, {}, task});
    collector.end_task("t");
    collector.end_span(cli);
    const TelemetrySession s = session();
    EXPECT_EQ(span_named(s, "t").parent_id, cli);
    EXPECT_EQ(span_named(s, "t").category, "repo_analysis");
    ASSERT_EQ(s.tasks.size(), 1u);
    EXPECT_EQ(s.tasks[0].llm_calls.size(), 1u);
}

TEST_F(CollectorTest, ARootParentIsNoneWhileATaskIsOpen) {
    ASSERT_TRUE(collector.start_task("open", "the newest open task"));
    const std::uint64_t task = collector.open_task("other", "a root of its own", {}, TelemetryCollector::kRoot);
    const std::uint64_t span = collector.begin_span(SpanKind::tool, "stray", TelemetryCollector::kRoot);
    collector.end_span(span);
    collector.record_llm_call({"gpt-4o", {1, 1, 0, 0, 0}, 0.1, {}, TelemetryCollector::kRoot});
    collector.record_tool_usage("also stray", 0.1, true, {}, TelemetryCollector::kRoot);
    collector.record_agent_execution("micro", "lone agent", 0.1, TelemetryCollector::kRoot);
    collector.end_task("other");
    collector.end_task("open");
    const TelemetrySession s = session();
    ASSERT_NE(task, 0u);
    for (const Span& recorded : s.spans) {
        if (recorded.name != "open") EXPECT_EQ(recorded.parent_id, 0u) << recorded.name;
    }
    ASSERT_EQ(s.tasks.size(), 2u);
    for (const TaskExecution& t : s.tasks) EXPECT_TRUE(t.llm_calls.empty() && t.tools.empty()) << t.task_id;
    EXPECT_EQ(s.outside_tasks.llm_calls.size(), 1u);
}

TEST_F(CollectorTest, StreamingLlmSpanTakesTokensAtTheEnd) {
    const std::uint64_t id = collector.begin_span(SpanKind::llm, "gpt-4o");
    collector.end_span(id, {TaskStatus::completed, {}, TokenCounts{100, 20, 60, 0, 5}});
    const TelemetrySession s = session();
    ASSERT_EQ(s.outside_tasks.llm_calls.size(), 1u);
    const LLMCall& call = s.outside_tasks.llm_calls[0];
    EXPECT_EQ(call.prompt_tokens, 100);
    EXPECT_EQ(call.completion_tokens, 20);
    EXPECT_EQ(call.cache_read_tokens, 60);
    EXPECT_EQ(call.reasoning_tokens, 5);
    EXPECT_EQ(s.total_tokens.cache_read_tokens, 60);
}

TEST_F(CollectorTest, OpenSpansAndTasksStayRunning) {
    collector.start_task("open", "never ended");
    collector.begin_span(SpanKind::agent, "still running");
    const TelemetrySession s = session();
    EXPECT_EQ(s.tasks[0].status, TaskStatus::running);
    EXPECT_FALSE(s.tasks[0].end_time.has_value());
    EXPECT_EQ(span_named(s, "still running").status, TaskStatus::running);
}

TEST_F(CollectorTest, TaskMistakesAreRefusedAndRecorded) {
    const auto start_errors = testing::error_count("start_task");
    const auto end_errors = testing::error_count("end_task");
    EXPECT_FALSE(collector.start_task("", "no id"));
    EXPECT_TRUE(collector.start_task("dup", "first"));
    EXPECT_FALSE(collector.start_task("dup", "second"));
    EXPECT_FALSE(collector.end_task("never-started"));
    EXPECT_EQ(testing::error_count("start_task"), start_errors + 2);
    EXPECT_EQ(testing::error_count("end_task"), end_errors + 1);
    EXPECT_TRUE(collector.end_task("dup"));
    EXPECT_FALSE(collector.end_task("dup"));
    EXPECT_EQ(session().tasks.size(), 1u);
}

TEST_F(CollectorTest, TaskScopeEndsTheTaskWithItsStatus) {
    {
        TaskScope task(collector, "scoped", "with a scope", "repo_analysis");
        task.set_status(TaskStatus::timeout);
        collector.record_llm_call("gpt-4o", 1, 2, 0);
    }
    const TelemetrySession s = session();
    ASSERT_EQ(s.tasks.size(), 1u);
    EXPECT_EQ(s.tasks[0].status, TaskStatus::timeout);
    EXPECT_EQ(s.tasks[0].sop_category.value_or(""), "repo_analysis");
    EXPECT_EQ(s.tasks[0].llm_calls.size(), 1u);
}

TEST_F(CollectorTest, BadValuesAreSanitised) {
    const auto errors = testing::error_count("record_llm_call");
    collector.record_llm_call("gpt-4o", -5, 10, -1.0);
    collector.record_llm_call("gpt-4o", 1, 1, std::numeric_limits<double>::quiet_NaN());
    EXPECT_EQ(testing::error_count("record_llm_call"), errors + 1);
    const TelemetrySession s = session();
    EXPECT_EQ(s.total_tokens.prompt_tokens, 1);
    EXPECT_EQ(s.total_tokens.completion_tokens, 11);
    for (const auto& call : s.outside_tasks.llm_calls) EXPECT_EQ(call.duration, 0.0);
}

TEST_F(CollectorTest, AnAbsurdDurationIsCappedInsteadOfOverflowingTheStartTime) {
    collector.record_llm_call("gpt-4o", 1, 1, 1e300);
    const TelemetrySession s = session();
    ASSERT_EQ(s.outside_tasks.llm_calls.size(), 1u);
    const LLMCall& call = s.outside_tasks.llm_calls[0];
    EXPECT_LT(call.start_time, s.start_time);
    EXPECT_GT(call.duration, 3.0e9);  // about a century
    EXPECT_LT(call.duration, 3.2e9);
}

TEST_F(CollectorTest, HugeAndOddStringsAreClippedAndStayValidJson) {
    const std::string huge_name(100'000, 'x');
    const std::string invalid_utf8 = "bad\xff\xfe bytes \xe4\xb8";  // cut Chinese character
    std::string chinese_long;
    for (int i = 0; i < 5000; ++i) chinese_long += "测";
    collector.start_task("t", chinese_long);
    collector.record_tool_usage(huge_name, 0.1, false, invalid_utf8);
    collector.record_llm_call(std::string("nul\0model", 9), 1, 1, 0);
    collector.end_task("t");

    const TelemetrySession s = session();
    EXPECT_LE(s.tasks[0].tools[0].tool_name.size(), 256u);
    EXPECT_LE(s.tasks[0].description.size(), 8u * 1024);
    EXPECT_EQ(s.tasks[0].description.size() % 3, 0u) << "a UTF-8 character was split";
    const std::string json = s.to_json();
    std::string error;
    const auto back = TelemetrySession::from_json(json, &error);
    ASSERT_TRUE(back.has_value()) << error;
    EXPECT_EQ(back->tasks[0].tools[0].error, "bad\xEF\xBF\xBD\xEF\xBF\xBD bytes \xEF\xBF\xBD\xEF\xBF\xBD");
    EXPECT_EQ(back->tasks[0].llm_calls[0].model, std::string("nul\0model", 9));
}

TEST_F(CollectorTest, DisabledTelemetryRecordsNothing) {
    manager->disable_telemetry();
    EXPECT_FALSE(manager->is_enabled());
    EXPECT_FALSE(collector.start_task("t", "ignored"));
    collector.record_llm_call("gpt-4o", 10, 10, 1);
    EXPECT_EQ(collector.begin_span(SpanKind::agent, "a"), 0u);
    EXPECT_EQ(session().spans.size(), 0u);
    manager->enable_telemetry();
    collector.record_llm_call("gpt-4o", 10, 10, 1);
    EXPECT_EQ(session().total_tokens.total_tokens, 20);
}

TEST_F(CollectorTest, ATaskBegunBeforeTelemetryWasTurnedOffStillEnds) {
    ASSERT_TRUE(collector.start_task("t", "begun while on"));
    manager->disable_telemetry();
    EXPECT_TRUE(collector.end_task("t", TaskStatus::cancelled));
    EXPECT_EQ(collector.current_span(), 0u);  // no longer the task new spans hang under
    manager->enable_telemetry();
    const TelemetrySession s = session();
    ASSERT_EQ(s.tasks.size(), 1u);
    EXPECT_EQ(s.tasks[0].status, TaskStatus::cancelled);
    EXPECT_TRUE(s.tasks[0].end_time.has_value());

    manager->disable_telemetry();  // begun and ended while off: nothing, and no error
    const auto errors = testing::error_count("end_task");
    EXPECT_FALSE(collector.start_task("quiet", ""));
    EXPECT_FALSE(collector.end_task("quiet"));
    EXPECT_EQ(testing::error_count("end_task"), errors);
}

TEST_F(CollectorTest, CollectorHandlesAreCountedAsActive) {
    const int before = manager->get_storage_stats().active_collectors;
    {
        TelemetryCollector second = manager->get_collector();
        TelemetryCollector third = second;
        EXPECT_EQ(manager->get_storage_stats().active_collectors, before + 2);
    }
    EXPECT_EQ(manager->get_storage_stats().active_collectors, before);
}

TEST_F(CollectorTest, EventBudgetCountsDroppedEvents) {
    Config config = testing::test_config(dir.str());
    config.max_events_per_session = 100;
    auto small = testing::make_manager(config);
    TelemetryCollector c = small->get_collector();
    for (int i = 0; i < 250; ++i) c.record_llm_call("gpt-4o", 1, 1, 0);
    const TelemetrySession s = small->get_session_data().value();
    EXPECT_EQ(s.total_tokens.call_count, 100);
    EXPECT_EQ(s.dropped_events, 150u);
    EXPECT_EQ(small->get_storage_stats().dropped_events, 150u);
}

TEST_F(CollectorTest, ASpanEndedTwiceCountsOnceAndAnUnknownEndMakesNoSpan) {
    const std::uint64_t step = collector.begin_span(SpanKind::step, "step 1");
    collector.end_span(step, {TaskStatus::completed, {}, {100, 10, 0, 0, 0}});
    collector.end_span(step, {TaskStatus::failed, "again", {100, 10, 0, 0, 0}});
    auto other = testing::make_manager(testing::test_config(dir.str()));
    const std::uint64_t foreign = other->get_collector().begin_span(SpanKind::tool, "elsewhere");
    collector.end_span(foreign, {TaskStatus::completed, {}, {7, 7, 0, 0, 0}});  // another session's
    collector.end_span(0x7fff'0000'0000'1234ull);                                // made up
    const TelemetrySession s = manager->get_session_data().value();
    ASSERT_EQ(s.spans.size(), 1u);
    EXPECT_EQ(s.spans[0].span_id, step);
    EXPECT_EQ(s.spans[0].status, TaskStatus::completed);
    EXPECT_EQ(s.spans[0].tokens.prompt_tokens, 100);
    EXPECT_EQ(s.total_tokens.total_tokens, 0);  // end_span's tokens are not LLM calls
}

TEST_F(CollectorTest, OfTwoEndsFromTwoThreadsTheEarlierCounts) {
    // The first end in buffer order counted: the live view and a recovered journal, which list
    // the threads' events differently, disagreed on the span's tokens.
    const std::uint64_t call = collector.begin_span(SpanKind::llm, "gpt-4o");
    std::thread([&] { manager->get_collector().end_span(call, {TaskStatus::completed, {}, {5, 0, 0, 0, 0}}); }).join();
    collector.end_span(call, {TaskStatus::failed, "late", {100, 0, 0, 0, 0}});
    const TelemetrySession s = session();
    const Span& span = span_named(s, "gpt-4o");
    EXPECT_EQ(span.tokens.prompt_tokens, 5);
    EXPECT_EQ(span.status, TaskStatus::completed);
    EXPECT_TRUE(span.error.empty());
}

TEST_F(CollectorTest, TwoSessionsInOneProcessHandOutDifferentSpanIds) {
    auto other = testing::make_manager(testing::test_config(dir.str()));
    TelemetryCollector second = other->get_collector();
    for (int i = 0; i < 3; ++i) {
        EXPECT_NE(collector.begin_span(SpanKind::step, "step"), second.begin_span(SpanKind::step, "step"));
    }
}

TEST_F(CollectorTest, PastTheBudgetDroppedEventsTakeNoMemory) {
    // Their strings were copied into the arena before the event was dropped: a review reached
    // 810 MB with a 1000-event budget and 4 KB errors.
    Config config = testing::test_config(dir.str());
    config.max_events_per_session = 100;
    auto small = testing::make_manager(config);
    TelemetryCollector c = small->get_collector();
    const std::string long_text(4000, 'x');
    for (int i = 0; i < 100; ++i) c.record_llm_call("gpt-4o", 1, 1, 0);
    const std::size_t at_budget = small->get_storage_stats().memory_bytes;
    for (int i = 0; i < 5000; ++i) {
        const std::string unique = std::to_string(i) + long_text;
        LlmCallInfo failed;
        failed.model = unique;
        failed.error = unique;
        c.record_llm_call(failed);
        c.record_tool_usage(unique, 0.1, false, unique);
        c.end_span(c.begin_span(SpanKind::step, unique), {TaskStatus::failed, unique, {}});
        ASSERT_TRUE(c.start_task("task-" + std::to_string(i), unique));
        EXPECT_TRUE(c.end_task("task-" + std::to_string(i)));  // still pairs with its start
    }
    // At most the spare slab the worker maps ahead; the strings were 5000 x 7 x 4 KB.
    EXPECT_LE(small->get_storage_stats().memory_bytes, at_budget + detail::ChunkSlabs::kSlabBytes);
    const TelemetrySession s = small->get_session_data().value();
    // The step's and the task's ends have nothing to end (their begins were dropped).
    EXPECT_EQ(s.dropped_events, 5000u * 4);
    EXPECT_EQ(s.total_tokens.call_count, 100);
}

}  // namespace
}  // namespace sop_telemetry
