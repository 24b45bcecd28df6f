#!/usr/bin/env python3
"""Checks that real session files match docs/session.schema.json.

Usage: check_session_schema.py SESSION_DIR
Validates every <id>.json in SESSION_DIR, and the span records of every journal line.
Prints 'N passed, N failed' and exits non-zero on any failure.
"""
import json
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "session.schema.json").read_text())


def main() -> int:
    directory = Path(sys.argv[1])
    validator = Draft202012Validator(SCHEMA)
    span_validator = Draft202012Validator({**SCHEMA, "$ref": "#/$defs/span"})
    passed = failed = 0
    files = sorted(directory.glob("*.json"))
    if not files:
        print(f"no session files in {directory}")
        return 1
    for path in files:
        errors = list(validator.iter_errors(json.loads(path.read_text(encoding="utf-8"))))
        for error in errors[:5]:
            print(f"{path.name}: {error.json_path}: {error.message}")
        failed += bool(errors)
        passed += not errors
    for path in sorted(directory.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            record = json.loads(line)
            if "span_id" not in record or record.get("type") == "end":
                continue
            errors = list(span_validator.iter_errors(record))
            for error in errors[:5]:
                print(f"{path.name}:{number}: {error.json_path}: {error.message}")
            failed += bool(errors)
            passed += not errors
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
