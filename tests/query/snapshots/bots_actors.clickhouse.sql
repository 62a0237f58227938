-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
SELECT category, actor, count(*) AS hits
FROM bot_hits WHERE project_id = ? AND timestamp >= ? AND timestamp < ?
GROUP BY category, actor ORDER BY hits DESC, actor, category
