-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
WITH base AS (
  SELECT e.*, coalesce(nullIf(i.user_id, ''), e.user_id, e.anonymous_id) AS uid, toTimeZone(e.timestamp, 'Europe/Paris') AS lts
  FROM events e
  LEFT JOIN (SELECT project_id, previous_id, argMax(user_id, created_at) AS user_id FROM identities GROUP BY project_id, previous_id) i
    ON i.project_id = e.project_id
    AND i.previous_id = coalesce(e.user_id, e.anonymous_id)
  WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
),
sa AS (
  SELECT *, CASE WHEN lagInFrame(timestamp) OVER (PARTITION BY uid ORDER BY timestamp ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) IS NULL THEN 1
    WHEN toUnixTimestamp64Milli(toDateTime64(timestamp, 3)) - toUnixTimestamp64Milli(toDateTime64(lagInFrame(timestamp) OVER (PARTITION BY uid ORDER BY timestamp ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 3)) > 1800000 THEN 1 ELSE 0 END AS new_session
  FROM base WHERE session_id IS NULL
),
sb AS (
  SELECT *, 0 AS new_session, session_id AS sid FROM base WHERE session_id IS NOT NULL
  UNION ALL
  SELECT *, uid || '~' || toString(sum(new_session) OVER (PARTITION BY uid ORDER BY timestamp ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS sid
  FROM sa
),
ss AS (
  SELECT sid, min(uid) AS s_user, count(*) AS s_events,
    toBool(min(name IN ('$error', '$experiment_exposure', '$heartbeat', '$impression', '$performance', '$scroll_depth', '$time_on_page', '$web_vitals', 'page_view'))) AS s_bounce,
    toUnixTimestamp64Milli(toDateTime64(min(timestamp), 3)) AS s_start, toUnixTimestamp64Milli(toDateTime64(max(timestamp), 3)) AS s_end, (toUnixTimestamp64Milli(toDateTime64(max(timestamp), 3)) - toUnixTimestamp64Milli(toDateTime64(min(timestamp), 3))) / 1000.0 AS s_duration,
    argMinIf(path, timestamp, name = 'page_view' AND path IS NOT NULL AND path <> '') AS s_entry,
    argMaxIf(path, timestamp, name = 'page_view' AND path IS NOT NULL AND path <> '') AS s_exit,
    formatDateTime(min(lts), '%Y-%m-%d') AS s_date
  FROM sb GROUP BY sid
)
SELECT sid, s_user, s_start, s_end, s_duration, s_entry, s_exit, s_events, s_bounce, s_date
FROM ss
ORDER BY s_start DESC, sid LIMIT 101
