"""Line numbers of character offsets in one text: the newlines are found once, each lookup is a binary search
(counting newlines from the start of the text for every match is quadratic in a large, finding-heavy file)."""

from __future__ import annotations

import re
from bisect import bisect_left

_NEWLINE = re.compile("\n")


class LineIndex:
    def __init__(self, text: str) -> None:
        self._newlines: list[int] | None = None
        self._text = text

    def line(self, offset: int) -> int:
        """The 1-based line of `offset`: the same as text.count("\\n", 0, offset) + 1."""
        if self._newlines is None:
            self._newlines = [m.start() for m in _NEWLINE.finditer(self._text)]
        return bisect_left(self._newlines, max(offset, 0)) + 1
