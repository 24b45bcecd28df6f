#include "detail/code_metrics.hpp"
#include "detail/file_io.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sop_telemetry::detail {

namespace {

constexpr std::size_t kMaxUntrackedFiles = 2000;
constexpr std::int64_t kMaxCountedFileBytes = 4 << 20;
constexpr std::size_t kMaxListedFiles = 200;

/// The lines of an untracked file as git counts them: a text file's (none for a binary one, nor
/// past the size cap), a symbolic link's one line (its target), nothing of anything else. It
/// never follows a link nor waits: a link to /dev/zero or a FIFO would block it for good.
std::int64_t count_lines(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return errno == ELOOP ? 1 : 0;
    struct stat info {};
    std::int64_t lines = 0;
    char last = '\n';
    bool binary = false;  // git's test: a NUL in the first 8000 bytes; git counts no lines
    if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && info.st_size <= kMaxCountedFileBytes) {
        char buffer[1 << 14];
        std::int64_t read_so_far = 0;
        for (ssize_t got; !binary && (got = ::read(fd, buffer, sizeof buffer)) > 0; read_so_far += got) {
            if (read_so_far < 8000)
                binary = nullptr != std::memchr(buffer, '\0', static_cast<std::size_t>(std::min<std::int64_t>(got, 8000 - read_so_far)));
            for (ssize_t i = 0; i < got; ++i) lines += buffer[i] == '\n';
            last = buffer[got - 1];
        }
    }
    ::close(fd);
    return binary ? 0 : lines + (last != '\n' ? 1 : 0);
}

void stat_into(const std::string& root, const std::string& relative, FileState& state) {
    if (const auto stamp = file_stamp(root + "/" + relative)) {
        state.size = stamp->size;
        state.mtime_ns = stamp->mtime_ns;
    }
}

/// Splits NUL-separated output.
std::vector<std::string> split_nul(const std::string& text) {
    std::vector<std::string> parts;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = text.find('\0', at);
        if (end == std::string::npos) end = text.size();
        if (end > at) parts.emplace_back(text, at, end - at);
        at = end + 1;
    }
    return parts;
}

/// True when `root/relative` lies inside `excluded_dir` (the telemetry's own storage).
bool is_excluded(const std::string& root, const std::string& relative, const std::string& excluded_dir) {
    if (excluded_dir.empty()) return false;
    const std::string full = root + "/" + relative;
    return full.size() > excluded_dir.size() && full.starts_with(excluded_dir) &&
           full[excluded_dir.size()] == '/';
}

}  // namespace

std::optional<std::string> run_command(const std::vector<std::string>& argv, int timeout_ms,
                                       std::string& error, const std::atomic<int>* cancel) noexcept {
    try {
        int pipe_fds[2];
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
            error = std::string("pipe: ") + std::strerror(errno);
            return std::nullopt;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        std::vector<std::string> env_storage;
        for (char** entry = environ; entry && *entry; ++entry)
            if (std::strncmp(*entry, "GIT_OPTIONAL_LOCKS=", 19) != 0) env_storage.emplace_back(*entry);
        env_storage.emplace_back("GIT_OPTIONAL_LOCKS=0");
        std::vector<char*> envp, args;
        for (auto& item : env_storage) envp.push_back(item.data());
        envp.push_back(nullptr);
        std::vector<std::string> argv_copy = argv;
        for (auto& arg : argv_copy) args.push_back(arg.data());
        args.push_back(nullptr);
        // The worker thread blocks all signals; the child starts with none blocked.
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        sigset_t none;
        sigemptyset(&none);
        posix_spawnattr_setsigmask(&attributes, &none);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
        pid_t pid = 0;
        const int spawned =
            ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
        ::close(pipe_fds[1]);
        if (spawned != 0) {
            ::close(pipe_fds[0]);
            error = std::string("cannot run ") + argv[0] + ": " + std::strerror(spawned);
            return std::nullopt;
        }
        std::string output;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        constexpr std::chrono::milliseconds::rep kCancelCheckMs = 20;
        bool timed_out = false;
        bool cancelled = false;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now()).count();
            if (left <= 0) {
                timed_out = true;
                break;
            }
            if (cancel != nullptr && cancel->load() != 0) {
                cancelled = true;
                break;
            }
            pollfd poll_fd{pipe_fds[0], POLLIN, 0};
            const auto wait = cancel != nullptr ? std::min(left, kCancelCheckMs) : left;
            const int ready = ::poll(&poll_fd, 1, static_cast<int>(wait));
            if (ready < 0 && errno != EINTR) break;
            if (ready <= 0) continue;
            char buffer[1 << 14];
            const ssize_t got = ::read(pipe_fds[0], buffer, sizeof buffer);
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (got <= 0) break;
            output.append(buffer, static_cast<std::size_t>(got));
        }
        ::close(pipe_fds[0]);
        if (timed_out || cancelled) ::kill(pid, SIGKILL);
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (timed_out || cancelled || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            error = std::string(argv[0]) + (timed_out ? " timed out" : cancelled ? " cancelled" : " failed");
            return std::nullopt;
        }
        return output;
    } catch (...) {
        error = "out of memory";
        return std::nullopt;
    }
}

