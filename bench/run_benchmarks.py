#!/usr/bin/env python3
"""Runs the engine and CLI benchmarks and prints each figure beside its target (issues 2, 4).

Usage: python3 bench/run_benchmarks.py [BUILD_DIR]   (make bench does this)
The raw Google Benchmark JSON is kept in BUILD_DIR/bench_results.json.
"""
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(build_dir: Path) -> dict:
    binary = build_dir / "bench" / "sop_telemetry_bench"
    output = build_dir / "bench_results.json"
    subprocess.run([str(binary), f"--benchmark_out={output}", "--benchmark_out_format=json"],
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads(output.read_text())


def median(results: dict, prefix: str, *parts: str) -> dict:
    """The median row of the benchmark named `prefix...` whose name contains every part."""
    for bench in results["benchmarks"]:
        name = bench["name"]
        if (name.startswith(prefix) and all(part in name for part in parts)
                and bench.get("aggregate_name") in ("median", None)):
            return bench
    raise SystemExit(f"benchmark {prefix} {parts} missing from the results")


def cli_seconds(build_dir: Path, sessions: int = 2000, events: int = 500) -> dict:
    """Median wall time of `sop-telemetry list` and `stats` over `sessions` session files."""
    with tempfile.TemporaryDirectory(prefix="sop_cli_bench_") as directory:
        subprocess.run([str(build_dir / "bench" / "make_session_files"), directory, str(sessions),
                        str(events)], check=True, stdout=subprocess.DEVNULL)
        cli = build_dir / "cli" / "sop-telemetry"
        timings = {}
        for command in ("list", "stats"):
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                subprocess.run([str(cli), "--dir", directory, command], check=True, stdout=subprocess.DEVNULL)
                runs.append(time.perf_counter() - start)
            timings[command] = statistics.median(runs)
        return timings


def main() -> int:
    build_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "build")
    results = run(build_dir)
    one = median(results, "BM_RecordLlmCall/", "threads:1")
    two = median(results, "BM_RecordLlmCall/", "threads:2")
    off = median(results, "BM_RecordLlmCallDisabled")
    fold = median(results, "BM_FoldAndWrite100k")
    read = median(results, "BM_ReadSessionFile")
    memory = median(results, "BM_MemoryPerEvent")
    journal = median(results, "BM_JournalStepLines")
    journal_us = 1e6 / journal["items_per_second"]
    scaling = two["items_per_second"] / one["items_per_second"]
    cli = cli_seconds(build_dir)
    rows = [
        ("record_llm_call, tracing on (median)", f"{one['real_time']:.1f} ns", "<= 150 ns",
         one["real_time"] <= 150),
        ("record_llm_call, telemetry off (median)", f"{off['real_time']:.2f} ns", "<= 5 ns",
         off["real_time"] <= 5),
        ("two threads: throughput vs one thread", f"{scaling:.2f}x", "> 1.0x (scales)", scaling > 1.0),
        ("two threads: events dropped", f"{two['dropped']:.0f}", "0", two["dropped"] == 0),
        ("fold + write a 100,000-event session", f"{fold['real_time']:.1f} ms", "<= 200 ms",
         fold["real_time"] <= 200),
        ("read a session file", f"{read['bytes_per_second'] / 1e6:.0f} MB/s", ">= 300 MB/s",
         read["bytes_per_second"] >= 300e6),
        ("journal lines of one agent step (background worker)", f"{journal_us:.2f} us",
         "<= 1 us", journal_us <= 1),
        ("resident memory per event (1,000,000 events)", f"{memory['bytes_per_event']:.1f} B", "<= 200 B",
         memory["bytes_per_event"] <= 200),
        ("sop-telemetry list, 2,000 sessions of 500 events", f"{cli['list']:.2f} s", "<= 0.5 s",
         cli["list"] <= 0.5),
        ("sop-telemetry stats, 2,000 sessions of 500 events", f"{cli['stats']:.2f} s", "<= 2 s",
         cli["stats"] <= 2),
    ]
    width = max(len(row[0]) for row in rows)
    print(f"{'figure'.ljust(width)}  {'measured':>12}  {'target':>16}")
    for name, value, target, ok in rows:
        print(f"{name.ljust(width)}  {value:>12}  {target:>16}  {'ok' if ok else 'MISSED'}")
    return 0 if all(row[3] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
