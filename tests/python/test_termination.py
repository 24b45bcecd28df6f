"""SIGTERM (docker stop, kubectl delete, `timeout`): the session is written before the process
ends, and it ends as SIGTERM would have ended it; a program's own SIGTERM handler keeps the
signal; SOP_TELEMETRY_SIGTERM=0 or initialize({'handle_sigterm': False}) leave it all alone."""
import os
import signal
import subprocess
import sys
import time

import pytest
from fresh_interpreters import program_environment, start_python, stored_sessions

CUT_OFF = "terminated by SIGTERM"

# One run finished, one blocked in a tool (in smolagents' executor thread, under a run in a
# thread of the program's) when the signal comes.
TWO_RUNS = """
import threading, time
import ai_agents.telemetry
from agent_tools import tool_without_inputs
from scripted_models import ScriptedModel, code
from smolagents import CodeAgent

inside, release = threading.Event(), threading.Event()

def wait_for_release():
    inside.set()
    release.wait()
    return "released"

done = CodeAgent(tools=[], model=ScriptedModel([code("final_answer('done')")], 12, 3), max_steps=2,
                 verbosity_level=0)
print(done.run("finished before SIGTERM"), flush=True)
blocked = CodeAgent(tools=[tool_without_inputs("wait_for_release", wait_for_release)],
                    model=ScriptedModel([code("final_answer(wait_for_release())")], 20, 4), max_steps=2,
                    verbosity_level=0)
threading.Thread(target=blocked.run, args=("cut off by SIGTERM",), daemon=True).start()
inside.wait(60)
print("ready", flush=True)
time.sleep(60)
"""


def terminate(process):
    assert process.stdout.readline().strip() == "done"
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    return out, err


def test_sigterm_writes_the_session_then_ends_the_process_as_sigterm_would(tmp_path):
    process = start_python(tmp_path, TWO_RUNS)
    _, err = terminate(process)
    assert process.returncode == -signal.SIGTERM, err[-2000:]
    [session] = stored_sessions(tmp_path)
    assert not list((tmp_path / "store").glob("*.jsonl"))  # written whole: no journal left
    tasks = {task["description"]: task["status"] for task in session["tasks"]}
    assert tasks == {"finished before SIGTERM": "completed", "cut off by SIGTERM": "cancelled"}
    assert session["total_tokens"]["total_tokens"] == 15 + 24  # both LLM calls
    blocked_task = next(t for t in session["tasks"] if t["description"] == "cut off by SIGTERM")
    still_running = [span for span in session["spans"]
                     if span["task_id"] == blocked_task["task_id"] and span["kind"] in ("agent", "step", "tool")]
    assert {span["kind"] for span in still_running} == {"agent", "step", "tool"}
    assert all((span["status"], span.get("error")) == ("cancelled", CUT_OFF) for span in still_running), still_running


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_programs_own_sigterm_handler_keeps_the_signal(tmp_path, when):
    handler = ("import signal, sys\n"
               "def leave(signum, frame):\n    print('host handler', flush=True)\n"
               "    release.set()\n    sys.exit(3)\n"  # (the blocked tool would keep smolagents' pool from exiting)
               "signal.signal(signal.SIGTERM, leave)\n")
    script = TWO_RUNS.replace("import ai_agents.telemetry\n",
                              handler + "import ai_agents.telemetry\n" if when == "before"
                              else "import ai_agents.telemetry\n" + handler)
    process = start_python(tmp_path, script)
    out, err = terminate(process)
    assert process.returncode == 3, err[-2000:]
    assert "host handler" in out
    [session] = stored_sessions(tmp_path)  # written at exit, as by any other exit
    assert CUT_OFF not in str(session)


@pytest.mark.parametrize("how", ["environment", "initialize"])
def test_sigterm_handling_can_be_turned_off(tmp_path, how):
    env = {"SOP_TELEMETRY_FLUSH_INTERVAL_MS": "50"}
    script = TWO_RUNS
    if how == "environment":
        env["SOP_TELEMETRY_SIGTERM"] = "0"
    else:
        script = script.replace("import ai_agents.telemetry\n", "import ai_agents.telemetry\n"
                                "ai_agents.telemetry.TelemetryManager.get_instance().initialize({'handle_sigterm': False})\n")
    process = start_python(tmp_path, script, env=env)
    _, err = terminate(process)
    assert process.returncode == -signal.SIGTERM, err[-2000:]
    assert stored_sessions(tmp_path) == []  # ended at once: only the journal is left
    assert list((tmp_path / "store").glob("*.jsonl"))


def test_a_handler_chaining_to_the_one_it_replaced_still_ends_the_process(tmp_path):
    # faulthandler, chained: it prints the tracebacks, then calls the handler it replaced (ours),
    # which does what the default action did: the process ends, by SIGTERM.
    script = TWO_RUNS.replace("import ai_agents.telemetry\n", "import ai_agents.telemetry\nimport faulthandler, signal\n"
                              "faulthandler.register(signal.SIGTERM, chain=True)\n")
    process = start_python(tmp_path, script)
    _, err = terminate(process)
    assert process.returncode == -signal.SIGTERM, err[-2000:]
    assert "Current thread" in err or "Thread 0x" in err  # faulthandler's dump: its handler ran
    [session] = stored_sessions(tmp_path)
    assert CUT_OFF in str(session)


