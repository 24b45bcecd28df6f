#include "test_support.hpp"

#include "detail/file_io.hpp"

#include <gtest/gtest.h>

#include <tuple>

#include <sys/stat.h>
#include <utime.h>

namespace sop_telemetry {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

/// Sets a file's modification time `days` into the past.
void age_file(const fs::path& path, int days) {
    const std::time_t past = std::time(nullptr) - days * 86400;
    utimbuf times{past, past};
    ASSERT_EQ(::utime(path.c_str(), &times), 0);
}

mode_t mode_of(const fs::path& path) {
    struct stat info {};
    ::stat(path.c_str(), &info);
    return info.st_mode & 0777;
}

/// Writes a finished session with one LLM call into `dir`; returns its id.
std::string finished_session(const std::string& dir, const std::string& model = "gpt-4o") {
    auto manager = testing::make_manager(testing::test_config(dir));
    manager->get_collector().record_llm_call(model, 10, 5, 0.1);
    const std::string id = manager->session_id();
    manager->shutdown();
    return id;
}

TEST(Storage, DirectoryAndFilesArePrivateAndNamedBySessionId) {
    TempDir root;
    const fs::path dir = root / "nested/ept/sop_agents";
    const std::string id = finished_session(dir.string());
    EXPECT_EQ(mode_of(dir), 0700u);
    EXPECT_EQ(mode_of(dir / (id + ".json")), 0600u);
    EXPECT_TRUE(TelemetryDataStore::is_valid_session_id(id));
    EXPECT_EQ(testing::file_names(dir), std::vector<std::string>{id + ".json"});  // journal gone
}

TEST(Storage, ShutdownWritesTheSessionWithAnEndTime) {
    TempDir dir;
    const std::string id = finished_session(dir.str());
    const auto session = TelemetrySession::from_json(testing::read_text(dir / (id + ".json")));
    ASSERT_TRUE(session.has_value());
    EXPECT_TRUE(session->end_time.has_value());
    EXPECT_FALSE(session->incomplete);
    EXPECT_EQ(session->total_tokens.total_tokens, 15);
}

TEST(Storage, SessionIdsAreOldestFirstAndStoredSessionsReadable) {
    TempDir dir;
    const std::string first = finished_session(dir.str());
    const std::string second = finished_session(dir.str(), "claude-sonnet-4-5");
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    const auto ids = manager->get_all_session_ids();
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[0], first);
    EXPECT_EQ(ids[1], second);
    EXPECT_EQ(ids[2], manager->session_id());
    const auto stored = manager->get_session_data(second);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->total_tokens.model_breakdown.count("claude-sonnet-4-5"), 1u);
    EXPECT_FALSE(manager->get_session_data("no-such-session").has_value());
    EXPECT_FALSE(manager->get_session_data("../../etc/passwd").has_value());

    const StorageStats stats = manager->get_storage_stats();
    EXPECT_EQ(stats.storage_path, dir.str());
    EXPECT_EQ(stats.total_files, 2u);
    EXPECT_EQ(stats.oldest_session_id, first);
    EXPECT_EQ(stats.newest_session_id, second);
    EXPECT_GT(stats.total_bytes, 0u);
    EXPECT_TRUE(stats.storage_available);
    EXPECT_EQ(stats.write_errors, 0u);
}

TEST(Storage, CorruptTruncatedEmptyAndForeignFilesAreSkippedWithAnError) {
    TempDir dir;
    const std::string good = finished_session(dir.str());
    const std::string content = testing::read_text(dir / (good + ".json"));
    testing::write_text(dir / "20200101T000000.000000Z-1-aaaa.json", content.substr(0, content.size() / 2));
    testing::write_text(dir / "20200101T000000.000000Z-2-bbbb.json", "");
    testing::write_text(dir / "20200101T000000.000000Z-3-cccc.json", "{\"hello\": \"world\"}");
    testing::write_text(dir / "20200101T000000.000000Z-4-dddd.json", "\x89PNG\r\n\x1a\n garbage");
    testing::write_text(dir / "notes.txt", "not a session");

    const auto errors_before = testing::error_count("list_sessions");
    TelemetryDataStore store(dir.str());
    EXPECT_EQ(store.list_session_ids(), std::vector<std::string>{good});
    EXPECT_EQ(testing::error_count("list_sessions"), errors_before + 4);

    const auto read_errors = testing::error_count("read_session");
    EXPECT_FALSE(store.read_session("20200101T000000.000000Z-1-aaaa", PriceTable::built_in()));
    EXPECT_FALSE(store.read_session("20200101T000000.000000Z-3-cccc", PriceTable::built_in()));
    EXPECT_EQ(testing::error_count("read_session"), read_errors + 2);
    EXPECT_TRUE(store.read_session(good, PriceTable::built_in()));
}

