-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
WITH base AS (
  SELECT e.*, coalesce(i.user_id, e.user_id, e.anonymous_id) AS uid, (e.timestamp + to_seconds(3600)) AS lts
  FROM events e
  LEFT JOIN identities i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
)
SELECT primitive_name AS g0, count(*) FILTER (WHERE name = '$mcp_call') AS m0, count(*) FILTER (WHERE name = '$mcp_call' AND success = false) * 1.0 / nullif(count(*) FILTER (WHERE name = '$mcp_call'), 0) AS m1, quantile_cont(latency_ms, 0.95) AS m2 FROM base GROUP BY g0 ORDER BY m0 DESC, g0 LIMIT 101
