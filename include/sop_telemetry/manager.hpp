// TelemetryManager: the singleton that owns the session — configuration, the session's event
// log, the background worker that keeps the crash journal, and the session files.
//
// Initialisation is implicit on first use and idempotent; calling initialize(config) again
// applies the new settings to the running session (a new storage_dir moves its files). The
// session file is written at normal process exit. No signal handler is installed: a process
// killed by a signal keeps what its journal holds (everything older than one flush interval),
// and the next start in the same directory turns that journal into a session marked incomplete.
#pragma once

#include <sop_telemetry/collector.hpp>
#include <sop_telemetry/config.hpp>
#include <sop_telemetry/data_store.hpp>
#include <sop_telemetry/types.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sop_telemetry {

/// The stored files (total_files, total_bytes, journal_files, oldest/newest session id) and
/// the running session's own figures.
struct StorageStats : StoredFilesStats {
    std::string storage_path;
    int active_collectors = 0;
    std::uint64_t write_errors = 0;
    bool storage_available = false;
    std::string session_id;
    std::uint64_t events_recorded = 0;
    std::uint64_t dropped_events = 0;
    std::size_t memory_bytes = 0;
};

class TelemetryManager {
public:
    /// The process-wide manager; its session is written at normal process exit.
    static TelemetryManager& get_instance() noexcept;

    /// A separate, not yet initialised manager (embedding, tests). Most code wants get_instance().
    TelemetryManager() noexcept;
    TelemetryManager(const TelemetryManager&) = delete;
    TelemetryManager& operator=(const TelemetryManager&) = delete;
    ~TelemetryManager();

    /// Starts the session with the default configuration (once; later calls do nothing).
    bool initialize() noexcept;
    /// Starts the session with `config`, or applies `config` to the running session.
    bool initialize(const Config& config) noexcept;
    bool is_initialized() const noexcept;

    TelemetryCollector get_collector() noexcept;

    /// Appends pending events to the journal and writes the session file now.
    bool flush_data() noexcept;
    /// The current session, folded from its events now.
    std::optional<TelemetrySession> get_session_data() noexcept;
    /// A stored session (or the current one); unset when unknown or unreadable.
    std::optional<TelemetrySession> get_session_data(std::string_view session_id) noexcept;
    StorageStats get_storage_stats() noexcept;
    /// Stored sessions and the current one, oldest first.
    std::vector<std::string> get_all_session_ids() noexcept;

    void enable_telemetry() noexcept;
    void disable_telemetry() noexcept;
    bool is_enabled() const noexcept;

    /// Removes stored files older than `max_age_days`; returns how many.
    int cleanup_old_data(int max_age_days) noexcept;
    /// Turns journals of crashed sessions into session files; returns how many.
    int recover_sessions() noexcept;

    /// Ends the session: final journal append, session file, journal removed. Idempotent.
    void shutdown() noexcept;
    /// Ends the session leaving no file, if it recorded nothing at all (no event); true then.
    /// False, and nothing changes, when it recorded something (shutdown() writes it).
    bool discard_if_empty() noexcept;

    std::string session_id() const noexcept;
    Config config() const noexcept;
    /// Recorded in EnvironmentInfo::python_version (set by the Python front).
    void set_python_version(std::string_view version) noexcept;

private:
    /// shutdown(); with `cut_off`, the end of a process SIGTERM ends: spans still running end
    /// cancelled for that reason, and a session that recorded nothing leaves no file.
    void end_session(std::string_view cut_off) noexcept;

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sop_telemetry
