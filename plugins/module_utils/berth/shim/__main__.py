"""``python -m berth.shim --ready-fd N RUN_DIR``."""
from __future__ import annotations

from .main import main

if __name__ == "__main__":
    raise SystemExit(main())
