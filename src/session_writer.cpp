#include "detail/session_writer.hpp"
#include "detail/termination.hpp"

#include "detail/session_codec.hpp"

#include <sop_telemetry/error_handler.hpp>

#include <algorithm>
#include <filesystem>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

namespace sop_telemetry::detail {

SessionWriter::SessionWriter(std::shared_ptr<SessionCore> core, std::string storage_dir,
                             std::shared_ptr<const PriceTable> prices, EnvironmentInfo environment,
                             bool journal_enabled)
    : core_(std::move(core)),
      journal_enabled_(journal_enabled),
      store_(std::make_unique<TelemetryDataStore>(std::move(storage_dir))),
      prices_(std::move(prices)),
      environment_(std::move(environment)) {
    storage_ok_ = store_->ensure_directory();
    core_->guard_across_fork(&state_mutex_);  // a forked child folds its session with it
}

SessionWriter::~SessionWriter() {
    stop_ = true;
    core_->notify_worker();
    if (worker_.joinable()) worker_.join();
    core_->stop_guarding_across_fork(&state_mutex_);
}

void SessionWriter::start(std::chrono::milliseconds interval) {
    interval_ms_ = interval.count();
    // The worker blocks the program's signals, so a signal sent to the process (Ctrl-C) is
    // delivered to one of the host's threads — Python only raises KeyboardInterrupt promptly
    // when its main thread is the one interrupted.
    worker_ = thread_blocking_signals([this] { run_worker(); });
}

void SessionWriter::set_interval(std::chrono::milliseconds interval) noexcept {
    interval_ms_ = interval.count();
    core_->notify_worker();
}

void SessionWriter::set_prices(std::shared_ptr<const PriceTable> prices) {
    std::lock_guard lock(state_mutex_);
    prices_ = std::move(prices);
}

void SessionWriter::set_python_version(std::string_view version) {
    std::lock_guard lock(state_mutex_);
    environment_.python_version = version;
    environment_changed_ = true;
}

std::shared_ptr<const PriceTable> SessionWriter::prices() const {
    std::lock_guard lock(state_mutex_);
    return prices_;
}

std::string SessionWriter::storage_dir() const {
    std::lock_guard lock(state_mutex_);
    return store_->directory();
}

std::unique_lock<std::mutex> SessionWriter::lock_io_ahead_of_worker() {
    ++io_waiters_;
    std::unique_lock io(io_mutex_);
    --io_waiters_;
    return io;
}

void SessionWriter::move_to(const std::string& storage_dir) {
    const auto io = lock_io_ahead_of_worker();
    std::string flushed;  // what a flush wrote in the old directory
    {
        std::lock_guard lock(state_mutex_);
        if (storage_dir == store_->directory()) return;
        flushed = store_->session_path(core_->session_id);
        store_ = std::make_unique<TelemetryDataStore>(storage_dir);
        storage_ok_ = store_->ensure_directory();
        // The session is written to the new directory from now on: a copy left in the old
        // one would be listed as a second, shorter session. Kept when the new one is unusable.
        if (!storage_ok_) flushed.clear();
    }
    if (!flushed.empty()) ::unlink(flushed.c_str());  // ENOENT: never flushed there
    // The old journal goes; the new one is written from the first event on.
    journal_.close(true);
    cursors_.clear();
    journaled_dropped_ = 0;
}

SessionHeader SessionWriter::header(std::optional<std::int64_t> end_ns, std::string_view cut_off) const {
    SessionHeader header;
    header.cut_off = cut_off;
    header.session_id = core_->session_id;
    header.start_ns = core_->start_ns;
    header.end_ns = end_ns;
    header.dropped_events = core_->log.dropped();
    std::lock_guard lock(state_mutex_);
    header.environment = environment_;
    return header;
}

TelemetrySession SessionWriter::fold(std::optional<std::int64_t> end_ns, std::string_view cut_off) const {
    const std::vector<Event> events = core_->log.snapshot();
    return fold_session(header(end_ns, cut_off), events, core_->code_metrics(), *prices(), now_ns());
}

void SessionWriter::count_failure(const char* operation, const std::string& error) {
    ++write_errors_;
    get_error_handler().record(operation, error);
}

namespace {

/// The lowest priority (nice 19) for the calling thread and the git processes it starts, which
/// inherit it: on a CPU the host keeps busy, the host's threads get nearly all of it and the
/// worker a small share (about 1.5 % against one busy thread) — more than the journal needs, so
/// it stays within a flush interval or so of the host, never starved. (SCHED_IDLE, tried
/// first, starved it on a machine busy with other processes: a killed process lost its journal.)
void run_at_lowest_priority() noexcept {
#ifdef __linux__
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
#endif
}

}  // namespace

void SessionWriter::run_worker() {
    // Named, so `top -H` and `ps -L` tell it apart from the host's threads (15 bytes at most).
    ::pthread_setname_np(::pthread_self(), "sop-telemetry");
    run_at_lowest_priority();
    // Two cadences: the journal is appended (and synced) once per flush interval; git
    // snapshots for code metrics are taken when tasks start or end, one batch at a time and
    // spaced so that git gets at most 1 % of a CPU: at least kMinSnapshotSpacing, or 100 times
    // what the last snapshot took (a large work tree). Back-to-back short tasks share a snapshot
    // instead of each starting git. And whenever woken: a fresh memory slab for the recording
    // threads, if they took the spare.
    using Clock = std::chrono::steady_clock;
    constexpr auto kMinSnapshotSpacing = std::chrono::milliseconds(1000);
    constexpr int kSnapshotCpuShare = 100;  // spacing / cost
    auto last_flush = Clock::now();
    auto next_snapshot = Clock::now();
    while (!stop_.load()) {
        if (core_->log.slabs().needs_spare()) core_->log.slabs().prepare_spare();
        const auto now = Clock::now();
        // From the interval in force now: a shorter one set while waiting applies at once.
        const auto next_flush = last_flush + std::chrono::milliseconds(interval_ms_.load());
        auto wake_at = next_flush;
        if (core_->has_code_jobs()) wake_at = std::min(wake_at, std::max(now, next_snapshot));
        if (wake_at > now) {
            core_->wait_for_work(
                std::chrono::duration_cast<std::chrono::milliseconds>(wake_at - now).count() + 1);
            continue;  // woken early (new jobs, new interval, stop): plan again
        }
        try {
            std::lock_guard io(io_mutex_);
            if (core_->has_code_jobs() && now >= next_snapshot) {
                process_code_jobs(&io_waiters_);
                const auto done = Clock::now();
                next_snapshot = done + std::max<Clock::duration>(kMinSnapshotSpacing,
                                                                 (done - now) * kSnapshotCpuShare);
            }
            if (now >= next_flush) {
                append_journal();
                last_flush = Clock::now();
            }
        } catch (const std::exception& error) {
            get_error_handler().record("worker", error.what());
        }
    }
}

/// Everything pending, at once (explicit flushes).
void SessionWriter::tick() {
    process_code_jobs();
    append_journal();
}

void SessionWriter::process_code_jobs(const std::atomic<int>* cancel) {
    const std::vector<CodeSnapshotJob> jobs = core_->take_code_jobs();
    if (jobs.empty()) return;
    std::string root, storage;
    {
        std::lock_guard lock(state_mutex_);
        root = environment_.project_root;
        std::error_code ignored;
        storage = std::filesystem::weakly_canonical(store_->directory(), ignored).string();
    }
    // One snapshot serves every job of the batch: they all happened since the last one.
    const TreeSnapshot snapshot = snapshot_git_tree(root, storage, cancel);
    if (!snapshot.valid && cancel != nullptr && cancel->load() != 0) {
        core_->return_code_jobs(jobs);
        return;
    }
    for (const CodeSnapshotJob& job : jobs) {
        if (!job.at_end) {
            task_start_snapshots_[job.task_span] = snapshot;
            continue;
        }
        auto start = task_start_snapshots_.find(job.task_span);
        if (start == task_start_snapshots_.end()) continue;
        CodeMetrics metrics = diff_snapshots(start->second, snapshot);
        task_start_snapshots_.erase(start);
        pending_lines_ += journal_code_metrics_line(job.task_span, metrics);
        core_->set_code_metrics(job.task_span, std::move(metrics));
    }
}

bool SessionWriter::ensure_journal_open() {
    if (journal_.is_open()) return true;
    std::string path;
    {
        std::lock_guard lock(state_mutex_);
        if (!store_->ensure_directory()) {
            storage_ok_ = false;
            return false;
        }
        path = store_->journal_path(core_->session_id);
    }
    std::string error;
    if (!journal_.open(path, header(std::nullopt), error)) {
        storage_ok_ = false;
        count_failure("journal", error);
        return false;
    }
    std::lock_guard lock(state_mutex_);
    environment_changed_ = false;
    return true;
}

bool SessionWriter::append_journal() {
    if (!journal_enabled_ || !ensure_journal_open()) return false;
    constexpr std::size_t kKeptCapacity = std::size_t{4} << 20;  // beyond: given back after use
    if (journal_lines_.capacity() > kKeptCapacity) std::string().swap(journal_lines_);
    std::string& lines = journal_lines_;
    lines.clear();
    {
        std::lock_guard lock(state_mutex_);
        if (environment_changed_) {
            JsonWriter out(lines);
            out.begin_object().key("environment");
            write_environment(out, environment_);
            out.end_object();
            lines += '\n';
        }
    }
    lines += pending_lines_;
    std::vector<std::pair<const ThreadBuffer*, std::size_t>> advanced;
    std::vector<const Event*>& batch = journal_batch_;
    for (const ThreadBuffer* buffer : core_->log.buffers()) {
        batch.clear();
        const std::size_t end = buffer->read_from(cursors_[buffer], [&](const Event& event) { batch.push_back(&event); });
        append_span_lines(batch, lines);
        advanced.emplace_back(buffer, end);
    }
    const std::uint64_t dropped = core_->log.dropped();
    if (dropped != journaled_dropped_) lines += journal_dropped_line(dropped);
    if (lines.empty()) return true;
    std::string error;
    if (!journal_.append(lines, error)) {
        storage_ok_ = false;
        count_failure("journal", error);
        return false;  // cursors stay: the same events are retried on the next tick
    }
    storage_ok_ = true;
    for (const auto& [buffer, end] : advanced) cursors_[buffer] = end;
    journaled_dropped_ = dropped;
    pending_lines_.clear();
    std::lock_guard lock(state_mutex_);
    environment_changed_ = false;
    return true;
}

bool SessionWriter::write_session_file(std::optional<std::int64_t> end_ns, std::string_view cut_off) {
    const TelemetrySession session = fold(end_ns, cut_off);
    std::lock_guard lock(state_mutex_);
    if (!store_->write_session(session)) {
        storage_ok_ = false;
        ++write_errors_;
        return false;
    }
    storage_ok_ = true;
    return true;
}

bool SessionWriter::flush() {
    const auto io = lock_io_ahead_of_worker();
    tick();
    return write_session_file(std::nullopt);
}

void SessionWriter::stop_worker() {
    stop_ = true;
    ++io_waiters_;  // for good: the worker's git stops, this thread takes the snapshot
    core_->notify_worker();
    if (worker_.joinable()) worker_.join();
}

void SessionWriter::discard() {
    stop_worker();
    std::lock_guard io(io_mutex_);
    if (finished_) return;
    journal_.close(true);
    std::lock_guard lock(state_mutex_);
    ::unlink(store_->session_path(core_->session_id).c_str());
    finished_ = true;
}

bool SessionWriter::finish(std::string_view cut_off) {
    stop_worker();
    std::lock_guard io(io_mutex_);
    if (finished_) return true;
    process_code_jobs();
    const bool written = write_session_file(now_ns(), cut_off);
    if (written) {
        journal_.close(true);
    } else {
        append_journal();  // keep everything in the journal for the next start to recover
        journal_.close(false);
    }
    finished_ = written;
    return written;
}

}  // namespace sop_telemetry::detail
