-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-10-31T23:00:00", "p_snapshot", "2026-11-07T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T20:00:00", "2026-11-07T20:00:00", "2026-11-07T20:00:00", "p_snapshot", "2026-11-07T20:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-11-07T20:00:00", "p_snapshot", "2026-11-07T20:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-11-07T20:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-11-07T20:00:00"]
WITH raw AS (
  SELECT timestamp, name, path, user_id, anonymous_id, session_id FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL SELECT timestamp, name, path, user_id, anonymous_id, session_id FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL SELECT timestamp, name, path, user_id, anonymous_id, session_id FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'session_hourly')
),
fraw AS (
  SELECT date_trunc('hour', timestamp) AS hour, session_id AS sid, coalesce(user_id, anonymous_id) AS uid, min(timestamp) AS t0, max(timestamp) AS t1, count(*) AS n, count(*) FILTER (WHERE name = 'page_view') AS pv, count(*) FILTER (WHERE name NOT IN ('$error', '$experiment_exposure', '$heartbeat', '$impression', '$performance', '$scroll_depth', '$time_on_page', '$web_vitals', 'page_view')) AS active, min(timestamp) FILTER (WHERE name = 'page_view' AND path IS NOT NULL AND path <> '') AS entry_ts, arg_min(path, timestamp) FILTER (WHERE name = 'page_view' AND path IS NOT NULL AND path <> '') AS entry, max(timestamp) FILTER (WHERE name = 'page_view' AND path IS NOT NULL AND path <> '') AS exit_ts, arg_max(path, timestamp) FILTER (WHERE name = 'page_view' AND path IS NOT NULL AND path <> '') AS exit
  FROM raw GROUP BY hour, sid, uid, CASE WHEN session_id IS NULL THEN timestamp END
),
rk AS (SELECT hash(sid) AS sk FROM fraw WHERE sid IS NOT NULL),
fa AS (
  SELECT *, CASE WHEN lag(t0) OVER (PARTITION BY uid ORDER BY t0 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) IS NULL OR (epoch_us(t0) // 1000) - (epoch_us(lag(t0) OVER (PARTITION BY uid ORDER BY t0 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) // 1000) > 1800000 THEN 1 ELSE 0 END AS new_session
  FROM (SELECT f.* REPLACE (coalesce(i.user_id, f.uid) AS uid) FROM (SELECT hour, sid, uid, t0, t1, events AS n, pageviews AS pv, active, entry_ts, entry, exit_ts, exit FROM session_loose r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND true UNION ALL SELECT * FROM fraw WHERE sid IS NULL) AS f LEFT JOIN identities i ON i.project_id = ? AND i.previous_id = f.uid) AS n
),
fn AS (
  SELECT hour, uid || '~' || CAST(sum(new_session) OVER (PARTITION BY uid ORDER BY t0 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS VARCHAR) AS sid, uid, t0, t1, n, pv, active, entry_ts, entry, exit_ts, exit FROM fa
),
early AS (
  SELECT sid FROM session_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND r.sid IS NOT NULL AND (NOT r.whole OR r.sk IN (SELECT sk FROM rk))
  UNION ALL SELECT sid FROM fraw WHERE sid IS NOT NULL AND hour < ?
  UNION ALL SELECT sid FROM fn WHERE hour < ?
),
ss AS (
  SELECT sid, uid AS s_user, n AS s_events, active = 0 AS s_bounce, (epoch_us(t0) // 1000) AS s_start, (epoch_us(t1) // 1000) AS s_end, ((epoch_us(t1) // 1000) - (epoch_us(t0) // 1000)) / 1000.0 AS s_duration, entry AS s_entry, exit AS s_exit, strftime((t0 + to_seconds(3600)), '%Y-%m-%d') AS s_date
  FROM (SELECT * FROM (SELECT f.* REPLACE (coalesce(i.user_id, f.uid) AS uid) FROM (SELECT hour, sid, uid, t0, t1, events AS n, pageviews AS pv, active, entry_ts, entry, exit_ts, exit FROM session_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND r.whole AND r.sk NOT IN (SELECT sk FROM rk)) AS f LEFT JOIN identities i ON i.project_id = ? AND i.previous_id = f.uid) AS l WHERE hour >= ? AND NOT EXISTS (SELECT 1 FROM early WHERE early.sid IS NOT DISTINCT FROM l.sid)) AS w
  UNION ALL
  SELECT sid, min(uid), sum(n), sum(active) = 0, (epoch_us(min(t0)) // 1000), (epoch_us(max(t1)) // 1000), ((epoch_us(max(t1)) // 1000) - (epoch_us(min(t0)) // 1000)) / 1000.0, arg_min(entry, entry_ts), arg_max(exit, exit_ts), strftime(min((t0 + to_seconds(3600))), '%Y-%m-%d')
  FROM (SELECT * FROM (SELECT f.* REPLACE (coalesce(i.user_id, f.uid) AS uid) FROM (SELECT hour, sid, uid, t0, t1, events AS n, pageviews AS pv, active, entry_ts, entry, exit_ts, exit FROM session_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND NOT r.whole UNION ALL SELECT hour, sid, uid, t0, t1, events AS n, pageviews AS pv, active, entry_ts, entry, exit_ts, exit FROM session_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND r.whole AND r.sk IN (SELECT sk FROM rk) UNION ALL SELECT * FROM fraw WHERE sid IS NOT NULL) AS f LEFT JOIN identities i ON i.project_id = ? AND i.previous_id = f.uid UNION ALL SELECT * FROM fn) AS l WHERE hour >= ? AND NOT EXISTS (SELECT 1 FROM early WHERE early.sid IS NOT DISTINCT FROM l.sid)) AS m GROUP BY sid
)
SELECT sid, s_user, s_start, s_end, s_duration, s_entry, s_exit, s_events, s_bounce, s_date
FROM ss
ORDER BY s_start DESC, sid LIMIT 101
