#include "test_support.hpp"

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace sop_telemetry::testing {

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sop_telemetry_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
}

Config test_config(const std::string& dir) {
    Config config;
    config.storage_dir = dir;
    config.flush_interval = std::chrono::milliseconds(50);
    config.code_metrics = false;
    config.auto_cleanup = false;
    return config;
}

std::unique_ptr<TelemetryManager> make_manager(const Config& config) {
    auto manager = std::make_unique<TelemetryManager>();
    EXPECT_TRUE(manager->initialize(config));
    return manager;
}

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
}

void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

std::string all_bytes_below(const std::filesystem::path& dir) {
    std::string bytes;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
        if (entry.is_regular_file()) bytes += read_text(entry.path());
    return bytes;
}

std::vector<std::string> file_names(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::uint64_t error_count(const std::string& operation) {
    for (const auto& record : get_error_handler().get_error_summary())
        if (record.operation == operation) return record.count;
    return 0;
}

int run_shell(const std::string& command) { return std::system(command.c_str()); }

std::optional<int> wait_status_of_child(const std::function<int()>& body, std::chrono::milliseconds limit) {
    const pid_t child = ::fork();
    if (child < 0) throw std::runtime_error("fork failed");
    if (child == 0) ::_exit(body());
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (::waitpid(child, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(child, SIGKILL);
            ::waitpid(child, &status, 0);
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return status;
}

ChildOutcome run_in_child(const std::function<bool()>& body, std::chrono::seconds limit) {
    const std::optional<int> status = wait_status_of_child([&] { return body() ? 0 : 1; }, limit);
    if (!status) return ChildOutcome::hung;
    return WIFEXITED(*status) && WEXITSTATUS(*status) == 0 ? ChildOutcome::passed : ChildOutcome::failed;
}

namespace {

/// Tests must not see the developer's own SOP_TELEMETRY_* settings, nor log to stderr.
class CleanEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        for (const char* name : {"SOP_TELEMETRY_DIR", "SOP_TELEMETRY_ENABLED",
                                 "SOP_TELEMETRY_LOG_LEVEL", "SOP_TELEMETRY_FLUSH_INTERVAL_MS",
                                 "SOP_TELEMETRY_CODE_METRICS", "SOP_TELEMETRY_JOURNAL",
                                 "SOP_TELEMETRY_MAX_EVENTS_PER_SESSION", "SOP_TELEMETRY_ENV_ALLOWLIST",
                                 "SOP_TELEMETRY_SIGTERM"})
            ::unsetenv(name);
        get_error_handler().set_log_callback([](LogLevel, std::string_view) {});
    }
};

const auto* const registered = ::testing::AddGlobalTestEnvironment(new CleanEnvironment);

}  // namespace

}  // namespace sop_telemetry::testing
