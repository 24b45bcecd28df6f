// sop-telemetry: list, inspect, compare, export and clean the sessions SOP Agents Telemetry
// stores, draw them as an HTML report, or watch them land on a local dashboard.
#include "commands.hpp"
#include "terminal.hpp"
#include "view_json.hpp"

#include <sop_telemetry/config.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

using namespace sop_telemetry::cli;

int main(int argc, char** argv) {
    CLI::App app{"sop-telemetry — analyse SOP Agents Telemetry sessions", "sop-telemetry"};
    app.require_subcommand(1);
    app.fallthrough();  // --json, --dir, --no-color also after the subcommand
    app.set_version_flag("--version", "sop-telemetry 0.1.0");
    Context context;
    std::string directory;
    bool no_colour = false;
    app.add_option("--dir", directory, "Session directory (default: $SOP_TELEMETRY_DIR, else $XDG_CACHE_HOME/ept/sop_agents, else ~/.cache/ept/sop_agents)");
    app.add_flag("--json", context.json, "Machine-readable JSON on stdout");
    app.add_flag("--no-color", no_colour, "No colour (also: NO_COLOR=1)");

    ListFilter filter;
    const CLI::Validator kCount(
        [](std::string& value) {
            return !value.empty() && value.find_first_not_of("0123456789") == std::string::npos
                       ? std::string()
                       : "wants a whole number, 0 or more (got " + value + ")";
        },
        "COUNT");
    auto add_filters = [&filter](CLI::App* command) {
        command->add_option("--since", filter.since, "Sessions started on or after this day (YYYY-MM-DD, UTC)");
        command->add_option("--until", filter.until, "Sessions started on or before this day (YYYY-MM-DD, UTC)");
        command->add_option("--status", filter.status, "completed, failed, max_steps, cancelled, running, incomplete, empty")
            ->check(CLI::IsMember({"completed", "failed", "max_steps", "cancelled", "running", "incomplete", "empty"}));
        command->add_option("--model", filter.model, "Sessions that used this model");
    };
    auto* list = app.add_subcommand("list", "Sessions, newest first");
    add_filters(list);
    list->add_option("-n,--limit", filter.limit, "At most this many")->check(kCount);
    auto* stats = app.add_subcommand("stats", "Aggregates over sessions: tokens, cost, failure rate, slowest tools, by day");
    add_filters(stats);

    std::string reference = "latest", other;
    std::size_t max_spans = 200;
    auto* show = app.add_subcommand("show", "One session: tasks, tokens and cost, time by agent and tool, errors, span tree");
    show->add_option("session", reference, "Session id, unique prefix, or 'latest' (the default)");
    show->add_option("--max-spans", max_spans, "Span tree lines at most (default 200)")->check(kCount);
    auto* compare = app.add_subcommand("compare", "Two sessions side by side, with deltas");
    compare->add_option("a", reference, "First session")->required();
    compare->add_option("b", other, "Second session")->required();
    auto* insights = app.add_subcommand("insights", "Suggestions, with the numbers behind them");
    insights->add_option("session", reference, "Session id, unique prefix, or 'latest' (the default)");

    std::string format = "json", output;
    auto* export_command = app.add_subcommand("export", "A session as JSON or CSV (one row per LLM call, tool call, agent run)");
    export_command->add_option("session", reference, "Session id, unique prefix, or 'latest' (the default)");
    export_command->add_option("--format", format, "json or csv")->check(CLI::IsMember({"json", "csv"}));
    export_command->add_option("-o,--output", output, "File to write (default: stdout)");

    int max_age_days = -1;
    bool dry_run = false;
    auto* cleanup = app.add_subcommand("cleanup", "Remove session files older than N days");
    cleanup->add_option("--max-age-days", max_age_days, "Age in days")->required();
    cleanup->add_flag("--dry-run", dry_run, "Only say what would be removed");
    auto* recover = app.add_subcommand("recover", "Turn the journals of crashed sessions into session files");
    auto* doctor_command = app.add_subcommand("doctor", "Check the storage path, permissions, free space and configuration");

    std::string report_output = "report.html";
    auto* report = app.add_subcommand("report", "One self-contained HTML file: timeline, tokens and cost, time by tool");
    report->add_option("session", reference, "Session id, unique prefix, or 'latest' (the default)");
    report->add_option("-o,--output", report_output, "HTML file to write (default report.html)");
    std::size_t report_spans = kPageSpans;
    report->add_option("--max-spans", report_spans, "Timeline rows at most (default 5000)")->check(kCount);

    std::string host = "127.0.0.1";
    int port = 8765;
    bool allow_remote = false;
    auto* serve = app.add_subcommand("serve", "Live dashboard on http://127.0.0.1:PORT/");
    serve->add_option("--port", port, "Port (0: any free port; default 8765)");
    serve->add_option("--host", host, "Address to listen on (default 127.0.0.1)");
    serve->add_flag("--allow-remote", allow_remote, "Allow an address other than loopback");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = app.exit(error);
        return code == 0 ? kOk : kUsage;
    }
    set_colour(!no_colour);
    context.directory = directory.empty() ? sop_telemetry::default_storage_dir() : directory;

    int code = kUsage;
    if (*list) code = list_sessions(context, filter);
    else if (*stats) code = session_stats(context, filter);
    else if (*show) code = show_session(context, reference, max_spans);
    else if (*compare) code = compare_sessions(context, reference, other);
    else if (*insights) code = session_insights(context, reference);
    else if (*export_command) code = export_session(context, reference, format, output);
    else if (*cleanup) code = cleanup_sessions(context, max_age_days, dry_run);
    else if (*recover) code = recover_sessions(context);
    else if (*doctor_command) code = doctor(context);
    else if (*report) code = write_report(context, reference, report_output, report_spans);
    else if (*serve) code = serve_dashboard(context, host, port, allow_remote);
    // Output that could not be written (a full disk, a closed pipe) is a failure, not success.
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
        std::fprintf(stderr, "sop-telemetry: cannot write the output\n");
        return kFailure;
    }
    return code;
}
