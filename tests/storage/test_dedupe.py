"""The recent-ids memory the writers dedupe with (``storage/dedupe.py``)."""

from __future__ import annotations

from agentlytics.storage.dedupe import RecentIds, id_key, row_keys


def test_add_all_flags_each_key_new_once_even_within_one_call() -> None:
    seen = RecentIds()
    assert seen.add(1)
    assert seen.add_all([2, 1, 3, 2]) == [True, False, True, False]
    assert seen.add_all([3, 4]) == [False, True]
    assert len(seen) == 4


def test_add_all_forgets_the_oldest_keys_past_the_capacity() -> None:
    seen = RecentIds(capacity=3)
    seen.add_all([1, 2])
    assert seen.add_all([3, 4]) == [True, True]
    assert 1 not in seen and all(k in seen for k in (2, 3, 4))
    assert seen.add(1)  # forgotten: new again


def test_row_keys_are_the_id_keys_of_the_rows() -> None:
    rows = [("p1", "e1", "x"), ("p2", "e1", "y")]
    assert row_keys(rows) == [id_key("p1", "e1"), id_key("p2", "e1")]
