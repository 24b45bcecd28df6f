// Helpers shared by the engine's tests: a temporary directory, a manager bound to it, file
// helpers, and an error-handler checkpoint.
#pragma once

#include <sop_telemetry/telemetry.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sop_telemetry::testing {

/// A fresh directory under the system temp dir, removed with its contents on destruction.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

/// A config writing to `dir`, with a short flush interval and code metrics off (tests that
/// want them turn them on).
Config test_config(const std::string& dir);

/// A separate manager, initialised with `config`.
std::unique_ptr<TelemetryManager> make_manager(const Config& config);

std::string read_text(const std::filesystem::path& path);
void write_text(const std::filesystem::path& path, const std::string& text);
/// Every regular file below `dir`, concatenated.
std::string all_bytes_below(const std::filesystem::path& dir);
std::vector<std::string> file_names(const std::filesystem::path& dir);

/// Total error count of one operation in the process-wide error handler.
std::uint64_t error_count(const std::string& operation);

/// Runs `command` with /bin/sh; returns its exit status.
int run_shell(const std::string& command);

/// The wait status of a forked child that runs `body` and exits with what it returns; nullopt
/// when it was still running after `limit` (it is killed then).
std::optional<int> wait_status_of_child(const std::function<int()>& body, std::chrono::milliseconds limit);

/// How `body`, run in a forked child, came out: a hang fails a test instead of stopping the suite.
enum class ChildOutcome { passed, failed, hung };
ChildOutcome run_in_child(const std::function<bool()>& body, std::chrono::seconds limit = std::chrono::seconds(10));

}  // namespace sop_telemetry::testing
