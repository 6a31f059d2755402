"""Measure: throughput, cores busy, locks, starvation, timing, retries and storage.

Each module runs an experiment on the real core (or a specimen) and returns a frozen
result that prints as a table, renders as HTML and plots itself; ``machine`` says what the
numbers ran on, ``tables`` holds the shared table and axes code.
"""
