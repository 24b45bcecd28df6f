"""The reference host (issue 5): supervisor → micro agents → tools with an SOP, built from
classes or agents.yaml, run offline with the replay model; its tools, models and CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from tree import children, one, spans_of

from ai_agents.agent_factory import AgentConfigError, create_agent_from_yaml
from ai_agents.micro_agents.base_micro_agent import BaseMicroAgent
from ai_agents.models import ModelConfigError, OpenAICompatibleModel, ReplayScript, model_from_spec
from ai_agents.supervisor_agents.base_supervisor_agent import UnknownSopError
from ai_agents.supervisor_agents.repo_analysis_supervisor_agent import RepoAnalysisSupervisorAgent
from ai_agents.telemetry import SpanKind, TaskStatus
from ai_agents.tools import ToolError, make_tool

ROOT = Path(__file__).resolve().parents[2]
REPO_SCRIPT = ROOT / "examples" / "replay" / "repo_analysis.json"
ONE_ANSWER = Path(__file__).parent / "support" / "replay" / "one_answer.json"


@pytest.fixture(autouse=True)
def fresh_replay():
    ReplayScript.rewind_all()
    yield
    ReplayScript.rewind_all()


def test_repo_analysis_supervisor_runs_the_whole_three_layer_tree(telemetry, monkeypatch):
    monkeypatch.setenv("SOP_AGENTS_MODEL", f"replay:{REPO_SCRIPT}")
    answer = RepoAnalysisSupervisorAgent(root=ROOT).run("分析这个代码仓库的架构")
    assert answer.startswith("架构:")
    session = telemetry.get_session_data()
    task = session.tasks[0]
    assert (task.description.split("\n")[0], task.sop_category, task.status) == (
        "分析这个代码仓库的架构", "repo_analysis", TaskStatus.COMPLETED)
    supervisor = one(session, SpanKind.AGENT, "repo_analysis_supervisor")
    assert supervisor.detail == "supervisor"
    step1 = [s for s in children(session, supervisor, SpanKind.STEP) if s.name == "step 1"][0]
    assert sorted(a.name for a in children(session, step1, SpanKind.AGENT)) == ["reader_agent", "search_agent"]
    tools = sorted(s.name for s in spans_of(session, SpanKind.TOOL) if s.name != "final_answer")
    assert tools == ["file_reader", "file_reader", "file_search", "file_search", "text_grep"]
    assert all(s.status == TaskStatus.COMPLETED for s in spans_of(session, SpanKind.TOOL))
    script = json.loads(REPO_SCRIPT.read_text())["responses"]
    assert task.total_tokens.total_tokens == sum(r["input_tokens"] + r["output_tokens"] for r in script)
    assert task.total_tokens.model_breakdown["gpt-4o"].call_count == 2
    assert task.total_tokens.model_breakdown["gpt-4o-mini"].call_count == 6
    assert task.total_tokens.cost_estimate > 0


def test_the_sop_is_chosen_by_category_and_a_failed_run_fails_the_task(telemetry, monkeypatch):
    monkeypatch.setenv("SOP_AGENTS_MODEL", f"replay:{ONE_ANSWER}")
    agent = RepoAnalysisSupervisorAgent(root=ROOT)
    assert agent.run("总结", sop_category="default") == "任务完成"
    assert telemetry.get_session_data().tasks[0].sop_category == "default"
    with pytest.raises(UnknownSopError, match="no SOP 'nope'; available: default, repo_analysis"):
        agent.run("x", sop_category="nope")
    with pytest.raises(Exception, match="no response left"):  # the script is used up
        agent.run("again")
    assert telemetry.get_session_data().tasks[-1].status == TaskStatus.FAILED


def test_tools_stay_inside_their_root_and_bound_their_output(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print('你好')\n" + "x = 1\n" * 5000, encoding="utf-8")
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01binary" * 100)
    reader, search, grep = (make_tool(n, tmp_path) for n in ("file_reader", "file_search", "text_grep"))
    text = reader(path="src/main.py")
    assert text.startswith("print('你好')") and text.count("\n") <= 201
    assert "blob.bin is a binary file (800 bytes)" == reader(path="blob.bin")
    assert reader(path="missing.txt") == "no such file: missing.txt"
    assert reader(path="src") == "src is a directory"
    for escape in ("../outside.txt", "/etc/passwd", "src/../../x"):
        with pytest.raises(ToolError, match="outside the repository root"):
            reader(path=escape)
    assert search(pattern="*.py") == "src/main.py"
    assert search(pattern="*.rs") == "no file matches '*.rs'"
    assert grep(pattern="你好") == "src/main.py:1: print('你好')"
    big = grep(pattern="x = 1")
    assert len(big) < 9000 and "(first 200 matches)" in big
    with pytest.raises(ToolError, match="invalid regular expression"):
        grep(pattern="(")
    with pytest.raises(ValueError, match="unknown tool 'web_search'; known tools: file_reader, file_search, text_grep"):
        make_tool("web_search")


def test_agents_yaml_builds_micro_and_supervisor_agents_and_names_every_problem(tmp_path, telemetry, monkeypatch):
    config = tmp_path / "agents.yaml"
    config.write_text('agents:\n  - name: "search_agent"\n    type: "micro"\n    tools: ["file_search", "text_grep"]\n'
                      '  - name: "boss"\n    type: "supervisor"\n    agents: ["search_agent"]\n', encoding="utf-8")
    searcher = create_agent_from_yaml("search_agent", config)
    assert isinstance(searcher, BaseMicroAgent) and [t.name for t in searcher.tools] == ["file_search", "text_grep"]
    boss = create_agent_from_yaml("boss", config)
    assert [m.name for m in boss.micro_agents] == ["search_agent"] and boss.sop_category == "default"
    monkeypatch.setenv("SOP_AGENTS_MODEL", f"replay:{ONE_ANSWER}")
    assert boss.run("查找") == "任务完成"
    assert one(telemetry.get_session_data(), SpanKind.AGENT, "boss").detail == "supervisor"

    def problem(text: str, name: str = "search_agent") -> str:
        config.write_text(text, encoding="utf-8")
        with pytest.raises(AgentConfigError) as raised:
            create_agent_from_yaml(name, config)
        return str(raised.value)

    assert "not valid YAML" in problem("agents: [unclosed")
    assert "expected a top-level 'agents:' list" in problem("- just a list")
    assert "no agent 'ghost'; defined: search_agent" in problem("agents:\n  - name: search_agent\n", "ghost")
    assert "unknown tool(s) web_search; known tools: file_reader, file_search, text_grep" in problem(
        "agents:\n  - name: search_agent\n    tools: [web_search]\n")
    assert "type 'macro'" in problem("agents:\n  - name: search_agent\n    type: macro\n")
    assert "manages undefined agent(s) nobody" in problem(
        "agents:\n  - name: boss\n    type: supervisor\n    agents: [nobody]\n", "boss")
    assert "no such file" in str(pytest.raises(AgentConfigError, create_agent_from_yaml, "x", tmp_path / "none.yaml").value)


def test_no_model_configured_says_how_to_configure_one(monkeypatch, tmp_path):
    for name in ("SOP_AGENTS_MODEL", "SOP_AGENTS_API_KEY", "OPENAI_API_KEY", "SOP_AGENTS_BASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ModelConfigError, match="no model configured: set SOP_AGENTS_MODEL=replay:"):
        model_from_spec()
    with pytest.raises(ModelConfigError, match="needs SOP_AGENTS_API_KEY"):
        model_from_spec("gpt-4o")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(ModelConfigError, match="is not valid JSON"):
        model_from_spec(f"replay:{tmp_path / 'bad.json'}")
    with pytest.raises(ModelConfigError, match="does not exist"):
        model_from_spec(f"replay:{tmp_path / 'absent.json'}")


class _ChatEndpoint(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _ChatEndpoint.seen.append((self.path, self.headers.get("Authorization"), body))
        reply = {"choices": [{"message": {"role": "assistant",
                                          "content": "Thought: ok\n```py\nfinal_answer('来自端点')\n```"}}],
                 "usage": {"prompt_tokens": 321, "completion_tokens": 12,
                           "prompt_tokens_details": {"cached_tokens": 300}}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_an_openai_compatible_endpoint_is_called_and_its_key_never_stored(telemetry, monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _ChatEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = "sk-test-" + "5" * 24
    monkeypatch.setenv("SOP_AGENTS_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("SOP_AGENTS_API_KEY", secret)
    try:
        model = model_from_spec("gpt-4o-mini")
        assert isinstance(model, OpenAICompatibleModel)
        agent = BaseMicroAgent(name="endpoint_agent", tools=["file_search"], model=model, root=ROOT)
        assert agent.run("说你好") == "来自端点"
    finally:
        server.shutdown()
    path, authorization, body = _ChatEndpoint.seen[-1]
    assert path == "/v1/chat/completions" and authorization == f"Bearer {secret}"
    assert body["model"] == "gpt-4o-mini" and body["messages"][0]["role"] == "system"
    call = telemetry.get_session_data().tasks[0].llm_calls[0]
    assert (call.model, call.prompt_tokens, call.completion_tokens, call.cache_read_tokens) == ("gpt-4o-mini", 321, 12, 300)
    telemetry.flush_data()
    stored = "".join(p.read_text(encoding="utf-8") for p in Path(telemetry.get_storage_stats()["storage_path"]).glob("*.json"))
    assert stored and secret not in stored


def _sop_agents(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ai_agents.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={**os.environ, "SOP_TELEMETRY_AUTO": "0", **env})


def test_the_sop_agents_cli_runs_a_task_and_is_part_of_the_session(tmp_path):
    env = {"SOP_TELEMETRY_DIR": str(tmp_path)}
    result = _sop_agents("run", "分析这个代码仓库的架构", "--model", f"replay:{REPO_SCRIPT}", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("架构:")
    session = json.loads(next(tmp_path.glob("*.json")).read_text(encoding="utf-8"))
    spans = {(s["kind"], s["name"]): s for s in session["spans"]}
    cli_span, task_span = spans[("other", "sop-agents run")], spans[("task", "repo_analysis-1")]
    assert task_span["parent_id"] == cli_span["span_id"]  # the invocation holds the task
    assert spans[("agent", "repo_analysis_supervisor")]["parent_id"] == task_span["span_id"]
    assert session["tasks"][0]["sop_category"] == "repo_analysis"
    missing = _sop_agents("run", "x", env={**env, "SOP_AGENTS_MODEL": ""})
    assert missing.returncode == 2 and "no model configured" in missing.stderr
    unknown = _sop_agents("run", "x", "--sop", "nope", "--model", f"replay:{ONE_ANSWER}", env=env)
    assert unknown.returncode == 2 and "no SOP 'nope'" in unknown.stderr
    from_yaml = _sop_agents("run", "总结", "--agent", "repo_supervisor", "--model", f"replay:{ONE_ANSWER}", env=env)
    assert from_yaml.returncode == 0 and from_yaml.stdout.strip() == "任务完成", from_yaml.stderr
    ghost = _sop_agents("run", "x", "--agent", "ghost", "--model", f"replay:{ONE_ANSWER}", env=env)
    assert ghost.returncode == 2 and "no agent 'ghost'" in ghost.stderr
    # Installed without its smolagents extra: one line that says what to install, no traceback.
    without = subprocess.run([sys.executable, "-c", "import sys; sys.modules['smolagents'] = None\n"
                              "from ai_agents.cli import main; sys.exit(main(['run', 'x']))"],
                             capture_output=True, text=True, cwd=ROOT, timeout=120, env={**os.environ, **env})
    assert (without.returncode, without.stderr) == (
        2, "sop-agents: needs smolagents: pip install 'sop-agents-telemetry[smolagents]' (or pip install smolagents)\n")


def test_tools_never_follow_links_out_of_the_root_nor_block_on_special_files(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET_TOKEN=hunter2\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "notes.txt").symlink_to(secret)
    os.mkfifo(repo / "pipe.txt")
    (repo / "long.txt").write_text("x" * 3_000_000 + "\nneedle\n")
    grep, reader = make_tool("text_grep", repo), make_tool("file_reader", repo)
    assert grep(pattern="SECRET") == "no line matches 'SECRET'"
    assert grep(pattern="needle") == "long.txt:2: needle"
    assert reader(path="pipe.txt") == "pipe.txt is not a regular file"
    with pytest.raises(ToolError):
        reader(path="notes.txt")
    assert len(reader(path="long.txt")) < 9000


class _Redirecting(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.send_response(302)
        self.send_header("Location", "http://127.0.0.1:9/steal")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_the_key_is_never_sent_elsewhere_nor_shown_and_odd_replies_are_clear(monkeypatch):
    assert OpenAICompatibleModel("m", "http://127.0.0.1:9/v1", "sk-SECRET\r\n")._api_key == "sk-SECRET"  # .env CRLF
    with pytest.raises(ModelConfigError, match="control characters"):
        OpenAICompatibleModel("m", "http://127.0.0.1:9/v1", "sk-SE\x01CRET")
    server = HTTPServer(("127.0.0.1", 0), _Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        model = OpenAICompatibleModel("m", f"http://127.0.0.1:{server.server_port}/v1", "sk-SECRET-xyz")
        with pytest.raises(RuntimeError) as raised:
            model.generate([{"role": "user", "content": "hi"}])
        assert "answered 302" in str(raised.value) and "sk-SECRET" not in str(raised.value)
    finally:
        server.shutdown()


def test_rewinding_a_replay_keeps_models_sharing_one_script():
    first, second = model_from_spec(f"replay:{ONE_ANSWER}"), model_from_spec(f"replay:{ONE_ANSWER}")
    assert first.generate([]).content == second.script.responses[0]["content"]
    ReplayScript.rewind_all()
    assert second.generate([]).content == first.script.responses[0]["content"]
    with pytest.raises(ModelConfigError, match="no response left"):
        first.generate([])


def test_agents_yaml_types_are_checked(tmp_path):
    config = tmp_path / "agents.yaml"
    for text, message in (
            ("agents:\n  - name: boss\n    type: supervisor\n    agents: search_agent\n", "must be a list of agent names"),
            ("agents:\n  - name: search agent\n", "must be a Python identifier"),
            ("agents:\n  - name: a\n    max_steps: ten\n", "max_steps must be a positive integer")):
        config.write_text(text)
        with pytest.raises(AgentConfigError, match=message):
            create_agent_from_yaml(text.split("name: ")[1].split("\n")[0], config)
    with pytest.raises(AgentConfigError, match="cannot be read"):
        create_agent_from_yaml("a", tmp_path)
