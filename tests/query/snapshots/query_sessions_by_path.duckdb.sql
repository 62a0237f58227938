-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
WITH base AS (
  SELECT e.*, coalesce(i.user_id, e.user_id, e.anonymous_id) AS uid, (e.timestamp + to_seconds(3600)) AS lts
  FROM events e
  LEFT JOIN identities i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
),
sa AS (
  SELECT *, CASE WHEN lag(timestamp) OVER (PARTITION BY uid ORDER BY timestamp ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) IS NULL THEN 1
    WHEN (epoch_us(timestamp) // 1000) - (epoch_us(lag(timestamp) OVER (PARTITION BY uid ORDER BY timestamp ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) // 1000) > 1800000 THEN 1 ELSE 0 END AS new_session
  FROM base WHERE session_id IS NULL
),
sb AS (
  SELECT *, 0 AS new_session, session_id AS sid FROM base WHERE session_id IS NOT NULL
  UNION ALL
  SELECT *, uid || '~' || CAST(sum(new_session) OVER (PARTITION BY uid ORDER BY timestamp ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS VARCHAR) AS sid
  FROM sa
),
keyed AS (SELECT *, path AS g0 FROM sb),
s AS (
  SELECT g0, sid, min(uid) AS uid, count(*) AS n, count(*) FILTER (WHERE name = 'page_view') AS pv,
    bool_and(name IN ('$error', '$experiment_exposure', '$heartbeat', '$impression', '$performance', '$scroll_depth', '$time_on_page', '$web_vitals', 'page_view')) AS bounce,
    ((epoch_us(max(timestamp)) // 1000) - (epoch_us(min(timestamp)) // 1000)) / 1000.0 AS duration
  FROM keyed GROUP BY g0, sid
)
SELECT g0, count(*) AS m0, avg(CASE WHEN bounce THEN 1.0 ELSE 0.0 END) AS m1, avg(duration) AS m2 FROM s GROUP BY g0 ORDER BY m0 DESC, g0 LIMIT 101
