"""What `pip install .` puts into an environment: the Python package with its types, the two
commands and the .pth — nothing at the top of site-packages that is not ours."""
from importlib import metadata


def installed_files() -> list[str]:
    return [str(path) for path in metadata.files("sop-agents-telemetry") or []]


def test_the_wheel_holds_the_package_its_types_and_commands_only():
    files = installed_files()
    assert "ai_agents/telemetry/py.typed" in files and "ai_agents/telemetry/_core.pyi" in files
    assert any(f.startswith("ai_agents/telemetry/_core.") and f.endswith(".so") for f in files)
    assert "sop_telemetry_auto.pth" in files
    top_level = {f.split("/")[0] for f in files
                 if "/" in f and not f.startswith("..") and not f.split("/")[0].endswith(".dist-info")}
    # The C++ headers, static library and CMake config once landed in site-packages/include and
    # lib, importable as namespace packages named include and lib.
    assert top_level == {"ai_agents"}, top_level
