// Termination by SIGTERM (docker stop, kubectl delete, `timeout`, systemd): by default a process
// dies at once and its exit hooks never run, so the session file would wait for the journal to
// be recovered by a later process — which a throw-away container never starts. While SIGTERM
// has its default action, a handler of ours takes its place: it only wakes a thread of ours,
// which writes the session and then ends the process by SIGTERM, as it would have ended. A
// program's own SIGTERM handler, set before or after, keeps the signal.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace sop_telemetry::detail {

/// Installs the handler while SIGTERM has its default action; false when it has another (the
/// program's own handler, or ignored) or the handler could not be set up. When SIGTERM comes,
/// `on_terminate` runs on a thread of ours; once it returns, or after `deadline` at the latest,
/// the process ends by SIGTERM. A second SIGTERM meanwhile ends it at once. A program's handler
/// that replaced ours and calls it (chaining to the previous handler) gets what the default
/// action would have done, after the session is written: the end of the process. Never in
/// process 1 of a PID namespace, which SIGTERM's default action does not end. Replaces an
/// earlier installation's function. A forked child ends by SIGTERM at once, as by default.
bool install_termination_handler(std::function<void()> on_terminate, std::chrono::milliseconds deadline) noexcept;

/// Puts SIGTERM's default action back if our handler is still the one installed; a program's
/// handler that chains to ours gets the default action from it from now on.
void uninstall_termination_handler() noexcept;

/// A thread of the library's own, started with every signal but faults blocked: the program's signals go
/// to the program's threads (a program that blocks SIGTERM in its threads and takes it with
/// sigwait gets it, not one of ours). Throws as std::thread does.
std::thread thread_blocking_signals(std::function<void()> body);

/// Whether a SIGTERM that is to end this process came (our handler ran).
bool termination_requested() noexcept;

/// Ends the process as SIGTERM's default action does.
void end_process_by_sigterm() noexcept;

}  // namespace sop_telemetry::detail