TEST(Storage, CleanupRemovesOldFilesButNeverTheRunningSession) {
    TempDir dir;
    const std::string old_one = finished_session(dir.str());
    const std::string recent = finished_session(dir.str());
    age_file(dir / (old_one + ".json"), 30);
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    manager->flush_data();
    age_file(dir / (manager->session_id() + ".json"), 30);  // even when it looks old

    EXPECT_EQ(manager->cleanup_old_data(7), 1);
    EXPECT_FALSE(fs::exists(dir / (old_one + ".json")));
    EXPECT_TRUE(fs::exists(dir / (recent + ".json")));
    EXPECT_TRUE(fs::exists(dir / (manager->session_id() + ".json")));
    EXPECT_FALSE(manager->get_session_data(old_one).has_value());
}

TEST(Storage, AutoCleanupAtTheEndUsesTheConfigurationThenInForce) {
    // It ran at the start, with the configuration of that moment: a Python program's
    // initialize({"auto_cleanup": False}) or a longer max_file_age_days came too late, and
    // files older than 14 days were gone.
    TempDir dir;
    const std::string old_one = finished_session(dir.str());
    age_file(dir / (old_one + ".json"), 20);
    Config config = testing::test_config(dir.str());
    config.auto_cleanup = true;
    config.max_file_age_days = 14;
    for (const auto& [auto_cleanup, max_age, kept] : {std::tuple{false, 14, true}, {true, 30, true}, {true, 14, false}}) {
        auto manager = testing::make_manager(config);
        EXPECT_TRUE(fs::exists(dir / (old_one + ".json")));  // not at the start
        Config later = config;
        later.auto_cleanup = auto_cleanup;
        later.max_file_age_days = max_age;
        manager->initialize(later);
        manager->shutdown();
        EXPECT_EQ(fs::exists(dir / (old_one + ".json")), kept) << auto_cleanup << " " << max_age;
        EXPECT_TRUE(fs::exists(dir / (manager->session_id() + ".json")));
    }
}

TEST(Storage, FullDiskKeepsCollectingAndNeverDamagesTheOldFile) {
    TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    TelemetryCollector collector = manager->get_collector();
    collector.record_llm_call("gpt-4o", 1, 1, 0);
    ASSERT_TRUE(manager->flush_data());
    const fs::path file = dir / (manager->session_id() + ".json");
    const std::string good = testing::read_text(file);

    detail::io_faults().failing_writes = -1;  // every write fails with ENOSPC
    collector.record_llm_call("gpt-4o", 100, 100, 0);
    EXPECT_FALSE(manager->flush_data());
    const StorageStats stats = manager->get_storage_stats();
    EXPECT_FALSE(stats.storage_available);
    EXPECT_GE(stats.write_errors, 1u);
    EXPECT_EQ(testing::read_text(file), good);
    for (const auto& name : testing::file_names(dir.path()))
        EXPECT_EQ(name.find(".tmp"), std::string::npos) << name;
    EXPECT_EQ(manager->get_session_data()->total_tokens.total_tokens, 202);  // still in memory

    detail::io_faults().failing_writes = 0;  // space again: nothing was lost
    ASSERT_TRUE(manager->flush_data());
    EXPECT_EQ(manager->get_storage_stats().storage_available, true);
    const auto stored = TelemetrySession::from_json(testing::read_text(file));
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->total_tokens.total_tokens, 202);
}

TEST(Storage, UnusableDirectoryLeavesTheSessionInMemory) {
    TempDir dir;
    testing::write_text(dir / "a-file", "x");
    auto manager = testing::make_manager(testing::test_config((dir / "a-file/sub").string()));
    TelemetryCollector collector = manager->get_collector();
    collector.record_llm_call("gpt-4o", 3, 4, 0);
    EXPECT_FALSE(manager->flush_data());
    EXPECT_FALSE(manager->get_storage_stats().storage_available);
    EXPECT_EQ(manager->get_session_data()->total_tokens.total_tokens, 7);
    EXPECT_TRUE(manager->get_all_session_ids().size() == 1);  // the running one
    manager->shutdown();  // must not throw or crash
}

TEST(Storage, ReconfiguringTheStorageDirectoryMovesTheSession) {
    TempDir first, second;
    auto manager = testing::make_manager(testing::test_config(first.str()));
    manager->get_collector().record_llm_call("gpt-4o", 2, 2, 0);
    manager->flush_data();
    manager->initialize(testing::test_config(second.str()));
    manager->get_collector().record_llm_call("gpt-4o", 3, 3, 0);
    const std::string id = manager->session_id();
    manager->shutdown();
    EXPECT_FALSE(fs::exists(first / (id + ".jsonl")));
    EXPECT_FALSE(fs::exists(first / (id + ".json"))) << "the flushed copy stayed behind: a second, shorter session";
    const auto stored = TelemetrySession::from_json(testing::read_text(second / (id + ".json")));
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->total_tokens.total_tokens, 10);
}

