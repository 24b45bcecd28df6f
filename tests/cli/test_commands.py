"""list, show, stats, compare, insights, export, cleanup, recover, doctor — and bad input."""
from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
import time
import unicodedata

from conftest import CLI, SUPPORT, add_tool_spans, run, run_json, session_with, task_span


def test_list_is_newest_first_with_summaries_and_filters(store, ids):
    listing = run_json("--dir", str(store), "list")
    sessions = listing["sessions"]
    assert len(sessions) == 3 and listing["skipped_files"] == 0
    starts = [s["start_time"] for s in sessions]
    assert starts == sorted(starts, reverse=True)
    assert [s["status"] for s in sessions] == ["completed", "failed", "completed"]
    assert sessions[1]["models"] == ["gpt-4o", "my-local-model"] and sessions[1]["partly_priced"]
    assert sessions[2]["total_tokens"] == 1000 + 200 + 1200 + 250
    assert [s["session_id"] for s in run_json("--dir", str(store), "list", "--status", "failed")["sessions"]] == [ids[1]]
    assert len(run_json("--dir", str(store), "list", "--model", "gpt-4o-mini")["sessions"]) == 2
    assert run_json("--dir", str(store), "list", "--since", "2999-01-01")["sessions"] == []
    assert run_json("--dir", str(store), "list", "--until", "2000-01-01")["sessions"] == []
    assert len(run_json("--dir", str(store), "list", "-n", "1")["sessions"]) == 1
    table = run("--dir", str(store), "list").stdout
    assert table.splitlines()[0].split()[:3] == ["SESSION", "STARTED", "(UTC)"]
    assert ids[0] in table.splitlines()[1]
    assert "\x1b[" not in table  # not a terminal: no colour


def test_show_summarises_one_session(store, ids):
    view = run_json("--dir", str(store), "show", ids[1])
    assert view["summary"]["session_id"] == ids[1]
    assert {t["task_id"]: t["status"] for t in view["tasks"]} == {"t-fail": "failed", "t-limit": "max_steps"}
    gpt4o = next(m for m in view["models"] if m["model"] == "gpt-4o")
    assert (gpt4o["calls"], gpt4o["prompt_tokens"], gpt4o["completion_tokens"]) == (4, 11500, 120)
    assert abs(gpt4o["cost"] - (11500 * 2.5 + 120 * 10.0) / 1e6) < 1e-12
    flaky = next(t for t in view["tools"] if t["name"] == "flaky_api")
    assert (flaky["count"], flaky["failures"], round(flaky["total"], 6), flaky["p50"], flaky["p95"]) == (3, 2, 0.3, 0.1, 0.1)
    assert view["tools"][0]["name"] == "slow_search"  # largest total first
    assert {(e["kind"], e["name"]) for e in view["errors"]} >= {("tool", "flaky_api"), ("task", "t-fail")}
    assert view["path"].endswith(ids[1] + ".json")
    text = run("--dir", str(store), "show", ids[1]).stdout
    for section in ("Tasks", "Tokens and cost by model", "Time by agent", "Time by tool", "Errors (", "Span tree"):
        assert section in text
    assert "TimeoutError: upstream" in text
    assert run_json("--dir", str(store), "show", "latest")["summary"]["session_id"] == ids[0]
    assert run_json("--dir", str(store), "show", ids[1][:-2])["summary"]["session_id"] == ids[1]  # prefix


def test_chinese_text_and_csv_quoting_survive_export(store, ids):
    assert "分析这个代码仓库的架构" in run("--dir", str(store), "show", "latest").stdout
    rows = list(csv.DictReader(io.StringIO(run("--dir", str(store), "export", "latest", "--format", "csv").stdout)))
    assert [(r["kind"], r["name"]) for r in rows] == [("llm", "gpt-4o-mini"), ("tool", 'read,"file"')]
    assert rows[0]["prompt_tokens"] == "300" and rows[0]["task_id"] == "t-zh"
    exported = json.loads(run("--dir", str(store), "export", ids[1], "--format", "json").stdout)
    assert exported["session_id"] == ids[1] and exported["schema_version"] == 1
    out = store / "out.csv"
    run("--dir", str(store), "export", ids[1], "--format", "csv", "-o", str(out))
    kinds = [r["kind"] for r in csv.DictReader(out.open())]
    assert kinds.count("llm") == 5 and kinds.count("tool") == 4 and kinds.count("agent") == 1


