#include <sop_telemetry/data_store.hpp>
#include <sop_telemetry/error_handler.hpp>

#include "detail/file_io.hpp"
#include "detail/journal.hpp"
#include "detail/session_codec.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sop_telemetry {

namespace {

constexpr std::string_view kSessionSuffix = ".json";
constexpr std::string_view kJournalSuffix = ".jsonl";
constexpr std::string_view kTempSuffix = ".tmp";

struct DirectoryEntry {
    std::string name;
    std::string path;
    struct stat info {};
};

/// Regular files of `directory` (no recursion); empty when it cannot be read.
std::vector<DirectoryEntry> list_directory(const std::string& directory) {
    std::vector<DirectoryEntry> entries;
    DIR* dir = ::opendir(directory.c_str());
    if (dir == nullptr) return entries;
    while (const dirent* item = ::readdir(dir)) {
        DirectoryEntry entry{item->d_name, directory + "/" + item->d_name};
        if (entry.name.starts_with('.')) continue;
        if (::stat(entry.path.c_str(), &entry.info) == 0 && S_ISREG(entry.info.st_mode))
            entries.push_back(std::move(entry));
    }
    ::closedir(dir);
    return entries;
}

/// The session id of a file named "<id><suffix>", or empty.
std::string id_of(const std::string& name, std::string_view suffix) {
    if (!name.ends_with(suffix) || name == TelemetryDataStore::kPriceFileName) return {};
    std::string id = name.substr(0, name.size() - suffix.size());
    return TelemetryDataStore::is_valid_session_id(id) ? id : std::string{};
}

bool older_than(const struct stat& info, int max_age_days) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(now).count() - info.st_mtime;
    return age > std::int64_t(max_age_days) * 86400;
}

/// Whether a file starts the way this library writes it: a session file, a journal (its header
/// line), or an atomic write's temp file `<id>.json.<pid>.tmp`. Cleanup removes nothing else
/// (a package.json that happens to sit in the directory is not ours).
bool written_by_us(const std::string& path, const std::string& name, std::string_view suffix) {
    if (suffix == kTempSuffix) {
        const auto json_at = name.find(std::string(kSessionSuffix) + ".");
        if (json_at == std::string::npos || !TelemetryDataStore::is_valid_session_id(name.substr(0, json_at)))
            return false;
        const std::string pid = name.substr(json_at + kSessionSuffix.size() + 1,
                                            name.size() - json_at - kSessionSuffix.size() - 1 - kTempSuffix.size());
        return !pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos;
    }
    const std::string_view expected = suffix == kJournalSuffix ? R"({"journal_version":)" : R"({"schema_version":)";
    char head[32] = {};
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) return false;
    const std::size_t got = std::fread(head, 1, expected.size(), file);
    std::fclose(file);
    return std::string_view(head, got) == expected;
}

bool is_session_file(const std::string& content) {
    simdjson::dom::parser parser;
    simdjson::dom::object root;
    std::int64_t schema = 0;
    return parser.parse(content).get(root) == simdjson::SUCCESS &&
           root["schema_version"].get(schema) == simdjson::SUCCESS &&
           schema == TelemetrySession::schema_version && root["spans"].is_array();
}

/// How far a session file written while the session ran (flush_data) had got: start plus its
/// duration then, in ns; 0 when there is no such file. A recovered session ends no earlier.
std::int64_t flushed_end_ns(const std::string& path) {
    std::string error;
    const auto content = detail::read_file(path, error);
    const auto flushed = content ? TelemetrySession::from_json(*content) : std::nullopt;
    if (!flushed) return 0;
    const auto start = std::chrono::duration_cast<std::chrono::nanoseconds>(flushed->start_time.time_since_epoch());
    return start.count() + static_cast<std::int64_t>(std::llround(flushed->total_duration * 1e9));
}


}  // namespace

TelemetryDataStore::TelemetryDataStore(std::string directory) noexcept
    : directory_(std::move(directory)) {
    while (directory_.size() > 1 && directory_.back() == '/') directory_.pop_back();
}

