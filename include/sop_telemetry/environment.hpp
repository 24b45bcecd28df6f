// The environment a session ran in, collected once at start.
//
// Environment variables are recorded from an allowlist only, and a name that looks like a
// secret (KEY, TOKEN, SECRET, PASSWORD, CREDENTIAL, AUTH, …) is refused even when allowed;
// credentials embedded in URLs (scheme://user:pass@host) are masked.
#pragma once

#include <sop_telemetry/types.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace sop_telemetry {

/// The engine's version string.
const char* engine_version() noexcept;

EnvironmentInfo collect_environment(const std::vector<std::string>& extra_allowlist = {}) noexcept;

/// True when a variable of this name may hold a secret and must never be recorded.
bool is_secret_name(std::string_view name) noexcept;

/// The nearest directory at or above `start` holding `.git`, else `start`.
std::string find_project_root(const std::string& start) noexcept;

}  // namespace sop_telemetry