def test_stats_aggregates_every_session(store):
    stats = run_json("--dir", str(store), "stats")
    assert (stats["sessions"], stats["tasks"], stats["failed_tasks"]) == (3, 4, 1)
    assert abs(stats["failure_rate"] - 0.25) < 1e-12
    shown = [run_json("--dir", str(store), "show", s["session_id"])["summary"]
             for s in run_json("--dir", str(store), "list")["sessions"]]
    assert stats["total_tokens"] == sum(s["total_tokens"] for s in shown)
    assert abs(stats["cost"] - sum(s["cost"] or 0 for s in shown)) < 1e-12
    assert stats["unpriced_models"] == ["my-local-model"]
    assert stats["slowest_tools"][0]["name"] == "slow_search"
    assert list(stats["by_day"].values())[0]["sessions"] == 3
    assert "By day (UTC)" in run("--dir", str(store), "stats").stdout


def test_cache_reads_and_writes_are_shown_exported_and_summed(tmp_path):
    subprocess.run([sys.executable, str(SUPPORT / "make_sessions.py"), str(tmp_path), "cached", "cached"],
                   check=True, env={k: v for k, v in os.environ.items() if k != "SOP_TELEMETRY_DIR"})
    # claude-sonnet-4-5 per million: input 3.0, cache read 0.3, cache write 3.75, output 15.0
    cost = ((1_000 * 3.0 + 6_000 * 0.3 + 3_000 * 3.75 + 500 * 15.0)
            + (1_000 * 3.0 + 9_000 * 0.3 + 400 * 15.0)) / 1e6
    view = run_json("--dir", str(tmp_path), "show", "latest")
    [model] = view["models"]
    assert (model["prompt_tokens"], model["cache_read_tokens"], model["cache_write_tokens"]) == (20_000, 15_000, 3_000)
    assert abs(model["cost"] - cost) < 1e-12
    table = run("--dir", str(tmp_path), "show", "latest").stdout
    header = next(line for line in table.splitlines() if line.split()[:1] == ["MODEL"])
    row = next(line for line in table.splitlines() if line.split()[:1] == ["claude-sonnet-4-5"])
    assert header.split()[:8] == ["MODEL", "CALLS", "PROMPT", "CACHE", "READ", "CACHE", "WRITE", "COMPLETION"]
    assert row.split()[1:6] == ["2", "20,000", "15,000", "3,000", "900"]
    rows = list(csv.DictReader(io.StringIO(run("--dir", str(tmp_path), "export", "latest", "--format", "csv").stdout)))
    assert [(r["cache_read_tokens"], r["cache_write_tokens"]) for r in rows] == [("6000", "3000"), ("9000", "0")]
    stats = run_json("--dir", str(tmp_path), "stats")  # two such sessions
    assert (stats["cache_read_tokens"], stats["cache_write_tokens"]) == (30_000, 6_000)
    by_model = stats["models"]["claude-sonnet-4-5"]
    assert (by_model["cache_read_tokens"], by_model["cache_write_tokens"], by_model["calls"]) == (30_000, 6_000, 4)
    assert abs(stats["cost"] - 2 * cost) < 1e-12
    assert "30,000 cache read and 6,000 cache write" in run("--dir", str(tmp_path), "stats").stdout


def test_failed_steps_are_errors(tmp_path):
    subprocess.run([sys.executable, str(SUPPORT / "make_sessions.py"), str(tmp_path), "failed_step"],
                   check=True, env={k: v for k, v in os.environ.items() if k != "SOP_TELEMETRY_DIR"})
    view = run_json("--dir", str(tmp_path), "show", "latest")
    assert view["errors"] == [  # a step its tool made fail is the tool's error, counted once
        {"kind": "tool", "name": "flaky_api", "task_id": "t-step", "message": "TimeoutError: upstream"},
        {"kind": "step", "name": "step 1", "task_id": "t-step",
         "message": "AgentExecutionError: ZeroDivisionError: division by zero"}]
    assert run_json("--dir", str(tmp_path), "list")["sessions"][0]["errors"] == 2
    assert "ZeroDivisionError: division by zero" in run("--dir", str(tmp_path), "show", "latest").stdout


def test_a_span_still_running_lasts_to_the_sessions_end_everywhere(tmp_path):
    subprocess.run([sys.executable, str(SUPPORT / "make_sessions.py"), str(tmp_path), "open_task"],
                   check=True, env={k: v for k, v in os.environ.items() if k != "SOP_TELEMETRY_DIR"})
    view = run_json("--dir", str(tmp_path), "show", "latest")
    [task] = view["tasks"]
    [span] = [s for s in view["spans"] if s["kind"] == "task"]
    assert task["status"] == span["status"] == "running" and task["duration"] >= 0.05
    assert abs(span["duration_ms"] - task["duration"] * 1e3) < 1e-6  # the timeline, not 0
    tree = run("--dir", str(tmp_path), "show", "latest").stdout.split("Span tree")[1]
    assert "0.0 ms" not in tree.splitlines()[1]


