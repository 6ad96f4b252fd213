"""Settings read from the command line and the environment; no secret lives in code."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DB_URL = "sqlite:///eventscope.db"


class ConfigurationError(ValueError):
    """A setting from the environment or the command line that eventscope cannot use."""


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for other stores and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    _, _, rest = url.partition(":///")
    path = rest.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


@dataclass(frozen=True)
class Settings:
    """Where eventscope keeps its data and how it behaves."""

    db_url: str = DEFAULT_DB_URL
    keystore_url: str | None = None
    master_key: str | None = None
    master_key_file: Path | None = None
    secret_key: str | None = None
    max_payload_bytes: int = 1_000_000
    extra: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls, db_url: str | None = None, **overrides: object) -> Settings:
        env = os.environ
        settings = cls(
            db_url=db_url or env.get("EVENTSCOPE_DB") or DEFAULT_DB_URL,
            keystore_url=env.get("EVENTSCOPE_KEYSTORE_DB") or None,
            master_key=env.get("EVENTSCOPE_MASTER_KEY") or None,
            master_key_file=Path(env["EVENTSCOPE_MASTER_KEY_FILE"])
            if env.get("EVENTSCOPE_MASTER_KEY_FILE")
            else None,
            secret_key=env.get("EVENTSCOPE_SECRET_KEY") or None,
        )
        return replace(settings, **overrides) if overrides else settings

    @property
    def data_dir(self) -> Path:
        """The folder beside a SQLite store where eventscope writes its other files.

        For PostgreSQL stores this is the working directory's `.eventscope/`.
        """
        path = sqlite_path(self.db_url)
        if path is not None:
            return path.resolve().parent
        return Path.cwd() / ".eventscope"
