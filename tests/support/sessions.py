"""Record a scripted session into a cassette: the scripted server and the recorder together, metadata filled in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.agent.recording import cassette
from tests.support.messages_api import ScriptedMessagesAPI, Turn

# Shaped like a real key (prefix and 80 characters), so the scrubbing is tested against what a real key looks like.
FAKE_API_KEY = "sk-ant-api03-" + "Fake0Key_for-Tests" * 4 + "OnlyFake"
SERVER = "tests/support/messages_api.py"


@contextlib.contextmanager
def scripted_cassette(
    path: Path, turns: Sequence[Turn], metadata: Mapping[str, Any] | None = None, **server_options: Any
) -> Iterator[ScriptedMessagesAPI]:
    """Play `turns` on a local server and record what the block sends it into `path`.

    Point the client at the yielded server's `base_url` (or set ANTHROPIC_BASE_URL to it) with FAKE_API_KEY. The
    cassette's metadata says `scripted: true` and names the server, beside what `metadata` adds (model, feature, ...).
    The server checks that every turn was played when the block ends cleanly.
    """
    with (
        ScriptedMessagesAPI(turns, **server_options) as api,
        cassette(Path(path), "record", metadata={"scripted": True, "server": SERVER, **(metadata or {})}),
    ):
        yield api
