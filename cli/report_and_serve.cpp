// report (one HTML file) and serve (the live dashboard on a local HTTP server).
//
// The server is deliberately small: one thread, GET only, 127.0.0.1 unless --allow-remote, a
// bounded request, a read timeout, and every response self-contained (no external request).
#include "command_support.hpp"
#include "html_page.hpp"
#include "detail/json_writer.hpp"
#include "terminal.hpp"
#include "view_json.hpp"

#include <sop_telemetry/data_store.hpp>

#include <arpa/inet.h>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sop_telemetry::cli {

namespace {

volatile std::sig_atomic_t stop_requested = 0;
extern "C" void request_stop(int) { stop_requested = 1; }

constexpr std::size_t kMaxRequest = 16 * 1024;
constexpr int kRequestDeadlineMs = 5000;  // a whole request, however slowly it trickles in
constexpr int kSendDeadlineMs = 10000;   // a whole answer, however slowly it is read
constexpr std::string_view kSessionsPath = "/api/sessions";

struct Response {
    int status = 200;
    std::string type = "application/json";
    std::string body;
};

const char* reason(int status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 403: return "Forbidden";
        case 405: return "Method Not Allowed";
        default: return "Error";
    }
}

Response error_response(int status, const std::string& message) {
    return {status, "application/json", "{\"error\":\"" + message + "\"}"};
}

/// The Host header names this server on loopback: a page on another site that resolves its own
/// name to 127.0.0.1 (DNS rebinding) gets nothing. (--allow-remote serves any Host.)
bool host_allowed(const std::string& request) {
    const std::string lower = [&] {
        std::string text = request;
        for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return text;
    }();
    const auto at = lower.find("\r\nhost:");
    if (at == std::string::npos) return false;
    const auto start = lower.find_first_not_of(' ', at + 7);
    const auto end = lower.find("\r\n", start);
    std::string host = lower.substr(start, end - start);
    if (host.starts_with("[")) host = host.substr(1, host.find(']') - 1);  // [::1]:port
    else host = host.substr(0, host.rfind(':') == std::string::npos ? host.size() : host.rfind(':'));
    return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

Response route(const Context& context, const std::string& method, const std::string& target) {
    if (method != "GET") return error_response(405, "only GET");
    const std::string path = target.substr(0, target.find('?'));
    if (path == "/" || path == "/index.html") return {200, "text/html; charset=utf-8", dashboard_page()};
    if (path == kSessionsPath) {
        Catalog catalog = load_catalog(context.directory, false);
        std::vector<const LoadedSession*> all;
        for (const LoadedSession& loaded : catalog.sessions) all.push_back(&loaded);
        return {200, "application/json", sessions_json(catalog, all)};
    }
    if (path.starts_with(std::string(kSessionsPath) + "/")) {
        const std::string id = path.substr(kSessionsPath.size() + 1);
        if (!TelemetryDataStore::is_valid_session_id(id)) return error_response(400, "invalid session id");
        std::string error;
        auto loaded = load_one(context.directory, id, error);
        if (!loaded) return error_response(404, "no such session");
        return {200, "application/json", session_view_json(*loaded, kPageSpans)};
    }
    return error_response(404, "not found");
}

void answer(int client, const Context& context, bool check_host) {
    timeval send_timeout{5, 0};  // a client that does not read cannot hold the server
    ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestDeadlineMs);
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequest) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        pollfd readable{client, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&readable, 1, static_cast<int>(left.count())) <= 0) return;
        const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
        if (got <= 0) return;
        request.append(buffer, static_cast<std::size_t>(got));
    }
    const std::size_t first_space = request.find(' ');
    const std::size_t second_space = request.find(' ', first_space + 1);
    Response response = first_space == std::string::npos || second_space == std::string::npos
                            ? error_response(400, "bad request")
                        : check_host && !host_allowed(request)
                            ? error_response(403, "unexpected Host header")
                            : route(context, request.substr(0, first_space),
                                    request.substr(first_space + 1, second_space - first_space - 1));
    std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " + reason(response.status) +
                       "\r\nContent-Type: " + response.type +
                       "\r\nContent-Length: " + std::to_string(response.body.size()) +
                       (response.status == 405 ? "\r\nAllow: GET" : "") +
                       "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff"
                       "\r\nContent-Security-Policy: default-src 'self'; style-src 'unsafe-inline'; "
                       "script-src 'unsafe-inline'\r\nConnection: close\r\n\r\n";
    const std::string out = head + response.body;
    // The whole answer within kSendDeadlineMs: SO_SNDTIMEO bounds each send, and a client
    // reading a little at a time would otherwise hold this one-thread server for ever.
    const auto send_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kSendDeadlineMs);
    for (std::size_t sent = 0; sent < out.size();) {
        const ssize_t n = ::send(client, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0 || std::chrono::steady_clock::now() > send_deadline) return;
        sent += static_cast<std::size_t>(n);
    }
}

