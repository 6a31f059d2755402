"""What a hammer run saw: each trial's final state, graded the way Java's jcstress does.

A trial ends with the threads joined and the registry inspected on one thread. Its final
state is named by what went wrong (or "consistent") and graded:

* ``ACCEPTABLE``: every count exact, every invariant intact, no exception, and each thread
  read back its own handler after registering it;
* ``INTERESTING``: still correct, but the threads visibly interleaved: a thread registered
  a handler and its very next call got *another* thread's handler for that type. A correct
  registry allows this (the last writer wins); it is proof the run really overlapped;
* ``FORBIDDEN``: something a correct registry never does: a lost counter update, a type
  listed twice or missing, an exception from a registry method;
* ``INCONCLUSIVE``: the trial made no operation at all (its threads were still starting
  when its time ran out), so its clean final state proves nothing.

``anomalies`` adds up the forbidden events (each lost update, each duplicate, each missing
type, each exception), so "zero anomalies" is a claim about every operation of the run.

>>> clean = TrialResult(operations=10, lost_updates=0)
>>> clean.state, clean.grade.name
('consistent', 'ACCEPTABLE')
>>> broken = TrialResult(operations=10, lost_updates=3, exceptions={"RuntimeError": 1})
>>> broken.state, broken.grade.name, broken.anomalies
('lost updates + RuntimeError', 'FORBIDDEN', 4)
"""

from __future__ import annotations

import enum
import html
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Grade", "OutcomeRow", "Outcomes", "TrialResult"]


class Grade(enum.Enum):
    """How a final state is judged (the names jcstress uses)."""

    INCONCLUSIVE = "inconclusive"
    ACCEPTABLE = "acceptable"
    INTERESTING = "interesting"
    FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class TrialResult:
    """The final state of one trial.

    Attributes:
        operations: steps the threads made together, each one call of the registry's
            API except a registration, which is followed by a read-back lookup.
        lost_updates: counter increments missing from the registry's own statistics
            (registrations and lookups, compared with the calls the threads made).
        duplicates: extra entries in ``job_types()`` (a type listed more than once).
        missing: registered types absent from ``job_types()`` or no longer found by
            ``get_handler``, plus types listed that nobody registered.
        exceptions: exceptions raised inside the threads' registry calls, by type name.
        overlaps: read-backs that returned another thread's handler (allowed).
    """

    operations: int
    lost_updates: int = 0
    duplicates: int = 0
    missing: int = 0
    exceptions: Mapping[str, int] = field(default_factory=dict)
    overlaps: int = 0

    @property
    def anomalies(self) -> int:
        """Forbidden events in this trial."""
        return self.lost_updates + self.duplicates + self.missing + sum(self.exceptions.values())

    @property
    def state(self) -> str:
        """A short name for the final state, e.g. ``"lost updates + duplicate types"``."""
        parts = []
        if self.lost_updates:
            parts.append("lost updates")
        if self.duplicates:
            parts.append("duplicate types")
        if self.missing:
            parts.append("missing types")
        parts.extend(sorted(self.exceptions))
        if parts:
            return " + ".join(parts)
        if not self.operations:
            return "no operations"
        return "consistent, threads interleaved" if self.overlaps else "consistent"

    @property
    def grade(self) -> Grade:
        """``FORBIDDEN`` if any anomaly, else ``INCONCLUSIVE`` if no operation ran, else
        ``INTERESTING`` if overlaps, else ``ACCEPTABLE``."""
        if self.anomalies:
            return Grade.FORBIDDEN
        if not self.operations:
            return Grade.INCONCLUSIVE
        return Grade.INTERESTING if self.overlaps else Grade.ACCEPTABLE


@dataclass(frozen=True)
class OutcomeRow:
    """One line of the outcome table: a final state, its grade, how often it was seen."""

    state: str
    grade: Grade
    count: int
    frequency: float


