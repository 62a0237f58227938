"""The ingest journal file: frames come back in order, a torn or corrupt tail is cut off."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentlytics.storage.journal import HEADER_SIZE, Journal, JournalError


def test_frames_come_back_in_order_after_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    assert list(j.frames(0)) == []
    ends = [j.append(f"frame {i}".encode()) for i in range(5)]
    j.close()
    j = Journal(path)
    assert [(end, payload) for end, payload in j.frames(0)] == [
        (end, f"frame {i}".encode()) for i, end in enumerate(ends)
    ]
    assert [p for _, p in j.frames(ends[2])] == [b"frame 3", b"frame 4"], "only past an offset"
    assert j.end == ends[-1]
    assert j.append(b"next") > ends[-1], "appends go after the last frame"


@pytest.mark.parametrize("tail", [b"\x05\x00", b"\xff\x00\x00\x00\x00\x00\x00\x00abc"])
def test_a_torn_tail_is_cut_off_and_the_frames_before_it_kept(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    j.append(b"one")
    end = j.append(b"two")
    j.close()
    with open(path, "ab") as f:  # a frame the process was writing when it died
        f.write(tail)
    j = Journal(path)
    assert [p for _, p in j.frames(0)] == [b"one", b"two"]
    assert path.stat().st_size == end, "the torn bytes are gone from the file"
    j.append(b"three")
    j.close()
    assert [p for _, p in Journal(path).frames(0)] == [b"one", b"two", b"three"]


def test_a_corrupt_frame_ends_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    first = j.append(b"one")
    j.append(b"two")
    j.close()
    with open(path, "r+b") as f:  # flip a byte of the second payload
        f.seek(first + 8)
        f.write(b"X")
    assert [p for _, p in Journal(path).frames(0)] == [b"one"]


def test_reset_starts_an_empty_generation(tmp_path: Path) -> None:
    path = tmp_path / "j"
    j = Journal(path)
    j.append(b"one")
    j.reset(7)
    assert j.generation == 7 and os.path.getsize(path) == HEADER_SIZE
    j.close()
    j = Journal(path)
    assert j.generation == 7 and list(j.frames(0)) == []


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(b"not a journal at all, clearly")
    with pytest.raises(JournalError, match="not an agentlytics ingest journal"):
        Journal(path)
