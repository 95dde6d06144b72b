"""The `flashmark` command's entry point (also `python -m flashmark`): Ctrl+C at any moment is one line."""

from __future__ import annotations

import sys


def run() -> None:
    """Run the command line; Ctrl+C, even while it starts up, exits with status 130 and no traceback."""
    try:
        from flashmark.cli import main

        main()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    run()
