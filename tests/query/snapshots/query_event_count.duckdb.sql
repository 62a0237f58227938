-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
WITH base AS (
  SELECT e.*, coalesce(i.user_id, e.user_id, e.anonymous_id) AS uid, (e.timestamp + to_seconds(3600)) AS lts
  FROM events e
  LEFT JOIN identities i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
)
SELECT count(*) AS m0 FROM base ORDER BY m0 DESC LIMIT 101
