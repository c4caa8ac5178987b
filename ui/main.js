// The dashboard: an app list, an app page (DAG, live figures, logs, remove)
// and a "draw" page (validate a definition without deploying). Data comes
// from the API with the same bearer token (entered once, kept in
// sessionStorage) and from one /ui/events stream read with fetch, since
// EventSource cannot send an Authorization header.
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import dagre from '@dagrejs/dagre';

const html = htm.bind(h);
const TOKEN_KEY = 'ataru-token';

function authHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { authorization: `Bearer ${t}` } : {};
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { ...authHeaders(), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status === 401) throw Object.assign(new Error('token needed'), { status: 401 });
  const data = await res.json();
  if (!res.ok) throw new Error(data.message ?? res.statusText);
  return data;
}

/** Reads a server-sent-events response from fetch, calling onEvent(name, data) per event. */
async function readSse(path, onEvent, signal) {
  const res = await fetch(path, { headers: authHeaders(), signal });
  if (res.status === 401) throw Object.assign(new Error('token needed'), { status: 401 });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const ev = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data !== undefined) onEvent(ev, JSON.parse(data));
    }
  }
}

/** The live figures: one stream for the whole page; state changes once per tick (coalesced by the server). */
function useStats(onAuth) {
  const [state, setState] = useState({ apps: [], history: {} });
  useEffect(() => {
    const ctl = new AbortController();
    readSse('/ui/events', (ev, data) => {
      if (ev !== 'stats') return;
      setState((old) => {
        const history = {};
        for (const a of data.apps) history[a.name] = [...(old.history[a.name] ?? []), a.rate].slice(-120);
        return { apps: data.apps, history, time: data.time };
      });
    }, ctl.signal).catch((e) => { if (e.status === 401) onAuth(); });
    return () => ctl.abort();
  }, []);
  return state;
}

const us = (v) => (v === null || v === undefined ? '–' : `${v.toFixed(0)} µs`);
const errorsText = (errs) => Object.entries(errs).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none';

