// Rule-based suggestions, each with the numbers that triggered it.
#include "analysis.hpp"

#include <sop_telemetry/pricing.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

namespace sop_telemetry::cli {

namespace {

// Thresholds, in one place so the documentation can quote them.
constexpr double kDominantToolShare = 0.40;      // of the session's time
constexpr double kDominantToolMinSeconds = 0.5;
constexpr std::size_t kRetriedToolFailures = 2;
constexpr std::int64_t kShortOutputTokens = 150;  // mean completion tokens per call
constexpr std::size_t kShortOutputMinCalls = 3;
constexpr double kExpensiveOutputPrice = 8.0;     // USD per million output tokens
constexpr double kFailingLlmShare = 0.2;
constexpr double kPromptGrowth = 3.0;             // last prompt vs first, within one task
constexpr std::size_t kPromptGrowthMinCalls = 4;

template <typename... Args>
std::string format(const char* pattern, Args... args) {
    char text[512];
    std::snprintf(text, sizeof text, pattern, args...);
    return text;
}

void dominant_tools(const TelemetrySession& session, const std::vector<NamedStats>& tools,
                    std::vector<Insight>& out) {
    // Tool times recorded by hand may add up to more than the session: share of the larger.
    double total = session.total_duration;
    double tool_time = 0;
    for (const NamedStats& tool : tools) tool_time += tool.stats.total;
    total = std::max(total, tool_time);
    if (total <= 0) return;
    for (const NamedStats& tool : tools) {
        const double share = tool.stats.total / total;
        if (share < kDominantToolShare || tool.stats.total < kDominantToolMinSeconds) continue;
        out.push_back({"dominant_tool", "warning",
                       format("tool '%s' took %.2f s of %.2f s (%.0f %%) in %zu calls "
                              "(p50 %.3f s, p95 %.3f s): cache its results, batch or parallelise its calls",
                              tool.name.c_str(), tool.stats.total, total, share * 100, tool.stats.count,
                              tool.stats.p50, tool.stats.p95)});
    }
}

void retried_failing_tools(const std::vector<NamedStats>& tools, std::vector<Insight>& out) {
    for (const NamedStats& tool : tools) {
        if (tool.stats.failures < kRetriedToolFailures) continue;
        out.push_back({"retried_failing_tool", "warning",
                       format("tool '%s' failed %zu of %zu calls and was called again: check its "
                              "inputs or describe its errors better to the model",
                              tool.name.c_str(), tool.stats.failures, tool.stats.count)});
    }
}

void expensive_short_outputs(const TelemetrySession& session, std::vector<Insight>& out) {
    for (const auto& [model, usage] : session.total_tokens.model_breakdown) {
        if (usage.call_count < static_cast<std::int64_t>(kShortOutputMinCalls)) continue;
        const auto price = PriceTable::built_in().lookup(model);
        if (!price || price->output < kExpensiveOutputPrice) continue;
        const double mean_output = double(usage.completion_tokens) / double(usage.call_count);
        if (mean_output > kShortOutputTokens) continue;
        out.push_back({"expensive_model_short_outputs", "info",
                       format("model '%s' ($%.2f per million output tokens) wrote %.0f tokens per call "
                              "on average over %lld calls (cost $%.4f): a smaller model may do",
                              model.c_str(), price->output, mean_output,
                              static_cast<long long>(usage.call_count), usage.cost_estimate.value_or(0))});
    }
}

void max_steps_tasks(const TelemetrySession& session, std::vector<Insight>& out) {
    for (const TaskExecution& task : session.tasks) {
        if (task.status != TaskStatus::max_steps) continue;
        out.push_back({"max_steps_reached", "warning",
                       format("task '%s' stopped at its step limit after %zu LLM calls and %.2f s: "
                              "raise max_steps, simplify the task or give the agent a better tool",
                              task.task_id.c_str(), task.llm_calls.size(), task.duration)});
    }
}

void failing_llm_calls(const TelemetrySession& session, std::vector<Insight>& out) {
    std::map<std::string, std::pair<std::size_t, std::size_t>> calls;  // model -> (failed, all)
    for (const TaskExecution* task : all_task_records(session))
        for (const LLMCall& call : task->llm_calls) {
            auto& counts = calls[call.model];
            counts.first += call.success ? 0 : 1;
            ++counts.second;
        }
    for (const auto& [model, counts] : calls) {
        if (counts.first == 0 || double(counts.first) / double(counts.second) < kFailingLlmShare) continue;
        out.push_back({"failing_llm_calls", "warning",
                       format("%zu of %zu calls to '%s' failed: check the endpoint, rate limits and "
                              "timeouts, and add retries with backoff",
                              counts.first, counts.second, model.c_str())});
    }
}

void prompt_growth(const TelemetrySession& session, std::vector<Insight>& out) {
    for (const TaskExecution& task : session.tasks) {
        if (task.llm_calls.size() < kPromptGrowthMinCalls) continue;
        const std::int64_t first = task.llm_calls.front().prompt_tokens;
        const std::int64_t last = task.llm_calls.back().prompt_tokens;
        if (first <= 0 || double(last) < kPromptGrowth * double(first)) continue;
        out.push_back({"prompt_growth", "info",
                       format("in task '%s' the prompt grew from %lld to %lld tokens over %zu calls: "
                              "summarise the agent's memory or shorten tool outputs",
                              task.task_id.c_str(), static_cast<long long>(first),
                              static_cast<long long>(last), task.llm_calls.size())});
    }
}

void unpriced_models(const TelemetrySession& session, std::vector<Insight>& out) {
    for (const std::string& model : session.total_tokens.unpriced_models)
        out.push_back({"unpriced_model", "info",
                       format("model '%s' has no price: its tokens are not in the cost; add it to a "
                              "price file (the price_file setting)", model.c_str())});
}

}  // namespace

std::vector<Insight> insights(const TelemetrySession& session) {
    std::vector<Insight> out;
    const std::vector<NamedStats> tools = time_by_tool(session);
    dominant_tools(session, tools, out);
    retried_failing_tools(tools, out);
    expensive_short_outputs(session, out);
    max_steps_tasks(session, out);
    failing_llm_calls(session, out);
    prompt_growth(session, out);
    unpriced_models(session, out);
    return out;
}

}  // namespace sop_telemetry::cli
