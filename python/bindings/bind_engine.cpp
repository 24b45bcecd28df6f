// The engine's entry points: Config, TelemetryCollector, TelemetryManager and the error handler.
// Calls that may wait on the engine's locks or do I/O release the GIL, so that the engine's
// worker thread can always log through the Python callback without a deadlock.
#include "bindings.hpp"

#include <sop_telemetry/telemetry.hpp>

#include <nanobind/stl/chrono.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/set.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <Python.h>

namespace nb = nanobind;
using namespace nb::literals;

namespace sop_telemetry::python {

namespace {

using release_gil = nb::call_guard<nb::gil_scoped_release>;

bool interpreter_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing() != 0;
#else
    return _Py_IsFinalizing() != 0;
#endif
}

/// The engine's diagnostics go to a Python callable(level: int, message: str); None drops them,
/// and so do lines logged while the interpreter shuts down — from Python nothing is printed on
/// the host's stderr (errors still count in the error summary).
void set_log_callback(nb::object callback) {
    if (callback.is_none()) {
        get_error_handler().set_log_callback([](LogLevel, std::string_view) {});
        return;
    }
    auto shared = std::shared_ptr<nb::object>(new nb::object(std::move(callback)), [](nb::object* p) {
        if (interpreter_finalizing()) return;  // leak rather than touch a dying interpreter
        nb::gil_scoped_acquire gil;
        delete p;
    });
    get_error_handler().set_log_callback([shared](LogLevel level, std::string_view message) {
        if (interpreter_finalizing() || !Py_IsInitialized()) return;  // no Python logging left
        nb::gil_scoped_acquire gil;
        try {
            (*shared)(static_cast<int>(level), nb::str(message.data(), message.size()));
        } catch (nb::python_error& error) {
            error.discard_as_unraisable("sop_telemetry log callback");
        }
    });
}

nb::list error_summary() {
    nb::list out;
    for (const ErrorRecord& record : get_error_handler().get_error_summary()) {
        nb::dict item;
        item["operation"] = record.operation;
        item["count"] = record.count;
        item["recent_messages"] = record.recent_messages;
        item["last_time_us"] = record.last_time_us;
        out.append(item);
    }
    return out;
}

nb::dict file_stats(const std::string& storage_path, const StoredFilesStats& stats) {
    nb::dict out;
    out["storage_path"] = storage_path;
    out["total_files"] = stats.total_files;
    out["total_bytes"] = stats.total_bytes;
    out["journal_files"] = stats.journal_files;
    out["oldest_session_id"] = stats.oldest_session_id;
    out["newest_session_id"] = stats.newest_session_id;
    return out;
}

nb::dict storage_stats(const StorageStats& stats) {
    nb::dict out = file_stats(stats.storage_path, stats);
    out["active_collectors"] = stats.active_collectors;
    out["write_errors"] = stats.write_errors;
    out["storage_available"] = stats.storage_available;
    out["session_id"] = stats.session_id;
    out["events_recorded"] = stats.events_recorded;
    out["dropped_events"] = stats.dropped_events;
    out["memory_bytes"] = stats.memory_bytes;
    return out;
}

void bind_config(nb::module_& m) {
    nb::enum_<LogLevel>(m, "LogLevel")
        .value("DEBUG", LogLevel::debug)
        .value("INFO", LogLevel::info)
        .value("WARNING", LogLevel::warning)
        .value("ERROR", LogLevel::error)
        .value("OFF", LogLevel::off);
    nb::class_<Config>(m, "Config")
        .def(nb::init<>())
        .def_rw("enabled", &Config::enabled)
        .def_rw("storage_dir", &Config::storage_dir)
        .def_rw("max_file_age_days", &Config::max_file_age_days)
        .def_rw("auto_cleanup", &Config::auto_cleanup)
        .def_prop_rw(
            "flush_interval",
            [](const Config& c) { return std::chrono::duration<double>(c.flush_interval).count(); },
            [](Config& c, double seconds) {
                c.flush_interval = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
            })
        .def_rw("max_memory_sessions", &Config::max_memory_sessions)
        .def_rw("max_events_per_session", &Config::max_events_per_session)
        .def_rw("journal", &Config::journal)
        .def_rw("code_metrics", &Config::code_metrics)
        .def_rw("handle_sigterm", &Config::handle_sigterm)
        .def_rw("env_allowlist", &Config::env_allowlist)
        .def_rw("price_file", &Config::price_file)
        .def_rw("log_level", &Config::log_level);
}

void bind_collector(nb::module_& m) {
    nb::class_<TelemetryCollector>(m, "TelemetryCollector")
        .def(nb::init<>(), release_gil())
        .def("start_task", &TelemetryCollector::start_task, "task_id"_a, "description"_a,
             "sop_category"_a = "")
        .def("open_task", &TelemetryCollector::open_task, "task_id"_a, "description"_a,
             "sop_category"_a = "", "parent_id"_a = 0)
        .def("end_task", &TelemetryCollector::end_task, "task_id"_a,
             "status"_a = TaskStatus::completed)
        .def(
            "record_llm_call",
            [](TelemetryCollector& c, std::string_view model, std::int64_t prompt,
               std::int64_t completion, double duration, std::int64_t cache_read,
               std::int64_t cache_write, std::int64_t reasoning, std::string_view error,
               std::uint64_t parent_id) {
                c.record_llm_call({model, {prompt, completion, cache_read, cache_write, reasoning},
                                   duration, error, parent_id});
            },
            "model"_a, "prompt_tokens"_a, "completion_tokens"_a, "duration"_a,
            "cache_read_tokens"_a = 0, "cache_write_tokens"_a = 0, "reasoning_tokens"_a = 0,
            "error"_a = "", "parent_id"_a = 0)
        .def("record_agent_execution", &TelemetryCollector::record_agent_execution,
             "agent_type"_a, "agent_name"_a, "duration"_a, "parent_id"_a = 0)
        .def("record_tool_usage", &TelemetryCollector::record_tool_usage, "tool_name"_a,
             "duration"_a, "success"_a = true, "error"_a = "", "parent_id"_a = 0)
        .def("begin_span", &TelemetryCollector::begin_span, "kind"_a, "name"_a,
             "parent_id"_a = 0, "detail"_a = "")
        .def(
            "end_span",
            [](TelemetryCollector& c, std::uint64_t span_id, TaskStatus status,
               std::string_view error, std::int64_t prompt, std::int64_t completion,
               std::int64_t cache_read, std::int64_t cache_write, std::int64_t reasoning) {
                c.end_span(span_id, {status, error, {prompt, completion, cache_read, cache_write, reasoning}});
            },
            "span_id"_a, "status"_a = TaskStatus::completed, "error"_a = "", "prompt_tokens"_a = 0,
            "completion_tokens"_a = 0, "cache_read_tokens"_a = 0, "cache_write_tokens"_a = 0,
            "reasoning_tokens"_a = 0)
        .def("current_span", &TelemetryCollector::current_span)
        .def("is_enabled", &TelemetryCollector::is_enabled);
}

void bind_manager(nb::module_& m) {
    nb::class_<TelemetryManager>(m, "TelemetryManager")
        .def(nb::init<>())
        .def_static("get_instance", &TelemetryManager::get_instance, nb::rv_policy::reference)
        .def("initialize", nb::overload_cast<>(&TelemetryManager::initialize), release_gil())
        .def("initialize", nb::overload_cast<const Config&>(&TelemetryManager::initialize),
             "config"_a, release_gil())
        .def("is_initialized", &TelemetryManager::is_initialized)
        .def("get_collector", &TelemetryManager::get_collector, release_gil())
        .def("flush_data", &TelemetryManager::flush_data, release_gil())
        .def(
            "get_session_data",
            [](TelemetryManager& manager, std::optional<std::string> id) {
                nb::gil_scoped_release release;
                return id ? manager.get_session_data(*id) : manager.get_session_data();
            },
            "session_id"_a = nb::none())
        .def("get_storage_stats",
             [](TelemetryManager& manager) {
                 StorageStats stats;
                 {
                     nb::gil_scoped_release release;
                     stats = manager.get_storage_stats();
                 }
                 return storage_stats(stats);
             })
        .def("get_all_session_ids", &TelemetryManager::get_all_session_ids, release_gil())
        .def("enable_telemetry", &TelemetryManager::enable_telemetry, release_gil())
        .def("disable_telemetry", &TelemetryManager::disable_telemetry, release_gil())
        .def("is_enabled", &TelemetryManager::is_enabled, release_gil())
        .def("cleanup_old_data", &TelemetryManager::cleanup_old_data, "max_age_days"_a, release_gil())
        .def("recover_sessions", &TelemetryManager::recover_sessions, release_gil())
        .def("shutdown", &TelemetryManager::shutdown, release_gil())
        .def("discard_if_empty", &TelemetryManager::discard_if_empty, release_gil(),
             "Ends the session leaving no file if it recorded nothing at all; else False.")
        .def("session_id", &TelemetryManager::session_id, release_gil())
        .def("config", &TelemetryManager::config, release_gil())
        .def("set_python_version", &TelemetryManager::set_python_version, "version"_a, release_gil());
}

void bind_data_store(nb::module_& m) {
    nb::class_<TelemetryDataStore>(m, "TelemetryDataStore")
        .def(nb::init<std::string>(), "directory"_a)
        .def_prop_ro("directory", &TelemetryDataStore::directory)
        .def_static("is_valid_session_id", &TelemetryDataStore::is_valid_session_id, "session_id"_a)
        .def("session_path", &TelemetryDataStore::session_path, "session_id"_a)
        .def("list_session_ids", &TelemetryDataStore::list_session_ids, release_gil())
        .def(
            "read_session",
            [](const TelemetryDataStore& store, std::string_view id) {
                return store.read_session(id, PriceTable::built_in());
            },
            "session_id"_a, release_gil())
        .def("stats",
             [](const TelemetryDataStore& store) {
                 StoredFilesStats stats;
                 {
                     nb::gil_scoped_release release;
                     stats = store.stats();
                 }
                 return file_stats(store.directory(), stats);
             })
        .def("cleanup",
             [](TelemetryDataStore& store, int max_age_days) { return store.cleanup(max_age_days, {}); },
             "max_age_days"_a, release_gil())
        .def("recover_journals",
             [](TelemetryDataStore& store) { return store.recover_journals({}, PriceTable::built_in()); },
             release_gil());
}

}  // namespace

void bind_engine(nb::module_& m) {
    bind_config(m);
    bind_collector(m);
    bind_manager(m);
    bind_data_store(m);
    m.def("default_storage_dir", [] { return default_storage_dir(); });
    m.def("record_error", [](std::string_view operation, std::string_view message) {
        get_error_handler().record(operation, message);
    }, "operation"_a, "message"_a);
    m.def("get_error_summary", &error_summary);
    m.def("reset_error_state", [] { get_error_handler().reset_error_state(); });
    m.def("total_errors", [] { return get_error_handler().total_errors(); });
    m.def("set_log_callback", &set_log_callback, "callback"_a.none(),
          "The engine's diagnostics go to callback(level, message); None drops them (errors still "
          "count in the error summary).");
    m.def("set_log_level", [](LogLevel level) { get_error_handler().set_log_level(level); });
    m.def("resolve_config", [](const Config& config) {
        std::vector<std::string> problems;
        Config resolved = resolve_config(config, &problems);
        return std::make_pair(resolved, problems);
    });
    m.def("engine_version", [] { return std::string(engine_version()); });
}

}  // namespace sop_telemetry::python
