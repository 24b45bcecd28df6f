// Small CPython helpers for the hooks: the exception in flight kept aside while telemetry runs,
// attribute reads that never leave an error behind, and text views of Python strings.
#pragma once

#include <Python.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sop_telemetry::python {

/// A new reference released at scope end.
class Ref {
public:
    explicit Ref(PyObject* object = nullptr) noexcept : object_(object) {}
    Ref(const Ref&) = delete;
    Ref& operator=(const Ref&) = delete;
    ~Ref() { Py_XDECREF(object_); }
    PyObject* get() const noexcept { return object_; }
    /// Holds `object` instead (a new reference), releasing the one held.
    void reset(PyObject* object) noexcept {
        Py_XDECREF(object_);
        object_ = object;
    }
    explicit operator bool() const noexcept { return object_ != nullptr; }

private:
    PyObject* object_;
};

/// Takes the exception in flight (if any) out of the way, and puts it back on restore().
class SavedError {
public:
    /// `in_flight` false: the caller knows none is (a call that returned a result), and the
    /// thread state is not even looked at.
    explicit SavedError(bool in_flight = true) noexcept {
        if (!in_flight) return;
#if PY_VERSION_HEX >= 0x030C0000
        value_ = PyErr_GetRaisedException();
#else
        PyObject* type = nullptr;
        PyObject* traceback = nullptr;
        PyErr_Fetch(&type, &value_, &traceback);
        if (type != nullptr) {
            PyErr_NormalizeException(&type, &value_, &traceback);
            if (traceback != nullptr && value_ != nullptr) PyException_SetTraceback(value_, traceback);
        }
        Py_XDECREF(type);
        Py_XDECREF(traceback);
#endif
    }
    SavedError(const SavedError&) = delete;
    SavedError& operator=(const SavedError&) = delete;
    ~SavedError() { Py_XDECREF(value_); }

    PyObject* value() const noexcept { return value_; }
    /// Raises the saved exception again (no-op when there was none).
    void restore() noexcept {
        if (value_ == nullptr) return;
#if PY_VERSION_HEX >= 0x030C0000
        PyErr_SetRaisedException(value_);
#else
        PyErr_Restore(Py_NewRef(reinterpret_cast<PyObject*>(Py_TYPE(value_))), value_,
                      PyException_GetTraceback(value_));
#endif
        value_ = nullptr;
    }

private:
    PyObject* value_ = nullptr;
};

/// A Python error raised by telemetry's own code: cleared, and turned into a C++ exception so the
/// hook's catch records it.
[[noreturn]] inline void throw_python_error(const char* what) {
    SavedError error;
    std::string message = what;
    if (error.value() != nullptr) {
        Ref text(PyObject_Str(error.value()));
        const char* utf8 = text ? PyUnicode_AsUTF8(text.get()) : nullptr;
        if (utf8 != nullptr) message += std::string(": ") + utf8;
        PyErr_Clear();
    }
    throw std::runtime_error(message);
}

/// source.name for objects, source[name] for dicts; a new reference, or null when absent
/// (AttributeError / KeyError). Any other error is thrown. A dict subclass is read as an
/// object first: huggingface_hub's reply types (InferenceClientModel's raw replies) are dicts
/// whose items are copies without the extra fields (usage details) their attributes have.
inline PyObject* member(PyObject* source, PyObject* name) {
    if (source == nullptr || source == Py_None) return nullptr;
    if (!PyDict_CheckExact(source)) {
        PyObject* value = PyObject_GetAttr(source, name);
        if (value != nullptr) return value;
        // An "attribute dict" (__getattr__ = dict.__getitem__) says KeyError for a missing one.
        const bool dict = PyDict_Check(source);
        if (!PyErr_ExceptionMatches(dict ? PyExc_LookupError : PyExc_AttributeError) &&
            !PyErr_ExceptionMatches(PyExc_AttributeError))
            throw_python_error("reading an attribute");
        PyErr_Clear();
        if (!dict) return nullptr;
    }
    PyObject* item = PyDict_GetItemWithError(source, name);
    if (item == nullptr && PyErr_Occurred()) throw_python_error("reading a usage field");
    Py_XINCREF(item);
    return item;
}

/// The UTF-8 text of a str (empty for anything else). Text UTF-8 cannot hold (lone surrogates,
/// as a 'surrogateescape' decode leaves them) keeps the rest, '?' in their place, in one of a
/// few scratch buffers: the view stays valid for the next few calls, which the GIL serialises.
inline std::string_view text_of(PyObject* value) {
    if (value == nullptr || !PyUnicode_Check(value)) return {};
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(value, &size);
    if (utf8 != nullptr) return {utf8, static_cast<std::size_t>(size)};
    PyErr_Clear();
    Ref replaced(PyUnicode_AsEncodedString(value, "utf-8", "replace"));
    if (!replaced) {
        PyErr_Clear();
        return {};
    }
    static std::string scratch[8];
    static unsigned next = 0;
    std::string& kept = scratch[next++ % 8];
    kept.assign(PyBytes_AS_STRING(replaced.get()), static_cast<std::size_t>(PyBytes_GET_SIZE(replaced.get())));
    return kept;
}

/// type(object).__name__
inline std::string_view type_name(PyObject* object) {
    std::string_view name = Py_TYPE(object)->tp_name;
    const std::size_t dot = name.rfind('.');
    return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

}  // namespace sop_telemetry::python
