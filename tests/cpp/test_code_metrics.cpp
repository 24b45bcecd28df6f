#include "test_support.hpp"

#include "detail/code_metrics.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sop_telemetry
