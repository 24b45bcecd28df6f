// export, cleanup, recover, doctor.
#include "command_support.hpp"
#include "terminal.hpp"

#include "detail/json_writer.hpp"

#include <sop_telemetry/config.hpp>
#include <sop_telemetry/data_store.hpp>
#include <sop_telemetry/error_handler.hpp>
#include <sop_telemetry/pricing.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sys/statvfs.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace sop_telemetry::cli {

using detail::JsonWriter;

namespace {

/// RFC 4180 quoting; a text that a spreadsheet would run as a formula (=, +, @, or - not
/// starting a number) gets a leading apostrophe.
/// Whether `text` is a number as this export writes them ("-12", "0.5", "-1.250000").
bool is_plain_number(const std::string& text) {
    std::size_t at = text.size() > 1 && text[0] == '-' ? 1 : 0;
    bool digits = false, point = false;
    for (; at < text.size(); ++at) {
        if (std::isdigit(static_cast<unsigned char>(text[at]))) digits = true;
        else if (text[at] == '.' && !point) point = true;
        else return false;
    }
    return digits;
}

std::string csv_cell(const std::string& text) {
    std::string value = text;
    // A spreadsheet runs a cell starting with = + - @ (or a tab or CR before one) as a formula:
    // those get a leading ' unless the whole cell is a plain number ("-1+cmd|..." is not).
    const bool formula = !value.empty() && std::strchr("=+-@\t\r", value[0]) != nullptr &&
                         !is_plain_number(value);
    if (formula) value.insert(value.begin(), '\'');
    if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
    std::string out = "\"";
    for (char c : value) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6f", value);
    return text;
}

/// One row per LLM call, tool call and agent run.
std::string session_csv(const TelemetrySession& session) {
    std::string out = "kind,task_id,name,type,start_time,duration_s,status,prompt_tokens,completion_tokens,"
                      "cache_read_tokens,reasoning_tokens,total_tokens,cost_usd,error,cache_write_tokens\n";
    auto row = [&out](std::initializer_list<std::string> cells) {
        bool first = true;
        for (const std::string& cell : cells) {
            if (!first) out += ',';
            out += csv_cell(cell);
            first = false;
        }
        out += '\n';
    };
    for (const TaskExecution* task : all_task_records(session)) {
        for (const AgentExecution& a : task->agents)
            row({"agent", task->task_id, a.agent_name, a.agent_type, iso_time(a.start_time), number(a.duration),
                 to_string(a.status), "", "", "", "", "", "", a.error, ""});
        for (const LLMCall& c : task->llm_calls)
            row({"llm", task->task_id, c.model, "", iso_time(c.start_time), number(c.duration), c.success ? "ok" : "error",
                 std::to_string(c.prompt_tokens), std::to_string(c.completion_tokens),
                 std::to_string(c.cache_read_tokens), std::to_string(c.reasoning_tokens),
                 std::to_string(c.total_tokens), c.cost_estimate ? number(*c.cost_estimate) : "", c.error,
                 std::to_string(c.cache_write_tokens)});
        for (const ToolExecution& t : task->tools)
            row({"tool", task->task_id, t.tool_name, "", iso_time(t.start_time), number(t.duration),
                 t.success ? "ok" : "error", "", "", "", "", "", "", t.error, ""});
    }
    return out;
}

}  // namespace

int export_session(const Context& context, const std::string& reference, const std::string& format,
                   const std::string& output) {
    if (format != "json" && format != "csv") {
        print_error("--format must be json or csv");
        return kUsage;
    }
    int code = kOk;
    auto loaded = open_session(context, reference, code);
    if (!loaded) return code;
    const std::string text = format == "json" ? loaded->session.to_json() : session_csv(loaded->session);
    if ((output.empty() || output == "-") && ::isatty(STDOUT_FILENO)) {
        // On a terminal, session text must not drive it (a file or a pipe gets the exact bytes).
        for (std::size_t at = 0; at < text.size();) {
            const std::size_t end = std::min(text.find('\n', at), text.size());
            std::printf("%s\n", printable(std::string_view(text).substr(at, end - at)).c_str());
            at = end + 1;
        }
        return kOk;
    }
    if (output.empty() || output == "-") {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return kOk;
    }
    std::ofstream out(output, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) {
        print_error("cannot write " + output);
        return kFailure;
    }
    std::fprintf(stderr, "wrote %s\n", output.c_str());
    return kOk;
}

int cleanup_sessions(const Context& context, int max_age_days, bool dry_run) {
    if (max_age_days < 0) {
        print_error("--max-age-days must be 0 or more");
        return kUsage;
    }
    if (const std::string problem = directory_problem(context.directory); !problem.empty()) {
        print_error(problem);
        return kFailure;
    }
    std::vector<std::string> files;
    const auto errors_before = get_error_handler().total_errors();
    const int count = TelemetryDataStore(context.directory).cleanup(max_age_days, {}, dry_run, &files);
    const bool all_removed = get_error_handler().total_errors() == errors_before;  // else: warned already
    if (context.json) {
        std::string text;
        JsonWriter out(text);
        out.begin_object().field("dry_run", dry_run).field("removed", count).key("files").begin_array();
        for (const std::string& file : files) out.value(file);
        out.end_array().field("complete", all_removed).end_object();
        print_json(text);
        return all_removed ? kOk : kFailure;
    }
    for (const std::string& file : files) std::printf("%s %s\n", dry_run ? "would remove" : "removed", file.c_str());
    std::printf("%s %d file%s older than %d days\n", dry_run ? "would remove" : "removed", count,
                count == 1 ? "" : "s", max_age_days);
    if (!all_removed) print_error("some old files could not be removed (see the warnings above)");
    return all_removed ? kOk : kFailure;
}

