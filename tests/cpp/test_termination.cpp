// SIGTERM: the session is written first, then the process ends as SIGTERM would have ended it;
// a program's own handler is never replaced; a forked child, a second SIGTERM and a write that
// takes too long end the process at once. Each case runs in a forked child of its own.
#include "test_support.hpp"

#include "detail/session_fold.hpp"
#include "detail/termination.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <sched.h>
#include <filesystem>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace sop_telemetry {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;
using testing::wait_status_of_child;

bool killed_by_sigterm(const std::optional<int>& status) {
    return status && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM;
}

/// Sends this process SIGTERM, then waits for what that does; exit code 99 if it lives on.
int terminate_self_and_wait() {
    ::kill(::getpid(), SIGTERM);
    std::this_thread::sleep_for(20s);
    return 99;
}

/// Makes `path` exist (the trace a callback leaves).
void touch(const std::filesystem::path& path) { testing::write_text(path, "x"); }

TEST(Termination, WritesFirstThenEndsTheProcessAsSigtermWould) {
    TempDir dir;
    const auto status = wait_status_of_child([&] {
        if (!detail::install_termination_handler([&] { touch(dir / "written"); }, 5s)) return 2;
        return terminate_self_and_wait();
    }, 10s);
    EXPECT_TRUE(killed_by_sigterm(status));
    EXPECT_TRUE(std::filesystem::exists(dir / "written"));
}

TEST(Termination, AProgramsOwnHandlerSetBeforeIsLeftAlone) {
    TempDir dir;
    const auto status = wait_status_of_child([&] {
        std::signal(SIGTERM, [](int) { ::_exit(7); });
        if (detail::install_termination_handler([&] { touch(dir / "written"); }, 5s)) return 2;
        return terminate_self_and_wait();
    }, 10s);
    ASSERT_TRUE(status && WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 7);
    EXPECT_FALSE(std::filesystem::exists(dir / "written"));
}

// Set by the program's handler below, which chains to the handler it replaced (ours).
void (*g_replaced)(int) = nullptr;

TEST(Termination, AProgramsHandlerThatChainsToOursGetsWhatTheDefaultActionDid) {
    // Chaining asks for what was there before ours: the default action, the end of the process.
    TempDir dir;
    const auto status = wait_status_of_child([&] {
        if (!detail::install_termination_handler([&] { touch(dir / "written"); }, 5s)) return 2;
        g_replaced = std::signal(SIGTERM, [](int signal) {
            // (async-signal-safe: open and close, in the child's working directory)
            ::close(::open("program-handler-ran", O_CREAT | O_WRONLY, 0600));
            g_replaced(signal);
        });
        if (::chdir(dir.str().c_str()) != 0) return 4;
        return terminate_self_and_wait();
    }, 10s);
    EXPECT_TRUE(killed_by_sigterm(status));
    EXPECT_TRUE(std::filesystem::exists(dir / "written"));
    EXPECT_TRUE(std::filesystem::exists(dir / "program-handler-ran"));
}

