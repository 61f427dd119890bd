"""``python -m berth.shim --ready-fd N RUN_DIR``."""
from __future__ import annotations

import os

from .main import main

if __name__ == "__main__":
    os._exit(main())  # no interpreter teardown: everything is written (see command.py)
