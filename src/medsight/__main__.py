"""``python -m medsight``: the same as the ``medsight`` command."""

from medsight.cli.app import main

main()
