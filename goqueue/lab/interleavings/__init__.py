"""Interleavings: run every schedule of a few threads, replay one, and detect data races.

The framework under the explorer: instrumented objects turn each access into a step
(``steps``, ``instrumented``; the locks, queue, events, conditions, semaphores and
barrier of ``threading`` and ``queue`` in ``shared_locks``, ``shared_queue``,
``shared_waits`` and ``shared_counts``), a controlled scheduler runs one thread at a time
(``scheduler``), ``explore`` walks every schedule of a ``model.Scenario``, ``detector``
reports races in the style of ``go test -race`` and ``stepper`` lets a person
choose the steps. Framework code is exactly this directory: its frames are never shown as
where a step was made (steps.is_framework_file). It imports no other wing.
"""
