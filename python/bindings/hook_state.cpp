#include "hook_state.hpp"

#include <nanobind/nanobind.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <vector>

namespace sop_telemetry::python {

HookState hook_state;

namespace {

PyObject* interned(const char* text) {
    PyObject* name = PyUnicode_InternFromString(text);
    if (name == nullptr) throw nanobind::python_error();
    return name;  // kept for the life of the process
}

}  // namespace

const Names& names() {
    static const Names instance{
        interned("token_usage"), interned("input_tokens"), interned("output_tokens"),
        interned("raw"), interned("usage"), interned("prompt_tokens_details"),
        interned("cached_tokens"), interned("cache_read_input_tokens"),
        interned("cache_creation_input_tokens"), interned("completion_tokens_details"),
        interned("reasoning_tokens"), interned("model_id"), interned("name"), interned("error"),
        interned("step_number"), interned("memory_step"), interned("memory"), interned("steps"),
        interned("managed_agents"), interned("task"), interned("stream"), interned("step"),
        interned("cacheReadInputTokens"), interned("cacheWriteInputTokens")};
    return instance;
}

void fail_if_injected() {
    if (state().inject_faults) throw std::runtime_error("engine call failed (fault injected for testing)");
}

void record_failure(const char* operation) noexcept {
    get_error_handler().record_current_exception(operation);
    PyErr_Clear();
}

std::uint64_t current_span() {
    PyObject* value = nullptr;
    if (PyContextVar_Get(state().current_span_var, nullptr, &value) < 0) throw_python_error("current span");
    Ref owned(value);
    if (value == nullptr || !PyLong_Check(value)) return 0;
    // Span ids use the high bits (thread slot, kind): the mask form reads them without the
    // overflow checks of PyLong_AsUnsignedLongLong.
    const unsigned long long span = PyLong_AsUnsignedLongLongMask(value);
    if (span == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return span;
}

// The newest open step begun under the context's span, or tool call begun under it on this
// thread, else the context's span itself. A tool call stays with its thread, and so does a
// step begun with no span in the context (an agent run that was not traced): any other thread
// with no span in its context is no part of it.
std::uint64_t open_span_under(std::uint64_t context) {
    const std::vector<OpenSpan>& open = state().open_spans;
    const void* thread = nullptr;
    for (auto it = open.rbegin(); it != open.rend(); ++it) {
        if (it->context != context) continue;
        if (!it->tool && context != 0) return it->span;
        if (thread == nullptr) thread = PyThreadState_Get();
        if (it->thread == thread) return it->span;
    }
    return context;
}

std::uint64_t parent_under(std::uint64_t context) {
    const std::uint64_t parent = open_span_under(context);
    if (parent != 0) return parent;
    // Nothing in this context: the task or scope the user opened; else the task of the one
    // outermost run in progress (a thread the host started inside it, which did not carry the
    // context); with several at once nothing tells them apart, and the span is a root.
    const std::uint64_t user = state().collector ? state().collector->current_span() : 0;
    if (user != 0 && !opened_by_a_run(user)) return user;
    std::uint64_t only = TelemetryCollector::kRoot;
    for (const OpenRun& run : state().open_runs) {
        if (run.task_span == 0) continue;
        if (only != TelemetryCollector::kRoot) return TelemetryCollector::kRoot;
        only = run.task_span;
    }
    return only;
}

bool opened_by_a_run(std::uint64_t task_span) {
    return std::any_of(state().open_runs.begin(), state().open_runs.end(),
                       [task_span](const OpenRun& run) { return run.task_span == task_span; });
}

bool has_run_under(std::uint64_t span) {
    return std::any_of(state().open_runs.begin(), state().open_runs.end(),
                       [span](const OpenRun& run) { return run.parent == span; });
}

std::uint64_t open_run_of(const void* agent) {
    std::uint64_t span = 0;
    for (const OpenRun& run : state().open_runs) {
        if (run.agent != agent) continue;
        if (span != 0) return 0;  // runs of one agent in several threads: only the context knows
        span = run.span;
    }
    return span;
}

void end_step(PyObject* agent, PyObject* memory_step, std::uint64_t run, PyObject* raised, TaskStatus otherwise) {
    HookState& s = state();
    const std::uint64_t span = take_open_span([agent, run](const OpenSpan& open) {
        return !open.tool && open.agent == agent && (run == 0 || open.context == run);
    });
    if (span == 0 || !s.collector) return;
    Ref error(member(memory_step, names().error));
    if (!error || error.get() == Py_None) error.reset(Py_XNewRef(raised));
    if (!error || error.get() == Py_None) {
        s.collector->end_span(span, {otherwise, {}, {}});
    } else {
        std::string text;
        s.collector->end_span(span, failed_end(error.get(), text));
    }
}

PyObject* exception_being_handled() {
    // The innermost entry of the thread's stack of handled exceptions: the running generator's
    // own (a generator keeps one of its own), or the thread's.
    const _PyErr_StackItem* handled = PyThreadState_Get()->exc_info;
    PyObject* value = handled != nullptr ? handled->exc_value : nullptr;
    return value == Py_None ? nullptr : value;
}

PyObject* argument(PyObject* const* args, std::size_t nargsf, PyObject* kwnames, Py_ssize_t position,
                   PyObject* keyword) {
    const Py_ssize_t positional = PyVectorcall_NARGS(nargsf);
    if (position < positional) return args[position];
    if (kwnames == nullptr) return nullptr;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(kwnames); ++i) {
        if (PyUnicode_Compare(PyTuple_GET_ITEM(kwnames, i), keyword) == 0) return args[positional + i];
    }
    return nullptr;
}

PyObject* vectorcall_inserting(PyObject* callable, PyObject* const* args, std::size_t nargsf, PyObject* kwnames,
                               Py_ssize_t at, std::initializer_list<PyObject*> extra) {
    const Py_ssize_t positional = PyVectorcall_NARGS(nargsf);
    const Py_ssize_t given = positional + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    const auto added = static_cast<Py_ssize_t>(extra.size());
    PyObject* on_stack[16];
    std::vector<PyObject*> on_heap;
    PyObject** forwarded = on_stack;
    if (static_cast<std::size_t>(given + added) > std::size(on_stack)) {
        on_heap.resize(static_cast<std::size_t>(given + added));
        forwarded = on_heap.data();
    }
    std::copy(args, args + at, forwarded);
    std::copy(extra.begin(), extra.end(), forwarded + at);
    std::copy(args + at, args + given, forwarded + at + added);
    return PyObject_Vectorcall(callable, forwarded, static_cast<std::size_t>(positional + added), kwnames);
}

std::string error_text(PyObject* error) {
    std::string text(type_name(error));
    Ref message(PyObject_Str(error));
    if (!message) {
        PyErr_Clear();
        return text;
    }
    const std::string_view body = text_of(message.get());
    if (!body.empty()) text.append(": ").append(body);
    return text;
}

SpanEnd failed_end(PyObject* error, std::string& text_storage) {
    SpanEnd end;
    const bool cancelled = PyErr_GivenExceptionMatches(error, PyExc_KeyboardInterrupt) ||
                           PyErr_GivenExceptionMatches(error, PyExc_GeneratorExit);
    end.status = cancelled ? TaskStatus::cancelled : TaskStatus::failed;
    text_storage = error_text(error);
    end.error = text_storage;
    return end;
}

std::string_view name_of(PyObject* object, PyObject* value) {
    const std::string_view text = text_of(value);
    return text.empty() ? type_name(object) : text;
}

}  // namespace sop_telemetry::python
