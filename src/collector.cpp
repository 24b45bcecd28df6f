#include <sop_telemetry/collector.hpp>
#include <sop_telemetry/error_handler.hpp>
#include <sop_telemetry/manager.hpp>

#include "detail/session_core.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace sop_telemetry {

using detail::Event;
using detail::EventType;

namespace {

struct ScopeEntry {
    std::uint64_t generation;
    std::uint64_t span_id;
    std::int64_t start_ns;
};
thread_local std::vector<ScopeEntry> scope_stack;

const ScopeEntry* innermost_scope(std::uint64_t generation) noexcept {
    for (auto it = scope_stack.rbegin(); it != scope_stack.rend(); ++it)
        if (it->generation == generation) return &*it;
    return nullptr;
}

std::int64_t seconds_to_ns(double seconds) noexcept {
    constexpr double kMaxSeconds = 100.0 * 365 * 24 * 3600;  // a century: the start stays within int64
    if (!std::isfinite(seconds) || seconds <= 0) return 0;
    return static_cast<std::int64_t>(std::min(seconds, kMaxSeconds) * 1e9);
}

std::int64_t non_negative(std::int64_t count) noexcept { return count < 0 ? 0 : count; }

TokenCounts sanitized(const TokenCounts& tokens, const char* operation) noexcept {
    TokenCounts out{non_negative(tokens.prompt_tokens), non_negative(tokens.completion_tokens),
                    non_negative(tokens.cache_read_tokens), non_negative(tokens.cache_write_tokens),
                    non_negative(tokens.reasoning_tokens)};
    if (!(out == tokens)) get_error_handler().record(operation, "negative token count set to 0");
    return out;
}

void report_exception(const char* operation) noexcept {
    get_error_handler().record_current_exception(operation);
}

/// A span recorded when it has already finished (it ends now and lasted `duration` seconds).
struct FinishedSpan {
    SpanKind kind;
    std::string_view name;
    std::string_view detail;
    std::string_view error;
    double duration;
    bool failed;
    TokenCounts tokens;
};

void append_finished(detail::SessionCore& core, detail::ThreadBuffer& buffer, std::uint64_t parent_id,
                     const FinishedSpan& span) {
    if (!core.log.admit(buffer, EventType::complete)) return;
    Event event;
    event.kind = span.kind;
    event.span_id = buffer.next_span_id(span.kind);
    event.parent_id = parent_id;
    event.end_ns = detail::now_ns();
    event.start_ns = event.end_ns - seconds_to_ns(span.duration);
    event.name = buffer.arena().intern(detail::clip_utf8(span.name, detail::kMaxNameBytes));
    event.detail = buffer.arena().intern(detail::clip_utf8(span.detail, detail::kMaxNameBytes));
    event.tokens = span.tokens;
    if (span.failed) {
        event.status = TaskStatus::failed;
        event.error = buffer.arena().copy(detail::clip_utf8(span.error, detail::kMaxTextBytes));
    }
    core.log.append(buffer, event);
}

}  // namespace

TelemetryCollector::TelemetryCollector() noexcept
    : TelemetryCollector(TelemetryManager::get_instance().get_collector().core()) {}

TelemetryCollector::TelemetryCollector(std::shared_ptr<detail::SessionCore> core) noexcept
    : core_(std::move(core)), enabled_(core_ ? &core_->enabled : nullptr) {
    if (core_) core_->collectors.fetch_add(1, std::memory_order_relaxed);
}

TelemetryCollector::TelemetryCollector(const TelemetryCollector& other) noexcept
    : TelemetryCollector(other.core_) {
    lane_ = other.lane_;
    lane_buffer_ = other.lane_buffer_;
}

TelemetryCollector& TelemetryCollector::operator=(const TelemetryCollector& other) noexcept {
    if (this != &other) {
        if (core_) core_->collectors.fetch_sub(1, std::memory_order_relaxed);
        core_ = other.core_;
        enabled_ = other.enabled_;
        lane_ = other.lane_;
        lane_buffer_ = other.lane_buffer_;
        if (core_) core_->collectors.fetch_add(1, std::memory_order_relaxed);
    }
    return *this;
}

TelemetryCollector::~TelemetryCollector() {
    if (core_) core_->collectors.fetch_sub(1, std::memory_order_relaxed);
}

TelemetryCollector TelemetryCollector::serialized() const noexcept {
    TelemetryCollector copy(*this);
    try {
        if (core_) {
            copy.lane_ = core_->log.open_lane();
            copy.lane_buffer_ = &copy.lane_->buffer();
        }
    } catch (...) {
        report_exception("serialized");  // the copy writes to the threads' buffers instead
    }
    return copy;
}

