-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "$scroll_depth", "p_snapshot", "2026-10-31T23:00:00", "2026-10-31T23:00:00", "$scroll_depth", "p_snapshot", "2026-11-07T23:00:00", "2026-11-07T23:00:00", "$scroll_depth", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "$scroll_depth", "p_snapshot"]
WITH ub AS (
  SELECT (r.hour + to_seconds(3600)) AS lts, r.name, r.uk, r.events AS n FROM user_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND (r.name IS NULL OR r.name <> ?)
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL THEN hash(coalesce(e.user_id, e.anonymous_id)) END AS uk, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND (e.name IS NULL OR e.name <> ?)
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL THEN hash(coalesce(e.user_id, e.anonymous_id)) END AS uk, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND (e.name IS NULL OR e.name <> ?)
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL THEN hash(coalesce(e.user_id, e.anonymous_id)) END AS uk, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND (e.name IS NULL OR e.name <> ?) AND e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'user_hourly')
),
ik AS (
  SELECT hash(previous_id) AS pk, min(hash(user_id)) AS rk FROM identities WHERE project_id = ? GROUP BY pk
),
base AS (
  SELECT ub.lts, ub.name, coalesce(ik.rk, ub.uk) AS uid, ub.n FROM ub LEFT JOIN ik ON ik.pk = ub.uk
)
SELECT g0, strftime(t1, '%Y-%m-%dT%H:00') AS g1, m0, m1 FROM (SELECT name AS g0, date_trunc('hour', lts) AS t1, count(DISTINCT uid) AS m0, coalesce(sum(n), 0) AS m1 FROM base GROUP BY g0, t1 ORDER BY t1 ASC, g0, t1 LIMIT 101) AS q ORDER BY g1 ASC, g0, g1
