"""EventStore on ClickHouse through clickhouse-connect (a server over HTTP(S), or chDB in-process).

Writes go through the shared group-commit writer (``storage/writer.py``): one writer thread
gathers concurrent requests and commits them in one insert per table; a request's future
resolves only after ClickHouse answered the insert. Retried events are caught three ways,
cheapest first: the in-memory :class:`RecentIds` of this process (warmed at start-up), a
primary-key lookup of the group's new ids (catches a retry that reached another worker), and
the ``ReplacingMergeTree`` sorting key, which collapses what slipped through a race between
two workers.

Reads use one client per thread, so readers run beside the writer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import clickhouse_connect
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect import common as ch_common
from clickhouse_connect.driver.binding import quote_identifier

from agentlytics.model.event import BotHit, Event, Identity
from agentlytics.storage.arrow import event_schema, events_table
from agentlytics.storage.clickhouse.params import bind
from agentlytics.storage.clickhouse.schema import apply_retention, migrate
from agentlytics.storage.dedupe import RecentIds, id_key
from agentlytics.storage.ports import Rows
from agentlytics.storage.writer import GroupWriter, Outcome, Write, mark_new

log = logging.getLogger(__name__)

_LOOKUP_CHUNK = 5_000  # ids per primary-key lookup
# from this many new events on (bulk loads), first ask which of their days hold events at all
_RANGE_CHECK_MIN = 1_000
# every statement reads and writes times in UTC, whatever the server's own time zone
CLIENT_SETTINGS = {"session_timezone": "UTC"}
# Reader settings this store turns on when the server knows them (newer servers):
# materialized CTEs compute once a CTE that a query reads several times (the dialect marks
# such CTEs MATERIALIZED; for a server without them the store drops the keyword).
_READ_FEATURES = {"enable_materialized_cte": 1}
_MATERIALIZED = " AS MATERIALIZED ("
# a group may hold events of many months; one bad batch must not fail everybody's commit
INSERT_SETTINGS = {"max_partitions_per_insert_block": 0}

# bulk loads come without duplicates: skip collapsing each block on insert (3x faster on
# chDB); merges still collapse whatever a race lets through
_BULK_SETTINGS = {**INSERT_SETTINGS, "optimize_on_insert": 0}

# concurrent queries on one HTTP session are refused; our clients share nothing per session
ch_common.set_setting("autogenerate_session_id", False)

_TS = pa.timestamp("ms", tz="UTC")


_EVENT_SCHEMA = event_schema(_TS)
_BOT_SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("timestamp", _TS),
        ("category", pa.string()),
        ("actor", pa.string()),
        ("name", pa.string()),
    ]
)
_IDENTITY_SCHEMA = pa.schema(
    [
        ("project_id", pa.string()),
        ("previous_id", pa.string()),
        ("user_id", pa.string()),
        ("created_at", _TS),
    ]
)


def connection_args(url: str) -> tuple[str, str]:
    """The clickhouse-connect DSN for a store URL, and the database it names.

    ``clickhouse://`` and ``clickhouses://`` are HTTP and HTTPS to a server; ``http(s)://`` are
    taken as they are; ``chdb:///dir`` opens embedded ClickHouse (its database comes from a
    ``?database=`` parameter, since the path names the directory).
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.scheme == "chdb":
        database = next((v for k, v in query if k == "database"), "") or "default"
        rest = urlencode([(k, v) for k, v in query if k != "database"])
        return urlunsplit(parts._replace(query=rest)), database
    scheme = {"clickhouse": "http", "clickhouses": "https"}.get(parts.scheme, parts.scheme)
    database = parts.path.strip("/") or "default"
    return urlunsplit(parts._replace(scheme=scheme, path="")), database


