"""Run with `python -m`: the launcher's entry point around a CLI whose boundary handles a Ctrl-C
that arrived while code built by `exec` of a string ran (as dataclasses build their methods at
import), then exits 130 as the boundary does."""

from __future__ import annotations

import sys

from launcher.__main__ import main


def cli() -> None:
    try:
        exec("raise KeyboardInterrupt", {})  # noqa: S102 - the Ctrl-C lands inside exec'd code
    except KeyboardInterrupt:
        sys.exit(130)  # what the CLI's boundary does after saying "interrupted"


if __name__ == "__main__":
    main(cli)
