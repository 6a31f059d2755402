"""``python -m goqueue.lab play LEVEL``: the scheduler game in a terminal, 80 columns wide.

The screen shows the level's goal, each thread's source with the line it runs next marked
``>`` and its locals, the shared state and the last steps. Press a thread's number to let
it take a step (or choose it with the left/right arrows and press Enter), ``u`` to undo,
``r`` to reset, ``h`` for a hint, ``q`` to quit. After a win it prints the explorer's count
("you found 1 of N breaking schedules (M total)"); ``p`` then replays the shortest win
and ``n`` opens the next level. Without a terminal (a pipe, a test) it reads the same
commands as words, one or more a line: ``1 2 1 2``.

Exits 0 when the level was solved, 1 when it was left unsolved, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import TextIO

from goqueue.lab.game.attempt import Attempt
from goqueue.lab.game.levels import LEVELS, Level, find_level
from goqueue.lab.game.progress import Progress
from goqueue.lab.game.tally import tally

__all__ = ["HELP", "WIDTH", "add_arguments", "render", "run"]

#: The one-line help of the subcommand.
HELP = "play the scheduler game: step threads by hand until the code breaks"

#: The widest line printed.
WIDTH = 80

KEYS = "keys: 1-9 step a thread, left/right + Enter, u undo, r reset, h hint, q quit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``play`` subcommand's arguments to *parser*."""
    parser.description = (
        "You are the scheduler: choose which thread takes each step until the code breaks "
        "the way the level asks. Levels: "
        + ", ".join(f"{lv.number} {lv.key}" for lv in LEVELS)
        + "."
    )
    parser.add_argument(
        "level",
        nargs="?",
        default=None,
        metavar="LEVEL",
        help="the level's number or name (default: the first one not solved)",
    )
    parser.add_argument(
        "--progress",
        metavar="FILE",
        default=None,
        help="a JSON file that keeps the levels solved; levels then unlock in order",
    )
    parser.add_argument("--list", action="store_true", help="list the levels and exit")


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"


def _wrap(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent) or [""]


def render(attempt: Attempt, chosen: int = 0) -> str:
    """The screen for *attempt*: goal, threads, state, last steps; no line over 80 columns.

    Args:
        attempt: the level being played.
        chosen: the index of the thread the arrow keys have chosen.
    """
    level = attempt.level
    lines = [f"Level {level.number}/{len(LEVELS)}: {level.title}"]
    lines += _wrap(f"Goal: {level.goal}")
    lines.append("-" * WIDTH)
    for index, panel in enumerate(attempt.threads()):
        pointer = "*" if index == chosen else " "
        status = f"{panel.status}: next {panel.next_step}"
        if panel.status == "done":
            status = "finished"
        lines.append(_fit(f"{pointer}[{index + 1}] {panel.name}  {status}"))
        for number, text in enumerate(panel.source):
            mark = ">" if number == panel.line else " "
            lines.append(_fit(f"  {mark}{number + 1:>3} {text}"))
        if panel.local_values:
            shown = ", ".join(f"{k}={v}" for k, v in panel.local_values.items())
            lines += _wrap(f"locals: {shown}", "       ")
    lines.append("-" * WIDTH)
    lines += _wrap(f"shared: {attempt.state()}")
    history = attempt.history
    first = max(0, len(history) - 5)
    for number, step in enumerate(history[first:], first + 1):
        lines.append(_fit(f"  {number:>3}. {step.thread}: {step.text}"))
    banner = attempt.banner()
    if banner:
        lines += _wrap(f"*** {banner}")
    if attempt.solved:
        lines += _wrap(tally(level).sentence())
        lines += _wrap(level.lesson)
        more = ", p replay the shortest win" if level.breakable else ""
        lines.append(_fit(f"keys: u undo, r reset{more}, n next level, q quit"))
    else:
        lines.append(_fit(KEYS))
    return "\n".join(lines)


def _line_tokens(stream: TextIO) -> Iterator[str]:
    for line in stream:
        yield from line.split()


def _key_tokens() -> Iterator[str]:
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)  # keys typed early are kept, not flushed
        while True:
            char = os.read(fd, 1).decode(errors="replace")
            if char == "\x1b":  # an arrow is ESC [ C (right) or ESC [ D (left)
                rest = os.read(fd, 1) + os.read(fd, 1)
                yield {b"[C": "right", b"[D": "left"}.get(rest, "")
            elif char in ("\r", "\n", " "):
                yield "enter"
            elif char in ("", "\x04"):
                return
            else:
                yield char
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _play(
    level: Level, progress: Progress | None, tokens: Iterator[str], out: Callable[[str], None]
) -> tuple[bool, Level | None]:
    """Play *level* until quit or "next level"; returns (solved, the next level or None)."""
    attempt = Attempt(level)
    chosen = 0
    try:
        out(render(attempt, chosen))
        for token in tokens:
            names = [panel.name for panel in attempt.threads()]
            note = ""
            if token == "q":
                break
            if token == "n" and attempt.solved:
                following = LEVELS.index(level) + 1
                return True, LEVELS[following] if following < len(LEVELS) else None
            try:
                if token.isdigit() and 1 <= int(token) <= len(names):
                    chosen = int(token) - 1
                    attempt.step(names[chosen])
                elif token in names:
                    chosen = names.index(token)
                    attempt.step(token)
                elif token in ("left", "right"):
                    chosen = (chosen + (1 if token == "right" else -1)) % len(names)
                elif token == "enter":
                    attempt.step(names[chosen])
                elif token == "u":
                    attempt.undo()
                elif token == "r":
                    attempt.reset()
                elif token == "h":
                    note = f"hint: {level.hint}"
                elif token == "p" and attempt.solved and level.breakable:
                    attempt.load(tally(level).shortest)
                    while attempt.play_next():
                        pass
                    note = "replayed the shortest win"
                elif token:
                    note = f"unknown key: {token!r}"
            except ValueError as exc:
                note = str(exc)
            if attempt.solved and progress is not None:
                progress.record_win(level)
            out("")
            out(render(attempt, chosen))
            if note:
                out("\n".join(_wrap(note)))
        return attempt.solved, None
    finally:
        attempt.close()


def run(args: argparse.Namespace) -> int:
    """Run the ``play`` subcommand; returns the exit status."""
    if args.list:
        for level in LEVELS:
            print(_fit(f"{level.number:>2}  {level.key:<20} {level.title}"))
        return 0
    progress = Progress(args.progress) if args.progress is not None else None
    try:
        if args.level is not None:
            which = int(args.level) if args.level.isdigit() else args.level
            level = find_level(which)
        elif progress is not None:
            level = progress.unlocked()[-1]
        else:
            level = LEVELS[0]
    except KeyError as exc:
        print(f"play: {exc.args[0]}", file=sys.stderr)
        return 2
    if progress is not None and not progress.is_unlocked(level):
        print(
            f"play: level {level.number} is locked: solve level {level.number - 1}", file=sys.stderr
        )
        return 2
    tokens = _key_tokens() if sys.stdin.isatty() else _line_tokens(sys.stdin)
    solved = False
    current: Level | None = level
    while current is not None:
        solved, current = _play(current, progress, tokens, print)
    return 0 if solved else 1
