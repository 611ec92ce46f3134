"""The venv fixtures of tests/helpers/venvs.py, registered for this folder."""

from tests.helpers.venvs import log_messages, uv_venv, weird_root, weird_venv  # noqa: F401
