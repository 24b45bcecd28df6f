#include "test_support.hpp"

#include <gtest/gtest.h>

namespace sop_telemetry {
namespace {

class ErrorHandlerTest : public ::testing::Test {
protected:
    void SetUp() override { get_error_handler().reset_error_state(); }
    void TearDown() override {
        get_error_handler().set_log_callback([](LogLevel, std::string_view) {});
        get_error_handler().set_log_level(LogLevel::warning);
    }
};

TEST_F(ErrorHandlerTest, CountsByOperationAndKeepsABoundedSummary) {
    ErrorHandler& handler = get_error_handler();
    for (int i = 0; i < 12; ++i) handler.record("journal", "disk full #" + std::to_string(i));
    handler.record("pricing", std::string(5000, 'x'));
    const auto summary = handler.get_error_summary();
    ASSERT_EQ(summary.size(), 2u);
    for (const auto& record : summary) {
        if (record.operation == "journal") {
            EXPECT_EQ(record.count, 12u);
            ASSERT_EQ(record.recent_messages.size(), ErrorHandler::kMaxMessagesPerOperation);
            EXPECT_EQ(record.recent_messages.back(), "disk full #11");
        } else {
            EXPECT_EQ(record.count, 1u);
            EXPECT_LE(record.recent_messages[0].size(), ErrorHandler::kMaxMessageBytes);
        }
    }
    EXPECT_EQ(handler.total_errors(), 13u);
    handler.reset_error_state();
    EXPECT_TRUE(handler.get_error_summary().empty());
}

TEST_F(ErrorHandlerTest, RecordsTheExceptionBeingHandled) {
    ErrorHandler& handler = get_error_handler();
    try {
        throw std::runtime_error("engine call failed");
    } catch (...) {
        handler.record_current_exception("hook");
    }
    try {
        throw 42;
    } catch (...) {
        handler.record_current_exception("hook");
    }
    const auto summary = handler.get_error_summary();
    ASSERT_EQ(summary.size(), 1u);
    EXPECT_EQ(summary[0].count, 2u);
    EXPECT_EQ(summary[0].recent_messages,
              (std::vector<std::string>{"engine call failed", "unknown exception"}));
}

TEST_F(ErrorHandlerTest, OperationsBeyondTheBoundAreCountedTogether) {
    for (int i = 0; i < 100; ++i) get_error_handler().record("op" + std::to_string(i), "x");
    const auto summary = get_error_handler().get_error_summary();
    EXPECT_EQ(summary.size(), ErrorHandler::kMaxOperations + 1);
    EXPECT_EQ(summary.back().count, 100 - ErrorHandler::kMaxOperations);
    EXPECT_EQ(get_error_handler().total_errors(), 100u);
}

TEST_F(ErrorHandlerTest, LoggingIsRateLimitedAndGoesThroughTheCallback) {
    std::vector<std::string> lines;
    get_error_handler().set_log_callback(
        [&](LogLevel level, std::string_view message) {
            EXPECT_EQ(level, LogLevel::warning);
            lines.emplace_back(message);
        });
    for (int i = 1; i <= 1000; ++i) get_error_handler().record("hot_loop", "failed");
    // The first kLogBurst, then every 100th (100, 200, ..., 1000).
    EXPECT_EQ(lines.size(), ErrorHandler::kLogBurst + 10);
    EXPECT_NE(lines[0].find("hot_loop"), std::string::npos);
}

TEST_F(ErrorHandlerTest, LevelFiltersAndAThrowingCallbackIsContained) {
    int calls = 0;
    get_error_handler().set_log_callback([&](LogLevel, std::string_view) {
        ++calls;
        throw std::runtime_error("logging backend broke");
    });
    get_error_handler().set_log_level(LogLevel::error);
    get_error_handler().log(LogLevel::warning, "filtered");
    EXPECT_EQ(calls, 0);
    get_error_handler().log(LogLevel::error, "shown");
    EXPECT_EQ(calls, 1);
    get_error_handler().set_log_level(LogLevel::debug);
    EXPECT_NO_THROW(get_error_handler().record("x", "y"));
    EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace sop_telemetry
