"""Files and folders for their owner only: every file eventscope writes is 0600, every folder 0700.

SQLite creates a database file with 0644 (less the umask); created first here with 0600,
its `-wal`, `-shm` and `-journal` files follow, since SQLite gives those the database
file's own permissions on Unix. Existing files and folders keep the mode they have.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def make_private_folder(folder: Path) -> None:
    """Create `folder` and any missing parents with mode 0700 (a no-op when it exists)."""
    missing: list[Path] = []
    current = Path(os.path.abspath(folder))
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            os.mkdir(path, FOLDER_MODE)
        except FileExistsError:
            continue  # made by someone else meanwhile
        os.chmod(path, FOLDER_MODE)  # the mode as asked, whatever the umask


def create_private_file(path: Path) -> bool:
    """Create the empty file `path` with mode 0600 unless it exists; True if created.

    Nothing is created where the file cannot be (a missing folder, no permission): the
    caller's own open then reports that in its usual words.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError:
        return False
    try:
        os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)
    return True