bool is_loopback(const std::string& host) {
    return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

int listen_on(const std::string& host, int port, std::string& bound) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr) return -1;
    int fd = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
    const int one = 1;
    if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || ::bind(fd, found->ai_addr, found->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
        if (fd >= 0) ::close(fd);
        ::freeaddrinfo(found);
        return -1;
    }
    ::freeaddrinfo(found);
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    char text[INET6_ADDRSTRLEN] = "";
    int actual_port = 0;
    if (address.ss_family == AF_INET6) {
        auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        actual_port = ntohs(v6->sin6_port);
        bound = std::string("[") + text + "]:" + std::to_string(actual_port);
    } else {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
        ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        actual_port = ntohs(v4->sin_port);
        bound = std::string(text) + ":" + std::to_string(actual_port);
    }
    return fd;
}

}  // namespace

int write_report(const Context& context, const std::string& reference, const std::string& output,
                 std::size_t max_spans) {
    int code = kOk;
    auto loaded = open_session(context, reference, code);
    if (!loaded) return code;
    const std::string page = report_page(session_view_json(*loaded, max_spans));
    std::ofstream out(output, std::ios::binary | std::ios::trunc);
    out.write(page.data(), static_cast<std::streamsize>(page.size()));
    out.close();
    if (!out) {
        print_error("cannot write " + output);
        return kFailure;
    }
    if (context.json) {
        std::string text;
        detail::JsonWriter json(text);
        json.begin_object().field("path", output).field("session_id", loaded->session.session_id)
            .field("bytes", static_cast<std::uint64_t>(page.size())).end_object();
        print_json(text);
        return kOk;
    }
    std::printf("wrote %s (session %s, %zu bytes)\n", printable(output).c_str(),
                printable(loaded->session.session_id).c_str(), page.size());
    return kOk;
}

int serve_dashboard(const Context& context, const std::string& host, int port, bool allow_remote) {
    if (!allow_remote && !is_loopback(host)) {
        print_error("refusing to serve on " + host + ": the dashboard shows your sessions to anyone who can "
                    "reach it; use 127.0.0.1, or --allow-remote if you mean it");
        return kUsage;
    }
    if (port < 0 || port > 65535) {
        print_error("--port must be 0..65535");
        return kUsage;
    }
    if (const std::string problem = directory_problem(context.directory); !problem.empty()) {
        print_error(problem + " (set SOP_TELEMETRY_DIR or pass --dir)");
        return kFailure;
    }
    std::string bound;
    const int fd = listen_on(host, port, bound);
    if (fd < 0) {
        print_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno));
        return kFailure;
    }
    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    std::printf("serving %s on http://%s/ (Ctrl-C to stop)\n", printable(context.directory).c_str(), bound.c_str());
    std::fflush(stdout);
    while (!stop_requested) {
        pollfd waiting{fd, POLLIN, 0};
        if (::poll(&waiting, 1, 250) <= 0) continue;
        const int client = ::accept(fd, nullptr, nullptr);
        if (client < 0) continue;
        answer(client, context, is_loopback(host));  // a remote client names this host as it likes
        ::close(client);
    }
    ::close(fd);
    std::printf("stopped\n");
    return kOk;
}

}  // namespace sop_telemetry::cli
