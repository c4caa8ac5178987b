/**
 * The two charts: p50 latency by system (log scale, p25–p75 whiskers), and
 * throughput against concurrency (log scale), one panel per workload.
 */
import { num } from './format.js';
import { el, logScale, svgDocument, text } from './svg.js';
import type { Row, WorkloadTable } from './summary.js';

const COLORS = ['#d62728', '#ff7f0e', '#7f7f7f', '#2ca02c', '#1f77b4', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

export function colorOf(systemIds: readonly string[], id: string): string {
  const i = systemIds.indexOf(id);
  return COLORS[(i < 0 ? 0 : i) % COLORS.length]!;
}

const ok = (r: Row) => r.status === 'ok' && r.p50 !== undefined;

export function latencyChart(tables: readonly WorkloadTable[], systemIds: readonly string[]): string {
  const labelW = 230;
  const plotW = 520;
  const barH = 16;
  const parts: string[] = [];
  const all = tables.flatMap((t) => t.rows.filter(ok).flatMap((r) => [r.p50!.p25, r.p50!.p75, r.p50!.median]));
  const x = logScale(all, labelW, labelW + plotW);
  let y = 30;
  parts.push(text(10, 20, 'p50 latency per request, µs (log scale; whiskers: p25–p75 over rounds)', { 'font-weight': 'bold' }));
  for (const t of tables) {
    const rows = t.rows.filter(ok);
    y += 18;
    parts.push(text(10, y, t.label, { 'font-weight': 'bold' }));
    y += 8;
    const top = y;
    for (const r of rows) {
      const f = r.p50!;
      const c = colorOf(systemIds, r.systemId);
      parts.push(
        text(labelW - 6, y + barH - 4, r.label, { 'text-anchor': 'end' }),
        el('rect', { x: labelW, y, width: Math.max(1, x.map(f.median) - labelW), height: barH - 3, fill: c }),
        el('line', { x1: x.map(f.p25), x2: x.map(f.p75), y1: y + (barH - 3) / 2, y2: y + (barH - 3) / 2, stroke: 'black' }),
        text(x.map(Math.max(f.median, f.p75)) + 4, y + barH - 4, num(f.median), { 'font-size': 11 }),
      );
      y += barH;
    }
    for (const tk of x.ticks) {
      parts.push(el('line', { x1: x.map(tk), x2: x.map(tk), y1: top - 2, y2: y, stroke: '#ccc', 'stroke-dasharray': '2,2' }));
      parts.push(text(x.map(tk), y + 12, num(tk), { 'text-anchor': 'middle', 'font-size': 10, fill: '#555' }));
    }
    y += 16;
  }
  return svgDocument(labelW + plotW + 70, y + 10, parts);
}

export function throughputChart(tables: readonly WorkloadTable[], systemIds: readonly string[]): string {
  const panelW = 260;
  const panelH = 220;
  const left = 90;
  const top = 50;
  const parts: string[] = [
    text(10, 20, 'throughput, requests/s, against concurrency (log scale)', { 'font-weight': 'bold' }),
  ];
  const withThr = (r: Row) => r.status === 'ok' && r.thr1 && r.thr2;
  const all = tables.flatMap((t) => t.rows.filter(withThr).flatMap((r) => [r.thr1!.median, r.thr2!.median]));
  const yScale = logScale(all, top + panelH, top);
  tables.forEach((t, i) => {
    const x0 = left + i * (panelW + 40);
    const xs = [x0 + 40, x0 + panelW - 40];
    parts.push(text(x0, top - 12, t.label, { 'font-weight': 'bold', 'font-size': 11 }));
    parts.push(el('rect', { x: x0, y: top, width: panelW, height: panelH, fill: 'none', stroke: '#999' }));
    for (const tk of yScale.ticks) {
      const y = yScale.map(tk);
      parts.push(el('line', { x1: x0, x2: x0 + panelW, y1: y, y2: y, stroke: '#e5e5e5' }));
      if (i === 0) parts.push(text(x0 - 4, y + 4, num(tk), { 'text-anchor': 'end', 'font-size': 10 }));
    }
    xs.forEach((x, c) => parts.push(text(x, top + panelH + 14, `c=${c + 1}`, { 'text-anchor': 'middle', 'font-size': 10 })));
    for (const r of t.rows.filter(withThr)) {
      const c = colorOf(systemIds, r.systemId);
      const pts = [r.thr1!.median, r.thr2!.median].map((v, k) => [xs[k]!, yScale.map(v)] as const);
      parts.push(el('polyline', { points: pts.map((p) => p.join(',')).join(' '), fill: 'none', stroke: c, 'stroke-width': 2 }));
      for (const [px, py] of pts) parts.push(el('circle', { cx: px, cy: py, r: 3, fill: c }));
    }
  });
  // Legend.
  const legendY = top + panelH + 34;
  const ids = systemIds.filter((id) => tables.some((t) => t.rows.some((r) => r.systemId === id && withThr(r))));
  ids.forEach((id, k) => {
    const label = tables.flatMap((t) => t.rows).find((r) => r.systemId === id)!.label;
    const lx = left + (k % 3) * 280;
    const ly = legendY + Math.floor(k / 3) * 16;
    parts.push(el('rect', { x: lx, y: ly - 9, width: 12, height: 10, fill: colorOf(systemIds, id) }), text(lx + 16, ly, label));
  });
  const width = left + tables.length * (panelW + 40);
  return svgDocument(Math.max(width, 900), legendY + Math.ceil(ids.length / 3) * 16 + 10, parts);
}
