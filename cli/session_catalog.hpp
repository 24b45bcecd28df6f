// The session files of one storage directory, read for analysis.
//
// Every `*.json` in the directory is parsed (in parallel: one worker per core); a file that is
// corrupt, truncated, empty or not a session is skipped with one warning line and counted,
// never fatal. Sessions are kept newest first.
#pragma once

#include <sop_telemetry/types.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sop_telemetry::cli {

struct LoadedSession {
    std::string path;
    std::uint64_t bytes = 0;
    TelemetrySession session;
};

struct SkippedFile {
    std::string path;
    std::string reason;
};

struct Catalog {
    std::string directory;
    std::vector<LoadedSession> sessions;  ///< newest first (by start time)
    std::vector<SkippedFile> skipped;
};

/// Why a directory cannot be read (missing, not a directory, no permission); empty when fine.
std::string directory_problem(const std::string& directory);

/// What of each session a command needs.
enum class Detail { summaries, spans };

/// Reads every session file; `progress` draws a bar on stderr while reading many files. With
/// Detail::summaries the span list is dropped after parsing (the summaries, tasks and their
/// lists stay): listing thousands of sessions then holds a fraction of the memory.
Catalog load_catalog(const std::string& directory, bool progress, Detail detail = Detail::summaries);

/// Writes one warning line per skipped file to stderr.
void warn_skipped(const Catalog& catalog);

/// "latest", an exact id, or an unambiguous prefix of one. Ids with path characters are
/// refused. Sets `error` and returns null when there is no such session.
const LoadedSession* find_session(const Catalog& catalog, const std::string& reference,
                                  std::string& error);

/// Reads one session by reference without loading the others when the reference is an exact
/// id; falls back to the catalog for "latest" and prefixes.
std::optional<LoadedSession> load_one(const std::string& directory, const std::string& reference,
                                      std::string& error);

}  // namespace sop_telemetry::cli
