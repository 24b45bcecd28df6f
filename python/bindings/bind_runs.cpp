// Agent runs (MultiStepAgent.run), the engine half: the Python wrapper (wrap_run in
// _smolagents_wrappers.py) calls begin_agent_run before a run and end_agent_run when it returns,
// raises, or — streamed — its generator ends. A run hangs under the open step or tool call of
// the agent that called it (a managed agent), else under the task the user opened; the
// outermost run with neither opens a task of its own, described by the run's task text. One
// call each way and no Python frame of telemetry in between, so a run costs a few
// microseconds. Neither call ever raises: failures go to the error handler.
#include "bindings.hpp"
#include "hook_state.hpp"

#include <nanobind/stl/optional.h>

namespace nb = nanobind;

namespace sop_telemetry::python {

namespace {

constexpr Py_ssize_t kMaxTaskText = 2000;  // characters of the task text kept as its description

/// str(task), its first kMaxTaskText characters.
std::string task_text(PyObject* task) {
    Ref text(PyObject_Str(task));
    if (text && PyUnicode_GET_LENGTH(text.get()) > kMaxTaskText) {
        text.reset(PyUnicode_Substring(text.get(), 0, kMaxTaskText));
    }
    if (!text) PyErr_Clear();
    return std::string(text_of(text.get()));
}

/// MAX_STEPS when the run's last step hit the step limit, else COMPLETED — also for an odd
/// agent whose memory cannot be read (the failure goes to the error handler).
TaskStatus run_outcome(PyObject* agent) noexcept {
    try {
        Ref memory(member(agent, names().memory));
        Ref steps(member(memory.get(), names().steps));
        if (!steps || !PyList_Check(steps.get()) || PyList_GET_SIZE(steps.get()) == 0) return TaskStatus::completed;
        Ref last(Py_NewRef(PyList_GET_ITEM(steps.get(), PyList_GET_SIZE(steps.get()) - 1)));
        Ref error(member(last.get(), names().error));
        if (error && type_name(error.get()) == "AgentMaxStepsError") return TaskStatus::max_steps;
    } catch (...) {
        record_failure("agent_run");
    }
    return TaskStatus::completed;
}

std::uint64_t begin_agent_run(PyObject* agent, PyObject* task) {
    HookState& s = state();
    if (!recording()) return 0;
    OpenRun run{agent, 0, 0, {}, 0};
    try {
        fail_if_injected();
        // The open step or tool call of a calling agent, else the task or scope the user opened;
        // with neither, this is an outermost run: a task of its own, a root — also while another
        // outermost run (of this thread or another) has its task open.
        std::uint64_t parent = current_parent();
        if (parent == TelemetryCollector::kRoot || opened_by_a_run(parent)) {
            run.task_id = "run-" + std::to_string(++s.runs_started);
            run.task_span = s.collector->open_task(run.task_id, task_text(task), {}, TelemetryCollector::kRoot);
            parent = run.task_span;
        }
        Ref name(member(agent, names().name));
        Ref managed(member(agent, names().managed_agents));
        const int manages = managed ? PyObject_IsTrue(managed.get()) : 0;
        if (manages < 0) PyErr_Clear();
        run.span = s.collector->begin_span(SpanKind::agent, name_of(agent, name.get()), parent,
                                           manages > 0 ? "supervisor" : "micro");
        if (run.span != 0) {
            run.parent = parent;
            s.open_runs.push_back(run);
            return run.span;
        }
    } catch (...) {
        record_failure("agent_run");
    }
    // No run to end it later: a task opened for this run ends now.
    if (run.task_span != 0) s.collector->end_task(run.task_id, TaskStatus::failed);
    return 0;
}

/// Whether the agent was stopped on purpose with agent.interrupt() (smolagents then raises an
/// AgentError; the switch is reset when a run starts). Never throws.
bool interrupted(PyObject* agent) noexcept {
    static PyObject* const name = PyUnicode_InternFromString("interrupt_switch");
    Ref value(PyObject_GetAttr(agent, name));
    const int truth = value ? PyObject_IsTrue(value.get()) : 0;
    PyErr_Clear();
    return truth > 0;
}

/// How a run ended: by `error` (cancelled when the agent was interrupted), else `status`, else
/// from the agent's last step.
SpanEnd run_end(PyObject* agent, PyObject* error, std::optional<TaskStatus> status, std::string& text) {
    if (error != nullptr && error != Py_None) {
        SpanEnd end = failed_end(error, text);
        if (interrupted(agent)) end.status = TaskStatus::cancelled;
        return end;
    }
    SpanEnd end;
    end.status = status ? *status : run_outcome(agent);
    return end;
}

void end_agent_run(PyObject* agent, std::uint64_t span, PyObject* error, std::optional<TaskStatus> status) {
    HookState& s = state();
    try {
        // The step of this run still open, if any (a planning step is finalised only when it
        // succeeds): it ends the way the run did.
        const bool cancelled = status && *status == TaskStatus::cancelled;
        end_step(agent, nullptr, span, error, cancelled ? TaskStatus::cancelled : TaskStatus::completed);
        std::vector<OpenRun>& runs = s.open_runs;
        const auto found = std::find_if(runs.rbegin(), runs.rend(), [span](const OpenRun& run) { return run.span == span; });
        if (span == 0 || found == runs.rend()) return;
        const OpenRun run = std::move(*found);
        runs.erase(std::next(found).base());
        if (!s.collector) return;
        std::string text;
        const SpanEnd end = run_end(agent, error, status, text);
        s.collector->end_span(run.span, end);
        if (run.task_span != 0) s.collector->end_task(run.task_id, end.status);
    } catch (...) {
        record_failure("agent_run");
    }
}

bool is_streamed(PyObject* const* args, std::size_t nargsf, PyObject* kwnames) {
    PyObject* stream = argument(args, nargsf, kwnames, 2, names().stream);
    if (stream == nullptr) return false;
    const int truth = PyObject_IsTrue(stream);
    if (truth < 0) PyErr_Clear();  // run itself will fail on it, as a run
    return truth > 0;
}

/// The run's span is the context's span while it runs: the token to reset it with (null: none).
PyObject* enter_span(std::uint64_t span) {
    if (span == 0) return nullptr;
    Ref value(PyLong_FromUnsignedLongLong(span));
    PyObject* token = value ? PyContextVar_Set(state().current_span_var, value.get()) : nullptr;
    if (token == nullptr) record_failure("agent_run");
    return token;
}

/// Resets the context's span and releases `token` (may be null).
void leave_span(PyObject* token) {
    if (token != nullptr && PyContextVar_Reset(state().current_span_var, token) < 0) record_failure("agent_run");
    Py_XDECREF(token);
}

/// At interpreter exit, before the session is written: the runs still open — a streamed run
/// never read to its end, a daemon thread's run cut off — end cancelled, with their steps, tool
/// calls and tasks, instead of staying RUNNING in the file.
void end_open_runs() noexcept {
    HookState& s = state();
    try {
        if (s.collector) {
            const SpanEnd cut_off{TaskStatus::cancelled, "the interpreter exited", {}};
            for (auto it = s.open_spans.rbegin(); it != s.open_spans.rend(); ++it) s.collector->end_span(it->span, cut_off);
            for (auto it = s.open_runs.rbegin(); it != s.open_runs.rend(); ++it) {
                s.collector->end_span(it->span, cut_off);
                if (it->task_span != 0) s.collector->end_task(it->task_id, TaskStatus::cancelled);
            }
        }
    } catch (...) {
        record_failure("agent_run");
    }
    s.open_spans.clear();
    s.open_runs.clear();
}

}  // namespace

PyObject* call_agent_run(PyObject* original, PyObject* streamed, PyObject* const* args, std::size_t nargsf,
                         PyObject* kwnames) {
    PyObject* task = argument(args, nargsf, kwnames, 1, names().task);
    if (!recording() || task == nullptr) {  // no task: let run complain
        return PyObject_Vectorcall(original, args, nargsf, kwnames);
    }
    PyObject* agent = args[0];
    prepare_agent(agent);
    if (is_streamed(args, nargsf, kwnames)) {  // the Python side wraps the generator run returns
        return vectorcall_inserting(streamed, args, nargsf, kwnames, 0, {original});
    }
    const std::uint64_t span = begin_agent_run(agent, task);  // never raises; 0 when nothing was opened
    // No C++ object holds a Python reference across the call: a daemon thread still in it when
    // the interpreter exits is ended by pthread_exit, whose unwinding runs destructors without
    // the GIL.
    PyObject* token = enter_span(span);
    PyObject* result = PyObject_Vectorcall(original, args, nargsf, kwnames);
    SavedError error(result == nullptr);
    leave_span(token);
    end_agent_run(agent, span, error.value(), std::nullopt);
    error.restore();
    return result;
}

void bind_runs(nb::module_& m) {
    m.def("begin_agent_run", [](nb::handle agent, nb::handle task) { return begin_agent_run(agent.ptr(), task.ptr()); },
          nb::arg("agent"), nb::arg("task"),
          "Opens the span of a smolagents agent run (and its task when it is the outermost run); "
          "returns the span id, 0 when nothing was opened. Never raises.");
    m.def("end_open_runs", &end_open_runs,
          "At interpreter exit: the agent runs still open (and their steps, tool calls and tasks) "
          "end cancelled. Never raises.");
    m.def("run_outcome", [](nb::handle agent) { return run_outcome(agent.ptr()); }, nb::arg("agent"),
          "How a smolagents run that returned ended: MAX_STEPS when its last step hit the step "
          "limit, else COMPLETED. Never raises.");
    m.def("end_agent_run",
          [](nb::handle agent, std::uint64_t span, nb::handle error, std::optional<TaskStatus> status) {
              end_agent_run(agent.ptr(), span, error.ptr(), status);
          },
          nb::arg("agent"), nb::arg("span"), nb::arg("error").none() = nb::none(), nb::arg("status").none() = nb::none(),
          "Ends a run begun by begin_agent_run (and the agent's open step): failed or cancelled "
          "by `error`, else `status`, else MAX_STEPS or COMPLETED from the agent's last step. "
          "Never raises.");
}

}  // namespace sop_telemetry::python
