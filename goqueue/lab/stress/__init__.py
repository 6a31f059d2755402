"""Stress: hammer one object from many threads, trial after trial, and grade the outcomes.

The hammer runs real threads (no scheduler), so what it finds depends on the interpreter
and the machine; outcomes grades each trial's final state the way jcstress does.
"""
