#include "session_catalog.hpp"

#include "analysis.hpp"
#include "detail/file_io.hpp"
#include "terminal.hpp"

#include <sop_telemetry/data_store.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace sop_telemetry::cli {

namespace {

constexpr std::size_t kProgressFromFiles = 200;

/// Parses one file into `slot`; false with a reason when it is not a session.
bool parse_file(const std::string& path, LoadedSession& slot, std::string& reason, Detail detail) {
    std::optional<std::string> content = detail::read_file(path, reason);
    if (!content) return false;
    std::string& text = *content;
    if (text.empty()) {
        reason = "empty file";
        return false;
    }
    auto session = TelemetrySession::from_json(text, &reason);
    if (!session) return false;
    slot.path = path;
    slot.bytes = text.size();
    slot.session = std::move(*session);
    if (detail == Detail::summaries) {  // of the spans, summaries need only the failed steps
        std::vector<Span> kept;
        for (const Span* step : failed_steps(slot.session)) kept.push_back(*step);
        slot.session.spans.swap(kept);
    }
    return true;
}

class ProgressBar {
public:
    ProgressBar(bool enabled, std::size_t total)
        : enabled_(enabled && total >= kProgressFromFiles && ::isatty(STDERR_FILENO)), total_(total) {}
    ~ProgressBar() {
        if (enabled_) std::fprintf(stderr, "\r%60s\r", "");
    }
    void tick() {
        const std::size_t done = ++done_;
        if (!enabled_ || (done % 50 != 0 && done != total_)) return;
        std::lock_guard lock(mutex_);
        const int width = 30;
        const int filled = static_cast<int>(width * done / total_);
        std::fprintf(stderr, "\rreading sessions [%.*s%*s] %zu/%zu", filled,
                     "##############################", width - filled, "", done, total_);
        std::fflush(stderr);
    }

private:
    bool enabled_;
    std::size_t total_;
    std::atomic<std::size_t> done_{0};
    std::mutex mutex_;
};

std::vector<std::string> session_files(const std::string& directory) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(directory, ec)) {
        const fs::path& path = entry.path();
        if (path.extension() != ".json" || path.filename().string().front() == '.') continue;
        if (path.filename() == TelemetryDataStore::kPriceFileName) continue;
        std::error_code type_ec;
        if (!entry.is_regular_file(type_ec)) continue;
        files.push_back(path.string());
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

std::string directory_problem(const std::string& directory) {
    std::error_code ec;
    const auto status = fs::status(directory, ec);
    if (ec || !fs::exists(status)) return "no session directory at " + directory;
    if (!fs::is_directory(status)) return directory + " is not a directory";
    if (::access(directory.c_str(), R_OK | X_OK) != 0) return "cannot read " + directory + " (permission denied)";
    return {};
}

Catalog load_catalog(const std::string& directory, bool progress, Detail detail) {
    Catalog catalog;
    catalog.directory = directory;
    const std::vector<std::string> files = session_files(directory);
    std::vector<LoadedSession> slots(files.size());
    std::vector<std::string> reasons(files.size());
    std::vector<char> ok(files.size(), 0);
    std::atomic<std::size_t> next{0};
    ProgressBar bar(progress, files.size());
    auto work = [&] {
        for (std::size_t i = next++; i < files.size(); i = next++) {
            ok[i] = parse_file(files[i], slots[i], reasons[i], detail) ? 1 : 0;
            bar.tick();
        }
    };
    const unsigned workers = std::clamp<unsigned>(std::thread::hardware_concurrency(), 1, 16);
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < workers && i < files.size(); ++i) threads.emplace_back(work);
    work();
    for (auto& thread : threads) thread.join();
    for (std::size_t i = 0; i < files.size(); ++i) {
        if (ok[i]) {
            catalog.sessions.push_back(std::move(slots[i]));
        } else {
            catalog.skipped.push_back({files[i], reasons[i]});
        }
    }
    std::stable_sort(catalog.sessions.begin(), catalog.sessions.end(),
                     [](const LoadedSession& a, const LoadedSession& b) {
                         return a.session.start_time > b.session.start_time;
                     });
    return catalog;
}

void warn_skipped(const Catalog& catalog) {
    for (const SkippedFile& file : catalog.skipped)
        std::fprintf(stderr, "warning: skipped %s: %s\n", printable(file.path).c_str(), printable(file.reason).c_str());
}

const LoadedSession* find_session(const Catalog& catalog, const std::string& reference,
                                  std::string& error) {
    if (reference == "latest") {
        if (catalog.sessions.empty()) error = "no sessions in " + catalog.directory;
        return catalog.sessions.empty() ? nullptr : &catalog.sessions.front();
    }
    if (!TelemetryDataStore::is_valid_session_id(reference)) {
        error = "invalid session id '" + reference + "' (letters, digits, '_', '.', '-' only)";
        return nullptr;
    }
    for (const LoadedSession& loaded : catalog.sessions)
        if (loaded.session.session_id == reference) return &loaded;
    const LoadedSession* found = nullptr;
    for (const LoadedSession& loaded : catalog.sessions) {
        if (loaded.session.session_id.starts_with(reference)) {
            if (found != nullptr) {
                error = "session id prefix '" + reference + "' is ambiguous";
                return nullptr;
            }
            found = &loaded;
        }
    }
    if (found == nullptr) error = "no session '" + reference + "' in " + catalog.directory;
    return found;
}

std::optional<LoadedSession> load_one(const std::string& directory, const std::string& reference,
                                      std::string& error) {
    if (reference != "latest" && TelemetryDataStore::is_valid_session_id(reference)) {
        const std::string path = TelemetryDataStore(directory).session_path(reference);
        LoadedSession loaded;
        std::error_code ec;
        if (fs::exists(path, ec)) {
            if (parse_file(path, loaded, error, Detail::spans)) return loaded;
            error = path + ": " + error;
            return std::nullopt;
        }
    }
    Catalog catalog = load_catalog(directory, true, Detail::spans);
    warn_skipped(catalog);
    const LoadedSession* found = find_session(catalog, reference, error);
    if (found == nullptr) return std::nullopt;
    return *found;
}

}  // namespace sop_telemetry::cli
