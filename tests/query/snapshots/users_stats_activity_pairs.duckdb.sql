-- params: ["p_snapshot", "2026-10-31T23:00:00", "2026-10-31T23:00:00", "p_snapshot", "2026-11-07T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "2026-10-31T23:00:00", "2026-11-07T23:00:00", "p_snapshot", "p_snapshot", "p_snapshot", "p_snapshot"]
WITH ev AS (
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ?
  UNION ALL
  SELECT (e.timestamp + to_seconds(3600)) AS lts, e.name, coalesce(e.user_id, e.anonymous_id) AS uid FROM events e WHERE e.project_id = ? AND e.timestamp >= ? AND e.timestamp < ? AND e.received_at >= (SELECT watermark FROM rollup_state WHERE name = 'user_hourly')
),
ub AS (
  SELECT (r.hour + to_seconds(3600)) AS lts, r.name, r.num AS u, CAST(NULL AS VARCHAR) AS rid, r.events AS n FROM user_hourly r WHERE r.project_id = ? AND r.hour >= ? AND r.hour < ?
  UNION ALL
  SELECT ev.lts, ev.name, l.num, CASE WHEN l.num IS NULL THEN ev.uid END, 1 FROM ev LEFT JOIN (
    SELECT uid, num FROM (SELECT * FROM (SELECT i.project_id, i.uid, CASE WHEN d.uid = i.uid AND d.project_id = i.project_id THEN d.num END AS num FROM (SELECT ? AS project_id, uid, hash(?, uid) AS h FROM ev WHERE uid = uid GROUP BY ALL HAVING count(*) > 0) i JOIN user_numbers d ON d.uk = i.h) AS f WHERE num IS NOT NULL)
    UNION ALL
    SELECT uid, num FROM user_numbers WHERE uk IS NULL AND project_id = ?
  ) AS l ON l.uid = ev.uid),
ik AS (
  SELECT num AS pk, to_num AS rk FROM user_aliases WHERE project_id = ?
),
g AS (SELECT date_trunc('day', lts) AS b, name, sum(n) AS n, bitstring_agg(u, 1, 1000) FILTER (WHERE u <= 1000) AS bits, list(u) FILTER (WHERE u > 1000) AS hi, list(rid) FILTER (WHERE rid IS NOT NULL) AS r FROM ub GROUP BY b, name),
parts AS (
  SELECT 0 AS part, NULL AS b, NULL AS name, sum(n) AS n, bit_or(bits) AS bits, flatten(list(hi)) AS hi, len(list_distinct(flatten(list(r)))) AS r FROM g
  UNION ALL SELECT 1, b, NULL, sum(n) AS n, bit_or(bits) AS bits, flatten(list(hi)) AS hi, len(list_distinct(flatten(list(r)))) AS r FROM g GROUP BY b
  UNION ALL SELECT 2, NULL, name, sum(n) AS n, bit_or(bits) AS bits, flatten(list(hi)) AS hi, len(list_distinct(flatten(list(r)))) AS r FROM g GROUP BY name
),
a AS (SELECT bitstring_agg(pk, 1, 1000) FILTER (WHERE pk <= 1000) AS ab FROM ik),
c AS (SELECT s.*, CASE WHEN a.ab IS NULL OR s.bits IS NULL THEN s.bits ELSE s.bits & ~a.ab END AS cb FROM parts AS s, a),
im AS (SELECT ik.* FROM ik, (SELECT bit_or(bits) AS bits FROM c) AS o WHERE CASE WHEN ik.pk <= 1000 THEN get_bit(o.bits, CAST(ik.pk AS INTEGER) - 1) END = 1),
ex AS (SELECT c.part, c.b, c.name, im.rk AS v FROM c JOIN im ON CASE WHEN im.pk <= 1000 THEN get_bit(c.bits, CAST(im.pk AS INTEGER) - 1) END = 1
  UNION SELECT h.part, h.b, h.name, coalesce(ik.rk, h.u) FROM (SELECT c.part, c.b, c.name, unnest(c.hi) AS u FROM c) AS h LEFT JOIN ik ON ik.pk = h.u),
xk AS (SELECT c.part, c.b, c.name, len(list_filter(e.vs, lambda v: coalesce(CASE WHEN v <= 1000 THEN get_bit(c.cb, CAST(v AS INTEGER) - 1) END, 0) = 0)) AS k FROM c JOIN (SELECT ex.part, ex.b, ex.name, list(ex.v) AS vs FROM ex GROUP BY ALL) AS e ON c.part IS NOT DISTINCT FROM e.part AND c.b IS NOT DISTINCT FROM e.b AND c.name IS NOT DISTINCT FROM e.name),
counted AS (SELECT c.part, c.b, c.name, c.n, coalesce(bit_count(c.cb), 0) + coalesce(xk.k, 0) + coalesce(c.r, 0) AS users FROM c LEFT JOIN xk ON c.part IS NOT DISTINCT FROM xk.part AND c.b IS NOT DISTINCT FROM xk.b AND c.name IS NOT DISTINCT FROM xk.name)
SELECT part, strftime(b, '%Y-%m-%d') AS bucket, name, users, n FROM counted