/// Shuts `manager` down and reads back the session file it wrote in `dir`.
std::optional<TelemetrySession> shut_down_and_read(TelemetryManager& manager, const TempDir& dir) {
    const std::string id = manager.session_id();
    manager.shutdown();
    return TelemetrySession::from_json(testing::read_text(dir / (id + ".json")));
}

TEST(Storage, ATaskStillOpenAtShutdownIsWrittenCancelledNotRunning) {
    // The file had an end time, yet its task said running: tools showed the session running
    // for ever after its process was gone.
    TempDir dir;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    TelemetryCollector collector = manager->get_collector();
    ASSERT_TRUE(collector.start_task("outer", "never ended"));
    ASSERT_TRUE(collector.start_task("inner", "never ended either"));
    ASSERT_TRUE(collector.start_task("done", "ended"));
    ASSERT_TRUE(collector.end_task("done"));
    const auto stored = shut_down_and_read(*manager, dir);
    ASSERT_TRUE(stored.has_value());
    ASSERT_EQ(stored->tasks.size(), 3u);
    for (const TaskExecution& task : stored->tasks) {
        EXPECT_EQ(task.status, task.task_id == "done" ? TaskStatus::completed : TaskStatus::cancelled) << task.task_id;
        EXPECT_TRUE(task.end_time.has_value()) << task.task_id;
    }
}

TEST(Storage, TasksEndEvenPastTheEventBudget) {
    // Ends were dropped with the rest once the budget was spent: a task that began within it
    // stayed running for ever, ended by end_task or by the shutdown alike.
    TempDir dir;
    Config config = testing::test_config(dir.str());
    config.max_events_per_session = 10;
    auto manager = testing::make_manager(config);
    TelemetryCollector collector = manager->get_collector();
    ASSERT_TRUE(collector.start_task("ended", "by end_task"));
    ASSERT_TRUE(collector.start_task("left", "by the shutdown"));
    for (int i = 0; i < 20; ++i) collector.record_tool_usage("tool", 0.01);
    ASSERT_TRUE(collector.end_task("ended"));
    const auto stored = shut_down_and_read(*manager, dir);
    ASSERT_TRUE(stored.has_value());
    ASSERT_EQ(stored->tasks.size(), 2u);
    EXPECT_EQ(stored->tasks[0].status, TaskStatus::completed);
    EXPECT_EQ(stored->tasks[1].status, TaskStatus::cancelled);
    EXPECT_EQ(stored->dropped_events, 12u);  // 8 tool calls recorded within the budget
}

TEST(Storage, AForkedChildCannotMoveItsParentsSession) {
    // A child's initialize() with another storage_dir deleted the parent's flushed file and journal.
    TempDir dir, other;
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    manager->get_collector().record_llm_call("gpt-4o", 1, 1, 0);
    ASSERT_TRUE(manager->flush_data());
    const std::string id = manager->session_id();
    const testing::ChildOutcome outcome = testing::run_in_child([&] {
        return !manager->initialize(testing::test_config(other.str()));
    });
    EXPECT_EQ(outcome, testing::ChildOutcome::passed);
    EXPECT_TRUE(fs::exists(dir / (id + ".json")));
    EXPECT_TRUE(fs::exists(dir / (id + ".jsonl")));
}

TEST(Storage, TheStoresPriceFileIsNoSession) {
    TempDir dir;
    testing::write_text(dir / "prices.json", R"({"version":"mine","models":{"m":{"input":1,"output":2}}})");
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    const auto errors = testing::error_count("list_sessions");
    manager->flush_data();
    EXPECT_EQ(manager->get_all_session_ids(), std::vector<std::string>{manager->session_id()});
    EXPECT_EQ(manager->get_storage_stats().total_files, 1u);
    EXPECT_EQ(testing::error_count("list_sessions"), errors);
    EXPECT_TRUE(manager->get_session_data()->price_table_version.ends_with("+mine"));
}

TEST(Storage, SessionIdValidationRejectsPathTricks) {
    for (const char* bad : {"", ".hidden", "../x", "a/b", "a\\b", "a b", "x\n"})
        EXPECT_FALSE(TelemetryDataStore::is_valid_session_id(bad)) << bad;
    EXPECT_TRUE(TelemetryDataStore::is_valid_session_id("20261124T193400.730580Z-4819-8e01"));
}

}  // namespace
}  // namespace sop_telemetry
