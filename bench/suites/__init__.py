"""The benchmark groups; importing this package registers them all (see bench.harness)."""

from bench.suites import (  # noqa: F401 - imported for their @benchmark registrations
    adoption,
    background,
    cli,
    deps,
    downloads,
    footprint,
    selftest,
    up,
    venv,
)
