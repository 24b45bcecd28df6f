// The sop-telemetry subcommands. Each returns the process exit code (see ExitCode).
#pragma once

#include <optional>
#include <string>

namespace sop_telemetry::cli {

/// Documented in docs/cli.md.
enum ExitCode : int {
    kOk = 0,
    kFailure = 1,   ///< the storage directory cannot be read, a file cannot be written …
    kUsage = 2,     ///< bad arguments
    kNotFound = 3,  ///< no such session (or an invalid id)
};

struct Context {
    std::string directory;  ///< the storage directory
    bool json = false;      ///< --json: machine-readable output on stdout
};

struct ListFilter {
    std::string since;   ///< YYYY-MM-DD (UTC), inclusive
    std::string until;   ///< YYYY-MM-DD (UTC), inclusive
    std::string status;  ///< a session status (completed, failed, max_steps …)
    std::string model;   ///< sessions that used this model
    std::size_t limit = 0;
};

int list_sessions(const Context& context, const ListFilter& filter);
int show_session(const Context& context, const std::string& reference, std::size_t max_spans);
int session_stats(const Context& context, const ListFilter& filter);
int compare_sessions(const Context& context, const std::string& a, const std::string& b);
int session_insights(const Context& context, const std::string& reference);
int export_session(const Context& context, const std::string& reference, const std::string& format,
                   const std::string& output);
int cleanup_sessions(const Context& context, int max_age_days, bool dry_run);
int recover_sessions(const Context& context);
int doctor(const Context& context);
/// The report of a session; its timeline shows the first `max_spans` spans.
int write_report(const Context& context, const std::string& reference, const std::string& output,
                 std::size_t max_spans);
int serve_dashboard(const Context& context, const std::string& host, int port, bool allow_remote);

}  // namespace sop_telemetry::cli
