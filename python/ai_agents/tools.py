"""The file tools of the reference host: file_search, text_grep, file_reader.

Each is bound to a root directory and never reads outside it (symlinks resolved); outputs are
bounded; binary files and missing paths are answered in words, not exceptions the model cannot
act on."""
from __future__ import annotations

import fnmatch
import os
import re
import stat
from pathlib import Path
from typing import Callable

from smolagents import Tool

MAX_OUTPUT_CHARS = 8000
MAX_RESULTS = 200
SKIPPED_DIRECTORIES = {".git", ".venv", ".venv-oldest", ".venv-bench", "node_modules", "__pycache__",
                       "build", "build-asan", "build-tsan", "build-rel"}


class ToolError(Exception):
    """A request the tool refuses (outside its root, a bad pattern); the model sees the message."""


def _bounded(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"\n… [cut: {len(text) - MAX_OUTPUT_CHARS} more characters]"


def _listing(lines: list[str], none_message: str) -> str:
    """The lines found (the first MAX_RESULTS, said so when cut), bounded; or `none_message`."""
    if not lines:
        return none_message
    if len(lines) > MAX_RESULTS:
        lines = lines[:MAX_RESULTS] + [f"… (first {MAX_RESULTS} matches)"]
    return _bounded("\n".join(lines))


MAX_LINE_CHARS = 2000
MAX_FILE_BYTES = 50 * 1024 * 1024  # text_grep skips larger files


def _is_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\0" in handle.read(8192)


def _lines(path: Path):
    """(number, line) of a text file, each line cut at MAX_LINE_CHARS without reading more."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        number = 0
        while True:
            line = handle.readline(MAX_LINE_CHARS)
            if not line:
                return
            if not line.endswith("\n"):  # the rest of a long line: skip it
                while (rest := handle.readline(MAX_LINE_CHARS)) and not rest.endswith("\n"):
                    pass
            number += 1
            yield number, line


class _RootedTool(Tool):
    """A tool that works inside one directory."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root or os.environ.get("SOP_AGENTS_ROOT") or os.getcwd()).resolve()
        super().__init__()

    def inside(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        if path != self.root and self.root not in path.parents:
            raise ToolError(f"{relative!r} is outside the repository root")
        return path

    def walk(self, start: Path):
        """Regular files under `start` that really are inside the root (a symlink out of it,
        a FIFO or a device is never opened)."""
        for directory, subdirectories, files in os.walk(start):
            subdirectories[:] = sorted(d for d in subdirectories if d not in SKIPPED_DIRECTORIES)
            for name in sorted(files):
                path = Path(directory) / name
                if self.is_readable_file(path):
                    yield path

    def is_readable_file(self, path: Path) -> bool:
        try:
            real = path.resolve()
            return (real == self.root or self.root in real.parents) and stat.S_ISREG(real.stat().st_mode)
        except OSError:
            return False


class FileSearchTool(_RootedTool):
    name = "file_search"
    description = "Finds files whose path matches a glob pattern (e.g. '*.py', 'src/*.cpp') under a directory of the repository."
    inputs = {"pattern": {"type": "string", "description": "A glob pattern matched against paths relative to the root."},
              "directory": {"type": "string", "description": "Where to search, relative to the root.", "nullable": True}}
    output_type = "string"

    def forward(self, pattern: str, directory: str | None = None) -> str:
        start = self.inside(directory or ".")
        if not start.is_dir():
            return f"no such directory: {directory}"
        found = []
        for path in self.walk(start):
            relative = str(path.relative_to(self.root))
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(path.name, pattern):
                found.append(relative)
                if len(found) > MAX_RESULTS:
                    break
        return _listing(found, f"no file matches {pattern!r}")


class TextGrepTool(_RootedTool):
    name = "text_grep"
    description = "Searches text files of the repository for a regular expression; returns path:line: text lines."
    inputs = {"pattern": {"type": "string", "description": "A Python regular expression."},
              "file_pattern": {"type": "string", "description": "Only files matching this glob (default: all).", "nullable": True}}
    output_type = "string"

    def forward(self, pattern: str, file_pattern: str | None = None) -> str:
        try:
            regex = re.compile(pattern)
        except re.error as error:
            raise ToolError(f"invalid regular expression {pattern!r}: {error}") from None
        matches = []
        for path in self.walk(self.root):
            if file_pattern and not fnmatch.fnmatch(path.name, file_pattern):
                continue
            try:
                if path.stat().st_size > MAX_FILE_BYTES or _is_binary(path):
                    continue
                for number, line in _lines(path):
                    if regex.search(line):
                        matches.append(f"{path.relative_to(self.root)}:{number}: {line.rstrip()[:200]}")
                        if len(matches) > MAX_RESULTS:
                            return _listing(matches, "")
            except OSError:
                continue
        return _listing(matches, f"no line matches {pattern!r}")


class FileReaderTool(_RootedTool):
    name = "file_reader"
    description = "Reads a text file of the repository (at most 200 lines from start_line)."
    inputs = {"path": {"type": "string", "description": "The file, relative to the root."},
              "start_line": {"type": "integer", "description": "First line to read (1-based).", "nullable": True}}
    output_type = "string"

    def forward(self, path: str, start_line: int | None = None) -> str:
        target = self.inside(path)
        if not target.exists():
            return f"no such file: {path}"
        if target.is_dir():
            return f"{path} is a directory"
        if not self.is_readable_file(target):
            return f"{path} is not a regular file"
        if _is_binary(target):
            return f"{path} is a binary file ({target.stat().st_size} bytes)"
        first = max(1, int(start_line or 1))
        lines = []
        for number, line in _lines(target):
            if number >= first + 200 or sum(map(len, lines)) > MAX_OUTPUT_CHARS:
                break
            if number >= first:
                lines.append(line)
        return _bounded("".join(lines)) if lines else f"{path} has fewer than {first} lines"


TOOLS: dict[str, Callable[..., Tool]] = {
    "file_search": FileSearchTool,
    "text_grep": TextGrepTool,
    "file_reader": FileReaderTool,
}


def make_tool(name: str, root: str | os.PathLike | None = None) -> Tool:
    """A tool by its name in agents.yaml; ValueError naming the known ones otherwise."""
    try:
        factory = TOOLS[name]
    except KeyError:
        raise ValueError(f"unknown tool {name!r}; known tools: {', '.join(sorted(TOOLS))}") from None
    return factory(root)
