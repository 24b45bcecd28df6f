// The error handler: where every telemetry failure goes instead of reaching the host.
//
// Errors are counted by operation, the last few messages of each operation are kept (bounded),
// and they are logged through a replaceable callback, rate-limited per operation so that a
// failure in a hot loop cannot flood the host's logs.
#pragma once

#include <sop_telemetry/config.hpp>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sop_telemetry {

using LogCallback = std::function<void(LogLevel, std::string_view message)>;

struct ErrorRecord {
    std::string operation;
    std::uint64_t count = 0;
    std::vector<std::string> recent_messages;  ///< newest last, at most kMaxMessagesPerOperation
    std::int64_t last_time_us = 0;
};

class ErrorHandler {
public:
    static constexpr std::size_t kMaxOperations = 64;
    static constexpr std::size_t kMaxMessagesPerOperation = 5;
    static constexpr std::size_t kMaxMessageBytes = 1024;
    /// Logged per operation before rate limiting starts; after that every 100th is logged.
    static constexpr std::uint64_t kLogBurst = 5;

    /// The process-wide handler.
    static ErrorHandler& instance() noexcept;

    void record(std::string_view operation, std::string_view message) noexcept;
    /// Inside a catch block: records the exception being handled (its what(), if any).
    void record_current_exception(std::string_view operation) noexcept;
    /// Logs through the callback when `level` is at or above the configured level.
    void log(LogLevel level, std::string_view message) noexcept;

    std::vector<ErrorRecord> get_error_summary() const noexcept;
    std::uint64_t total_errors() const noexcept;
    void reset_error_state() noexcept;

    /// Replaces the log sink (default: standard error). An empty callback restores the default.
    void set_log_callback(LogCallback callback) noexcept;
    void set_log_level(LogLevel level) noexcept;
    LogLevel log_level() const noexcept;

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, ErrorRecord> records_;
    std::uint64_t overflow_count_ = 0;  ///< errors of operations beyond kMaxOperations
    LogCallback callback_;
    LogLevel level_ = LogLevel::warning;
};

/// Shorthand for ErrorHandler::instance().
ErrorHandler& get_error_handler() noexcept;

}  // namespace sop_telemetry
