// The figures sop-telemetry prints: percentiles, session status, aggregates, deltas, insights.
#include "analysis.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

namespace sop_telemetry::cli {
namespace {

using std::chrono::microseconds;

Timestamp at(std::int64_t seconds) { return Timestamp(microseconds(seconds * 1'000'000)); }

ToolExecution tool(const std::string& name, double duration, bool success = true) {
    ToolExecution t;
    t.tool_name = name;
    t.duration = duration;
    t.success = success;
    if (!success) t.error = "ValueError: bad input";
    return t;
}

LLMCall llm(const std::string& model, std::int64_t prompt, std::int64_t completion) {
    LLMCall c;
    c.model = model;
    c.prompt_tokens = prompt;
    c.completion_tokens = completion;
    c.total_tokens = prompt + completion;
    c.duration = 0.5;
    return c;
}

TelemetrySession session_with(std::vector<TaskExecution> tasks, double duration = 10) {
    TelemetrySession s;
    s.session_id = "s1";
    s.start_time = at(1'700'000'000);
    s.end_time = at(1'700'000'010);
    s.total_duration = duration;
    s.tasks = std::move(tasks);
    return s;
}

bool has_rule(const std::vector<Insight>& found, const std::string& rule) {
    return std::any_of(found.begin(), found.end(), [&](const Insight& i) { return i.rule == rule; });
}

TEST(CliAnalysis, PercentilesAreNearestRank) {
    std::vector<double> values;
    for (int i = 1; i <= 100; ++i) values.push_back(i);
    std::reverse(values.begin(), values.end());
    const DurationStats stats = duration_stats(values, 3);
    EXPECT_EQ(stats.count, 100u);
    EXPECT_EQ(stats.failures, 3u);
    EXPECT_DOUBLE_EQ(stats.total, 5050);
    EXPECT_DOUBLE_EQ(stats.p50, 50);
    EXPECT_DOUBLE_EQ(stats.p95, 95);
    EXPECT_DOUBLE_EQ(stats.max, 100);
    EXPECT_DOUBLE_EQ(duration_stats({2.5}).p95, 2.5);
    EXPECT_EQ(duration_stats({}).count, 0u);
}

TEST(CliAnalysis, SessionStatusComesFromItsTasks) {
    TaskExecution ok;
    ok.status = TaskStatus::completed;
    TaskExecution failed;
    failed.status = TaskStatus::failed;
    TaskExecution limited;
    limited.status = TaskStatus::max_steps;
    EXPECT_EQ(summarize(session_with({ok})).status, "completed");
    EXPECT_EQ(summarize(session_with({ok, limited})).status, "max_steps");
    EXPECT_EQ(summarize(session_with({limited, failed})).status, "failed");
    EXPECT_EQ(summarize(session_with({})).status, "empty");
    TelemetrySession crashed = session_with({ok});
    crashed.incomplete = true;
    EXPECT_EQ(summarize(crashed).status, "incomplete");
}

TEST(CliAnalysis, ToolTimeIsGroupedAndSortedByTotal) {
    TaskExecution task;
    task.tools = {tool("grep", 0.1), tool("read", 2.0), tool("grep", 0.3, false)};
    TelemetrySession session = session_with({task});
    session.outside_tasks.tools = {tool("grep", 0.2)};
    const auto tools = time_by_tool(session);
    ASSERT_EQ(tools.size(), 2u);
    EXPECT_EQ(tools[0].name, "read");
    EXPECT_EQ(tools[1].name, "grep");
    EXPECT_EQ(tools[1].stats.count, 3u);
    EXPECT_EQ(tools[1].stats.failures, 1u);
    EXPECT_NEAR(tools[1].stats.total, 0.6, 1e-12);
    EXPECT_EQ(errors_of(session).size(), 1u);
}

TEST(CliAnalysis, AggregateSumsSessionsAndGroupsByDay) {
    TaskExecution task;
    task.status = TaskStatus::failed;
    task.tools = {tool("grep", 1.0)};
    TelemetrySession a = session_with({task});
    a.total_tokens.total_tokens = 100;
    a.total_tokens.cost_estimate = 0.5;
    a.total_tokens.model_breakdown["gpt-4o"].total_tokens = 100;
    TelemetrySession b = session_with({});
    b.start_time = at(1'700'000'000 + 86'400);
    b.total_tokens.total_tokens = 50;
    b.total_tokens.unpriced_models = {"local"};
    const Aggregate total = aggregate({&a, &b});
    EXPECT_EQ(total.sessions, 2u);
    EXPECT_EQ(total.failed_tasks, 1u);
    EXPECT_DOUBLE_EQ(total.failure_rate(), 1.0);
    EXPECT_EQ(total.tokens.total_tokens, 150);
    EXPECT_DOUBLE_EQ(total.cost, 0.5);
    EXPECT_EQ(total.unpriced_models, std::vector<std::string>{"local"});
    ASSERT_EQ(total.by_day.size(), 2u);
    EXPECT_EQ(total.by_day.begin()->first, "2023-11-14");
    EXPECT_EQ(total.slowest_tools.at(0).name, "grep");
}

TEST(CliAnalysis, AggregateTokenSumsHoldAtTheInt64Limit) {
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    TelemetrySession a = session_with({});
    a.total_tokens.prompt_tokens = a.total_tokens.total_tokens = kMax;
    a.total_tokens.model_breakdown["gpt-4o"].total_tokens = kMax;
    const TelemetrySession b = a;
    const Aggregate total = aggregate({&a, &b});
    EXPECT_EQ(total.tokens.total_tokens, kMax);
    EXPECT_EQ(total.tokens.prompt_tokens, kMax);
    EXPECT_EQ(total.tokens.model_breakdown.at("gpt-4o").total_tokens, kMax);
    EXPECT_EQ(total.by_day.begin()->second.tokens, kMax);
}

TEST(CliAnalysis, CompareListsEveryModelAndTool) {
    TaskExecution task;
    task.tools = {tool("grep", 1.0)};
    TelemetrySession a = session_with({task}, 4);
    a.total_tokens.model_breakdown["gpt-4o"].total_tokens = 10;
    TelemetrySession b = session_with({}, 6);
    b.total_tokens.model_breakdown["claude"].total_tokens = 20;
    const auto deltas = compare(a, b);
    auto find = [&](const std::string& metric) {
        return *std::find_if(deltas.begin(), deltas.end(), [&](const Delta& d) { return d.metric == metric; });
    };
    EXPECT_DOUBLE_EQ(*find("duration_s").b - *find("duration_s").a, 2);
    EXPECT_DOUBLE_EQ(*find("tokens[claude]").a, 0);
    EXPECT_DOUBLE_EQ(*find("tokens[gpt-4o]").a, 10);
    EXPECT_DOUBLE_EQ(*find("tool_time_s[grep]").a, 1.0);
    // Neither session priced anything: the cost is not known, not $0.
    EXPECT_FALSE(find("cost_usd").a.has_value());
    b.total_tokens.cost_estimate = 0.25;
    const auto priced = compare(a, b);
    const auto cost = std::find_if(priced.begin(), priced.end(), [](const Delta& d) { return d.metric == "cost_usd"; });
    EXPECT_FALSE(cost->a.has_value());
    EXPECT_DOUBLE_EQ(*cost->b, 0.25);
}

TEST(CliAnalysis, InsightsFireOnTheirEvidenceOnly) {
    TaskExecution task;
    task.task_id = "t1";
    task.status = TaskStatus::max_steps;
    task.tools = {tool("slow", 3.0), tool("flaky", 0.1, false), tool("flaky", 0.1, false), tool("flaky", 0.1)};
    task.llm_calls = {llm("gpt-4o", 1000, 20), llm("gpt-4o", 2000, 20), llm("gpt-4o", 3000, 20), llm("gpt-4o", 4000, 20)};
    TelemetrySession session = session_with({task}, 5);
    TokenUsage& usage = session.total_tokens.model_breakdown["gpt-4o"];
    usage.call_count = 4;
    usage.completion_tokens = 80;
    session.total_tokens.unpriced_models = {"my-model"};
    const auto found = insights(session);
    for (const char* rule : {"dominant_tool", "retried_failing_tool", "max_steps_reached", "prompt_growth",
                             "expensive_model_short_outputs", "unpriced_model"})
        EXPECT_TRUE(has_rule(found, rule)) << rule;
    EXPECT_FALSE(has_rule(found, "failing_llm_calls"));
    const auto dominant = std::find_if(found.begin(), found.end(), [](const Insight& i) { return i.rule == "dominant_tool"; });
    EXPECT_NE(dominant->message.find("'slow' took 3.00 s of 5.00 s (60 %)"), std::string::npos);

    TaskExecution calm;
    calm.tools = {tool("fast", 0.1)};
    calm.llm_calls = {llm("gpt-4o-mini", 100, 500)};
    EXPECT_TRUE(insights(session_with({calm}, 5)).empty());
}

}  // namespace
}  // namespace sop_telemetry::cli
