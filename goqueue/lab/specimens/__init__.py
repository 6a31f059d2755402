"""Specimens: code to break and fix (registries, locks, queues, the Go shutdown, a counter).

Each module is a small, complete piece of concurrent code, written the way a student (or
the Go tutorial) first writes it, beside its fixed version where there is one. The other
wings hammer, explore and measure these; ``scenarios`` packages them for the explorer.
"""
