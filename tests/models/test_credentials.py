"""Credentials in the endpoint URL (`HF_ENDPOINT=http://user:token@mirror`): the download
authenticates with them, and they appear in nothing the model step writes or prints."""

from __future__ import annotations

import json
from pathlib import Path

from launcher.models.fetch import prefetch
from launcher.models.options import PrefetchOptions
from tests.fakehub.fixtures import BGE_MODEL
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CliRunner

USER = "mirror-user"
SECRET = "s3cr3t-mirror-token"


def _with_credentials(url: str, password: str = SECRET) -> str:
    return url.replace("http://", f"http://{USER}:{password}@", 1)


def _files_under(root: Path) -> str:
    texts = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 1_000_000:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(texts)


def test_a_mirror_behind_basic_auth_is_downloaded_from_with_the_url_credentials(
    fake_hub: FakeHub, make_options, tmp_path: Path, cache_root: Path, log_lines: list[str]
) -> None:
    fake_hub.require_basic_auth(USER, SECRET)
    status_file = tmp_path / "status.json"

    result = prefetch(
        make_options(endpoint=_with_credentials(fake_hub.url)), status_file=status_file
    )

    assert result.state == "ready" and result.resolved == BGE_MODEL
    assert all(r.status != 401 for r in fake_hub.requests)
    assert SECRET not in status_file.read_text(encoding="utf-8")
    assert SECRET not in _files_under(cache_root)
    assert not any(SECRET in line for line in log_lines)


def test_wrong_credentials_are_refused_and_never_shown(
    fake_hub: FakeHub, make_options, tmp_path: Path, sleeps, log_lines: list[str]
) -> None:
    fake_hub.require_basic_auth(USER, "the-right-one")
    status_file = tmp_path / "status.json"
    endpoint = _with_credentials(fake_hub.url)

    result = prefetch(make_options(endpoint=endpoint), status_file=status_file, sleep=sleeps)

    assert result.state == "degraded"
    assert "HTTP 401" in result.attempts[0].error
    document = status_file.read_text(encoding="utf-8")
    assert SECRET not in document and SECRET not in json.dumps(result.to_json())
    assert not any(SECRET in line for line in log_lines)


def test_unreachable_credentialed_endpoint_is_named_masked(
    make_options, tmp_path: Path, sleeps, log_lines: list[str]
) -> None:
    status_file = tmp_path / "status.json"
    options: PrefetchOptions = make_options(endpoint=f"http://{USER}:{SECRET}@127.0.0.1:9")

    result = prefetch(options, status_file=status_file, sleep=sleeps)

    assert result.state == "degraded"
    assert "cannot reach http://***@127.0.0.1:9" in result.attempts[0].error
    assert SECRET not in status_file.read_text(encoding="utf-8")
    assert not any(SECRET in line for line in log_lines)


def test_prefetch_json_and_output_never_carry_the_credentials(
    fake_hub: FakeHub, tmp_path: Path, run_cli: CliRunner
) -> None:
    fake_hub.require_basic_auth(USER, SECRET)
    project = tmp_path / "project"
    project.mkdir()
    cache = tmp_path / "cache"

    done = run_cli(
        "prefetch", "-p", str(project), "--cache-dir", str(cache), "--json",
        env={"HF_ENDPOINT": _with_credentials(fake_hub.url)},
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "ready"
    assert SECRET not in done.stdout and SECRET not in done.stderr
    status = project / ".robo-backend" / "status.json"
    assert SECRET not in status.read_text(encoding="utf-8")
    assert SECRET not in _files_under(cache)


def test_a_malformed_endpoint_is_bad_input_named_without_its_credentials(
    make_options, tmp_path: Path
) -> None:
    from launcher.errors import UsageError

    for endpoint in (f"ftp://{USER}:{SECRET}@host", f"http://{USER}:{SECRET}@[::1"):
        try:
            prefetch(make_options(endpoint=endpoint))
        except UsageError as exc:
            assert "HF_ENDPOINT is not a usable hub URL" in exc.message
            assert SECRET not in exc.message and exc.exit_code == 2
        else:
            raise AssertionError(f"{endpoint} was accepted")


def test_a_malformed_endpoint_does_not_matter_while_the_cache_is_valid(
    fake_hub: FakeHub, make_options
) -> None:
    prefetch(make_options())

    assert prefetch(make_options(endpoint="ftp://nowhere")).state == "ready"
