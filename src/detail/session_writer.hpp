// SessionWriter: everything that turns a running session into files — the background worker
// (journal appends every flush interval, git snapshots for code metrics), explicit flushes and
// the final session file. Storage failures are recorded and retried on the next tick; the
// events stay in memory, so nothing is lost while the disk is full.
#pragma once

#include "detail/code_metrics.hpp"
#include "detail/journal.hpp"
#include "detail/session_core.hpp"

#include <sop_telemetry/data_store.hpp>
#include <sop_telemetry/pricing.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace sop_telemetry::detail {

class SessionWriter {
public:
    SessionWriter(std::shared_ptr<SessionCore> core, std::string storage_dir,
                  std::shared_ptr<const PriceTable> prices, EnvironmentInfo environment,
                  bool journal_enabled);
    SessionWriter(const SessionWriter&) = delete;
    SessionWriter& operator=(const SessionWriter&) = delete;
    ~SessionWriter();

    /// Starts the background worker.
    void start(std::chrono::milliseconds interval);
    void set_interval(std::chrono::milliseconds interval) noexcept;
    void set_prices(std::shared_ptr<const PriceTable> prices);
    void set_python_version(std::string_view version);
    /// Moves the session's files to another directory (the journal is rewritten there).
    void move_to(const std::string& storage_dir);

    /// Pending snapshots and events to disk, then the session file; false when it failed.
    bool flush();
    /// Stops the worker and writes the final session file; the journal is removed only once
    /// that file is safely written. `cut_off` non-empty: the process is being ended, and the
    /// spans still running end cancelled with it as their error.
    bool finish(std::string_view cut_off = {});
    /// Stops the worker and leaves no file of the session: no session file (one an earlier
    /// flush wrote is removed), no journal.
    void discard();

    TelemetrySession fold(std::optional<std::int64_t> end_ns, std::string_view cut_off = {}) const;
    std::shared_ptr<const PriceTable> prices() const;
    std::string storage_dir() const;
    bool storage_available() const noexcept { return storage_ok_.load(); }
    std::uint64_t write_errors() const noexcept { return write_errors_.load(); }

private:
    /// Stops the background worker for good and waits for it (finish, discard).
    void stop_worker();
    void run_worker();
    void tick();                    // under io_mutex_
    /// Under io_mutex_. Stopped as soon as `cancel` is non-zero: the jobs go back in the queue.
    void process_code_jobs(const std::atomic<int>* cancel = nullptr);
    /// io_mutex_ for a host thread. The worker runs at the lowest priority, and on a busy
    /// machine its git snapshot may crawl: that snapshot is stopped (its jobs wait for the next
    /// one, taken at the host thread's priority) instead of waited for.
    std::unique_lock<std::mutex> lock_io_ahead_of_worker();
    bool append_journal();          // under io_mutex_
    bool ensure_journal_open();     // under io_mutex_
    bool write_session_file(std::optional<std::int64_t> end_ns, std::string_view cut_off = {});  // under io_mutex_
    void count_failure(const char* operation, const std::string& error);
    SessionHeader header(std::optional<std::int64_t> end_ns, std::string_view cut_off = {}) const;

    const std::shared_ptr<SessionCore> core_;
    const bool journal_enabled_;
    mutable std::mutex state_mutex_;  // guards the fields below it that change after start
    std::unique_ptr<TelemetryDataStore> store_;
    std::shared_ptr<const PriceTable> prices_;
    EnvironmentInfo environment_;
    bool environment_changed_ = false;

    std::mutex io_mutex_;  // serialises journal and session file writes
    std::atomic<int> io_waiters_{0};  // host threads waiting for io_mutex_ (or stopping)
    JournalWriter journal_;
    std::unordered_map<const ThreadBuffer*, std::size_t> cursors_;
    std::uint64_t journaled_dropped_ = 0;
    std::string pending_lines_;  // code-metrics lines not yet in the journal
    // What one flush appends, kept between flushes: no fresh buffer (page faults, copies as it
    // grows) every second on the thread that shares a CPU with the host's.
    std::string journal_lines_;
    std::vector<const Event*> journal_batch_;
    std::map<std::uint64_t, TreeSnapshot> task_start_snapshots_;

    std::atomic<std::int64_t> interval_ms_{1000};
    std::atomic<bool> stop_{false};
    std::atomic<bool> storage_ok_{false};
    std::atomic<std::uint64_t> write_errors_{0};
    std::thread worker_;
    bool finished_ = false;
};

}  // namespace sop_telemetry::detail
