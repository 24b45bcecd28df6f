#include "detail/file_io.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sop_telemetry::detail {

IoFaults& io_faults() noexcept {
    static IoFaults faults;
    return faults;
}

std::string errno_message(std::string_view what, const std::string& path, int error_number) {
    return std::string(what) + " " + path + ": " + std::strerror(error_number);
}

namespace {

/// Consumes one injected fault; the errno to fail with, or 0.
int take_injected_fault() noexcept {
    IoFaults& faults = io_faults();
    int pending = faults.failing_writes.load();
    while (pending != 0) {
        if (pending < 0) return faults.error_number.load();
        if (faults.failing_writes.compare_exchange_weak(pending, pending - 1))
            return faults.error_number.load();
    }
    return 0;
}

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

bool write_all(int fd, std::string_view data, std::string& error) noexcept {
    try {
        if (int injected = take_injected_fault()) {
            error = std::string("write: ") + std::strerror(injected) + " (injected)";
            return false;
        }
        while (!data.empty()) {
            const ssize_t written = ::write(fd, data.data(), data.size());
            if (written < 0) {
                if (errno == EINTR) continue;
                error = std::string("write: ") + std::strerror(errno);
                return false;
            }
            data.remove_prefix(static_cast<std::size_t>(written));
        }
        return true;
    } catch (...) {
        return false;
    }
}

bool write_file_atomic(const std::string& path, std::string_view content, std::string& error) noexcept {
    try {
        const std::string temp = path + "." + std::to_string(::getpid()) + ".tmp";
        const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            error = errno_message("cannot create", temp, errno);
            return false;
        }
        bool ok = write_all(fd, content, error);
        if (ok && ::fsync(fd) != 0) {
            error = errno_message("fsync", temp, errno);
            ok = false;
        }
        if (::close(fd) != 0 && ok) {
            error = errno_message("close", temp, errno);
            ok = false;
        }
        if (ok && ::rename(temp.c_str(), path.c_str()) != 0) {
            error = errno_message("rename to", path, errno);
            ok = false;
        }
        if (!ok) {
            ::unlink(temp.c_str());
            return false;
        }
        const int dir = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0) {
            ::fsync(dir);
            ::close(dir);
        }
        return true;
    } catch (...) {
        error = "out of memory";
        return false;
    }
}

std::optional<std::string> read_file(const std::string& path, std::string& error, std::size_t max_bytes) noexcept {
    try {
        // O_NONBLOCK: opening a FIFO for reading would wait for a writer.
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            error = std::string("cannot open: ") + std::strerror(errno);
            return std::nullopt;
        }
        struct stat info {};
        if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
            error = "not a regular file";
            ::close(fd);
            return std::nullopt;
        }
        const std::string too_large = "larger than " + std::to_string(max_bytes >> 20) + " MiB";
        if (static_cast<std::uint64_t>(info.st_size) > max_bytes) {
            error = too_large;
            ::close(fd);
            return std::nullopt;
        }
        std::string content;
        content.reserve(static_cast<std::size_t>(info.st_size));
        char buffer[1 << 16];
        for (;;) {
            const ssize_t got = ::read(fd, buffer, sizeof buffer);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                error = std::string("cannot read: ") + std::strerror(errno);
                ::close(fd);
                return std::nullopt;
            }
            if (got == 0) break;
            if (content.size() + static_cast<std::size_t>(got) > max_bytes) {  // it grew meanwhile
                error = too_large;
                ::close(fd);
                return std::nullopt;
            }
            content.append(buffer, static_cast<std::size_t>(got));
        }
        ::close(fd);
        return content;
    } catch (...) {
        error = "out of memory";
        return std::nullopt;
    }
}

std::optional<FileStamp> file_stamp(const std::string& path) noexcept {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0) return std::nullopt;
    return FileStamp{static_cast<std::int64_t>(info.st_size),
                     std::int64_t(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

}  // namespace sop_telemetry::detail
