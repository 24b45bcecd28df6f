#include <sop_telemetry/data_store.hpp>
#include <sop_telemetry/environment.hpp>
#include <sop_telemetry/error_handler.hpp>
#include <sop_telemetry/manager.hpp>

#include "detail/file_io.hpp"
#include "detail/session_writer.hpp"
#include "detail/termination.hpp"

#include <cstdio>
#include <cstdlib>
#include <list>
#include <mutex>
#include <random>
#include <unistd.h>

namespace sop_telemetry {

namespace {

/// "20261124T192142.123456Z-4711-a3f9": start time first, so ids sort by start time.
std::string new_session_id(std::int64_t start_ns) {
    const std::int64_t micros = start_ns / 1000;
    const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
    std::tm parts{};
    gmtime_r(&seconds, &parts);
    std::random_device random;
    char id[64];
    std::snprintf(id, sizeof id, "%04d%02d%02dT%02d%02d%02d.%06ldZ-%d-%04x", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                  static_cast<long>(micros % 1'000'000), static_cast<int>(::getpid()),
                  static_cast<unsigned>(random() & 0xFFFF));
    return id;
}

/// The manager get_instance() gives: the only one that answers SIGTERM (the others may be
/// destroyed while the handler lives).
TelemetryManager* g_process_manager = nullptr;

/// How long writing the session may hold up the end of a process that SIGTERM asked to go.
constexpr std::chrono::milliseconds kTerminationDeadline{5000};

}  // namespace

struct TelemetryManager::Impl {
    mutable std::mutex mutex;
    bool initialized = false;
    bool closed = false;
    Config config;
    pid_t owner_pid = ::getpid();
    /// A forked child: the parent owns the files, the child writes none of them.
    bool forked() const noexcept { return ::getpid() != owner_pid; }
    std::shared_ptr<detail::SessionCore> core;
    std::unique_ptr<detail::SessionWriter> writer;
    std::string pending_python_version;
    /// A session read from its file, and the file as it was then.
    struct CachedSession {
        std::string id;
        detail::FileStamp stamp;
        std::shared_ptr<TelemetrySession> session;
    };
    std::list<CachedSession> cache;  // newest first
    bool is_process_manager = false;  // get_instance()'s
    bool answers_sigterm = false;

    void apply_log_level() { get_error_handler().set_log_level(config.log_level); }

    void start_session() {
        const std::int64_t start = detail::now_ns();
        core = std::make_shared<detail::SessionCore>(new_session_id(start), start,
                                                     config.max_events_per_session);
        core->code_metrics_enabled = config.code_metrics;
        EnvironmentInfo environment = collect_environment(config.env_allowlist);
        environment.python_version = pending_python_version;
        const auto prices = PriceTable::for_config(config);
        writer = std::make_unique<detail::SessionWriter>(core, config.storage_dir, prices,
                                                         std::move(environment), config.journal);
        if (writer->storage_available())
            TelemetryDataStore(config.storage_dir).recover_journals({core->session_id}, *prices);
        writer->start(config.flush_interval);
        get_error_handler().log(LogLevel::debug, "session " + core->session_id + " started in " +
                                                     config.storage_dir);
        answer_sigterm(config.handle_sigterm);
    }

    /// SIGTERM writes the session first (detail/termination.hpp): for the process-wide manager,
    /// in the process that started the session, while the program has no handler of its own.
    /// Asked again on every initialize(): a program may have put SIGTERM's default action back.
    void answer_sigterm(bool wanted) {
        if (wanted && is_process_manager && !forked() && core && !closed && !detail::termination_requested()) {
            detail::install_termination_handler(
                [] { TelemetryManager::get_instance().end_session("terminated by SIGTERM"); }, kTerminationDeadline);
            answers_sigterm = true;  // even when not installed: a program's handler may chain to ours
        } else if (answers_sigterm) {
            detail::uninstall_termination_handler();
            answers_sigterm = false;
        }
    }

