"""The ingest journal: a file of checksummed frames, synced before each ack, reused in laps.

An event store that commits through a journal acknowledges a group of events once its frame
is on disk (one ``write`` and one ``fdatasync``, a fraction of the CPU a database commit
costs), and moves the journalled rows into its tables later, many groups per transaction,
recording in that same transaction how far into the journal it has applied (a *position*:
lap and offset). After a crash it applies the frames past that position again; a frame cut
short by the crash was never acknowledged and is dropped.

File layout (format 2): a 16-byte header (``MAGIC``, format version, the file's first lap),
then frames of ``<u32 length><u32 crc32><payload>``. Frames are written one after the other
in *laps*: once a lap passes ``LAP_BYTES``, the next frame goes back to the start of the file
(a wrap marker ends the lap), over frames already applied, so the file stops growing. Each
lap's checksums are seeded with its number, so a frame left over from an earlier lap fails its
check and ends a replay like a torn frame. The file grows in zero-filled ``GROW_BYTES`` steps,
so that a sync of a frame never has to write the file's size too (a growing file's
``fdatasync`` also commits its metadata; the store's first version grew with every frame and
started over every 64 MB, which took an apply in the writer thread each time).

Format 1 (before): the same header and frames, checksums unseeded, no laps; the file emptied
once every frame was applied. A journal of format 1 is still read at start-up, and a clean stop
leaves an empty file of format 1, which older releases open too.
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
VERSION = 2
_HEADER = struct.Struct("<4sHxxQ")  # magic, version, padding, first lap (generation): 16 bytes
_FRAME = struct.Struct("<II")  # payload length, crc32 of the payload (seeded by the lap)
HEADER_SIZE = _HEADER.size
MAX_FRAME = 1 << 30
#: the length of a wrap marker (its crc: the lap's seed): the next lap starts after the header
_WRAP = 0xFFFF_FFFF
#: a lap ends at the first frame past this offset (the file: this plus the last frame)
LAP_BYTES = 64 << 20
GROW_BYTES = 4 << 20

#: where a frame ends: (lap, offset just past it)
Position = tuple[int, int]


class JournalError(RuntimeError):
    """The journal file is not one of ours, or of a format this version cannot read."""


class JournalFull(RuntimeError):
    """The next frame would overwrite frames of the previous lap not yet applied."""


def seed(version: int, lap: int) -> int:
    """The starting value of a lap's frame checksums (format 1: none)."""
    return zlib.crc32(lap.to_bytes(8, "little")) if version >= 2 else 0


