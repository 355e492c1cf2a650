"""The results folder: atomic writes of per-unit Parquet files, the manifest and the lock.

Layout (the results contract): ``config.json``, ``manifest.json`` and one folder per table,
``<table>.parquet/unit-NNNNN.parquet``, that ``pandas.read_parquet`` reads whole. A unit's files
are written to hidden temporary names and renamed into place; a unit counts as done only once
``manifest.json`` (itself replaced atomically) lists it with the SHA-256 of every file.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow
import pyarrow.parquet as pq

TABLES = ("history", "metrics", "predictions", "seeds")
SCHEMA_VERSION = 1
LOCK_NAME = ".lock"


class StoreError(RuntimeError):
    """The results folder cannot be used as asked."""


def write_json(path: Path, payload: dict) -> None:
    """Write JSON atomically: a temporary file in the same folder, fsynced, then renamed."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StoreError(f"{path} is unreadable ({err}); delete the results folder or restore it") from None


def sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def unit_file(run_dir: Path, table: str, unit_id: int) -> Path:
    return run_dir / f"{table}.parquet" / f"unit-{unit_id:05d}.parquet"


def _write_parquet(path: Path, parts: Iterable[pd.DataFrame]) -> None:
    """Write frames with one schema as the row groups of one Parquet file, one at a time."""
    writer = None
    try:
        for part in parts:
            table = pyarrow.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def write_unit(run_dir: Path, unit_id: int, tables: dict) -> dict[str, str]:
    """Write one unit's tables atomically; return ``{relative path: sha256}``.

    Each value is a DataFrame, or an object whose ``frames()`` yields the table's rows in
    pieces (the predictions), written as row groups so the whole table is never built at once.
    """
    written = {}
    for table in TABLES:
        final = unit_file(run_dir, table, unit_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.parent / f".{final.name}.{os.getpid()}.tmp"
        value = tables[table]
        try:
            _write_parquet(tmp, value.frames() if hasattr(value, "frames") else [value])
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        written[str(final.relative_to(run_dir))] = sha256(final)
    return written


def damaged_files(run_dir: Path, files: dict[str, str]) -> list[str]:
    """Files of a finished unit that are missing or whose checksum no longer matches."""
    bad = []
    for rel, digest in files.items():
        path = run_dir / rel
        if not path.is_file() or sha256(path) != digest:
            bad.append(rel)
    return bad


def remove_unit_files(run_dir: Path, keep: set[str]) -> list[str]:
    """Delete unit files (and temporary leftovers) not listed in ``keep``; return what went."""
    removed = []
    for table in TABLES:
        folder = run_dir / f"{table}.parquet"
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            rel = str(path.relative_to(run_dir))
            if rel not in keep:
                path.unlink()
                removed.append(rel)
    return removed


class RunLock:
    """An exclusive lock on a results folder, held by a live process.

    The lock file records host and pid; a lock left by a process that no longer runs on this host
    is taken over, so a crashed run never blocks the folder forever.
    """

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK_NAME

    def _holder_alive(self) -> tuple[bool, str]:
        try:
            holder = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return False, ""
        desc = f"process {holder.get('pid')} on {holder.get('host')}"
        if holder.get("host") != socket.gethostname():
            return True, desc
        try:
            os.kill(int(holder["pid"]), 0)
        except ProcessLookupError:
            return False, desc
        except (PermissionError, KeyError, ValueError, TypeError):
            return True, desc
        return True, desc

    def acquire(self) -> None:
        payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname()})
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                alive, desc = self._holder_alive()
                if alive:
                    raise StoreError(
                        f"{self.path.parent} is in use by {desc}; wait for it to finish "
                        f"or, if it is gone, delete {self.path}"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(payload)
            return
        raise StoreError(f"could not lock {self.path.parent}; delete {self.path} and retry")

    def release(self) -> None:
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