class ClickHouseEventStore:
    dialect = "clickhouse"

    def __init__(
        self,
        url: str,
        *,
        group_commit_ms: float = 0.0,
        dedupe_window_days: int = 7,
        dedupe_capacity: int = 500_000,
        retention_days: int = 0,
    ) -> None:
        self.url = url
        self._dsn, self.database = connection_args(url)
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()
        self._local = threading.local()
        setup = self._new_client(database=None)
        setup.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self.database)}")
        setup.database = self.database
        self.schema_version = migrate(setup)
        apply_retention(setup, retention_days)
        self._writer_client = setup
        self.read_settings = reader_settings(setup)
        self._materialized_cte = "enable_materialized_cte" in self.read_settings
        self._seen = RecentIds(dedupe_capacity)
        self._warm_dedupe(dedupe_window_days, dedupe_capacity)
        self._writer = GroupWriter(
            self._commit, name="clickhouse-writer", group_commit_ms=group_commit_ms
        )

    def _new_client(self, database: str | None, settings: dict[str, Any] | None = None) -> Any:
        client = clickhouse_connect.get_client(
            dsn=self._dsn, database=database, settings=settings or CLIENT_SETTINGS
        )
        with self._clients_lock:
            self._clients.append(client)
        return client

    def _client(self) -> Any:
        """This thread's reader client."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._new_client(self.database, self.read_settings)
        return client

    # -- writes ---------------------------------------------------------------------------

    async def append(self, events: Sequence[Event], bots: Sequence[BotHit] = ()) -> list[bool]:
        return await self._writer.submit(Write(events=events, bots=bots))

    async def add_identity(self, identity: Identity) -> None:
        await self._writer.submit(Write(identities=[identity]))

    async def flush(self) -> None:
        await self._writer.submit(Write())

    def append_sync(self, events: Sequence[Event]) -> list[bool]:
        """Blocking append, for bulk loaders and tools outside the event loop."""
        return self._writer.submit_sync(Write(events=events))

    def _commit(self, group: list[Write]) -> list[Outcome]:
        results, candidates, added = mark_new(group, self._seen)
        try:
            stored = self._stored_ids([e for _, _, e in candidates])
            fresh = []
            for flags, index, event in candidates:
                if (event.project_id, event.event_id) in stored:
                    flags[index] = False
                else:
                    fresh.append(event)
            client = self._writer_client
            if fresh:
                client.insert_arrow(
                    "events", events_table(fresh, _EVENT_SCHEMA), settings=INSERT_SETTINGS
                )
            bots = [b for w in group for b in w.bots]
            if bots:
                client.insert_arrow("bot_hits", _bots_table(bots), settings=INSERT_SETTINGS)
            identities = [i for w in group for i in w.identities]
            if identities:
                client.insert_arrow("identities", _identities_table(identities))
        except Exception as exc:
            log.exception("insert failed")
            for key in added:
                self._seen.discard(key)
            return [exc] * len(group)
        return list(results)

    def _stored_ids(self, events: Sequence[Event]) -> set[tuple[str, str]]:
        """Which of these events are already stored (under the table's dedupe key)."""
        found: set[tuple[str, str]] = set()
        if len(events) >= _RANGE_CHECK_MIN:
            # a bulk load: only events on days that hold events already need looking up
            busy = self._busy_days(events)
            events = [e for e in events if (e.project_id, _utc_date(e.timestamp)) in busy]
        for start in range(0, len(events), _LOOKUP_CHUNK):
            keys = [
                (e.project_id, _utc_date(e.timestamp), e.name, e.event_id)
                for e in events[start : start + _LOOKUP_CHUNK]
            ]
            result = self._writer_client.query(
                "SELECT project_id, event_id FROM events WHERE "
                "(project_id, toDate(timestamp), name, event_id) "
                "IN {keys:Array(Tuple(String, Date, String, String))}",
                parameters={"keys": keys},
            )
            found.update((str(p), str(i)) for p, i in result.result_rows)
        return found

    def _busy_days(self, events: Sequence[Event]) -> set[tuple[str, date]]:
        """The (project, day) pairs of these events' range that hold any event."""
        projects = sorted({e.project_id for e in events})
        days = [_utc_date(e.timestamp) for e in events]
        result = self._writer_client.query(
            "SELECT DISTINCT project_id, toDate(timestamp) FROM events "
            "WHERE project_id IN {p:Array(String)} "
            "AND toDate(timestamp) BETWEEN {lo:Date} AND {hi:Date}",
            parameters={"p": projects, "lo": min(days), "hi": max(days)},
        )
        return {(str(p), d) for p, d in result.result_rows}

    def load_events(self, table: pa.Table) -> int:
        """Bulk-load events (an Arrow table with the events' columns), leaving out those
        already stored: for ``agentlytics migrate``. It runs on the caller's thread with its
        own client, beside the writer, and skips the writer's in-memory dedupe. Returns the
        rows inserted."""
        table = table.select(list(_EVENT_SCHEMA.names)).cast(_EVENT_SCHEMA)
        stored = self._stored_keys(table)
        if stored:
            keys = _key_column(table["project_id"], table["event_id"])
            table = table.filter(pc.invert(pc.is_in(keys, value_set=pa.array(stored))))
        if table.num_rows:
            self._client().insert_arrow("events", table, settings=_BULK_SETTINGS)
        return int(table.num_rows)

    def _stored_keys(self, table: pa.Table) -> list[str]:
        """The ``_key_column`` of every stored event on the (project, UTC day)s of ``table``."""
        if not table.num_rows:
            return []
        days = pc.unique(pc.cast(table["timestamp"], pa.date32())).to_pylist()
        projects = pc.unique(table["project_id"]).to_pylist()
        result = self._client().query(
            "SELECT project_id, event_id FROM events "
            "WHERE project_id IN {p:Array(String)} AND toDate(timestamp) IN {d:Array(Date)}",
            parameters={"p": projects, "d": days},
        )
        return [f"{p}{_KEY_SEP}{i}" for p, i in result.result_rows]

    def _warm_dedupe(self, days: int, capacity: int) -> None:
        # by event time, which the sorting key prunes; the key lookup covers the rest
        since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
        result = self._writer_client.query(
            "SELECT project_id, event_id FROM events "
            "WHERE timestamp >= {since:DateTime64(3, 'UTC')} "
            "ORDER BY timestamp DESC LIMIT {cap:UInt64}",
            parameters={"since": since, "cap": capacity},
        )
        for project_id, event_id in reversed(result.result_rows):
            self._seen.add(id_key(project_id, event_id))

    # -- reads ----------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        if not self._materialized_cte:
            sql = sql.replace(_MATERIALIZED, " AS (")
        statement, values = bind(sql, params)
        result = self._client().query(statement, parameters=values or None)
        rows = result.result_rows
        zoned = [i for i, t in enumerate(result.column_types) if "DateTime" in t.name]
        if zoned:
            rows = [_wall_clock(row, zoned) for row in rows]
        return Rows(columns=list(result.column_names), rows=[tuple(r) for r in rows])

    def has_events(self, project_id: str) -> bool:
        return bool(
            self.query("SELECT 1 FROM events WHERE project_id = ? LIMIT 1", [project_id]).rows
        )

    def close(self) -> None:
        if self._writer.closed:
            return
        self._writer.close()
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


def reader_settings(client: Any) -> dict[str, Any]:
    """The settings of a reading client: ``CLIENT_SETTINGS`` and the optional features this
    server knows."""
    result = client.query(
        "SELECT name FROM system.settings WHERE name IN {names:Array(String)}",
        parameters={"names": list(_READ_FEATURES)},
    )
    known = {str(name) for (name,) in result.result_rows}
    return {**CLIENT_SETTINGS, **{k: v for k, v in _READ_FEATURES.items() if k in known}}


def _wall_clock(row: Sequence[Any], columns: list[int]) -> tuple[Any, ...]:
    # A DateTime in a zone other than UTC comes back aware; DuckDB's local-time expressions
    # give the same wall-clock time as a naive timestamp.
    values = list(row)
    for i in columns:
        value = values[i]
        if isinstance(value, datetime) and value.tzinfo is not None:
            values[i] = value.replace(tzinfo=None)
    return tuple(values)


def _utc_date(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


_KEY_SEP = "\x1f"


def _key_column(projects: pa.ChunkedArray, ids: pa.ChunkedArray) -> pa.ChunkedArray:
    """One string per event that names it: project id and event id."""
    return pc.binary_join_element_wise(projects, ids, _KEY_SEP)


def _bots_table(bots: Sequence[BotHit]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "project_id": [b.project_id for b in bots],
            "timestamp": [b.timestamp for b in bots],
            "category": [b.category for b in bots],
            "actor": [b.actor for b in bots],
            "name": [b.name for b in bots],
        },
        schema=_BOT_SCHEMA,
    )


def _identities_table(identities: Sequence[Identity]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "project_id": [i.project_id for i in identities],
            "previous_id": [i.previous_id for i in identities],
            "user_id": [i.user_id for i in identities],
            "created_at": [i.created_at for i in identities],
        },
        schema=_IDENTITY_SCHEMA,
    )
