"""``python -m goqueue.lab``: the race lab from a terminal (see ``goqueue.lab.cli``)."""

from goqueue.lab.cli import main

raise SystemExit(main())
