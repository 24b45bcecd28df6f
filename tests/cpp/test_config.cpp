#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace sop_telemetry {
namespace {

/// Sets an environment variable for the lifetime of the object.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
    ~ScopedEnv() { ::unsetenv(name_); }

private:
    const char* name_;
};

TEST(Config, DefaultsNeedNothing) {
    const Config config = resolve_config({});
    EXPECT_TRUE(config.enabled);
    EXPECT_EQ(config.max_file_age_days, 14);
    EXPECT_TRUE(config.auto_cleanup);
    EXPECT_LE(config.flush_interval, std::chrono::seconds(2));
    EXPECT_GE(config.max_events_per_session, 1'000'000u);
    EXPECT_TRUE(config.storage_dir.ends_with("/ept/sop_agents"));
}

TEST(Config, StorageDirectoryFollowsXdgThenHome) {
    ScopedEnv xdg("XDG_CACHE_HOME", "/tmp/xdg-cache");
    EXPECT_EQ(default_storage_dir(), "/tmp/xdg-cache/ept/sop_agents");
    ::unsetenv("XDG_CACHE_HOME");
    ScopedEnv home("HOME", "/tmp/some-home");
    EXPECT_EQ(default_storage_dir(), "/tmp/some-home/.cache/ept/sop_agents");
    ScopedEnv dir("SOP_TELEMETRY_DIR", "/tmp/explicit");
    EXPECT_EQ(resolve_config({}).storage_dir, "/tmp/explicit");
}

TEST(Config, EnvironmentOverridesCode) {
    ScopedEnv enabled("SOP_TELEMETRY_ENABLED", "0");
    ScopedEnv level("SOP_TELEMETRY_LOG_LEVEL", "DEBUG");
    ScopedEnv metrics("SOP_TELEMETRY_CODE_METRICS", "off");
    ScopedEnv interval("SOP_TELEMETRY_FLUSH_INTERVAL_MS", "250");
    Config requested;
    requested.enabled = true;
    const Config config = resolve_config(requested);
    EXPECT_FALSE(config.enabled);
    EXPECT_EQ(config.log_level, LogLevel::debug);
    EXPECT_FALSE(config.code_metrics);
    EXPECT_EQ(config.flush_interval, std::chrono::milliseconds(250));
}

TEST(Config, WhatShapesASessionAtItsStartHasEnvironmentVariablesToo) {
    // A Python program's session starts at the import, before its initialize(): without these
    // the journal, the event budget and the environment allowlist could never be changed there.
    ScopedEnv journal("SOP_TELEMETRY_JOURNAL", "off");
    ScopedEnv events("SOP_TELEMETRY_MAX_EVENTS_PER_SESSION", "5000");
    ScopedEnv allowlist("SOP_TELEMETRY_ENV_ALLOWLIST", "CI, BUILD_ID,,");
    ScopedEnv sigterm("SOP_TELEMETRY_SIGTERM", "0");
    std::vector<std::string> problems;
    const Config config = resolve_config({}, &problems);
    EXPECT_FALSE(config.journal);
    EXPECT_FALSE(config.handle_sigterm);
    EXPECT_EQ(config.max_events_per_session, 5000u);
    EXPECT_EQ(config.env_allowlist, (std::vector<std::string>{"CI", "BUILD_ID"}));
    EXPECT_TRUE(problems.empty());
    ScopedEnv bad("SOP_TELEMETRY_MAX_EVENTS_PER_SESSION", "lots");
    EXPECT_EQ(resolve_config({}, &problems).max_events_per_session, Config{}.max_events_per_session);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_EQ(problems[0], "SOP_TELEMETRY_MAX_EVENTS_PER_SESSION=\"lots\" is not a number");
}

TEST(Config, OnOffVariablesTakeAnyCaseAndSpaces) {
    for (const char* off : {"False", "FALSE", "Off", " no ", "0"}) {
        ScopedEnv enabled("SOP_TELEMETRY_ENABLED", off);
        std::vector<std::string> problems;
        EXPECT_FALSE(resolve_config({}, &problems).enabled) << off;
        EXPECT_TRUE(problems.empty()) << off;
    }
    for (const char* on : {"True", "YES", "On "}) {
        ScopedEnv metrics("SOP_TELEMETRY_CODE_METRICS", on);
        Config requested;
        requested.code_metrics = false;
        EXPECT_TRUE(resolve_config(requested).code_metrics) << on;
    }
}

