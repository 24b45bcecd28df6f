// The state of one running session that collectors record into: the event log, the open tasks,
// the per-task code metrics and the work queued for the background worker. Owned jointly by
// the manager and every collector handle, so a handle never dangles.
#pragma once

#include "detail/event_log.hpp"

#include <sop_telemetry/types.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sop_telemetry::detail {

/// Text bounds: longer strings are cut (on a UTF-8 boundary) and marked with "…".
inline constexpr std::size_t kMaxNameBytes = 256;
inline constexpr std::size_t kMaxTextBytes = 8 * 1024;

/// A snapshot request for the worker: measure the git tree for a task's start or end.
/// An open task as the hot path sees it (immutable once published).
struct OpenTask {
    std::string task_id;
    std::uint64_t span_id = 0;
    std::int64_t start_ns = 0;
    bool recorded = true;  // false: opened past the event budget, nothing of it in the log
};

struct CodeSnapshotJob {
    std::uint64_t task_span = 0;
    bool at_end = false;
};

class SessionCore {
public:
    SessionCore(std::string session_id, std::int64_t start_ns, std::uint64_t max_events);
    ~SessionCore();
    SessionCore(const SessionCore&) = delete;
    SessionCore& operator=(const SessionCore&) = delete;

    const std::string session_id;
    const std::int64_t start_ns;
    EventLog log;
    std::atomic<bool> enabled{true};
    std::atomic<int> collectors{0};

    bool start_task(std::uint64_t span_id, std::string_view task_id, std::int64_t start_ns, bool recorded = true);
    /// Returns the task's span id (0 when it is not open) and forgets it; `recorded` says
    /// whether its begin is in the log (else it has nothing to end).
    std::uint64_t finish_task(std::string_view task_id, bool* recorded = nullptr);
    /// Forgets a task closed through end_span.
    void forget_task_span(std::uint64_t span_id);
    /// The span ids of the recorded tasks still open, oldest first.
    std::vector<std::uint64_t> open_task_spans() const;
    /// The most recently started task still open, or null.
    const OpenTask* current_task() const noexcept {
        return current_task_.load(std::memory_order_acquire);
    }

    /// Queues a git snapshot for the worker (no-op when code metrics are off).
    void request_code_snapshot(const CodeSnapshotJob& job);
    std::vector<CodeSnapshotJob> take_code_jobs();
    /// Puts jobs taken but not done back in front of the queue.
    void return_code_jobs(const std::vector<CodeSnapshotJob>& jobs);
    bool has_code_jobs() const;
    std::atomic<bool> code_metrics_enabled{true};

    void set_code_metrics(std::uint64_t task_span, CodeMetrics metrics);
    std::map<std::uint64_t, CodeMetrics> code_metrics() const;

    /// `lock` (another part's, such as the writer's state) is held across fork() too, after
    /// this core's own and before the event log's: no thread may take it while holding those.
    void guard_across_fork(std::mutex* lock);
    void stop_guarding_across_fork(std::mutex* lock);

    /// Wakes the worker (for queued snapshots and on shutdown).
    void notify_worker();
    /// Waits until notified or `timeout_ms` passed.
    void wait_for_work(std::int64_t timeout_ms);

private:
    void refresh_current_task();  // under mutex_
    // fork(): no other thread holds a core's lock, nor the locks guarded with it, at that moment
    // (the worker takes them often), and the child, which has no worker, neither waits for nor
    // wakes one.
    static void lock_all_for_fork() noexcept;
    static void unlock_all_after_fork(bool in_child) noexcept;
    std::atomic<bool> no_worker_{false};
    std::vector<std::mutex*> fork_guarded_;  // under the live cores' lock

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool woken_ = false;
    // Every task ever opened stays allocated, so a pointer read on the hot path stays valid.
    std::vector<std::unique_ptr<OpenTask>> all_tasks_;
    std::vector<OpenTask*> open_tasks_;  // in start order
    std::atomic<const OpenTask*> current_task_{nullptr};
    std::deque<CodeSnapshotJob> code_jobs_;
    std::map<std::uint64_t, CodeMetrics> code_metrics_;
};

/// Cuts `text` to at most `max_bytes` without splitting a UTF-8 sequence.
std::string_view clip_utf8(std::string_view text, std::size_t max_bytes) noexcept;

}  // namespace sop_telemetry::detail
