// TelemetryDataStore: the session files in one directory.
//
// One `<session_id>.json` per finished (or flushed) session, written atomically: a temp file in
// the same directory, fsync, rename, fsync of the directory — a reader sees the old file or the
// new one, never half of one, and a failed write leaves the old file untouched. A running
// session also has `<session_id>.jsonl`, its crash journal, held under an exclusive flock so
// other processes know it is alive. Directory 0700, files 0600.
#pragma once

#include <sop_telemetry/pricing.hpp>
#include <sop_telemetry/types.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sop_telemetry {

struct StoredFilesStats {
    std::size_t total_files = 0;  ///< readable-looking session files (*.json)
    std::uint64_t total_bytes = 0;
    std::size_t journal_files = 0;
    std::string oldest_session_id;
    std::string newest_session_id;
};

class TelemetryDataStore {
public:
    explicit TelemetryDataStore(std::string directory) noexcept;

    const std::string& directory() const noexcept { return directory_; }

    /// Creates the directory (0700) if needed; false (error recorded) when impossible.
    bool ensure_directory() noexcept;

    /// Session ids are [A-Za-z0-9_.-], 1..128 characters, not starting with '.'.
    static bool is_valid_session_id(std::string_view id) noexcept;
    /// The store's own price file (PriceTable::for_config): beside the sessions, never one.
    static constexpr std::string_view kPriceFileName = "prices.json";
    std::string session_path(std::string_view id) const;
    std::string journal_path(std::string_view id) const;

    /// Writes the session file atomically; false (error recorded) on failure.
    bool write_session(const TelemetrySession& session) noexcept;
    /// Writes `content` to `<id>.json` atomically.
    bool write_session_text(std::string_view id, std::string_view content) noexcept;

    /// A stored session; unset when unknown, unreadable or invalid (an error is recorded for the
    /// last two).
    std::optional<TelemetrySession> read_session(std::string_view id,
                                                 const PriceTable& prices) const noexcept;

    /// Ids of the valid session files, oldest first; invalid files are skipped with an error.
    std::vector<std::string> list_session_ids() const noexcept;

    StoredFilesStats stats() const noexcept;

    /// Removes session files and journals older than `max_age_days` (by modification time),
    /// never those of `live_ids` nor a journal another process holds. Returns files removed.
    /// With `dry_run` nothing is removed and the count is of the files that would be;
    /// `affected`, when given, receives their paths.
    int cleanup(int max_age_days, const std::set<std::string>& live_ids, bool dry_run = false,
                std::vector<std::string>* affected = nullptr) noexcept;

    /// Turns the journals of dead sessions into session files marked incomplete. Journals held
    /// by a live process and those in `live_ids` are left alone. Returns sessions recovered.
    int recover_journals(const std::set<std::string>& live_ids, const PriceTable& prices) noexcept;

private:
    std::string directory_;
};

}  // namespace sop_telemetry
