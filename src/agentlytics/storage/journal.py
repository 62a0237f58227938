"""The ingest journal: an append-only file of checksummed frames, synced before each ack.

An event store that commits through a journal acknowledges a group of events once its frame
is on disk (one ``write`` and one ``fdatasync``, a fraction of the CPU a database commit
costs), and moves the journalled rows into its tables later, many groups per transaction,
recording in that same transaction how far into the journal it has applied. After a crash
it applies the frames past that point again; a frame cut short by the crash was never
acknowledged and is dropped.

File layout: a 16-byte header (``MAGIC``, format version, generation), then frames of
``<u32 length><u32 crc32><payload>``. A *generation* numbers the journal's contents: once
every frame is applied the store starts a new generation, which empties the file
(``reset``); the store records the generation beside the applied offset, so a journal left
over from an older generation is recognised as fully applied.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"AGLJ"
VERSION = 1
_HEADER = struct.Struct("<4sHxxQ")  # magic, version, padding, generation: 16 bytes
_FRAME = struct.Struct("<II")  # payload length, crc32 of the payload
HEADER_SIZE = _HEADER.size
MAX_FRAME = 1 << 30


class JournalError(RuntimeError):
    """The journal file is not one of ours, or of a format this version cannot read."""


class Journal:
    """One journal file, written by one thread (the store's writer)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        size = os.fstat(self._fd).st_size
        if size < HEADER_SIZE:  # new, or cut short before its header was complete
            self.generation = 0
            self._write_header(0)
        else:
            magic, version, generation = _HEADER.unpack(os.pread(self._fd, HEADER_SIZE, 0))
            if magic != MAGIC:
                raise JournalError(f"{self.path} is not an agentlytics ingest journal")
            if version != VERSION:
                raise JournalError(f"{self.path} has journal format {version}; expected {VERSION}")
            self.generation = generation
        #: the offset just past the last whole frame (where the next frame goes)
        self.end = HEADER_SIZE

    def frames(self, after: int) -> Iterator[tuple[int, bytes]]:
        """The frames ending past offset ``after``, as (end offset, payload), in order.

        Reading stops at the first incomplete or corrupt frame, which is cut off the file:
        it was being written when the process died, so it was never acknowledged.
        """
        size = os.fstat(self._fd).st_size
        at = HEADER_SIZE
        with open(self.path, "rb") as f:
            f.seek(at)
            while at + _FRAME.size <= size:
                length, crc = _FRAME.unpack(f.read(_FRAME.size))
                if length > MAX_FRAME or at + _FRAME.size + length > size:
                    break
                payload = f.read(length)
                if zlib.crc32(payload) != crc:
                    break
                at += _FRAME.size + length
                if at > after:
                    yield at, payload
        if at < size:
            log.warning("ingest journal: dropping %d bytes of an unfinished frame", size - at)
            os.ftruncate(self._fd, at)
            os.fsync(self._fd)
        self.end = at

    def append(self, payload: bytes) -> int:
        """Write one frame and sync it to disk; returns the offset just past it.

        On failure the file is cut back to where the frame began (so a later frame never
        follows a torn one) and the error is raised."""
        head = _FRAME.pack(len(payload), zlib.crc32(payload))
        size = len(head) + len(payload)
        start = self.end
        try:
            written = os.pwritev(self._fd, [head, payload], start)  # without copying the payload
            if written != size:
                raise OSError(f"short write to the ingest journal ({written} of {size})")
            os.fdatasync(self._fd)
        except BaseException:
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                log.exception("could not cut the ingest journal back after a failed write")
            raise
        self.end = start + size
        return self.end

    def reset(self, generation: int) -> None:
        """Empty the journal and start ``generation`` (only once every frame is applied)."""
        os.ftruncate(self._fd, 0)
        self._write_header(generation)
        self.generation = generation
        self.end = HEADER_SIZE

    def close(self) -> None:
        os.close(self._fd)

    def _write_header(self, generation: int) -> None:
        os.pwrite(self._fd, _HEADER.pack(MAGIC, VERSION, generation), 0)
        os.ftruncate(self._fd, HEADER_SIZE)
        os.fsync(self._fd)
        # the file's directory entry must survive a crash too
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
