#include "detail/session_codec.hpp"

#include <cmath>
#include <limits>

namespace sop_telemetry::detail {

namespace {

const char* type_name(EventType type) {
    return type == EventType::begin ? "begin" : type == EventType::end ? "end" : "complete";
}

std::int64_t us(Timestamp time) { return time.time_since_epoch().count(); }

std::string_view get_string(simdjson::dom::object object, const char* key) {
    std::string_view text;
    return object[key].get(text) == simdjson::SUCCESS ? text : std::string_view{};
}

/// Microseconds whose nanoseconds fit in 64 bits (years 1678 to 2262).
bool fits_in_ns(std::int64_t us) noexcept {
    constexpr std::int64_t kLimit = std::numeric_limits<std::int64_t>::max() / 1000;
    return us >= -kLimit && us <= kLimit;
}

std::int64_t get_int(simdjson::dom::object object, const char* key, std::int64_t fallback = 0) {
    std::int64_t number = 0;
    return object[key].get(number) == simdjson::SUCCESS ? number : fallback;
}

void write_token_usage(JsonWriter& out, const TokenUsage& usage) {
    out.begin_object()
        .field("prompt_tokens", usage.prompt_tokens)
        .field("completion_tokens", usage.completion_tokens)
        .field("total_tokens", usage.total_tokens)
        .field("cache_read_tokens", usage.cache_read_tokens)
        .field("cache_write_tokens", usage.cache_write_tokens)
        .field("reasoning_tokens", usage.reasoning_tokens)
        .field("call_count", usage.call_count)
        .field("cost_estimate", usage.cost_estimate);
    out.key("unpriced_models").begin_array();
    for (const auto& model : usage.unpriced_models) out.value(model);
    out.end_array();
    if (!usage.model_breakdown.empty()) {
        out.key("model_breakdown").begin_object();
        for (const auto& [model, per_model] : usage.model_breakdown) {
            out.key(model);
            write_token_usage(out, per_model);
        }
        out.end_object();
    }
    out.end_object();
}

void write_optional_time(JsonWriter& out, const char* key, const std::optional<Timestamp>& time) {
    out.key(key);
    time ? out.value(iso8601_utc(us(*time))) : out.null();
}

void write_task(JsonWriter& out, const TaskExecution& task) {
    out.begin_object()
        .field("task_id", task.task_id)
        .field("span_id", span_id_hex(task.span_id))
        .field("description", task.description)
        .field("sop_category", task.sop_category)
        .field("status", to_string(task.status))
        .field("start_time", iso8601_utc(us(task.start_time)));
    write_optional_time(out, "end_time", task.end_time);
    out.field("duration", task.duration)
        .field("agent_count", static_cast<std::uint64_t>(task.agents.size()))
        .field("tool_count", static_cast<std::uint64_t>(task.tools.size()))
        .field("llm_call_count", static_cast<std::uint64_t>(task.llm_calls.size()));
    out.key("code_changes");
    write_code_metrics(out, task.code_changes);
    out.key("total_tokens");
    write_token_usage(out, task.total_tokens);
    out.end_object();
}

Event event_of_span(const Span& span) {
    Event event;
    event.type = span.end_time ? EventType::complete : EventType::begin;
    event.span_id = span.span_id;
    event.parent_id = span.parent_id;
    event.kind = span.kind;
    event.name = span.name;
    event.detail = span.detail;
    event.category = span.category;
    event.error = span.error;
    event.start_ns = us(span.start_time) * 1000;
    event.end_ns = span.end_time ? us(*span.end_time) * 1000 : 0;
    event.status = span.status;
    event.tokens = span.tokens;
    if (span.cost) event.cost = *span.cost;
    return event;
}

}  // namespace

void write_record(JsonWriter& out, const Event& event, std::string_view task_id) {
    out.begin_object();
    if (event.type != EventType::complete) out.field("type", type_name(event.type));
    out.key("span_id").hex_id(event.span_id);
    if (event.type != EventType::end) {
        if (event.parent_id != 0) out.key("parent_id").hex_id(event.parent_id);
        out.field("kind", to_string(event.kind)).field("name", event.name);
        if (!event.detail.empty()) out.field("detail", event.detail);
        if (!event.category.empty()) out.field("category", event.category);
        if (!task_id.empty()) out.field("task_id", task_id);
        out.field("start_us", event.start_ns / 1000);
    }
    if (event.type != EventType::begin) {
        out.field("end_us", event.end_ns / 1000).field("status", to_string(event.status));
        if (!event.error.empty()) out.field("error", event.error);
        const TokenCounts& t = event.tokens;
        if (event.kind == SpanKind::llm || !(t == TokenCounts{})) {
            out.field("prompt_tokens", t.prompt_tokens)
                .field("completion_tokens", t.completion_tokens);
            if (t.cache_read_tokens) out.field("cache_read_tokens", t.cache_read_tokens);
            if (t.cache_write_tokens) out.field("cache_write_tokens", t.cache_write_tokens);
            if (t.reasoning_tokens) out.field("reasoning_tokens", t.reasoning_tokens);
        }
        if (event.kind == SpanKind::llm && event.type == EventType::complete)
            out.field("cost", std::isnan(event.cost) ? std::optional<double>() : event.cost);
    }
    out.end_object();
}

bool read_record(simdjson::dom::object record, StringArena& arena, Event& event,
                 std::string& error) {
    // One pass over the fields: records are many, and keyed lookups would rescan each object.
    event = Event{};
    std::string_view type, kind_name, status_name, text;
    bool has_end = false;
    const char* problem = nullptr;
    for (auto [key, value] : record) {
        const auto as_int = [&value] {
            std::int64_t number = 0;
            return value.get(number) == simdjson::SUCCESS ? number : 0;
        };
        const auto as_ns = [&] {
            const std::int64_t us = as_int();
            if (fits_in_ns(us)) return us * 1000;
            problem = "a time out of range";
            return std::int64_t{0};
        };
        const auto as_count = [&] {
            const std::int64_t count = as_int();
            if (count >= 0) return count;
            problem = "a negative token count";
            return std::int64_t{0};
        };
        const auto as_text = [&value, &text]() -> std::string_view {
            return value.get(text) == simdjson::SUCCESS ? text : std::string_view{};
        };
        if (key == "span_id") event.span_id = span_id_from_hex(as_text());
        else if (key == "parent_id") event.parent_id = span_id_from_hex(as_text());
        else if (key == "type") type = as_text();
        else if (key == "kind") kind_name = as_text();
        else if (key == "name") event.name = arena.intern(as_text());
        else if (key == "detail") event.detail = arena.copy(as_text());
        else if (key == "category") event.category = arena.intern(as_text());
        else if (key == "error") event.error = arena.copy(as_text());
        else if (key == "start_us") event.start_ns = as_ns();
        else if (key == "end_us") event.end_ns = as_ns(), has_end = true;
        else if (key == "status") status_name = as_text();
        else if (key == "prompt_tokens") event.tokens.prompt_tokens = as_count();
        else if (key == "completion_tokens") event.tokens.completion_tokens = as_count();
        else if (key == "cache_read_tokens") event.tokens.cache_read_tokens = as_count();
        else if (key == "cache_write_tokens") event.tokens.cache_write_tokens = as_count();
        else if (key == "reasoning_tokens") event.tokens.reasoning_tokens = as_count();
        else if (key == "cost" && value.is_number()) event.cost = value.get_double().value_unsafe();
    }
    if (event.span_id == 0) {
        error = "record without a valid span_id";
        return false;
    }
    if (problem != nullptr) {
        error = std::string("record with ") + problem;
        return false;
    }
    event.type = type == "begin" ? EventType::begin
                 : type == "end" ? EventType::end
                 : has_end       ? EventType::complete
                                 : EventType::begin;
    const auto kind = span_kind_from_string(kind_name);
    if (event.type != EventType::end && !kind) {
        error = "record with an unknown kind";
        return false;
    }
    // An end record's kind is encoded in its span id.
    event.kind = kind.value_or(kind_of_span_id(event.span_id));
    event.status = task_status_from_string(status_name)
                       .value_or(event.type == EventType::begin ? TaskStatus::running
                                                                : TaskStatus::completed);
    return true;
}

void write_environment(JsonWriter& out, const EnvironmentInfo& env) {
    out.begin_object()
        .field("os_type", env.os_type)
        .field("os_version", env.os_version)
        .field("python_version", env.python_version)
        .field("working_directory", env.working_directory)
        .field("project_root", env.project_root)
        .field("user_name", env.user_name)
        .field("timezone", env.timezone)
        .field("hostname", env.hostname)
        .field("engine_version", env.engine_version);
    out.key("environment_variables").begin_object();
    for (const auto& [name, value] : env.environment_variables) out.field(name, value);
    out.end_object().end_object();
}

EnvironmentInfo read_environment(simdjson::dom::object object) {
    EnvironmentInfo env;
    env.os_type = get_string(object, "os_type");
    env.os_version = get_string(object, "os_version");
    env.python_version = get_string(object, "python_version");
    env.working_directory = get_string(object, "working_directory");
    env.project_root = get_string(object, "project_root");
    std::string_view user;
    if (object["user_name"].get(user) == simdjson::SUCCESS) env.user_name = std::string(user);
    env.timezone = get_string(object, "timezone");
    env.hostname = get_string(object, "hostname");
    env.engine_version = get_string(object, "engine_version");
    simdjson::dom::object variables;
    if (object["environment_variables"].get(variables) == simdjson::SUCCESS) {
        for (auto [name, value] : variables) {
            std::string_view text;
            if (value.get(text) == simdjson::SUCCESS) env.environment_variables[std::string(name)] = text;
        }
    }
    return env;
}

void write_code_metrics(JsonWriter& out, const CodeMetrics& metrics) {
    out.begin_object()
        .field("measured", metrics.measured)
        .field("files_changed", metrics.files_changed)
        .field("lines_added", metrics.lines_added)
        .field("lines_removed", metrics.lines_removed);
    out.key("files").begin_array();
    for (const auto& file : metrics.files) out.value(file);
    out.end_array().end_object();
}

CodeMetrics read_code_metrics(simdjson::dom::object object) {
    CodeMetrics metrics;
    bool measured = false;
    if (object["measured"].get(measured) == simdjson::SUCCESS) metrics.measured = measured;
    metrics.files_changed = get_int(object, "files_changed");
    metrics.lines_added = get_int(object, "lines_added");
    metrics.lines_removed = get_int(object, "lines_removed");
    simdjson::dom::array files;
    if (object["files"].get(files) == simdjson::SUCCESS) {
        for (auto file : files) {
            std::string_view text;
            if (file.get(text) == simdjson::SUCCESS) metrics.files.emplace_back(text);
        }
    }
    return metrics;
}

std::string session_to_json(const TelemetrySession& session) {
    std::string text;
    text.reserve(256 + session.spans.size() * 220);
    JsonWriter out(text);
    out.begin_object()
        .field("schema_version", TelemetrySession::schema_version)
        .field("session_id", session.session_id)
        .field("start_time", iso8601_utc(us(session.start_time)));
    write_optional_time(out, "end_time", session.end_time);
    out.field("total_duration", session.total_duration)
        .field("incomplete", session.incomplete)
        .field("dropped_events", session.dropped_events)
        .field("price_table_version", session.price_table_version);
    out.key("environment");
    write_environment(out, session.environment);
    out.key("total_tokens");
    write_token_usage(out, session.total_tokens);
    out.key("outside_tasks_tokens");
    write_token_usage(out, session.outside_tasks.total_tokens);
    out.key("tasks").begin_array();
    for (const auto& task : session.tasks) write_task(out, task);
    out.end_array();
    out.key("spans").begin_array();
    for (const auto& span : session.spans) write_record(out, event_of_span(span), span.task_id);
    out.end_array().end_object();
    text += '\n';
    return text;
}

std::optional<TelemetrySession> session_from_json(simdjson::padded_string_view json,
                                                  const PriceTable& prices, std::string& error) {
    // Reused per thread: a parser's buffers are as large as the biggest file it has read, and
    // allocating them afresh for every file costs more than the parse itself.
    thread_local simdjson::dom::parser parser;
    simdjson::dom::object root;
    if (auto err = parser.parse(json).get(root)) {
        error = std::string("not valid JSON: ") + simdjson::error_message(err);
        return std::nullopt;
    }
    std::int64_t schema = 0;
    if (root["schema_version"].get(schema) != simdjson::SUCCESS) {
        error = "not a session file (no schema_version)";
        return std::nullopt;
    }
    if (schema != TelemetrySession::schema_version) {
        error = "unsupported schema_version " + std::to_string(schema);
        return std::nullopt;
    }
    SessionHeader header;
    header.session_id = get_string(root, "session_id");
    const auto start = parse_iso8601_utc(get_string(root, "start_time"));
    if (header.session_id.empty() || !start) {
        error = "session file without session_id or start_time";
        return std::nullopt;
    }
    const auto end = parse_iso8601_utc(get_string(root, "end_time"));
    const std::int64_t dropped = get_int(root, "dropped_events");
    if (!fits_in_ns(*start) || (end && !fits_in_ns(*end)) || dropped < 0) {
        error = "session file with a time out of range or negative dropped_events";
        return std::nullopt;
    }
    header.start_ns = *start * 1000;
    if (end) header.end_ns = *end * 1000;
    bool incomplete = false;
    if (root["incomplete"].get(incomplete) == simdjson::SUCCESS) header.incomplete = incomplete;
    header.dropped_events = static_cast<std::uint64_t>(dropped);
    simdjson::dom::object environment;
    if (root["environment"].get(environment) == simdjson::SUCCESS)
        header.environment = read_environment(environment);

    std::map<std::uint64_t, CodeMetrics> code_metrics;
    simdjson::dom::array tasks;
    if (root["tasks"].get(tasks) == simdjson::SUCCESS) {
        for (auto item : tasks) {
            simdjson::dom::object task, code;
            if (item.get(task) != simdjson::SUCCESS) continue;
            if (task["code_changes"].get(code) == simdjson::SUCCESS)
                code_metrics[span_id_from_hex(get_string(task, "span_id"))] = read_code_metrics(code);
        }
    }
    simdjson::dom::array records;
    if (root["spans"].get(records) != simdjson::SUCCESS) {
        error = "session file without spans";
        return std::nullopt;
    }
    StringArena arena;
    std::vector<Event> events;
    events.reserve(records.size());
    for (auto item : records) {
        simdjson::dom::object record;
        Event event;
        if (item.get(record) != simdjson::SUCCESS || !read_record(record, arena, event, error)) {
            error = "invalid span: " + (error.empty() ? std::string("not an object") : error);
            return std::nullopt;
        }
        events.push_back(event);
    }
    // A session still running when the file was written: as of then, start + total_duration
    // (not its start, which would make every open span last 0 s).
    double written_after = 0;
    if (root["total_duration"].get(written_after) != simdjson::SUCCESS || !(written_after >= 0) ||
        written_after > 1e9)
        written_after = 0;
    const std::int64_t now =
        header.end_ns.value_or(header.start_ns + static_cast<std::int64_t>(written_after * 1e9));
    TelemetrySession session = fold_session(header, events, code_metrics, prices, now);
    if (auto stored = get_string(root, "price_table_version"); !stored.empty())
        session.price_table_version = stored;
    return session;
}

}  // namespace sop_telemetry::detail
