#include "detail/session_core.hpp"

#include <algorithm>
#include <chrono>
#include <pthread.h>

namespace sop_telemetry::detail {

std::string_view clip_utf8(std::string_view text, std::size_t max_bytes) noexcept {
    if (text.size() <= max_bytes) return text;
    std::size_t cut = max_bytes;
    // Step back over continuation bytes (10xxxxxx) so no sequence is split.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return text.substr(0, cut);
}

namespace {

/// The cores alive in this process, for the fork handlers. Never destroyed: cores may outlive
/// static destruction.
struct LiveCores {
    std::mutex mutex;
    std::vector<SessionCore*> cores;
};
LiveCores& live_cores() {
    static LiveCores* live = new LiveCores();
    return *live;
}

}  // namespace

SessionCore::SessionCore(std::string id, std::int64_t start, std::uint64_t max_events)
    : session_id(std::move(id)), start_ns(start), log(max_events) {
    log.slabs().set_spare_taken_callback([this] { notify_worker(); });
    static const bool registered =
        ::pthread_atfork(lock_all_for_fork, [] { unlock_all_after_fork(false); }, [] { unlock_all_after_fork(true); }) == 0;
    (void)registered;
    std::lock_guard lock(live_cores().mutex);
    live_cores().cores.push_back(this);
}

SessionCore::~SessionCore() {
    std::lock_guard lock(live_cores().mutex);
    std::erase(live_cores().cores, this);
}

void SessionCore::lock_all_for_fork() noexcept {
    live_cores().mutex.lock();
    for (SessionCore* core : live_cores().cores) {
        core->mutex_.lock();
        for (std::mutex* guarded : core->fork_guarded_) guarded->lock();
        core->log.lock_for_fork();
    }
}

void SessionCore::unlock_all_after_fork(bool in_child) noexcept {
    for (SessionCore* core : live_cores().cores) {
        if (in_child) {
            core->no_worker_ = true;
            core->code_metrics_enabled = false;  // snapshots are the worker's
        }
        core->log.unlock_after_fork();
        for (auto it = core->fork_guarded_.rbegin(); it != core->fork_guarded_.rend(); ++it) (*it)->unlock();
        core->mutex_.unlock();
    }
    live_cores().mutex.unlock();
}

void SessionCore::guard_across_fork(std::mutex* lock) {
    std::lock_guard live(live_cores().mutex);
    fork_guarded_.push_back(lock);
}

void SessionCore::stop_guarding_across_fork(std::mutex* lock) {
    std::lock_guard live(live_cores().mutex);
    std::erase(fork_guarded_, lock);
}

namespace {

/// A finished task stays allocated (current_task() is read without the lock, so one may
/// still be looked at), but its id's memory goes: a long session opens tasks without end.
void release_id(OpenTask& task) noexcept { std::string().swap(task.task_id); }

}  // namespace

bool SessionCore::start_task(std::uint64_t span_id, std::string_view task_id,
                             std::int64_t start_ns, bool recorded) {
    std::lock_guard lock(mutex_);
    for (const OpenTask* task : open_tasks_)
        if (task->task_id == task_id) return false;
    all_tasks_.push_back(std::make_unique<OpenTask>(OpenTask{std::string(task_id), span_id, start_ns, recorded}));
    open_tasks_.push_back(all_tasks_.back().get());
    refresh_current_task();
    return true;
}

std::uint64_t SessionCore::finish_task(std::string_view task_id, bool* recorded) {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(open_tasks_.begin(), open_tasks_.end(),
                           [&](const OpenTask* task) { return task->task_id == task_id; });
    if (it == open_tasks_.end()) return 0;
    const std::uint64_t span = (*it)->span_id;
    if (recorded != nullptr) *recorded = (*it)->recorded;
    release_id(**it);
    open_tasks_.erase(it);
    refresh_current_task();
    return span;
}

void SessionCore::forget_task_span(std::uint64_t span_id) {
    std::lock_guard lock(mutex_);
    std::erase_if(open_tasks_, [&](OpenTask* task) {
        if (task->span_id != span_id) return false;
        release_id(*task);
        return true;
    });
    refresh_current_task();
}

std::vector<std::uint64_t> SessionCore::open_task_spans() const {
    std::lock_guard lock(mutex_);
    std::vector<std::uint64_t> spans;
    for (const OpenTask* task : open_tasks_)
        if (task->recorded) spans.push_back(task->span_id);
    return spans;
}

void SessionCore::refresh_current_task() {
    current_task_.store(open_tasks_.empty() ? nullptr : open_tasks_.back(),
                        std::memory_order_release);
}

void SessionCore::request_code_snapshot(const CodeSnapshotJob& job) {
    if (!code_metrics_enabled) return;
    bool first = false;
    {
        std::lock_guard lock(mutex_);
        first = code_jobs_.empty();
        code_jobs_.push_back(job);
    }
    // The worker plans its wake-up around pending jobs: only the first one needs to wake it.
    // (Waking it for every task start and end cost the recording thread 7-25 us each time.)
    if (first) notify_worker();
}

std::vector<CodeSnapshotJob> SessionCore::take_code_jobs() {
    std::lock_guard lock(mutex_);
    std::vector<CodeSnapshotJob> jobs(code_jobs_.begin(), code_jobs_.end());
    code_jobs_.clear();
    return jobs;
}

void SessionCore::return_code_jobs(const std::vector<CodeSnapshotJob>& jobs) {
    std::lock_guard lock(mutex_);
    code_jobs_.insert(code_jobs_.begin(), jobs.begin(), jobs.end());
}

bool SessionCore::has_code_jobs() const {
    std::lock_guard lock(mutex_);
    return !code_jobs_.empty();
}

void SessionCore::set_code_metrics(std::uint64_t task_span, CodeMetrics metrics) {
    std::lock_guard lock(mutex_);
    code_metrics_[task_span] = std::move(metrics);
}

std::map<std::uint64_t, CodeMetrics> SessionCore::code_metrics() const {
    std::lock_guard lock(mutex_);
    return code_metrics_;
}

void SessionCore::notify_worker() {
    if (no_worker_) return;  // a forked child: its parent's worker's waits are not its own
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    wake_.notify_all();
}

void SessionCore::wait_for_work(std::int64_t timeout_ms) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return woken_; });
    woken_ = false;
}

}  // namespace sop_telemetry::detail
