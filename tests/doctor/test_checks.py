"""Each check's ok / warn / fail paths, on real files, sockets and a loopback hub.

Only what this Linux machine cannot show (Windows' execution policy and registry, another OS
in the platform facts) is injected through DoctorContext; nothing is patched.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from launcher.checks import CHECK_IDS, DoctorContext, run_checks
from launcher.checks.cache import SPACE_MARGIN
from launcher.checks.probes import DiskUsage, HubAnswer
from launcher.checks.system import parse_execution_policies
from launcher.models.location import CacheLocation
from launcher.models.lock import lock_path
from launcher.settings import Settings
from tests.fakehub.fixtures import BGE_MODEL, BGE_REPO, MINILM_MODEL, MINILM_REPO
from tests.fakehub.server import FakeHub
from tests.helpers.cachebuild import LockHolder, break_model, corrupt_model, make_model
from tests.helpers.doctor import LINUX, WINDOWS, Builder, only

BGE_ID = f"model:{BGE_MODEL}"
MINILM_ID = f"model:{MINILM_MODEL}"


# --------------------------------------------------------------------------- os and shell


def test_os_is_ok_and_names_the_platform(build: Builder) -> None:
    check = only(build(), "os")
    assert check.status == "ok"
    assert check.summary.startswith("Linux")
    assert check.details["platform"] == "linux" and check.details["wsl"] is False


def test_os_warns_about_a_wsl_project_on_a_windows_drive(project: Path) -> None:
    facts = LINUX.__class__(platform="linux", env={"WSL_DISTRO_NAME": "Ubuntu"}, parents=("bash",))
    # The project path is only read as text: a Windows drive as WSL mounts it.
    context = DoctorContext(
        settings=Settings(project=Path("/mnt/c/Users/me/backend")),
        facts=facts,
        env={},
        cache=None,
        port=8000,
    )
    check = only(context, "os")
    assert check.status == "warn"
    assert "(WSL)" in check.summary and "/mnt/c" in check.summary
    assert "Linux file system" in check.hint


def test_shell_is_detected_from_the_parent_process(build: Builder) -> None:
    check = only(build(), "shell")
    assert check.status == "ok"
    assert check.details["name"] == "bash"
    assert "bash" in check.details["reason"]


def test_shell_override_names_its_source(build: Builder) -> None:
    check = only(build(env={"ROBO_BACKEND_SHELL": "fish"}), "shell")
    assert check.status == "ok" and check.details["name"] == "fish"
    assert "ROBO_BACKEND_SHELL" in check.summary


def test_shell_unknown_is_a_warning_with_the_flag_to_use(build: Builder) -> None:
    facts = LINUX.__class__(platform="linux", env={}, parents=())
    check = only(build(facts=facts), "shell")
    assert check.status == "warn"
    assert "--shell" in check.hint


def test_shell_override_that_is_not_a_shell_fails(build: Builder) -> None:
    check = only(build(env={"ROBO_BACKEND_SHELL": "notashell"}), "shell")
    assert check.status == "fail"
    assert "notashell" in check.summary and check.hint


# --------------------------------------------------------------------------- uv


def test_uv_found_reports_its_version(build: Builder) -> None:
    check = only(build(), "uv")
    assert check.status == "ok"
    assert check.details["version"].startswith("uv ")


def test_uv_missing_is_a_warning(build: Builder) -> None:
    check = only(build(find_uv=lambda env: None), "uv")
    assert check.status == "warn"
    assert "pip install uv" in check.hint


def test_uv_that_does_not_run_is_a_warning(build: Builder, tmp_path: Path) -> None:
    broken = tmp_path / "uv"
    broken.write_text("#!/bin/sh\necho 'uv: cannot start' >&2\nexit 3\n", encoding="utf-8")
    broken.chmod(0o755)
    check = only(build(find_uv=lambda env: str(broken)), "uv")
    assert check.status == "warn"
    assert "does not run" in check.summary and "cannot start" in check.summary


# --------------------------------------------------------------------------- Windows only


def test_windows_checks_are_absent_elsewhere(build: Builder) -> None:
    ids = {c.id for c in run_checks(build())}
    assert "powershell-policy" not in ids and "long-paths" not in ids


POLICY_TABLE = """
        Scope ExecutionPolicy
        ----- ---------------
MachinePolicy       {machine}
   UserPolicy       Undefined
      Process       Undefined
  CurrentUser       {user}
 LocalMachine       Undefined
