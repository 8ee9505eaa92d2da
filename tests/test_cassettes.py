"""The bundled cassettes: readable, scripted as their metadata says, and free of any credential."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from orchestrator.agent.recording import read_metadata
from tests.support.agent_sessions import SESSIONS

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
FILES = sorted(CASSETTES.glob("*.yaml"))
KEY_SHAPES = [
    re.compile(r"sk-ant-(?!REDACTED)[A-Za-z0-9_-]{8,}"),  # Anthropic keys (the recorder writes sk-ant-REDACTED)
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._-]{12,}"),
]


def test_every_scripted_session_has_its_cassette() -> None:
    assert sorted(p.stem for p in FILES) == sorted(SESSIONS)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_cassette_carries_no_credential_and_says_it_was_scripted(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for shape in KEY_SHAPES:
        assert not shape.search(text), f"{path.name}: {shape.pattern} matches"
    data = yaml.safe_load(text)
    for interaction in data["interactions"]:
        request_headers = {name.lower() for name in interaction["request"]["headers"]}
        response_headers = {name.lower() for name in interaction["response"]["headers"]}
        assert not request_headers & {"authorization", "x-api-key", "cookie"}, path.name
        assert "set-cookie" not in response_headers, path.name
        assert interaction["request"]["uri"].endswith("/v1/messages")
    metadata = read_metadata(path)
    assert metadata["scripted"] is True and metadata["server"] == "tests/support/messages_api.py"
    assert metadata["session"] == path.stem and metadata["feature"] == "specs/042-lesson-progress"
