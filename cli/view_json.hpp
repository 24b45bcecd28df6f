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

/// Everything `show` says about a session, plus its spans (times in ms from the session start).
std::string session_view_json(const LoadedSession& loaded);

/// The summaries of these sessions of a catalog, and how many of its files were skipped.
std::string sessions_json(const Catalog& catalog, const std::vector<const LoadedSession*>& sessions);

}  // namespace sop_telemetry::cli
