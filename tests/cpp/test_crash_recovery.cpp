#include "test_support.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace sop_telemetry {
namespace {

namespace fs = std::filesystem;

/// Forks a child that records into `dir`, reports its session id through a pipe, keeps
/// running until killed.
pid_t start_recording_child(const std::string& dir, int calls, std::string& session_id) {
    int fds[2];
    if (::pipe(fds) != 0) return -1;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        TelemetryManager manager;
        manager.initialize(testing::test_config(dir));
        TelemetryCollector collector = manager.get_collector();
        collector.start_task("doomed", "任务被杀死");
        const std::uint64_t agent = collector.begin_span(SpanKind::agent, "supervisor", 0, "supervisor");
        for (int i = 0; i < calls; ++i) collector.record_llm_call("gpt-4o", 10, 1, 0.001);
        const std::string id = manager.session_id() + "\n";
        (void)!::write(fds[1], id.data(), id.size());
        (void)agent;
        for (;;) ::pause();  // SIGKILL ends it; no destructor, no atexit handler runs
    }
    ::close(fds[1]);
    char buffer[128] = {};
    const ssize_t got = ::read(fds[0], buffer, sizeof buffer - 1);
    ::close(fds[0]);
    session_id.assign(buffer, got > 0 ? static_cast<std::size_t>(got - 1) : 0);
    return pid;
}

TEST(CrashRecovery, JournalOfAKilledProcessBecomesAnIncompleteSession) {
    testing::TempDir dir;
    std::string id;
    const pid_t child = start_recording_child(dir.str(), 1000, id);
    ASSERT_GT(child, 0);
    ASSERT_FALSE(id.empty());
    // Every event older than one flush interval (50 ms here) must survive.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const fs::path journal = dir / (id + ".jsonl");
    ASSERT_TRUE(fs::exists(journal));

    // While the child lives, its journal is locked: nobody recovers or removes it.
    TelemetryDataStore store(dir.str());
    EXPECT_EQ(store.recover_journals({}, PriceTable::built_in()), 0);
    EXPECT_EQ(store.cleanup(0, {}), 0);
    EXPECT_TRUE(fs::exists(journal));

    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));

    // The next start in the same directory recovers it.
    auto manager = testing::make_manager(testing::test_config(dir.str()));
    EXPECT_FALSE(fs::exists(journal));
    const auto session = manager->get_session_data(id);
    ASSERT_TRUE(session.has_value());
    EXPECT_TRUE(session->incomplete);
    ASSERT_EQ(session->tasks.size(), 1u);
    EXPECT_EQ(session->tasks[0].description, "任务被杀死");
    EXPECT_EQ(session->tasks[0].status, TaskStatus::running);
    EXPECT_EQ(session->tasks[0].llm_calls.size(), 1000u);
    EXPECT_EQ(session->total_tokens.total_tokens, 11000);
    ASSERT_EQ(session->tasks[0].agents.size(), 1u);
    EXPECT_EQ(session->tasks[0].agents[0].status, TaskStatus::running);
    EXPECT_TRUE(session->end_time.has_value());
}

TEST(CrashRecovery, TornLastLineIsIgnoredAndExplicitRecoverWorks) {
    testing::TempDir dir;
    std::string id;
    const pid_t child = start_recording_child(dir.str(), 10, id);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    const fs::path journal = dir / (id + ".jsonl");
    {
        std::ofstream append(journal, std::ios::app);
        append << R"({"span_id":"00001000000000ff","kind":"llm","name":"gpt-4o","start_us":1,"end)";
    }
    EXPECT_EQ(TelemetryDataStore(dir.str()).recover_journals({}, PriceTable::built_in()), 1);
    const auto session = TelemetrySession::from_json(testing::read_text(dir / (id + ".json")));
    ASSERT_TRUE(session.has_value());
    EXPECT_EQ(session->tasks[0].llm_calls.size(), 10u);
}

TEST(CrashRecovery, GarbageJournalIsReportedAndLeftAlone) {
    testing::TempDir dir;
    testing::write_text(dir / "20200101T000000.000000Z-9-ffff.jsonl", "not json at all\n");
    const auto errors = testing::error_count("recover");
    EXPECT_EQ(TelemetryDataStore(dir.str()).recover_journals({}, PriceTable::built_in()), 0);
    EXPECT_EQ(testing::error_count("recover"), errors + 1);
    EXPECT_TRUE(fs::exists(dir / "20200101T000000.000000Z-9-ffff.jsonl"));
}

}  // namespace
}  // namespace sop_telemetry
