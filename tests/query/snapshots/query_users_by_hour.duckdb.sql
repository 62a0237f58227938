-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
WITH base AS (
  SELECT e.*, coalesce(i.user_id, e.user_id, e.anonymous_id) AS uid, (e.timestamp + to_seconds(3600)) AS lts
  FROM events e
  LEFT JOIN identities i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
)
SELECT strftime(t0, '%Y-%m-%dT%H:00') AS g0, m0, m1 FROM (SELECT date_trunc('hour', lts) AS t0, count(DISTINCT uid) AS m0, count(*) AS m1 FROM base GROUP BY t0 ORDER BY t0 ASC, t0 LIMIT 101) AS q ORDER BY g0 ASC, g0
