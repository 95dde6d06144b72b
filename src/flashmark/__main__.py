"""Allow `python -m flashmark`."""

from __future__ import annotations

from flashmark.cli import main

if __name__ == "__main__":
    main()
