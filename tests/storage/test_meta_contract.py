"""The MetaStore contract, on SQLite (embedded) and PostgreSQL (scale-out): same calls, same answers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentlytics.app import _salt_store
from agentlytics.ingest.privacy import VisitorHasher
from agentlytics.model.project import Account, ApiKey, Project
from agentlytics.storage import registry
from agentlytics.storage.ports import MetaStore
from tests.storage import backends


def account(n: int = 1, email: str | None = None) -> Account:
    return Account(id=f"acc_{n}", email=email or f"user{n}@example.com", tier="free", created_at=n)


def api_key(n: int, account_id: str = "acc_1", created_at: int | None = None) -> ApiKey:
    return ApiKey(
        id=f"key_{n}",
        account_id=account_id,
        name=f"key {n}",
        scope="read" if n % 2 else "full",
        prefix=f"aak_{n}",
        key_hash=f"hash_{n}",
        created_at=n if created_at is None else created_at,
    )


def project(n: int, account_id: str | None = "acc_1", **fields: object) -> Project:
    values: dict[str, object] = {
        "id": f"prj_{n}",
        "account_id": account_id,
        "name": f"site-{n}",
        "write_key": f"aat_{n}",
        "created_at": 1000 + n,
    }
    return Project(**(values | fields))  # type: ignore[arg-type]


def test_accounts_round_trip_and_emails_match_case_insensitively(meta: MetaStore) -> None:
    assert meta.count_accounts() == 0
    meta.add_account(account(1, "Ada@Example.com"))
    meta.add_account(account(2))
    assert meta.count_accounts() == 2
    assert meta.get_account("acc_1") == account(1, "Ada@Example.com")
    assert meta.get_account("nope") is None
    assert meta.get_account_by_email("ada@EXAMPLE.com") == account(1, "Ada@Example.com")
    updated = Account(
        id="acc_1", email="ada@new.example", tier="pro", created_at=1, password_hash="x"
    )
    meta.update_account(updated)
    assert meta.get_account("acc_1") == updated
    assert meta.get_account_by_email("Ada@Example.com") is None


def test_an_email_is_unique_whatever_its_case(meta: MetaStore) -> None:
    meta.add_account(account(1, "ada@example.com"))
    with pytest.raises(Exception, match=r"(?i)unique"):
        meta.add_account(account(2, "ADA@example.com"))
    assert meta.count_accounts() == 1


def test_api_keys_are_found_by_hash_listed_in_creation_order_and_revoked_once(
    meta: MetaStore,
) -> None:
    meta.add_account(account(1))
    meta.add_account(account(2))
    meta.add_api_key(api_key(3, created_at=30))
    meta.add_api_key(api_key(1, created_at=10))
    meta.add_api_key(api_key(2, account_id="acc_2"))
    assert meta.get_api_key_by_hash("hash_3") == api_key(3, created_at=30)
    assert meta.get_api_key_by_hash("missing") is None
    assert [k.id for k in meta.list_api_keys("acc_1")] == ["key_1", "key_3"]
    assert not meta.revoke_api_key("acc_2", "key_1", at=99), "another account's key"
    assert meta.revoke_api_key("acc_1", "key_1", at=99)
    assert not meta.revoke_api_key("acc_1", "key_1", at=100), "already revoked"
    key = meta.get_api_key_by_hash("hash_1")
    assert key is not None and key.revoked_at == 99


def test_projects_round_trip_every_field(meta: MetaStore) -> None:
    meta.add_account(account(1))
    full = project(
        1,
        allowed_origins="https://a.example,*.b.example",
        timezone="Europe/Paris",
        claim_token="claim-1",
        deployment_slug="slug-1",
        source_scan_id="scan-1",
        site_url="https://a.example",
        context='{"goals": ["signup"]}',
    )
    meta.add_project(full)
    assert meta.get_project("prj_1") == full
    assert meta.get_project_by_write_key("aat_1") == full
    full.name = "renamed"
    full.deleted_at = None
    full.account_id = None
    meta.update_project(full)
    assert meta.get_project("prj_1") == full


def test_find_project_matches_names_case_insensitively_and_skips_deleted_ones(
    meta: MetaStore,
) -> None:
    meta.add_account(account(1))
    meta.add_account(account(2))
    meta.add_project(project(1, name="My-Site", deleted_at=5))
    meta.add_project(project(2, name="my-site"))
    meta.add_project(project(3, name="MY-SITE", account_id="acc_2"))
    meta.add_project(project(4, name="other", claim_token="tok", deployment_slug="dep"))
    found = meta.find_project(account_id="acc_1", name="MY-site")
    assert found is not None and found.id == "prj_2"
    assert meta.find_project(claim_token="tok") == project(
        4, name="other", claim_token="tok", deployment_slug="dep"
    )
    found = meta.find_project(deployment_slug="dep", account_id="acc_1")
    assert found is not None and found.id == "prj_4"
    assert meta.find_project(name="missing") is None
    first = meta.find_project()
    assert first is not None and first.id == "prj_2", "oldest live project"
    with pytest.raises(ValueError):
        meta.find_project(email="x")


def test_deleted_projects_disappear_from_lists_and_write_keys_but_not_by_id(
    meta: MetaStore,
) -> None:
    meta.add_account(account(1))
    for n in (3, 1, 2):
        meta.add_project(project(n))
    gone = project(2, deleted_at=77)
    meta.update_project(gone)
    assert [p.id for p in meta.list_projects("acc_1")] == ["prj_1", "prj_3"]
    assert meta.get_project_by_write_key("aat_2") is None
    assert meta.get_project("prj_2") == gone
    assert meta.list_projects("acc_2") == []


def test_unclaimed_projects_have_no_account(meta: MetaStore) -> None:
    meta.add_project(project(1, account_id=None, claim_token="c"))
    found = meta.find_project(claim_token="c")
    assert found is not None and not found.claimed


def test_documents_upsert_in_place_and_list_in_first_insertion_order(meta: MetaStore) -> None:
    meta.put_doc("funnel", "f1", "prj_1", {"name": "one", "steps": ["a", "b"]})
    meta.put_doc("funnel", "f2", "prj_1", {"name": "two"})
    meta.put_doc("funnel", "f3", "prj_2", {"name": "three"})
    meta.put_doc("experiment", "f1", "prj_1", {"name": "same id, other kind"})
    meta.put_doc("funnel", "f1", "prj_1", {"name": "one, edited", "nested": {"é": [1, 2.5]}})
    assert meta.get_doc("funnel", "f1") == {"name": "one, edited", "nested": {"é": [1, 2.5]}}
    assert meta.list_docs("funnel", "prj_1") == [
        {"name": "one, edited", "nested": {"é": [1, 2.5]}},
        {"name": "two"},
    ]
    assert meta.list_docs("experiment", "prj_1") == [{"name": "same id, other kind"}]
    assert meta.delete_doc("funnel", "f1")
    assert not meta.delete_doc("funnel", "f1")
    assert meta.get_doc("funnel", "f1") is None
    assert meta.list_docs("funnel", "prj_1") == [{"name": "two"}]


def test_a_document_keeps_the_key_order_it_was_stored_with(meta: MetaStore) -> None:
    meta.put_doc("funnel", "f1", "p", {"zeta": 1, "alpha": 2, "mid": 3})
    doc = meta.get_doc("funnel", "f1")
    assert doc is not None and list(doc) == ["zeta", "alpha", "mid"]


def test_state_is_upserted(meta: MetaStore) -> None:
    assert meta.get_state("k") is None
    meta.set_state("k", "v1")
    meta.set_state("k", "v2")
    assert meta.get_state("k") == "v2"


def test_compare_and_set_state_changes_only_the_expected_value(meta: MetaStore) -> None:
    assert meta.compare_and_set_state("k", None, "a")
    assert not meta.compare_and_set_state("k", None, "b"), "the key exists already"
    assert not meta.compare_and_set_state("k", "stale", "b")
    assert meta.get_state("k") == "a"
    assert meta.compare_and_set_state("k", "a", "b")
    assert meta.get_state("k") == "b"


def test_concurrent_compare_and_set_lets_exactly_one_writer_win(meta_url: str) -> None:
    stores = [registry.open_meta_store(backends.settings(meta=meta_url)) for _ in range(4)]
    try:
        barrier = threading.Barrier(len(stores))

        def race(index: int) -> bool:
            barrier.wait()
            return stores[index].compare_and_set_state("race", None, str(index))

        with ThreadPoolExecutor(len(stores)) as pool:
            wins = list(pool.map(race, range(len(stores))))
        assert wins.count(True) == 1
        assert stores[0].get_state("race") == str(wins.index(True))
    finally:
        for store in stores:
            store.close()


def test_workers_racing_for_the_days_salt_converge_on_one(meta_url: str) -> None:
    stores = [registry.open_meta_store(backends.settings(meta=meta_url)) for _ in range(4)]
    try:
        hashers = [VisitorHasher(*_salt_store(s)) for s in stores]
        barrier = threading.Barrier(len(hashers))
        now = datetime(2026, 3, 1, 12, tzinfo=UTC)

        def visitor(index: int) -> str:
            barrier.wait()
            return hashers[index].visitor_id("p1", "203.0.113.7", "UA", now)

        with ThreadPoolExecutor(len(hashers)) as pool:
            ids = set(pool.map(visitor, range(len(hashers))))
        assert len(ids) == 1, "every worker hashes with the same salt"
    finally:
        for store in stores:
            store.close()


def test_data_and_schema_survive_a_reopen(meta_url: str) -> None:
    first = registry.open_meta_store(backends.settings(meta=meta_url))
    first.add_account(account(1))
    first.close()
    second = registry.open_meta_store(backends.settings(meta=meta_url))
    try:
        assert second.count_accounts() == 1
    finally:
        second.close()


def test_an_export_imports_into_any_store_and_a_second_import_adds_nothing(
    meta: MetaStore, tmp_path: Path
) -> None:
    meta.add_account(account(1))
    meta.add_api_key(api_key(1))
    meta.add_project(project(2, deleted_at=9))
    meta.add_project(project(1, account_id=None))
    meta.put_doc("funnel", "b", "prj_1", {"n": 1})
    meta.put_doc("funnel", "a", "prj_1", {"n": 2})
    meta.set_state("owner_account", "acc_1")
    exported = meta.export_rows()
    assert {t: len(rows) for t, rows in exported.items()} == {
        "accounts": 1,
        "api_keys": 1,
        "projects": 2,
        "docs": 2,
        "state": 1,
    }
    target = registry.open_meta_store(backends.settings(meta=f"sqlite:///{tmp_path / 'to.db'}"))
    try:
        assert target.import_rows(exported) == {t: len(r) for t, r in exported.items()}
        assert target.import_rows(exported) == dict.fromkeys(exported, 0)
        assert target.export_rows() == exported
        assert target.list_docs("funnel", "prj_1") == [{"n": 1}, {"n": 2}]
        assert target.get_project("prj_2") == project(2, deleted_at=9)
    finally:
        target.close()
    assert meta.import_rows(exported) == dict.fromkeys(exported, 0)