function Sparkline({ values }) {
  const w = 120, hgt = 24, max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${hgt - (v / max) * hgt}`).join(' ');
  return html`<svg width=${w} height=${hgt} role="img" aria-label=${`requests per second, latest ${values.at(-1)?.toFixed(1) ?? 0}`}><polyline points=${pts} fill="none" stroke="currentColor" /></svg>`;
}

function AppList({ stats }) {
  if (!stats.apps.length) return html`<p class="muted">No apps deployed.</p>`;
  return html`<table aria-label="apps">
    <thead><tr><th>app</th><th>data port</th><th>instances busy/free</th><th>req/s</th><th>p50</th><th>p99</th><th>errors</th><th>last minutes</th></tr></thead>
    <tbody>${stats.apps.map((a) => html`<tr data-app=${a.name}>
      <td><a href=${`#/app/${encodeURIComponent(a.name)}`}>${a.name}</a></td><td>${a.port}</td>
      <td>${a.instances.busy}/${a.instances.free}</td><td class="rate">${a.rate.toFixed(1)}</td>
      <td class="p50">${us(a.p50Us)}</td><td class="p99">${us(a.p99Us)}</td>
      <td class="errors">${errorsText(a.errors)}</td><td><${Sparkline} values=${stats.history[a.name] ?? []} /></td></tr>`)}
    </tbody></table>`;
}

/** The DAG laid out by dagre (parallel branches side by side); exec[0] drawn apart as the shared image. */
function Dag({ nodes, edges, shared }) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'TB', nodesep: 30, ranksep: 40, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(String(n.index), { width: 130, height: 40 });
  for (const e of edges) g.setEdge(String(e.from), String(e.to));
  dagre.layout(g);
  const { width = 200, height = 100 } = g.graph();
  const maxMean = Math.max(1, ...nodes.map((n) => n.meanUs ?? 0));
  const alt = `DAG of ${nodes.length} nodes: ` + nodes.map((n) => `${n.id} (${n.function}${n.meanUs != null ? `, mean ${n.meanUs.toFixed(0)} µs` : ''})`).join(', ') +
    `; edges: ` + (edges.map((e) => `${nodes[e.from]?.id} to ${nodes[e.to]?.id}`).join(', ') || 'none') + (shared ? `; shared image ${shared}` : '');
  return html`<figure>
    <svg class="dag" width=${width + 160} height=${Math.max(height, 60)} role="img" aria-label=${alt}>
      <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" /></marker></defs>
      ${g.edges().map((e) => { const pts = g.edge(e).points; return html`<path class="edge" d=${'M' + pts.map((p) => `${p.x},${p.y}`).join(' L')} />`; })}
      ${nodes.map((n) => { const p = g.node(String(n.index)); const heat = n.meanUs != null ? 0.15 + 0.6 * (n.meanUs / maxMean) : 0;
        return html`<g class="node" data-node=${n.id}><rect x=${p.x - 65} y=${p.y - 20} width="130" height="40" rx="6" style=${heat ? `fill: rgba(230,120,30,${heat})` : ''} />
          <text x=${p.x} y=${p.y - 3} text-anchor="middle">${n.id}</text><text x=${p.x} y=${p.y + 13} text-anchor="middle" class="muted">${n.meanUs != null ? us(n.meanUs) : n.function}</text></g>`; })}
      ${shared ? html`<g class="shared-image"><rect class="shared" x=${width + 10} y="10" width="140" height="40" rx="6" /><text x=${width + 80} y="34" text-anchor="middle">shared: ${shared}</text></g>` : ''}
    </svg>
    <figcaption class="muted">${alt}</figcaption>
  </figure>`;
}

function Logs({ name, onAuth }) {
  const [lines, setLines] = useState([]);
  useEffect(() => {
    const ctl = new AbortController();
    let pending = [];
    // Coalesced: entries are added to the page at most 4 times a second.
    const flush = setInterval(() => { if (pending.length) { const p = pending; pending = []; setLines((l) => [...l, ...p].slice(-200)); } }, 250);
    readSse(`/apps/${encodeURIComponent(name)}/logs?follow=true&format=sse`, (_ev, e) => pending.push(e), ctl.signal).catch((e) => { if (e.status === 401) onAuth(); });
    return () => { ctl.abort(); clearInterval(flush); };
  }, [name]);
  return html`<pre class="logs" aria-label="logs" tabindex="0">${lines.map((e) => `${e.time} ${e.kind}${e.code ? ' ' + e.code : ''}${e.node !== undefined ? ' node ' + e.node : ''}: ${e.message}\n`)}</pre>`;
}

function AppPage({ name, stats, onAuth }) {
  const a = stats.apps.find((x) => x.name === name);
  const [removed, setRemoved] = useState(false);
  const [error, setError] = useState('');
  if (removed) return html`<p role="status">Removed ${name}. <a href="#/">Back to the apps</a></p>`;
  if (!a) return html`<p class="muted">${stats.time ? `No app ${name}.` : 'Loading…'}</p>`;
  const remove = async () => {
    if (!confirm(`Remove ${name}? In-flight requests finish.`)) return;
    try { await api('DELETE', `/apps/${encodeURIComponent(name)}`); setRemoved(true); } catch (e) { setError(e.message); }
  };
  return html`<section aria-label=${`app ${name}`}>
    <h2>${name}</h2>
    <p>data port ${a.port} · instances ${a.instances.busy} busy / ${a.instances.free} free · <span class="rate">${a.rate.toFixed(1)}</span> req/s ·
      requests <span class="requests">${a.requests}</span> · p50 <span class="p50">${us(a.p50Us)}</span> · p99 <span class="p99">${us(a.p99Us)}</span> ·
      errors <span class="errors">${errorsText(a.errors)}</span></p>
    <${Dag} nodes=${a.nodes} edges=${a.edges} />
    <h3>Logs</h3><${Logs} name=${name} onAuth=${onAuth} />
    <p><button onClick=${remove}>Remove ${name}</button> <span class="errors">${error}</span></p>
  </section>`;
}

function DrawPage({ onAuth }) {
  const [text, setText] = useState('');
  const [result, setResult] = useState(null);
  const check = async (ev) => {
    ev.preventDefault();
    try { setResult(await api('POST', '/ui/validate', { definition: text })); } catch (e) { if (e.status === 401) onAuth(); else setResult({ ok: false, problems: [{ message: e.message }] }); }
  };
  return html`<section aria-label="draw a definition">
    <h2>Draw a definition</h2>
    <form onSubmit=${check}>
      <label for="def">Template or JSON definition</label>
      <textarea id="def" value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
      <button type="submit">Draw</button>
    </form>
    ${result && (result.ok
      ? html`<${Dag} nodes=${result.nodes} edges=${result.edges} shared=${result.shared} />`
      : html`<ul class="problems errors">${result.problems.map((p) => html`<li>${p.location?.line ? `line ${p.location.line}: ` : ''}${p.message}</li>`)}</ul>`)}
  </section>`;
}

function TokenForm({ onDone }) {
  const [t, setT] = useState('');
  return html`<form class="token" onSubmit=${(e) => { e.preventDefault(); sessionStorage.setItem(TOKEN_KEY, t); onDone(); }}>
    <label for="token">This server needs its API token</label> <input id="token" type="password" autocomplete="off" value=${t} onInput=${(e) => setT(e.currentTarget.value)} />
    <button type="submit">Use token</button></form>`;
}

function route() {
  const m = /^#\/app\/(.+)$/.exec(location.hash);
  if (m) return { page: 'app', name: decodeURIComponent(m[1]) };
  return { page: location.hash === '#/draw' ? 'draw' : 'list' };
}

function Live({ r, onAuth }) {
  const stats = useStats(onAuth);
  return r.page === 'app' ? html`<${AppPage} name=${r.name} stats=${stats} onAuth=${onAuth} />` : html`<${AppList} stats=${stats} />`;
}

function App() {
  const [r, setR] = useState(route());
  const [needToken, setNeedToken] = useState(false);
  const [epoch, setEpoch] = useState(0);
  useEffect(() => { const f = () => setR(route()); addEventListener('hashchange', f); return () => removeEventListener('hashchange', f); }, []);
  const onAuth = () => setNeedToken(true);
  return html`<header><h1>Ataru</h1><nav><a href="#/">Apps</a> · <a href="#/draw">Draw a definition</a></nav></header>
    <main>${needToken ? html`<${TokenForm} onDone=${() => { setNeedToken(false); setEpoch(epoch + 1); }} />`
      : r.page === 'draw' ? html`<${DrawPage} onAuth=${onAuth} />` : html`<${Live} key=${epoch} r=${r} onAuth=${onAuth} />`}</main>`;
}

render(html`<${App} />`, document.getElementById('root'));
