-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-10-31T23:00:00", "p_snapshot", "2026-11-07T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "p_snapshot", "p_snapshot", "p_snapshot", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
WITH ev AS (
  SELECT CAST(NULL AS TIMESTAMP) AS lts, e.name, e.path, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.path IS NOT NULL AND e.path <> ''
  UNION ALL
  SELECT CAST(NULL AS TIMESTAMP) AS lts, e.name, e.path, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.path IS NOT NULL AND e.path <> ''
  UNION ALL
  SELECT CAST(NULL AS TIMESTAMP) AS lts, e.name, e.path, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.path IS NOT NULL AND e.path <> '' AND e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'dim_hourly')
),
ub AS (
  SELECT CAST(NULL AS TIMESTAMP) AS lts, r.name, r.path, r.num AS u, CAST(NULL AS VARCHAR) AS rid, r.events AS n FROM dim_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND r.name IS NULL
  UNION ALL
  SELECT ev.lts, ev.name, ev.path, l.num, CASE WHEN l.num IS NULL THEN ev.uid END, 1 FROM ev LEFT JOIN (
    SELECT uid, num FROM (SELECT * FROM (SELECT i.project_id, i.uid, CASE WHEN d.uid = i.uid AND d.project_id = i.project_id THEN d.num END AS num FROM (SELECT ? AS project_id, uid, hash(?, uid) AS h FROM ev WHERE uid = uid GROUP BY ALL HAVING count(*) > 0) i JOIN user_numbers d ON d.uk = i.h) AS f WHERE num IS NOT NULL)
    UNION ALL
    SELECT uid, num FROM user_numbers WHERE uk IS NULL AND project_id = ?
  ) AS l ON l.uid = ev.uid),
ik AS (
  SELECT num AS pk, to_num AS rk FROM user_aliases WHERE project_id = ?
),
base AS (
  SELECT ub.lts, ub.name, ub.path, ub.n, CASE WHEN coalesce(ik.rk, ub.u) <= 1000 THEN coalesce(ik.rk, ub.u) END AS u, CASE WHEN ub.rid IS NOT NULL THEN 'r' || ub.rid WHEN coalesce(ik.rk, ub.u) > 1000 THEN 'n' || CAST(coalesce(ik.rk, ub.u) AS VARCHAR) END AS x FROM ub LEFT JOIN ik ON ik.pk = ub.u
),
c AS (SELECT path AS g0, sum(n) AS m0 FROM (
  SELECT r.path, r.events AS n FROM dim_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND r.name IS NULL
  UNION ALL SELECT path, 1 FROM ev
) AS a GROUP BY g0),
t AS (SELECT g0 FROM c ORDER BY m0 DESC, g0 LIMIT 20),
u AS (SELECT path AS g0, coalesce(bit_count(bitstring_agg(u, 1, 1000)), 0) + coalesce(list_unique(list(x) FILTER (WHERE x IS NOT NULL)), 0) AS m1 FROM base
  WHERE path IN (SELECT g0 FROM t) GROUP BY g0)
SELECT c.g0, c.m0, u.m1 FROM c LEFT JOIN u ON u.g0 = c.g0
ORDER BY c.m0 DESC, c.g0 LIMIT 1001
