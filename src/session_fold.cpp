#include "detail/session_fold.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace sop_telemetry::detail {

Timestamp to_timestamp(std::int64_t ns) noexcept {
    return Timestamp(std::chrono::microseconds(ns / 1000));
}

namespace {

constexpr std::size_t kNoTask = static_cast<std::size_t>(-1);

double seconds_between(Timestamp start, Timestamp end) noexcept {
    return std::max<double>(0, std::chrono::duration<double>(end - start).count());
}

void add_counts(TokenUsage& usage, const TokenCounts& tokens) {
    usage.prompt_tokens = saturating_add(usage.prompt_tokens, tokens.prompt_tokens);
    usage.completion_tokens = saturating_add(usage.completion_tokens, tokens.completion_tokens);
    usage.total_tokens = saturating_add(usage.total_tokens, tokens.total());
    usage.cache_read_tokens = saturating_add(usage.cache_read_tokens, tokens.cache_read_tokens);
    usage.cache_write_tokens = saturating_add(usage.cache_write_tokens, tokens.cache_write_tokens);
    usage.reasoning_tokens = saturating_add(usage.reasoning_tokens, tokens.reasoning_tokens);
    usage.call_count += 1;
}

void add_call(TokenUsage& usage, const Span& call) {
    const std::string model = call.name.empty() ? "unknown" : call.name;
    TokenUsage& per_model = usage.model_breakdown[model];
    add_counts(usage, call.tokens);
    add_counts(per_model, call.tokens);
    if (call.cost) {
        usage.cost_estimate = usage.cost_estimate.value_or(0) + *call.cost;
        per_model.cost_estimate = per_model.cost_estimate.value_or(0) + *call.cost;
    } else if (std::find(usage.unpriced_models.begin(), usage.unpriced_models.end(), model) ==
               usage.unpriced_models.end()) {
        usage.unpriced_models.push_back(model);
        per_model.unpriced_models.push_back(model);
    }
}

/// Merges begin / end / complete events into one Span per span id. A span's earliest end counts
/// (ending it again adds no tokens a second time), and an end of a span never begun here (an
/// id from another session, or made up) makes no span.
std::vector<Span> merge_events(const std::vector<Event>& events, std::vector<double>& stored_cost,
                               std::unordered_map<std::uint64_t, std::size_t>& index) {
    std::vector<Span> spans;
    std::vector<char> begun;
    spans.reserve(events.size());
    index.reserve(events.size());
    for (const Event& event : events) {
        auto [it, inserted] = index.try_emplace(event.span_id, spans.size());
        if (inserted) {
            spans.emplace_back();
            stored_cost.push_back(NAN);
            begun.push_back(0);
            spans.back().span_id = event.span_id;
            spans.back().kind = event.kind;
        }
        const std::size_t at = it->second;
        Span& span = spans[at];
        if (event.type != EventType::end) {
            begun[at] = 1;
            span.parent_id = event.parent_id;
            span.kind = event.kind;
            span.name.assign(event.name);
            span.detail.assign(event.detail);
            span.category.assign(event.category);
            span.start_time = to_timestamp(event.start_ns);
        }
        const Timestamp end = to_timestamp(event.end_ns);
        // The earliest end: buffers (threads) come in no order of time.
        if (event.type != EventType::begin && (!span.end_time || end < *span.end_time)) {
            span.end_time = end;
            span.status = event.status;
            span.error.assign(event.error);
            span.tokens = event.tokens;
            stored_cost[at] = event.cost;
        }
    }
    if (std::find(begun.begin(), begun.end(), 0) == begun.end()) return spans;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < spans.size(); ++i) {
        if (!begun[i]) {
            index.erase(spans[i].span_id);
            continue;
        }
        if (kept != i) {
            spans[kept] = std::move(spans[i]);
            stored_cost[kept] = stored_cost[i];
            index[spans[kept].span_id] = kept;
        }
        ++kept;
    }
    spans.resize(kept);
    stored_cost.resize(kept);
    return spans;
}

/// Puts the spans in start order (ties keep their order) and permutes `task_of` alike, mapping
/// its values to the new positions. Sorts indices, then moves each span once.
void sort_by_start(std::vector<Span>& spans, std::vector<std::size_t>& task_of) {
    const auto earlier = [](const Span& a, const Span& b) { return a.start_time < b.start_time; };
    if (std::is_sorted(spans.begin(), spans.end(), earlier)) return;  // files are stored sorted
    std::vector<std::pair<Timestamp, std::size_t>> order;
    order.reserve(spans.size());
    for (std::size_t i = 0; i < spans.size(); ++i) order.emplace_back(spans[i].start_time, i);
    std::sort(order.begin(), order.end());  // the index breaks ties: stable
    std::vector<std::size_t> new_position(spans.size());
    for (std::size_t i = 0; i < order.size(); ++i) new_position[order[i].second] = i;
    std::vector<Span> sorted;
    sorted.reserve(spans.size());
    std::vector<std::size_t> sorted_task_of(spans.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        const std::size_t old = order[i].second;
        sorted.push_back(std::move(spans[old]));
        sorted_task_of[i] = task_of[old] == kNoTask ? kNoTask : new_position[task_of[old]];
    }
    spans = std::move(sorted);
    task_of = std::move(sorted_task_of);
}

