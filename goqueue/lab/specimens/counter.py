"""The classic race demo, ``counter += 1`` on many threads, told honestly.

Every threading tutorial shows threads doing ``counter += 1`` and losing updates. On
CPython 3.10 and later, with the GIL, **that demo loses nothing**: the interpreter hands the
GIL to another thread only where it checks its "eval breaker", which since 3.10 happens at
calls, at function entry and on loop back-edges, and ``counter += 1`` has none of those
between its read and its write. (Python 3.9 and earlier checked at almost any instruction
boundary once the switch interval had passed, so the same line did lose updates.)

The statement is still not atomic, and nothing in the language promises it: a call inside
the window, as in ``counter = add(counter, 1)``, is enough for updates to vanish on every
version, and a free-threaded build (3.13t) has no GIL to hide the race at all. This module
measures both variants and shows the bytecode with the switch points marked:

>>> points = switch_points("counter += 1")
>>> points.window_has_switch_point
False
>>> switch_points("counter = add(counter, 1)").window_has_switch_point
True
"""

from __future__ import annotations

import dis
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "VARIANTS",
    "ClassicResult",
    "SwitchPoints",
    "count_in_threads",
    "show_switch_points",
    "switch_points",
]

#: The statements ``count_in_threads`` can run, by variant name.
VARIANTS = {
    "plain": "counter += 1",
    "call": "counter = add(counter, 1)",
}

# The shared counter of the demo. Guarded by nothing on purpose; _run_lock only keeps two
# *runs* of the demo from sharing it.
counter = 0
_run_lock = threading.Lock()


def add(a: int, b: int) -> int:
    """``a + b``, as a function: calling it opens a switch point inside the window."""
    return a + b


def _plain(n: int) -> None:
    global counter
    for _ in range(n):
        counter += 1


def _call(n: int) -> None:
    global counter
    for _ in range(n):
        counter = add(counter, 1)


_BODIES: dict[str, Callable[[int], None]] = {"plain": _plain, "call": _call}


@dataclass(frozen=True)
class ClassicResult:
    """What ``count_in_threads`` measured.

    Attributes:
        statement: the statement each thread ran in its loop.
        threads: threads per trial.
        increments: increments per thread per trial.
        observed: the counter's final value in each trial.
        switch_interval: ``sys.getswitchinterval()`` during the run.
        python_version: e.g. ``"3.12.1"``.
    """

    statement: str
    threads: int
    increments: int
    observed: tuple[int, ...]
    switch_interval: float
    python_version: str

    @property
    def expected(self) -> int:
        """The final value every trial should reach: threads x increments."""
        return self.threads * self.increments

    @property
    def lost(self) -> int:
        """Increments lost over all trials."""
        return sum(self.expected - value for value in self.observed)

    @property
    def trials_with_loss(self) -> int:
        """Trials that ended below the expected value."""
        return sum(1 for value in self.observed if value < self.expected)

    def __str__(self) -> str:
        return (
            f"{self.statement!r} on {self.threads} threads x {self.increments:,}: lost "
            f"{self.lost:,} increments, {self.trials_with_loss} of {len(self.observed)} "
            f"trials short (Python {self.python_version}, switch interval "
            f"{self.switch_interval:g} s)"
        )


