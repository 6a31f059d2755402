"""Which levels a player has solved and may play: they unlock in order.

A ``Progress`` lives as long as the kernel (``session_progress()`` is the one the views
share), and is saved to a small JSON file when given a path. An instructor's progress
unlocks every level.

>>> progress = Progress()
>>> [level.number for level in progress.unlocked()]
[1]
>>> progress.record_win(LEVELS[0])
>>> [level.number for level in progress.unlocked()]
[1, 2]
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from goqueue.lab.game.levels import LEVELS, Level

__all__ = ["Progress", "session_progress"]


class Progress:
    """The levels solved so far, and so the ones unlocked.

    Args:
        path: a JSON file to load from (if it exists) and save to after each win.
        instructor: unlock every level.

    Raises:
        ValueError: the file exists but is not a progress file.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, instructor: bool = False
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.instructor = instructor
        self._lock = threading.Lock()
        self._solved: set[str] = set()  # level keys; guarded by self._lock
        if self.path is not None and self.path.exists():
            self._solved = self._read(self.path)

    def __repr__(self) -> str:
        return f"<Progress solved {len(self.solved())} of {len(LEVELS)}>"

    @staticmethod
    def _read(path: Path) -> set[str]:
        try:
            data = json.loads(path.read_text())
            solved = data["solved"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a progress file: {str(path)!r}") from exc
        known = {level.key for level in LEVELS}
        if not isinstance(solved, list):
            raise ValueError(f"not a progress file: {str(path)!r}")
        return {key for key in solved if key in known}

    def solved(self) -> list[Level]:
        """The levels won, in level order."""
        with self._lock:
            return [level for level in LEVELS if level.key in self._solved]

    def unlocked(self) -> list[Level]:
        """The levels that may be played: every solved one and the first unsolved one."""
        if self.instructor:
            return list(LEVELS)
        with self._lock:
            out = []
            for level in LEVELS:
                out.append(level)
                if level.key not in self._solved:
                    break
            return out

    def is_unlocked(self, level: Level) -> bool:
        """Whether *level* may be played."""
        return level in self.unlocked()

    def record_win(self, level: Level) -> None:
        """Mark *level* solved (and save, with a path)."""
        with self._lock:
            self._solved.add(level.key)
            solved = sorted(self._solved)
        if self.path is not None:
            self.path.write_text(json.dumps({"solved": solved}, indent=1) + "\n")

    def next_level(self, level: Level) -> Level | None:
        """The level after *level*, or None after the last."""
        index = LEVELS.index(level)
        return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


_session: Progress | None = None  # guarded by _session_lock
_session_lock = threading.Lock()


def session_progress() -> Progress:
    """The progress kept for the whole kernel session (made on first use)."""
    global _session
    with _session_lock:
        if _session is None:
            _session = Progress()
        return _session
