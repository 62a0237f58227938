-- params: ["p_snapshot", "2026-11-01T00:00:00", "2026-11-08T00:00:00"]
WITH base AS (
  SELECT e.*, coalesce(i.user_id, e.user_id, e.anonymous_id) AS uid, e.timestamp AS lts
  FROM events e
  LEFT JOIN identities i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
)
SELECT ((isodow(lts) - 1) + 1) % 7 AS d, hour(lts) AS h, count(*) AS events, count(DISTINCT uid) AS users
FROM base GROUP BY d, h ORDER BY d, h