def count_in_threads(
    variant: str = "plain",
    *,
    threads: int = 4,
    increments: int = 100_000,
    trials: int = 5,
    switch_interval: float | None = None,
) -> ClassicResult:
    """Run a shared-counter loop on *threads* threads at once and count lost increments.

    Args:
        variant: ``"plain"`` runs ``counter += 1``; ``"call"`` runs
            ``counter = add(counter, 1)`` (a call inside the read-modify-write window).
        threads: threads per trial, released together by a barrier.
        increments: loop iterations per thread.
        trials: how many times to run the whole thing.
        switch_interval: if given, ``sys.setswitchinterval`` for the run (restored after).

    Returns:
        A ``ClassicResult`` with each trial's final count.

    Raises:
        ValueError: an unknown variant, or a count or interval that is not positive.
    """
    if variant not in _BODIES:
        names = ", ".join(repr(name) for name in _BODIES)
        raise ValueError(f"unknown variant: {variant!r} (expected one of {names})")
    for name, value in (("threads", threads), ("increments", increments), ("trials", trials)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if switch_interval is not None and not switch_interval > 0:
        raise ValueError(f"switch_interval must be > 0, got {switch_interval!r}")
    global counter
    body = _BODIES[variant]
    observed: list[int] = []
    with _run_lock:
        old_interval = sys.getswitchinterval()
        try:
            if switch_interval is not None:
                sys.setswitchinterval(switch_interval)
            used = sys.getswitchinterval()
            for _ in range(trials):
                counter = 0
                barrier = threading.Barrier(threads)

                def run(barrier: threading.Barrier = barrier) -> None:
                    barrier.wait()
                    body(increments)

                workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
                try:
                    for worker in workers:
                        worker.start()
                finally:
                    for worker in workers:
                        if worker.ident is not None:
                            worker.join()
                observed.append(counter)
        finally:
            sys.setswitchinterval(old_interval)
    return ClassicResult(
        statement=VARIANTS[variant],
        threads=threads,
        increments=increments,
        observed=tuple(observed),
        switch_interval=used,
        python_version=".".join(map(str, sys.version_info[:3])),
    )


@dataclass(frozen=True)
class SwitchPoints:
    """The bytecode of a statement, with where this interpreter may switch threads.

    Attributes:
        statement: the statement disassembled (inside a function, ``counter`` global).
        instructions: ``(opname, argument, may_switch)`` for each instruction.
        window: ``(first, last)`` indexes of the read of ``counter`` and its write back.
        window_has_switch_point: True if another thread can run between that read and
            write, i.e. if the statement can lose updates under the GIL.
    """

    statement: str
    instructions: tuple[tuple[str, str, bool], ...]
    window: tuple[int, int]
    window_has_switch_point: bool

    def __str__(self) -> str:
        first, last = self.window
        lines = [f"{self.statement}    ({_rule()})"]
        for i, (opname, argument, may_switch) in enumerate(self.instructions):
            bar = "|" if first <= i <= last else " "
            note = ""
            if i == first:
                note = "read counter"
            elif i == last:
                note = "write counter"
            mark = ">>" if may_switch else "  "
            switch = "may switch threads here" if may_switch else ""
            text = f"{mark} {bar} {opname:<22} {argument:<16} {note:<14} {switch}"
            lines.append(text.rstrip())
        if self.window_has_switch_point:
            lines.append("a switch point lies between the read and the write: updates can be lost")
        else:
            lines.append(
                "no switch point between the read and the write: with the GIL, no update is "
                "lost (the statement is still not atomic by any promise of the language)"
            )
        return "\n".join(lines)


def _rule() -> str:
    return (
        f"Python {sys.version_info[0]}.{sys.version_info[1]}: threads switch only at "
        "calls, function entry and loop back-edges; 3.9 could switch at any instruction"
    )


def _may_switch(opname: str) -> bool:
    """Does this instruction check the eval breaker, i.e. may the GIL change hands here?

    True for calls (the callee's entry checks, and so does the return from a C function),
    function entry (``RESUME``, 3.11+) and backward jumps. On Python 3.9 every
    instruction would qualify; this package runs on 3.10+ only.
    """
    if opname.startswith("CALL_INTRINSIC"):
        return False
    return opname.startswith(("CALL", "YIELD")) or opname in (
        "RESUME",
        "JUMP_BACKWARD",
        "JUMP_ABSOLUTE",
    )


def switch_points(statement: str = "counter += 1") -> SwitchPoints:
    """Disassemble *statement* (about the global ``counter``) and mark the switch points.

    Args:
        statement: one line of Python that reads and writes the global ``counter``.

    Returns:
        A ``SwitchPoints``; ``print`` it for the annotated listing.

    Raises:
        ValueError: the statement does not both read and write ``counter``.
    """
    source = f"def demo():\n    global counter\n    {statement}\n"
    namespace: dict[str, object] = {}
    exec(compile(source, "<switch_points>", "exec"), namespace)
    code = namespace["demo"].__code__  # type: ignore[attr-defined]
    instructions = tuple(
        (ins.opname, ins.argrepr, _may_switch(ins.opname)) for ins in dis.get_instructions(code)
    )
    reads = [
        i
        for i, ins in enumerate(dis.get_instructions(code))
        if ins.opname.startswith("LOAD") and ins.argval == "counter"
    ]
    writes = [
        i
        for i, ins in enumerate(dis.get_instructions(code))
        if ins.opname.startswith("STORE") and ins.argval == "counter"
    ]
    if not reads or not writes:
        raise ValueError(f"statement must read and write counter, got {statement!r}")
    first, last = reads[0], writes[-1]
    inside = any(may for _, _, may in instructions[first + 1 : last])
    return SwitchPoints(statement, instructions, (first, last), inside)


def show_switch_points(statement: str = "counter += 1") -> None:
    """Print the annotated bytecode of *statement* (see ``switch_points``)."""
    print(switch_points(statement))
