-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-10-31T23:00:00", "p_snapshot", "2026-11-07T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
WITH ub AS (
  SELECT (r.hour + to_seconds(3600)) AS lts, r.name, r.uk, r.events AS n FROM user_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ?
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL THEN hash(coalesce(e.user_id, e.anonymous_id)) END AS uk, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL THEN hash(coalesce(e.user_id, e.anonymous_id)) END AS uk, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, CASE WHEN coalesce(e.user_id, e.anonymous_id) IS NOT NULL THEN hash(coalesce(e.user_id, e.anonymous_id)) END AS uk, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'user_hourly')
),
ik AS (
  SELECT hash(previous_id) AS pk, min(hash(user_id)) AS rk FROM identities WHERE project_id = ? GROUP BY pk
),
base AS (
  SELECT ub.lts, ub.name, coalesce(ik.rk, ub.uk) AS uid, ub.n FROM ub LEFT JOIN ik ON ik.pk = ub.uk
),
t AS (
  SELECT name, (epoch_us(min(timestamp)) // 1000) AS first_seen, (epoch_us(max(timestamp)) // 1000) AS last_seen FROM events
  WHERE project_id = ? AND timestamp >= ? AND timestamp < ? GROUP BY name
)
SELECT c.*, t.first_seen, t.last_seen FROM (
  SELECT name, sum(n) AS n, count(DISTINCT uid) AS users FROM base GROUP BY name
) AS c JOIN t USING (name) ORDER BY n DESC, name
