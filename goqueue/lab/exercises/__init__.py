"""Exercises: a hint, a worked solution and, where the answer is a value, a self-check.

Every lesson's ``## Exercises`` section has an entry here per item, keyed ``"NN.k"``
(lesson NN, item k). In a notebook::

    hint("03.1")                 # a nudge, not the answer
    solution("03.1")             # the worked solution: code to run, and why it is right
    check_answer("03.2", value)  # right or not, and why

The data lives in one module per lesson (``lesson01`` ... ``lesson08``), each with an
``EXERCISES`` tuple; ``catalog`` finds them by name, so a new lesson adds a module and
touches nothing else. Each solution is code that runs in the lesson's notebook once its
cells have run, and the tests run every one of them, so a broken exercise fails CI.
"""
