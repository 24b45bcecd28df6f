#include "command_support.hpp"

#include "terminal.hpp"

#include <cstdio>

namespace sop_telemetry::cli {

namespace {

bool is_day(const std::string& text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
        if (text[i] < '0' || text[i] > '9') return false;
    const int year = std::stoi(text.substr(0, 4)), month = std::stoi(text.substr(5, 2)), day = std::stoi(text.substr(8, 2));
    if (month < 1 || month > 12 || day < 1) return false;
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return day <= kDays[month - 1] + (month == 2 && leap ? 1 : 0);  // 2026-02-31 is no day
}

}  // namespace

void print_error(const std::string& message) {  // paths and session text in it are shown safely
    std::fprintf(stderr, "sop-telemetry: %s\n", printable(message).c_str());
}

void print_json(const std::string& json) {
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fputc('\n', stdout);
}

std::optional<Catalog> open_catalog(const Context& context) {
    if (const std::string problem = directory_problem(context.directory); !problem.empty()) {
        print_error(problem + " (set SOP_TELEMETRY_DIR or pass --dir)");
        return std::nullopt;
    }
    Catalog catalog = load_catalog(context.directory, true);
    warn_skipped(catalog);
    return catalog;
}

std::optional<LoadedSession> open_session(const Context& context, const std::string& reference, int& code) {
    if (const std::string problem = directory_problem(context.directory); !problem.empty()) {
        print_error(problem + " (set SOP_TELEMETRY_DIR or pass --dir)");
        code = kFailure;
        return std::nullopt;
    }
    std::string error;
    auto loaded = load_one(context.directory, reference, error);
    if (!loaded) {
        print_error(error);
        code = kNotFound;
    }
    return loaded;
}

std::string filter_problem(const ListFilter& filter) {
    if (!filter.since.empty() && !is_day(filter.since)) return "--since wants a date as YYYY-MM-DD";
    if (!filter.until.empty() && !is_day(filter.until)) return "--until wants a date as YYYY-MM-DD";
    return {};
}

std::vector<const LoadedSession*> filtered(const Catalog& catalog, const ListFilter& filter) {
    std::vector<const LoadedSession*> out;
    for (const LoadedSession& loaded : catalog.sessions) {
        const std::string day = format_day(loaded.session.start_time);
        if (!filter.since.empty() && day < filter.since) continue;
        if (!filter.until.empty() && day > filter.until) continue;
        if (!filter.status.empty() && summarize(loaded.session).status != filter.status) continue;
        if (!filter.model.empty() && !loaded.session.total_tokens.model_breakdown.count(filter.model)) continue;
        out.push_back(&loaded);
        if (filter.limit && out.size() == filter.limit) break;
    }
    return out;
}

}  // namespace sop_telemetry::cli
