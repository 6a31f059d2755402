"""goqueue.lab: the race lab. Break the registry on purpose, measure, then fix it.

The core package (``goqueue``) never imports this one. The lab is eight wings, each a
subpackage; this front re-exports what the notebooks and the benchmarks use, one group per
wing (ARCHITECTURE.md draws them and the rules between them). Plotting and widget code
import matplotlib and ipywidgets lazily, inside the functions that need them.
"""

from __future__ import annotations

# -- specimens: code to break and fix (registries, locks, queues, the Go shutdown, a counter)
from goqueue.lab.specimens.counter import (
    ClassicResult,
    SwitchPoints,
    count_in_threads,
    show_switch_points,
    switch_points,
)
from goqueue.lab.specimens.go_shutdown import (
    GoShutdownStats,
    GoStopOutcome,
    dropped_jobs,
    go_shutdown_trials,
    go_stop_once,
    plot_dropped,
)
from goqueue.lab.specimens.gostyle_queue import GoJob, GoStyleQueue
from goqueue.lab.specimens.reader_preferring import ReaderPreferringRWLock
from goqueue.lab.specimens.registries import (
    LockedRegistry,
    OneLockRegistry,
    RegistryStatistics,
    UnsafeRegistry,
)
from goqueue.lab.specimens.scenarios import SCENARIOS
from goqueue.lab.specimens.sync_queue import SyncQueue
from goqueue.lab.specimens.writer_preferring import WriterPreferringRWLock

# isort: split
# -- stress: hammer a registry from many threads, grade what each trial saw
from goqueue.lab.stress.hammer import HammerInterrupted, HammerProgress, hammer
from goqueue.lab.stress.outcomes import Grade, OutcomeRow, Outcomes, TrialResult

# isort: split
# -- interleavings: every schedule of a few threads, replayed step by step; the race detector
from goqueue.lab.interleavings.detector import Race, RaceDetector, race_detector
from goqueue.lab.interleavings.explore import (
    ExploreResult,
    explore,
    explore_scenario,
    replay,
    replay_scenario,
)
from goqueue.lab.interleavings.instrumented import SharedDict, SharedList, SharedVars
from goqueue.lab.interleavings.model import Execution, Scenario, Step
from goqueue.lab.interleavings.shared_counts import (
    SharedBarrier,
    SharedBoundedSemaphore,
    SharedSemaphore,
)
from goqueue.lab.interleavings.shared_locks import SharedLock, SharedRWLock
from goqueue.lab.interleavings.shared_queue import SharedQueue
from goqueue.lab.interleavings.shared_waits import SharedCondition, SharedEvent
from goqueue.lab.interleavings.stepper import Stepper

# isort: split
# -- measure: throughput, cores busy, locks, starvation and fairness, timing, retries, storage,
# races in a PostgreSQL database and worker processes sharing it
from goqueue.lab.measure.cores_busy import CoresBusy, CoresBusyRow, measure_cores_busy
from goqueue.lab.measure.crash import CrashResult, kill_mid_run
from goqueue.lab.measure.database import Database, start_database
from goqueue.lab.measure.fairness import (
    FairnessComparison,
    FairnessRow,
    ReaderStarvationResult,
    compare_fairness,
    reader_starvation_demo,
)
from goqueue.lab.measure.lock_probe import LockProbe, probe_behind_waiting_writer, probe_lock
from goqueue.lab.measure.lock_results import Crossover, LockComparison, LockRow
from goqueue.lab.measure.locks import compare_locks
from goqueue.lab.measure.retries import (
    AttemptRecord,
    herd_schedule,
    peak_load,
    plot_attempts,
    plot_herd,
    record_attempts,
)
from goqueue.lab.measure.speedups import best_of, plot_speedups, speedups
from goqueue.lab.measure.sql_races import (
    COUNTER_METHODS,
    SQL_RACES,
    CounterTrials,
    count_lost_updates,
    replay_sql,
)
from goqueue.lab.measure.starvation import StarvationResult, starvation_demo
from goqueue.lab.measure.storage import cross_thread_error, locked_errors, storage_locked_errors
from goqueue.lab.measure.throughput import (
    ThroughputResult,
    ThroughputRow,
    measure_storage_throughput,
    measure_throughput,
)
from goqueue.lab.measure.timing import (
    Span,
    SpanRecorder,
    TimingRow,
    format_timing,
    ideal_seconds,
    plot_timeline,
    plot_timing,
    time_sleeping_jobs,
)
from goqueue.lab.measure.worker_processes import (
    ProcessRow,
    plot_process_throughput,
    process_throughput,
)