def test_sigterm_while_the_session_is_written_at_exit_waits_for_the_file(tmp_path):
    # A pool's `with` block: its worker is already exiting (writing its session at exit) when
    # terminate() sends SIGTERM. The file must come out whole, and the status stay SIGTERM's.
    script = ("import atexit, os, signal, threading, time\n"
              "import ai_agents.telemetry as t\n"
              "c = t.TelemetryCollector()\n"
              "for i in range(300_000):\n    c.record_tool_usage('tool', 0.001)\n"
              "def signal_soon():\n"
              "    threading.Thread(target=lambda: (time.sleep(0.02), os.kill(os.getpid(), signal.SIGTERM))).start()\n"
              "atexit.register(signal_soon)  # runs before the telemetry's own exit hook: during its write\n"
              "print('done', flush=True)\n")
    process = start_python(tmp_path, script, env={"SOP_TELEMETRY_FLUSH_INTERVAL_MS": "600000"})
    _, err = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGTERM, err[-2000:]
    [session] = stored_sessions(tmp_path)
    assert len(session["spans"]) == 300_000


def test_a_main_thread_holding_the_gil_does_not_delay_the_end(tmp_path):
    script = ("import re, time\n"
              "import ai_agents.telemetry as t\n"
              "t.TelemetryCollector().record_tool_usage('tool', 0.1)\n"
              "print('done', flush=True)\nprint('ready', flush=True)\n"
              "re.match(r'(a+)+$', 'a' * 40 + 'b')  # one C call that holds the GIL for minutes\n")
    process = start_python(tmp_path, script)
    started = time.monotonic()
    _, err = terminate(process)
    assert process.returncode == -signal.SIGTERM, err[-2000:]
    assert time.monotonic() - started < 3  # not the 5 s deadline: nothing waits for Python
    [session] = stored_sessions(tmp_path)
    assert [span["name"] for span in session["spans"]] == ["tool"]


def test_initialize_answers_sigterm_again_after_the_program_put_the_default_back(tmp_path):
    # Python's signal module still reports SIG_DFL for SIGTERM, so a program that sets its own
    # handler for a while and then restores "the old one" puts the default action back.
    script = TWO_RUNS.replace("import ai_agents.telemetry\n", "import ai_agents.telemetry, signal\n"
                              "old = signal.signal(signal.SIGTERM, lambda *a: None)\n"
                              "signal.signal(signal.SIGTERM, old)\n"
                              "ai_agents.telemetry.TelemetryManager.get_instance().initialize({'handle_sigterm': True})\n")
    process = start_python(tmp_path, script)
    _, err = terminate(process)
    assert process.returncode == -signal.SIGTERM, err[-2000:]
    [session] = stored_sessions(tmp_path)
    assert CUT_OFF in str(session)


def _namespaces_available():
    try:
        return subprocess.run(["unshare", "--user", "--map-root-user", "--pid", "--fork", "true"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(not _namespaces_available(), reason="no unshare, or no user and PID namespaces here")
def test_as_a_containers_process_1_sigterm_changes_nothing(tmp_path):
    # `docker stop` sends SIGTERM to the container's process 1, which its default action does not
    # end: the program carries on (until the SIGKILL that follows), and so does its recording.
    script = ("import time\n"
              "import ai_agents.telemetry as t\n"
              "c = t.TelemetryCollector()\n"
              "c.record_tool_usage('before_sigterm', 0.1)\n"
              "host_pid = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('NSpid'))\n"
              "print('done', flush=True)\nprint(host_pid, flush=True)\n"
              "time.sleep(1)\n"
              "c.record_tool_usage('after_sigterm', 0.1)\n")
    (tmp_path / "app.py").write_text(script, encoding="utf-8")
    process = subprocess.Popen(["unshare", "--user", "--map-root-user", "--pid", "--fork", sys.executable,
                                str(tmp_path / "app.py")], env=program_environment(tmp_path),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "done"
    os.kill(int(process.stdout.readline()), signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-2000:]
    [session] = stored_sessions(tmp_path)
    assert sorted(span["name"] for span in session["spans"]) == ["after_sigterm", "before_sigterm"]
    assert CUT_OFF not in str(session)


def test_a_program_taking_sigterm_with_sigwait_still_gets_it(tmp_path):
    script = ("import signal\n"
              "import ai_agents.telemetry as t\n"
              "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\n"
              "t.TelemetryCollector().record_tool_usage('tool', 0.1)\n"
              "print('done', flush=True)\nprint('ready', flush=True)\n"
              "import time; time.sleep(0.5)  # not waiting yet: the signal must stay pending\n"
              "print('got', signal.sigwait({signal.SIGTERM}).name, flush=True)\n")
    process = start_python(tmp_path, script)
    out, err = terminate(process)
    assert (process.returncode, out.strip()) == (0, "got SIGTERM"), err[-2000:]
    [session] = stored_sessions(tmp_path)  # written at the program's own exit
    assert CUT_OFF not in str(session)
