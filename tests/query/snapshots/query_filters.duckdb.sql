-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "pro", "/docs", 10.0, "FR"]
WITH base AS (
  SELECT e.*, coalesce(i.user_id, e.user_id, e.anonymous_id) AS uid, (e.timestamp + to_seconds(3600)) AS lts
  FROM events e
  LEFT JOIN identities i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND (contains(e.properties, '"plan"') AND json_extract_string(e.properties, '$."plan"') = ?) AND contains(lower(e.path), lower(?)) AND (contains(e.properties, '"amount"') AND TRY_CAST(json_extract_string(e.properties, '$."amount"') AS DOUBLE) >= ?) AND (e.country IS NULL OR e.country <> ?)
)
SELECT name AS g0, json_extract_string(properties, '$."plan"') AS g1, count(*) AS m0, count(DISTINCT uid) AS m1 FROM base GROUP BY g0, g1 ORDER BY m0 DESC, g0, g1 LIMIT 101
