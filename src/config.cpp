#include <sop_telemetry/config.hpp>

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <pwd.h>
#include <unistd.h>

namespace sop_telemetry {

namespace {

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value ? value : "";
}

void note(std::vector<std::string>* problems, std::string message) {
    if (problems) problems->push_back(std::move(message));
}

std::string lowercase(std::string_view text) {
    std::string lower;
    for (char c : text) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return lower;
}

/// A 0/1-style variable: 0/1, false/true, no/yes, off/on in any case, spaces around ignored
/// (SOP_TELEMETRY_ENABLED=False must turn it off); unset when absent or not understood (then a
/// problem is noted).
std::optional<bool> env_flag(const char* name, std::vector<std::string>* problems) {
    const std::string value = env(name);
    const auto first = value.find_first_not_of(" \t");
    if (first == std::string::npos) return std::nullopt;
    const std::string word =
        lowercase(std::string_view(value).substr(first, value.find_last_not_of(" \t") + 1 - first));
    if (word == "0" || word == "false" || word == "no" || word == "off") return false;
    if (word == "1" || word == "true" || word == "yes" || word == "on") return true;
    note(problems, std::string(name) + "=\"" + value + "\" is not 0/1; ignored");
    return std::nullopt;
}

std::string home_directory() {
    if (std::string home = env("HOME"); !home.empty()) return home;
    if (const passwd* entry = getpwuid(getuid()); entry && entry->pw_dir) return entry->pw_dir;
    return "";
}

/// A whole number from the environment; unset when absent, and when not a number (a problem).
std::optional<long long> env_number(const char* name, std::vector<std::string>* problems) {
    const std::string text = env(name);
    if (text.empty()) return std::nullopt;
    long long number = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), number);
    if (result.ec == std::errc() && result.ptr == text.data() + text.size()) return number;
    note(problems, std::string(name) + "=\"" + text + "\" is not a number");
    return std::nullopt;
}

}  // namespace

std::optional<LogLevel> log_level_from_string(std::string_view text) noexcept {
    const std::string lower = lowercase(text);
    if (lower == "debug") return LogLevel::debug;
    if (lower == "info") return LogLevel::info;
    if (lower == "warning" || lower == "warn") return LogLevel::warning;
    if (lower == "error") return LogLevel::error;
    if (lower == "off" || lower == "none") return LogLevel::off;
    return std::nullopt;
}

const char* to_string(LogLevel level) noexcept {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warning: return "warning";
        case LogLevel::error: return "error";
        case LogLevel::off: return "off";
    }
    return "unknown";
}

std::string default_storage_dir() noexcept {
    try {
        if (std::string dir = env("SOP_TELEMETRY_DIR"); !dir.empty()) return dir;
        if (std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty() && xdg.front() == '/')
            return xdg + "/ept/sop_agents";
        const std::string home = home_directory();
        if (home.empty()) return "";
        return home + "/.cache/ept/sop_agents";
    } catch (...) {
        return "";
    }
}

Config resolve_config(Config config, std::vector<std::string>* problems) noexcept {
    try {
        if (auto enabled = env_flag("SOP_TELEMETRY_ENABLED", problems)) config.enabled = *enabled;
        if (auto metrics = env_flag("SOP_TELEMETRY_CODE_METRICS", problems))
            config.code_metrics = *metrics;
        if (std::string dir = env("SOP_TELEMETRY_DIR"); !dir.empty()) config.storage_dir = dir;
        if (config.storage_dir.empty()) config.storage_dir = default_storage_dir();
        if (const std::string level = env("SOP_TELEMETRY_LOG_LEVEL"); !level.empty()) {
            if (auto parsed = log_level_from_string(level))
                config.log_level = *parsed;
            else
                note(problems, "SOP_TELEMETRY_LOG_LEVEL=\"" + level +
                                   "\" is not debug/info/warning/error/off; using warning");
        }
        if (auto ms = env_number("SOP_TELEMETRY_FLUSH_INTERVAL_MS", problems))
            config.flush_interval = std::chrono::milliseconds(*ms);
        // What shapes a session when it starts, for programs whose session starts at import.
        if (auto journal = env_flag("SOP_TELEMETRY_JOURNAL", problems)) config.journal = *journal;
        if (auto sigterm = env_flag("SOP_TELEMETRY_SIGTERM", problems)) config.handle_sigterm = *sigterm;
        if (auto events = env_number("SOP_TELEMETRY_MAX_EVENTS_PER_SESSION", problems))
            config.max_events_per_session = *events > 0 ? static_cast<std::uint64_t>(*events) : 0;
        if (const std::string names = env("SOP_TELEMETRY_ENV_ALLOWLIST"); !names.empty()) {  // empty: unset, as the others
            config.env_allowlist.clear();
            std::string_view rest = names;
            while (!rest.empty()) {
                const std::size_t comma = rest.find(',');
                std::string_view name = rest.substr(0, comma);
                while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
                while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
                if (!name.empty()) config.env_allowlist.emplace_back(name);
                rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        }

        const Config defaults;
        if (config.flush_interval < std::chrono::milliseconds(10) ||
            config.flush_interval > std::chrono::hours(1)) {
            note(problems, "flush_interval must be between 10 ms and 1 h; using " +
                               std::to_string(defaults.flush_interval.count()) + " ms");
            config.flush_interval = defaults.flush_interval;
        }
        if (config.max_file_age_days < 1) {
            note(problems, "max_file_age_days must be >= 1; using " +
                               std::to_string(defaults.max_file_age_days));
            config.max_file_age_days = defaults.max_file_age_days;
        }
        if (config.max_memory_sessions < 0) {
            note(problems, "max_memory_sessions must be >= 0; using " +
                               std::to_string(defaults.max_memory_sessions));
            config.max_memory_sessions = defaults.max_memory_sessions;
        }
        if (config.max_events_per_session == 0) {
            note(problems, "max_events_per_session must be > 0; using the default");
            config.max_events_per_session = defaults.max_events_per_session;
        }
        if (config.storage_dir.empty()) {
            note(problems, "no storage directory (no HOME); the session stays in memory");
        } else {
            // Absolute now: a relative one would follow the host's later chdir().
            std::error_code ignored;
            const auto absolute = std::filesystem::absolute(config.storage_dir, ignored);
            if (!ignored) config.storage_dir = absolute.lexically_normal().string();
        }
        return config;
    } catch (...) {
        note(problems, "configuration could not be resolved; using defaults");
        return Config{};
    }
}

}  // namespace sop_telemetry
