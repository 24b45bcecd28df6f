// What the CLI, the HTML report and the dashboard say about sessions: one set of figures,
// computed from the session view (TelemetrySession) and shared by every output format.
#pragma once

#include <sop_telemetry/types.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sop_telemetry::cli {

/// count / total / p50 / p95 / max of durations (seconds), and how many failed.
struct DurationStats {
    std::size_t count = 0;
    std::size_t failures = 0;
    double total = 0;
    double p50 = 0;
    double p95 = 0;
    double max = 0;
};

DurationStats duration_stats(std::vector<double> durations, std::size_t failures = 0);

struct NamedStats {
    std::string name;
    std::string detail;  ///< agents: their type
    DurationStats stats;
};

struct ErrorItem {
    std::string kind;  ///< task, agent, llm, tool
    std::string name;
    std::string task_id;
    std::string message;
};

/// One session in a line: what `list` shows and what the filters test.
struct SessionSummary {
    std::string session_id;
    Timestamp start_time{};
    double duration = 0;
    std::string status;  ///< completed, failed, max_steps, cancelled, running, incomplete, empty
    std::size_t tasks = 0;
    std::size_t failed_tasks = 0;
    std::size_t llm_calls = 0;
    std::size_t tool_calls = 0;
    std::size_t errors = 0;
    std::int64_t total_tokens = 0;
    std::optional<double> cost;  ///< unset when no call was priced
    bool partly_priced = false;  ///< some models had no price
    std::vector<std::string> models;
};

SessionSummary summarize(const TelemetrySession& session);

/// Every task's lists plus the calls made outside any task.
std::vector<const TaskExecution*> all_task_records(const TelemetrySession& session);

std::vector<NamedStats> time_by_tool(const TelemetrySession& session);   ///< by total, largest first
std::vector<NamedStats> time_by_agent(const TelemetrySession& session);  ///< by total, largest first
std::vector<NamedStats> time_by_model(const TelemetrySession& session);  ///< LLM latency per model
std::vector<ErrorItem> errors_of(const TelemetrySession& session);
/// A span's duration in seconds; one still running (or cut off by a crash) runs to the session's
/// end, as the fold counts its task.
double span_seconds(const TelemetrySession& session, const Span& span);
/// The failed steps errors_of lists (the only spans it reads): those with no failed tool or LLM
/// call in them, whose failure would be counted twice.
std::vector<const Span*> failed_steps(const TelemetrySession& session);

/// `stats`: aggregates over many sessions.
struct DayStats {
    std::size_t sessions = 0;
    std::size_t tasks = 0;
    std::size_t failed_tasks = 0;
    std::int64_t tokens = 0;
    double cost = 0;
};

struct Aggregate {
    std::size_t sessions = 0;
    std::size_t tasks = 0;
    std::size_t failed_tasks = 0;
    std::size_t llm_calls = 0;
    std::size_t tool_calls = 0;
    TokenUsage tokens;  ///< model_breakdown merged over sessions
    double cost = 0;
    std::vector<std::string> unpriced_models;
    std::vector<NamedStats> slowest_tools;   ///< by p95, slowest first
    std::map<std::string, DayStats> by_day;  ///< "YYYY-MM-DD" (UTC)
    double failure_rate() const { return tasks ? static_cast<double>(failed_tasks) / tasks : 0; }
};

Aggregate aggregate(const std::vector<const TelemetrySession*>& sessions);

/// `compare`: one metric of two sessions.
struct Delta {
    std::string metric;
    std::optional<double> a;  ///< unset: not known (the cost of a session with no priced call)
    std::optional<double> b;
};

std::vector<Delta> compare(const TelemetrySession& a, const TelemetrySession& b);

/// `insights`: a suggestion and the numbers behind it.
struct Insight {
    std::string rule;      ///< stable name, e.g. "dominant_tool"
    std::string severity;  ///< info, warning
    std::string message;
};

std::vector<Insight> insights(const TelemetrySession& session);

/// "2026-11-24 21:33:12" (UTC) and "2026-11-24".
std::string format_time(Timestamp time);
/// "2026-11-24T21:33:12.123456Z", as in the session files.
std::string iso_time(Timestamp time);
std::string format_day(Timestamp time);

}  // namespace sop_telemetry::cli
