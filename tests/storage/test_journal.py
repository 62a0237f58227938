"""The ingest journal file: frames come back in order across laps; a torn or corrupt frame,
or one left over from an earlier lap, ends a replay; a journal of format 1 is still read."""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path

import pytest

from agentlytics.storage import journal as journal_module
from agentlytics.storage.journal import HEADER_SIZE, MAGIC, Journal, JournalError, JournalFull


def payloads(j: Journal, lap: int, after: int = HEADER_SIZE) -> list[bytes]:
    return [payload for _, payload in j.frames(lap, after)]


def test_frames_come_back_in_order_after_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    assert payloads(j, 0) == []
    ends = [j.append(f"frame {i}".encode()) for i in range(5)]
    j.close()
    j = Journal(path)
    assert list(j.frames(0, HEADER_SIZE)) == [
        (end, f"frame {i}".encode()) for i, end in enumerate(ends)
    ]
    assert payloads(j, 0, ends[2][1]) == [b"frame 3", b"frame 4"], "only past a position"
    assert (j.generation, j.end) == ends[-1]
    assert j.append(b"next")[1] > ends[-1][1], "appends go after the last frame"


def test_the_file_grows_in_zero_filled_steps(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    j.append(b"one")
    assert path.stat().st_size == journal_module.GROW_BYTES
    assert payloads(Journal(path), 0) == [b"one"], "the zeros after the frame end the replay"


@pytest.mark.parametrize("torn", [b"\x05\x00", b"\xff\x00\x00\x00\x00\x00\x00\x00abc"])
def test_a_torn_frame_ends_the_replay_and_the_frames_before_it_are_kept(
    tmp_path: Path, torn: bytes
) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    j.append(b"one")
    _, end = j.append(b"two")
    j.close()
    with open(path, "r+b") as f:  # a frame the process was writing when it died
        f.seek(end)
        f.write(torn)
    j = Journal(path)
    assert payloads(j, 0) == [b"one", b"two"]
    assert j.end == end, "the next frame goes over the torn one"


def test_a_corrupt_frame_ends_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    _, first = j.append(b"one")
    j.append(b"two")
    j.close()
    with open(path, "r+b") as f:  # flip a byte of the second payload
        f.seek(first + 8)
        f.write(b"X")
    assert payloads(Journal(path), 0) == [b"one"]


def test_laps_go_back_to_the_start_over_applied_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "LAP_BYTES", 200)
    path = tmp_path / "j"
    j = Journal(path)
    frame = b"x" * 40  # 48 bytes with its header: a lap's fourth frame goes past 200
    first_lap = [j.append(frame) for _ in range(4)]
    assert [lap for lap, _ in first_lap] == [0, 0, 0, 0]
    j.applied = first_lap[0]  # the first frame applied: its room at the start is free
    assert j.append(b"new lap") == (1, HEADER_SIZE + 8 + 7)
    with pytest.raises(JournalFull):  # it would go over the second frame, not applied yet
        j.append(frame)
    j.applied = first_lap[-1]
    j.append(b"more")
    j.close()
    j = Journal(path)
    # a replay from where the apply got to: the rest of the first lap, then the second
    assert payloads(j, *first_lap[0]) == [frame, frame, frame, b"new lap", b"more"]
    assert payloads(j, 1) == [b"new lap", b"more"]


def test_a_frame_of_an_earlier_lap_ends_the_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Laps seed their checksums: the second lap's last frame is followed by the first's
    frames (same offsets, same length), which must not be replayed as the second's."""
    monkeypatch.setattr(journal_module, "LAP_BYTES", 200)
    path = tmp_path / "j"
    j = Journal(path)
    first_lap = [j.append(f"old {i:02}".encode()) for i in range(15)]  # 14 bytes each
    assert first_lap[-1] == (0, HEADER_SIZE + 15 * 14)
    j.applied = first_lap[-1]
    assert j.append(b"new 00") == (1, HEADER_SIZE + 14)
    j.append(b"new 01")
    j.close()
    assert payloads(Journal(path), 1) == [b"new 00", b"new 01"]


def test_a_lap_is_not_started_over_frames_not_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An apply a lap behind: the file grows past the lap instead."""
    monkeypatch.setattr(journal_module, "LAP_BYTES", 200)
    j = Journal(tmp_path / "j")
    ends = [j.append(b"x" * 40) for _ in range(6)]
    assert [lap for lap, _ in ends] == [0] * 6 and ends[-1][1] > 200


def test_reset_starts_an_empty_lap(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    j.append(b"one")
    j.reset(7)
    assert (j.generation, j.start) == (7, 7) and os.path.getsize(path) == HEADER_SIZE
    j.close()
    j = Journal(path)
    assert j.generation == 7 and payloads(j, 7) == []


def test_a_journal_of_format_1_is_read(tmp_path: Path) -> None:
    """An older release's journal: unseeded checksums, no laps, the file ends the frames."""
    path = tmp_path / "j"
    frames = [b"one", b"two"]
    path.write_bytes(
        struct.pack("<4sHxxQ", MAGIC, 1, 5)
        + b"".join(struct.pack("<II", len(f), zlib.crc32(f)) + f for f in frames)
        + b"\x40\x00"  # torn
    )
    j = Journal(path)
    assert (j.version, j.start) == (1, 5)
    assert payloads(j, 5) == frames
    with pytest.raises(JournalError, match="only read"):
        j.append(b"three")  # a reset makes it format 2
    j.reset(6)
    j.append(b"three")
    assert payloads(Journal(path), 6) == [b"three"]


def test_reset_to_format_1_for_older_releases(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    j.append(b"one")
    j.reset(3, version=1)
    assert path.read_bytes() == struct.pack("<4sHxxQ", MAGIC, 1, 3)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(b"not a journal at all, clearly")
    with pytest.raises(JournalError, match="not an agentlytics ingest journal"):
        Journal(path)


def test_a_new_data_dir_starts_and_restarts_without_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing to replay and nothing to rebuild in a new data dir: a first start that warned
    of a frame cut short by a crash (it read the journal's header as a frame) or of a
    summary built anew alarmed every new user."""
    from agentlytics.storage.duckdb.store import DuckDBEventStore

    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            DuckDBEventStore(str(tmp_path / "events.duckdb")).close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
