-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
WITH base AS (
  SELECT e.*, coalesce(nullIf(i.user_id, ''), e.user_id, e.anonymous_id) AS uid, toTimeZone(e.timestamp, 'Europe/Paris') AS lts
  FROM events e
  LEFT JOIN (SELECT project_id, previous_id, argMax(user_id, created_at) AS user_id FROM identities GROUP BY project_id, previous_id) i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
)
SELECT formatDateTime(t0, '%Y-%m-%d') AS g0, m0 FROM (SELECT toMonday(lts) AS t0, uniqExact(user_id) AS m0 FROM base GROUP BY t0 ORDER BY t0 ASC, t0 LIMIT 101) AS q ORDER BY g0 ASC, g0
