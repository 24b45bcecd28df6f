"""The package is typed (py.typed, the engine's stubs): a user's code using the documented API
type-checks under mypy --strict, and the package's own modules type-check too."""
import subprocess
import sys
from pathlib import Path

SUPPORT = Path(__file__).parent / "support"
ROOT = Path(__file__).resolve().parents[2]


def mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # Run from elsewhere: the installed package is checked, not the source tree.
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--config-file",
                           str(ROOT / "pyproject.toml"), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_documented_usage_type_checks_strictly_and_runs(tmp_path):
    checked = mypy("--strict", str(SUPPORT / "typed_usage.py"), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    ran = subprocess.run([sys.executable, str(SUPPORT / "typed_usage.py"), str(tmp_path)], capture_output=True,
                         text=True, timeout=120, env={"SOP_TELEMETRY_AUTO": "0", "PATH": "/usr/bin:/bin"})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-2:] == ["ratio None 1", "async ratio None 1"]  # None when failed, as typed


def test_the_package_type_checks(tmp_path):
    checked = mypy("-p", "ai_agents.telemetry", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