    /// The session's end (shutdown, or SIGTERM with `cut_off` as the reason). Under `mutex`.
    void finish(std::string_view cut_off) {
        if (closed) return;
        closed = true;
        if (!core || forked()) return;
        core->enabled = false;
        // A task the program never ended is over with it: cancelled, not running for ever.
        // A lane of its own: at exit (atexit) this thread's buffer cache is already gone.
        TelemetryCollector collector = TelemetryCollector(core).serialized();
        const std::vector<std::uint64_t> open = core->open_task_spans();
        for (auto it = open.rbegin(); it != open.rend(); ++it) collector.end_span(*it, {TaskStatus::cancelled, {}, {}});
        if (writer->finish(cut_off)) get_error_handler().log(LogLevel::debug, "session " + core->session_id + " written");
        // At the end, not the start: the configuration in force by then decides (a Python
        // program's initialize() comes after the import has started the session).
        if (config.auto_cleanup && writer->storage_available())
            TelemetryDataStore(config.storage_dir).cleanup(config.max_file_age_days, {core->session_id});
        // Only now: a SIGTERM that came meanwhile (the program was exiting anyway) waited for
        // the file, and then ends the process as it would have.
        const bool answered = answers_sigterm;
        answer_sigterm(false);
        if (answered && detail::termination_requested()) detail::end_process_by_sigterm();
    }

    /// A new configuration for a running session.
    void reconfigure(const Config& next) {
        // These shape the session when it starts; a running one keeps them.
        const auto keeps = [](const char* option) {
            get_error_handler().record("config", std::string(option) +
                                                     " is fixed when the session starts: the running session keeps its own");
        };
        if (next.journal != config.journal) keeps("journal");
        if (next.max_events_per_session != config.max_events_per_session) keeps("max_events_per_session");
        if (next.env_allowlist != config.env_allowlist) keeps("env_allowlist");
        if (next.storage_dir != config.storage_dir) writer->move_to(next.storage_dir);
        if (next.flush_interval != config.flush_interval) writer->set_interval(next.flush_interval);
        if (next.price_file != config.price_file || next.storage_dir != config.storage_dir)
            writer->set_prices(PriceTable::for_config(next));
        core->enabled = next.enabled;
        core->code_metrics_enabled = next.code_metrics;
        const Config started = config;
        config = next;
        config.journal = started.journal;
        config.max_events_per_session = started.max_events_per_session;
        config.env_allowlist = started.env_allowlist;
        answer_sigterm(config.handle_sigterm);
    }
};

TelemetryManager& TelemetryManager::get_instance() noexcept {
    // Never destroyed: collectors may still record while other static objects go away.
    static TelemetryManager* instance = [] {
        auto* manager = new TelemetryManager();
        g_process_manager = manager;
        std::atexit([] { TelemetryManager::get_instance().shutdown(); });
        return manager;
    }();
    return *instance;
}

TelemetryManager::TelemetryManager() noexcept : impl_(new (std::nothrow) Impl) {}

TelemetryManager::~TelemetryManager() { shutdown(); }

bool TelemetryManager::initialize() noexcept {
    if (!impl_) return false;
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->initialized) return !impl_->closed;
    }
    return initialize(Config{});
}

bool TelemetryManager::initialize(const Config& requested) noexcept {
    if (!impl_) return false;
    try {
        std::lock_guard lock(impl_->mutex);
        if (impl_->closed) return false;
        std::vector<std::string> problems;
        const Config next = resolve_config(requested, &problems);
        const bool first = !impl_->initialized;
        impl_->initialized = true;
        if (first || !impl_->core) {
            impl_->config = next;
            impl_->apply_log_level();
            for (const auto& problem : problems) get_error_handler().record("config", problem);
            impl_->is_process_manager = this == g_process_manager;
            if (next.enabled) impl_->start_session();
            return true;
        }
        for (const auto& problem : problems) get_error_handler().record("config", problem);
        if (impl_->forked()) {  // moving storage would take the parent's files from under it
            get_error_handler().record("initialize", "a forked process does not reconfigure its parent's session");
            return false;
        }
        impl_->reconfigure(next);
        impl_->apply_log_level();
        return true;
    } catch (const std::exception& error) {
        get_error_handler().record("initialize", error.what());
        return false;
    }
}

