-- params: ["p_snapshot", "2026-11-01T00:00:00", "2026-11-08T00:00:00", "p_snapshot", "2026-11-01T00:00:00", "2026-11-01T00:00:00", "p_snapshot", "2026-11-08T00:00:00", "2026-11-08T00:00:00", "p_snapshot", "2026-11-01T00:00:00", "2026-11-08T00:00:00", "p_snapshot"]
WITH ub AS (
  SELECT r.hour AS lts, r.name, r.uk, r.events AS n FROM user_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ?
  UNION ALL
  SELECT e.timestamp AS lts, e.name, CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL THEN hash(coalesce(e.user_id, e.anonymous_id)) END AS uk, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT e.timestamp AS lts, e.name, CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL THEN hash(coalesce(e.user_id, e.anonymous_id)) END AS uk, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT e.timestamp AS lts, e.name, CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL THEN hash(coalesce(e.user_id, e.anonymous_id)) END AS uk, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'user_hourly')
),
ik AS (
  SELECT hash(previous_id) AS pk, min(hash(user_id)) AS rk FROM identities WHERE project_id = ? GROUP BY pk
),
base AS (
  SELECT ub.lts, ub.name, coalesce(ik.rk, ub.uk) AS uid, ub.n FROM ub LEFT JOIN ik ON ik.pk = ub.uk
)
SELECT ((isodow(lts) - 1) + 1) % 7 AS d, hour(lts) AS h, sum(n) AS events, count(DISTINCT uid) AS users
FROM base GROUP BY d, h ORDER BY d, h
