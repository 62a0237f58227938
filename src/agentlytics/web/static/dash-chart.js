// Time-series charts (uPlot) and the bucket arithmetic behind them. Without uPlot the same
// numbers appear as a table, so nothing is lost when `npm ci` has not been run.

import { ctx, fmt, h, table } from './dashboard.js';

const STEP = { hour: 3600e3, day: 86400e3, week: 7 * 86400e3, month: 31 * 86400e3 };
const D = 86400;
// axis tick steps (seconds) that never split a bucket
const INCRS = {
  hour: [3600, 2 * 3600, 3 * 3600, 6 * 3600, 12 * 3600, D, 2 * D, 7 * D],
  day: [D, 2 * D, 7 * D, 14 * D, 30 * D, 91 * D, 365 * D],
  week: [7 * D, 14 * D, 28 * D, 91 * D, 365 * D],
};

/** A moment's wall-clock time in the project's zone, as if it were UTC (ms). */
function wallClock(ms, tz) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour);
}

function label(ms, interval) {
  const iso = new Date(ms).toISOString();
  return interval === 'hour' ? `${iso.slice(0, 13)}:00` : iso.slice(0, 10);
}

/** Parse an API bucket label ("2026-11-21", "2026-11-21T23:00") as wall-clock UTC ms. */
export function bucketMs(text) {
  const t = String(text);
  return Date.parse(t.length === 10 ? `${t}T00:00:00Z` : `${t.slice(0, 16)}:00Z`);
}

/** Every bucket label of [fromIso, toIso) in the project's zone, so empty buckets show as 0. */
export function bucketLabels(fromIso, toIso, interval, tz = ctx.tz) {
  if (!(interval in STEP) || interval === 'month') return [];
  let start = wallClock(Date.parse(fromIso), tz);
  const end = wallClock(Date.parse(toIso) - 1, tz);
  if (interval !== 'hour') start -= start % 86400e3;
  if (interval === 'week') start -= ((new Date(start).getUTCDay() + 6) % 7) * 86400e3;
  const labels = [];
  for (let t = start; t <= end && labels.length < 5000; t += STEP[interval]) labels.push(label(t, interval));
  return labels;
}

/** Rows keyed by bucket, zero-filled over the period; returns {labels, get(metric)}. */
export function series(rows, period, interval, key = 'date') {
  const byLabel = new Map(rows.map((r) => [String(r[key]), r]));
  const labels = [...new Set([...bucketLabels(period.from, period.to, interval), ...byLabel.keys()])].sort();
  return { labels, get: (metric) => labels.map((l) => Number((byLabel.get(l) || {})[metric] || 0)) };
}

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** A line chart of labelled buckets; `lines` are {label, values, color?, dash?, format?}. */
export function lineChart(labels, lines, { interval = 'day', height = 260 } = {}) {
  const fallback = () => table(
    [{ label: 'Bucket', get: (r) => r.label }, ...lines.map((line, i) => ({ label: line.label, num: true, get: (r) => (line.format || fmt.int)(r.values[i]) }))],
    labels.map((l, j) => ({ label: l, values: lines.map((line) => line.values[j]) })),
  );
  if (!labels.length) return h('p', { class: 'muted empty' }, 'Nothing in this range.');
  if (!ctx.charts) return fallback();
  const wrap = h('div', { class: 'chart', role: 'img', 'aria-label': lines.map((l) => l.label).join(', ') });
  const xs = labels.map((l) => bucketMs(l) / 1000);
  const palette = [css('--accent'), css('--chart-2'), css('--muted')];
  const axis = { stroke: css('--muted'), grid: { stroke: css('--line'), width: 1 }, ticks: { stroke: css('--line') } };
  const opts = {
    width: 300,
    height,
    tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [{ ...axis, space: 60, incrs: INCRS[interval] || INCRS.day }, { ...axis, size: 50 }],
    series: [
      { label: interval === 'hour' ? 'Hour' : interval === 'week' ? 'Week of' : 'Day',
        value: (u, v) => (v == null ? '–' : label(v * 1000, interval)) },
      ...lines.map((line, i) => ({
        label: line.label,
        stroke: line.color || palette[i % palette.length],
        width: 2,
        dash: line.dash ? [6, 4] : undefined,
        fill: i === 0 && !line.dash ? `${palette[0]}22` : undefined,
        value: (u, v) => (v == null ? '–' : (line.format || fmt.int)(v)),
        points: { show: labels.length < 60 },
      })),
    ],
  };
  const plot = new window.uPlot(opts, [xs, ...lines.map((l) => l.values)], wrap);
  const fit = () => { if (wrap.clientWidth) plot.setSize({ width: wrap.clientWidth, height }); };
  new ResizeObserver(fit).observe(wrap);
  requestAnimationFrame(fit);
  return wrap;
}

/** A tiny inline SVG line (the projects list). */
export function sparkline(values, { width = 120, height = 28 } = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  svg.setAttribute('class', 'sparkline');
  const max = Math.max(...values, 1);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - ((height - 4) * v) / max).toFixed(1)}`);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points.join(' '));
  svg.append(line);
  return svg;
}