"""


def test_execution_policy_table_is_parsed() -> None:
    scopes = parse_execution_policies(POLICY_TABLE.format(machine="Undefined", user="Bypass"))
    assert scopes["CurrentUser"] == "Bypass" and scopes["MachinePolicy"] == "Undefined"


@pytest.mark.parametrize(
    ("machine", "user", "status", "fragment"),
    [
        ("Undefined", "RemoteSigned", "ok", "RemoteSigned (from CurrentUser)"),
        ("Undefined", "Undefined", "warn", "Restricted (from default)"),
        ("AllSigned", "RemoteSigned", "warn", "AllSigned (from MachinePolicy)"),
    ],
)
def test_powershell_policy(
    build: Builder, machine: str, user: str, status: str, fragment: str
) -> None:
    table = POLICY_TABLE.format(machine=machine, user=user)
    check = only(build(facts=WINDOWS, execution_policy=lambda: table), "powershell-policy")
    assert check.status == status
    assert fragment in check.summary
    if status == "warn":
        assert "`up` needs no scripts" in check.hint
        assert "Invoke-Expression" in check.hint
    if machine != "Undefined":
        assert "Group Policy" in check.hint


def test_powershell_policy_unreadable_is_a_warning(build: Builder) -> None:
    check = only(build(facts=WINDOWS, execution_policy=lambda: ""), "powershell-policy")
    assert check.status == "warn" and "could not be read" in check.summary


@pytest.mark.parametrize(("enabled", "status"), [(True, "ok"), (False, "warn"), (None, "warn")])
def test_long_paths(build: Builder, enabled: bool | None, status: str) -> None:
    check = only(build(facts=WINDOWS, long_paths=lambda: enabled), "long-paths")
    assert check.status == status
    if status == "warn":
        assert "LongPathsEnabled" in check.hint


# --------------------------------------------------------------------------- cache dir


def test_cache_dir_ok_is_persistent_writable_with_free_space(build: Builder) -> None:
    context = build()
    assert context.cache is not None
    # The test's HOME lives in the temp folder; the real default is persistent.
    context.cache = CacheLocation(context.cache.path, context.cache.source, True)
    check = only(context, "cache-dir")
    assert check.status == "ok", check
    assert check.details["persistent"] is True and check.details["writable"] is True
    assert check.details["free_bytes"] > 0
    assert check.details["source"] == "default"


def test_cache_dir_that_is_a_file_fails(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a folder", encoding="utf-8")
    context = DoctorContext(
        settings=Settings(project=project),
        facts=LINUX,
        env={"HF_HUB_OFFLINE": "1"},
        cache=CacheLocation(blocker, "--cache-dir", True),
        port=0,
    )
    check = only(context, "cache-dir")
    assert check.status == "fail"
    assert "not a folder" in check.summary and "--cache-dir" in check.hint


def test_cache_dir_setting_that_cannot_be_used_warns_about_the_fallback(
    build: Builder, tmp_path: Path
) -> None:
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a folder", encoding="utf-8")
    check = only(build(flags={"cache_dir": str(blocker)}), "cache-dir")
    assert check.status == "warn"
    assert str(blocker) in check.summary and "skipped" in check.summary


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX users")
def test_cache_dir_not_writable_fails(tmp_path: Path) -> None:
    """chmod does not stop root, so the check runs as `nobody` (setpriv) on a root-owned folder."""
    if os.geteuid() != 0 or not Path("/usr/bin/setpriv").exists():
        pytest.skip("needs root and setpriv to drop privileges")
    locked = Path(tempfile.mkdtemp(prefix="robo-ro-", dir="/tmp"))
    try:
        locked.chmod(0o755)  # readable by everyone, writable by root only
        code = (
            "import json, sys\n"
            "from pathlib import Path\n"
            "from launcher.checks import DoctorContext, run_checks\n"
            "from launcher.settings import Settings\n"
            "from launcher.models.location import CacheLocation\n"
            "from launcher.shells.detect import PlatformFacts\n"
            "root = Path(sys.argv[1])\n"
            "ctx = DoctorContext(settings=Settings(project=root), facts=PlatformFacts('linux'),\n"
            "    env={}, cache=CacheLocation(root, '--cache-dir', True), port=0)\n"
            "print(json.dumps([c.to_json() for c in run_checks(ctx, only={'cache-dir'})]))\n"
        )
        done = subprocess.run(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                sys.executable,
                "-c",
                code,
                str(locked),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": os.environ["PATH"], "HOME": str(locked)},
            cwd="/",
        )
        assert done.returncode == 0, done.stderr
        (check,) = json.loads(done.stdout)
        assert check["status"] == "fail"
        assert "not writable" in check["summary"] and "Permission denied" in check["summary"]
        assert "write access" in check["hint"]
    finally:
        locked.rmdir()


def test_cache_dir_in_the_temp_folder_warns(project: Path) -> None:
    temp = Path(tempfile.gettempdir()) / "fastembed_cache_doctor_test"
    context = DoctorContext(
        settings=Settings(project=project),
        facts=LINUX,
        env={"HF_HUB_OFFLINE": "1"},
        cache=CacheLocation(Path(tempfile.mkdtemp()), "FASTEMBED_CACHE_PATH", False),
        port=0,
    )
    check = only(context, "cache-dir")
    assert check.status == "warn"
    assert "temporary folder" in check.summary
    assert "FASTEMBED_CACHE_PATH" in check.hint
    assert not temp.exists()


def test_cache_dir_without_room_for_the_missing_model_fails(build: Builder) -> None:
    tiny = lambda path: DiskUsage(total=10_000_000, used=9_999_000, free=1_000)  # noqa: E731
    check = only(build(disk_usage=tiny), "cache-dir")
    assert check.status == "fail"
    assert "1.0 kB free" in check.summary and BGE_MODEL in check.summary
    # the model once (a download is renamed into place, not copied) plus the margin
    assert check.details["needed_bytes"] == 67_000_000 + SPACE_MARGIN


def test_cache_dir_space_is_not_needed_when_the_model_is_cached(
    build: Builder, tmp_path: Path, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    cache = tmp_path / "cache"
    make_model(cache, BGE_MODEL, embedding_models[BGE_REPO])
    tiny = lambda path: DiskUsage(total=10_000_000, used=9_999_000, free=1_000)  # noqa: E731
    check = only(build(flags={"cache_dir": str(cache)}, disk_usage=tiny), "cache-dir")
    assert check.status != "fail", check  # (a warning remains: the test cache is in /tmp)
    assert check.details["needed_bytes"] == 0 and "free" not in check.summary


def test_cache_dir_path_too_long_for_windows_warns(project: Path, tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    deep.mkdir(parents=True)
    context = DoctorContext(
        settings=Settings(project=project),
        facts=WINDOWS,
        env={"HF_HUB_OFFLINE": "1"},
        cache=CacheLocation(deep, "--cache-dir", True),
        port=0,
        execution_policy=lambda: "",
        long_paths=lambda: False,
    )
    check = only(context, "cache-dir")
    assert check.status == "warn"
    assert "260-character" in check.summary
    assert check.details["path_length"] == len(str(deep)) > 115


# --------------------------------------------------------------------------- models


@pytest.fixture
def cache(tmp_path: Path, embedding_models: dict[str, dict[str, bytes]]) -> Path:
    root = tmp_path / "models-cache"
    make_model(root, BGE_MODEL, embedding_models[BGE_REPO])
    make_model(root, MINILM_MODEL, embedding_models[MINILM_REPO])
    return root


def test_models_ok_report_their_size(build: Builder, cache: Path) -> None:
    context = build(flags={"cache_dir": str(cache)})
    check = only(context, BGE_ID)
    assert check.status == "ok"
    assert "cached and complete" in check.summary
    assert check.details["bytes"] > 0 and check.details["state"] == "ok"
    assert only(context, MINILM_ID).details["role"] == "fallback"


def test_missing_primary_model_warns_and_missing_fallback_is_fine(build: Builder) -> None:
    context = build(env={"HF_HUB_OFFLINE": "0"}, hub_probe=lambda u, t, k: HubAnswer(200, None, 0))
    primary, fallback = only(context, BGE_ID), only(context, MINILM_ID)
    assert primary.status == "warn" and "not downloaded yet" in primary.summary
    assert "robo-backend prefetch" in primary.hint
    assert fallback.status == "ok" and "only if the primary model fails" in fallback.summary


def test_missing_model_while_offline_says_degraded_or_fails_with_require_model(
    build: Builder,
) -> None:
    check = only(build(), BGE_ID)
    assert check.status == "warn" and "degraded" in check.summary
    strict = only(build(env={"ROBO_BACKEND_REQUIRE_MODEL": "1"}), BGE_ID)
    assert strict.status == "fail" and "require_model" in strict.summary


def test_corrupt_and_partial_models_warn_with_the_repair(build: Builder, cache: Path) -> None:
    corrupt_model(cache, BGE_MODEL)
    break_model(cache, MINILM_MODEL)
    context = build(flags={"cache_dir": str(cache)})
    corrupt, partial = only(context, BGE_ID), only(context, MINILM_ID)
    assert corrupt.status == "warn" and "is corrupt" in corrupt.summary
    assert partial.status == "warn" and "is partial" in partial.summary
    assert "dangling symlink" in partial.summary
    assert "clear-cache --broken" in corrupt.hint


def test_unknown_model_fails(build: Builder) -> None:
    check = only(build(env={"ROBO_BACKEND_MODEL": "no-such/model-xyz"}), "model:no-such/model-xyz")
    assert check.status == "fail"
    assert "unknown embedding model" in check.summary
    assert "ROBO_BACKEND_MODEL" in check.summary and check.hint


def test_model_being_downloaded_names_the_holder(build: Builder, cache: Path) -> None:
    holder = LockHolder(cache, BGE_MODEL)
    try:
        check = only(build(flags={"cache_dir": str(cache)}), BGE_ID)
    finally:
        holder.stop()
    assert check.status == "ok"
    assert f"pid {holder.pid}" in check.summary
    assert check.details["lock_holder"] == holder.pid
    assert lock_path(cache, BGE_MODEL).exists()


# --------------------------------------------------------------------------- legacy cache


def test_legacy_cache_absent_is_ok(build: Builder) -> None:
    assert only(build(), "legacy-cache").status == "ok"


def test_legacy_cache_with_models_warns_with_its_size(
    build: Builder, tmp_path: Path, embedding_models: dict[str, dict[str, bytes]]
) -> None:
    legacy = tmp_path / "tmp" / "fastembed_cache"
    make_model(legacy, BGE_MODEL, embedding_models[BGE_REPO])
    check = only(build(legacy_root=legacy), "legacy-cache")
    assert check.status == "warn"
    assert str(legacy) in check.summary and "kB" in check.summary
    assert "clear-cache --legacy" in check.hint


def test_legacy_cache_in_use_is_ok(build: Builder, cache: Path) -> None:
    check = only(build(flags={"cache_dir": str(cache)}, legacy_root=cache), "legacy-cache")
    assert check.status == "ok" and "in use" in check.summary


# --------------------------------------------------------------------------- hub


def test_hub_reachable_is_ok(build: Builder, fake_hub: FakeHub) -> None:
    fake_hub.reset_log()
    check = only(build(env={"HF_HUB_OFFLINE": "", "HF_ENDPOINT": fake_hub.url}), "hub")
    assert check.status == "ok", check
    assert check.details["endpoint"] == fake_hub.url.rstrip("/")
    assert check.details["status"] == 200
    assert [r.path for r in fake_hub.wait_for_requests(1)] == [f"/api/models/{BGE_REPO}"]


def test_hub_answering_500_warns_with_a_hint(build: Builder, fake_hub: FakeHub) -> None:
    fake_hub.fail_requests(5, status=500)
    check = only(build(env={"HF_HUB_OFFLINE": "", "HF_ENDPOINT": fake_hub.url}), "hub")
    assert check.status == "warn"
    assert "answered 500" in check.summary
    assert "falls back" in check.hint


def test_hub_without_the_repo_warns_about_the_mirror(build: Builder, fake_hub: FakeHub) -> None:
    fake_hub.not_found(BGE_REPO)
    check = only(build(env={"HF_HUB_OFFLINE": "", "HF_ENDPOINT": fake_hub.url}), "hub")
    assert check.status == "warn" and "404" in check.summary
    assert "HF_ENDPOINT" in check.hint


def test_hub_unreachable_warns_at_once(build: Builder, closed_port: int) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}"
    check = only(build(env={"HF_HUB_OFFLINE": "", "HF_ENDPOINT": endpoint}), "hub")
    assert check.status == "warn"
    assert "unreachable" in check.summary and "refused" in check.summary.lower()
    assert "ROBO_BACKEND_OFFLINE=1" in check.hint


def test_hub_that_goes_silent_is_a_warning_after_the_timeout(
    build: Builder, fake_hub: FakeHub
) -> None:
    fake_hub.stall(30, path_contains="/api/models")
    context = build(env={"HF_HUB_OFFLINE": "", "HF_ENDPOINT": fake_hub.url})
    context.hub_timeout = 0.5
    check = only(context, "hub")
    assert check.status == "warn" and "unreachable" in check.summary
    assert check.details["status"] is None and "0.5" in check.details["error"]


def test_hub_offline_sends_no_request(build: Builder, fake_hub: FakeHub) -> None:
    fake_hub.reset_log()
    check = only(build(env={"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": fake_hub.url}), "hub")
    assert check.status == "ok" and "offline mode (HF_HUB_OFFLINE)" in check.summary
    assert fake_hub.requests == []


def test_hub_says_whether_a_token_is_set_never_its_value(build: Builder, fake_hub: FakeHub) -> None:
    token = "hf_plantedTokenValue123456"
    env = {"HF_HUB_OFFLINE": "", "HF_ENDPOINT": fake_hub.url, "HF_TOKEN": token}
    check = only(build(env=env), "hub")
    assert check.details["token_set"] is True
    assert token not in json.dumps(check.to_json())
    without = only(build(env={"HF_HUB_OFFLINE": "", "HF_ENDPOINT": fake_hub.url}), "hub")
    assert without.details["token_set"] is False


def test_hub_refusing_access_hints_at_the_token(build: Builder) -> None:
    answer = lambda url, timeout, token: HubAnswer(401, None, 0.01)  # noqa: E731
    check = only(build(env={"HF_HUB_OFFLINE": ""}, hub_probe=answer), "hub")
    assert check.status == "warn" and "401" in check.summary
    assert "HF_TOKEN" in check.hint


# --------------------------------------------------------------------------- port


def test_port_held_by_this_process_fails_and_names_it(build: Builder) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        check = only(build(flags={"port": port}), "port")
    assert check.status == "fail"
    assert f"pid {os.getpid()}" in check.summary
    assert f"port {port}" in check.summary and "--port" in check.summary
    assert "--port 0" in check.hint
    assert str(os.getpid()) in check.details["holder"]


def test_free_port_is_ok(build: Builder, closed_port: int) -> None:
    check = only(build(env={"ROBO_BACKEND_PORT": str(closed_port)}), "port")
    assert check.status == "ok"
    assert f"port {closed_port} on 127.0.0.1 is free (from ROBO_BACKEND_PORT)" == check.summary


def test_port_zero_is_ok(build: Builder) -> None:
    assert only(build(flags={"port": 0}), "port").status == "ok"


# --------------------------------------------------------------------------- settings


def test_settings_list_values_with_their_sources(build: Builder, project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n[tool.robo-backend]\nhost = "0.0.0.0"\n', encoding="utf-8"
    )
    check = only(build(env={"ROBO_BACKEND_RETRIES": "5"}), "settings")
    assert check.status == "ok"
    assert "retries=5 (ROBO_BACKEND_RETRIES)" in check.summary
    assert "host='0.0.0.0' (pyproject.toml)" in check.summary
    values = check.details["values"]
    assert values["port"] == {"value": 8000, "source": "default"}


def test_invalid_setting_fails_but_every_other_check_still_runs(build: Builder) -> None:
    context = build(env={"ROBO_BACKEND_PORT": "eighty"})
    checks = run_checks(context)
    settings = next(c for c in checks if c.id == "settings")
    assert settings.status == "fail"
    assert "ROBO_BACKEND_PORT = 'eighty' is not valid" in settings.summary
    assert settings.hint
    ids = [c.id.split(":")[0] for c in checks]
    assert [i for i in CHECK_IDS if i not in ("powershell-policy", "long-paths")] == list(
        dict.fromkeys(ids)
    )


# --------------------------------------------------------------------------- the runner


def test_a_crashing_probe_becomes_a_failing_check(build: Builder) -> None:
    def explode(url: str, timeout: float, token: str | None) -> HubAnswer:
        raise RuntimeError("probe exploded")

    checks = run_checks(build(env={"HF_HUB_OFFLINE": ""}, hub_probe=explode))
    hub = next(c for c in checks if c.id == "hub")
    assert hub.status == "fail"
    assert "crashed: RuntimeError: probe exploded" in hub.summary
    assert "ROBO_BACKEND_DEBUG=1" in hub.hint
    assert {c.id for c in checks} >= {"os", "port", "settings"}


def test_with_debug_a_crash_is_not_swallowed(build: Builder) -> None:
    def explode(url: str, timeout: float, token: str | None) -> HubAnswer:
        raise RuntimeError("probe exploded")

    context = build(env={"HF_HUB_OFFLINE": "", "ROBO_BACKEND_DEBUG": "1"}, hub_probe=explode)
    with pytest.raises(RuntimeError, match="probe exploded"):
        run_checks(context)


def test_port_zero_on_a_host_that_is_not_ours_fails_as_up_would(build: Builder) -> None:
    check = only(build(flags={"port": 0, "host": "192.0.2.1"}), "port")
    assert check.status == "fail"
    assert "192.0.2.1 is not an address of this machine" in check.summary


def test_a_dead_proxy_is_named_by_the_hub_check(
    build: Builder, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    check = only(build(env={"HF_HUB_OFFLINE": "", "HF_ENDPOINT": "http://hub.invalid"}), "hub")
    assert check.status == "warn"
    assert f"unreachable through the proxy http://127.0.0.1:{closed_port}" in check.summary
