-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00"]
SELECT strftime(timezone('Europe/Paris', timestamp AT TIME ZONE 'UTC'), '%Y-%m-%d') AS d, count(*) AS hits
FROM bot_hits WHERE project_id = ? AND timestamp >= ? AND timestamp < ?
GROUP BY d ORDER BY d