TEST(Config, InvalidValuesGetAMessageAndTheDefault) {
    ScopedEnv level("SOP_TELEMETRY_LOG_LEVEL", "loud");
    ScopedEnv enabled("SOP_TELEMETRY_ENABLED", "maybe");
    Config requested;
    requested.flush_interval = std::chrono::milliseconds(0);
    requested.max_file_age_days = -3;
    requested.max_memory_sessions = -1;
    requested.max_events_per_session = 0;
    std::vector<std::string> problems;
    const Config config = resolve_config(requested, &problems);
    const Config defaults;
    EXPECT_EQ(config.flush_interval, defaults.flush_interval);
    EXPECT_EQ(config.max_file_age_days, defaults.max_file_age_days);
    EXPECT_EQ(config.max_memory_sessions, defaults.max_memory_sessions);
    EXPECT_EQ(config.max_events_per_session, defaults.max_events_per_session);
    EXPECT_EQ(config.log_level, LogLevel::warning);
    EXPECT_TRUE(config.enabled);
    ASSERT_EQ(problems.size(), 6u);
    EXPECT_NE(problems[0].find("SOP_TELEMETRY_ENABLED"), std::string::npos);
    EXPECT_NE(problems[1].find("loud"), std::string::npos);
}

TEST(Config, InvalidValuesAreLoggedByInitialize) {
    std::vector<std::string> logged;
    get_error_handler().set_log_callback(
        [&](LogLevel, std::string_view message) { logged.emplace_back(message); });
    testing::TempDir dir;
    Config config = testing::test_config(dir.str());
    config.max_file_age_days = 0;
    auto manager = testing::make_manager(config);
    get_error_handler().set_log_callback([](LogLevel, std::string_view) {});
    ASSERT_EQ(logged.size(), 1u);
    EXPECT_NE(logged[0].find("max_file_age_days"), std::string::npos);
    EXPECT_EQ(manager->config().max_file_age_days, 14);
}

TEST(Config, DisabledByEnvironmentWritesNothingAtAll) {
    ScopedEnv enabled("SOP_TELEMETRY_ENABLED", "0");
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config((dir / "store").string()));
    TelemetryCollector collector = manager->get_collector();
    EXPECT_FALSE(collector.is_enabled());
    EXPECT_FALSE(collector.start_task("t", "x"));
    collector.record_llm_call("gpt-4o", 1, 1, 0);
    EXPECT_FALSE(manager->is_enabled());
    manager->enable_telemetry();  // the environment wins
    EXPECT_FALSE(manager->is_enabled());
    EXPECT_FALSE(manager->flush_data());
    manager->shutdown();
    EXPECT_FALSE(std::filesystem::exists(dir / "store"));
}

TEST(Config, DisabledFromCodeCanBeEnabledLater) {
    testing::TempDir dir;
    Config config = testing::test_config(dir.str());
    config.enabled = false;
    auto manager = testing::make_manager(config);
    EXPECT_FALSE(manager->is_enabled());
    manager->enable_telemetry();
    EXPECT_TRUE(manager->is_enabled());
    manager->get_collector().record_llm_call("gpt-4o", 2, 3, 0);
    EXPECT_EQ(manager->get_session_data()->total_tokens.total_tokens, 5);
}

TEST(Config, InitializeIsIdempotentAndImplicit) {
    testing::TempDir dir;
    ScopedEnv storage("SOP_TELEMETRY_DIR", dir.str().c_str());
    TelemetryManager manager;
    EXPECT_FALSE(manager.is_initialized());
    TelemetryCollector collector = manager.get_collector();  // initialises
    EXPECT_TRUE(manager.is_initialized());
    const std::string id = manager.session_id();
    EXPECT_TRUE(manager.initialize());
    EXPECT_TRUE(manager.initialize());
    EXPECT_EQ(manager.session_id(), id);
    EXPECT_EQ(manager.get_storage_stats().storage_path, dir.str());
}

TEST(Config, ASecondInitializeSaysWhichOptionsTheRunningSessionKeeps) {
    // journal, max_events_per_session and env_allowlist shape the session when it starts; a
    // second initialize() dropped a change to them without a word.
    testing::TempDir dir;
    Config config = testing::test_config(dir.str());
    auto manager = testing::make_manager(config);
    const auto errors = testing::error_count("config");
    config.flush_interval = std::chrono::milliseconds(500);  // applies to the running session
    EXPECT_TRUE(manager->initialize(config));
    EXPECT_EQ(testing::error_count("config"), errors);
    config.max_events_per_session = 10;
    config.env_allowlist = {"HOME"};
    config.journal = !config.journal;
    EXPECT_TRUE(manager->initialize(config));
    EXPECT_EQ(testing::error_count("config"), errors + 3);
    std::vector<std::string> messages;
    for (const ErrorRecord& record : get_error_handler().get_error_summary())
        if (record.operation == "config") messages = record.recent_messages;
    ASSERT_GE(messages.size(), 3u);
    EXPECT_EQ(messages.back(), "env_allowlist is fixed when the session starts: the running session keeps its own");
    TelemetryCollector collector = manager->get_collector();
    for (int i = 0; i < 20; ++i) collector.record_llm_call("gpt-4o", 1, 1, 0);
    EXPECT_EQ(manager->get_session_data()->dropped_events, 0u);  // the budget it started with
    EXPECT_TRUE(manager->initialize(config));  // asked again: still not applied, said again
    EXPECT_EQ(testing::error_count("config"), errors + 6);
}

}  // namespace
}  // namespace sop_telemetry
