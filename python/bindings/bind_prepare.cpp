// The classes an agent run uses, looked at before the run (AgentInstrumentor.prepare_agent): a
// user's Model or Tool subclass defined after instrument(), or a duck-typed model, gets its
// methods patched then. This runs at the start of every agent run, and agents often bring a class
// of their own (smolagents' @tool makes one per decorated function), so the common case is decided
// here: every patched method the agent, its model and its tools resolve to is already a hook (a
// class lookup, cached by the interpreter). A method that is not goes to the Python side
// (`look_closer`), which patches the classes that define it. No class is kept or marked: a class
// made per agent costs one lookup per method and is never held alive.
#include "bindings.hpp"
#include "hook_state.hpp"

#include <nanobind/stl/vector.h>

#include <vector>

namespace nb = nanobind;

namespace sop_telemetry::python {

namespace {

/// What set_class_checks gave, released by forget_class_checks (at exit too): nothing of
/// nanobind's outlives the module.
struct PrepareState {
    std::vector<nb::object> agent_methods;  // patched on agent classes
    std::vector<nb::object> model_methods;  // on model classes, duck-typed ones included
    std::vector<nb::object> tool_methods;   // "__call__", on Tool subclasses
    nb::object tool_class;                  // smolagents' Tool
    nb::object look_closer;                 // Python: patches a class (and its bases)
};

PrepareState& prepare_state() {
    static PrepareState* instance = new PrepareState();  // lives as long as the process
    return *instance;
}

/// A C++ hook, or a Python wrapper of _smolagents_wrappers (marked with the original).
bool is_hooked(PyObject* method) {
    static PyObject* const marker = PyUnicode_InternFromString("__sop_telemetry_original__");
    if (Py_TYPE(method) == reinterpret_cast<PyTypeObject*>(state().hook_type)) return true;
    if (!PyFunction_Check(method)) return false;
    PyObject* attributes = reinterpret_cast<PyFunctionObject*>(method)->func_dict;  // may be null
    return attributes != nullptr && PyDict_GetItemWithError(attributes, marker) != nullptr;
}

/// What the Python side would patch: a callable not hooked yet that is not a staticmethod or a
/// classmethod (AgentInstrumentor._patch).
bool patchable(PyObject* method) {
    const bool patchable = !is_hooked(method) && PyCallable_Check(method) &&
                           !PyObject_TypeCheck(method, &PyStaticMethod_Type) &&
                           !PyObject_TypeCheck(method, &PyClassMethod_Type);
    if (PyErr_Occurred()) throw_python_error("a method's attributes");
    return patchable;
}

/// Whether one of `names`, looked up on type(object), is a method not hooked yet.
bool misses_a_hook(PyObject* object, const std::vector<nb::object>& names) {
    PyTypeObject* type = Py_TYPE(object);
    for (const nb::object& name : names) {
        PyObject* method = _PyType_Lookup(type, name.ptr());  // borrowed; null when absent
        if (method != nullptr && patchable(method)) return true;
    }
    return false;
}

/// Hands type(object) to the Python side with its role ("agent", "model" or "tool"): only the
/// methods of that role are patched (a tool's own method named `generate` is no LLM call).
void look_closer(PyObject* object, const char* role) {
    const nb::object& python_side = prepare_state().look_closer;
    if (python_side.is_valid()) python_side(nb::handle(reinterpret_cast<PyObject*>(Py_TYPE(object))), role);
}

void prepare_tools(PyObject* tools) {
    const PrepareState& p = prepare_state();
    if (tools == nullptr || tools == Py_None || !p.tool_class.is_valid()) return;
    Ref values(PyDict_Check(tools) ? PyDict_Values(tools) : PyMapping_Values(tools));
    if (!values) throw_python_error("an agent's tools");
    auto* tool_class = reinterpret_cast<PyTypeObject*>(p.tool_class.ptr());
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values.get()); ++i) {
        PyObject* tool = PyList_GET_ITEM(values.get(), i);
        if (PyType_IsSubtype(Py_TYPE(tool), tool_class) && misses_a_hook(tool, p.tool_methods)) look_closer(tool, "tool");
    }
}

std::vector<nb::object> as_objects(const std::vector<nb::str>& names) {
    return {names.begin(), names.end()};
}

}  // namespace

void prepare_agent(PyObject* agent) noexcept {
    static PyObject* const model_name = PyUnicode_InternFromString("model");
    static PyObject* const tools_name = PyUnicode_InternFromString("tools");
    const PrepareState& p = prepare_state();
    try {
        if (misses_a_hook(agent, p.agent_methods)) look_closer(agent, "agent");
        Ref model(member(agent, model_name));
        if (model && model.get() != Py_None && misses_a_hook(model.get(), p.model_methods)) look_closer(model.get(), "model");
        Ref tools(member(agent, tools_name));
        prepare_tools(tools.get());
    } catch (...) {
        record_failure("instrument");
    }
}

void bind_prepare(nb::module_& m) {
    m.def("set_class_checks",
          [](std::vector<nb::str> agent_methods, std::vector<nb::str> model_methods, nb::object tool_class,
             nb::object look_closer) {
              PrepareState& p = prepare_state();
              p.agent_methods = as_objects(agent_methods);
              p.model_methods = as_objects(model_methods);
              p.tool_methods = {nb::str("__call__")};
              p.tool_class = std::move(tool_class);
              p.look_closer = std::move(look_closer);
          },
          nb::arg("agent_methods"), nb::arg("model_methods"), nb::arg("tool_class"), nb::arg("look_closer"),
          "The methods prepare_agent expects to be hooks, smolagents' Tool class, and the Python "
          "function it hands the class of an object with a method that is not, with the "
          "object's role: look_closer(cls, 'agent' | 'model' | 'tool').");
    m.def("forget_class_checks", [] { prepare_state() = PrepareState(); },
          "Lets go of what set_class_checks gave (uninstrument, interpreter exit).");
    m.def("prepare_agent", [](nb::handle agent) { prepare_agent(agent.ptr()); }, nb::arg("agent"),
          "Hands the classes of an agent, its model and its tools with a method not hooked yet to "
          "the function set by set_class_checks. Never raises.");
}

}  // namespace sop_telemetry::python
