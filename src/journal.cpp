#include "detail/journal.hpp"

#include "detail/file_io.hpp"
#include "detail/session_codec.hpp"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sop_telemetry::detail {

namespace {

// The journals open in this process, as fd + 1 (0: a free slot), for a forked child to let go
// of: its copy of a journal's descriptor would keep the flock after the parent dies, and no
// recovery could take the journal while the child lives. Lock-free: the child may not lock.
constexpr std::size_t kTrackedJournals = 64;
std::atomic<int> open_journals[kTrackedJournals];

/// In a forked child: each inherited journal descriptor now names /dev/null (the number stays
/// valid for the child's own close), so only the parent holds the journal and its lock.
void let_go_of_journals_in_child() noexcept {
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) return;
    for (std::atomic<int>& slot : open_journals) {
        // The child owns none of them: a number it reuses later is not a journal for its own
        // children to let go of.
        if (const int stored = slot.exchange(0, std::memory_order_relaxed); stored > 0)
            ::dup3(null, stored - 1, O_CLOEXEC);
    }
    ::close(null);
}

void track_journal(int fd) noexcept {
    static const bool registered = ::pthread_atfork(nullptr, nullptr, let_go_of_journals_in_child) == 0;
    (void)registered;
    for (std::atomic<int>& slot : open_journals) {
        int free = 0;
        if (slot.compare_exchange_strong(free, fd + 1)) return;
    }
}

void untrack_journal(int fd) noexcept {
    for (std::atomic<int>& slot : open_journals) {
        int tracked = fd + 1;
        if (slot.compare_exchange_strong(tracked, 0)) return;
    }
}

}  // namespace

JournalWriter::~JournalWriter() { close(false); }

bool JournalWriter::open(const std::string& path, const SessionHeader& header,
                         std::string& error) noexcept {
    try {
        close(false);
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (fd_ < 0) {
            error = errno_message("cannot create journal", path, errno);
            return false;
        }
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            error = errno_message("cannot lock journal", path, errno);
            ::close(fd_);
            fd_ = -1;
            return false;
        }
        track_journal(fd_);
        path_ = path;
        if (!append(journal_header_line(header), error)) {
            close(true);
            return false;
        }
        return true;
    } catch (...) {
        error = "out of memory";
        return false;
    }
}

bool JournalWriter::append(std::string_view lines, std::string& error) noexcept {
    if (fd_ < 0) {
        error = "journal not open";
        return false;
    }
    struct stat before {};
    const bool sized = ::fstat(fd_, &before) == 0;
    if (write_all(fd_, lines, error) && ::fdatasync(fd_) == 0) return true;
    if (error.empty()) error = errno_message("fdatasync", path_, errno);
    if (sized && ::ftruncate(fd_, before.st_size) != 0) {
        error += "; and the torn write could not be cut back";
    }
    return false;
}

void JournalWriter::close(bool remove) noexcept {
    if (fd_ < 0) return;
    if (remove) ::unlink(path_.c_str());
    untrack_journal(fd_);
    ::close(fd_);  // releases the lock
    fd_ = -1;
}

std::string journal_header_line(const SessionHeader& header) {
    std::string line;
    JsonWriter out(line);
    out.begin_object()
        .field("journal_version", 1)
        .field("session_id", header.session_id)
        .field("start_us", header.start_ns / 1000);
    out.key("environment");
    write_environment(out, header.environment);
    out.end_object();
    line += '\n';
    return line;
}

namespace {

/// Begin and end of one span as the single record of a finished span.
Event finished_span(const Event& begin, const Event& end) {
    Event span = begin;
    span.type = EventType::complete;
    span.end_ns = end.end_ns;
    span.status = end.status;
    span.error = end.error;
    span.tokens = end.tokens;
    span.cost = end.cost;
    return span;
}

}  // namespace

