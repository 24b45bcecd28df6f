// The fold: events in, TelemetrySession out. The only place where totals are computed.
#pragma once

#include "detail/event_log.hpp"

#include <sop_telemetry/pricing.hpp>
#include <sop_telemetry/types.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sop_telemetry::detail {

struct SessionHeader {
    std::string session_id;
    std::int64_t start_ns = 0;
    std::optional<std::int64_t> end_ns;
    EnvironmentInfo environment;
    std::uint64_t dropped_events = 0;
    bool incomplete = false;
    /// Non-empty: the process was ended (SIGTERM) and what still ran was cut off, for this reason.
    std::string cut_off;
};

/// Builds the session view. LLM events that carry a stored cost keep it; the others are priced
/// with `prices`. `now_ns` ends spans and tasks still running when there is no session end.
TelemetrySession fold_session(const SessionHeader& header, const std::vector<Event>& events,
                              const std::map<std::uint64_t, CodeMetrics>& code_metrics,
                              const PriceTable& prices, std::int64_t now_ns);

Timestamp to_timestamp(std::int64_t ns) noexcept;

}  // namespace sop_telemetry::detail
