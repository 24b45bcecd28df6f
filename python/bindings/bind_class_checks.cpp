// The classes an agent run uses, looked at before the run (AgentInstrumentor.prepare_agent):
// a user's Model or Tool subclass defined after instrument(), or a duck-typed model, gets its
// methods patched then. Each class is looked at once, its bases first. This runs at the start of
// every agent run, and agents often bring a class of their own (smolagents' @tool makes one per
// decorated function), so the common cases are decided here: a class seen before, and a new
// class that defines none of the patched methods. A class that defines one goes to the Python
// side (`look_closer`), which patches it and marks it checked.
//
// Classes are kept by address with a weak reference: a class made per agent must not be kept
// alive, and once it is gone its address may be reused by another (the reference's callback
// forgets it). Everything here runs with the GIL held.
#include "bindings.hpp"
#include "hook_state.hpp"

#include <nanobind/stl/vector.h>

#include <unordered_map>
#include <vector>

namespace nb = nanobind;

namespace sop_telemetry::python {

namespace {

// Plain CPython objects, released by forget_all(): nothing of nanobind's outlives the module.
struct ClassChecks {
    std::unordered_map<PyObject*, PyObject*> checked;  // class -> weak reference to it (owned)
    std::vector<nb::object> patched_names;             // method names prepare_agent patches
    nb::object look_closer;                            // Python: patches a class (and its bases)
    PyObject* forget = nullptr;                        // the weak references' callback
};

ClassChecks& checks() {
    static ClassChecks* instance = new ClassChecks();  // lives as long as the process
    return *instance;
}

bool is_checked(PyObject* cls) { return checks().checked.count(cls) != 0; }

void mark_checked(PyObject* cls) {
    ClassChecks& c = checks();
    if (c.checked.count(cls) != 0) return;
    PyObject* ref = PyWeakref_NewRef(cls, c.forget);
    if (ref == nullptr) throw_python_error("a weak reference to a class");
    c.checked.emplace(cls, ref);
}

void forget_class(PyObject* ref) {
    auto& checked = checks().checked;
    for (auto it = checked.begin(); it != checked.end(); ++it) {
        if (it->second != ref) continue;
        Py_DECREF(it->second);
        checked.erase(it);
        return;
    }
}

PyObject* forget_callback(PyObject*, PyObject* ref) {
    forget_class(ref);
    Py_RETURN_NONE;
}

/// Every class looked at, and the Python side's function (set again by instrument()).
void forget_all() {
    ClassChecks& c = checks();
    for (auto& [cls, ref] : c.checked) Py_DECREF(ref);
    c.checked.clear();
    c.look_closer = nb::object();
}

bool defines_a_patched_name(PyObject* cls) {
    PyObject* dict = reinterpret_cast<PyTypeObject*>(cls)->tp_dict;
    if (dict == nullptr) return false;
    for (const nb::object& name : checks().patched_names) {
        if (PyDict_GetItemWithError(dict, name.ptr()) != nullptr) return true;
        if (PyErr_Occurred()) throw_python_error("a class dictionary");
    }
    return false;
}

bool never_patched(PyObject* cls) {
    return cls == reinterpret_cast<PyObject*>(&PyBaseObject_Type) ||
           cls == reinterpret_cast<PyObject*>(Py_TYPE(Py_None));
}

/// Looks at `cls` and its bases, bases first, unless done before.
void check_class(PyObject* cls) {
    if (never_patched(cls) || is_checked(cls)) return;
    PyObject* mro = reinterpret_cast<PyTypeObject*>(cls)->tp_mro;
    if (mro == nullptr || !PyTuple_Check(mro)) return;
    for (Py_ssize_t i = PyTuple_GET_SIZE(mro) - 1; i >= 0; --i) {
        PyObject* klass = PyTuple_GET_ITEM(mro, i);
        if (never_patched(klass) || is_checked(klass)) continue;
        if (defines_a_patched_name(klass)) {
            if (checks().look_closer.is_valid()) checks().look_closer(nb::handle(cls));
            return;
        }
        mark_checked(klass);
    }
}

void check_values(PyObject* mapping) {
    if (mapping == nullptr || mapping == Py_None) return;
    Ref values(PyDict_Check(mapping) ? PyDict_Values(mapping) : PyMapping_Values(mapping));
    if (!values) throw_python_error("an agent's tools");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values.get()); ++i)
        check_class(reinterpret_cast<PyObject*>(Py_TYPE(PyList_GET_ITEM(values.get(), i))));
}

/// The classes of the agent, its model and its tools. Never raises: failures are recorded.
void prepare_agent(PyObject* agent) {
    static PyObject* const model_name = PyUnicode_InternFromString("model");
    static PyObject* const tools_name = PyUnicode_InternFromString("tools");
    try {
        check_class(reinterpret_cast<PyObject*>(Py_TYPE(agent)));
        Ref model(member(agent, model_name));
        if (model) check_class(reinterpret_cast<PyObject*>(Py_TYPE(model.get())));
        Ref tools(member(agent, tools_name));
        check_values(tools.get());
    } catch (...) {
        record_failure("instrument");
    }
}

}  // namespace

void bind_class_checks(nb::module_& m) {
    m.def("set_class_checks",
          [](std::vector<nb::str> names, nb::object look_closer) {
              ClassChecks& c = checks();
              c.patched_names.assign(names.begin(), names.end());
              c.look_closer = std::move(look_closer);
              static PyMethodDef forget_def = {"forget_class", forget_callback, METH_O, nullptr};
              if (c.forget == nullptr) c.forget = PyCFunction_New(&forget_def, nullptr);
              if (c.forget == nullptr) throw nb::python_error();
          },
          nb::arg("patched_names"), nb::arg("look_closer"),
          "The method names prepare_agent patches, and the Python function it hands a class "
          "that defines one of them to.");
    m.def("prepare_agent", [](nb::handle agent) { prepare_agent(agent.ptr()); }, nb::arg("agent"),
          "Looks at the classes of an agent, its model and its tools (each class once). Never raises.");
    m.def("class_checked", [](nb::handle cls) { return is_checked(cls.ptr()); }, nb::arg("cls"),
          "Whether a class has been looked at.");
    m.def("mark_class_checked", [](nb::handle cls) { mark_checked(cls.ptr()); }, nb::arg("cls"),
          "Records a class as looked at (forgotten when it goes).");
    m.def("forget_checked_classes", &forget_all,
          "Forgets every class looked at and the function set by set_class_checks (uninstrument, exit).");
    m.def("checked_class_count", [] { return checks().checked.size(); },
          "How many classes alive have been looked at.");
}

}  // namespace sop_telemetry::python