def test_compare_gives_deltas(store, ids):
    result = run_json("--dir", str(store), "compare", ids[2], ids[1])
    metrics = {m["metric"]: m for m in result["metrics"]}
    assert metrics["tasks"]["a"] == 1 and metrics["tasks"]["b"] == 2 and metrics["tasks"]["delta"] == 1
    assert metrics["tokens[gpt-4o]"]["a"] == 0 and metrics["tokens[gpt-4o]"]["b"] == 11620
    assert "tool_time_s[slow_search]" in metrics
    assert "METRIC" in run("--dir", str(store), "compare", ids[2], ids[1]).stdout


def test_insights_name_the_numbers(store, ids):
    found = {i["rule"]: i["message"] for i in run_json("--dir", str(store), "insights", ids[1])["insights"]}
    assert set(found) == {"dominant_tool", "retried_failing_tool", "expensive_model_short_outputs",
                          "max_steps_reached", "prompt_growth", "unpriced_model"}
    assert "'flaky_api' failed 2 of 3 calls" in found["retried_failing_tool"]
    assert "from 1000 to 5000 tokens over 4 calls" in found["prompt_growth"]
    assert run_json("--dir", str(store), "insights", ids[2])["insights"] == []


def display_width(text: str) -> int:
    """Terminal columns, by Python's own Unicode data: combining and format characters take
    none, East Asian wide and fullwidth ones (emoji among them) two."""
    return sum(0 if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
               else 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def test_tables_stay_aligned_with_combining_marks_emoji_and_chinese(store):
    names = ["nai\u0308ve", "\u2615 coffee", "\U0001F680 launch", "分析器", "zero\u200bwidth", "plain"]

    def with_tools(data: dict) -> str:
        add_tool_spans(data, names)
        return data["session_id"][:-4] + "wide"

    session_id = session_with(store, with_tools)
    text = run("--dir", str(store), "show", session_id).stdout
    table = text.split("Time by tool\n", 1)[1].split("\n\n", 1)[0].splitlines()
    rows = [line for line in table if any(line.startswith("  " + name) for name in names)]
    assert len(rows) == len(names), table
    # Where the COUNT column ends, in terminal columns: the same on every row as in the header.
    count_end = display_width(table[0][:table[0].index("COUNT") + len("COUNT")])
    for row in rows:
        name = next(n for n in names if row.startswith("  " + n))
        rest = row[len("  " + name):]
        count = rest.split()[0]
        assert display_width("  " + name + rest[:rest.index(count) + len(count)]) == count_end, row


def test_a_session_named_file_that_is_a_fifo_is_refused_not_waited_on(store, ids):
    fifo_id = ids[0][:-1] + ("0" if ids[0][-1] != "0" else "1")
    os.mkfifo(store / f"{fifo_id}.json")
    result = run("--dir", str(store), "show", fifo_id, check_code=None)
    assert result.returncode != 0
    assert f"{fifo_id}.json: not a regular file" in result.stderr


def test_bad_files_are_skipped_with_one_warning_each(store):
    good = next(store.glob("*.json")).read_text()
    (store / "corrupt.json").write_text("{not json at all")
    (store / "truncated.json").write_text(good[: len(good) // 2])
    (store / "empty.json").write_text("")
    (store / "foreign.json").write_text('{"hello": "world"}')
    (store / "notes.txt").write_text("not a session file")
    result = run("--dir", str(store), "list", "--json")
    assert len(json.loads(result.stdout)["sessions"]) == 3
    assert json.loads(result.stdout)["skipped_files"] == 4
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 4 and all(w.startswith("warning: skipped ") for w in warnings)
    assert any("empty.json: empty file" in w for w in warnings)
    assert run_json("--dir", str(store), "stats")["sessions"] == 3
    doctor = json.loads(run("--dir", str(store), "doctor", "--json", check_code=1).stdout)
    assert (doctor["skipped_files"], doctor["other_files"]) == (3, 1)  # corrupt, truncated, empty; foreign


def test_the_stores_price_file_and_other_json_beside_the_sessions_are_no_problem(store):
    # README: prices are overridden with <storage_dir>/prices.json; list warned about it on every
    # run and doctor failed, showing the built-in table's version instead of the one in use.
    (store / "prices.json").write_text('{"version": "mine", "models": {"m": {"input": 1, "output": 2}}}')
    listing = run("--dir", str(store), "list", "--json")
    assert listing.stderr == "" and json.loads(listing.stdout)["skipped_files"] == 0
    (store / "package.json").write_text('{"name": "a project"}')  # list warns of it; doctor is fine
    doctor = run_json("--dir", str(store), "doctor")
    assert doctor["healthy"] and doctor["price_table_version"].endswith("+mine") and doctor["other_files"] == 1
    assert "1 other JSON file here, not sessions" in run("--dir", str(store), "doctor").stdout


def test_path_tricks_and_unknown_ids_are_refused(store):
    for bad in ("../etc/passwd", "a/b", "..", ".hidden", "x" * 200):
        result = run("--dir", str(store), "show", bad, check_code=3)
        assert "invalid session id" in result.stderr
    assert "no session 'nope'" in run("--dir", str(store), "show", "nope", check_code=3).stderr


def test_a_missing_directory_is_a_clear_message(tmp_path):
    missing = tmp_path / "absent"
    for command in (["list"], ["show", "latest"], ["stats"], ["report", "latest"], ["cleanup", "--max-age-days", "1"]):
        result = run("--dir", str(missing), *command, check_code=1)
        assert f"no session directory at {missing}" in result.stderr, command
    assert "no sessions in" in run("--dir", str(tmp_path), "list").stdout
    assert run("--dir", str(tmp_path), "show", "latest", check_code=3).stderr.strip().endswith(f"no sessions in {tmp_path}")


def test_usage_errors_exit_2(store):
    run("--dir", str(store), "list", "--since", "yesterday", check_code=2)
    run("--dir", str(store), "export", "latest", "--format", "xml", check_code=2)
    run("--dir", str(store), "frobnicate", check_code=2)
    run(check_code=2)


def test_cleanup_dry_run_removes_nothing_then_cleanup_removes_old_files(store, ids):
    old = time.time() - 30 * 86400
    (store / "package.json").write_text('{"name": "not ours"}')  # not a session: never removed
    (store / f"{ids[0]}.json.4242.tmp").write_text("{")  # a write that died: removed
    for name in [f"{session_id}.json" for session_id in ids[1:]] + ["package.json", f"{ids[0]}.json.4242.tmp"]:
        os.utime(store / name, (old, old))
    dry = run_json("--dir", str(store), "cleanup", "--max-age-days", "7", "--dry-run")
    assert dry["removed"] == 3 and len(list(store.glob("*.json"))) == 4
    done = run_json("--dir", str(store), "cleanup", "--max-age-days", "7")
    assert done["removed"] == 3 and sorted(p.name for p in store.iterdir()) == sorted([f"{ids[0]}.json", "package.json"])
    assert "removed 0 files older than 7 days" in run("--dir", str(store), "cleanup", "--max-age-days", "7").stdout


def test_recover_turns_a_killed_session_journal_into_a_session(tmp_path):
    script = ("import os, time\nfrom ai_agents.telemetry import TelemetryManager\n"
              "m = TelemetryManager.get_instance()\n"
              "m.initialize({'flush_interval': 0.05, 'code_metrics': False})\n"
              "c = m.get_collector(); c.start_task('crashed', 'will be killed')\n"
              "c.record_llm_call('gpt-4o', 10, 5, 0.1)\ntime.sleep(0.5)\nos.kill(os.getpid(), 9)\n")
    env = {**os.environ, "SOP_TELEMETRY_DIR": str(tmp_path), "SOP_TELEMETRY_AUTO": "0"}
    import sys
    subprocess.run([sys.executable, "-c", script], env=env)
    assert list(tmp_path.glob("*.jsonl")) and not list(tmp_path.glob("*.json"))
    assert run_json("--dir", str(tmp_path), "recover") == {"recovered": 1}
    listed = run_json("--dir", str(tmp_path), "list")["sessions"]
    assert len(listed) == 1 and listed[0]["status"] == "incomplete" and listed[0]["total_tokens"] == 15


def test_doctor_reports_a_healthy_store(store):
    report = run_json("--dir", str(store), "doctor")
    assert report["healthy"] and report["writable"] and report["sessions"] == 3
    assert report["storage_path"] == str(store) and report["free_mb"] > 0
    assert "ok" in run("--dir", str(store), "doctor").stdout


def test_doctor_fails_on_every_problem_it_shows(store):
    (store / "prices.json").write_text('{"models": {"m": {"input": -1, "output": 1}}}')
    broken = json.loads(run("--dir", str(store), "doctor", "--json", check_code=1).stdout)
    assert not broken["healthy"] and "prices.json" in broken["price_problems"][0]
    assert "FAIL price files:" in run("--dir", str(store), "doctor", check_code=1).stdout
    (store / "prices.json").unlink()
    bad = {"SOP_TELEMETRY_FLUSH_INTERVAL_MS": "abc"}
    assert "FAIL configuration problems" in run("--dir", str(store), "doctor", env=bad, check_code=1).stdout
    assert json.loads(run("--dir", str(store), "doctor", "--json", env=bad, check_code=1).stdout)["healthy"] is False


def test_impossible_dates_are_usage_errors(store):
    for day in ("2026-02-31", "2026-04-31", "2026-02-29", "1900-02-29"):
        assert "YYYY-MM-DD" in run("--dir", str(store), "list", "--since", day, check_code=2).stderr, day
    for day in ("2024-02-29", "2000-02-29", "2026-12-31"):
        run("--dir", str(store), "list", "--until", day)


def test_bad_filter_values_are_usage_errors(store):
    assert "completed" in run("--dir", str(store), "list", "--status", "complete", check_code=2).stderr
    assert "0 or more" in run("--dir", str(store), "list", "-n", "-1", check_code=2).stderr
    assert "0 or more" in run("--dir", str(store), "show", "latest", "--max-spans", "-1", check_code=2).stderr


def test_no_session_text_reaches_a_terminal_through_json_report_or_warnings(store, tmp_path):
    def c1(data):
        task_span(data)["detail"] = "C1 \u009b2J control"
        return "c1-control"
    session_with(store, c1)
    raw = subprocess.run([str(CLI), "--dir", str(store), "show", "c1-control", "--json"], capture_output=True).stdout
    assert b"\xc2\x9b" not in raw and json.loads(raw)["tasks"][0]["description"] == "C1 \u009b2J control"
    source = next(store.glob("2*.json"))
    data = json.loads(source.read_text())
    data["session_id"] = "x\x1b]0;PWNED\x07"  # inside a file with a proper name
    (store / "20300101T000000.000000Z-1-abcd.json").write_text(json.dumps(data))
    (store / "bad\x1b[2Jname.json").write_text("{")
    result = run("--dir", str(store), "report", "20300101T000000.000000Z-1-abcd", "-o", str(tmp_path / "r.html"))
    assert "\x1b" not in result.stdout + result.stderr and "wrote" in result.stdout


def test_colour_only_on_a_terminal_and_never_with_no_color(store):
    def on_terminal(env_extra: dict) -> str:
        env = {**os.environ, **env_extra}
        env.pop("NO_COLOR", None) if "NO_COLOR" not in env_extra else None
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(str(CLI), [str(CLI), "--dir", str(store), "list"], env)
        output = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        os.waitpid(pid, 0)
        return output.decode()

    assert "\x1b[32mcompleted" in on_terminal({})
    assert "\x1b[" not in on_terminal({"NO_COLOR": "1"})


def test_session_text_cannot_drive_the_terminal_and_csv_cells_cannot_be_formulas(store):
    def hostile(data):
        task_span(data)["detail"] = "\x1b[2J\x1b]0;evil title\x07PWNED"  # the task's description
        data["spans"][-1]["name"] = "=HYPERLINK(\"http://x\")"
        next(s for s in data["spans"] if s["kind"] == "llm")["name"] = "-2+3+cmd|' /C calc'!A0"  # like a number
        return "hostile"
    session_with(store, hostile)
    shown = run("--dir", str(store), "show", "hostile").stdout
    assert "\x1b" not in shown and "\x07" not in shown and "?[2J?]0;evil title?PWNED" in shown
    exported = run("--dir", str(store), "export", "hostile", "--format", "csv").stdout
    assert "'=HYPERLINK" in exported and ",=HYPERLINK" not in exported
    assert ",'-2+3+cmd" in exported and ",-2+3+cmd" not in exported


def test_spans_whose_parent_is_missing_are_still_shown(store):
    kept = []

    def orphaned(data):
        data["spans"] = [s for s in data["spans"] if s["kind"] != "task"]  # children keep their parent ids
        kept.extend(data["spans"])
        return "orphaned"
    session_with(store, orphaned)
    tree = run("--dir", str(store), "show", "orphaned").stdout.split("Span tree")[1]
    assert len(kept) >= 2 and tree.count("─ ") == len(kept)


def test_bad_dates_and_unwritable_output_fail(store):
    assert "YYYY-MM-DD" in run("--dir", str(store), "list", "--since", "2026-13-45", check_code=2).stderr
    with open("/dev/full", "w") as full:
        result = subprocess.run([str(CLI), "--dir", str(store), "list", "--json"], stdout=full,
                                stderr=subprocess.PIPE, text=True)
    assert result.returncode == 1 and "cannot write the output" in result.stderr
