-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-10-31T23:00:00", "p_snapshot", "2026-11-07T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
SELECT DISTINCT name, key FROM (
  SELECT r.name, r.key FROM property_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ?
  UNION ALL
  SELECT e.name, unnest(try(json_keys(e.properties))) AS key FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT e.name, unnest(try(json_keys(e.properties))) AS key FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT e.name, unnest(try(json_keys(e.properties))) AS key FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'property_hourly')
) AS k ORDER BY name, key
