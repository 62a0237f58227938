-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-10-31T23:00:00", "p_snapshot", "2026-11-07T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "p_snapshot", "p_snapshot", "p_snapshot"]
WITH ev AS (
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'user_hourly')
),
ub AS (
  SELECT (r.hour + to_seconds(3600)) AS lts, r.name, r.num AS u, CAST(NULL AS VARCHAR) AS rid, r.events AS n FROM user_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ?
  UNION ALL
  SELECT ev.lts, ev.name, l.num, CASE WHEN l.num IS NULL THEN ev.uid END, 1 FROM ev LEFT JOIN (
    SELECT uid, num FROM (SELECT * FROM (SELECT i.project_id, i.uid, CASE WHEN d.uid = i.uid AND d.project_id = i.project_id THEN d.num END AS num FROM (SELECT ? AS project_id, uid, hash(?, uid) AS h FROM ev WHERE uid = uid GROUP BY ALL HAVING count(*) > 0) i JOIN user_numbers d ON d.uk = i.h) AS f WHERE num IS NOT NULL)
    UNION ALL
    SELECT uid, num FROM user_numbers WHERE uk IS NULL AND project_id = ?
  ) AS l ON l.uid = ev.uid),
ik AS (
  SELECT num AS pk, to_num AS rk FROM user_aliases WHERE project_id = ?
),
base AS (
  SELECT ub.lts, ub.name, ub.n, CASE WHEN coalesce(ik.rk, ub.u) <= 1000 THEN coalesce(ik.rk, ub.u) END AS u, CASE WHEN ub.rid IS NOT NULL THEN 'r' || ub.rid WHEN coalesce(ik.rk, ub.u) > 1000 THEN 'n' || CAST(coalesce(ik.rk, ub.u) AS VARCHAR) END AS x FROM ub LEFT JOIN ik ON ik.pk = ub.u
),
k AS (SELECT date_trunc('day', lts) AS b, name, n, u, x FROM base)
SELECT 0 AS part, NULL AS bucket, NULL AS name, coalesce(bit_count(bitstring_agg(u, 1, 1000)), 0) + coalesce(list_unique(list(x) FILTER (WHERE x IS NOT NULL)), 0) AS users, sum(n) AS n FROM k
UNION ALL SELECT 1, strftime(b, '%Y-%m-%d'), NULL, coalesce(bit_count(bitstring_agg(u, 1, 1000)), 0) + coalesce(list_unique(list(x) FILTER (WHERE x IS NOT NULL)), 0), sum(n)
  FROM k GROUP BY b
UNION ALL SELECT 2, NULL, name, coalesce(bit_count(bitstring_agg(u, 1, 1000)), 0) + coalesce(list_unique(list(x) FILTER (WHERE x IS NOT NULL)), 0), sum(n) FROM k GROUP BY name
