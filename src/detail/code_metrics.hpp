// Code metrics: what changed in the project's git working tree while a task ran. The worker
// takes a snapshot of the tree (per-file lines added/removed against HEAD, size and mtime) at
// task start and at task end; the task's metrics are the difference. Runs git as a child
// process with optional locks off, so the user's own git commands are never blocked.
#pragma once

#include <sop_telemetry/types.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sop_telemetry::detail {

struct FileState {
    std::int64_t added = 0;
    std::int64_t removed = 0;
    std::int64_t size = -1;
    std::int64_t mtime_ns = 0;
    bool operator==(const FileState&) const = default;
};

struct TreeSnapshot {
    bool valid = false;  ///< false outside a git work tree or without git
    std::map<std::string, FileState> files;  ///< changed or untracked files, relative paths
};

/// Snapshot of the work tree at `project_root`, leaving out files inside `excluded_dir`
/// (an absolute path: the telemetry's own storage directory).
/// Gives up (invalid) as soon as `cancel` is non-zero.
TreeSnapshot snapshot_git_tree(const std::string& project_root,
                               const std::string& excluded_dir = {},
                               const std::atomic<int>* cancel = nullptr) noexcept;
CodeMetrics diff_snapshots(const TreeSnapshot& before, const TreeSnapshot& after);

/// Runs argv[0] (searched in PATH) and returns its standard output; unset on failure, after
/// `timeout_ms`, or once `cancel` is non-zero (the command is killed).
std::optional<std::string> run_command(const std::vector<std::string>& argv, int timeout_ms,
                                       std::string& error,
                                       const std::atomic<int>* cancel = nullptr) noexcept;

}  // namespace sop_telemetry::detail
