"""SIGTERM (docker stop, kubectl delete, `timeout`): the session is written before the process
ends, and it ends as SIGTERM would have ended it; a program's own SIGTERM handler keeps the
signal; SOP_TELEMETRY_SIGTERM=0 or initialize({'handle_sigterm': False}) leave it all alone."""
import signal

import pytest
from fresh_interpreters import start_python, stored_sessions

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
