"""Dump and restore: the store's tables and the model registry in one archive
(``recserve dump FILE``, ``recserve restore FILE``); see ``archive.py`` for the format."""

from recserve.backup.archive import BackupError
from recserve.backup.dump import dump
from recserve.backup.restore import restore

__all__ = ["BackupError", "dump", "restore"]
