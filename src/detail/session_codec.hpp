// JSON encoding of events (the journal's lines and the session file's spans share one record
// format) and of whole sessions. Schema: docs/session.schema.json.
#pragma once

#include "detail/event_log.hpp"
#include "detail/json_writer.hpp"
#include "detail/session_fold.hpp"

#include <sop_telemetry/pricing.hpp>
#include <sop_telemetry/types.hpp>

#include <simdjson.h>

#include <optional>
#include <string>

namespace sop_telemetry::detail {

/// One span record: "type" is written for begin/end records only (complete is the default).
void write_record(JsonWriter& out, const Event& event, std::string_view task_id = {});
/// Reads a record written by write_record; strings are stored in `arena`.
bool read_record(simdjson::dom::object record, StringArena& arena, Event& event, std::string& error);

void write_environment(JsonWriter& out, const EnvironmentInfo& environment);
EnvironmentInfo read_environment(simdjson::dom::object object);
void write_code_metrics(JsonWriter& out, const CodeMetrics& metrics);
CodeMetrics read_code_metrics(simdjson::dom::object object);

std::string session_to_json(const TelemetrySession& session);
/// Parses a session file and folds its spans again (stored costs are kept, spans without one
/// are priced with `prices`).
/// `json` must carry simdjson's padding (simdjson::padded_string does).
std::optional<TelemetrySession> session_from_json(simdjson::padded_string_view json,
                                                  const PriceTable& prices, std::string& error);

}  // namespace sop_telemetry::detail
