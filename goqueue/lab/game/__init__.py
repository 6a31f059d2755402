"""The game wing: "you are the scheduler", in levels.

Each level is a few threads of real Python over the instrumented objects of
``goqueue.lab.interleavings``, a goal, and a win the engine checks (an invariant broken, a
thread that raised, a deadlock). ``levels`` holds them, ``attempt`` plays one (the stepper
plus each thread's locals and the win), ``tally`` asks the explorer how many schedules win,
``progress`` unlocks the levels in order. The view is ``goqueue.lab.widgets.game`` and the
terminal version ``python -m goqueue.lab play``.
"""
