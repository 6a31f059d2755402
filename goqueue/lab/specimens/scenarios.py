"""Ready-made scenarios for the explorer, the puzzle and ``python -m goqueue.lab explore``.

Each function returns a ``Scenario`` (setup, named threads, invariant) built over the
instrumented objects, so ``explore_scenario(scenario)``, ``replay_scenario(scenario,
schedule)``, ``Stepper(scenario)`` and ``StepperWidget(scenario)`` all work on it.

>>> from goqueue.lab.interleavings.explore import explore_scenario
>>> print(explore_scenario(lost_update()).summary())
4 of 6 interleavings violate the invariant (every interleaving explored)
>>> explore_scenario(registry_race()).failures > 0, explore_scenario(registry_fixed()).failures
(True, 0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from goqueue.lab.interleavings.instrumented import SharedDict, SharedList, SharedVars
from goqueue.lab.interleavings.model import Scenario
from goqueue.lab.interleavings.shared_locks import SharedLock, SharedRWLock
from goqueue.lab.specimens.registries import LockedRegistry, UnsafeRegistry

__all__ = [
    "SCENARIOS",
    "lock_order",
    "lost_update",
    "registry_consistent",
    "registry_fixed",
    "registry_race",
]


def _increment(counter: SharedVars) -> None:
    value = counter.count  # read
    counter.count = value + 1  # write: another thread may have written in between


def lost_update() -> Scenario[SharedVars]:
    """Two threads each do ``count = count + 1``; the invariant is ``count == 2``."""
    return Scenario.of(
        lambda: SharedVars(count=0),
        {"t1": _increment, "t2": _increment},
        lambda counter: counter.count == 2,
    )


def send_sms(ctx: object, payload: object) -> None:
    """A handler (it never runs here: only registered)."""


def _register_sms(registry: UnsafeRegistry) -> None:
    registry.register_handler("sms", send_sms)


def registry_consistent(registry: UnsafeRegistry) -> bool:
    """Both registrations counted, and ``sms`` listed once in the registration order."""
    stats = registry.statistics()
    return stats.registrations == 2 and list(stats.order) == ["sms"]


def registry_race() -> Scenario[UnsafeRegistry]:
    """Two workers register ``sms`` at once on an ``UnsafeRegistry``."""

    def setup() -> UnsafeRegistry:
        return UnsafeRegistry(
            handlers=SharedDict("handlers"), order=SharedList("order"), counts=SharedDict("counts")
        )

    return Scenario.of(
        setup, {"worker-1": _register_sms, "worker-2": _register_sms}, registry_consistent
    )


def registry_fixed() -> Scenario[UnsafeRegistry]:
    """The same two workers on a ``LockedRegistry`` (RWLock, plus a lock for counters)."""

    def setup() -> UnsafeRegistry:
        registry = LockedRegistry(
            handlers=SharedDict("handlers"),
            order=SharedList("order"),
            counts=SharedDict("counts"),
            lock=SharedRWLock("lock"),
            # The counters' lock must be a step too, or the explorer could not schedule it.
            counts_lock=SharedLock("counts_lock"),
        )
        return registry

    return Scenario.of(
        setup, {"worker-1": _register_sms, "worker-2": _register_sms}, registry_consistent
    )


def _forward(locks: tuple[SharedLock, SharedLock]) -> None:
    lock_a, lock_b = locks
    with lock_a, lock_b:
        pass


def _backward(locks: tuple[SharedLock, SharedLock]) -> None:
    lock_a, lock_b = locks
    with lock_b, lock_a:
        pass


def lock_order() -> Scenario[tuple[SharedLock, SharedLock]]:
    """Two threads take the same two locks in opposite orders: a deadlock waiting."""
    return Scenario.of(
        lambda: (SharedLock("lock_a"), SharedLock("lock_b")), {"t1": _forward, "t2": _backward}
    )


#: Name -> scenario factory, for ``python -m goqueue.lab explore --scenario NAME``.
SCENARIOS: dict[str, Callable[[], Scenario[Any]]] = {
    "lost-update": lost_update,
    "registry": registry_race,
    "registry-fixed": registry_fixed,
    "lock-order": lock_order,
}
