"""Print shell code that activates the project's venv in your own shell.

\b
Evaluate it with:
  bash, zsh, Git Bash  eval "$(robo-backend activate)"
  sh                   eval "$(robo-backend activate --shell sh)"
  fish                 robo-backend activate | source
  PowerShell           robo-backend activate | Invoke-Expression
  CMD                  for /f "delims=" %i in ('robo-backend activate --shell cmd') do @%i
  nu                   robo-backend activate --shell nu | save -f act.nu
                       then, as a separate command: source act.nu
The code only sets VIRTUAL_ENV and PATH (no Activate.ps1 runs, so PowerShell's execution
policy does not matter); `deactivate` puts them back. The shell is detected; --shell or
ROBO_BACKEND_SHELL overrides it.
"""

from __future__ import annotations

from pathlib import Path

import typer

from launcher.commands.params import Project, Shell


def command(ctx: typer.Context, project: Project = Path("."), shell: Shell = None) -> None:
    from loguru import logger

    from launcher.commands.startup import start
    from launcher.platform import PlatformFacts
    from launcher.settings import resolve_settings
    from launcher.shells.detect import detect_shell
    from launcher.shells.text import activation_script
    from launcher.ui import console
    from launcher.venvs import ensure_venv

    started = start(ctx, project)
    settings = resolve_settings(project, {"shell": shell}, started.env)
    facts = PlatformFacts.current()
    detected = detect_shell(facts, settings.shell, source=settings.origin("shell").detail)
    logger.debug(f"shell: {detected.label} ({detected.reason})")
    venv = ensure_venv(settings.project, settings.venv_path, settings.python, facts, create=False)
    logger.debug(f"venv: {venv.path} ({venv.method})")
    console.emit_stdout(activation_script(detected.name, venv.path, facts))
