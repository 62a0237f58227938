"""``agentlytics migrate``: copy an embedded installation into the scale-out backends.

Metadata first (accounts, keys, projects, documents, state), then events in time order,
streamed in chunks through the destination's own writer, so the copy is deduplicated by event
id like any ingest: a re-run, or a run after an interrupted one, adds only what is missing.
Stop the embedded server first: its DuckDB file belongs to one process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Annotated, Any

import pyarrow as pa
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agentlytics.cli.options import Config, DataDir, console, settings_from
from agentlytics.cli.serve import redact
from agentlytics.model.event import EVENT_COLUMNS, BotHit, Identity
from agentlytics.settings import Settings
from agentlytics.storage import registry
from agentlytics.storage.ports import EventStore, MetaStore

_DAYS = "SELECT DISTINCT CAST(timestamp AS DATE) AS day FROM events ORDER BY day"
_DAY_EVENTS = (
    f"SELECT {', '.join(EVENT_COLUMNS)} FROM events "
    "WHERE timestamp >= ?::DATE AND timestamp < ?::DATE + INTERVAL 1 DAY ORDER BY timestamp"
)


def migrate(
    to_events: Annotated[
        str, typer.Option(help="Destination event store URL (clickhouse://…, http(s)://…).")
    ],
    to_meta: Annotated[str, typer.Option(help="Destination metadata store URL (postgresql://…).")],
    data_dir: DataDir = None,
    chunk: Annotated[int, typer.Option(help="Events per insert.", min=100)] = 200_000,
    config: Config = None,
) -> None:
    """Copy an embedded installation (SQLite + DuckDB in --data-dir) into scale-out backends."""
    source = settings_from(config, data_dir=data_dir)
    target = settings_from(config, data_dir=data_dir, events=to_events, meta=to_meta)
    console.print(f"from  {source.events_url}\n      {source.meta_url}")
    console.print(f"to    {redact(target.events_url)}\n      {redact(target.meta_url)}")
    try:
        stores = _open(source, target)
    except Exception as exc:
        console.print(f"[red]error:[/red] cannot open the stores: {exc}")
        raise typer.Exit(2) from None
    from_meta, from_events, dest_meta, dest_events = stores
    try:
        if from_events.dialect != "duckdb":
            console.print("[red]error:[/red] the source must be an embedded (DuckDB) installation")
            raise typer.Exit(2)
        _copy_meta(from_meta, dest_meta)
        _copy_events(from_events, dest_events, chunk)
    finally:
        from_events.close()
        dest_events.close()
        from_meta.close()
        dest_meta.close()


def _open(
    source: Settings, target: Settings
) -> tuple[MetaStore, EventStore, MetaStore, EventStore]:
    opened: list[Any] = []
    try:
        opened.append(registry.open_meta_store(source))
        opened.append(registry.open_event_store(source))
        opened.append(registry.open_meta_store(target))
        opened.append(registry.open_event_store(target))
    except Exception:
        for store in opened:
            store.close()
        raise
    return opened[0], opened[1], opened[2], opened[3]


def _copy_meta(source: MetaStore, dest: MetaStore) -> None:
    rows = source.export_rows()
    ours = {a["id"] for a in rows["accounts"]}
    theirs = {a["id"] for a in dest.export_rows()["accounts"]}
    if theirs - ours:
        console.print(
            "[red]error:[/red] the destination metadata store has accounts of its own "
            "(was a server started on it?); migrate into an empty database"
        )
        raise typer.Exit(2)
    added = dest.import_rows(rows)
    summary = ", ".join(f"{added[t]}/{len(r)} {t}" for t, r in rows.items())
    console.print(f"metadata: {summary} copied (the rest were there already)")


def _copy_events(source: EventStore, dest: EventStore, size: int) -> None:
    from agentlytics.storage.clickhouse.store import ClickHouseEventStore

    if not isinstance(dest, ClickHouseEventStore):
        console.print("[red]error:[/red] the destination event store must be ClickHouse")
        raise typer.Exit(2)
    total = int(source.query("SELECT count(*) FROM events").rows[0][0])
    days = [d for (d,) in source.query(_DAYS).rows]
    progress = Progress(
        TextColumn("events"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )

    def copy(cursor: Any) -> tuple[int, float]:
        new = done = 0
        started = time.monotonic()
        task = progress.add_task("events", total=total, rate="")
        # one insert in flight while the next chunk is read
        with ThreadPoolExecutor(1) as pool:
            pending: Future[int] | None = None
            for table in _event_tables(cursor, days, size):
                if pending is not None:
                    new += pending.result()
                pending = pool.submit(dest.load_events, table)
                done += table.num_rows
                rate = done / max(time.monotonic() - started, 1e-6)
                progress.update(task, completed=done, rate=f"{rate:,.0f}/s")
            if pending is not None:
                new += pending.result()
        return new, time.monotonic() - started

    with progress:
        new, seconds = _with_cursor(source, copy)
    console.print(
        f"events: {new:,} copied, {total - new:,} were there already "
        f"({seconds:,.1f} s, {total / max(seconds, 1e-6):,.0f} events/s)"
    )
    _with_cursor(source, lambda cursor: _copy_identities(cursor, dest, size))
    _copy_bots(source, dest, size)


def _event_tables(cursor: Any, days: list[date], size: int) -> Iterator[pa.Table]:
    """The events as Arrow tables of about ``size`` rows, a UTC day at a time in time order
    (each day's sort is small, and the zone maps read only that day)."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    for day in days:
        for batch in cursor.sql(_DAY_EVENTS, params=[day, day]).to_arrow_reader(size):
            batches.append(batch)
            rows += batch.num_rows
            if rows >= size:
                yield pa.Table.from_batches(batches)
                batches, rows = [], 0
    if batches:
        yield pa.Table.from_batches(batches)


def _with_cursor(source: EventStore, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn`` with a private cursor of the embedded store, lent for bulk reads."""
    return source.with_cursor(fn)  # type: ignore[attr-defined]


def _chunks(cursor: Any, sql: str, size: int) -> Iterator[list[dict[str, Any]]]:
    cursor.execute(sql)
    columns = [d[0] for d in cursor.description]
    while batch := cursor.fetchmany(size):
        yield [dict(zip(columns, row, strict=True)) for row in batch]


def _copy_identities(cursor: Any, dest: EventStore, size: int) -> None:
    sql = (
        "SELECT project_id, previous_id, user_id, epoch_ms(created_at) AS created_at "
        "FROM identities ORDER BY created_at"
    )

    async def add(rows: list[dict[str, Any]]) -> None:
        # concurrent writes share one commit
        await asyncio.gather(*(dest.add_identity(Identity(**r)) for r in rows))

    count = 0
    for rows in _chunks(cursor, sql, size):
        asyncio.run(add(rows))
        count += len(rows)
    console.print(f"identities: {count:,} copied")


def _copy_bots(source: EventStore, dest: EventStore, size: int) -> None:
    # bot hits carry no id to deduplicate by: copy them only into an empty table
    if int(dest.query("SELECT count(*) FROM bot_hits").rows[0][0]) > 0:
        console.print("bot hits: the destination has some already; not copied again")
        return
    sql = (
        "SELECT project_id, epoch_ms(timestamp) AS timestamp, category, actor, name "
        "FROM bot_hits ORDER BY timestamp"
    )

    def copy(cursor: Any) -> int:
        count = 0
        for rows in _chunks(cursor, sql, size):
            asyncio.run(dest.append([], [BotHit(**r) for r in rows]))
            count += len(rows)
        return count

    console.print(f"bot hits: {_with_cursor(source, copy):,} copied")
