"""A hub or mirror that misbehaves without lying about paths: redirect loops, redirects to
another host, sizes no disk holds, a body that trickles in a byte a second.

Each ends the model step the usual way (retried when transient, then the fallback, then
degraded), in one line and bounded time, never as an internal error; credentials never reach
another host; and nothing outside the cache changes.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from launcher.models import space
from launcher.models.fetch import prefetch
from launcher.models.floor import Floor, TooSlow
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL, MINILM_MODEL
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CliRunner

TOKEN = "hf_lyinghubtesttoken"
FIFTY_GB = 50 * 10**9


def _tree(folder: Path) -> dict[str, tuple[bool, bytes]]:
    return {
        str(path.relative_to(folder)): (
            path.is_symlink(),
            b"" if path.is_dir() or path.is_symlink() else path.read_bytes(),
        )
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture
def outside(tmp_path: Path, cache_root: Path) -> Iterator[dict[str, Any]]:
    """Everything beside the cache: the test's folder (minus the cache and the status file,
    which the step writes) and a victim folder with files named like a model's. The test
    asserts they are byte for byte as before."""
    victim = Path(tempfile.mkdtemp(prefix="v", dir="/tmp"))
    for name in ("config.json", "tokenizer.json", BGE_FILE, "precious.txt"):
        (victim / name).write_text(f"the user's own {name}\n")

    def snapshot() -> dict[str, Any]:
        ours = (cache_root.name, "status.json")
        around = {k: v for k, v in _tree(tmp_path).items() if not k.startswith(ours)}
        return {"victim": _tree(victim), "around": around}

    state = {"before": snapshot(), "now": snapshot}
    yield state
    shutil.rmtree(victim, ignore_errors=True)


def _unchanged(outside: dict[str, Any]) -> bool:
    return bool(outside["now"]() == outside["before"])


def _with_sizes(size: int) -> Any:
    def rewrite(info: dict[str, Any]) -> dict[str, Any]:
        for sibling in info["siblings"]:
            if sibling["rfilename"] == BGE_FILE:
                sibling["size"] = size
                if sibling.get("lfs"):
                    sibling["lfs"]["size"] = size
        return info

    return rewrite


@pytest.mark.parametrize("where", ["/api/", "/resolve/"])
def test_a_redirect_loop_is_a_transient_hub_error_then_degraded(
    fake_hub: FakeHub, make_options, sleeps, outside: dict[str, Any], where: str, tmp_path: Path
) -> None:
    fake_hub.redirect_loop(where)
    status_file = tmp_path / "status.json"

    result = prefetch(make_options(retries=2), status_file=status_file, sleep=sleeps)

    assert result.state == "degraded"
    assert [(a.model, a.attempt) for a in result.attempts] == [
        (BGE_MODEL, 1),
        (BGE_MODEL, 2),  # transient: retried
        (MINILM_MODEL, 1),  # then the fallback
        (MINILM_MODEL, 2),
    ]
    assert all("redirect loop" in (a.error or "") for a in result.attempts)
    assert "HF_ENDPOINT" in (result.last_hint or "")
    assert json.loads(status_file.read_text())["model"]["state"] == "degraded"
    # Bounded: each attempt gave up after a handful of hops, not the client's default 20.
    loops = [r for r in fake_hub.requests if r.fault == "redirect-loop"]
    assert 4 <= len(loops) <= 4 * 11
    assert _unchanged(outside)
    fake_hub.clear_faults()  # the mirror is fixed: the next plain run gets the model
    assert prefetch(make_options(), sleep=sleeps).state == "ready"


def test_a_redirect_loop_still_gives_prefetch_json_its_document(
    fake_hub: FakeHub, tmp_path: Path, run_cli: CliRunner
) -> None:
    fake_hub.redirect_loop("/api/")
    project = tmp_path / "project"
    project.mkdir()

    done = run_cli(
        "prefetch", "-p", str(project), "--cache-dir", str(tmp_path / "cache"),
        "--retries", "1", "--json",
        env={"HF_ENDPOINT": fake_hub.url},
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["state"] == "degraded"
    assert "redirect loop" in document["attempts"][0]["error"]
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_credentials_are_never_forwarded_to_another_host(
    fake_hub: FakeHub, make_options, outside: dict[str, Any]
) -> None:
    """The hub sends LFS files to its CDN on another host: the token goes to the hub only."""
    fake_hub.redirect_lfs()
    endpoint = fake_hub.url.replace("http://", "http://user:mirror-secret@", 1)

    result = prefetch(make_options(endpoint=endpoint, token=TOKEN, fallback_model=None))

    assert result.state == "ready"
    hub_side = [r for r in fake_hub.requests if not r.path.startswith("/cdn-lfs/")]
    cdn_side = [r for r in fake_hub.requests if r.path.startswith("/cdn-lfs/")]
    assert cdn_side and all(r.host.startswith("localhost") for r in cdn_side)
    assert all(r.authorization for r in hub_side)
    assert not any(r.authorization for r in cdn_side)
    assert _unchanged(outside)


def test_a_loop_between_two_hosts_never_carries_the_token_across(
    fake_hub: FakeHub, make_options, sleeps
) -> None:
    fake_hub.redirect_loop("/resolve/")

    result = prefetch(make_options(token=TOKEN, retries=1, fallback_model=None), sleep=sleeps)

    assert result.state == "degraded"
    looped = [r for r in fake_hub.requests if r.fault == "redirect-loop"]
    assert not any(r.authorization for r in looped if r.host.startswith("localhost"))


def test_a_50_gb_size_is_refused_by_the_free_space_check_before_any_body(
    fake_hub: FakeHub,
    make_options,
    sleeps,
    outside: dict[str, Any],
    cache_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_hub.lie(_with_sizes(FIFTY_GB))
    monkeypatch.setattr(space, "disk_free", lambda path: 20 * 10**9)  # a laptop's 20 GB free

    result = prefetch(make_options(fallback_model=None), sleep=sleeps)

    assert result.state == "degraded"
    error = result.attempts[0].error or ""
    assert "not enough free space" in error and "50.0 GB to download" in error
    assert "\n" not in error
    assert len(result.attempts) == 1  # a disk problem is not retried
    assert [r for r in fake_hub.requests if "/resolve/" in r.path] == []
    assert not list(cache_root.rglob("*.incomplete"))
    assert _unchanged(outside)
    fake_hub.clear_faults()
    assert prefetch(make_options(fallback_model=None), sleep=sleeps).state == "ready"


def test_a_50_gb_size_on_the_command_line_is_one_line_not_an_internal_error(
    fake_hub: FakeHub, tmp_path: Path, tiny_disk: Path, run_cli: CliRunner
) -> None:
    fake_hub.lie(_with_sizes(FIFTY_GB))
    project = tmp_path / "project"
    project.mkdir()

    done = run_cli(
        "prefetch", "-p", str(project), "--cache-dir", str(tiny_disk / "cache"),
        "--fallback-model", "", "--require-model",
        env={"HF_ENDPOINT": fake_hub.url},
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    assert "not enough free space" in done.stderr and "50.0 GB" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert not list(tiny_disk.rglob("*.incomplete"))


def test_a_one_byte_per_second_trickle_ends_the_attempt_and_the_budget_counts_it(
    fake_hub: FakeHub, make_options, sleeps, outside: dict[str, Any], tmp_path: Path
) -> None:
    """Bytes keep coming (one a second, so the stall watchdog never fires), but far below the
    floor: each attempt ends after one window, its time is charged to the budget, and the step
    ends degraded instead of receiving for hours."""
    fake_hub.throttle(1)
    options = make_options(stall_timeout=2.5, retries=3, retry_delay=1.0, budget=4.0)

    result = prefetch(options, status_file=tmp_path / "status.json", sleep=sleeps)

    assert result.state == "degraded"
    first = result.attempts[0]
    assert "below the floor" in (first.error or "") and "min_download_rate" in (first.error or "")
    assert 0 < first.bytes < 2.5 * 1024  # it did receive, just too little
    assert result.budget_reason is not None  # charged like silence: the budget ended it
    assert {a.model for a in result.attempts} == {BGE_MODEL}
    assert len(result.attempts) <= 2
    assert _unchanged(outside)
    fake_hub.clear_faults()  # the partial file of the trickle is resumed, not thrown away
    again = prefetch(make_options(fallback_model=None), sleep=sleeps)
    assert again.state == "ready"


def test_a_download_above_the_floor_is_not_ended(fake_hub: FakeHub, make_options) -> None:
    fake_hub.throttle(400_000)  # ~2 s for the model: slow, but well above 1 kB/s

    result = prefetch(make_options(stall_timeout=0.5, budget=1.0, fallback_model=None))

    assert result.state == "ready" and result.resolved == BGE_MODEL


def test_the_floor_judges_whole_windows_on_its_own_clock() -> None:
    now = [0.0]
    floor = Floor(1000, 10, "acme/model", clock=lambda: now[0])
    for _ in range(9):  # 9 s at 2 kB/s: within the window, nothing to judge yet
        now[0] += 1
        floor.feed(2000)
    now[0] += 1
    floor.feed(2000)  # the window closes at 2 kB/s: fine, a new window starts
    now[0] += 10
    with pytest.raises(TooSlow) as ended:
        floor.feed(50)  # 50 B in 10 s
    assert "acme/model came at 5 B/s over the last 10 s" in str(ended.value)
    assert Floor(0, 10, clock=lambda: now[0]).active is False  # 0 turns it off


def test_a_dead_proxy_is_named_not_the_hub_blamed(
    fake_hub: FakeHub, make_options, sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = sock.getsockname()[1]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://proxyuser:proxysecret@127.0.0.1:{dead}")

    result = prefetch(make_options(fallback_model=None), sleep=sleeps)

    error = result.attempts[0].error or ""
    assert result.state == "degraded"
    assert f"through the proxy http://***@127.0.0.1:{dead}" in error
    assert "proxysecret" not in error
    assert "HTTP_PROXY" in (result.last_hint or "")
    assert fake_hub.requests == []  # nothing reached the hub: the proxy was the problem
