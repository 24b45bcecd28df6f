#include "test_support.hpp"

#include "detail/journal.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <functional>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace sop_telemetry {
namespace {

namespace fs = std::filesystem;

/// Forks a child that runs `body`, sends the line it returns (no newline) back through a pipe
/// and keeps running until killed (SIGKILL: no destructor, no atexit handler runs). Returns
/// the child's pid and sets `line`.
pid_t fork_reporting_child(const std::function<std::string()>& body, std::string& line) {
    int fds[2];
    if (::pipe(fds) != 0) return -1;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        const std::string reply = body() + "\n";
        (void)!::write(fds[1], reply.data(), reply.size());
        for (;;) ::pause();
    }
    ::close(fds[1]);
    char buffer[256] = {};
    const ssize_t got = ::read(fds[0], buffer, sizeof buffer - 1);
    ::close(fds[0]);
    line.assign(buffer, got > 0 ? static_cast<std::size_t>(got - 1) : 0);
    return pid;
}

/// In a forked child: a session in `dir` that lives (and records) until the child is killed.
TelemetryManager& live_manager(const std::string& dir) {
    auto* manager = new TelemetryManager;
    manager->initialize(testing::test_config(dir));
    return *manager;
}

/// A child that records `calls` LLM calls into `dir` under an agent in a task, and reports its
/// session id.
pid_t start_recording_child(const std::string& dir, int calls, std::string& session_id) {
    return fork_reporting_child(
        [&] {
            TelemetryManager& manager = live_manager(dir);
            TelemetryCollector collector = manager.get_collector();
            collector.start_task("doomed", "任务被杀死");
            collector.begin_span(SpanKind::agent, "supervisor", 0, "supervisor");
            for (int i = 0; i < calls; ++i) collector.record_llm_call("gpt-4o", 10, 1, 0.001);
            return manager.session_id();
        },
        session_id);
}