/// For each span, the index of its nearest task ancestor (itself for a task), or kNoTask.
std::vector<std::size_t> resolve_tasks(const std::vector<Span>& spans,
                                       const std::unordered_map<std::uint64_t, std::size_t>& index) {
    std::vector<std::size_t> task(spans.size(), kNoTask);
    std::vector<bool> done(spans.size(), false);
    std::vector<std::size_t> chain;
    for (std::size_t i = 0; i < spans.size(); ++i) {
        chain.clear();
        std::size_t at = i;
        std::size_t found = kNoTask;
        // Walk up until a task or an already resolved span; the depth bound stops cycles.
        while (chain.size() <= spans.size()) {
            if (done[at]) {
                found = task[at];
                break;
            }
            chain.push_back(at);
            if (spans[at].kind == SpanKind::task) {
                found = at;
                break;
            }
            auto parent = index.find(spans[at].parent_id);
            if (spans[at].parent_id == 0 || parent == index.end()) break;
            at = parent->second;
        }
        for (std::size_t node : chain) {
            task[node] = spans[node].kind == SpanKind::task ? node : found;
            done[node] = true;
        }
    }
    return task;
}

}  // namespace

TelemetrySession fold_session(const SessionHeader& header, const std::vector<Event>& events,
                              const std::map<std::uint64_t, CodeMetrics>& code_metrics,
                              const PriceTable& prices, std::int64_t now_ns) {
    TelemetrySession session;
    session.session_id = header.session_id;
    session.start_time = to_timestamp(header.start_ns);
    if (header.end_ns) session.end_time = to_timestamp(*header.end_ns);
    session.environment = header.environment;
    session.dropped_events = header.dropped_events;
    session.incomplete = header.incomplete;
    session.price_table_version = prices.version();
    const Timestamp open_end = session.end_time.value_or(to_timestamp(now_ns));
    session.total_duration = seconds_between(session.start_time, open_end);

    std::vector<double> stored_cost;
    std::unordered_map<std::uint64_t, std::size_t> index;
    index.reserve(events.size());
    std::vector<Span> spans = merge_events(events, stored_cost, index);
    if (!header.cut_off.empty()) {
        for (Span& span : spans) {
            if (span.end_time) continue;
            span.end_time = open_end;
            span.status = TaskStatus::cancelled;
            span.error = header.cut_off;
        }
    }
    std::unordered_map<std::string_view, std::optional<ModelPrice>> price_of;  // per model
    for (std::size_t i = 0; i < spans.size(); ++i) {
        Span& span = spans[i];
        if (span.kind != SpanKind::llm) continue;
        if (!std::isnan(stored_cost[i])) {
            span.cost = stored_cost[i];
            continue;
        }
        auto [it, fresh] = price_of.try_emplace(span.name);
        if (fresh) it->second = prices.lookup(span.name);
        if (it->second) span.cost = cost_of(*it->second, span.tokens);
    }
    std::vector<std::size_t> task_of = resolve_tasks(spans, index);
    sort_by_start(spans, task_of);

    std::vector<std::size_t> task_slot(spans.size(), kNoTask);
    for (std::size_t i = 0; i < spans.size(); ++i) {
        const Span& span = spans[i];
        if (span.kind != SpanKind::task) continue;
        task_slot[i] = session.tasks.size();
        TaskExecution& task = session.tasks.emplace_back();
        task.span_id = span.span_id;
        task.task_id = span.name;
        task.description = span.detail;
        if (!span.category.empty()) task.sop_category = span.category;
        task.start_time = span.start_time;
        task.end_time = span.end_time;
        task.status = span.status;
        task.duration = seconds_between(span.start_time, span.end_time.value_or(open_end));
        if (auto it = code_metrics.find(span.span_id); it != code_metrics.end())
            task.code_changes = it->second;
    }

    for (std::size_t i = 0; i < spans.size(); ++i) {
        Span& span = spans[i];
        const std::size_t owner = task_of[i];
        if (owner != kNoTask) span.task_id = spans[owner].name;
        TaskExecution& task =
            owner == kNoTask ? session.outside_tasks : session.tasks[task_slot[owner]];
        const double duration = seconds_between(span.start_time, span.end_time.value_or(open_end));
        const bool failed = span.status == TaskStatus::failed || !span.error.empty();
        switch (span.kind) {
            case SpanKind::agent:
                task.agents.push_back({span.span_id, span.parent_id, span.detail, span.name,
                                       span.start_time, span.end_time, duration, span.status,
                                       span.error});
                break;
            case SpanKind::tool:
                task.tools.push_back({span.span_id, span.parent_id, span.name, span.start_time,
                                      span.end_time, duration, !failed, span.error});
                break;
            case SpanKind::llm: {
                const TokenCounts& t = span.tokens;
                task.llm_calls.push_back({span.span_id, span.parent_id, span.name,
                                          t.prompt_tokens, t.completion_tokens, t.total(),
                                          t.cache_read_tokens, t.cache_write_tokens,
                                          t.reasoning_tokens, span.start_time, span.end_time,
                                          duration, span.cost, !failed, span.error});
                add_call(task.total_tokens, span);
                add_call(session.total_tokens, span);
                break;
            }
            default:
                break;
        }
    }
    session.spans = std::move(spans);
    return session;
}

}  // namespace sop_telemetry::detail
