#include "html_page.hpp"

#include <string_view>

extern "C" const char sop_telemetry_report_html[];

namespace sop_telemetry::cli {

namespace {

constexpr std::string_view kDataMarker = "/*SESSION_DATA*/";
constexpr std::string_view kLiveMarker = "/*LIVE_MODE*/false";

std::string replaced(std::string page, std::string_view marker, const std::string& with) {
    const auto at = page.find(marker);
    if (at != std::string::npos) page.replace(at, marker.size(), with);
    return page;
}

/// JSON made safe inside a <script> element: every '<' (only ever inside strings) is escaped,
/// so no text of the session can close the element or open a comment.
std::string script_safe(const std::string& json) {
    std::string out;
    out.reserve(json.size());
    for (char c : json) {
        if (c == '<') out += "\\u003c";
        else out += c;
    }
    return out;
}

}  // namespace

std::string report_page(const std::string& view_json) {
    return replaced(sop_telemetry_report_html, kDataMarker, script_safe(view_json));
}

std::string dashboard_page() {
    return replaced(replaced(sop_telemetry_report_html, kDataMarker, "null"), kLiveMarker, "true");
}

}  // namespace sop_telemetry::cli
