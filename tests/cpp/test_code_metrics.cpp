#include "test_support.hpp"

#include "detail/code_metrics.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sop_telemetry {
namespace {

namespace fs = std::filesystem;

/// Runs the test body inside `dir` (the project root is taken from the working directory).
class WorkingDirectory {
public:
    explicit WorkingDirectory(const fs::path& dir) : previous_(fs::current_path()) {
        fs::current_path(dir);
    }
    ~WorkingDirectory() { fs::current_path(previous_); }

private:
    fs::path previous_;
};

void make_repo(const fs::path& dir) {
    const std::string git = "git -C '" + dir.string() + "' ";
    ASSERT_EQ(testing::run_shell(git + "init -q"), 0);
    testing::write_text(dir / "a.txt", "one\ntwo\nthree\n");
    testing::write_text(dir / "b.txt", "keep\n");
    ASSERT_EQ(testing::run_shell(git + "add -A && " + git +
                                 "-c user.email=t@t -c user.name=t commit -qm init"), 0);
}

/// Waits until the worker has measured the task (it runs off the hot path).
std::optional<CodeMetrics> metrics_when_ready(TelemetryManager& manager) {
    for (int i = 0; i < 200; ++i) {
        manager.flush_data();
        const auto session = manager.get_session_data();
        if (session && !session->tasks.empty() && session->tasks[0].code_changes.measured)
            return session->tasks[0].code_changes;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
}

TEST(CodeMetrics, CountsWhatChangedInTheWorkingTreeDuringTheTask) {
    testing::TempDir dir;
    make_repo(dir.path());
    testing::write_text(dir / "b.txt", "keep\nedited before the task\n");  // not the task's
    WorkingDirectory cwd(dir.path());
    Config config = testing::test_config((dir / ".cache").string());
    config.code_metrics = true;
    auto manager = testing::make_manager(config);
    TelemetryCollector collector = manager->get_collector();
    ASSERT_TRUE(collector.start_task("edit", "修改代码"));
    manager->flush_data();  // the start snapshot is taken before the edits below

    testing::write_text(dir / "a.txt", "one\nTWO\nthree\nfour\nfive\n");  // +3 -1
    testing::write_text(dir / "new.py", "print('x')\nprint('y')\n");     // +2 (untracked)
    collector.end_task("edit");

    const auto metrics = metrics_when_ready(*manager);
    ASSERT_TRUE(metrics.has_value());
    EXPECT_EQ(metrics->files_changed, 2);
    EXPECT_EQ(metrics->lines_added, 5);
    EXPECT_EQ(metrics->lines_removed, 1);
    std::vector<std::string> files = metrics->files;
    std::sort(files.begin(), files.end());
    EXPECT_EQ(files, (std::vector<std::string>{"a.txt", "new.py"}));
}

TEST(CodeMetrics, UntrackedLinksSpecialAndBinaryFilesCountAsInGit) {
    // A link to /dev/zero or to a FIFO would never reach its end: the snapshot (the worker's)
    // would hang, and with it the journal and the process's exit. Taken in a child, killed
    // after 10 s, so a hang fails the test instead of stopping the suite.
    testing::TempDir dir;
    make_repo(dir.path());
    fs::create_symlink("/dev/zero", dir / "zero_link");
    ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
    fs::create_symlink(dir / "fifo", dir / "fifo_link");
    fs::create_symlink(dir / "a.txt", dir / "a_link");
    testing::write_text(dir / "blob.bin", std::string("PNG\0\n\n\n", 7));  // git: binary, no lines
    const testing::ChildOutcome outcome = testing::run_in_child([&] {
        const detail::TreeSnapshot snapshot = detail::snapshot_git_tree(dir.str());
        bool right = snapshot.valid;
        for (const char* link : {"zero_link", "fifo_link", "a_link"})  // git counts a link as one line
            right = right && snapshot.files.count(link) && snapshot.files.at(link).added == 1;
        return right && snapshot.files.count("blob.bin") && snapshot.files.at("blob.bin").added == 0;  // binary
    });
    EXPECT_NE(outcome, testing::ChildOutcome::hung) << "the snapshot hung";
    EXPECT_NE(outcome, testing::ChildOutcome::failed) << "links not counted as one line each";
}

TEST(CodeMetrics, OutsideAGitRepositoryTheyAreSimplyEmpty) {
    testing::TempDir dir;
    const detail::TreeSnapshot snapshot = detail::snapshot_git_tree(dir.str());
    EXPECT_FALSE(snapshot.valid);
    const CodeMetrics metrics = detail::diff_snapshots(snapshot, snapshot);
    EXPECT_FALSE(metrics.measured);
    EXPECT_EQ(metrics.files_changed, 0);
}

TEST(CodeMetrics, RevertingAnEarlierChangeCountsAsRemoval) {
    detail::TreeSnapshot before, after;
    before.valid = after.valid = true;
    before.files["x.cc"] = {5, 0, 100, 1};
    const CodeMetrics metrics = detail::diff_snapshots(before, after);
    EXPECT_EQ(metrics.files_changed, 1);
    EXPECT_EQ(metrics.lines_added, 0);
    EXPECT_EQ(metrics.lines_removed, 5);
}

TEST(CodeMetrics, RunCommandReportsFailuresAndTimeouts) {
    std::string error;
    EXPECT_EQ(detail::run_command({"echo", "hello"}, 5000, error).value_or(""), "hello\n");
    EXPECT_FALSE(detail::run_command({"no-such-program-xyz"}, 5000, error).has_value());
    EXPECT_FALSE(detail::run_command({"sleep", "5"}, 100, error).has_value());
    EXPECT_NE(error.find("timed out"), std::string::npos);
}

TEST(CodeMetrics, RunCommandStopsWhenCancelled) {
    std::atomic<int> cancel{0};
    std::thread canceller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        cancel = 1;
    });
    std::string error;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(detail::run_command({"sleep", "30"}, 60000, error, &cancel).has_value());
    canceller.join();
    EXPECT_NE(error.find("cancelled"), std::string::npos);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));  // not 30 s
}