# isort: split
# -- game: "you are the scheduler", level by level, with the explorer's count of wins
from goqueue.lab.game.attempt import Attempt
from goqueue.lab.game.levels import LEVELS, Level, find_level
from goqueue.lab.game.progress import Progress
from goqueue.lab.game.tally import Tally, tally

# isort: split
# -- exercises: a hint, a worked solution and a self-check for every lesson's exercises
from goqueue.lab.exercises.catalog import check_answer, hint, solution

# isort: split
# -- widgets: notebook panels, the stepper's buttons, diagrams, source listings
from goqueue.lab.widgets.diagrams import draw_state_machine, state_machine_edges
from goqueue.lab.widgets.game import GameWidget
from goqueue.lab.widgets.pool_panel import PoolPanel, pool_panel
from goqueue.lab.widgets.race_panel import RacePanel, race_panel
from goqueue.lab.widgets.source import changed_lines, source_of
from goqueue.lab.widgets.stepper import StepperWidget

# -- cli: ``python -m goqueue.lab race | explore | bench`` (goqueue.lab.cli.main); no names

__all__: list[str] = [
    "COUNTER_METHODS",
    "LEVELS",
    "SCENARIOS",
    "SQL_RACES",
    "Attempt",
    "AttemptRecord",
    "ClassicResult",
    "CoresBusy",
    "CoresBusyRow",
    "CounterTrials",
    "CrashResult",
    "Crossover",
    "Database",
    "Execution",
    "ExploreResult",
    "FairnessComparison",
    "FairnessRow",
    "GameWidget",
    "GoJob",
    "GoShutdownStats",
    "GoStopOutcome",
    "GoStyleQueue",
    "Grade",
    "HammerInterrupted",
    "HammerProgress",
    "Level",
    "LockComparison",
    "LockProbe",
    "LockRow",
    "LockedRegistry",
    "OneLockRegistry",
    "OutcomeRow",
    "Outcomes",
    "PoolPanel",
    "ProcessRow",
    "Progress",
    "Race",
    "RaceDetector",
    "RacePanel",
    "ReaderPreferringRWLock",
    "ReaderStarvationResult",
    "RegistryStatistics",
    "Scenario",
    "SharedBarrier",
    "SharedBoundedSemaphore",
    "SharedCondition",
    "SharedDict",
    "SharedEvent",
    "SharedList",
    "SharedLock",
    "SharedQueue",
    "SharedRWLock",
    "SharedSemaphore",
    "SharedVars",
    "Span",
    "SpanRecorder",
    "StarvationResult",
    "Step",
    "Stepper",
    "StepperWidget",
    "SwitchPoints",
    "SyncQueue",
    "Tally",
    "ThroughputResult",
    "ThroughputRow",
    "TimingRow",
    "TrialResult",
    "UnsafeRegistry",
    "WriterPreferringRWLock",
    "best_of",
    "changed_lines",
    "check_answer",
    "compare_fairness",
    "compare_locks",
    "count_in_threads",
    "count_lost_updates",
    "cross_thread_error",
    "draw_state_machine",
    "dropped_jobs",
    "explore",
    "explore_scenario",
    "find_level",
    "format_timing",
    "go_shutdown_trials",
    "go_stop_once",
    "hammer",
    "herd_schedule",
    "hint",
    "ideal_seconds",
    "kill_mid_run",
    "locked_errors",
    "measure_cores_busy",
    "measure_storage_throughput",
    "measure_throughput",
    "peak_load",
    "plot_attempts",
    "plot_dropped",
    "plot_herd",
    "plot_process_throughput",
    "plot_speedups",
    "plot_timeline",
    "plot_timing",
    "pool_panel",
    "probe_behind_waiting_writer",
    "probe_lock",
    "process_throughput",
    "race_detector",
    "race_panel",
    "reader_starvation_demo",
    "record_attempts",
    "replay",
    "replay_scenario",
    "replay_sql",
    "show_switch_points",
    "solution",
    "source_of",
    "speedups",
    "start_database",
    "starvation_demo",
    "state_machine_edges",
    "storage_locked_errors",
    "switch_points",
    "tally",
    "time_sleeping_jobs",
]
