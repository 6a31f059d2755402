"""goqueue.lab: the race lab. Break the registry on purpose, measure, then fix it.

The core package (``goqueue``) never imports this one. Plotting and widget code import
matplotlib and ipywidgets lazily, inside the functions that need them.
"""

from __future__ import annotations

# -- registries and the hammer (issue 3) --
# -- throughput and lock measurements (issue 3) --
# -- deterministic exploration and the race detector (issue 6) --
# -- notebook panels and lesson helpers (issue 4) --
# -- retries and persistence (issue 5) --

__all__: list[str] = []