int recover_sessions(const Context& context) {
    if (const std::string problem = directory_problem(context.directory); !problem.empty()) {
        print_error(problem);
        return kFailure;
    }
    const int recovered = TelemetryDataStore(context.directory).recover_journals({}, PriceTable::built_in());
    if (context.json) {
        print_json("{\"recovered\":" + std::to_string(recovered) + "}");
    } else {
        std::printf("recovered %d session%s from crash journals\n", recovered, recovered == 1 ? "" : "s");
    }
    return kOk;
}

constexpr double kLowFreeMb = 50;  // doctor: less free space than this is a problem

/// The messages the error handler holds for `operation` (newest last).
std::vector<std::string> recorded_messages(std::string_view operation) {
    for (const ErrorRecord& record : get_error_handler().get_error_summary())
        if (record.operation == operation) return record.recent_messages;
    return {};
}

int doctor(const Context& context) {
    std::vector<std::string> config_problems;
    const Config config = resolve_config(Config{}, &config_problems);
    const std::string problem = directory_problem(context.directory);
    const bool writable = problem.empty() && ::access(context.directory.c_str(), W_OK) == 0;
    struct statvfs fs_info {};
    const bool have_space = problem.empty() && ::statvfs(context.directory.c_str(), &fs_info) == 0;
    const double free_mb = have_space ? double(fs_info.f_bavail) * double(fs_info.f_frsize) / 1e6 : 0;
    std::string mode;
    std::error_code ec;
    if (problem.empty()) {
        const auto perms = fs::status(context.directory, ec).permissions();
        char text[8];
        std::snprintf(text, sizeof text, "%03o", static_cast<unsigned>(perms) & 0777);
        mode = text;
    }
    Catalog catalog;
    if (problem.empty()) catalog = load_catalog(context.directory, true);
    const auto stats = TelemetryDataStore(context.directory).stats();
    // Damaged or unreadable session files are a problem; other JSON documents beside them (a
    // package.json: valid JSON, no schema_version) are not.
    std::vector<const SkippedFile*> damaged, foreign;
    for (const SkippedFile& file : catalog.skipped)
        (file.reason.starts_with("not a session file") ? foreign : damaged).push_back(&file);
    Config as_stored = config;
    as_stored.storage_dir = context.directory;
    get_error_handler().reset_error_state();  // what loading the prices records, and only that
    const auto prices = PriceTable::for_config(as_stored);  // with the store's prices.json
    const std::vector<std::string> price_problems = recorded_messages("pricing");
    const bool healthy = problem.empty() && writable && free_mb > kLowFreeMb && damaged.empty() &&
                         config_problems.empty() && price_problems.empty();
    if (context.json) {
        std::string text;
        JsonWriter out(text);
        out.begin_object().field("storage_path", context.directory).field("exists", problem.empty())
            .field("problem", problem).field("writable", writable).field("permissions", mode)
            .field("free_mb", free_mb).field("sessions", static_cast<std::uint64_t>(catalog.sessions.size()))
            .field("journals", static_cast<std::uint64_t>(stats.journal_files))
            .field("skipped_files", static_cast<std::uint64_t>(damaged.size()))
            .field("other_files", static_cast<std::uint64_t>(foreign.size()))
            .field("telemetry_enabled", config.enabled).field("code_metrics", config.code_metrics)
            .field("price_table_version", prices->version()).field("healthy", healthy);
        out.key("config_problems").begin_array();
        for (const std::string& p : config_problems) out.value(p);
        out.end_array().key("price_problems").begin_array();
        for (const std::string& p : price_problems) out.value(p);
        out.end_array().end_object();
        print_json(text);
        return healthy ? kOk : kFailure;
    }
    auto check = [](bool ok, const std::string& text) {
        std::printf("  %s %s\n", paint(ok ? "ok  " : "FAIL", ok ? Colour::green : Colour::red).c_str(), text.c_str());
    };
    std::printf("storage %s\n", printable(context.directory).c_str());
    check(problem.empty(), problem.empty() ? "directory exists (mode " + mode + ")" : problem);
    check(writable, writable ? "writable" : "not writable: sessions cannot be saved");
    char space[64];
    std::snprintf(space, sizeof space, "%.0f MB free", free_mb);
    check(free_mb > kLowFreeMb, space);
    check(damaged.empty(), std::to_string(catalog.sessions.size()) + " sessions, " +
                               std::to_string(stats.journal_files) + " journals, " +
                               std::to_string(damaged.size()) + " unreadable session files");
    for (const SkippedFile* file : damaged)
        std::printf("       %s: %s\n", printable(file->path).c_str(), printable(file->reason).c_str());
    if (!foreign.empty())
        std::printf("       %zu other JSON file%s here, not sessions (left alone)\n", foreign.size(),
                    foreign.size() == 1 ? "" : "s");
    check(config_problems.empty(), config_problems.empty() ? "configuration from the environment is valid"
                                                           : "configuration problems:");
    for (const std::string& p : config_problems) std::printf("       %s\n", printable(p).c_str());
    check(price_problems.empty(), price_problems.empty() ? "price files are valid" : "price files:");
    for (const std::string& p : price_problems) std::printf("       %s\n", printable(p).c_str());
    std::printf("  telemetry %s, code metrics %s, price table %s (%zu models)\n",
                config.enabled ? "enabled" : "disabled", config.code_metrics ? "on" : "off",
                prices->version().c_str(), prices->size());
    return healthy ? kOk : kFailure;
}

}  // namespace sop_telemetry::cli
