// The JSON the CLI prints with --json and that the HTML report and the dashboard draw: one
// shape for all three, built from the shared analysis.
#pragma once

#include "analysis.hpp"
#include "session_catalog.hpp"

#include <string>

namespace sop_telemetry::detail {
class JsonWriter;
}

namespace sop_telemetry::cli {

void write_summary(detail::JsonWriter& out, const SessionSummary& summary);
void write_named_stats(detail::JsonWriter& out, const std::vector<NamedStats>& items);

/// Everything `show` says about a session, plus its first `max_spans` spans in start order (times
/// in ms from the session start) and how many it has in all (`spans_total`).
std::string session_view_json(const LoadedSession& loaded, std::size_t max_spans = SIZE_MAX);

/// The timeline a page draws (report, dashboard): a browser slows to a crawl with many more rows.
constexpr std::size_t kPageSpans = 5000;

/// The summaries of these sessions of a catalog, and how many of its files were skipped.
std::string sessions_json(const Catalog& catalog, const std::vector<const LoadedSession*>& sessions);

}  // namespace sop_telemetry::cli