bool TelemetryManager::is_initialized() const noexcept {
    if (!impl_) return false;
    std::lock_guard lock(impl_->mutex);
    return impl_->initialized;
}

TelemetryCollector TelemetryManager::get_collector() noexcept {
    initialize();
    if (!impl_) return TelemetryCollector(std::shared_ptr<detail::SessionCore>());
    std::lock_guard lock(impl_->mutex);
    return TelemetryCollector(impl_->core);
}

bool TelemetryManager::flush_data() noexcept {
    initialize();
    try {
        std::lock_guard lock(impl_->mutex);
        if (impl_->forked()) {
            get_error_handler().record("flush_data", "a forked process does not write its parent's session");
            return false;
        }
        return impl_->writer && !impl_->closed && impl_->writer->flush();
    } catch (const std::exception& error) {
        get_error_handler().record("flush_data", error.what());
        return false;
    }
}

std::optional<TelemetrySession> TelemetryManager::get_session_data() noexcept {
    initialize();
    try {
        std::lock_guard lock(impl_->mutex);
        if (!impl_->writer) return std::nullopt;
        return impl_->writer->fold(std::nullopt);
    } catch (const std::exception& error) {
        get_error_handler().record("get_session_data", error.what());
        return std::nullopt;
    }
}

std::optional<TelemetrySession> TelemetryManager::get_session_data(std::string_view id) noexcept {
    initialize();
    try {
        std::lock_guard lock(impl_->mutex);
        if (impl_->core && id == impl_->core->session_id && !impl_->closed)
            return impl_->writer->fold(std::nullopt);
        auto& cache = impl_->cache;
        TelemetryDataStore store(impl_->config.storage_dir);
        const auto stamp = detail::file_stamp(store.session_path(id));
        for (auto it = cache.begin(); it != cache.end(); ++it) {
            if (it->id != id) continue;
            if (!stamp || *stamp != it->stamp) {  // removed or rewritten since it was cached
                cache.erase(it);
                if (!stamp) return std::nullopt;
                break;
            }
            cache.splice(cache.begin(), cache, it);
            return *it->session;
        }
        const auto prices = impl_->writer ? impl_->writer->prices()
                                          : std::make_shared<PriceTable>(PriceTable::built_in());
        auto session = store.read_session(id, *prices);
        if (session && stamp && impl_->config.max_memory_sessions > 0) {
            cache.push_front({std::string(id), *stamp, std::make_shared<TelemetrySession>(*session)});
            while (cache.size() > static_cast<std::size_t>(impl_->config.max_memory_sessions))
                cache.pop_back();
        }
        return session;
    } catch (const std::exception& error) {
        get_error_handler().record("get_session_data", error.what());
        return std::nullopt;
    }
}

StorageStats TelemetryManager::get_storage_stats() noexcept {
    initialize();
    StorageStats stats;
    try {
        std::lock_guard lock(impl_->mutex);
        stats.storage_path = impl_->config.storage_dir;
        static_cast<StoredFilesStats&>(stats) = TelemetryDataStore(stats.storage_path).stats();
        if (impl_->core) {
            stats.session_id = impl_->core->session_id;
            stats.active_collectors = impl_->core->collectors.load();
            stats.events_recorded = impl_->core->log.recorded();
            stats.dropped_events = impl_->core->log.dropped();
            stats.memory_bytes = impl_->core->log.memory_bytes();
            stats.write_errors = impl_->writer->write_errors();
            stats.storage_available = impl_->writer->storage_available();
        }
    } catch (const std::exception& error) {
        get_error_handler().record("get_storage_stats", error.what());
    }
    return stats;
}

std::vector<std::string> TelemetryManager::get_all_session_ids() noexcept {
    initialize();
    try {
        std::lock_guard lock(impl_->mutex);
        std::vector<std::string> ids = TelemetryDataStore(impl_->config.storage_dir).list_session_ids();
        if (impl_->core && !impl_->closed &&
            std::find(ids.begin(), ids.end(), impl_->core->session_id) == ids.end()) {
            ids.push_back(impl_->core->session_id);
            std::sort(ids.begin(), ids.end());
        }
        return ids;
    } catch (const std::exception& error) {
        get_error_handler().record("get_all_session_ids", error.what());
        return {};
    }
}

