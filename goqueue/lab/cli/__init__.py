"""The lab's command line, ``python -m goqueue.lab COMMAND`` (``cli.main``).

One ``argparse`` parser with a subcommand per module: ``race``, ``explore``, ``bench``. No
other wing imports this one.
"""
