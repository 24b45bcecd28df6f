// The hot smolagents hooks, in C++: a model's generate, a tool's __call__, a step's start and its
// _finalize_step run once or more per agent step, and a Python wrapper around each cost more than
// the whole telemetry budget of a step. A Hook is a callable method descriptor that stands in
// for the original function in the class: it calls the original exactly once with the same
// arguments (vectorcall, no bound-method object, no argument repacking), returns its result or
// lets its exception through unchanged, and records around it. Telemetry's own failures go to
// the error handler and never reach the caller.
//
// The current span travels in a ContextVar shared with the Python front (`current_span_var`),
// so it follows asyncio tasks and the context-carrying thread pools; see hook_state.hpp for
// how steps and tool calls stand in for it.
#include "bindings.hpp"
#include "hook_state.hpp"

#include <chrono>
#include <string>

#include <structmember.h>

namespace nb = nanobind;

namespace sop_telemetry::python {

namespace {

enum class HookKind : int { generate = 0, tool_call = 1, action_step = 2, planning_step = 3, finalize_step = 4,
                            submit = 5, agent_run = 6 };

const char* operation_of(HookKind kind) {
    switch (kind) {
        case HookKind::generate: return "llm_call";
        case HookKind::tool_call: return "tool_call";
        case HookKind::submit: return "thread_pool";
        case HookKind::agent_run: return "agent_run";
        default: return "step";
    }
}

// Inside a traced LLM call on this thread: a nested generate (a subclass calling super(), a
// __call__ that delegates) is part of the outer call. LLM calls run synchronously on their
// thread (a streaming generator sets it around each of its steps), so a thread-local is exact.
thread_local bool inside_llm = false;

// --- what is recorded --------------------------------------------------------------------

/// "step N", kept per number (the same ones come back every run): no text is built per step,
/// and the engine finds its interned copy by where the text is.
std::string_view step_name(PyObject* memory_step) {
    constexpr long long kKeptNames = 4096;
    constexpr std::size_t kKeptOddNames = 1024;  // numbers past kKeptNames (never seen in practice)
    Ref number(member(memory_step, names().step_number));
    if (!number || !PyLong_Check(number.get())) return "step ";
    const long long value = PyLong_AsLongLong(number.get());
    PyErr_Clear();  // a number beyond 64 bits shows as -1
    HookState& s = state();
    if (value < 0 || value >= kKeptNames) {
        if (s.odd_step_names.size() >= kKeptOddNames) return "step";
        return s.odd_step_names.emplace_back("step " + std::to_string(value));
    }
    while (s.step_names.size() <= static_cast<std::size_t>(value)) s.step_names.push_back("step " + std::to_string(s.step_names.size()));
    return s.step_names[static_cast<std::size_t>(value)];
}

// --- the hook object ---------------------------------------------------------------------

struct Hook {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject* original;
    PyObject* helper;  // agent runs: the Python function streamed runs go to; else None
    HookKind kind;
};

PyObject* call_original(Hook* hook, PyObject* const* args, std::size_t nargsf, PyObject* kwnames) {
    return PyObject_Vectorcall(hook->original, args, nargsf, kwnames);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

PyObject* call_generate(Hook* hook, PyObject* const* args, std::size_t nargsf, PyObject* kwnames) {
    HookState& s = state();
    if (!recording() || inside_llm) {
        return call_original(hook, args, nargsf, kwnames);
    }
    inside_llm = true;
    const auto start = std::chrono::steady_clock::now();
    PyObject* result = call_original(hook, args, nargsf, kwnames);
    const double duration = seconds_since(start);
    inside_llm = false;
    if (!s.collector) return result;  // set to None during the call (a new session)
    s.collector->prefetch();
    SavedError error(result == nullptr);
    try {
        fail_if_injected();
        LlmCallInfo call;
        Ref model(member(args[0], names().model_id));
        call.model = name_of(args[0], model.get());
        if (result != nullptr) call.tokens = tokens_of(result);
        std::string text;
        if (error.value() != nullptr) {
            text = error_text(error.value());
            call.error = text;
        }
        call.duration = duration;
        call.parent_id = current_parent();
        s.collector->record_llm_call(call);
    } catch (...) {
        record_failure(operation_of(hook->kind));
    }
    error.restore();
    return result;
}

/// Whether the newest open step or tool call of `thread` that `same_kind` accepts began for
/// `subject` through another hook: a subclass's override calling super() comes back with the
/// same one through its base class's hook, and is part of the span already open. (A tool
/// calling itself comes back through the same hook: a call of its own.)
template <typename SameKind>
bool reentered(const Hook* hook, const void* thread, const void* subject, SameKind same_kind) {
    const std::vector<OpenSpan>& open = state().open_spans;
    for (auto it = open.rbegin(); it != open.rend(); ++it)
        if (it->thread == thread && same_kind(*it)) return it->subject == subject && it->hook != hook;
    return false;
}

PyObject* call_tool(Hook* hook, PyObject* const* args, std::size_t nargsf, PyObject* kwnames) {
    HookState& s = state();
    if (!recording()) return call_original(hook, args, nargsf, kwnames);
    std::uint64_t span = 0;
    s.collector->prefetch();
    try {
        fail_if_injected();
        PyObject* tool = args[0];
        const void* thread = PyThreadState_Get();
        if (reentered(hook, thread, tool, [](const OpenSpan& open) { return open.tool; })) {
            return call_original(hook, args, nargsf, kwnames);
        }
        const std::uint64_t context = current_span();
        Ref name(member(tool, names().name));
        span = s.collector->begin_span(SpanKind::tool, name_of(tool, name.get()), parent_under(context));
        if (span != 0) s.open_spans.push_back({nullptr, tool, hook, thread, span, context, true});
    } catch (...) {
        record_failure(operation_of(hook->kind));
    }
    PyObject* result = call_original(hook, args, nargsf, kwnames);
    if (span == 0) return result;
    take_open_span([span](const OpenSpan& open) { return open.span == span; });
    if (!s.collector) return result;  // set to None during the call (a new session)
    s.collector->prefetch();
    SavedError error(result == nullptr);
    try {
        // smolagents ends CodeAgent code with FinalAnswerException: a success, not a failure.
        if (error.value() == nullptr || type_name(error.value()) == "FinalAnswerException") {
            s.collector->end_span(span);
        } else {
            std::string text;
            s.collector->end_span(span, failed_end(error.value(), text));
        }
    } catch (...) {
        record_failure(operation_of(hook->kind));
    }
    error.restore();
    return result;
}

/// A step starts when smolagents creates its generator; it is the current span until
/// `_finalize_step`, where the step arrives complete with its error.
PyObject* call_step_start(Hook* hook, PyObject* const* args, std::size_t nargsf, PyObject* kwnames) {
    HookState& s = state();
    if (recording()) {
        s.collector->prefetch();
        try {
            fail_if_injected();
            PyObject* agent = args[0];
            const bool action = hook->kind == HookKind::action_step;
            PyObject* subject = action ? argument(args, nargsf, kwnames, 1, names().memory_step)
                                       : argument(args, nargsf, kwnames, 3, names().step);
            const void* thread = PyThreadState_Get();
            if (subject != nullptr &&
                reentered(hook, thread, subject, [agent](const OpenSpan& open) { return !open.tool && open.agent == agent; })) {
                return call_original(hook, args, nargsf, kwnames);
            }
            const std::uint64_t context = run_context_of(agent);
            end_step(agent, nullptr, context);  // a step never finalised (planning before 1.20) ends here
            const std::string_view name = action ? step_name(subject) : "planning";
            const std::string_view detail = action ? "action" : "planning";
            const std::uint64_t span = s.collector->begin_span(SpanKind::step, name, parent_under(context), detail);
            if (span != 0) s.open_spans.push_back({agent, subject, hook, thread, span, context, false});
        } catch (...) {
            record_failure(operation_of(hook->kind));
        }
    }
    return call_original(hook, args, nargsf, kwnames);
}

PyObject* call_finalize_step(Hook* hook, PyObject* const* args, std::size_t nargsf, PyObject* kwnames) {
    PyObject* result = call_original(hook, args, nargsf, kwnames);
    if (state().collector) state().collector->prefetch();
    SavedError error(result == nullptr);
    try {
        fail_if_injected();
        // An exception smolagents lets through (it runs this in a `finally`) is not on the step.
        PyObject* raised = error.value() != nullptr ? error.value() : exception_being_handled();
        end_step(args[0], argument(args, nargsf, kwnames, 1, names().memory_step), run_context_of(args[0]), raised);
    } catch (...) {
        record_failure(operation_of(hook->kind));
    }
    error.restore();
    return result;
}

/// Executor.submit(fn, *args, **kwargs) as submit(Context.run, copy_context(), fn, *args,
/// **kwargs): the task runs in a copy of the submitter's context, so spans keep their parent
/// in the pool's threads. (Were the copy to fail, the task is submitted as it was.)
PyObject* call_submit(Hook* hook, PyObject* const* args, std::size_t nargsf, PyObject* kwnames) {
    const Py_ssize_t positional = PyVectorcall_NARGS(nargsf);
    if (positional < 2) return call_original(hook, args, nargsf, kwnames);  // let submit complain
    PyObject* context = PyContext_CopyCurrent();  // released by hand: see call_agent_run
    if (context == nullptr) {
        PyErr_Clear();
        get_error_handler().record(operation_of(hook->kind), "cannot copy the context");
        return call_original(hook, args, nargsf, kwnames);
    }
    // After the executor: Context.run, unbound, and this copy to run it in.
    PyObject* result = vectorcall_inserting(hook->original, args, nargsf, kwnames, 1, {state().context_run, context});
    Py_DECREF(context);
    return result;
}

PyObject* hook_vectorcall(PyObject* callable, PyObject* const* args, std::size_t nargsf, PyObject* kwnames) {
    Hook* hook = reinterpret_cast<Hook*>(callable);
    if (PyVectorcall_NARGS(nargsf) < 1) {  // called without its receiver: nothing to record
        return call_original(hook, args, nargsf, kwnames);
    }
    switch (hook->kind) {
        case HookKind::generate: return call_generate(hook, args, nargsf, kwnames);
        case HookKind::tool_call: return call_tool(hook, args, nargsf, kwnames);
        case HookKind::action_step:
        case HookKind::planning_step: return call_step_start(hook, args, nargsf, kwnames);
        case HookKind::finalize_step: return call_finalize_step(hook, args, nargsf, kwnames);
        case HookKind::submit: return call_submit(hook, args, nargsf, kwnames);
        case HookKind::agent_run: return call_agent_run(hook->original, hook->helper, args, nargsf, kwnames);
    }
    return call_original(hook, args, nargsf, kwnames);
}

// A function in a class binds to the instance: so does a Hook (instance.method is a bound
// method). Py_TPFLAGS_METHOD_DESCRIPTOR lets `instance.method(...)` skip that object.
PyObject* hook_descr_get(PyObject* self, PyObject* instance, PyObject*) {
    if (instance == nullptr || instance == Py_None) return Py_NewRef(self);
    return PyMethod_New(self, instance);
}

// __name__, __qualname__, __doc__, __module__ ... are the original's.
PyObject* hook_getattro(PyObject* self, PyObject* name) {
    // The Hook type has a __doc__ and a __module__ of its own: these two are the original's.
    if (PyUnicode_CompareWithASCIIString(name, "__doc__") == 0 ||
        PyUnicode_CompareWithASCIIString(name, "__module__") == 0) {
        return PyObject_GetAttr(reinterpret_cast<Hook*>(self)->original, name);
    }
    PyObject* value = PyObject_GenericGetAttr(self, name);
    if (value != nullptr || !PyErr_ExceptionMatches(PyExc_AttributeError)) return value;
    PyErr_Clear();
    return PyObject_GetAttr(reinterpret_cast<Hook*>(self)->original, name);
}

PyObject* hook_original(PyObject* self, void*) {
    return Py_NewRef(reinterpret_cast<Hook*>(self)->original);
}

PyObject* hook_repr(PyObject* self) {
    return PyUnicode_FromFormat("<sop_telemetry hook of %R>", reinterpret_cast<Hook*>(self)->original);
}

int hook_traverse(PyObject* self, visitproc visit, void* arg) {
    Py_VISIT(reinterpret_cast<Hook*>(self)->original);
    Py_VISIT(reinterpret_cast<Hook*>(self)->helper);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

int hook_clear(PyObject* self) {
    Py_CLEAR(reinterpret_cast<Hook*>(self)->original);
    Py_CLEAR(reinterpret_cast<Hook*>(self)->helper);
    return 0;
}

void hook_dealloc(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    hook_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

PyObject* make_hook_type() {
    static PyMemberDef members[] = {
        {"__vectorcalloffset__", T_PYSSIZET, offsetof(Hook, vectorcall), READONLY, nullptr},
        {nullptr, 0, 0, 0, nullptr},
    };
    static PyGetSetDef getset[] = {
        {"__wrapped__", hook_original, nullptr, nullptr, nullptr},
        {"__sop_telemetry_original__", hook_original, nullptr, nullptr, nullptr},
        {nullptr, nullptr, nullptr, nullptr, nullptr},
    };
    static PyType_Slot slots[] = {
        {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
        {Py_tp_descr_get, reinterpret_cast<void*>(hook_descr_get)},
        {Py_tp_getattro, reinterpret_cast<void*>(hook_getattro)},
        {Py_tp_repr, reinterpret_cast<void*>(hook_repr)},
        {Py_tp_traverse, reinterpret_cast<void*>(hook_traverse)},
        {Py_tp_clear, reinterpret_cast<void*>(hook_clear)},
        {Py_tp_dealloc, reinterpret_cast<void*>(hook_dealloc)},
        {Py_tp_members, members},
        {Py_tp_getset, getset},
        {0, nullptr},
    };
    // Immutable: Python 3.11+ specialises `obj.method(...)` only for a descriptor of an immutable
    // type; a mutable one left every call site of a patched method doing a full lookup.
    static PyType_Spec spec = {
        "ai_agents.telemetry._core.Hook", sizeof(Hook), 0,
        Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_METHOD_DESCRIPTOR |
            Py_TPFLAGS_IMMUTABLETYPE,
        slots};
    PyObject* type = PyType_FromSpec(&spec);
    if (type == nullptr) throw nb::python_error();
    return type;
}

nb::object make_hook(nb::object original, HookKind kind, nb::object helper) {
    if (!PyCallable_Check(original.ptr())) throw nb::type_error("a hook wraps a callable");
    if (kind == HookKind::agent_run && !PyCallable_Check(helper.ptr()))
        throw nb::type_error("an agent-run hook needs the function streamed runs go to");
    auto* type = reinterpret_cast<PyTypeObject*>(state().hook_type);
    Hook* hook = PyObject_GC_New(Hook, type);
    if (hook == nullptr) throw nb::python_error();
    hook->vectorcall = hook_vectorcall;
    hook->original = Py_NewRef(original.ptr());
    hook->helper = Py_NewRef(helper.ptr());
    hook->kind = kind;
    PyObject_GC_Track(hook);
    return nb::steal(reinterpret_cast<PyObject*>(hook));
}

PyObject* new_context_var(const char* name, PyObject* default_value) {
    PyObject* variable = PyContextVar_New(name, default_value);
    if (variable == nullptr) throw nb::python_error();
    return variable;
}

}  // namespace

void bind_hooks(nb::module_& m) {
    HookState& s = state();
    Ref zero(PyLong_FromLong(0));
    s.current_span_var = new_context_var("sop_telemetry_span", zero.get());
    s.hook_type = make_hook_type();
    s.context_run = PyObject_GetAttrString(reinterpret_cast<PyObject*>(&PyContext_Type), "run");
    if (s.context_run == nullptr) throw nb::python_error();
    names();
    m.attr("current_span_var") = nb::borrow(s.current_span_var);
    m.attr("Hook") = nb::borrow(s.hook_type);

    nb::enum_<HookKind>(m, "HookKind", "What a Hook records around the function it stands in for.")
        .value("GENERATE", HookKind::generate)
        .value("TOOL_CALL", HookKind::tool_call)
        .value("ACTION_STEP", HookKind::action_step)
        .value("PLANNING_STEP", HookKind::planning_step)
        .value("FINALIZE_STEP", HookKind::finalize_step)
        .value("SUBMIT", HookKind::submit)
        .value("AGENT_RUN", HookKind::agent_run);

    m.def("make_hook", &make_hook, nb::arg("original"), nb::arg("kind"), nb::arg("helper") = nb::none(),
          nb::sig("def make_hook(original: collections.abc.Callable[..., typing.Any], kind: HookKind, "
                  "helper: collections.abc.Callable[..., typing.Any] | None = None) -> "
                  "collections.abc.Callable[..., typing.Any]"),
          "A callable method descriptor that calls `original` and records around it. AGENT_RUN "
          "hooks hand streamed runs to `helper(original, *args, **kwargs)`.");
    m.def("set_hook_collector",
          [](nb::handle collector) {
              state().open_spans.clear();  // they belong to the session recorded so far
              state().open_runs.clear();
              if (collector.is_none()) {
                  state().collector.reset();
              } else {
#ifdef Py_GIL_DISABLED
                  state().collector.emplace(nb::cast<TelemetryCollector&>(collector));
#else
                  // Every hook holds the GIL: one buffer for all of them, whatever the thread.
                  state().collector.emplace(nb::cast<TelemetryCollector&>(collector).serialized());
#endif
              }
          },
          nb::arg("collector").none(),
          "The collector the hooks record into (None: they only call through). Steps, tool calls "
          "and runs still open are forgotten: they belong to the session recorded so far.");
    m.def("set_inside_llm_call",
          [](bool inside) {
              const bool previous = inside_llm;
              inside_llm = inside;
              return previous;
          },
          nb::arg("inside"), "Marks this thread as inside a traced LLM call; returns the previous mark.");
    m.def("inside_llm_call", [] { return inside_llm; }, "Whether this thread is inside a traced LLM call.");
    m.def("current_parent", [] { return current_parent(); },
          "The span a span begun here hangs under: the open step or tool call standing in for "
          "the context's span, else that span; with none in the context, the task or scope "
          "the user opened, else the task of the one outermost agent run in progress, else "
          "ROOT_SPAN.");
    m.attr("ROOT_SPAN") = TelemetryCollector::kRoot;
    m.def("token_field",
          [](nb::handle source, nb::str name) {
              Ref value(member(source.ptr(), name.ptr()));
              return token_count(value.get());
          },
          nb::arg("source").none(), nb::arg("name"),
          "source.name (source[name] for a dict) as a token count, read by the rules the hooks "
          "read replies with: 0 when absent; an int or a whole float within 64 bits, anything "
          "else counts 0 as a recorded telemetry error.");
    m.def("context_parent",
          [](const TelemetryCollector& collector) -> std::uint64_t {
              const HookState& s = state();
              if (!s.collector || s.collector->core() != collector.core()) return 0;
              const std::uint64_t parent = open_span_under(current_span());
              // A task or scope the user opened inside that step or tool call (no run hangs
              // under it) is newer: the engine's own default finds it.
              const std::uint64_t user = collector.current_span();
              if (parent == 0 || (user != 0 && !opened_by_a_run(user) && !has_run_under(user))) return 0;
              return parent;
          },
          nb::arg("collector"),
          "For a record made by hand through `collector`: the step or tool call in progress in "
          "this context, else the context's span; 0 when there is none, when the user opened a "
          "task or scope inside it, or when the instrumentation records into another session "
          "(the engine's own default applies then).");
    m.def("set_hook_fault_injection", [](bool on) { state().inject_faults = on; }, nb::arg("on"),
          "For tests: make every hook's telemetry fail, to prove the host never sees it.");
}

}  // namespace sop_telemetry::python
