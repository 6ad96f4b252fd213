"""Where the master key comes from: `EVENTSCOPE_MASTER_KEY`, a key file, or a generated key file."""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from webapp.config import Settings
from webapp.database.files import make_private_folder
from webapp.privacy.crypto import KEY_BYTES, new_key
from webapp.privacy.errors import MasterKeyError

MASTER_KEY_FILENAME = "master.key"


@dataclass(frozen=True)
class MasterKey:
    key: bytes
    source: str
    """Where it came from, for messages: "EVENTSCOPE_MASTER_KEY" or a file path."""
    path: Path | None = None
    generated: bool = False

    def __repr__(self) -> str:  # never print the key
        return f"MasterKey(source={self.source!r}, generated={self.generated})"


def decode_master_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        msg = f"master key from {source} is not valid base64"
        raise MasterKeyError(msg) from None
    if len(key) != KEY_BYTES:
        msg = f"master key from {source} must be {KEY_BYTES} bytes (base64), got {len(key)}"
        raise MasterKeyError(msg)
    return key


def encode_master_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def default_key_file(settings: Settings) -> Path:
    return settings.data_dir / MASTER_KEY_FILENAME


def write_key_file(path: Path, key: bytes) -> None:
    """Write a key file readable by its owner only (mode 0600), replacing any file atomically."""
    make_private_folder(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, (encode_master_key(key) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _read_key_file(path: Path) -> MasterKey:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
        msg = f"master key file {path} cannot be read: {reason}"
        raise MasterKeyError(msg) from None
    return MasterKey(decode_master_key(text, str(path)), str(path), path)


def load_master_key(settings: Settings, *, generate: bool = False) -> MasterKey:
    """The configured master key; with `generate`, create `data_dir/master.key` if none is set."""
    if settings.master_key:
        return MasterKey(
            decode_master_key(settings.master_key, "EVENTSCOPE_MASTER_KEY"), "EVENTSCOPE_MASTER_KEY"
        )
    path = settings.master_key_file or default_key_file(settings)
    if path.exists():
        return _read_key_file(path)
    if settings.master_key_file is not None:
        msg = f"master key file {path} does not exist"
        raise MasterKeyError(msg)
    if not generate:
        msg = (
            "no master key configured: set EVENTSCOPE_MASTER_KEY (base64 of 32 bytes) "
            f"or EVENTSCOPE_MASTER_KEY_FILE, or create {path}"
        )
        raise MasterKeyError(msg)
    key = new_key()
    staged = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    write_key_file(staged, key)
    try:
        os.link(staged, path)  # atomic, and never replaces a key another process just made
    except FileExistsError:
        return _read_key_file(path)
    finally:
        staged.unlink(missing_ok=True)
    return MasterKey(key, str(path), path, generated=True)