void append_span_lines(const std::vector<const Event*>& batch, std::string& lines) {
    // Spans nest, so an end closes one of the newest begins still open: look at a few.
    constexpr std::size_t kLookBack = 16;
    constexpr std::size_t kNone = static_cast<std::size_t>(-1);
    std::vector<std::size_t> end_of(batch.size(), kNone);  // begin index -> its end's index
    std::vector<bool> joined(batch.size(), false);         // ends written with their begin
    std::vector<std::size_t> open;                         // begins not ended yet, newest last
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Event& event = *batch[i];
        if (event.type == EventType::begin) {
            open.push_back(i);
            continue;
        }
        if (event.type != EventType::end) continue;
        for (std::size_t k = open.size(); k-- > 0 && open.size() - k <= kLookBack;) {
            if (batch[open[k]]->span_id != event.span_id) continue;
            end_of[open[k]] = i;
            joined[i] = true;
            open.erase(open.begin() + static_cast<std::ptrdiff_t>(k));
            break;
        }
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (joined[i]) continue;
        JsonWriter out(lines);
        write_record(out, end_of[i] == kNone ? *batch[i] : finished_span(*batch[i], *batch[end_of[i]]));
        lines += '\n';
    }
}

std::string journal_code_metrics_line(std::uint64_t task_span, const CodeMetrics& metrics) {
    std::string line;
    JsonWriter out(line);
    out.begin_object().field("task_span", span_id_hex(task_span));
    out.key("code_metrics");
    write_code_metrics(out, metrics);
    out.end_object();
    line += '\n';
    return line;
}

std::string journal_dropped_line(std::uint64_t dropped) {
    std::string line;
    JsonWriter(line).begin_object().field("dropped_events", dropped).end_object();
    line += '\n';
    return line;
}

std::unique_ptr<RecoveredJournal> read_journal(std::string_view content, std::string& error) {
    auto journal = std::make_unique<RecoveredJournal>();
    simdjson::dom::parser parser;
    bool have_header = false;
    std::size_t at = 0;
    while (at < content.size()) {
        std::size_t end = content.find('\n', at);
        const bool torn = end == std::string_view::npos;  // the writer died mid-line
        if (torn) end = content.size();
        const std::string_view line = content.substr(at, end - at);
        at = end + 1;
        if (line.empty()) continue;
        simdjson::dom::object object;
        if (parser.parse(line.data(), line.size(), true).get(object) != simdjson::SUCCESS) {
            if (!torn) ++journal->bad_lines;
            if (!have_header) break;
            continue;
        }
        if (!have_header) {
            std::int64_t start_us = 0;
            std::string_view id;
            simdjson::dom::object environment;
            if (object["journal_version"].error() != simdjson::SUCCESS ||
                object["session_id"].get(id) != simdjson::SUCCESS ||
                object["start_us"].get(start_us) != simdjson::SUCCESS)
                break;
            journal->header.session_id = id;
            journal->header.start_ns = start_us * 1000;
            if (object["environment"].get(environment) == simdjson::SUCCESS)
                journal->header.environment = read_environment(environment);
            have_header = true;
            continue;
        }
        std::uint64_t dropped = 0;
        simdjson::dom::object metrics, environment;
        if (object["dropped_events"].get(dropped) == simdjson::SUCCESS) {
            journal->header.dropped_events = dropped;
        } else if (object["environment"].get(environment) == simdjson::SUCCESS) {
            journal->header.environment = read_environment(environment);
        } else if (object["code_metrics"].get(metrics) == simdjson::SUCCESS) {
            std::string_view span;
            if (object["task_span"].get(span) == simdjson::SUCCESS)
                journal->code_metrics[span_id_from_hex(span)] = read_code_metrics(metrics);
        } else {
            Event event;
            std::string record_error;
            if (!read_record(object, journal->arena, event, record_error)) {
                ++journal->bad_lines;
                continue;
            }
            journal->last_time_ns = std::max({journal->last_time_ns, event.start_ns, event.end_ns});
            journal->events.push_back(event);
        }
    }
    if (!have_header) {
        error = "journal without a valid header line";
        return nullptr;
    }
    return journal;
}

ScopedFileLock::ScopedFileLock(const std::string& path) noexcept {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    locked_ = fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) == 0;
}

ScopedFileLock::~ScopedFileLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace sop_telemetry::detail