detail::ThreadBuffer& TelemetryCollector::buffer() const {
    return lane_buffer_ != nullptr ? *lane_buffer_ : core_->log.local();
}

std::uint64_t TelemetryCollector::current_span() const noexcept {
    if (!core_) return 0;
    // The most recently opened of: this thread's innermost scope, the newest open task.
    const ScopeEntry* scope = innermost_scope(core_->log.generation());
    const detail::OpenTask* task = core_->current_task();
    if (scope && (!task || scope->start_ns >= task->start_ns)) return scope->span_id;
    return task ? task->span_id : 0;
}

bool TelemetryCollector::start_task(std::string_view task_id, std::string_view description,
                                    std::string_view sop_category) noexcept {
    return open_task(task_id, description, sop_category) != 0;
}

std::uint64_t TelemetryCollector::open_task(std::string_view task_id, std::string_view description,
                                            std::string_view sop_category, std::uint64_t parent_id) noexcept {
    if (!is_enabled()) return 0;
    if (task_id.empty()) {
        get_error_handler().record("start_task", "empty task id");
        return 0;
    }
    try {
        auto& buffer = this->buffer();
        Event event;
        event.type = EventType::begin;
        event.kind = SpanKind::task;
        event.status = TaskStatus::running;
        event.span_id = buffer.next_span_id(SpanKind::task);
        event.parent_id = parent_or_current(parent_id);
        event.start_ns = detail::now_ns();
        // Past the budget the task still opens (its end_task pairs with it), and nothing of it
        // is copied into the arena.
        const bool recorded = core_->log.admit(buffer, EventType::begin);
        const std::string_view id = detail::clip_utf8(task_id, detail::kMaxNameBytes);
        event.name = recorded ? buffer.arena().copy(id) : id;
        if (!core_->start_task(event.span_id, event.name, event.start_ns, recorded)) {
            get_error_handler().record("start_task", "task already open: " + std::string(id));
            return 0;
        }
        if (!recorded) return event.span_id;
        event.detail = buffer.arena().copy(detail::clip_utf8(description, detail::kMaxTextBytes));
        event.category = buffer.arena().intern(detail::clip_utf8(sop_category, detail::kMaxNameBytes));
        core_->log.append(buffer, event);
        core_->request_code_snapshot({event.span_id, false});
        return event.span_id;
    } catch (...) {
        report_exception("start_task");
        return 0;
    }
}

bool TelemetryCollector::end_task(std::string_view task_id, TaskStatus status) noexcept {
    // Like end_span, also while disabled: a task begun before must not stay open (and current).
    if (!core_) return false;
    try {
        bool recorded = true;
        const std::uint64_t span =
            core_->finish_task(detail::clip_utf8(task_id, detail::kMaxNameBytes), &recorded);
        if (span == 0) {
            // While off, start_task opened nothing: its end is no error either.
            if (is_enabled()) get_error_handler().record("end_task", "no open task: " + std::string(task_id));
            return false;
        }
        if (recorded) end_span(span, {status == TaskStatus::running ? TaskStatus::completed : status, {}, {}});
        return true;
    } catch (...) {
        report_exception("end_task");
        return false;
    }
}

void TelemetryCollector::prefetch() const noexcept {
    if (lane_buffer_ != nullptr) lane_buffer_->prefetch_next();  // threads' buffers: a lookup first
}

void TelemetryCollector::record_llm_call(std::string_view model, std::int64_t prompt_tokens,
                                         std::int64_t completion_tokens, double duration) noexcept {
    LlmCallInfo call;
    call.model = model;
    call.tokens.prompt_tokens = prompt_tokens;
    call.tokens.completion_tokens = completion_tokens;
    call.duration = duration;
    record_llm_call(call);
}

void TelemetryCollector::record_llm_call(const LlmCallInfo& call) noexcept {
    if (!is_enabled()) return;
    try {
        const TokenCounts tokens = sanitized(call.tokens, "record_llm_call");
        append_finished(*core_, buffer(), parent_or_current(call.parent_id),
                        {SpanKind::llm, call.model, {}, call.error, call.duration,
                         !call.error.empty(), tokens});
    } catch (...) {
        report_exception("record_llm_call");
    }
}

