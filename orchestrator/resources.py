"""Locates the prompts/ and agents/ folders, both in a source checkout and inside an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The shipped folder `name` ("prompts" or "agents"): inside the wheel, else beside the package."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"delegate's {name}/ folder is missing from this installation; reinstall delegate")
