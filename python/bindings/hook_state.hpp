// What the C++ hooks (bind_hooks.cpp) and the agent-run bookkeeping (bind_runs.cpp) share: the
// collector they record into, the ContextVar holding the current span, and the steps and tool
// calls in progress. Everything here runs with the GIL held, which guards it.
//
// Steps and tool calls do not set the ContextVar (each set is a new context mapping and a
// token, and they happen every step): an open step stands in for the context's span it began
// under, an open tool call for that span on its own thread, so the spans begun meanwhile still
// hang under them (current_parent()).
#pragma once

#include "python_objects.hpp"

#include <sop_telemetry/telemetry.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sop_telemetry::python {

/// A step or tool call in progress: spans begun under `context` hang under it instead.
struct OpenSpan {
    const void* agent;    // steps: the agent running it; tools: null
    const void* subject;  // what it began for: the memory step (a planning step: its step
                          // argument), the tool; a subclass calling super() brings the same one
    const void* hook;     // the hook that began it: super() comes through another one
    const void* thread;   // the thread state it began on
    std::uint64_t span;
    std::uint64_t context;  // the context's span when it began
    bool tool;
};

/// An agent run in progress, and the task it opened when it was the outermost run.
struct OpenRun {
    const void* agent;
    std::uint64_t span;
    std::uint64_t task_span;  // 0: it joined a task or an outer run
    std::string task_id;
    std::uint64_t parent;     // what it hangs under: its task, the user's, a calling agent's step
};

struct HookState {
    PyObject* current_span_var = nullptr;  // ContextVar[int]: the span new calls hang under
    std::optional<TelemetryCollector> collector;  // unset: hooks only call through
    bool inject_faults = false;
    // In progress, newest last. A handful at a time.
    std::vector<OpenSpan> open_spans;
    std::vector<OpenRun> open_runs;
    std::uint64_t runs_started = 0;  // numbers the tasks runs open: "run-N"
    std::deque<std::string> step_names;      // "step N" at N
    std::deque<std::string> odd_step_names;  // negative or huge N
    PyObject* hook_type = nullptr;
    PyObject* context_run = nullptr;  // contextvars.Context.run
};

extern HookState hook_state;  // made when the module loads; no guard to check on every use

inline HookState& state() { return hook_state; }

/// Whether the hooks record: a collector is set and telemetry is enabled.
inline bool recording() { return hook_state.collector && hook_state.collector->is_enabled(); }

/// Attribute names, interned once.
struct Names {
    PyObject* token_usage;
    PyObject* input_tokens;
    PyObject* output_tokens;
    PyObject* raw;
    PyObject* usage;
    PyObject* prompt_tokens_details;
    PyObject* cached_tokens;
    PyObject* cache_read_input_tokens;
    PyObject* cache_creation_input_tokens;
    PyObject* completion_tokens_details;
    PyObject* reasoning_tokens;
    PyObject* model_id;
    PyObject* name;
    PyObject* error;
    PyObject* step_number;
    PyObject* memory_step;
    PyObject* memory;
    PyObject* steps;
    PyObject* managed_agents;
    PyObject* task;
    PyObject* stream;
    PyObject* step;
    PyObject* cacheReadInputTokens;
    PyObject* cacheWriteInputTokens;
};

const Names& names();

/// Throws when tests asked every hook's telemetry to fail.
void fail_if_injected();
/// Inside a catch: the exception in flight goes to the error handler under `operation`.
void record_failure(const char* operation) noexcept;

