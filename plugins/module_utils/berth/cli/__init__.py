"""``berth``: the docker-like command line (``python -m berth.cli``)."""