bool TelemetryDataStore::ensure_directory() noexcept {
    try {
        if (directory_.empty()) {
            get_error_handler().record("storage", "no storage directory configured");
            return false;
        }
        // Create each missing level; only the levels we create get 0700.
        for (std::size_t at = 1; at <= directory_.size(); ++at) {
            if (at != directory_.size() && directory_[at] != '/') continue;
            const std::string level = directory_.substr(0, at);
            if (::mkdir(level.c_str(), 0700) != 0 && errno != EEXIST) {
                get_error_handler().record("storage",
                                           detail::errno_message("cannot create", level, errno));
                return false;
            }
        }
        struct stat info {};
        if (::stat(directory_.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
            get_error_handler().record("storage", directory_ + " is not a directory");
            return false;
        }
        return true;
    } catch (...) {
        get_error_handler().record("storage", "out of memory");
        return false;
    }
}

bool TelemetryDataStore::is_valid_session_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 128 || id.front() == '.') return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
}

std::string TelemetryDataStore::session_path(std::string_view id) const {
    return directory_ + "/" + std::string(id) + std::string(kSessionSuffix);
}

std::string TelemetryDataStore::journal_path(std::string_view id) const {
    return directory_ + "/" + std::string(id) + std::string(kJournalSuffix);
}

bool TelemetryDataStore::write_session(const TelemetrySession& session) noexcept {
    try {
        return write_session_text(session.session_id, detail::session_to_json(session));
    } catch (const std::exception& error) {
        get_error_handler().record("write_session", error.what());
        return false;
    }
}

bool TelemetryDataStore::write_session_text(std::string_view id, std::string_view content) noexcept {
    try {
        if (!is_valid_session_id(id)) {
            get_error_handler().record("write_session", "invalid session id: " + std::string(id));
            return false;
        }
        if (!ensure_directory()) return false;
        std::string error;
        if (!detail::write_file_atomic(session_path(id), content, error)) {
            get_error_handler().record("write_session", error);
            return false;
        }
        return true;
    } catch (...) {
        get_error_handler().record("write_session", "out of memory");
        return false;
    }
}

std::optional<TelemetrySession> TelemetryDataStore::read_session(std::string_view id,
                                                                 const PriceTable& prices) const noexcept {
    try {
        if (!is_valid_session_id(id)) {
            get_error_handler().record("read_session", "invalid session id: " + std::string(id));
            return std::nullopt;
        }
        const std::string path = session_path(id);
        if (::access(path.c_str(), F_OK) != 0) return std::nullopt;  // unknown: not an error
        simdjson::padded_string content;
        if (auto err = simdjson::padded_string::load(path).get(content)) {
            get_error_handler().record("read_session",
                                       "cannot read " + path + ": " + simdjson::error_message(err));
            return std::nullopt;
        }
        std::string error;
        auto session = detail::session_from_json(content, prices, error);
        if (!session) get_error_handler().record("read_session", path + ": " + error);
        return session;
    } catch (const std::exception& error) {
        get_error_handler().record("read_session", error.what());
        return std::nullopt;
    }
}

std::vector<std::string> TelemetryDataStore::list_session_ids() const noexcept {
    std::vector<std::string> ids;
    try {
        for (const auto& entry : list_directory(directory_)) {
            std::string id = id_of(entry.name, kSessionSuffix);
            if (id.empty()) continue;
            std::string error;
            auto content = detail::read_file(entry.path, error);
            if (!content || !is_session_file(*content)) {
                get_error_handler().record("list_sessions",
                                           "skipped invalid session file " + entry.path);
                continue;
            }
            ids.push_back(std::move(id));
        }
        // Ids begin with the start time (UTC, fixed width), so name order is start order.
        std::sort(ids.begin(), ids.end());
    } catch (const std::exception& error) {
        get_error_handler().record("list_sessions", error.what());
    }
    return ids;
}

