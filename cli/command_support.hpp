// What the commands share: loading with clear messages, filters, and printing JSON.
#pragma once

#include "analysis.hpp"
#include "commands.hpp"
#include "session_catalog.hpp"

#include <optional>
#include <string>
#include <vector>

namespace sop_telemetry::cli {

/// The catalog, after warning about skipped files; unset (message printed) when the directory
/// cannot be read.
std::optional<Catalog> open_catalog(const Context& context);

/// One session by reference; unset with the message printed and `code` set otherwise.
std::optional<LoadedSession> open_session(const Context& context, const std::string& reference, int& code);

/// The sessions passing the filter (date, status, model), newest first, up to its limit.
std::vector<const LoadedSession*> filtered(const Catalog& catalog, const ListFilter& filter);

/// Problems with a filter's values (a bad date …), empty when fine.
std::string filter_problem(const ListFilter& filter);

void print_json(const std::string& json);
void print_error(const std::string& message);

}  // namespace sop_telemetry::cli
