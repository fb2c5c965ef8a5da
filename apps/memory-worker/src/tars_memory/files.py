"""Private data files: directories 0700, files 0600, whatever the process umask."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed; the directory itself ends up 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty if missing; it ends up 0600 (SQLite gives its -wal and -shm files
    the permissions of the database file)."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return path
