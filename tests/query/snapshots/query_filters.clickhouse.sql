-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "pro", "/docs", 10.0, "FR"]
WITH base AS (
  SELECT e.*, coalesce(nullIf(i.user_id, ''), e.user_id, e.anonymous_id) AS uid, toTimeZone(e.timestamp, 'Europe/Paris') AS lts
  FROM events e
  LEFT JOIN (SELECT project_id, previous_id, argMax(user_id, created_at) AS user_id FROM identities GROUP BY project_id, previous_id) i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND (position(e.properties, '"plan"') > 0 AND multiIf(JSONExtractRaw(e.properties, 'plan') IN ('', 'null'), NULL, startsWith(JSONExtractRaw(e.properties, 'plan'), '"'), JSONExtractString(JSONExtractRaw(e.properties, 'plan')), JSONExtractRaw(e.properties, 'plan')) = ?) AND positionCaseInsensitiveUTF8(e.path, ?) > 0 AND (position(e.properties, '"amount"') > 0 AND toFloat64OrNull(toString(multiIf(JSONExtractRaw(e.properties, 'amount') IN ('', 'null'), NULL, startsWith(JSONExtractRaw(e.properties, 'amount'), '"'), JSONExtractString(JSONExtractRaw(e.properties, 'amount')), JSONExtractRaw(e.properties, 'amount')))) >= ?) AND (e.country IS NULL OR e.country <> ?)
)
SELECT name AS g0, multiIf(JSONExtractRaw(properties, 'plan') IN ('', 'null'), NULL, startsWith(JSONExtractRaw(properties, 'plan'), '"'), JSONExtractString(JSONExtractRaw(properties, 'plan')), JSONExtractRaw(properties, 'plan')) AS g1, count(*) AS m0, uniqExact(uid) AS m1 FROM base GROUP BY g0, g1 ORDER BY m0 DESC, g0, g1 LIMIT 101
