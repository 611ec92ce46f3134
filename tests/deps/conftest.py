"""The venv fixtures of tests/helpers/venvs.py, registered for this folder."""

from tests.helpers.venvs import (  # noqa: F401
    log_messages,
    uv_venv,
    venv_python,
    weird_root,
    weird_venv,
)