/// The context's span (0: none).
std::uint64_t current_span();
/// The open step or tool call standing in for the context's span (see the top of this file),
/// else that span (0: none).
std::uint64_t open_span_under(std::uint64_t context);
/// The span new spans hang under, given the context's span: open_span_under(context). With
/// no span in the context: the task or scope the user opened, else the task of the one
/// outermost agent run in progress, else (none, or several runs) TelemetryCollector::kRoot.
std::uint64_t parent_under(std::uint64_t context);
/// Whether `task_span` is a task an agent run opened (not one the user did).
bool opened_by_a_run(std::uint64_t task_span);
/// Whether an agent run in progress hangs directly under `span`.
bool has_run_under(std::uint64_t span);
inline std::uint64_t current_parent() { return parent_under(current_span()); }
/// The span of the agent's open run — inside it, the context's span — when it has exactly one
/// (0: none, or several at once).
std::uint64_t open_run_of(const void* agent);
/// The context's span inside the agent's run: open_run_of(agent), else the ContextVar's.
inline std::uint64_t run_context_of(const void* agent) {
    const std::uint64_t span = open_run_of(agent);
    return span != 0 ? span : current_span();
}

/// Removes the newest open step or tool call that `match` accepts; returns its span (0: none).
template <typename Match>
std::uint64_t take_open_span(Match match) noexcept {
    std::vector<OpenSpan>& open = state().open_spans;
    const auto found = std::find_if(open.rbegin(), open.rend(), match);
    if (found == open.rend()) return 0;
    const std::uint64_t span = found->span;
    open.erase(std::next(found).base());
    return span;
}

/// Ends the agent's newest open step — of its run `run` when given — failed when the finished
/// step (may be null) carries an error, else when `raised` (may be null) is not None: the
/// exception that ended it without smolagents putting it on the step; else with `otherwise`.
void end_step(PyObject* agent, PyObject* memory_step, std::uint64_t run = 0, PyObject* raised = nullptr,
              TaskStatus otherwise = TaskStatus::completed);

/// The exception the running generator or function is handling — in an `except` or, while
/// an exception passes through, a `finally` block — without looking further out (an
/// exception the host handles around the whole agent run is none of the step's). Borrowed;
/// null when none.
PyObject* exception_being_handled();

/// A vectorcall argument given at `position` or as `keyword` (borrowed; null when absent).
PyObject* argument(PyObject* const* args, std::size_t nargsf, PyObject* kwnames, Py_ssize_t position,
                   PyObject* keyword);

/// callable(*args[:at], *extra, *args[at:], **keywords): positional `extra` inserted at `at`
/// (at most the number of positional arguments), the arguments on the stack when they fit.
PyObject* vectorcall_inserting(PyObject* callable, PyObject* const* args, std::size_t nargsf, PyObject* kwnames,
                               Py_ssize_t at, std::initializer_list<PyObject*> extra);

/// MultiStepAgent.run in place of the original (bind_runs.cpp): a run's span, and the task of an
/// outermost run, around the call; a streamed run (stream=True) goes to `streamed`, a Python
/// function called as streamed(original, *args, **kwargs).
PyObject* call_agent_run(PyObject* original, PyObject* streamed, PyObject* const* args, std::size_t nargsf,
                         PyObject* kwnames);

/// The classes of an agent, its model and its tools, patched if they need to be
/// (bind_prepare.cpp). Never raises.
void prepare_agent(PyObject* agent) noexcept;

/// A token count (hook_tokens.cpp): an int, or a float holding a whole number, within 64 bits
/// (negative ones the engine sets to 0 and records). Anything else present counts 0 and is a
/// recorded telemetry error; None and null are 0.
std::int64_t token_count(PyObject* value);

/// The tokens of a model's reply (hook_tokens.cpp). Never throws: a part that cannot be read is
/// a recorded telemetry error, and the rest is kept.
TokenCounts tokens_of(PyObject* message) noexcept;

/// "TypeName: message" of a Python exception.
std::string error_text(PyObject* error);
/// A failed (or, for KeyboardInterrupt and GeneratorExit, cancelled) end; the text lives in
/// `text_storage`.
SpanEnd failed_end(PyObject* error, std::string& text_storage);
/// The text of `value` (a str attribute of `object`, kept alive by the caller), or
/// type(object).__name__ when it is missing or not a non-empty str.
std::string_view name_of(PyObject* object, PyObject* value);

}  // namespace sop_telemetry::python
