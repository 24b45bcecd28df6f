// TelemetryCollector: the hot path. Every call checks one relaxed atomic flag, builds one small
// event and appends it to the calling thread's own buffer — no lock, no I/O, no JSON.
//
// Spans nest through parent ids. A parent is taken, in order, from the explicit `parent_id`
// argument (the Python front keeps its own context), from the calling thread's innermost
// SpanScope, or from the most recently started task that is still open. Calls made with no task
// open are kept as roots and reported in TelemetrySession::outside_tasks.
#pragma once

#include <sop_telemetry/types.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

namespace sop_telemetry {

namespace detail {
class SessionCore;
class SharedLane;
class ThreadBuffer;
}

/// One finished LLM call.
struct LlmCallInfo {
    std::string_view model;
    TokenCounts tokens;
    double duration = 0;          ///< seconds
    std::string_view error;       ///< non-empty: the call failed
    std::uint64_t parent_id = 0;  ///< 0: the current context
};

/// How a span ended.
struct SpanEnd {
    TaskStatus status = TaskStatus::completed;
    std::string_view error;
    TokenCounts tokens;  ///< LLM spans: usage known only at the end (streaming)
};

class TelemetryCollector {
public:
    /// As a `parent_id`: the span is a root, whatever the current context (0 means the current
    /// context: the thread's innermost scope or the newest open task, see current_span()).
    static constexpr std::uint64_t kRoot = ~std::uint64_t{0};

    /// A handle on the process-wide manager's session (initialising it on first use).
    TelemetryCollector() noexcept;
    explicit TelemetryCollector(std::shared_ptr<detail::SessionCore> core) noexcept;
    TelemetryCollector(const TelemetryCollector& other) noexcept;
    TelemetryCollector& operator=(const TelemetryCollector& other) noexcept;
    ~TelemetryCollector();

    /// Opens a task; false when telemetry is off, the id is empty or the task is already open.
    bool start_task(std::string_view task_id, std::string_view description,
                    std::string_view sop_category = {}) noexcept;
    /// start_task that returns the task's span id (0 when it was refused), for callers that
    /// parent spans explicitly, such as the Python front. `parent_id` 0: the current context;
    /// kRoot: none.
    std::uint64_t open_task(std::string_view task_id, std::string_view description,
                            std::string_view sop_category = {}, std::uint64_t parent_id = 0) noexcept;
    /// Closes an open task; false when it is not open.
    bool end_task(std::string_view task_id, TaskStatus status = TaskStatus::completed) noexcept;

    void record_llm_call(std::string_view model, std::int64_t prompt_tokens,
                         std::int64_t completion_tokens, double duration) noexcept;
    void record_llm_call(const LlmCallInfo& call) noexcept;
    void record_agent_execution(std::string_view agent_type, std::string_view agent_name,
                                double duration, std::uint64_t parent_id = 0) noexcept;
    void record_tool_usage(std::string_view tool_name, double duration, bool success = true,
                           std::string_view error = {}, std::uint64_t parent_id = 0) noexcept;

    /// Opens a span and returns its id (0 when telemetry is off). `detail` is the agent type for
    /// agents, the step type for steps.
    std::uint64_t begin_span(SpanKind kind, std::string_view name, std::uint64_t parent_id = 0,
                             std::string_view detail = {}) noexcept;
    /// Closes a span opened by begin_span (any thread). Id 0 is ignored; so is a later end of
    /// the same span (its tokens count once) and the end of a span this session never began.
    void end_span(std::uint64_t span_id, const SpanEnd& end = {}) noexcept;

    /// The span new events would attach to on this thread (0: none).
    std::uint64_t current_span() const noexcept;
    /// One relaxed atomic load: the whole cost of a call while telemetry is off.
    bool is_enabled() const noexcept {
        return enabled_ != nullptr && enabled_->load(std::memory_order_relaxed);
    }

    const std::shared_ptr<detail::SessionCore>& core() const noexcept { return core_; }

    /// A collector on the same session whose events all go to one buffer of their own instead
    /// of the calling thread's, for a caller that never uses it from two threads at once (the
    /// Python hooks hold the GIL). It spares the per-thread buffer lookup, and the thread-local
    /// setup of a thread's first call, which dominate in short-lived threads such as the one
    /// smolagents starts for every code step. Copies share the buffer (and the rule).
    TelemetryCollector serialized() const noexcept;

    /// A hint, for a caller about to record after other work: starts loading the memory the
    /// next event goes to, so the loads overlap that work instead of stalling the record.
    void prefetch() const noexcept;

private:
    detail::ThreadBuffer& buffer() const;
    /// `parent_id` as recorded: kRoot is none, 0 the current context.
    std::uint64_t parent_or_current(std::uint64_t parent_id) const noexcept {
        return parent_id == kRoot ? 0 : parent_id != 0 ? parent_id : current_span();
    }

    std::shared_ptr<detail::SessionCore> core_;
    const std::atomic<bool>* enabled_ = nullptr;  // the core's flag, cached for the hot path
    std::shared_ptr<detail::SharedLane> lane_;    // set: events go there, not to the thread's buffer
    detail::ThreadBuffer* lane_buffer_ = nullptr;  // the lane's buffer, one indirection fewer
};

/// RAII span: begins on construction, is the calling thread's current span while alive, ends on
/// destruction with the status set on it (completed by default).
class SpanScope {
public:
    SpanScope(TelemetryCollector& collector, SpanKind kind, std::string_view name,
              std::string_view detail = {}) noexcept;
    SpanScope(const SpanScope&) = delete;
    SpanScope& operator=(const SpanScope&) = delete;
    ~SpanScope();

    void set_status(TaskStatus status) noexcept { end_.status = status; }
    /// Marks the span failed with this message (copied).
    void set_error(std::string_view message) noexcept;
    void add_tokens(const TokenCounts& tokens) noexcept { end_.tokens += tokens; }
    std::uint64_t id() const noexcept { return span_id_; }

private:
    TelemetryCollector& collector_;
    std::uint64_t span_id_ = 0;
    SpanEnd end_;
    std::string error_;
};

/// RAII task: start_task on construction, end_task on destruction (completed unless set).
class TaskScope {
public:
    TaskScope(TelemetryCollector& collector, std::string_view task_id,
              std::string_view description, std::string_view sop_category = {}) noexcept;
    TaskScope(const TaskScope&) = delete;
    TaskScope& operator=(const TaskScope&) = delete;
    ~TaskScope();

    void set_status(TaskStatus status) noexcept { status_ = status; }

private:
    TelemetryCollector& collector_;
    std::string task_id_;
    TaskStatus status_ = TaskStatus::completed;
    bool started_ = false;
};

}  // namespace sop_telemetry
