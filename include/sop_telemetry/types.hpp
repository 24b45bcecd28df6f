// The session view: plain value types named as in the design document.
//
// A TelemetrySession is a fold of the event log (see events.hpp): nothing here is recorded
// directly, every total is derived when the view is built. The flat per-task lists (agents,
// tools, llm_calls) and the span tree (`spans`, linked by parent ids) come from the same events.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sop_telemetry {

/// Wall-clock time with microsecond resolution (UTC).
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

/// Outcome of a task or of any span. `running` means not ended (yet).
enum class TaskStatus : std::uint8_t { running, completed, failed, cancelled, timeout, max_steps };

/// What a span measures.
enum class SpanKind : std::uint8_t { task, agent, step, llm, tool, other };

const char* to_string(TaskStatus status) noexcept;
const char* to_string(SpanKind kind) noexcept;
std::optional<TaskStatus> task_status_from_string(std::string_view text) noexcept;
std::optional<SpanKind> span_kind_from_string(std::string_view text) noexcept;

/// a + b, held at the int64 limits instead of overflowing (token counts and their totals).
inline std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t sum = 0;
    if (!__builtin_add_overflow(a, b, &sum)) return sum;
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
}

/// Token counts of one or more LLM calls. `prompt_tokens` is the inclusive input count:
/// cache-read and cache-write tokens are subsets of it; reasoning tokens are a subset of
/// `completion_tokens`.
struct TokenCounts {
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::int64_t cache_read_tokens = 0;
    std::int64_t cache_write_tokens = 0;
    std::int64_t reasoning_tokens = 0;

    std::int64_t total() const noexcept { return saturating_add(prompt_tokens, completion_tokens); }
    TokenCounts& operator+=(const TokenCounts& other) noexcept;
    bool operator==(const TokenCounts&) const = default;
};

/// Token totals with a per-model breakdown and a cost estimate.
/// `cost_estimate` is unset when no call could be priced; `unpriced_models` lists every model
/// without a price, so a partial sum is never mistaken for the whole cost.
struct TokenUsage {
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::int64_t total_tokens = 0;
    std::int64_t cache_read_tokens = 0;
    std::int64_t cache_write_tokens = 0;
    std::int64_t reasoning_tokens = 0;
    std::int64_t call_count = 0;
    std::map<std::string, TokenUsage> model_breakdown;
    std::optional<double> cost_estimate;
    std::vector<std::string> unpriced_models;
};

struct EnvironmentInfo {
    std::string os_type;
    std::string os_version;
    std::string python_version;
    std::string working_directory;
    std::string project_root;
    std::optional<std::string> user_name;
    std::string timezone;
    std::map<std::string, std::string> environment_variables;
    std::string hostname;
    std::string engine_version;
};

/// Lines and files changed in the project's git working tree while a task ran.
struct CodeMetrics {
    bool measured = false;  ///< false outside a git repository or when git is unavailable
    std::int64_t files_changed = 0;
    std::int64_t lines_added = 0;
    std::int64_t lines_removed = 0;
    std::vector<std::string> files;  ///< paths relative to the project root (bounded)
};

/// One node of the span tree, whatever its kind.
struct Span {
    std::uint64_t span_id = 0;
    std::uint64_t parent_id = 0;  ///< 0: a root
    SpanKind kind = SpanKind::other;
    std::string name;    ///< task id, agent name, step label, model, tool name
    std::string detail;  ///< task description, agent type, step type
    std::string category;  ///< task: SOP category
    std::string task_id;   ///< nearest enclosing task, empty outside any task
    Timestamp start_time{};
    std::optional<Timestamp> end_time;
    TaskStatus status = TaskStatus::running;
    std::string error;
    TokenCounts tokens;            ///< llm spans
    std::optional<double> cost;    ///< llm spans: USD, unset when unpriced

    double duration() const noexcept;  ///< seconds; 0 while running
};

struct AgentExecution {
    std::uint64_t span_id = 0;
    std::uint64_t parent_id = 0;
    std::string agent_type;
    std::string agent_name;
    Timestamp start_time{};
    std::optional<Timestamp> end_time;
    double duration = 0;
    TaskStatus status = TaskStatus::running;
    std::string error;
};

struct ToolExecution {
    std::uint64_t span_id = 0;
    std::uint64_t parent_id = 0;
    std::string tool_name;
    Timestamp start_time{};
    std::optional<Timestamp> end_time;
    double duration = 0;
    bool success = true;
    std::string error;
};

struct LLMCall {
    std::uint64_t span_id = 0;
    std::uint64_t parent_id = 0;
    std::string model;
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::int64_t total_tokens = 0;
    std::int64_t cache_read_tokens = 0;
    std::int64_t cache_write_tokens = 0;
    std::int64_t reasoning_tokens = 0;
    Timestamp start_time{};
    std::optional<Timestamp> end_time;
    double duration = 0;
    std::optional<double> cost_estimate;
    bool success = true;
    std::string error;
};

struct TaskExecution {
    std::string task_id;
    std::string description;
    Timestamp start_time{};
    std::optional<Timestamp> end_time;
    TaskStatus status = TaskStatus::running;
    std::optional<std::string> sop_category;
    std::vector<AgentExecution> agents;
    std::vector<ToolExecution> tools;
    std::vector<LLMCall> llm_calls;
    CodeMetrics code_changes;
    TokenUsage total_tokens;
    std::uint64_t span_id = 0;

    /// Seconds from start to end (to the session's end, or now, while running).
    double duration = 0;
};

struct TelemetrySession {
    static constexpr int schema_version = 1;

    std::string session_id;
    Timestamp start_time{};
    std::optional<Timestamp> end_time;
    EnvironmentInfo environment;
    std::vector<TaskExecution> tasks;
    TokenUsage total_tokens;
    double total_duration = 0;  ///< seconds

    /// Calls recorded while no task was open: kept here, counted in the totals.
    TaskExecution outside_tasks;
    std::vector<Span> spans;  ///< every span, in start order; the tree via parent ids
    bool incomplete = false;  ///< recovered from a journal after the process died
    std::uint64_t dropped_events = 0;
    std::string price_table_version;

    /// The session file's JSON (schema in docs/session.schema.json); empty on failure.
    std::string to_json() const noexcept;
    /// Parses a session file's JSON; unset (and `error` filled) when it is not a valid one.
    static std::optional<TelemetrySession> from_json(std::string_view json,
                                                     std::string* error = nullptr) noexcept;
};

}  // namespace sop_telemetry