/// Waits (up to 20 s) until `file` has `count` lines containing `text`.
bool wait_for_lines(const fs::path& file, const std::string& text, int count) {
    for (int waited_ms = 0; waited_ms < 20'000; waited_ms += 20) {
        std::ifstream in(file);
        int found = 0;
        for (std::string line; std::getline(in, line);) found += line.find(text) != std::string::npos;
        if (found >= count) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

TEST(CrashRecovery, JournalOfAKilledProcessBecomesAnIncompleteSession) {
    testing::TempDir dir;
    std::string id;
    const pid_t child = start_recording_child(dir.str(), 1000, id);
    ASSERT_GT(child, 0);
    ASSERT_FALSE(id.empty());
    // Every event the worker has flushed (it does every 50 ms here; at the lowest priority on a
    // loaded machine it may take longer) must survive.
    const fs::path journal = dir / (id + ".jsonl");
    ASSERT_TRUE(wait_for_lines(journal, "\"gpt-4o\"", 1000)) << "the journal never got every call";

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

TEST(CrashRecovery, AProcessForkedFromTheKilledOneDoesNotKeepItsJournalLocked) {
    testing::TempDir dir;
    std::string line;
    const pid_t recorder = fork_reporting_child(
        [&] {
            TelemetryManager& manager = live_manager(dir.str());
            TelemetryCollector collector = manager.get_collector();
            for (int i = 0; i < 10; ++i) collector.record_llm_call("gpt-4o", 10, 1, 0.001);
            manager.flush_data();  // the journal exists before the fork
            std::string ready;  // the fork handlers have run once the helper says so
            const pid_t helper = fork_reporting_child([] { return std::string("ready"); }, ready);
            return manager.session_id() + " " + std::to_string(helper);
        },
        line);
    ASSERT_GT(recorder, 0);
    std::string id;
    long helper = 0;
    std::istringstream(line) >> id >> helper;
    ASSERT_FALSE(id.empty());
    ASSERT_GT(helper, 0);
    ASSERT_TRUE(wait_for_lines(dir / (id + ".jsonl"), "\"gpt-4o\"", 10));
    ::kill(recorder, SIGKILL);
    ::waitpid(recorder, nullptr, 0);
    const int recovered = TelemetryDataStore(dir.str()).recover_journals({}, PriceTable::built_in());
    ::kill(static_cast<pid_t>(helper), SIGKILL);
    EXPECT_EQ(recovered, 1) << "the forked helper still holds the dead process's journal";
}

TEST(CrashRecovery, ARecoveredSessionLastsAtLeastAsLongAsItsLastFlushSaid) {
    testing::TempDir dir;
    std::string id;
    const pid_t child = fork_reporting_child(
        [&] {
            TelemetryManager& manager = live_manager(dir.str());
            TelemetryCollector collector = manager.get_collector();
            collector.start_task("long", "a long task");
            collector.record_llm_call("gpt-4o", 10, 1, 0.001);  // the last event: at the start
            std::this_thread::sleep_for(std::chrono::milliseconds(400));
            manager.flush_data();  // the session file says it has run 0.4 s
            return manager.session_id();
        },
        id);
    ASSERT_GT(child, 0);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ASSERT_EQ(TelemetryDataStore(dir.str()).recover_journals({}, PriceTable::built_in()), 1);
    const auto session = TelemetrySession::from_json(testing::read_text(dir / (id + ".json")));
    ASSERT_TRUE(session.has_value());
    EXPECT_TRUE(session->incomplete);
    EXPECT_GE(session->total_duration, 0.4);
    ASSERT_EQ(session->tasks.size(), 1u);
    EXPECT_GE(session->tasks[0].duration, 0.39);
}

TEST(CrashRecovery, TornLastLineIsIgnoredAndExplicitRecoverWorks) {
    testing::TempDir dir;
    std::string id;
    const pid_t child = start_recording_child(dir.str(), 10, id);
    const fs::path journal = dir / (id + ".jsonl");
    ASSERT_TRUE(wait_for_lines(journal, "\"gpt-4o\"", 10));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
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

TEST(CrashRecovery, SpansBegunAndEndedInOneBatchAreOneJournalRecord) {
    using detail::Event;
    using detail::EventType;
    const auto begin = [](std::uint64_t id, std::uint64_t parent, SpanKind kind, const char* name) {
        return Event{.span_id = id, .parent_id = parent, .start_ns = 1000 * static_cast<std::int64_t>(id),
                     .name = name, .type = EventType::begin, .kind = kind, .status = TaskStatus::running};
    };
    const auto end = [](std::uint64_t id, SpanKind kind, const char* error = "") {
        return Event{.span_id = id, .end_ns = 5000 + 1000 * static_cast<std::int64_t>(id), .error = error,
                     .type = EventType::end, .kind = kind,
                     .status = *error ? TaskStatus::failed : TaskStatus::completed};
    };
    std::vector<Event> events = {
        begin(1, 0, SpanKind::agent, "still running"),
        begin(2, 1, SpanKind::step, "step 1"),
        Event{.span_id = 3, .parent_id = 2, .start_ns = 3000, .end_ns = 3500, .name = "gpt-4o",
              .tokens = {100, 10, 0, 0, 0}, .kind = SpanKind::llm},
        begin(4, 2, SpanKind::tool, "读取文件"),
        end(4, SpanKind::tool, "FileNotFoundError: 没有"),
        end(2, SpanKind::step),
        end(9, SpanKind::tool),  // began in an earlier batch
    };
    events[5].tokens = {7, 3, 0, 0, 0};
    std::vector<const Event*> batch;
    for (const Event& event : events) batch.push_back(&event);
    std::string lines = detail::journal_header_line({.session_id = "s", .start_ns = 0});
    detail::append_span_lines(batch, lines);
    EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 1 + 5);  // header + 5 of 7 events

    std::string error;
    const auto journal = detail::read_journal(lines, error);
    ASSERT_TRUE(journal) << error;
    EXPECT_EQ(journal->bad_lines, 0u);
    ASSERT_EQ(journal->events.size(), 5u);
    const auto& read = journal->events;
    EXPECT_EQ(read[0].type, EventType::begin);  // no end yet: stays a begin
    EXPECT_EQ(read[0].span_id, 1u);
    EXPECT_EQ(read[1].type, EventType::complete);  // the step, written where it began
    EXPECT_EQ(read[1].span_id, 2u);
    EXPECT_EQ(read[1].name, "step 1");
    EXPECT_EQ(read[1].parent_id, 1u);
    EXPECT_EQ(read[1].start_ns, 2000);
    EXPECT_EQ(read[1].end_ns, 7000);
    EXPECT_EQ(read[1].tokens.prompt_tokens, 7);
    EXPECT_EQ(read[2].span_id, 3u);
    EXPECT_EQ(read[3].type, EventType::complete);  // the tool call, with its end's error
    EXPECT_EQ(read[3].name, "读取文件");
    EXPECT_EQ(read[3].status, TaskStatus::failed);
    EXPECT_EQ(read[3].error, "FileNotFoundError: 没有");
    EXPECT_EQ(read[3].end_ns, 9000);
    EXPECT_EQ(read[4].type, EventType::end);  // its begin was journaled before
    EXPECT_EQ(read[4].span_id, 9u);
}

}  // namespace
}  // namespace sop_telemetry
