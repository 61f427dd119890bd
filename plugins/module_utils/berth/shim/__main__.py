"""``python -m berth.shim --ready-fd N RUN_DIR``."""
from __future__ import annotations

import os
import sys

from .main import main

if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no interpreter teardown: everything else is written (see command.py)
