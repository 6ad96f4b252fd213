"""Locate the templates/, static/ and seed_data/ folders in a checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder `name` (templates, static, seed_data) wherever it is installed."""
    installed = _PACKAGE / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    msg = f"eventscope resource folder {name!r} not found beside {_PACKAGE}"
    raise FileNotFoundError(msg)
