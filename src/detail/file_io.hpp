// File primitives with explicit errors, and the fault injection the tests use to simulate a
// full disk. Nothing here throws.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sop_telemetry::detail {

/// Test hook: while `failing_writes` > 0, that many writes fail with `error_number` (then it
/// counts down); a negative value makes every write fail until reset to 0.
struct IoFaults {
    std::atomic<int> failing_writes{0};
    std::atomic<int> error_number{28};  // ENOSPC
};
IoFaults& io_faults() noexcept;

/// Writes all of `data` to `fd`; false with `error` on failure (injected faults included).
bool write_all(int fd, std::string_view data, std::string& error) noexcept;

/// Temp file in the same directory, fsync, rename over `path`, fsync of the directory. On
/// failure the temp file is removed and `path` is untouched.
bool write_file_atomic(const std::string& path, std::string_view content, std::string& error) noexcept;

/// Files are read whole; beyond this they are refused rather than exhaust memory. Above what
/// the engine writes for its largest budget (2,000,000 events with long error texts: ~3 GB).
constexpr std::size_t kMaxReadBytes = std::size_t{16} << 30;

/// The content of the regular file `path`, of at most `max_bytes`. Anything else (a FIFO, a
/// device such as /dev/zero, a directory) is refused without waiting on it. `error` says why,
/// without the path (the caller names the file).
std::optional<std::string> read_file(const std::string& path, std::string& error,
                                     std::size_t max_bytes = kMaxReadBytes) noexcept;

/// A file's size and modification time (ns): enough to tell it was rewritten.
struct FileStamp {
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
};
/// None when the file cannot be stat'ed (missing).
std::optional<FileStamp> file_stamp(const std::string& path) noexcept;

/// "<what> <path>: <strerror(errno)>"
std::string errno_message(std::string_view what, const std::string& path, int error_number);

}  // namespace sop_telemetry::detail
