"""The HTML report and the live dashboard, rendered in headless Chromium."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import CLI, add_tool_spans, browse, run, session_with, task_span


def test_report_is_one_self_contained_file_that_renders(store, ids, tmp_path):
    page = tmp_path / "report.html"
    assert f"wrote {page}" in run("--dir", str(store), "report", ids[1], "-o", str(page)).stdout
    as_json = json.loads(run("--dir", str(store), "report", ids[1], "-o", str(page), "--json").stdout)
    assert as_json == {"path": str(page), "session_id": ids[1], "bytes": page.stat().st_size}
    html = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "no external request"
    assert "LIVE = /*LIVE_MODE*/false" in html  # the live code is there but off
    screenshot = tmp_path / "report.png"
    dom, console = browse(page.as_uri(), screenshot)
    assert f'data-rendered="{ids[1]}"' in dom
    assert "data-errors" not in dom and console == ""
    assert dom.count('class="row"') == 2 + 1 + 5 + 4  # its tasks, agent, LLM calls and tool calls
    assert 'data-kind="tool"' in dom and "bar kind-tool error" in dom  # the failed tool is marked
    assert "flaky_api" in dom and "TimeoutError: upstream" in dom and "gpt-4o" in dom
    assert screenshot.stat().st_size > 20_000 and screenshot.read_bytes()[:4] == b"\x89PNG"


def test_a_large_session_report_draws_the_first_spans_and_says_how_many_more(store, tmp_path):
    def many_tools(data):
        add_tool_spans(data, ["busy_tool"] * 30_000)
        return data["session_id"][:-4] + "many"
    session_id = session_with(store, many_tools)
    total = len(json.loads(run("--dir", str(store), "show", session_id, "--json").stdout)["spans"])
    assert total > 30_000  # --json keeps every span
    page = tmp_path / "many.html"
    run("--dir", str(store), "report", session_id, "-o", str(page), "--max-spans", "1000")
    dom, console = browse(page.as_uri())
    assert f'data-rendered="{session_id}"' in dom and console == ""
    assert dom.count('class="row"') == 1000
    assert f"The first 1,000 of {total:,} spans" in dom
    default = tmp_path / "default.html"
    run("--dir", str(store), "report", session_id, "-o", str(default))
    assert default.stat().st_size < page.stat().st_size * 8  # 5000 drawn, not 30 000
    assert run("--dir", str(store), "report", session_id, "--max-spans", "-1", check_code=None).returncode != 0


def test_session_text_cannot_break_out_of_the_report(store, tmp_path):
    def hostile(data):
        task_span(data)["detail"] = "</script><script>document.title='pwned'</script><!--"  # the description
        return "hostile"
    session_with(store, hostile)
    page = tmp_path / "hostile.html"
    run("--dir", str(store), "report", "hostile", "-o", str(page))
    html = page.read_text()
    assert "document.title='pwned'" in html and "</script><script>document.title" not in html
    dom, console = browse(page.as_uri())
    assert 'data-rendered="hostile"' in dom and "pwned" not in dom.split("<body")[0] and console == ""
    assert "&lt;/script&gt;&lt;script&gt;document.title='pwned'" in dom  # shown as text, not run


class Dashboard:
    def __init__(self, directory, *extra: str):
        self.process = subprocess.Popen([str(CLI), "--dir", str(directory), "serve", "--port", "0", *extra],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.search(r"on http://([\d.]+:\d+)/", line)
        assert match, (line, self.process.stderr.read() if self.process.poll() is not None else "")
        self.url = f"http://{match.group(1)}"

    def get(self, path: str, method: str = "GET") -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def stop(self) -> str:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=10)
        return out


@pytest.fixture
def dashboard(store):
    server = Dashboard(store)
    yield server
    if server.process.poll() is None:
        server.stop()


def test_dashboard_serves_sessions_on_loopback_and_updates_as_they_land(dashboard, store, sessions_dir, ids, tmp_path):
    assert dashboard.url.startswith("http://127.0.0.1:")
    status, body = dashboard.get("/api/sessions")
    assert status == 200 and [s["session_id"] for s in json.loads(body)["sessions"]] == ids
    status, body = dashboard.get(f"/api/sessions/{ids[1]}")
    assert status == 200 and json.loads(body)["summary"]["status"] == "failed"
    assert dashboard.get("/api/sessions/..%2Fetc")[0] == 400
    assert dashboard.get("/api/sessions/nope")[0] == 404
    assert dashboard.get("/elsewhere")[0] == 404
    assert dashboard.get("/api/sessions", method="POST")[0] == 405

    screenshot = tmp_path / "dashboard.png"
    dom, console = browse(dashboard.url + "/", screenshot)
    assert 'data-sessions="3"' in dom and f'data-rendered="{ids[0]}"' in dom
    assert console == "" and "data-errors" not in dom
    assert screenshot.stat().st_size > 20_000

    def landed_later(data):
        data["start_time"] = "2100-01-01T00:00:00.000000Z"
        return "zz-landed-later"
    session_with(store, landed_later, store / f"{ids[0]}.json")
    status, body = dashboard.get("/api/sessions")
    assert json.loads(body)["sessions"][0]["session_id"] == "zz-landed-later"
    dom, _ = browse(dashboard.url + "/")
    assert 'data-sessions="4"' in dom and 'data-rendered="zz-landed-later"' in dom
    assert "stopped" in dashboard.stop()


def test_dashboard_refuses_other_addresses_unless_allowed(store):
    result = run("--dir", str(store), "serve", "--host", "0.0.0.0", "--port", "0", check_code=2)
    assert "refusing to serve on 0.0.0.0" in result.stderr and "--allow-remote" in result.stderr
    server = Dashboard(store, "--host", "0.0.0.0", "--allow-remote")
    try:
        assert server.url.startswith("http://0.0.0.0:")
    finally:
        server.stop()


@pytest.mark.parametrize("extra", [(), ("--allow-remote",)])
def test_dashboard_on_loopback_answers_only_its_own_host_name(store, extra):
    dashboard = Dashboard(store, *extra)
    try:
        request = urllib.request.Request(dashboard.url + "/api/sessions", headers={"Host": "evil.example.com"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403  # a DNS-rebinding page gets nothing
        assert dashboard.get("/api/sessions", method="HEAD")[0] == 405
    finally:
        dashboard.stop()