void TelemetryCollector::record_agent_execution(std::string_view agent_type,
                                                std::string_view agent_name, double duration,
                                                std::uint64_t parent_id) noexcept {
    if (!is_enabled()) return;
    try {
        append_finished(*core_, buffer(), parent_or_current(parent_id),
                        {SpanKind::agent, agent_name, agent_type, {}, duration, false, {}});
    } catch (...) {
        report_exception("record_agent_execution");
    }
}

void TelemetryCollector::record_tool_usage(std::string_view tool_name, double duration,
                                           bool success, std::string_view error,
                                           std::uint64_t parent_id) noexcept {
    if (!is_enabled()) return;
    try {
        append_finished(*core_, buffer(), parent_or_current(parent_id),
                        {SpanKind::tool, tool_name, {}, error, duration,
                         !success || !error.empty(), {}});
    } catch (...) {
        report_exception("record_tool_usage");
    }
}

std::uint64_t TelemetryCollector::begin_span(SpanKind kind, std::string_view name,
                                             std::uint64_t parent_id,
                                             std::string_view detail) noexcept {
    if (!is_enabled()) return 0;
    if (kind == SpanKind::task) {
        get_error_handler().record("begin_span", "tasks are opened with start_task");
        return 0;
    }
    try {
        auto& buffer = this->buffer();
        if (!core_->log.admit(buffer, EventType::begin)) return 0;
        Event event;
        event.type = EventType::begin;
        event.kind = kind;
        event.status = TaskStatus::running;
        event.span_id = buffer.next_span_id(kind);
        event.parent_id = parent_or_current(parent_id);
        event.start_ns = detail::now_ns();
        event.name = buffer.arena().intern(detail::clip_utf8(name, detail::kMaxNameBytes));
        event.detail = buffer.arena().intern(detail::clip_utf8(detail, detail::kMaxNameBytes));
        return core_->log.append(buffer, event) ? event.span_id : 0;
    } catch (...) {
        report_exception("begin_span");
        return 0;
    }
}

void TelemetryCollector::end_span(std::uint64_t span_id, const SpanEnd& end) noexcept {
    if (span_id == 0 || !core_) return;
    try {
        if (detail::kind_of_span_id(span_id) == SpanKind::task) core_->forget_task_span(span_id);
        // An end is recorded even while disabled, so no span that began stays open forever.
        auto& buffer = this->buffer();
        if (!core_->log.admit(buffer, EventType::end)) return;
        Event event;
        event.type = EventType::end;
        event.kind = detail::kind_of_span_id(span_id);
        event.span_id = span_id;
        event.end_ns = detail::now_ns();
        event.status = end.status == TaskStatus::running ? TaskStatus::completed : end.status;
        if (!end.error.empty()) {
            if (event.status == TaskStatus::completed) event.status = TaskStatus::failed;
            event.error = buffer.arena().copy(detail::clip_utf8(end.error, detail::kMaxTextBytes));
        }
        event.tokens = sanitized(end.tokens, "end_span");
        core_->log.append(buffer, event);
        if (event.kind == SpanKind::task) core_->request_code_snapshot({span_id, true});
    } catch (...) {
        report_exception("end_span");
    }
}

SpanScope::SpanScope(TelemetryCollector& collector, SpanKind kind, std::string_view name,
                     std::string_view detail) noexcept
    : collector_(collector), span_id_(collector.begin_span(kind, name, 0, detail)) {
    if (span_id_ == 0) return;
    try {
        scope_stack.push_back({collector.core()->log.generation(), span_id_, detail::now_ns()});
    } catch (...) {
        report_exception("span_scope");
    }
}

SpanScope::~SpanScope() {
    if (span_id_ == 0) return;
    for (auto it = scope_stack.rbegin(); it != scope_stack.rend(); ++it) {
        if (it->span_id == span_id_) {
            scope_stack.erase(std::next(it).base());
            break;
        }
    }
    collector_.end_span(span_id_, end_);
}

void SpanScope::set_error(std::string_view message) noexcept {
    try {
        error_.assign(message);
        end_.error = error_;
        end_.status = TaskStatus::failed;
    } catch (...) {
        report_exception("span_scope");
    }
}

TaskScope::TaskScope(TelemetryCollector& collector, std::string_view task_id,
                     std::string_view description, std::string_view sop_category) noexcept
    : collector_(collector) {
    started_ = collector.start_task(task_id, description, sop_category);
    if (!started_) return;
    try {
        task_id_.assign(task_id);
    } catch (...) {
        report_exception("task_scope");
        started_ = false;
    }
}

TaskScope::~TaskScope() {
    if (started_) collector_.end_task(task_id_, status_);
}

}  // namespace sop_telemetry
