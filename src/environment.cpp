#include <sop_telemetry/environment.hpp>
#include <sop_telemetry/error_handler.hpp>

#include <array>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <pwd.h>
#include <regex>
#include <sys/utsname.h>
#include <unistd.h>

extern char** environ;

namespace sop_telemetry {

namespace {

constexpr std::array<std::string_view, 17> kAllowedNames{
    "LANG",       "LC_ALL",           "LC_CTYPE",       "SHELL",          "TERM",
    "TZ",         "VIRTUAL_ENV",      "CONDA_DEFAULT_ENV", "CI",          "GITHUB_ACTIONS",
    "GITHUB_WORKFLOW", "GITHUB_REF_NAME", "GITLAB_CI",  "OTEL_SERVICE_NAME", "PYTHONHASHSEED",
    "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"};
constexpr std::array<std::string_view, 2> kAllowedPrefixes{"SOP_TELEMETRY_", "SOP_AGENTS_"};
constexpr std::array<std::string_view, 14> kSecretWords{
    "KEY",  "TOKEN",  "SECRET",  "PASSWORD", "PASSWD",    "PASS",      "CREDENTIAL",
    "AUTH", "PRIVATE", "COOKIE", "SESSION",  "SIGNATURE", "CERT",      "DSN"};

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    return out;
}

bool is_allowed(std::string_view name, const std::vector<std::string>& extra) {
    for (auto allowed : kAllowedNames)
        if (name == allowed) return true;
    for (auto prefix : kAllowedPrefixes)
        if (name.starts_with(prefix)) return true;
    for (const auto& allowed : extra)
        if (name == allowed) return true;
    return false;
}

/// Masks what may be a credential inside a value: URL user-info and well-known key shapes.
std::string scrub_value(std::string value) {
    static const std::regex url_userinfo(R"(([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@)");
    static const std::regex key_shape(R"((sk-|ghp_|gho_|xox[bpas]-|AKIA|hf_)[A-Za-z0-9_\-]{8,})");
    value = std::regex_replace(value, url_userinfo, "$1***@");
    return std::regex_replace(value, key_shape, "***");
}

std::string read_first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

std::string detect_timezone() {
    if (const char* tz = std::getenv("TZ"); tz && *tz) return *tz == ':' ? tz + 1 : tz;
    std::error_code error;
    const auto target = std::filesystem::read_symlink("/etc/localtime", error).string();
    if (auto at = target.find("zoneinfo/"); !error && at != std::string::npos)
        return target.substr(at + 9);
    if (std::string zone = read_first_line("/etc/timezone"); !zone.empty()) return zone;
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char name[16] = "UTC";
    std::strftime(name, sizeof name, "%Z", &local);
    return name;
}

std::optional<std::string> detect_user() {
    if (const passwd* entry = getpwuid(geteuid()); entry && entry->pw_name) return entry->pw_name;
    if (const char* user = std::getenv("USER"); user && *user) return user;
    return std::nullopt;
}

}  // namespace

const char* engine_version() noexcept { return "0.1.0"; }

bool is_secret_name(std::string_view name) noexcept {
    try {
        const std::string name_upper = upper(name);
        for (auto word : kSecretWords)
            if (name_upper.find(word) != std::string::npos) return true;
        return false;
    } catch (...) {
        return true;
    }
}

std::string find_project_root(const std::string& start) noexcept {
    try {
        std::error_code error;
        for (auto dir = std::filesystem::path(start); !dir.empty(); dir = dir.parent_path()) {
            if (std::filesystem::exists(dir / ".git", error)) return dir.string();
            if (dir == dir.root_path()) break;
        }
        return start;
    } catch (...) {
        return start;
    }
}

EnvironmentInfo collect_environment(const std::vector<std::string>& extra_allowlist) noexcept {
    EnvironmentInfo info;
    try {
        utsname system{};
        if (uname(&system) == 0) {
            info.os_type = system.sysname;
            info.os_version = std::string(system.release) + " " + system.machine;
            info.hostname = system.nodename;
        }
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) != nullptr) info.working_directory = cwd;
        info.project_root = find_project_root(info.working_directory);
        info.user_name = detect_user();
        info.timezone = detect_timezone();
        info.engine_version = engine_version();
        for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
            const std::string_view pair(*entry);
            const auto equals = pair.find('=');
            if (equals == std::string_view::npos) continue;
            const std::string_view name = pair.substr(0, equals);
            if (!is_allowed(name, extra_allowlist) || is_secret_name(name)) continue;
            info.environment_variables[std::string(name)] =
                scrub_value(std::string(pair.substr(equals + 1)));
        }
    } catch (const std::exception& error) {
        get_error_handler().record("environment", error.what());
    }
    return info;
}

}  // namespace sop_telemetry
