"""Ingest with a monthly quota of custom events per project (the Convalytics surface).

``settings.max_events_per_month`` (0 = unlimited) counts every event except page views,
which are free, by the UTC month they were received in. A batch is charged before it is
written, all at once; events that were not stored after all (invalid, duplicates, bots, a
rate-limited request) are refunded.

The count starts from the event store (so it survives restarts) and is kept in memory
between re-reads, which happen at most every ``RESEED_S`` seconds. With several workers each
one re-reads the store, so together they can pass the quota by what the others stored in
that interval: a monthly quota does not need to be exact to the event, the store does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio.to_thread

from agentlytics.errors import RateLimited
from agentlytics.ingest.draft import Draft, RequestContext
from agentlytics.ingest.pipeline import Ingestor, Outcome
from agentlytics.model.event import PAGE_VIEW
from agentlytics.model.project import Project
from agentlytics.storage.ports import EventStore

RESEED_S = 60.0
OVER_QUOTA = Outcome("invalid", "QUOTA_EXCEEDED", "monthly event quota exceeded")


@dataclass(frozen=True, slots=True)
class QuotaDecision:
    allowed: bool
    used: int  # custom events counted this month, after this charge when allowed
    limit: int  # 0 = unlimited


@dataclass(slots=True)
class _Usage:
    month: str
    used: int
    seeded_at: float
    pending: int = 0  # charged, not yet settled: not in the store yet


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s UTC month, naive UTC (as the stores compare)."""
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, 1)


class MonthlyQuota:
    """Custom events per project per UTC month."""

    def __init__(self, store: EventStore, limit: int) -> None:
        self.store = store
        self.limit = limit
        self._usage: dict[str, _Usage] = {}
        self._lock = asyncio.Lock()

    def _stored(self, project_id: str, since: datetime) -> int:
        rows = self.store.query(
            "SELECT count(*) FROM events WHERE project_id = ? AND received_at >= ? AND name <> ?",
            [project_id, since, PAGE_VIEW],
        ).rows
        return int(rows[0][0]) if rows else 0

    async def charge(self, project_id: str, count: int) -> QuotaDecision:
        """Take ``count`` events from this month's quota, all or nothing."""
        if self.limit <= 0 or count <= 0:
            return QuotaDecision(True, 0, self.limit)
        async with self._lock:
            start = month_start(datetime.now(UTC))
            month = start.strftime("%Y-%m")
            usage = self._usage.get(project_id)
            if (
                usage is None
                or usage.month != month
                or time.monotonic() - usage.seeded_at > RESEED_S
            ):
                pending = usage.pending if usage is not None and usage.month == month else 0
                stored = await anyio.to_thread.run_sync(self._stored, project_id, start)
                usage = _Usage(month, stored + pending, time.monotonic(), pending)
                self._usage[project_id] = usage
            if usage.used + count > self.limit:
                return QuotaDecision(False, usage.used, self.limit)
            usage.used += count
            usage.pending += count
            return QuotaDecision(True, usage.used, self.limit)

    async def settle(self, project_id: str, charged: int, stored: int) -> None:
        """The write of a charged batch is over: give back what was not stored."""
        if self.limit <= 0 or charged <= 0:
            return
        async with self._lock:
            usage = self._usage.get(project_id)
            if usage is None:
                return
            usage.pending = max(0, usage.pending - charged)
            usage.used = max(0, usage.used - (charged - stored))


@dataclass(frozen=True, slots=True)
class MeteredResult:
    #: one per draft, in order; custom events refused over quota have code QUOTA_EXCEEDED
    outcomes: list[Outcome]
    quota: QuotaDecision
    page_views_stored: int
    product_events_refused: int
    #: the first production page origin among the stored events (for the project's site URL)
    site_origin: str | None

    @property
    def over_quota(self) -> bool:
        return not self.quota.allowed


class MeteredIngest:
    """The pipeline behind a monthly quota: over it, page views still land."""

    def __init__(self, ingestor: Ingestor, quota: MonthlyQuota) -> None:
        self.ingestor = ingestor
        self.quota = quota

    async def ingest(
        self, project: Project, drafts: Sequence[Draft], ctx: RequestContext
    ) -> MeteredResult:
        """Charge the quota, then run the pipeline on what it allows.

        Raises:
            RateLimited: the project's per-minute limit (nothing is stored or charged).
        """
        product = [i for i, d in enumerate(drafts) if d.name != PAGE_VIEW]
        decision = await self.quota.charge(project.id, len(product))
        charged = len(product) if decision.allowed else 0
        send = (
            list(range(len(drafts)))
            if decision.allowed
            else [i for i, d in enumerate(drafts) if d.name == PAGE_VIEW]
        )
        outcomes: list[Outcome] = [OVER_QUOTA] * len(drafts)
        try:
            results = await self.ingestor.ingest(project, [drafts[i] for i in send], ctx)
        except RateLimited:
            await self.quota.settle(project.id, charged, 0)
            raise
        for index, outcome in zip(send, results, strict=True):
            outcomes[index] = outcome
        stored_product = sum(1 for i in product if outcomes[i].status == "accepted")
        await self.quota.settle(project.id, charged, stored_product)
        return MeteredResult(
            outcomes=outcomes,
            quota=decision,
            page_views_stored=sum(
                1 for i in send if drafts[i].name == PAGE_VIEW and outcomes[i].ok
            ),
            product_events_refused=0 if decision.allowed else len(product),
            site_origin=_site_origin(drafts, outcomes, ctx),
        )


def _site_origin(
    drafts: Sequence[Draft], outcomes: Sequence[Outcome], ctx: RequestContext
) -> str | None:
    """A page origin classified production (no deployment name decided the environment)."""
    for draft, outcome in zip(drafts, outcomes, strict=True):
        event = outcome.event
        if event is None or draft.deployment_name or event.environment != "production":
            continue
        origin = draft.page_origin or ctx.origin
        if origin and origin != "null":
            return origin
    return None
