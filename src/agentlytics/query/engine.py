"""Run queries against an EventStore and shape plain results (no HTTP here)."""

from __future__ import annotations

import contextvars
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from agentlytics.model.project import Project
from agentlytics.query import users
from agentlytics.query.build import Scope, build
from agentlytics.query.dialect import Dialect, dialect_for
from agentlytics.query.fragments import session_totals_sql
from agentlytics.query.model import Filter, QuerySpec, check_spec
from agentlytics.query.period import Period, parse_period
from agentlytics.storage.ports import EventStore

#: set by a surface whose every query is limited to one environment (the MCP server, from the
#: ``x-convalytics-environment`` header): ``QueryEngine.scope`` adds the filter
only_environment: ContextVar[str | None] = ContextVar("agentlytics_only_environment", default=None)


#: where ``QueryEngine.together`` runs a request's reads beside its own thread
_READERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="agentlytics-read")


@dataclass(frozen=True, slots=True)
class QueryResult:
    rows: list[dict[str, Any]]
    #: more rows matched than the limit allowed (the rows are the top ``limit``)
    truncated: bool
    period: Period


def clean(value: Any) -> Any:
    """Database values as JSON-friendly Python values."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 4)
    if isinstance(value, Decimal):
        return round(float(value), 4)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


class QueryEngine:
    def __init__(self, store: EventStore, *, rollups: bool = True) -> None:
        """``rollups=False``: never read the store's rollups (every answer from the events)."""
        self.store = store
        self.dialect: Dialect = dialect_for(store.dialect)
        self.rollups = rollups
        #: project id -> (the store's identity_version when checked, whether it has a map)
        self._identities: dict[str, tuple[int, bool]] = {}
        #: statements running now (``fetch``), so ``together`` knows whether the cores are free
        self._running = 0
        self._running_lock = threading.Lock()

    def scope(self, project: Project, period: Period, filters: list[Filter] | None = None) -> Scope:
        environment = only_environment.get()
        if environment is not None:
            filters = [*(filters or []), Filter(field="environment", value=environment)]
        return Scope(
            self.dialect,
            project.id,
            period,
            filters or [],
            identities=self.has_identities(project.id),
            rollup_dims=getattr(self.store, "rollup_dims", None) if self.rollups else None,
            session_fragments=self.rollups and getattr(self.store, "session_fragments", False),
            user_hours=self.rollups and getattr(self.store, "user_hours", False),
            user_range=getattr(self.store, "user_numbers", {}).get(project.id, 0),
            dim_columns=self.dim_columns(),
            property_summaries=self.rollups and getattr(self.store, "property_summaries", False),
            materialized=self.materialized(project.id),
        )

    def dim_columns(self) -> frozenset[str]:
        """The events columns the store keeps users per hour and value of (none without
        rollups)."""
        columns: frozenset[str] = getattr(self.store, "dim_columns", frozenset())
        return columns if self.rollups else frozenset()

    def materialized(self, project_id: str) -> frozenset[str]:
        """The project's property keys whose values the store keeps (none without rollups)."""
        keys: dict[str, frozenset[str]] = getattr(self.store, "materialized", {})
        return keys.get(project_id, frozenset()) if self.rollups else frozenset()

    def materialize(self, project_id: str, key: str) -> None:
        """Ask the store to keep a (checked) property key's values, where it can."""
        ask = getattr(self.store, "materialize", None)
        if self.rollups and ask is not None:
            ask(project_id, key)

    def has_identities(self, project_id: str) -> bool:
        """Whether queries must resolve users through the identity map of this project.

        Stores that count their identity writes (``identity_version``, the embedded store)
        let the answer be cached until the next ``/identify``; for the others (several
        workers may write) the map is always joined.
        """
        version = getattr(self.store, "identity_version", None)
        if not isinstance(version, int):
            return True
        cached = self._identities.get(project_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        found = bool(
            self.store.query(
                f"SELECT 1 FROM {self.dialect.identities} i WHERE i.project_id = ? LIMIT 1",
                [project_id],
            ).rows
        )
        if len(self._identities) > 10_000:
            self._identities.clear()
        self._identities[project_id] = (version, found)
        return found

    def together(self, *calls: Callable[[], Any]) -> list[Any]:
        """Run independent reads side by side where the store allows it (its
        ``concurrent_reads``: DuckDB reads on separate cursors) and no other statement is
        running, else one after the other; their results in order.

        A statement too small for DuckDB to spread over both cores leaves one idle: two of
        them overlap instead (10M events: ``/insights``' four statements ~196 -> ~157 ms over
        HTTP). When other requests keep the cores busy, overlapping only adds contention
        (``/stats``' two statements side by side answered ~5% fewer requests with 8 clients),
        so they run one after the other then. Each call sees this thread's context (the MCP
        environment filter); a call made from a reader thread runs its reads in place."""
        inside = threading.current_thread().name.startswith("agentlytics-read")
        concurrent = getattr(self.store, "concurrent_reads", False)
        if len(calls) < 2 or inside or not concurrent or self._running:
            return [call() for call in calls]
        futures = [_READERS.submit(contextvars.copy_context().run, c) for c in calls[1:]]
        first = calls[0]()
        return [first, *(f.result() for f in futures)]

    def fetch(self, scope: Scope, sql: str) -> list[dict[str, Any]]:
        with self._running_lock:
            self._running += 1
        try:
            rows = self.store.query(sql, scope.params)
        finally:
            with self._running_lock:
                self._running -= 1
        return [{k: clean(v) for k, v in row.items()} for row in rows.dicts()]

    def period(self, project: Project, since: str | None, until: str | None, **kw: Any) -> Period:
        return parse_period(since, until, project.timezone, **kw)

    def run(
        self, project: Project, spec: QuerySpec, period: Period | None = None, *, where: str = ""
    ) -> QueryResult:
        """Run a checked QuerySpec (blocking: call from a worker thread).

        ``where``: an extra condition on ``events e`` that the caller knows changes nothing it
        reads (see ``breakdowns.breakdown``).
        """
        check_spec(spec)
        if period is None:
            tz = spec.timezone or project.timezone
            period = parse_period(spec.date_from, spec.date_to, tz)
        scope = self.scope(project, period, list(spec.filters))
        sql = None if where else session_totals_sql(scope, spec) or users.query_sql(scope, spec)
        raw = self.fetch(scope, sql or build(scope, spec, where=where))
        truncated = len(raw) > spec.limit
        rows = []
        for row in raw[: spec.limit]:
            shaped = {name: row[f"g{i}"] for i, name in enumerate(spec.group_by)}
            shaped.update({name: row[f"m{i}"] for i, name in enumerate(spec.metrics)})
            rows.append(shaped)
        return QueryResult(rows=rows, truncated=truncated, period=period)

    def one(
        self, project: Project, period: Period, metrics: list[str], **kw: Any
    ) -> dict[str, Any]:
        """A single row of totals."""
        result = self.run(project, QuerySpec(metrics=metrics, **kw), period)
        if result.rows:
            return result.rows[0]
        return dict.fromkeys(metrics, 0)