StoredFilesStats TelemetryDataStore::stats() const noexcept {
    StoredFilesStats stats;
    try {
        std::vector<std::string> ids;
        for (const auto& entry : list_directory(directory_)) {
            if (std::string id = id_of(entry.name, kSessionSuffix); !id.empty()) {
                ++stats.total_files;
                stats.total_bytes += static_cast<std::uint64_t>(entry.info.st_size);
                ids.push_back(std::move(id));
            } else if (!id_of(entry.name, kJournalSuffix).empty()) {
                ++stats.journal_files;
                stats.total_bytes += static_cast<std::uint64_t>(entry.info.st_size);
            }
        }
        if (!ids.empty()) {
            auto [oldest, newest] = std::minmax_element(ids.begin(), ids.end());
            stats.oldest_session_id = *oldest;
            stats.newest_session_id = *newest;
        }
    } catch (const std::exception& error) {
        get_error_handler().record("storage_stats", error.what());
    }
    return stats;
}

int TelemetryDataStore::cleanup(int max_age_days, const std::set<std::string>& live_ids, bool dry_run,
                                std::vector<std::string>* affected) noexcept {
    int removed = 0;
    try {
        if (max_age_days < 0) {
            get_error_handler().record("cleanup", "max_age_days must be >= 0");
            return 0;
        }
        for (const auto& entry : list_directory(directory_)) {
            std::string id = id_of(entry.name, kSessionSuffix);
            const bool journal = id.empty() && !(id = id_of(entry.name, kJournalSuffix)).empty();
            const bool temp = id.empty() && entry.name.ends_with(kTempSuffix);
            if ((id.empty() && !temp) || live_ids.count(id) || !older_than(entry.info, max_age_days))
                continue;
            const std::string_view kind = temp ? kTempSuffix : journal ? kJournalSuffix : kSessionSuffix;
            if (!written_by_us(entry.path, entry.name, kind)) continue;
            std::optional<detail::ScopedFileLock> lock;
            if (journal && !lock.emplace(entry.path).locked()) continue;  // a live session's
            if (dry_run || ::unlink(entry.path.c_str()) == 0) {
                ++removed;
                if (affected != nullptr) affected->push_back(entry.path);
            } else {
                get_error_handler().record("cleanup",
                                           detail::errno_message("cannot remove", entry.path, errno));
            }
        }
    } catch (const std::exception& error) {
        get_error_handler().record("cleanup", error.what());
    }
    return removed;
}

int TelemetryDataStore::recover_journals(const std::set<std::string>& live_ids,
                                         const PriceTable& prices) noexcept {
    int recovered = 0;
    try {
        for (const auto& entry : list_directory(directory_)) {
            const std::string id = id_of(entry.name, kJournalSuffix);
            if (id.empty() || live_ids.count(id)) continue;
            const detail::ScopedFileLock lock(entry.path);
            if (!lock.locked()) continue;  // its process is alive
            std::string error;
            auto content = detail::read_file(entry.path, error);
            auto journal = content ? detail::read_journal(*content, error) : nullptr;
            if (!journal) {
                get_error_handler().record("recover", entry.path + ": " + error);
                continue;
            }
            if (journal->bad_lines > 0)
                get_error_handler().record("recover", entry.path + ": skipped " +
                                                          std::to_string(journal->bad_lines) +
                                                          " invalid lines");
            journal->header.session_id = id;
            journal->header.incomplete = true;
            journal->header.end_ns = std::max({journal->last_time_ns, journal->header.start_ns,
                                               flushed_end_ns(session_path(id))});
            const TelemetrySession session =
                detail::fold_session(journal->header, journal->events, journal->code_metrics,
                                     prices, *journal->header.end_ns);
            if (write_session(session) && ::unlink(entry.path.c_str()) == 0) ++recovered;
        }
    } catch (const std::exception& error) {
        get_error_handler().record("recover", error.what());
    }
    return recovered;
}

}  // namespace sop_telemetry
