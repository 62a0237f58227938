-- params: ["p_snapshot", "plan", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "purchase", "p_snapshot", "2026-10-31T23:00:00", "2026-10-31T23:00:00", "purchase", "p_snapshot", "2026-11-07T23:00:00", "2026-11-07T23:00:00", "purchase", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "purchase", "p_snapshot"]
WITH v AS (
  SELECT r.value AS g, r.uid, r.events AS n FROM property_values r WHERE r.project_id = ? AND r.key = ? AND r.hour >= ? AND r.hour < ? AND r.name = ?
  UNION ALL
  SELECT json_extract_string(e.properties, '$."plan"') AS g, coalesce(e.user_id, e.anonymous_id) AS uid, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.name = ? AND contains(e.properties, '"plan"')
  UNION ALL
  SELECT json_extract_string(e.properties, '$."plan"') AS g, coalesce(e.user_id, e.anonymous_id) AS uid, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.name = ? AND contains(e.properties, '"plan"')
  UNION ALL
  SELECT json_extract_string(e.properties, '$."plan"') AS g, coalesce(e.user_id, e.anonymous_id) AS uid, 1 AS n FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.name = ? AND contains(e.properties, '"plan"') AND e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'property_hourly')
)
SELECT g AS g0, sum(n) AS m0, count(DISTINCT coalesce(i.user_id, v.uid)) AS m1 FROM v LEFT JOIN identities i
  ON i.project_id = ? AND i.previous_id = v.uid
WHERE g IS NOT NULL GROUP BY g0 ORDER BY m0 DESC, g0 LIMIT 1001