TEST(Termination, TurnedOffItLeavesAChainingHandlerTheDefaultAction) {
    TempDir dir;
    const auto started = std::chrono::steady_clock::now();
    const auto status = wait_status_of_child([&] {
        if (!detail::install_termination_handler([&] { touch(dir / "written"); }, 5s)) return 2;
        g_replaced = std::signal(SIGTERM, [](int signal) { g_replaced(signal); });
        detail::uninstall_termination_handler();  // handle_sigterm=false, shutdown
        return terminate_self_and_wait();
    }, 10s);
    EXPECT_TRUE(killed_by_sigterm(status));
    EXPECT_FALSE(std::filesystem::exists(dir / "written"));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(Termination, AProgramTakingSigtermWithSigwaitGetsIt) {
    // The program blocks SIGTERM in its threads and waits for it: the library's threads must
    // not be where the signal lands.
    TempDir dir;
    const auto status = wait_status_of_child([&] {
        if (!detail::install_termination_handler([&] { touch(dir / "written"); }, 5s)) return 2;
        sigset_t term;
        ::sigemptyset(&term);
        ::sigaddset(&term, SIGTERM);
        ::pthread_sigmask(SIG_BLOCK, &term, nullptr);
        ::kill(::getpid(), SIGTERM);
        std::this_thread::sleep_for(200ms);  // not waiting yet: the signal must stay pending
        int received = 0;
        return ::sigwait(&term, &received) == 0 && received == SIGTERM ? 0 : 3;
    }, 10s);
    ASSERT_TRUE(status && WIFEXITED(*status)) << "the signal went to a thread of ours";
    EXPECT_EQ(WEXITSTATUS(*status), 0);
    EXPECT_FALSE(std::filesystem::exists(dir / "written"));
}

TEST(Termination, AWriteThatTakesTooLongDoesNotKeepTheProcessAlive) {
    const auto started = std::chrono::steady_clock::now();
    const auto status = wait_status_of_child([] {
        if (!detail::install_termination_handler([] { std::this_thread::sleep_for(60s); }, 300ms)) return 2;
        return terminate_self_and_wait();
    }, 10s);
    EXPECT_TRUE(killed_by_sigterm(status));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

/// A second SIGTERM while the first one's write is stuck ends the process at once. `chaining`:
/// SIGTERM is a program's handler that calls ours (it stays installed, ours is not).
void expect_a_second_sigterm_to_end_at_once(bool chaining) {
    const auto started = std::chrono::steady_clock::now();
    const auto status = wait_status_of_child([&] {
        if (!detail::install_termination_handler([] { std::this_thread::sleep_for(60s); }, 60s)) return 2;
        if (chaining) g_replaced = std::signal(SIGTERM, [](int signal) { g_replaced(signal); });
        ::kill(::getpid(), SIGTERM);
        std::this_thread::sleep_for(100ms);
        return terminate_self_and_wait();
    }, 10s);
    EXPECT_TRUE(killed_by_sigterm(status));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(Termination, ASecondSigtermEndsTheProcessAtOnce) { expect_a_second_sigterm_to_end_at_once(false); }

TEST(Termination, ASecondSigtermThroughAChainingHandlerEndsTheProcessAtOnce) { expect_a_second_sigterm_to_end_at_once(true); }

/// A forked child of a process that installed the handler, sent SIGTERM, ends by it at once and
/// writes nothing: it has no thread of ours. `chaining`: SIGTERM is a program's handler that
/// calls ours, as faulthandler.register(SIGTERM, chain=True) leaves it (multiprocessing's fork
/// children keep it).
void expect_a_forked_child_ends_at_once(bool chaining) {
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer runs no signal handler in a child forked from a multi-threaded process.
    if (chaining) GTEST_SKIP() << "ThreadSanitizer does not deliver signals to this handler after such a fork";
#endif
    TempDir dir;
    const auto status = wait_status_of_child([&] {
        if (!detail::install_termination_handler([&] { touch(dir / "written"); }, 5s)) return 2;
        if (chaining) g_replaced = std::signal(SIGTERM, [](int signal) { g_replaced(signal); });
        const auto grandchild = wait_status_of_child([] { return terminate_self_and_wait(); }, 5s);
        return killed_by_sigterm(grandchild) && !std::filesystem::exists(dir / "written") ? 0 : 3;
    }, 10s);
    ASSERT_TRUE(status && WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0);
}

TEST(Termination, AForkedChildEndsAtOnceAndWritesNothing) { expect_a_forked_child_ends_at_once(false); }

TEST(Termination, AForkedChildKeepingAChainingHandlerEndsAtOnce) { expect_a_forked_child_ends_at_once(true); }

TEST(Termination, AContainersInitProcessIsLeftAsItWas) {
    // SIGTERM's default action never ends process 1 of a PID namespace (docker's `python app.py`):
    // no handler there, so the program's waits are not interrupted either.
    TempDir dir;
    const auto status = wait_status_of_child([&] {
        if (::unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) return 77;  // no namespaces here
        const auto init = wait_status_of_child([&] {
            if (::getpid() != 1) return 3;
            if (detail::install_termination_handler([&] { touch(dir / "written"); }, 5s)) return 2;
            ::kill(::getpid(), SIGTERM);
            std::this_thread::sleep_for(300ms);  // time for a wrongful end to show
            return 0;
        }, 8s);
        return init && WIFEXITED(*init) ? WEXITSTATUS(*init) : 5;
    }, 10s);
    ASSERT_TRUE(status && WIFEXITED(*status));
    if (WEXITSTATUS(*status) == 77) GTEST_SKIP() << "no user and PID namespaces on this machine";
    EXPECT_EQ(WEXITSTATUS(*status), 0);
    EXPECT_FALSE(std::filesystem::exists(dir / "written"));
}

TEST(Termination, TheSessionOfAProcessCutOffEndsWhatStillRanCancelled) {
    detail::SessionHeader header;
    header.session_id = "s";
    header.start_ns = 1'000'000'000;
    header.end_ns = 9'000'000'000;
    header.cut_off = "terminated by SIGTERM";
    detail::Event running;
    running.type = detail::EventType::begin;
    running.kind = SpanKind::tool;
    running.span_id = 1;
    running.name = "slow_tool";
    running.start_ns = 2'000'000'000;
    running.status = TaskStatus::running;
    detail::Event finished = running;
    finished.type = detail::EventType::complete;
    finished.span_id = 2;
    finished.end_ns = 3'000'000'000;
    finished.status = TaskStatus::completed;
    const TelemetrySession session =
        detail::fold_session(header, {running, finished}, {}, PriceTable::built_in(), 9'500'000'000);
    ASSERT_EQ(session.outside_tasks.tools.size(), 2u);
    const ToolExecution& cut = session.outside_tasks.tools[0];
    EXPECT_EQ(cut.tool_name, "slow_tool");
    EXPECT_FALSE(cut.success);
    EXPECT_EQ(cut.error, "terminated by SIGTERM");
    EXPECT_DOUBLE_EQ(cut.duration, 7.0);  // to the session's end
    EXPECT_TRUE(session.outside_tasks.tools[1].success);
    EXPECT_TRUE(session.outside_tasks.tools[1].error.empty());
}

}  // namespace
}  // namespace sop_telemetry
