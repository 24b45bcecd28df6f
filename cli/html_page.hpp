// The HTML page of the report and the dashboard: one self-contained file (inline CSS and
// script, no external request), from cli/assets/report.html compiled into the program.
#pragma once

#include <string>

namespace sop_telemetry::cli {

/// The report of one session: `view_json` (session_view_json) is embedded in the page.
std::string report_page(const std::string& view_json);

/// The live dashboard: the page fetches /api/sessions and polls for new ones.
std::string dashboard_page();

}  // namespace sop_telemetry::cli
