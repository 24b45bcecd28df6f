// The session view types. Lists and the per-model map are bound as opaque containers, so
// `session.tasks[0].agents[0]` reads the C++ objects in place instead of copying whole lists.
// Times are timezone-aware UTC datetimes; durations are float seconds.
#include "bindings.hpp"

#include <sop_telemetry/types.hpp>

#include <nanobind/stl/bind_map.h>
#include <nanobind/stl/bind_vector.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

namespace nb = nanobind;
using namespace nb::literals;

NB_MAKE_OPAQUE(std::vector<sop_telemetry::TaskExecution>)
NB_MAKE_OPAQUE(std::vector<sop_telemetry::AgentExecution>)
NB_MAKE_OPAQUE(std::vector<sop_telemetry::ToolExecution>)
NB_MAKE_OPAQUE(std::vector<sop_telemetry::LLMCall>)
NB_MAKE_OPAQUE(std::vector<sop_telemetry::Span>)
NB_MAKE_OPAQUE(std::map<std::string, sop_telemetry::TokenUsage>)

namespace sop_telemetry::python {

namespace {

nb::object to_datetime(Timestamp time) {
    // Leaked on purpose: a static Python object would be released after the interpreter ended.
    static nb::object& from_timestamp = *new nb::object([] {
        nb::module_ datetime = nb::module_::import_("datetime");
        nb::object utc = datetime.attr("timezone").attr("utc");
        nb::object cls = datetime.attr("datetime");
        return nb::cpp_function([cls, utc](double seconds) {
            return cls.attr("fromtimestamp")(seconds, utc);
        });
    }());
    return from_timestamp(static_cast<double>(time.time_since_epoch().count()) / 1e6);
}

nb::object to_optional_datetime(const std::optional<Timestamp>& time) {
    return time ? to_datetime(*time) : nb::none();
}

/// start_time / end_time properties for any view type that has them.
template <typename T, typename Class>
void bind_times(Class& cls) {
    cls.def_prop_ro("start_time", [](const T& self) { return to_datetime(self.start_time); },
                    nb::for_getter(nb::sig("def start_time(self, /) -> datetime.datetime")))
        .def_prop_ro("end_time", [](const T& self) { return to_optional_datetime(self.end_time); },
                     nb::for_getter(nb::sig("def end_time(self, /) -> datetime.datetime | None")));
}

}  // namespace

void bind_types(nb::module_& m) {
    nb::enum_<TaskStatus>(m, "TaskStatus")
        .value("RUNNING", TaskStatus::running)
        .value("COMPLETED", TaskStatus::completed)
        .value("FAILED", TaskStatus::failed)
        .value("CANCELLED", TaskStatus::cancelled)
        .value("TIMEOUT", TaskStatus::timeout)
        .value("MAX_STEPS", TaskStatus::max_steps);
    nb::enum_<SpanKind>(m, "SpanKind")
        .value("TASK", SpanKind::task)
        .value("AGENT", SpanKind::agent)
        .value("STEP", SpanKind::step)
        .value("LLM", SpanKind::llm)
        .value("TOOL", SpanKind::tool)
        .value("OTHER", SpanKind::other);

    nb::class_<TokenUsage>(m, "TokenUsage")
        .def(nb::init<>())
        .def_rw("prompt_tokens", &TokenUsage::prompt_tokens)
        .def_rw("completion_tokens", &TokenUsage::completion_tokens)
        .def_rw("total_tokens", &TokenUsage::total_tokens)
        .def_rw("cache_read_tokens", &TokenUsage::cache_read_tokens)
        .def_rw("cache_write_tokens", &TokenUsage::cache_write_tokens)
        .def_rw("reasoning_tokens", &TokenUsage::reasoning_tokens)
        .def_rw("call_count", &TokenUsage::call_count)
        .def_rw("model_breakdown", &TokenUsage::model_breakdown, nb::rv_policy::reference_internal)
        .def_rw("cost_estimate", &TokenUsage::cost_estimate)
        .def_rw("unpriced_models", &TokenUsage::unpriced_models)
        .def("__repr__", [](const TokenUsage& u) {
            return "TokenUsage(prompt_tokens=" + std::to_string(u.prompt_tokens) +
                   ", completion_tokens=" + std::to_string(u.completion_tokens) +
                   ", total_tokens=" + std::to_string(u.total_tokens) + ")";
        });
    nb::bind_map<std::map<std::string, TokenUsage>>(m, "ModelBreakdown");

    nb::class_<EnvironmentInfo>(m, "EnvironmentInfo")
        .def(nb::init<>())
        .def_rw("os_type", &EnvironmentInfo::os_type)
        .def_rw("os_version", &EnvironmentInfo::os_version)
        .def_rw("python_version", &EnvironmentInfo::python_version)
        .def_rw("working_directory", &EnvironmentInfo::working_directory)
        .def_rw("project_root", &EnvironmentInfo::project_root)
        .def_rw("user_name", &EnvironmentInfo::user_name)
        .def_rw("timezone", &EnvironmentInfo::timezone)
        .def_rw("environment_variables", &EnvironmentInfo::environment_variables)
        .def_rw("hostname", &EnvironmentInfo::hostname)
        .def_rw("engine_version", &EnvironmentInfo::engine_version);

    nb::class_<CodeMetrics>(m, "CodeMetrics")
        .def(nb::init<>())
        .def_rw("measured", &CodeMetrics::measured)
        .def_rw("files_changed", &CodeMetrics::files_changed)
        .def_rw("lines_added", &CodeMetrics::lines_added)
        .def_rw("lines_removed", &CodeMetrics::lines_removed)
        .def_rw("files", &CodeMetrics::files);

    auto span = nb::class_<Span>(m, "Span")
        .def_ro("span_id", &Span::span_id)
        .def_ro("parent_id", &Span::parent_id)
        .def_ro("kind", &Span::kind)
        .def_ro("name", &Span::name)
        .def_ro("detail", &Span::detail)
        .def_ro("category", &Span::category)
        .def_ro("task_id", &Span::task_id)
        .def_ro("status", &Span::status)
        .def_ro("error", &Span::error)
        .def_prop_ro("prompt_tokens", [](const Span& s) { return s.tokens.prompt_tokens; })
        .def_prop_ro("completion_tokens", [](const Span& s) { return s.tokens.completion_tokens; })
        .def_ro("cost", &Span::cost)
        .def_prop_ro("duration", &Span::duration);
    bind_times<Span>(span);

    auto agent = nb::class_<AgentExecution>(m, "AgentExecution")
        .def_ro("span_id", &AgentExecution::span_id)
        .def_ro("parent_id", &AgentExecution::parent_id)
        .def_ro("agent_type", &AgentExecution::agent_type)
        .def_ro("agent_name", &AgentExecution::agent_name)
        .def_ro("duration", &AgentExecution::duration)
        .def_ro("status", &AgentExecution::status)
        .def_ro("error", &AgentExecution::error);
    bind_times<AgentExecution>(agent);

    auto tool = nb::class_<ToolExecution>(m, "ToolExecution")
        .def_ro("span_id", &ToolExecution::span_id)
        .def_ro("parent_id", &ToolExecution::parent_id)
        .def_ro("tool_name", &ToolExecution::tool_name)
        .def_ro("duration", &ToolExecution::duration)
        .def_ro("success", &ToolExecution::success)
        .def_ro("error", &ToolExecution::error);
    bind_times<ToolExecution>(tool);

    auto llm = nb::class_<LLMCall>(m, "LLMCall")
        .def_ro("span_id", &LLMCall::span_id)
        .def_ro("parent_id", &LLMCall::parent_id)
        .def_ro("model", &LLMCall::model)
        .def_ro("prompt_tokens", &LLMCall::prompt_tokens)
        .def_ro("completion_tokens", &LLMCall::completion_tokens)
        .def_ro("total_tokens", &LLMCall::total_tokens)
        .def_ro("cache_read_tokens", &LLMCall::cache_read_tokens)
        .def_ro("cache_write_tokens", &LLMCall::cache_write_tokens)
        .def_ro("reasoning_tokens", &LLMCall::reasoning_tokens)
        .def_ro("duration", &LLMCall::duration)
        .def_ro("cost_estimate", &LLMCall::cost_estimate)
        .def_ro("success", &LLMCall::success)
        .def_ro("error", &LLMCall::error);
    bind_times<LLMCall>(llm);

    nb::bind_vector<std::vector<AgentExecution>>(m, "AgentExecutionList");
    nb::bind_vector<std::vector<ToolExecution>>(m, "ToolExecutionList");
    nb::bind_vector<std::vector<LLMCall>>(m, "LLMCallList");
    nb::bind_vector<std::vector<Span>>(m, "SpanList");

    auto task = nb::class_<TaskExecution>(m, "TaskExecution")
        .def_ro("task_id", &TaskExecution::task_id)
        .def_ro("description", &TaskExecution::description)
        .def_ro("status", &TaskExecution::status)
        .def_ro("sop_category", &TaskExecution::sop_category)
        .def_ro("agents", &TaskExecution::agents, nb::rv_policy::reference_internal)
        .def_ro("tools", &TaskExecution::tools, nb::rv_policy::reference_internal)
        .def_ro("llm_calls", &TaskExecution::llm_calls, nb::rv_policy::reference_internal)
        .def_ro("code_changes", &TaskExecution::code_changes, nb::rv_policy::reference_internal)
        .def_ro("total_tokens", &TaskExecution::total_tokens, nb::rv_policy::reference_internal)
        .def_ro("span_id", &TaskExecution::span_id)
        .def_ro("duration", &TaskExecution::duration);
    bind_times<TaskExecution>(task);
    nb::bind_vector<std::vector<TaskExecution>>(m, "TaskExecutionList");

    auto session = nb::class_<TelemetrySession>(m, "TelemetrySession")
        .def_ro("session_id", &TelemetrySession::session_id)
        .def_ro("environment", &TelemetrySession::environment, nb::rv_policy::reference_internal)
        .def_ro("tasks", &TelemetrySession::tasks, nb::rv_policy::reference_internal)
        .def_ro("total_tokens", &TelemetrySession::total_tokens, nb::rv_policy::reference_internal)
        .def_ro("total_duration", &TelemetrySession::total_duration)
        .def_ro("outside_tasks", &TelemetrySession::outside_tasks, nb::rv_policy::reference_internal)
        .def_ro("spans", &TelemetrySession::spans, nb::rv_policy::reference_internal)
        .def_ro("incomplete", &TelemetrySession::incomplete)
        .def_ro("dropped_events", &TelemetrySession::dropped_events)
        .def_ro("price_table_version", &TelemetrySession::price_table_version)
        .def_ro_static("schema_version", &TelemetrySession::schema_version)
        .def("to_json", &TelemetrySession::to_json)
        .def_static(
            "from_json",
            [](std::string_view json) { return TelemetrySession::from_json(json); }, "json"_a);
    bind_times<TelemetrySession>(session);
}

}  // namespace sop_telemetry::python
