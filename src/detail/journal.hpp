// The crash journal: `<session_id>.jsonl`, appended by the background worker while a session
// runs and held under an exclusive flock. Line 1 is the session header; then span records
// (session_codec's format), code-metrics lines and dropped-event counts. A failed append is
// truncated back, so the journal never holds a torn line in the middle; a torn last line (the
// process died while writing) is ignored when reading.
#pragma once

#include "detail/event_log.hpp"
#include "detail/session_fold.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sop_telemetry::detail {

class JournalWriter {
public:
    JournalWriter() = default;
    JournalWriter(const JournalWriter&) = delete;
    JournalWriter& operator=(const JournalWriter&) = delete;
    ~JournalWriter();

    /// Creates (truncates) the journal, locks it and writes the header line.
    bool open(const std::string& path, const SessionHeader& header, std::string& error) noexcept;
    /// Appends complete lines; on failure the file is cut back to its previous size.
    bool append(std::string_view lines, std::string& error) noexcept;
    /// Closes; removes the file when `remove` (the session file now holds everything).
    void close(bool remove) noexcept;
    bool is_open() const noexcept { return fd_ >= 0; }
    const std::string& path() const noexcept { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

std::string journal_header_line(const SessionHeader& header);
/// Appends the span records of `batch` (events of one buffer, in order) to `lines`. A span
/// that begins and ends within the batch is one complete record instead of two, at its begin.
void append_span_lines(const std::vector<const Event*>& batch, std::string& lines);
std::string journal_code_metrics_line(std::uint64_t task_span, const CodeMetrics& metrics);
std::string journal_dropped_line(std::uint64_t dropped);

struct RecoveredJournal {
    SessionHeader header;
    StringArena arena;
    std::vector<Event> events;
    std::map<std::uint64_t, CodeMetrics> code_metrics;
    std::size_t bad_lines = 0;
    std::int64_t last_time_ns = 0;
};

/// Reads a journal; unset (with `error`) when its header is missing or invalid.
std::unique_ptr<RecoveredJournal> read_journal(std::string_view content, std::string& error);

/// An exclusive, non-blocking flock on a file, held while the object lives.
class ScopedFileLock {
public:
    explicit ScopedFileLock(const std::string& path) noexcept;
    ScopedFileLock(const ScopedFileLock&) = delete;
    ScopedFileLock& operator=(const ScopedFileLock&) = delete;
    ~ScopedFileLock();
    /// False when the file is missing or another holder has it (its session is alive).
    bool locked() const noexcept { return locked_; }

private:
    int fd_ = -1;
    bool locked_ = false;
};

}  // namespace sop_telemetry::detail
