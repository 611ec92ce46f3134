"""kill_tree(pid): any process the launcher started goes with all its descendants.

Used for the installer on Ctrl-C and for an orphaned backend of an earlier run. Real
processes: a parent that ignores SIGTERM, a child in its group and a grandchild in its own
session.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from launcher.server.tree import kill_tree
from tests.processes import alive, kill_all

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TREE = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stubborn parent: SIGKILL is needed
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    subprocess.Popen(sleeper)
    subprocess.Popen(sleeper, start_new_session=True)
    print("started", flush=True)
    time.sleep(120)
    """
)


def test_kill_tree_stops_a_stubborn_parent_and_every_descendant() -> None:
    parent = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True)
    tree: list[psutil.Process] = []
    try:
        assert parent.stdout is not None and parent.stdout.readline().strip() == "started"
        root = psutil.Process(parent.pid)
        tree = [root, *root.children(recursive=True)]
        assert len(tree) == 3
        began = time.monotonic()
        kill_tree(parent.pid, grace=0.5)
        assert alive(tree) == []  # the parent ignored SIGTERM: it took the SIGKILL
        assert time.monotonic() - began < 5
        kill_tree(parent.pid)  # already gone: not an error
    finally:
        kill_all(tree)
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