void TelemetryManager::enable_telemetry() noexcept {
    initialize();
    try {
        std::lock_guard lock(impl_->mutex);
        if (impl_->closed) return;  // shut down: nothing more is recorded, nor said to be
        impl_->config.enabled = true;
        if (impl_->core) {
            impl_->core->enabled = true;
        } else if (!impl_->closed && resolve_config(impl_->config).enabled) {
            impl_->start_session();  // telemetry was off from the start
        }
    } catch (const std::exception& error) {
        get_error_handler().record("enable_telemetry", error.what());
    }
}

void TelemetryManager::disable_telemetry() noexcept {
    initialize();
    std::lock_guard lock(impl_->mutex);
    impl_->config.enabled = false;
    if (impl_->core) impl_->core->enabled = false;
}

bool TelemetryManager::is_enabled() const noexcept {
    if (!impl_) return false;
    std::lock_guard lock(impl_->mutex);
    return impl_->core && impl_->core->enabled.load() && !impl_->closed;
}

int TelemetryManager::cleanup_old_data(int max_age_days) noexcept {
    initialize();
    std::lock_guard lock(impl_->mutex);
    std::set<std::string> live;
    if (impl_->core) live.insert(impl_->core->session_id);
    impl_->cache.clear();
    return TelemetryDataStore(impl_->config.storage_dir).cleanup(max_age_days, live);
}

int TelemetryManager::recover_sessions() noexcept {
    initialize();
    try {
        std::lock_guard lock(impl_->mutex);
        std::set<std::string> live;
        if (impl_->core) live.insert(impl_->core->session_id);
        const auto prices = impl_->writer ? impl_->writer->prices()
                                          : std::make_shared<PriceTable>(PriceTable::built_in());
        return TelemetryDataStore(impl_->config.storage_dir).recover_journals(live, *prices);
    } catch (const std::exception& error) {
        get_error_handler().record("recover_sessions", error.what());
        return 0;
    }
}

void TelemetryManager::shutdown() noexcept { end_session({}); }

void TelemetryManager::end_session(std::string_view cut_off) noexcept {
    if (!impl_) return;
    try {
        if (!cut_off.empty()) {
            // The thread that would log through Python may hold the GIL for long: the process
            // is going, and the diagnostics stay in the error summary all the same.
            get_error_handler().set_log_level(LogLevel::off);
            if (discard_if_empty()) return;  // nothing recorded: no file
        }
        std::lock_guard lock(impl_->mutex);
        impl_->finish(cut_off);
    } catch (const std::exception& error) {
        get_error_handler().record("shutdown", error.what());
    }
}

bool TelemetryManager::discard_if_empty() noexcept {
    if (!impl_) return false;
    try {
        std::lock_guard lock(impl_->mutex);
        if (impl_->closed || !impl_->core || impl_->forked()) return false;
        const bool was_enabled = impl_->core->enabled.exchange(false);  // nothing new meanwhile
        if (impl_->core->log.recorded() != 0) {
            impl_->core->enabled = was_enabled;
            return false;
        }
        impl_->closed = true;
        impl_->writer->discard();
        return true;
    } catch (const std::exception& error) {
        get_error_handler().record("shutdown", error.what());
        return false;
    }
}

std::string TelemetryManager::session_id() const noexcept {
    if (!impl_) return {};
    std::lock_guard lock(impl_->mutex);
    return impl_->core ? impl_->core->session_id : std::string{};
}

Config TelemetryManager::config() const noexcept {
    if (!impl_) return {};
    std::lock_guard lock(impl_->mutex);
    return impl_->config;
}

void TelemetryManager::set_python_version(std::string_view version) noexcept {
    if (!impl_) return;
    try {
        std::lock_guard lock(impl_->mutex);
        impl_->pending_python_version = version;
        if (impl_->writer) impl_->writer->set_python_version(version);
    } catch (...) {
        get_error_handler().record("set_python_version", "out of memory");
    }
}

}  // namespace sop_telemetry
