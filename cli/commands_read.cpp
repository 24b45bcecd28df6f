// list, show, stats, compare, insights.
#include "command_support.hpp"
#include "terminal.hpp"
#include "view_json.hpp"

#include "detail/json_writer.hpp"

#include <cstdio>
#include <map>
#include <set>

namespace sop_telemetry::cli {

using detail::JsonWriter;

namespace {

void print_named(const std::string& title, const std::vector<NamedStats>& items, bool with_type) {
    heading(title);
    if (items.empty()) {
        std::printf("  (none)\n");
        return;
    }
    std::vector<std::string> headers = {"NAME", "COUNT", "FAILED", "TOTAL", "P50", "P95"};
    if (with_type) headers.insert(headers.begin() + 1, "TYPE");
    Table table(headers, with_type ? std::vector<bool>{false, false, true, true, true, true, true}
                                   : std::vector<bool>{false, true, true, true, true, true});
    for (const NamedStats& item : items) {
        std::vector<std::string> row = {item.name, count(std::int64_t(item.stats.count)),
                                        count(std::int64_t(item.stats.failures)), seconds(item.stats.total),
                                        seconds(item.stats.p50), seconds(item.stats.p95)};
        if (with_type) row.insert(row.begin() + 1, item.detail);
        table.add(row);
    }
    table.print();
}

void print_models(const TelemetrySession& session) {
    heading("Tokens and cost by model");
    // Cache reads and writes are part of the prompt; each has its own price.
    Table table({"MODEL", "CALLS", "PROMPT", "CACHE READ", "CACHE WRITE", "COMPLETION", "TOTAL", "COST"},
                {false, true, true, true, true, true, true, true});
    for (const auto& [model, usage] : session.total_tokens.model_breakdown)
        table.add({model, count(usage.call_count), count(usage.prompt_tokens), count(usage.cache_read_tokens),
                   count(usage.cache_write_tokens), count(usage.completion_tokens), count(usage.total_tokens),
                   usd(usage.cost_estimate)});
    const TokenUsage& total = session.total_tokens;
    table.add({"total", count(total.call_count), count(total.prompt_tokens), count(total.cache_read_tokens),
               count(total.cache_write_tokens), count(total.completion_tokens), count(total.total_tokens),
               usd(total.cost_estimate, !total.unpriced_models.empty())},
              {Colour::bold});
    table.print();
}

void print_tree(const TelemetrySession& session, std::size_t max_spans) {
    heading("Span tree");
    std::map<std::uint64_t, std::vector<const Span*>> children;
    std::set<std::uint64_t> ids;
    for (const Span& span : session.spans) ids.insert(span.span_id);
    // A span whose parent is not in the file (a crash, a hand-edited file) is shown as a root.
    for (const Span& span : session.spans) children[ids.count(span.parent_id) ? span.parent_id : 0].push_back(&span);
    std::size_t printed = 0;
    auto walk = [&](auto& self, std::uint64_t parent, const std::string& indent) -> void {
        const auto found = children.find(parent);
        if (found == children.end()) return;
        for (std::size_t i = 0; i < found->second.size(); ++i) {
            const Span& span = *found->second[i];
            if (printed++ >= max_spans) return;
            const bool last = i + 1 == found->second.size();
            std::string line = indent + (last ? "└─ " : "├─ ") + to_string(span.kind) + " " + span.name;
            if (!span.detail.empty() && span.kind != SpanKind::task) line += " (" + span.detail + ")";
            line += "  " + seconds(span_seconds(session, span));
            if (span.kind == SpanKind::llm) line += "  " + count(span.tokens.total()) + " tokens";
            const std::string status = to_string(span.status);
            std::printf("  %s  %s%s\n", printable(line).c_str(), paint(status, status_colour(status)).c_str(),
                        span.error.empty() ? "" : ("  " + printable(span.error.substr(0, 120))).c_str());
            self(self, span.span_id, indent + (last ? "   " : "│  "));
        }
    };
    walk(walk, 0, "");
    if (printed > max_spans)
        std::printf("  … %zu more spans (--max-spans N shows more)\n", session.spans.size() - max_spans);
}

}  // namespace

int list_sessions(const Context& context, const ListFilter& filter) {
    if (const std::string problem = filter_problem(filter); !problem.empty()) {
        print_error(problem);
        return kUsage;
    }
    auto catalog = open_catalog(context);
    if (!catalog) return kFailure;
    const auto sessions = filtered(*catalog, filter);
    if (context.json) {
        print_json(sessions_json(*catalog, sessions));
        return kOk;
    }
    Table table({"SESSION", "STARTED (UTC)", "STATUS", "TASKS", "DURATION", "TOKENS", "COST", "MODELS"},
                {false, false, false, true, true, true, true, false});
    for (const LoadedSession* loaded : sessions) {
        const SessionSummary s = summarize(loaded->session);
        std::string models;
        for (const std::string& model : s.models) models += (models.empty() ? "" : ", ") + model;
        table.add({s.session_id, format_time(s.start_time), s.status, count(std::int64_t(s.tasks)),
                   seconds(s.duration), count(s.total_tokens), usd(s.cost, s.partly_priced), models},
                  {Colour::none, Colour::none, status_colour(s.status)});
    }
    if (table.empty()) {
        std::printf("no sessions%s in %s\n", catalog->sessions.empty() ? "" : " match", catalog->directory.c_str());
    } else {
        table.print();
    }
    return kOk;
}

int show_session(const Context& context, const std::string& reference, std::size_t max_spans) {
    int code = kOk;
    auto loaded = open_session(context, reference, code);
    if (!loaded) return code;
    if (context.json) {
        print_json(session_view_json(*loaded));
        return kOk;
    }
    const TelemetrySession& session = loaded->session;
    const SessionSummary s = summarize(session);
    std::printf("%s  %s\n", paint("Session " + printable(s.session_id), Colour::bold).c_str(),
                paint(s.status, status_colour(s.status)).c_str());
    std::printf("  started %s UTC, %s, %s tokens, cost %s\n  file %s\n", format_time(s.start_time).c_str(),
                seconds(s.duration).c_str(), count(s.total_tokens).c_str(),
                usd(s.cost, s.partly_priced).c_str(), printable(loaded->path).c_str());
    const EnvironmentInfo& env = session.environment;
    std::printf("  %s, Python %s, in %s\n", printable(env.os_type + " " + env.os_version).c_str(),
                env.python_version.empty() ? "-" : printable(env.python_version).c_str(),
                printable(env.working_directory).c_str());
    heading("Tasks");
    Table tasks({"TASK", "STATUS", "DURATION", "SOP", "LLM", "TOOLS", "TOKENS", "DESCRIPTION"},
                {false, false, true, false, true, true, true, false});
    for (const TaskExecution& task : session.tasks) {
        const std::string status = to_string(task.status);
        tasks.add({task.task_id, status, seconds(task.duration), task.sop_category.value_or("-"),
                   count(std::int64_t(task.llm_calls.size())), count(std::int64_t(task.tools.size())),
                   count(task.total_tokens.total_tokens), task.description},
                  {Colour::none, status_colour(status)});
    }
    tasks.print();
    print_models(session);
    print_named("Time by agent", time_by_agent(session), true);
    print_named("Time by tool", time_by_tool(session), false);
    const auto errors = errors_of(session);
    heading("Errors (" + std::to_string(errors.size()) + ")");
    if (!errors.empty()) {
        Table table({"KIND", "NAME", "TASK", "MESSAGE"});
        for (const ErrorItem& error : errors) table.add({error.kind, error.name, error.task_id, error.message}, {Colour::red});
        table.print(80);
    }
    heading("Code changes");
    for (const TaskExecution& task : session.tasks) {
        const CodeMetrics& code = task.code_changes;
        if (!code.measured) std::printf("  %s: not measured\n", printable(task.task_id).c_str());
        else std::printf("  %s: %lld files, +%lld -%lld lines\n", printable(task.task_id).c_str(),
                         static_cast<long long>(code.files_changed), static_cast<long long>(code.lines_added),
                         static_cast<long long>(code.lines_removed));
    }
    print_tree(session, max_spans);
    return kOk;
}

int session_stats(const Context& context, const ListFilter& filter) {
    if (const std::string problem = filter_problem(filter); !problem.empty()) {
        print_error(problem);
        return kUsage;
    }
    auto catalog = open_catalog(context);
    if (!catalog) return kFailure;
    std::vector<const TelemetrySession*> sessions;
    for (const LoadedSession* loaded : filtered(*catalog, filter)) sessions.push_back(&loaded->session);
    const Aggregate total = aggregate(sessions);
    constexpr std::size_t kSlowestTools = 10;
    if (context.json) {
        std::string text;
        JsonWriter out(text);
        out.begin_object()
            .field("sessions", static_cast<std::uint64_t>(total.sessions))
            .field("skipped_files", static_cast<std::uint64_t>(catalog->skipped.size()))
            .field("tasks", static_cast<std::uint64_t>(total.tasks))
            .field("failed_tasks", static_cast<std::uint64_t>(total.failed_tasks))
            .field("failure_rate", total.failure_rate())
            .field("llm_calls", static_cast<std::uint64_t>(total.llm_calls))
            .field("tool_calls", static_cast<std::uint64_t>(total.tool_calls))
            .field("prompt_tokens", total.tokens.prompt_tokens)
            .field("completion_tokens", total.tokens.completion_tokens)
            .field("cache_read_tokens", total.tokens.cache_read_tokens)
            .field("cache_write_tokens", total.tokens.cache_write_tokens)
            .field("total_tokens", total.tokens.total_tokens)
            .field("cost", total.cost);
        out.key("unpriced_models").begin_array();
        for (const std::string& model : total.unpriced_models) out.value(model);
        out.end_array().key("models").begin_object();
        for (const auto& [model, usage] : total.tokens.model_breakdown)
            out.key(model).begin_object().field("calls", usage.call_count).field("total_tokens", usage.total_tokens)
                .field("cache_read_tokens", usage.cache_read_tokens).field("cache_write_tokens", usage.cache_write_tokens)
                .field("cost", usage.cost_estimate).end_object();
        out.end_object().key("slowest_tools");
        write_named_stats(out, {total.slowest_tools.begin(),
                                total.slowest_tools.begin() + std::min(kSlowestTools, total.slowest_tools.size())});
        out.key("by_day").begin_object();
        for (const auto& [day, stats] : total.by_day)
            out.key(day).begin_object().field("sessions", static_cast<std::uint64_t>(stats.sessions))
                .field("tasks", static_cast<std::uint64_t>(stats.tasks))
                .field("failed_tasks", static_cast<std::uint64_t>(stats.failed_tasks))
                .field("tokens", stats.tokens).field("cost", stats.cost).end_object();
        out.end_object().end_object();
        print_json(text);
        return kOk;
    }
    std::printf("%s sessions, %s tasks (%s failed, %.1f %%), %s LLM calls, %s tool calls\n",
                count(std::int64_t(total.sessions)).c_str(), count(std::int64_t(total.tasks)).c_str(),
                count(std::int64_t(total.failed_tasks)).c_str(), total.failure_rate() * 100,
                count(std::int64_t(total.llm_calls)).c_str(), count(std::int64_t(total.tool_calls)).c_str());
    std::printf("%s tokens (%s prompt, of which %s cache read and %s cache write; %s completion), cost %s%s\n",
                count(total.tokens.total_tokens).c_str(), count(total.tokens.prompt_tokens).c_str(),
                count(total.tokens.cache_read_tokens).c_str(), count(total.tokens.cache_write_tokens).c_str(),
                count(total.tokens.completion_tokens).c_str(), usd(total.cost).c_str(),
                total.unpriced_models.empty() ? "" : " (some models unpriced)");
    heading("By model");
    Table models({"MODEL", "CALLS", "TOKENS", "COST"}, {false, true, true, true});
    for (const auto& [model, usage] : total.tokens.model_breakdown)
        models.add({model, count(usage.call_count), count(usage.total_tokens), usd(usage.cost_estimate)});
    models.print();
    print_named("Slowest tools (by p95)", {total.slowest_tools.begin(),
                total.slowest_tools.begin() + std::min(kSlowestTools, total.slowest_tools.size())}, false);
    heading("By day (UTC)");
    Table days({"DAY", "SESSIONS", "TASKS", "FAILED", "TOKENS", "COST"}, {false, true, true, true, true, true});
    for (const auto& [day, stats] : total.by_day)
        days.add({day, count(std::int64_t(stats.sessions)), count(std::int64_t(stats.tasks)),
                  count(std::int64_t(stats.failed_tasks)), count(stats.tokens), usd(stats.cost)});
    days.print();
    return kOk;
}

int compare_sessions(const Context& context, const std::string& a, const std::string& b) {
    int code = kOk;
    auto first = open_session(context, a, code);
    if (!first) return code;
    auto second = open_session(context, b, code);
    if (!second) return code;
    const auto deltas = compare(first->session, second->session);
    if (context.json) {
        std::string text;
        JsonWriter out(text);
        out.begin_object().field("a", first->session.session_id).field("b", second->session.session_id);
        out.key("metrics").begin_array();
        for (const Delta& d : deltas) {
            out.begin_object().field("metric", d.metric).field("a", d.a).field("b", d.b).key("delta");
            (d.a && d.b ? out.value(*d.b - *d.a) : out.null()).end_object();
        }
        out.end_array().end_object();
        print_json(text);
        return kOk;
    }
    std::printf("a = %s\nb = %s\n", printable(first->session.session_id).c_str(),
                printable(second->session.session_id).c_str());
    Table table({"METRIC", "A", "B", "DELTA", "CHANGE"}, {false, true, true, true, true});
    auto value = [](const std::optional<double>& v, const char* format) {
        char text[32] = "unpriced";
        if (v) std::snprintf(text, sizeof text, format, *v);
        return std::string(text);
    };
    for (const Delta& d : deltas) {
        if (d.a && d.b)
            table.add({d.metric, value(d.a, "%.6g"), value(d.b, "%.6g"), value(*d.b - *d.a, "%+.6g"), signed_delta(*d.a, *d.b)});
        else
            table.add({d.metric, value(d.a, "%.6g"), value(d.b, "%.6g"), "", ""});
    }
    table.print();
    return kOk;
}

int session_insights(const Context& context, const std::string& reference) {
    int code = kOk;
    auto loaded = open_session(context, reference, code);
    if (!loaded) return code;
    const auto found = insights(loaded->session);
    if (context.json) {
        std::string text;
        JsonWriter out(text);
        out.begin_object().field("session_id", loaded->session.session_id).key("insights").begin_array();
        for (const Insight& insight : found)
            out.begin_object().field("rule", insight.rule).field("severity", insight.severity)
                .field("message", insight.message).end_object();
        out.end_array().end_object();
        print_json(text);
        return kOk;
    }
    if (found.empty()) std::printf("no suggestions for %s: nothing stands out\n", printable(loaded->session.session_id).c_str());
    for (const Insight& insight : found)
        std::printf("%s [%s] %s\n", paint(insight.severity, insight.severity == "warning" ? Colour::yellow : Colour::dim).c_str(),
                    insight.rule.c_str(), printable(insight.message).c_str());
    return kOk;
}

}  // namespace sop_telemetry::cli