class Journal:
    """One journal file, written by one thread (the store's writer).

    ``applied``: the position up to which the store has applied the frames (its apply thread
    sets it after each apply's commit); a frame of a new lap never goes over frames of the
    previous lap past it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size
        if self._size < HEADER_SIZE:  # new, or cut short before its header was complete
            self.reset(0)
        else:
            magic, version, generation = _HEADER.unpack(os.pread(self._fd, HEADER_SIZE, 0))
            if magic != MAGIC:
                raise JournalError(f"{self.path} is not an agentlytics ingest journal")
            if version not in (1, VERSION):
                raise JournalError(f"{self.path} has journal format {version}; expected {VERSION}")
            #: the file's format as found (1: an older release's, only read, until ``reset``)
            self.version = version
            #: the file's first lap (format 1: its generation)
            self.start = generation
            #: the lap frames are appended to, and where the next one goes
            self.generation = generation
            self.end = HEADER_SIZE
            self.applied: Position = (generation, HEADER_SIZE)

    def frames(self, lap: int, after: int) -> Iterator[tuple[Position, bytes]]:
        """The frames past position (``lap``, ``after``), as (position of their end,
        payload), in order, across laps; appends go on after the last one.

        Reading stops at the first incomplete or corrupt frame, or one of an earlier lap:
        what follows the last frame of the journal (a frame cut short by a crash was never
        acknowledged)."""
        at, check = after, seed(self.version, lap)
        size = os.fstat(self._fd).st_size
        with open(self.path, "rb") as f:
            while at + _FRAME.size <= size:
                f.seek(at)
                length, crc = _FRAME.unpack(f.read(_FRAME.size))
                if length == _WRAP and crc == check and self.version >= 2:
                    lap, at, check = lap + 1, HEADER_SIZE, seed(self.version, lap + 1)
                    continue
                if length == 0 or length > MAX_FRAME or at + _FRAME.size + length > size:
                    break
                payload = f.read(length)
                if zlib.crc32(payload, check) != crc:
                    break
                at += _FRAME.size + length
                yield (lap, at), payload
            tail = f.read(_FRAME.size) if f.seek(at) < size else b""
        if tail.strip(b"\0"):
            log.warning(
                "ingest journal: replay ends at lap %d, offset %d, before a frame cut short "
                "by a crash (never acknowledged) or one of an earlier lap",
                lap,
                at,
            )
        self.generation, self.end = lap, at

    def unapplied(self, lap: int, applied: int) -> Iterator[bytes]:
        """At start-up, the payloads of the frames past the position a database recorded
        (``lap``, ``applied``), as ``frames``: all of them when the database is older than
        the journal (restored from a copy? its stored ids are skipped by the caller), none
        of a format-1 journal of an earlier generation (every frame of it was applied)."""
        if self.start > lap:
            log.warning("ingest journal is newer than the database; applying all of it")
            lap, applied = self.start, HEADER_SIZE
        elif self.version == 1 and self.start < lap:
            return
        # a new database records (0, 0): nothing applied, the frames start after the header
        applied = max(applied, HEADER_SIZE)
        for _end, payload in self.frames(lap, applied):
            yield payload

    def append(self, payload: bytes) -> Position:
        """Write one frame and sync it to disk; returns the position just past it.

        Raises:
            JournalError: the file is of an older format (``reset`` it first).
            JournalFull: the frame would go over frames of the previous lap past ``applied``
                (the caller applies them first).
            OSError: the write or the sync failed; the frame is not in the journal (a later
                frame goes where it was).
        """
        if self.version != VERSION:
            raise JournalError(f"a journal of format {self.version} is only read; reset it first")
        size = _FRAME.size + len(payload)
        lap, start = self.generation, self.end
        wrap = start + size > LAP_BYTES and self._free(lap + 1, HEADER_SIZE + size)
        if wrap:
            lap, start = lap + 1, HEADER_SIZE
        elif not self._free(lap, start + size):
            raise JournalFull("the journal's previous lap is not applied yet")
        check = seed(VERSION, lap)
        head = _FRAME.pack(len(payload), zlib.crc32(payload, check))
        # the wrap marker goes after the lap's last frame, synced with the frame it leads to
        marker = self.end + _FRAME.size if wrap else 0
        if max(start + size, marker) > self._size:
            self._grow(max(start + size, marker))
        try:
            if wrap:
                os.pwrite(self._fd, _FRAME.pack(_WRAP, seed(VERSION, self.generation)), self.end)
            written = os.pwritev(self._fd, [head, payload], start)  # without copying it
            if written != size:
                raise OSError(f"short write to the ingest journal ({written} of {size})")
            os.fdatasync(self._fd)
        except BaseException:
            try:  # unacknowledged: never replayed, even if its bytes reach the disk later
                os.pwrite(self._fd, bytes(_FRAME.size), start)
            except OSError:
                log.exception("could not void the ingest journal's frame after a failed write")
            raise
        self.generation, self.end = lap, start + size
        return self.generation, self.end

    def _free(self, lap: int, upto: int) -> bool:
        """Whether lap ``lap`` may be written up to offset ``upto``: the frames of the lap
        before it there are applied (or the file has none: ``lap`` is its first)."""
        applied_lap, applied_at = self.applied
        return (
            lap == self.start
            or applied_lap >= lap
            or (applied_lap == lap - 1 and applied_at >= upto)
        )

    def _grow(self, size: int) -> None:
        """Make the file at least ``size`` bytes long, in zero-filled steps."""
        target = -(-size // GROW_BYTES) * GROW_BYTES
        zeros = bytes(GROW_BYTES)
        while self._size < target:
            step = min(GROW_BYTES, target - self._size)
            os.pwrite(self._fd, zeros[:step], self._size)
            self._size += step

    def reset(self, generation: int, version: int = VERSION) -> None:
        """Empty the journal and start lap ``generation`` (only once every frame is applied).
        ``version`` 1: the format older releases read (for a clean stop)."""
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, _HEADER.pack(MAGIC, version, generation), 0)
        os.fsync(self._fd)
        # the file's directory entry must survive a crash too
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._size = HEADER_SIZE
        self.version = version
        self.start = self.generation = generation
        self.end = HEADER_SIZE
        self.applied = (generation, HEADER_SIZE)

    def close(self) -> None:
        os.close(self._fd)
