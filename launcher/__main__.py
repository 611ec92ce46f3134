"""The `robo-backend` console script and `python -m launcher`: start early, then the CLI.

A warm `up` of the same command starts its backend here, before the CLI and its libraries are
even imported (launcher/up/early.py); the `up` pipeline then confirms it or stops it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def main(cli: Callable[[], object] | None = None) -> None:
    try:
        if cli is None:
            if "up" in sys.argv[1:]:  # only `up` starts early: other commands skip its imports
                from launcher.up.early import start_for_command_line

                start_for_command_line(sys.argv[1:], os.environ)
            from launcher.cli import main as cli_main

            cli = cli_main
        cli()
    except KeyboardInterrupt:  # a Ctrl-C outside the CLI's boundary (before it, or on the way
        from launcher.errors import EXIT_INTERRUPTED  # out while leftovers stop): still 130

        sys.exit(EXIT_INTERRUPTED)
    finally:
        _forget_handled_interrupt()


def _forget_handled_interrupt() -> None:
    """Keep a handled Ctrl-C from turning into death by SIGINT at exit.

    CPython marks a KeyboardInterrupt that ends code run by `exec` of a string (dataclasses
    build their methods that way while a module imports) as unhandled, even when a caller
    catches it; under `python -m` the interpreter then kills itself with SIGINT at exit instead
    of exiting 130. A string `exec` that completes clears the mark.
    """
    exec("")  # noqa: S102 - a constant empty string


if __name__ == "__main__":
    main()
