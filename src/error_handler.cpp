#include <sop_telemetry/error_handler.hpp>

#include "detail/event_log.hpp"
#include "detail/session_core.hpp"

#include <cstdio>

namespace sop_telemetry {

namespace {

void log_to_stderr(LogLevel level, std::string_view message) {
    std::fprintf(stderr, "[sop_telemetry %s] %.*s\n", to_string(level),
                 static_cast<int>(message.size()), message.data());
}

bool should_log(std::uint64_t count) {
    return count <= ErrorHandler::kLogBurst || count % 100 == 0;
}

}  // namespace

ErrorHandler& ErrorHandler::instance() noexcept {
    static ErrorHandler* handler = new ErrorHandler();  // never destroyed: usable during exit
    return *handler;
}

ErrorHandler& get_error_handler() noexcept { return ErrorHandler::instance(); }

void ErrorHandler::record_current_exception(std::string_view operation) noexcept {
    try {
        throw;
    } catch (const std::exception& error) {
        record(operation, error.what());
    } catch (...) {
        record(operation, "unknown exception");
    }
}

void ErrorHandler::record(std::string_view operation, std::string_view message) noexcept {
    std::uint64_t count = 0;
    try {
        std::lock_guard lock(mutex_);
        auto it = records_.find(std::string(operation));
        if (it == records_.end()) {
            if (records_.size() >= kMaxOperations) {
                ++overflow_count_;
                return;
            }
            it = records_.emplace(std::string(operation), ErrorRecord{}).first;
            it->second.operation = operation;
        }
        ErrorRecord& record = it->second;
        count = ++record.count;
        record.last_time_us = detail::now_ns() / 1000;
        if (record.recent_messages.size() == kMaxMessagesPerOperation)
            record.recent_messages.erase(record.recent_messages.begin());
        record.recent_messages.emplace_back(detail::clip_utf8(message, kMaxMessageBytes));
    } catch (...) {
        return;  // out of memory while recording an error: nothing sensible is left to do
    }
    if (should_log(count)) {
        try {
            std::string line = "telemetry error in " + std::string(operation) + ": " +
                               std::string(message);
            if (count == kLogBurst) line += " (further errors of this operation are sampled)";
            log(LogLevel::warning, line);
        } catch (...) {
        }
    }
}

void ErrorHandler::log(LogLevel level, std::string_view message) noexcept {
    LogCallback callback;
    {
        std::lock_guard lock(mutex_);
        if (level < level_ || level_ == LogLevel::off) return;
        try {
            callback = callback_;
        } catch (...) {
            return;
        }
    }
    try {
        if (callback) {
            callback(level, message);
        } else {
            log_to_stderr(level, message);
        }
    } catch (...) {
        // A throwing log sink must not take the host down with it.
    }
}

std::vector<ErrorRecord> ErrorHandler::get_error_summary() const noexcept {
    try {
        std::lock_guard lock(mutex_);
        std::vector<ErrorRecord> summary;
        for (const auto& [name, record] : records_) summary.push_back(record);
        if (overflow_count_ > 0)
            summary.push_back({"(other operations)", overflow_count_, {}, 0});
        return summary;
    } catch (...) {
        return {};
    }
}

std::uint64_t ErrorHandler::total_errors() const noexcept {
    std::lock_guard lock(mutex_);
    std::uint64_t total = overflow_count_;
    for (const auto& [name, record] : records_) total += record.count;
    return total;
}

void ErrorHandler::reset_error_state() noexcept {
    std::lock_guard lock(mutex_);
    records_.clear();
    overflow_count_ = 0;
}

void ErrorHandler::set_log_callback(LogCallback callback) noexcept {
    std::lock_guard lock(mutex_);
    callback_ = std::move(callback);
}

void ErrorHandler::set_log_level(LogLevel level) noexcept {
    std::lock_guard lock(mutex_);
    level_ = level;
}

LogLevel ErrorHandler::log_level() const noexcept {
    std::lock_guard lock(mutex_);
    return level_;
}

}  // namespace sop_telemetry
