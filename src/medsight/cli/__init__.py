"""The ``medsight`` command line: parse, call a service, render. Nothing else."""
