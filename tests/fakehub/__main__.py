"""Run the fake hub as a process: `python -m tests.fakehub --port 0 --serve-standard`.

For benchmarks and manual runs that need a hub outside pytest. The first line on stdout is the
hub's url (point `HF_ENDPOINT` at it); it serves until SIGTERM/SIGINT, then stops cleanly.
`--serve-standard` serves the shipped pre-built models and needs only the standard library.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from tests.fakehub.server import FakeHub
from tests.fakehub.standard import BGE_FILE, BGE_REPO, shipped_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakehub", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--serve-standard",
        action="store_true",
        help="serve the bge-small and all-MiniLM-L6-v2 stand-ins fastembed asks for",
    )
    parser.add_argument(
        "--big-bytes",
        type=int,
        default=0,
        help=f"pad {BGE_REPO}'s {BGE_FILE} by this many bytes (download benchmarks)",
    )
    parser.add_argument(
        "--throttle", type=float, default=0, help="pace file bodies to this many bytes/s"
    )
    args = parser.parse_args(argv)

    hub = FakeHub(host=args.host, port=args.port)
    with tempfile.TemporaryDirectory(prefix="fakehub-") as scratch:
        if args.serve_standard:  # pre-built: runs from a plain install
            for repo_id, files in shipped_models().items():
                hub.add_repo(repo_id, files)
        if args.big_bytes > 0:  # built here: needs the test extras (onnx, tokenizers)
            from tests.fakehub.builder import build_embedding_model

            big = build_embedding_model(
                Path(scratch) / "big", model_file=BGE_FILE, padding_bytes=args.big_bytes
            )
            hub.add_repo(BGE_REPO, big)
        if args.throttle > 0:
            hub.throttle(args.throttle)

        done = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            done.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        hub.start()
        print(hub.url, flush=True)
        try:
            while not done.wait(0.2):
                pass
        finally:
            hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
