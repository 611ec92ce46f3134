"""Shared test helpers (imported by test modules; no fixtures are registered here)."""