@dataclass(frozen=True)
class Outcomes:
    """Everything one ``hammer`` run observed, and the conditions it ran under.

    Attributes:
        target: what was hammered (``"unsafe"``, ``"locked"``, ``"core"`` or a name).
        trials: one ``TrialResult`` per trial, in order.
        threads: threads per trial.
        seconds: the requested run time (``None`` when a number of iterations was given).
        iterations: operations per thread per trial (``None`` when timed).
        elapsed: measured wall-clock seconds of the whole run.
        switch_interval: ``sys.getswitchinterval()`` while the threads ran.
        seed: the seed of the threads' operation mix.
        python_version: e.g. ``"3.12.1"``.
        gil_enabled: ``sys._is_gil_enabled()`` where it exists, else True.
    """

    target: str
    trials: tuple[TrialResult, ...]
    threads: int
    seconds: float | None
    iterations: int | None
    elapsed: float
    switch_interval: float
    seed: int
    python_version: str
    gil_enabled: bool

    @property
    def operations(self) -> int:
        """Steps made over all trials (see ``TrialResult.operations``)."""
        return sum(t.operations for t in self.trials)

    @property
    def anomalies(self) -> int:
        """Forbidden events over all trials (0 for a correct registry)."""
        return sum(t.anomalies for t in self.trials)

    @property
    def lost_updates(self) -> int:
        """Counter increments lost over all trials."""
        return sum(t.lost_updates for t in self.trials)

    @property
    def invariant_violations(self) -> int:
        """Duplicate and missing types over all trials."""
        return sum(t.duplicates + t.missing for t in self.trials)

    @property
    def exceptions(self) -> dict[str, int]:
        """Exceptions raised inside the threads, by type name, over all trials."""
        total: Counter[str] = Counter()
        for t in self.trials:
            total.update(t.exceptions)
        return dict(sorted(total.items()))

    @property
    def anomalous_trials(self) -> int:
        """Trials whose final state is ``FORBIDDEN``."""
        return sum(1 for t in self.trials if t.grade is Grade.FORBIDDEN)

    def rows(self) -> list[OutcomeRow]:
        """The outcome table: one row per distinct final state, worst grade first."""
        counts = Counter((t.state, t.grade) for t in self.trials)
        order = list(Grade)
        keyed = sorted(counts.items(), key=lambda kv: (-order.index(kv[0][1]), -kv[1]))
        n = len(self.trials) or 1
        return [OutcomeRow(s, g, c, c / n) for (s, g), c in keyed]

    def summary(self) -> str:
        """One line: the target, anomalies, operations and conditions."""
        how = f"{self.seconds:g} s" if self.seconds is not None else f"{self.iterations} iter"
        return (
            f"{self.target}: anomalies: {self.anomalies} in {self.operations:,} operations "
            f"({len(self.trials)} trials, {self.threads} thread{'s' if self.threads > 1 else ''}, "
            f"{how}; Python "
            f"{self.python_version}, GIL {'on' if self.gil_enabled else 'off'}, "
            f"switch interval {self.switch_interval:g} s, seed {self.seed})"
        )

    def details(self) -> list[tuple[str, str]]:
        """The anomaly breakdown as (label, value) pairs."""
        exc = ", ".join(f"{k} x{v}" for k, v in self.exceptions.items()) or "none"
        return [
            ("lost updates", f"{self.lost_updates:,}"),
            ("duplicate or missing types", f"{self.invariant_violations:,}"),
            ("exceptions", exc),
            ("forbidden trials", f"{self.anomalous_trials} of {len(self.trials)}"),
        ]

    def __str__(self) -> str:
        rows = self.rows()
        width = max([len("final state"), *(len(r.state) for r in rows)])
        graded = max([11, *(len(r.grade.name) for r in rows)])
        lines = [
            self.summary(),
            f"  {'final state':<{width}}  {'grade':<{graded}}  {'trials':>6}  {'freq':>6}",
        ]
        for r in rows:
            lines.append(
                f"  {r.state:<{width}}  {r.grade.name:<{graded}}  {r.count:>6}  {r.frequency:>6.0%}"
            )
        lines.extend(f"  {label}: {value}" for label, value in self.details())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colours = {
            Grade.INCONCLUSIVE: "#e2e3e5",
            Grade.ACCEPTABLE: "#d4edda",
            Grade.INTERESTING: "#fff3cd",
            Grade.FORBIDDEN: "#f8d7da",
        }
        body = "".join(
            f'<tr style="background:{colours[r.grade]}"><td>{html.escape(r.state)}</td>'
            f"<td>{r.grade.name}</td><td>{r.count}</td><td>{r.frequency:.0%}</td></tr>"
            for r in self.rows()
        )
        extra = "".join(
            f"<li>{html.escape(label)}: {html.escape(value)}</li>"
            for label, value in self.details()
        )
        return (
            f'<div class="gq-outcomes" data-anomalies="{self.anomalies}" '
            f'data-operations="{self.operations}">'
            f"<p>{html.escape(self.summary())}</p>"
            "<table><thead><tr><th>final state</th><th>grade</th><th>trials</th>"
            f"<th>freq</th></tr></thead><tbody>{body}</tbody></table><ul>{extra}</ul></div>"
        )

    def plot(self, ax: Any = None) -> Any:
        """Bar chart of how many trials ended in each final state, coloured by grade.

        Args:
            ax: a matplotlib ``Axes`` to draw on; a new figure's by default.

        Returns:
            The ``Axes`` drawn on.
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        if ax is None:
            _, ax = plt.subplots()
        colours = {
            Grade.INCONCLUSIVE: "tab:gray",
            Grade.ACCEPTABLE: "tab:green",
            Grade.INTERESTING: "tab:orange",
            Grade.FORBIDDEN: "tab:red",
        }
        rows = self.rows()
        ax.barh(
            [r.state for r in rows],
            [r.count for r in rows],
            color=[colours[r.grade] for r in rows],
        )
        ax.invert_yaxis()
        seen = {r.grade for r in rows}
        ax.legend(  # outside the axes, to the right: never over a bar
            handles=[Patch(color=c, label=g.name.lower()) for g, c in colours.items() if g in seen],
            title="grade",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
        ax.set(
            title=f"{self.target}: {self.anomalies:,} anomalies in {self.operations:,} operations",
            xlabel="trials",
            ylabel="final state",
        )
        return ax
