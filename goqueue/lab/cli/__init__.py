"""The lab's command line, ``python -m goqueue.lab COMMAND``: see ``cli.main``."""
