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
ss AS (
  SELECT sid, min(uid) AS s_user, count(*) AS s_events,
    bool_and(name IN ('$error', '$experiment_exposure', '$heartbeat', '$impression', '$performance', '$scroll_depth', '$time_on_page', '$web_vitals', 'page_view')) AS s_bounce,
    (epoch_us(min(timestamp)) // 1000) AS s_start, (epoch_us(max(timestamp)) // 1000) AS s_end, ((epoch_us(max(timestamp)) // 1000) - (epoch_us(min(timestamp)) // 1000)) / 1000.0 AS s_duration,
    arg_min(path, timestamp) FILTER (WHERE name = 'page_view' AND path IS NOT NULL AND path <> '') AS s_entry,
    arg_max(path, timestamp) FILTER (WHERE name = 'page_view' AND path IS NOT NULL AND path <> '') AS s_exit,
    strftime(min(lts), '%Y-%m-%d') AS s_date
  FROM sb GROUP BY sid
)
SELECT CASE WHEN s_duration < 1 THEN 0 WHEN s_duration < 10 THEN 1 WHEN s_duration < 30 THEN 2 WHEN s_duration < 60 THEN 3 WHEN s_duration < 180 THEN 4 WHEN s_duration < 600 THEN 5 WHEN s_duration < 1800 THEN 6 ELSE 7 END AS b, count(*) AS n, count(*) FILTER (WHERE s_bounce) AS bounces, avg(s_events) AS avg_events
FROM ss GROUP BY b ORDER BY b