/// PATH with `dir` in front, for the life of the object.
class PathPrefix {
public:
    explicit PathPrefix(const fs::path& dir) : previous_(std::getenv("PATH") ? std::getenv("PATH") : "") {
        ::setenv("PATH", (dir.string() + ":" + previous_).c_str(), 1);
    }
    ~PathPrefix() { ::setenv("PATH", previous_.c_str(), 1); }

private:
    std::string previous_;
};

// The worker runs git at the lowest priority, so on a busy machine a snapshot can take long. A
// host thread that needs the files (flush, shutdown) stops it and takes the snapshot itself
// instead of waiting. The first git the worker starts here hangs (a stuck or starved git).
class SlowWorkerSnapshot : public ::testing::TestWithParam<bool> {};  // param: shut down (else flush)

TEST_P(SlowWorkerSnapshot, AHostThreadDoesNotWaitForIt) {
    testing::TempDir dir;
    make_repo(dir.path());
    const fs::path bin = dir / "bin";
    fs::create_directories(bin);
    const fs::path started = dir / "slow-git-started";
    ASSERT_EQ(testing::run_shell("command -v git > '" + (dir / "real-git").string() + "'"), 0);
    std::string real_git = testing::read_text(dir / "real-git");
    real_git.erase(real_git.find_last_not_of('\n') + 1);
    testing::write_text(bin / "git", "#!/bin/sh\nif [ ! -e '" + started.string() + "' ]; then : > '" +
                                         started.string() + "'; exec sleep 30; fi\nexec '" + real_git + "' \"$@\"\n");
    fs::permissions(bin / "git", fs::perms::owner_all);
    PathPrefix path(bin);
    WorkingDirectory cwd(dir.path());
    Config config = testing::test_config((dir / ".cache").string());
    config.code_metrics = true;
    auto manager = testing::make_manager(config);
    const std::string id = manager->session_id();
    TelemetryCollector collector = manager->get_collector();
    ASSERT_TRUE(collector.start_task("edit", "改代码"));
    for (int i = 0; i < 500 && !fs::exists(started); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(fs::exists(started));  // the worker is inside its snapshot
    collector.end_task("edit");

    const bool shut_down = GetParam();
    const auto start = std::chrono::steady_clock::now();
    if (shut_down) {
        manager->shutdown();
    } else {
        EXPECT_TRUE(manager->flush_data());
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));  // not 30 s
    // Shut down: the session file; flushed: the live session.
    const auto session = shut_down ? manager->get_session_data(id) : manager->get_session_data();
    ASSERT_TRUE(session.has_value());
    ASSERT_EQ(session->tasks.size(), 1u);
    EXPECT_TRUE(session->tasks[0].code_changes.measured);  // by the host thread's snapshot
    EXPECT_EQ(session->tasks[0].code_changes.files_changed, 0);
}

INSTANTIATE_TEST_SUITE_P(CodeMetrics, SlowWorkerSnapshot, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Shutdown" : "Flush"; });

}  // namespace
}  // namespace sop_telemetry
