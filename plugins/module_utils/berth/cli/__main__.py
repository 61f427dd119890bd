"""``python -m berth.cli``."""
from __future__ import annotations

from .main import console

if __name__ == "__main__":
    console()