TreeSnapshot snapshot_git_tree(const std::string& root, const std::string& excluded_dir,
                               const std::atomic<int>* cancel) noexcept {
    TreeSnapshot snapshot;
    try {
        std::string error;
        constexpr int kTimeoutMs = 15000;
        auto numstat = run_command({"git", "-C", root, "diff", "HEAD", "--numstat", "-z",
                                    "--no-renames", "--no-ext-diff"},
                                   kTimeoutMs, error, cancel);
        if (!numstat) return snapshot;
        // -z numstat: "added\tremoved\tpath\0"; binary files have "-" counts.
        for (const std::string& record : split_nul(*numstat)) {
            const auto tab1 = record.find('\t');
            const auto tab2 = record.find('\t', tab1 + 1);
            if (tab1 == std::string::npos || tab2 == std::string::npos) continue;
            FileState state;
            state.added = std::atoll(record.substr(0, tab1).c_str());
            state.removed = std::atoll(record.substr(tab1 + 1, tab2 - tab1 - 1).c_str());
            const std::string path = record.substr(tab2 + 1);
            if (is_excluded(root, path, excluded_dir)) continue;
            stat_into(root, path, state);
            snapshot.files[path] = state;
        }
        auto untracked = run_command({"git", "-C", root, "ls-files", "--others",
                                      "--exclude-standard", "-z"},
                                     kTimeoutMs, error, cancel);
        if (!untracked) return snapshot;
        std::size_t counted = 0;
        for (const std::string& path : split_nul(*untracked)) {
            if (is_excluded(root, path, excluded_dir)) continue;
            if (++counted > kMaxUntrackedFiles) break;
            FileState state;
            stat_into(root, path, state);
            state.added = count_lines(root + "/" + path);
            snapshot.files[path] = state;
        }
        snapshot.valid = true;
    } catch (...) {
        snapshot.valid = false;
    }
    return snapshot;
}

CodeMetrics diff_snapshots(const TreeSnapshot& before, const TreeSnapshot& after) {
    CodeMetrics metrics;
    if (!before.valid || !after.valid) return metrics;
    metrics.measured = true;
    auto account = [&](const std::string& path, const FileState& from, const FileState& to) {
        if (from == to) return;
        const std::int64_t added = to.added - from.added;
        const std::int64_t removed = to.removed - from.removed;
        // Undoing an earlier addition removes lines, and the other way round.
        metrics.lines_added += std::max<std::int64_t>(0, added) + std::max<std::int64_t>(0, -removed);
        metrics.lines_removed += std::max<std::int64_t>(0, removed) + std::max<std::int64_t>(0, -added);
        ++metrics.files_changed;
        if (metrics.files.size() < kMaxListedFiles) metrics.files.push_back(path);
    };
    for (const auto& [path, to] : after.files) {
        auto it = before.files.find(path);
        account(path, it == before.files.end() ? FileState{0, 0, to.size, to.mtime_ns} : it->second, to);
    }
    for (const auto& [path, from] : before.files) {
        // Changed before the task, clean again after it: the task reverted it.
        if (!after.files.count(path)) account(path, from, FileState{0, 0, from.size, from.mtime_ns});
    }
    return metrics;
}

}  // namespace sop_telemetry::detail
