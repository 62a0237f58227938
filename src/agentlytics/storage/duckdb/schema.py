"""Versioned DuckDB migrations, applied in order at start-up."""

from __future__ import annotations

import duckdb

MIGRATIONS: list[str] = [
    # 1: the wide event table, the identity map and bot counts
    """
    CREATE TABLE events (
        project_id VARCHAR NOT NULL,
        event_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        timestamp TIMESTAMP NOT NULL,
        received_at TIMESTAMP NOT NULL,
        user_id VARCHAR, anonymous_id VARCHAR, session_id VARCHAR,
        user_email VARCHAR, user_name VARCHAR,
        url VARCHAR, host VARCHAR, path VARCHAR, title VARCHAR,
        referrer VARCHAR, referrer_host VARCHAR,
        utm_source VARCHAR, utm_medium VARCHAR, utm_campaign VARCHAR,
        utm_term VARCHAR, utm_content VARCHAR,
        country VARCHAR, browser VARCHAR, os VARCHAR, device VARCHAR,
        language VARCHAR, screen VARCHAR, timezone VARCHAR,
        environment VARCHAR NOT NULL, source VARCHAR NOT NULL,
        mcp_session_id VARCHAR, primitive_type VARCHAR, primitive_name VARCHAR,
        latency_ms DOUBLE, success BOOLEAN, error VARCHAR, args VARCHAR, result VARCHAR,
        client VARCHAR,
        properties VARCHAR NOT NULL
    );
    CREATE TABLE identities (
        project_id VARCHAR NOT NULL,
        previous_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (project_id, previous_id)
    );
    CREATE TABLE bot_hits (
        project_id VARCHAR NOT NULL,
        timestamp TIMESTAMP NOT NULL,
        category VARCHAR NOT NULL,
        actor VARCHAR NOT NULL,
        name VARCHAR NOT NULL
    );
    """,
    # 2: exact event counts per UTC hour x event name x one dimension, kept current by the
    #    writer (storage/duckdb/rollup.py); the watermark says which events they hold
    """
    CREATE TABLE rollup_hourly (
        project_id VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        name VARCHAR NOT NULL,
        dim VARCHAR NOT NULL,
        value VARCHAR,
        events BIGINT NOT NULL,
        failures BIGINT NOT NULL
    );
    CREATE TABLE rollup_state (
        name VARCHAR PRIMARY KEY,
        watermark TIMESTAMP NOT NULL
    );
    INSERT INTO rollup_state VALUES ('rollup_hourly', TIMESTAMP '1970-01-01 00:00:00');
    """,
    # 3: session fragments per UTC hour x session x raw user id, behind their own watermark
    #    (storage/duckdb/rollup.py; the store builds them for older events at start-up);
    #    ``whole``: the session's only row; ``sk``: the session id's hash, by which readers
    #    find the rows a session shares (reading it costs far less than the id). Session ids
    #    are stored uncompressed: they are unique, and decoding them FSST-compressed cost
    #    session reads ~3x the time of reading them plain (docs/performance.md)
    """
    CREATE TABLE session_hourly (
        project_id VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        sid VARCHAR USING COMPRESSION uncompressed,
        uid VARCHAR,
        t0 TIMESTAMP NOT NULL,
        t1 TIMESTAMP NOT NULL,
        events BIGINT NOT NULL,
        pageviews BIGINT NOT NULL,
        active BIGINT NOT NULL,
        entry_ts TIMESTAMP,
        entry VARCHAR,
        exit_ts TIMESTAMP,
        exit VARCHAR,
        whole BOOLEAN NOT NULL,
        sk UBIGINT
    );
    INSERT INTO rollup_state VALUES ('session_hourly', TIMESTAMP '1970-01-01 00:00:00');
    """,
    # 4: per-user daily activity (first and last event per project x UTC day x raw user id)
    #    for retention, behind its own watermark (storage/duckdb/activity.py); user ids are
    #    mostly unique, so they are stored uncompressed like session ids
    """
    CREATE TABLE activity_daily (
        project_id VARCHAR NOT NULL,
        day DATE NOT NULL,
        uid VARCHAR USING COMPRESSION uncompressed,
        first_ts TIMESTAMP NOT NULL,
        last_ts TIMESTAMP NOT NULL
    );
    INSERT INTO rollup_state VALUES ('activity_daily', TIMESTAMP '1970-01-01 00:00:00');
    """,
    # 5: events per UTC hour x event name x raw user, the user as a 64-bit hash of its id
    #    (storage/duckdb/users.py), behind its own watermark; ``user_hash`` keeps the hash of
    #    a probe string as the engine computed it, so that a change of DuckDB's hash (after an
    #    upgrade) is seen and the table rebuilt
    """
    CREATE TABLE user_hourly (
        project_id VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        name VARCHAR NOT NULL,
        uk UBIGINT,
        events BIGINT NOT NULL
    );
    CREATE TABLE user_hash (probe UBIGINT NOT NULL);
    INSERT INTO user_hash SELECT hash('agentlytics user key');
    INSERT INTO rollup_state VALUES ('user_hourly', TIMESTAMP '1970-01-01 00:00:00');
    """,
    # 6: how far the ingest journal (storage/journal.py) has been applied to these tables:
    #    its generation and the offset past the last applied frame
    """
    CREATE TABLE journal_state (generation BIGINT NOT NULL, applied BIGINT NOT NULL);
    INSERT INTO journal_state VALUES (0, 0);
    """,
    # 7: property keys per UTC hour x event name, and the values of the keys materialized
    #    per project (storage/duckdb/properties.py), behind their own watermark; raw user
    #    ids as in activity_daily
    """
    CREATE TABLE property_hourly (
        project_id VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        name VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        events BIGINT NOT NULL
    );
    CREATE TABLE property_values (
        project_id VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        name VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        uid VARCHAR,
        events BIGINT NOT NULL
    );
    CREATE TABLE property_materialized (
        project_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        -- the watermark when listed: the events received before it are filled in the
        -- background, event time below pending_before still to do (NULL: complete)
        mark TIMESTAMP NOT NULL,
        pending_before TIMESTAMP,
        PRIMARY KEY (project_id, key)
    );
    INSERT INTO rollup_state VALUES ('property_hourly', TIMESTAMP '1970-01-01 00:00:00');
    """,
    # 8: each raw user id's first event per project, one row per id, for retention
    #    (storage/duckdb/first_seen.py), behind its own watermark; ids stored uncompressed
    #    as in ``activity_daily``
    """
    CREATE TABLE user_first (
        project_id VARCHAR NOT NULL,
        uid VARCHAR USING COMPRESSION uncompressed,
        first_ts TIMESTAMP NOT NULL
    );
    INSERT INTO rollup_state VALUES ('user_first', TIMESTAMP '1970-01-01 00:00:00');
    """,
    # 9: users as dense numbers per project (storage/duckdb/users.py): ``user_numbers`` (the
    #    raw id's number, and a hash as a lookup key where unique), ``user_aliases`` (the
    #    identity map by numbers, filled here for the identities so far), and ``user_hourly``
    #    keyed by the number instead of the hash, emptied to be rebuilt from the events at
    #    start-up
    """
    DROP TABLE user_hourly;
    CREATE TABLE user_hourly (
        project_id VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        name VARCHAR NOT NULL,
        num UINTEGER,
        events BIGINT NOT NULL
    );
    UPDATE rollup_state SET watermark = TIMESTAMP '1970-01-01 00:00:00'
    WHERE name = 'user_hourly';
    CREATE TABLE user_numbers (
        project_id VARCHAR NOT NULL,
        uid VARCHAR NOT NULL,
        num UINTEGER NOT NULL,
        uk UBIGINT
    );
    CREATE TABLE user_aliases (
        project_id VARCHAR NOT NULL,
        num UINTEGER NOT NULL,
        to_num UINTEGER NOT NULL,
        PRIMARY KEY (project_id, num)
    );
    INSERT INTO user_numbers
    SELECT project_id, uid, num, CASE WHEN count(*) OVER (PARTITION BY h) = 1 THEN h END
    FROM (
        SELECT project_id, uid, hash(project_id, uid) AS h,
            (row_number() OVER (PARTITION BY project_id ORDER BY min(created_at), uid))::UINTEGER
            AS num
        FROM (
            SELECT project_id, previous_id AS uid, created_at FROM identities
            UNION ALL SELECT project_id, user_id, created_at FROM identities
        ) GROUP BY project_id, uid
    );
    INSERT INTO user_aliases
    SELECT i.project_id, a.num, b.num FROM identities i
    JOIN user_numbers a ON a.project_id = i.project_id AND a.uid = i.previous_id
    JOIN user_numbers b ON b.project_id = i.project_id AND b.uid = i.user_id;
    UPDATE user_hash SET probe = hash('agentlytics', 'user key');
    """,
    # 10: the session fragments without a session id move to a table of their own (readers
    #     filtered every fragment for these few, decoding user ids on the way)
    """
    CREATE TABLE session_loose (
        project_id VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        sid VARCHAR,
        uid VARCHAR,
        t0 TIMESTAMP NOT NULL,
        t1 TIMESTAMP NOT NULL,
        events BIGINT NOT NULL,
        pageviews BIGINT NOT NULL,
        active BIGINT NOT NULL,
        entry_ts TIMESTAMP,
        entry VARCHAR,
        exit_ts TIMESTAMP,
        exit VARCHAR,
        whole BOOLEAN NOT NULL,
        sk UBIGINT
    );
    INSERT INTO session_loose SELECT * FROM session_hourly WHERE sid IS NULL;
    DELETE FROM session_hourly WHERE sid IS NULL;
    """,
    # 11: per project and hour, the whole session fragments' count and sums (``rollup.TOTALS``):
    #     session counts, bounces and durations read an hour's row instead of its fragments
    """
    CREATE TABLE session_totals (
        project_id VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        sessions BIGINT NOT NULL,
        bounces BIGINT NOT NULL,
        ms BIGINT NOT NULL,
        events BIGINT NOT NULL,
        pageviews BIGINT NOT NULL
    );
    INSERT INTO session_totals
    SELECT project_id, hour, count(*), count(*) FILTER (WHERE active = 0),
        sum((epoch_us(t1) // 1000) - (epoch_us(t0) // 1000)), sum(events), sum(pageviews)
    FROM session_hourly WHERE whole GROUP BY project_id, hour;
    """,
    # 12: events per UTC hour x event name (NULL: all) x path x numbered user, for breakdowns
    #     by path (storage/duckdb/dims.py), behind its own watermark; built at start-up, and
    #     rebuilt when its definition's hash is not the one in ``summary_definitions``
    """
    CREATE TABLE dim_hourly (
        project_id VARCHAR NOT NULL,
        hour TIMESTAMP NOT NULL,
        name VARCHAR,
        path VARCHAR NOT NULL,
        num UINTEGER,
        events BIGINT NOT NULL
    );
    CREATE TABLE summary_definitions (name VARCHAR PRIMARY KEY, hash VARCHAR NOT NULL);
    INSERT INTO rollup_state VALUES ('dim_hourly', TIMESTAMP '1970-01-01 00:00:00');
    """,
]


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the schema up to date; returns the version now in force."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    # fetchall, not fetchone: a result left unfinished blocks the connection's appenders
    [(latest,)] = con.execute("SELECT max(version) FROM schema_version").fetchall()
    current = int(latest) if latest is not None else 0
    for version, sql in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        con.execute("BEGIN")
        con.execute(sql)
        con.execute("INSERT INTO schema_version VALUES (?)", [version])
        con.execute("COMMIT")
        current = version
    return current
