#include "analysis.hpp"

#include "detail/json_writer.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

namespace sop_telemetry::cli {

namespace {

double percentile(const std::vector<double>& sorted, double fraction) {
    if (sorted.empty()) return 0;
    // Nearest rank: the smallest value with at least `fraction` of the values at or below it.
    const auto rank = static_cast<std::size_t>(std::ceil(fraction * sorted.size()));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

bool is_failure(TaskStatus status) {
    return status == TaskStatus::failed || status == TaskStatus::timeout ||
           status == TaskStatus::max_steps;
}

std::vector<NamedStats> by_total(std::map<std::pair<std::string, std::string>, std::pair<std::vector<double>, std::size_t>> groups) {
    std::vector<NamedStats> out;
    for (auto& [key, values] : groups)
        out.push_back({key.first, key.second, duration_stats(std::move(values.first), values.second)});
    std::stable_sort(out.begin(), out.end(), [](const NamedStats& a, const NamedStats& b) {
        return a.stats.total > b.stats.total;
    });
    return out;
}

using Groups = std::map<std::pair<std::string, std::string>, std::pair<std::vector<double>, std::size_t>>;

void add(Groups& groups, const std::string& name, const std::string& detail, double duration, bool failed) {
    auto& group = groups[{name, detail}];
    group.first.push_back(duration);
    if (failed) ++group.second;
}

Groups tool_groups(const TelemetrySession& session) {
    Groups groups;
    for (const TaskExecution* task : all_task_records(session))
        for (const ToolExecution& tool : task->tools) add(groups, tool.tool_name, "", tool.duration, !tool.success);
    return groups;
}

/// `from`'s token counts added to `into`'s, held at the int64 limits like the engine's sums
/// (sessions may already be held there). Costs and breakdowns are the caller's.
void add_counts(TokenUsage& into, const TokenUsage& from) {
    into.prompt_tokens = saturating_add(into.prompt_tokens, from.prompt_tokens);
    into.completion_tokens = saturating_add(into.completion_tokens, from.completion_tokens);
    into.total_tokens = saturating_add(into.total_tokens, from.total_tokens);
    into.cache_read_tokens = saturating_add(into.cache_read_tokens, from.cache_read_tokens);
    into.cache_write_tokens = saturating_add(into.cache_write_tokens, from.cache_write_tokens);
    into.reasoning_tokens = saturating_add(into.reasoning_tokens, from.reasoning_tokens);
    into.call_count = saturating_add(into.call_count, from.call_count);
}

}  // namespace

DurationStats duration_stats(std::vector<double> durations, std::size_t failures) {
    DurationStats stats;
    stats.count = durations.size();
    stats.failures = failures;
    if (durations.empty()) return stats;
    std::sort(durations.begin(), durations.end());
    for (double d : durations) stats.total += d;
    stats.p50 = percentile(durations, 0.50);
    stats.p95 = percentile(durations, 0.95);
    stats.max = durations.back();
    return stats;
}

std::vector<const TaskExecution*> all_task_records(const TelemetrySession& session) {
    std::vector<const TaskExecution*> out;
    for (const TaskExecution& task : session.tasks) out.push_back(&task);
    out.push_back(&session.outside_tasks);
    return out;
}

SessionSummary summarize(const TelemetrySession& session) {
    SessionSummary summary;
    summary.session_id = session.session_id;
    summary.start_time = session.start_time;
    summary.duration = session.total_duration;
    summary.tasks = session.tasks.size();
    bool running = false, max_steps = false, cancelled = false;
    for (const TaskExecution& task : session.tasks) {
        if (is_failure(task.status) && task.status != TaskStatus::max_steps) ++summary.failed_tasks;
        max_steps |= task.status == TaskStatus::max_steps;
        cancelled |= task.status == TaskStatus::cancelled;
        running |= task.status == TaskStatus::running;
    }
    for (const TaskExecution* task : all_task_records(session)) {
        summary.llm_calls += task->llm_calls.size();
        summary.tool_calls += task->tools.size();
    }
    summary.errors = errors_of(session).size();
    summary.total_tokens = session.total_tokens.total_tokens;
    summary.cost = session.total_tokens.cost_estimate;
    summary.partly_priced = !session.total_tokens.unpriced_models.empty();
    for (const auto& [model, usage] : session.total_tokens.model_breakdown) summary.models.push_back(model);
    if (summary.failed_tasks > 0) summary.status = "failed";
    else if (max_steps) summary.status = "max_steps";
    else if (cancelled) summary.status = "cancelled";
    else if (session.incomplete) summary.status = "incomplete";
    else if (running || !session.end_time) summary.status = "running";
    else if (session.tasks.empty()) summary.status = "empty";
    else summary.status = "completed";
    return summary;
}

std::vector<NamedStats> time_by_tool(const TelemetrySession& session) {
    return by_total(tool_groups(session));
}

std::vector<NamedStats> time_by_agent(const TelemetrySession& session) {
    Groups groups;
    for (const TaskExecution* task : all_task_records(session))
        for (const AgentExecution& agent : task->agents)
            add(groups, agent.agent_name, agent.agent_type, agent.duration, is_failure(agent.status));
    return by_total(std::move(groups));
}

std::vector<NamedStats> time_by_model(const TelemetrySession& session) {
    Groups groups;
    for (const TaskExecution* task : all_task_records(session))
        for (const LLMCall& call : task->llm_calls) add(groups, call.model, "", call.duration, !call.success);
    return by_total(std::move(groups));
}

std::vector<ErrorItem> errors_of(const TelemetrySession& session) {
    std::vector<ErrorItem> out;
    for (const TaskExecution& task : session.tasks)
        if (is_failure(task.status) || task.status == TaskStatus::cancelled)
            out.push_back({"task", task.task_id, task.task_id, to_string(task.status)});
    for (const TaskExecution* task : all_task_records(session)) {
        for (const AgentExecution& agent : task->agents)
            if (!agent.error.empty()) out.push_back({"agent", agent.agent_name, task->task_id, agent.error});
        for (const LLMCall& call : task->llm_calls)
            if (!call.success) out.push_back({"llm", call.model, task->task_id, call.error});
        for (const ToolExecution& tool : task->tools)
            if (!tool.success) out.push_back({"tool", tool.tool_name, task->task_id, tool.error});
    }
    // An agent's failed steps: code that raised, an unknown tool, output that did not parse, a
    // final-answer check that failed — often the only record of what went wrong.
    for (const Span* step : failed_steps(session)) out.push_back({"step", step->name, step->task_id, step->error});
    return out;
}

double span_seconds(const TelemetrySession& session, const Span& span) {
    if (span.end_time) return span.duration();
    const double started = std::chrono::duration<double>(span.start_time - session.start_time).count();
    return std::max(0.0, session.total_duration - started);
}

std::vector<const Span*> failed_steps(const TelemetrySession& session) {
    std::set<std::uint64_t> with_failed_call;
    for (const Span& span : session.spans)
        if ((span.kind == SpanKind::tool || span.kind == SpanKind::llm) && is_failure(span.status))
            with_failed_call.insert(span.parent_id);
    std::vector<const Span*> out;
    for (const Span& span : session.spans)
        if (span.kind == SpanKind::step && is_failure(span.status) && !with_failed_call.count(span.span_id))
            out.push_back(&span);
    return out;
}

Aggregate aggregate(const std::vector<const TelemetrySession*>& sessions) {
    Aggregate total;
    Groups tools;
    std::set<std::string> unpriced;
    for (const TelemetrySession* session : sessions) {
        const SessionSummary summary = summarize(*session);
        ++total.sessions;
        total.tasks += summary.tasks;
        total.failed_tasks += summary.failed_tasks;
        total.llm_calls += summary.llm_calls;
        total.tool_calls += summary.tool_calls;
        const TokenUsage& usage = session->total_tokens;
        add_counts(total.tokens, usage);
        for (const auto& [model, by_model] : usage.model_breakdown) {
            TokenUsage& merged = total.tokens.model_breakdown[model];
            add_counts(merged, by_model);
            if (by_model.cost_estimate) merged.cost_estimate = merged.cost_estimate.value_or(0) + *by_model.cost_estimate;
        }
        unpriced.insert(usage.unpriced_models.begin(), usage.unpriced_models.end());
        const double cost = usage.cost_estimate.value_or(0);
        total.cost += cost;
        DayStats& day = total.by_day[format_day(session->start_time)];
        ++day.sessions;
        day.tasks += summary.tasks;
        day.failed_tasks += summary.failed_tasks;
        day.tokens = saturating_add(day.tokens, usage.total_tokens);
        day.cost += cost;
        for (auto& [key, values] : tool_groups(*session)) {
            auto& group = tools[key];
            group.first.insert(group.first.end(), values.first.begin(), values.first.end());
            group.second += values.second;
        }
    }
    total.unpriced_models.assign(unpriced.begin(), unpriced.end());
    total.slowest_tools = by_total(std::move(tools));
    std::stable_sort(total.slowest_tools.begin(), total.slowest_tools.end(),
                     [](const NamedStats& a, const NamedStats& b) { return a.stats.p95 > b.stats.p95; });
    return total;
}

std::vector<Delta> compare(const TelemetrySession& a, const TelemetrySession& b) {
    const SessionSummary sa = summarize(a), sb = summarize(b);
    std::vector<Delta> out = {
        {"duration_s", sa.duration, sb.duration},
        {"tasks", double(sa.tasks), double(sb.tasks)},
        {"failed_tasks", double(sa.failed_tasks), double(sb.failed_tasks)},
        {"llm_calls", double(sa.llm_calls), double(sb.llm_calls)},
        {"tool_calls", double(sa.tool_calls), double(sb.tool_calls)},
        {"errors", double(sa.errors), double(sb.errors)},
        {"prompt_tokens", double(a.total_tokens.prompt_tokens), double(b.total_tokens.prompt_tokens)},
        {"completion_tokens", double(a.total_tokens.completion_tokens), double(b.total_tokens.completion_tokens)},
        {"total_tokens", double(sa.total_tokens), double(sb.total_tokens)},
        {"cost_usd", sa.cost, sb.cost},
    };
    std::map<std::string, std::pair<double, double>> models, tools;
    for (const auto& [model, usage] : a.total_tokens.model_breakdown) models[model].first = double(usage.total_tokens);
    for (const auto& [model, usage] : b.total_tokens.model_breakdown) models[model].second = double(usage.total_tokens);
    for (const auto& [model, pair] : models) out.push_back({"tokens[" + model + "]", pair.first, pair.second});
    for (const NamedStats& tool : time_by_tool(a)) tools[tool.name].first = tool.stats.total;
    for (const NamedStats& tool : time_by_tool(b)) tools[tool.name].second = tool.stats.total;
    for (const auto& [tool, pair] : tools) out.push_back({"tool_time_s[" + tool + "]", pair.first, pair.second});
    return out;
}

std::string format_time(Timestamp time) {
    const std::time_t seconds = std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &utc);
    return text;
}

std::string iso_time(Timestamp time) {
    return detail::iso8601_utc(std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count());
}

std::string format_day(Timestamp time) {
    return format_time(time).substr(0, 10);
}

}  // namespace sop_telemetry::cli
