-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-10-31T23:00:00", "p_snapshot", "2026-11-07T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
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
  FROM (SELECT f.* REPLACE (coalesce(i.user_id, f.uid) AS uid) FROM (SELECT hour, sk, uid, t0, t1, events AS n, pageviews AS pv, active FROM session_loose r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND true UNION ALL SELECT hour, hash(sid) AS sk, uid, t0, t1, n, pv, active FROM fraw WHERE sid IS NULL) AS f LEFT JOIN identities i ON i.project_id = ? AND i.previous_id = f.uid) AS n
),
fn AS (
  SELECT hour, uid || '~' || CAST(sum(new_session) OVER (PARTITION BY uid ORDER BY t0 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS VARCHAR) AS sid, uid, t0, t1, n, pv, active FROM fa
),
ext AS MATERIALIZED (
  SELECT hour, sk, uid, t0, t1, events AS n, pageviews AS pv, active FROM session_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND r.whole AND r.sk IN (SELECT sk FROM rk)
),
t AS (
  SELECT sum(sessions) AS k, sum(bounces) AS bounces, sum(ms) AS ms, sum(events) AS n, sum(pageviews) AS pv FROM session_totals WHERE project_id = ? AND hour >= ? AND hour < ?
  UNION ALL
  SELECT -count(*), -count(*) FILTER (WHERE active = 0), -sum((epoch_us(t1) // 1000) - (epoch_us(t0) // 1000)), -sum(n), -sum(pv) FROM ext
  UNION ALL
  SELECT count(*), count(*) FILTER (WHERE active = 0), sum(ms), sum(n), sum(pv) FROM (
    SELECT sum(active) AS active, (epoch_us(max(t1)) // 1000) - (epoch_us(min(t0)) // 1000) AS ms, sum(n) AS n, sum(pv) AS pv FROM (SELECT hour, sk, uid, t0, t1, events AS n, pageviews AS pv, active FROM session_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ? AND NOT r.whole UNION ALL SELECT * FROM ext UNION ALL SELECT hour, hash(sid) AS sk, uid, t0, t1, n, pv, active FROM fraw WHERE sid IS NOT NULL UNION ALL SELECT hour, hash(sid) AS sk, uid, t0, t1, n, pv, active FROM fn) AS m GROUP BY sk
  ) AS g
)
SELECT sum(k) AS m0, sum(bounces) / nullif(sum(k), 0) AS m1, sum(ms) / nullif(sum(k), 0) / 1000.0 AS m2, sum(pv) AS m3 FROM t
