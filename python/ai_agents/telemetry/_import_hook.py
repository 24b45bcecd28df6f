"""Runs a callback once `smolagents` has been imported — right away if it already is.

A tiny finder at the front of sys.meta_path answers only for "smolagents" and removes itself
when it fires, so imports pay one cheap call until then and nothing afterwards (a general
post-import-hook finder stays in front of every import for the life of the process).
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any, Callable

from .error_handler import record_error


class _Loader(importlib.abc.Loader):
    def __init__(self, loader: Any, callback: Callable[[], None]) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        try:
            self._callback()
        except Exception as error:  # noqa: BLE001
            record_error("instrument", error)


class _Watcher(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, callback: Callable[[], None]) -> None:
        self._name = name
        self._callback = callback

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self._name:
            return None
        remove_watcher(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self._callback)
        return spec


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
