-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
WITH base AS (
  SELECT e.*, coalesce(nullIf(i.user_id, ''), e.user_id, e.anonymous_id) AS uid, toTimeZone(e.timestamp, 'Europe/Paris') AS lts
  FROM events e
  LEFT JOIN (SELECT project_id, previous_id, argMax(user_id, created_at) AS user_id FROM identities GROUP BY project_id, previous_id) i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
)
SELECT count(*) AS m0, uniqExact(uid) AS m1 FROM base ORDER BY m0 DESC LIMIT 101
