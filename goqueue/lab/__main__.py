"""``python -m goqueue.lab``: the race lab from a terminal (see ``goqueue.lab.cli.main``)."""

from goqueue.lab.cli.main import main

raise SystemExit(main())
