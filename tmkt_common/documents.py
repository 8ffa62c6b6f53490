"""Reading a JSON or TOML file a user gave or a run wrote: every failure is one error line naming the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import tomli

PARSERS = {"JSON": (json.loads, json.JSONDecodeError), "TOML": (tomli.loads, tomli.TOMLDecodeError)}


def read_table(path: Path, fmt: Literal["JSON", "TOML"], error: type[Exception],
               missing: str = "not found") -> dict:
    """The top-level table (object) of `path`; `error` naming the file when it is missing (`missing` says
    what was expected there), unreadable, not valid `fmt`, or not a table."""
    if not path.exists():
        raise error(f"{path}: {missing}")
    loads, invalid = PARSERS[fmt]
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"{path}: cannot read ({getattr(e, 'strerror', None) or e})") from e
    try:
        doc = loads(text)
    except invalid as e:
        raise error(f"{path}: not valid {fmt} ({e})") from e
    if not isinstance(doc, dict):
        raise error(f"{path}: expected a {fmt} object")
    return doc
