// Configuration: zero-config defaults, optional overrides from code and from the environment.
//
// Precedence: environment (SOP_TELEMETRY_*) over the Config passed to initialize() over the
// defaults below. An invalid value is logged with the reason and replaced by its default.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sop_telemetry {

enum class LogLevel : std::uint8_t { debug, info, warning, error, off };

struct Config {
    bool enabled = true;
    /// Empty: $SOP_TELEMETRY_DIR, else $XDG_CACHE_HOME/ept/sop_agents, else ~/.cache/ept/sop_agents.
    std::string storage_dir;
    int max_file_age_days = 14;
    bool auto_cleanup = true;
    /// How often the background worker appends new events to the crash journal.
    std::chrono::milliseconds flush_interval{1000};
    /// Stored sessions kept parsed in memory by get_session_data(id).
    int max_memory_sessions = 20;
    /// Past this many events in one session, further events are counted as dropped.
    std::uint64_t max_events_per_session = 2'000'000;
    /// Write a crash journal while the session runs.
    bool journal = true;
    /// Measure lines changed in the project's git working tree per task.
    bool code_metrics = true;
    /// When SIGTERM ends the process and the program has no handler of its own for it: write
    /// the session first, then end as SIGTERM would have (the process-wide manager only).
    bool handle_sigterm = true;
    /// Extra environment variable names to record (secret-looking names are still refused).
    std::vector<std::string> env_allowlist;
    /// A JSON price file whose models override and extend the built-in table.
    std::string price_file;
    LogLevel log_level = LogLevel::warning;
};

/// Applies SOP_TELEMETRY_ENABLED, SOP_TELEMETRY_DIR, SOP_TELEMETRY_LOG_LEVEL,
/// SOP_TELEMETRY_FLUSH_INTERVAL_MS and SOP_TELEMETRY_CODE_METRICS, validates every field and fixes invalid ones (each fix is
/// described in `problems`).
Config resolve_config(Config config, std::vector<std::string>* problems = nullptr) noexcept;

/// The storage directory the defaults lead to (without creating it).
std::string default_storage_dir() noexcept;

std::optional<LogLevel> log_level_from_string(std::string_view text) noexcept;
const char* to_string(LogLevel level) noexcept;

}  // namespace sop_telemetry
