// The DAG laid out by dagre (parallel branches side by side), exec[0] drawn
// apart as the shared image, each node coloured by its p50 (darker: slower
// than its siblings) and outlined by its error rate; and its text
// alternative, a table of the nodes with their parents and children. Each
// node is a button (Tab reaches it; click, Enter or Space selects it): the
// selected node is outlined, its table row and its histogram marked, and a
// status line reads out its figures.
import { h } from 'preact';
import htm from 'htm';
import dagre from '@dagrejs/dagre';
import { us } from './charts.js';

const html = htm.bind(h);
const pct = (r) => (r === null || r === undefined ? '–' : `${(100 * r).toFixed(r > 0 && r < 0.01 ? 2 : 0)}%`);

function layout(nodes, edges) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 30, ranksep: 40, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(String(n.index), { width: 130, height: 40 });
  for (const e of edges) g.setEdge(String(e.from), String(e.to));
  dagre.layout(g);
  return g;
}

function nodeStyle(n, maxP50) {
  const style = {};
  if (n.p50Us != null) style.fill = `rgba(230, 120, 30, ${(0.15 + 0.65 * (n.p50Us / maxP50)).toFixed(3)})`;
  if (n.errorRate) { style.stroke = 'var(--bad)'; style.strokeWidth = String(1.5 + 4 * Math.min(1, n.errorRate)); }
  return style;
}

/** A node's name, function and figures: its accessible name and the selection's status line. */
function describe(n, live) {
  if (!live) return `${n.id}, function ${n.function}`;
  return `${n.id}, function ${n.function}, p50 ${n.p50Us != null ? us(n.p50Us) : 'no runs yet'}, error rate ${pct(n.errorRate)}`;
}

/** selected / onSelect: the selected node's id and its setter (the page holds them to mark the histogram too). */
export function Dag({ nodes, edges, shared, selected = null, onSelect = () => {} }) {
  const g = layout(nodes, edges);
  const { width = 200, height = 100 } = g.graph();
  const maxP50 = Math.max(1, ...nodes.map((n) => n.p50Us ?? 0));
  const live = nodes.some((n) => 'p50Us' in n);
  const sel = nodes.find((n) => n.id === selected);
  const alt = `DAG of ${nodes.length} nodes and ${edges.length} edges: ` + nodes.map((n) => n.id).join(', ') + (shared ? `; shared image ${shared}` : '') + '. The table below lists them.';
  return html`<figure class="dag-figure">
    <svg class="dag" width=${width + (shared ? 160 : 0)} height=${Math.max(height, 60)} role="group" aria-label=${alt}>
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" /></marker></defs>
      ${g.edges().map((e) => { const pts = g.edge(e).points; return html`<path class="edge" d=${'M' + pts.map((p) => `${p.x},${p.y}`).join(' L')} />`; })}
      ${nodes.map((n) => { const p = g.node(String(n.index));
        const sub = live ? `${n.p50Us != null ? `p50 ${us(n.p50Us)}` : 'no runs'}${n.errorRate ? ` · ${pct(n.errorRate)} err` : ''}` : n.function;
        const pick = () => onSelect(selected === n.id ? null : n.id);
        const key = (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); pick(); } };
        return html`<g key=${n.id} class=${selected === n.id ? 'node selected' : 'node'} data-node=${n.id} data-p50=${n.p50Us ?? ''} data-error-rate=${n.errorRate ?? ''}
            tabindex="0" role="button" aria-pressed=${selected === n.id ? 'true' : 'false'} aria-label=${describe(n, live)} onClick=${pick} onKeyDown=${key}>
          <rect class="ring" x=${p.x - 70} y=${p.y - 25} width="140" height="50" rx="9" />
          <rect class="box" x=${p.x - 65} y=${p.y - 20} width="130" height="40" rx="6" style=${nodeStyle(n, maxP50)} />
          <text x=${p.x} y=${p.y - 3} text-anchor="middle">${n.id}</text><text x=${p.x} y=${p.y + 13} text-anchor="middle" class="sub">${sub}</text></g>`; })}
      ${shared ? html`<g class="shared-image"><rect class="shared" x=${width + 10} y="10" width="140" height="40" rx="6" /><text x=${width + 80} y="34" text-anchor="middle">shared: ${shared}</text></g>` : ''}
    </svg>
    ${live ? html`<figcaption class="muted">Fill: p50 (darker is slower); red outline: errors over the last minute. Select a node (click, or Tab and Enter) to mark its row and histogram.</figcaption>` : ''}
  </figure>
  <p class="selection" role="status">${sel ? `Selected ${describe(sel, live)}${live ? `, p99 ${us(sel.p99Us)}, ${sel.runs} runs, ${sel.errors} errors` : ''}.` : ''}</p>
  <${DagTable} nodes=${nodes} edges=${edges} shared=${shared} live=${live} selected=${selected} />`;
}

/** The DAG as a table: the text alternative, and the figures in numbers. */
function DagTable({ nodes, edges, shared, live, selected }) {
  const name = (i) => nodes[i]?.id ?? `#${i}`;
  const from = (i) => edges.filter((e) => e.to === i).map((e) => name(e.from)).join(', ') || 'the request';
  const to = (i) => edges.filter((e) => e.from === i).map((e) => name(e.to)).join(', ') || 'the reply';
  return html`<table class="dag-table" aria-label="DAG nodes">
    <caption>${nodes.length} nodes, ${edges.length} edges${shared ? `, shared image ${shared}` : ''}</caption>
    <thead><tr><th scope="col">node</th><th scope="col">function</th><th scope="col">reads from</th><th scope="col">feeds</th>
      ${live ? html`<th scope="col">p50</th><th scope="col">p99</th><th scope="col">runs</th><th scope="col">errors</th><th scope="col">error rate (last minute)</th>` : ''}</tr></thead>
    <tbody>${nodes.map((n) => html`<tr data-node=${n.id} class=${selected === n.id ? 'selected' : undefined}><th scope="row">${n.id}</th><td>${n.function}</td><td>${from(n.index)}</td><td>${to(n.index)}</td>
      ${live ? html`<td>${us(n.p50Us)}</td><td>${us(n.p99Us)}</td><td>${n.runs}</td><td class="node-errors">${n.errors}</td><td>${pct(n.errorRate)}</td>` : ''}</tr>`)}</tbody>
  </table>`;
}
