"""Who is at the command line: the actor recorded for what a command changes or reads."""

from __future__ import annotations

import getpass


def operator_name() -> str:
    """`cli:<login name>` (or `cli` where the login name cannot be found)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
