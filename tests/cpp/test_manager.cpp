#include "test_support.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cerrno>

namespace sop_telemetry {
namespace {

namespace fs = std::filesystem;

TEST(Manager, GetInstanceIsASingletonAndTheDefaultCollectorUsesIt) {
    testing::TempDir dir;
    ::setenv("SOP_TELEMETRY_DIR", dir.str().c_str(), 1);
    TelemetryManager& manager = TelemetryManager::get_instance();
    EXPECT_EQ(&manager, &TelemetryManager::get_instance());
    TelemetryCollector collector;  // as in the design document: no arguments
    collector.record_llm_call("gpt-4", 100, 50, 2.5);
    EXPECT_EQ(manager.get_session_data()->total_tokens.total_tokens, 150);
    manager.shutdown();
    ::unsetenv("SOP_TELEMETRY_DIR");
    EXPECT_TRUE(fs::exists(dir / (manager.session_id() + ".json")));
}

TEST(Manager, ShutdownIsIdempotentAndLaterCallsAreHarmless) {
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    TelemetryCollector collector = manager->get_collector();
    collector.record_llm_call("gpt-4o", 1, 1, 0);
    manager->shutdown();
    manager->shutdown();
    collector.record_llm_call("gpt-4o", 1, 1, 0);  // after the end: ignored, no crash
    EXPECT_FALSE(manager->flush_data());
    EXPECT_FALSE(manager->is_enabled());
    manager->enable_telemetry();  // does not reopen the ended session
    EXPECT_FALSE(manager->is_enabled());
    EXPECT_FALSE(collector.is_enabled());
    const auto stored = manager->get_session_data(manager->session_id());
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->total_tokens.total_tokens, 2);
}

TEST(Manager, AnEmptySessionCanEndLeavingNoFile) {
    testing::TempDir dir;
    auto empty = testing::make_manager(testing::test_config(dir.str()));
    ASSERT_TRUE(empty->flush_data());  // a session file and a journal exist now
    EXPECT_FALSE(fs::is_empty(dir.path()));
    EXPECT_TRUE(empty->discard_if_empty());
    EXPECT_TRUE(fs::is_empty(dir.path()));
    EXPECT_FALSE(empty->discard_if_empty());  // ended
    empty->shutdown();                          // harmless, writes nothing
    EXPECT_TRUE(fs::is_empty(dir.path()));

    auto used = testing::make_manager(testing::test_config(dir.str()));
    used->get_collector().record_tool_usage("grep", 0.1);
    EXPECT_FALSE(used->discard_if_empty());
    EXPECT_TRUE(used->is_enabled());  // nothing changed
    used->get_collector().record_tool_usage("grep", 0.1);
    used->shutdown();
    const auto stored = used->get_session_data(used->session_id());
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->outside_tasks.tools.size(), 2u);
}

TEST(Manager, JournalIsWrittenWithinAFlushInterval) {
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    manager->get_collector().record_llm_call("gpt-4o", 1, 1, 0);
    const fs::path journal = dir / (manager->session_id() + ".jsonl");
    for (int i = 0; i < 100 && testing::read_text(journal).find("gpt-4o") == std::string::npos; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_NE(testing::read_text(journal).find("gpt-4o"), std::string::npos);
}

// Named, so `top -H` tells it apart; at the lowest priority, so the host's threads go first.
TEST(Manager, TheBackgroundWorkerThreadIsNamedAndRunsAtTheLowestPriority) {
    const auto named_threads = [] {
        int count = 0;
        for (const auto& task : fs::directory_iterator("/proc/self/task")) {
            if (testing::read_text(task.path() / "comm") != "sop-telemetry\n") continue;
            const pid_t tid = static_cast<pid_t>(std::stol(task.path().filename().string()));
            errno = 0;
            count += ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid)) == 19 && errno == 0;
        }
        return count;
    };
    const int before = named_threads();
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    manager->get_collector().record_llm_call("gpt-4o", 1, 1, 0);
    int now = named_threads();
    for (int i = 0; i < 100 && now == before; ++i, now = named_threads())
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // it sets both on start
    EXPECT_EQ(now, before + 1);
    manager->shutdown();
    EXPECT_EQ(named_threads(), before);
}

TEST(Manager, StoredSessionsAreCachedUpToMaxMemorySessions) {
    testing::TempDir dir;
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        auto writer = testing::make_manager(testing::test_config(dir.str()));
        writer->get_collector().record_llm_call("gpt-4o", i + 1, 0, 0);
        ids.push_back(writer->session_id());
    }
    Config config = testing::test_config(dir.str());
    config.max_memory_sessions = 1;
    auto manager = testing::make_manager(config);
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(manager->get_session_data(ids[i])->total_tokens.total_tokens, i + 1);
    fs::remove(dir / (ids[2] + ".json"));  // a removed file is not served from the cache
    EXPECT_FALSE(manager->get_session_data(ids[2]).has_value());
}

TEST(Manager, SessionDataWhileRunningHasNoEndAndGrowingDuration) {
    testing::TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    const auto first = manager->get_session_data().value();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto second = manager->get_session_data().value();
    EXPECT_FALSE(second.end_time.has_value());
    EXPECT_GT(second.total_duration, first.total_duration);
    EXPECT_EQ(first.session_id, second.session_id);
}

}  // namespace
}  // namespace sop_telemetry
