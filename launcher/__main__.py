"""The `robo-backend` console script and `python -m launcher`: start early, then the CLI.

A warm `up` of the same command starts its backend here, before the CLI and its libraries are
even imported (launcher/up/early.py); the `up` pipeline then confirms it or stops it.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    try:
        from launcher.up.early import start_for_command_line

        start_for_command_line(sys.argv[1:], os.environ)
        from launcher.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:  # a Ctrl-C outside the CLI's boundary (before it, or on the way
        from launcher.errors import EXIT_INTERRUPTED  # out while leftovers stop): still 130

        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
