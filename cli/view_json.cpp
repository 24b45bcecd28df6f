#include "view_json.hpp"

#include "detail/json_writer.hpp"

namespace sop_telemetry::cli {

using detail::JsonWriter;

namespace {

double ms_between(Timestamp from, Timestamp to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

void write_models(JsonWriter& out, const TelemetrySession& session) {
    const auto latency = time_by_model(session);
    out.begin_array();
    for (const auto& [model, usage] : session.total_tokens.model_breakdown) {
        out.begin_object()
            .field("model", model)
            .field("calls", usage.call_count)
            .field("prompt_tokens", usage.prompt_tokens)
            .field("completion_tokens", usage.completion_tokens)
            .field("cache_read_tokens", usage.cache_read_tokens)
            .field("cache_write_tokens", usage.cache_write_tokens)
            .field("reasoning_tokens", usage.reasoning_tokens)
            .field("total_tokens", usage.total_tokens)
            .field("cost", usage.cost_estimate);
        for (const NamedStats& item : latency)
            if (item.name == model) out.field("total_seconds", item.stats.total).field("p95_seconds", item.stats.p95);
        out.end_object();
    }
    out.end_array();
}

void write_tasks(JsonWriter& out, const TelemetrySession& session) {
    out.begin_array();
    for (const TaskExecution& task : session.tasks) {
        out.begin_object()
            .field("task_id", task.task_id)
            .field("description", task.description)
            .field("status", to_string(task.status))
            .field("duration", task.duration)
            .field("sop_category", task.sop_category)
            .field("llm_calls", static_cast<std::uint64_t>(task.llm_calls.size()))
            .field("tool_calls", static_cast<std::uint64_t>(task.tools.size()))
            .field("total_tokens", task.total_tokens.total_tokens)
            .field("cost", task.total_tokens.cost_estimate);
        out.key("code_changes").begin_object()
            .field("measured", task.code_changes.measured)
            .field("files_changed", task.code_changes.files_changed)
            .field("lines_added", task.code_changes.lines_added)
            .field("lines_removed", task.code_changes.lines_removed)
            .end_object();
        out.end_object();
    }
    out.end_array();
}

void write_spans(JsonWriter& out, const TelemetrySession& session, std::size_t max_spans) {
    out.begin_array();
    for (const Span& span : session.spans) {
        if (max_spans-- == 0) break;
        out.begin_object()
            .field("id", detail::span_id_hex(span.span_id))
            .field("parent", span.parent_id ? detail::span_id_hex(span.parent_id) : std::string())
            .field("kind", to_string(span.kind))
            .field("name", span.name)
            .field("detail", span.detail)
            .field("start_ms", ms_between(session.start_time, span.start_time))
            .field("duration_ms", span_seconds(session, span) * 1e3)
            .field("status", to_string(span.status))
            .field("error", span.error);
        if (span.kind == SpanKind::llm)
            out.field("tokens", span.tokens.total()).field("cost", span.cost);
        out.end_object();
    }
    out.end_array();
}

}  // namespace

void write_summary(JsonWriter& out, const SessionSummary& s) {
    out.begin_object()
        .field("session_id", s.session_id)
        .field("start_time", iso_time(s.start_time))
        .field("duration", s.duration)
        .field("status", s.status)
        .field("tasks", static_cast<std::uint64_t>(s.tasks))
        .field("failed_tasks", static_cast<std::uint64_t>(s.failed_tasks))
        .field("llm_calls", static_cast<std::uint64_t>(s.llm_calls))
        .field("tool_calls", static_cast<std::uint64_t>(s.tool_calls))
        .field("errors", static_cast<std::uint64_t>(s.errors))
        .field("total_tokens", s.total_tokens)
        .field("cost", s.cost)
        .field("partly_priced", s.partly_priced);
    out.key("models").begin_array();
    for (const std::string& model : s.models) out.value(model);
    out.end_array().end_object();
}

void write_named_stats(JsonWriter& out, const std::vector<NamedStats>& items) {
    out.begin_array();
    for (const NamedStats& item : items) {
        out.begin_object().field("name", item.name);
        if (!item.detail.empty()) out.field("type", item.detail);
        out.field("count", static_cast<std::uint64_t>(item.stats.count))
            .field("failures", static_cast<std::uint64_t>(item.stats.failures))
            .field("total", item.stats.total)
            .field("p50", item.stats.p50)
            .field("p95", item.stats.p95)
            .field("max", item.stats.max)
            .end_object();
    }
    out.end_array();
}

std::string session_view_json(const LoadedSession& loaded, std::size_t max_spans) {
    const TelemetrySession& session = loaded.session;
    std::string text;
    JsonWriter out(text);
    out.begin_object().field("path", loaded.path);
    out.key("summary");
    write_summary(out, summarize(session));
    const EnvironmentInfo& env = session.environment;
    out.key("environment").begin_object()
        .field("os", env.os_type + " " + env.os_version)
        .field("python_version", env.python_version)
        .field("working_directory", env.working_directory)
        .field("project_root", env.project_root)
        .field("hostname", env.hostname)
        .end_object();
    out.field("price_table_version", session.price_table_version)
        .field("incomplete", session.incomplete)
        .field("dropped_events", session.dropped_events);
    out.key("tasks");
    write_tasks(out, session);
    out.key("models");
    write_models(out, session);
    out.key("agents");
    write_named_stats(out, time_by_agent(session));
    out.key("tools");
    write_named_stats(out, time_by_tool(session));
    out.key("errors").begin_array();
    for (const ErrorItem& error : errors_of(session))
        out.begin_object().field("kind", error.kind).field("name", error.name)
            .field("task_id", error.task_id).field("message", error.message).end_object();
    out.end_array();
    out.key("insights").begin_array();
    for (const Insight& insight : insights(session))
        out.begin_object().field("rule", insight.rule).field("severity", insight.severity)
            .field("message", insight.message).end_object();
    out.end_array();
    out.field("spans_total", static_cast<std::uint64_t>(session.spans.size()));
    out.key("spans");
    write_spans(out, session, max_spans);
    out.end_object();
    return text;
}

std::string sessions_json(const Catalog& catalog, const std::vector<const LoadedSession*>& sessions) {
    std::string text;
    JsonWriter out(text);
    out.begin_object().field("directory", catalog.directory)
        .field("skipped_files", static_cast<std::uint64_t>(catalog.skipped.size()));
    out.key("sessions").begin_array();
    for (const LoadedSession* loaded : sessions) write_summary(out, summarize(loaded->session));
    out.end_array().end_object();
    return text;
}

}  // namespace sop_telemetry::cli
