"""Runs a callback once `smolagents` has been imported — right away if it already is.

A tiny finder at the front of sys.meta_path answers only for "smolagents" and removes itself
once the module has run, so imports pay one cheap call until then and nothing afterwards (a
general post-import-hook finder stays in front of every import for the life of the process).
Asking for the spec without importing (importlib.util.find_spec, to see whether an optional
dependency is installed) leaves it in place for the import that follows.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
from typing import Any, Callable

from .error_handler import record_error


class _Loader:  # the loader protocol (importlib.abc would add ~10 ms to every start)
    """The module's own loader, calling the watcher's callback once the module has run."""

    def __init__(self, loader: Any, watcher: "_Watcher") -> None:
        self._loader = loader
        self._watcher = watcher

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._watcher.fire()

    def __getattr__(self, name: str) -> Any:  # is_package, get_code, get_resource_reader, ...
        return getattr(self._loader, name)


class _Watcher:  # the meta path finder protocol
    def __init__(self, name: str, callback: Callable[[], None]) -> None:
        self._name = name
        self._callback = callback
        self._fired = False
        self._finding = threading.local()  # inside our own find_spec on this thread

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self._name or getattr(self._finding, "active", False):
            return None
        self._finding.active = True
        try:
            spec = importlib.util.find_spec(fullname)  # the finders after this one
        finally:
            self._finding.active = False
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self)  # type: ignore[assignment]  # a Loader by protocol
        return spec

    def fire(self) -> None:
        remove_watcher(self)
        if self._fired:
            return
        self._fired = True
        try:
            self._callback()
        except Exception as error:  # noqa: BLE001
            record_error("instrument", error)


def remove_watcher(watcher: Any) -> None:
    try:
        sys.meta_path.remove(watcher)
    except ValueError:
        pass


def when_imported(name: str, callback: Callable[[], None]) -> None:
    if name in sys.modules:
        callback()
        return
    sys.meta_path.insert(0, _Watcher(name, callback))
