#include "detail/termination.hpp"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <thread>
#include <unistd.h>

namespace sop_telemetry::detail {

namespace {

struct Termination {
    sem_t wake;  // posted by the handler: sem_post is async-signal-safe
    std::atomic<bool> wanted{false};  // installed and not uninstalled since (lock-free)
    std::atomic<int> received{0};  // SIGTERMs the handler saw (lock-free)
    std::atomic<pid_t> thread_process{0};  // the process whose thread waits on `wake`
    std::mutex mutex;  // the fields below
    std::function<void()> on_terminate;
    std::chrono::milliseconds deadline{5000};
};

static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free &&
              std::atomic<pid_t>::is_always_lock_free, "the signal handler reads these");

// Set once, before the handler is first installed, and never freed: the handler and the
// thread read it for the life of the process.
Termination* g_termination = nullptr;

extern "C" void handle_sigterm(int);

bool ours_installed() noexcept {
    struct sigaction current {};
    return ::sigaction(SIGTERM, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) == 0 &&
           current.sa_handler == handle_sigterm;
}

void set_default_action() noexcept {
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    ::sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, nullptr);
}

// Only async-signal-safe calls: getpid, sigaction, kill, sem_post, lock-free atomics. Also
// called by a program's handler that took our place and chains to the one it replaced: the
// default action, ending the process, is what that handler then asks for.
extern "C" void handle_sigterm(int) {
    const int saved_errno = errno;
    Termination* termination = g_termination;
    if (termination == nullptr || !termination->wanted.load() ||
        termination->thread_process.load() != ::getpid() || termination->received.fetch_add(1) > 0) {
        // Turned off (a program's handler that chains to ours still calls it), no thread of
        // ours to write anything (a forked child, which kept such a handler), or a second
        // SIGTERM: the default action, at once. (The signal is blocked while its handler runs:
        // it ends the process as the handler returns.)
        end_process_by_sigterm();
    } else {
        ::sem_post(&termination->wake);
    }
    errno = saved_errno;
}

/// Runs `work` on a thread of its own and waits for it `deadline` at most (a write stuck on a
/// dead network file system must not keep the process alive).
void run_with_deadline(const std::function<void()>& work, std::chrono::milliseconds deadline) {
    if (!work) return;
    struct Done {
        std::mutex mutex;
        std::condition_variable changed;
        bool done = false;
    };
    auto state = std::make_shared<Done>();
    try {
        std::thread([state, work] {  // (started by the terminator: signals blocked, as there)
            work();
            std::lock_guard lock(state->mutex);
            state->done = true;
            state->changed.notify_all();
        }).detach();
    } catch (...) {
        work();  // no thread to be had: without a deadline, then
        return;
    }
    std::unique_lock lock(state->mutex);
    state->changed.wait_for(lock, deadline, [&] { return state->done; });
}

void run_terminator() {
    Termination& termination = *g_termination;
    for (;;) {
        while (::sem_wait(&termination.wake) != 0) {
        }
        std::function<void()> work;
        std::chrono::milliseconds deadline{};
        {
            std::lock_guard lock(termination.mutex);
            work = termination.on_terminate;
            deadline = termination.deadline;
        }
        run_with_deadline(work, deadline);
        end_process_by_sigterm();
    }
}

// A forked child has no terminator thread: SIGTERM must end it at once, as by default (also
// through a program's handler that chains to ours, and in its own children, whatever pids).
void reset_in_child() noexcept {
    if (ours_installed()) set_default_action();
    if (g_termination != nullptr) {
        g_termination->thread_process = 0;
        g_termination->received = 0;
    }
}

}  // namespace

bool install_termination_handler(std::function<void()> on_terminate, std::chrono::milliseconds deadline) noexcept {
    // The kernel does not let SIGTERM's default action end process 1 of a PID namespace (a
    // container's `python app.py`): there SIGTERM ends nothing, and a handler would only
    // interrupt the program's waits. Its journal keeps what the SIGKILL that follows cuts off.
    if (::getpid() == 1) return false;
    static std::mutex install_mutex;
    try {
        std::lock_guard install(install_mutex);
        if (g_termination == nullptr) {
            auto termination = std::make_unique<Termination>();
            if (::sem_init(&termination->wake, 0, 0) != 0) return false;
            g_termination = termination.release();
            ::pthread_atfork(nullptr, nullptr, reset_in_child);
        }
        {
            std::lock_guard lock(g_termination->mutex);
            g_termination->on_terminate = std::move(on_terminate);
            g_termination->deadline = deadline;
        }
        g_termination->wanted = true;  // also for a program's handler that took our place and chains to it
        if (ours_installed()) return true;
        struct sigaction current {};
        if (::sigaction(SIGTERM, nullptr, &current) != 0) return false;
        if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) return false;
        if (g_termination->thread_process.load() != ::getpid()) {  // first, or a forked child's first
            std::thread thread = thread_blocking_signals(run_terminator);
            ::pthread_setname_np(thread.native_handle(), "sop-telemetry-t");
            thread.detach();
            g_termination->received = 0;
            g_termination->thread_process = ::getpid();
        }
        struct sigaction action {};
        action.sa_handler = handle_sigterm;
        ::sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;  // the program's interrupted system calls go on as before
        return ::sigaction(SIGTERM, &action, nullptr) == 0;
    } catch (...) {
        return false;
    }
}

void uninstall_termination_handler() noexcept {
    if (g_termination != nullptr) g_termination->wanted = false;
    if (ours_installed()) set_default_action();
}

std::thread thread_blocking_signals(std::function<void()> body) {
    sigset_t all, previous;
    ::sigfillset(&all);
    // A fault of the thread's own still reaches the program's crash handlers (faulthandler).
    for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS}) ::sigdelset(&all, fault);
    ::pthread_sigmask(SIG_BLOCK, &all, &previous);  // what a new thread inherits, from its start
    try {
        std::thread thread(std::move(body));
        ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        return thread;
    } catch (...) {
        ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        throw;
    }
}

bool termination_requested() noexcept {
    return g_termination != nullptr && g_termination->thread_process.load() == ::getpid() &&
           g_termination->received.load() > 0;
}

void end_process_by_sigterm() noexcept {
    // Also when a program's handler that chained to ours is installed: the default action is
    // what it asked for.
    set_default_action();
    ::kill(::getpid(), SIGTERM);
}

}  // namespace sop_telemetry::detail
