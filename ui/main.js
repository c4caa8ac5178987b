// The dashboard: an app list (with deploy), an app page (the DAG coloured
// live, per-node latency histograms, the logs tail, redeploy and remove)
// and a "draw" page (validate a definition without deploying). Live figures
// come from one /ui/events stream; the page renders at most once per
// animation frame whatever the stream or the logs send.
import { h, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import htm from 'htm';
import { api, perFrame, readSse, TOKEN_KEY } from './api.js';
import { Histogram, Sparkline, us } from './charts.js';
import { Dag } from './dag.js';
import { DeployForm } from './deploy.js';

const html = htm.bind(h);
/** The window of the nodes' error rates, and the sparkline's length (points, one per event). */
const WINDOW_MS = 60_000;
const SPARK_POINTS = 180;

/**
 * Per app: the rate history (sparkline) and the nodes' cumulative runs and
 * errors over the last minute, from which each node's error rate is taken.
 * The first event's baseline is zero (the figures since deploy).
 */
function follow(history, data) {
  const now = Date.now();
  const next = {};
  for (const a of data.apps) {
    const old = history[a.name] ?? { rates: [], samples: [{ t: now, runs: a.nodes.map(() => 0), errors: a.nodes.map(() => 0) }] };
    const sample = { t: now, runs: a.nodes.map((n) => n.runs), errors: a.nodes.map((n) => n.errors) };
    // At most one sample a second past the baseline: only the window's first and last are read, so a burst of events costs no more memory.
    const samples = old.samples.length > 1 && old.samples.at(-2).t > now - 1000 ? [...old.samples.slice(0, -1), sample] : [...old.samples, sample];
    while (samples.length > 2 && samples[1].t <= now - WINDOW_MS) samples.shift();
    next[a.name] = { rates: [...old.rates, a.rate].slice(-SPARK_POINTS), samples };
  }
  return next;
}

function errorRates(h) {
  const first = h.samples[0], last = h.samples.at(-1);
  return last.runs.map((r, i) => {
    const runs = r - (first.runs[i] ?? 0), errs = last.errors[i] - (first.errors[i] ?? 0);
    return runs + errs > 0 ? errs / (runs + errs) : null;
  });
}

function useStats(onAuth) {
  const [state, setState] = useState({ apps: [], history: {}, bucketsUs: [] });
  useEffect(() => {
    const ctl = new AbortController();
    let history = {};
    const show = perFrame(setState);
    readSse('/ui/events', (ev, data) => {
      if (ev !== 'stats') return;
      history = follow(history, data);
      const apps = data.apps.map((a) => {
        const rates = errorRates(history[a.name]);
        return { ...a, nodes: a.nodes.map((n, i) => ({ ...n, errorRate: rates[i] })) };
      });
      show({ apps, history, bucketsUs: data.bucketsUs, time: data.time });
    }, ctl.signal).catch((e) => { if (e.status === 401) onAuth(); });
    return () => ctl.abort();
  }, []);
  return state;
}

const errorsText = (errs) => Object.entries(errs).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none';
const errorsClass = (errs) => (Object.keys(errs).length ? 'errors' : 'errors none');

function AppList({ stats, onAuth }) {
  return html`<section aria-labelledby="apps-title">
    <h2 id="apps-title" tabindex="-1">Apps</h2>
    ${stats.apps.length ? html`<table aria-label="apps">
      <thead><tr><th scope="col">app</th><th scope="col">data port</th><th scope="col">instances busy/free</th><th scope="col">req/s</th><th scope="col">p50</th><th scope="col">p99</th><th scope="col">errors by kind</th><th scope="col">req/s, last minutes</th></tr></thead>
      <tbody>${stats.apps.map((a) => html`<tr data-app=${a.name}>
        <th scope="row"><a href=${`#/app/${encodeURIComponent(a.name)}`}>${a.name}</a></th><td>${a.port}</td>
        <td class="instances">${a.instances.busy}/${a.instances.free}</td><td class="rate">${a.rate.toFixed(1)}</td>
        <td class="p50">${us(a.p50Us)}</td><td class="p99">${us(a.p99Us)}</td>
        <td class=${errorsClass(a.errors)}>${errorsText(a.errors)}</td><td><${Sparkline} values=${stats.history[a.name]?.rates ?? []} /></td></tr>`)}
      </tbody></table>` : html`<p class="muted">${stats.time ? 'No apps deployed.' : 'Loading…'}</p>`}
    <${DeployForm} onAuth=${onAuth} onDone=${(name) => { location.hash = `#/app/${encodeURIComponent(name)}`; }} />
  </section>`;
}

function Logs({ name, onAuth }) {
  const [lines, setLines] = useState([]);
  const pre = useRef(null);
  useEffect(() => {
    const ctl = new AbortController();
    let all = [];
    const show = perFrame(setLines);
    readSse(`/apps/${encodeURIComponent(name)}/logs?follow=true&format=sse`, (_ev, e) => { all = [...all, e].slice(-200); show(all); }, ctl.signal)
      .catch((e) => { if (e.status === 401) onAuth(); });
    return () => ctl.abort();
  }, [name]);
  // The tail: stay at the bottom unless the reader scrolled up.
  useEffect(() => { const p = pre.current; if (p && p.scrollHeight - p.scrollTop - p.clientHeight < 40) p.scrollTop = p.scrollHeight; }, [lines]);
  return html`<pre class="logs" ref=${pre} aria-label=${`logs of ${name}`} tabindex="0">${lines.length ? lines.map((e) => `${e.time} ${e.kind}${e.code ? ' ' + e.code : ''}${e.node !== undefined ? ' node ' + e.node : ''}: ${e.message}\n`) : 'no log entries yet'}</pre>`;
}

function AppPage({ name, stats, onAuth }) {
  const a = stats.apps.find((x) => x.name === name);
  const [removed, setRemoved] = useState(false);
  const [error, setError] = useState('');
  const [selected, setSelected] = useState(null);
  const title = useRef(null);
  useEffect(() => { if (a) title.current?.focus(); }, [name, !!a]);
  if (removed) return html`<p role="status">Removed ${name}. <a href="#/">Back to the apps</a></p>`;
  if (!a) return html`<p class="muted">${stats.time ? `No app ${name}.` : 'Loading…'} <a href="#/">Back to the apps</a></p>`;
  const remove = async () => {
    if (!confirm(`Remove ${name}? In-flight requests finish; its data port closes.`)) return;
    try { await api('DELETE', `/apps/${encodeURIComponent(name)}`); setRemoved(true); } catch (e) { if (e.status === 401) onAuth(); else setError(e.message); }
  };
  return html`<section aria-labelledby="app-title">
    <h2 id="app-title" ref=${title} tabindex="-1">${name}</h2>
    <p class="figures">data port ${a.port} · instances <span class="instances">${a.instances.busy} busy / ${a.instances.free} free</span> · <span class="rate">${a.rate.toFixed(1)}</span> req/s ·
      requests <span class="requests">${a.requests}</span> · p50 <span class="p50">${us(a.p50Us)}</span> · p99 <span class="p99">${us(a.p99Us)}</span> ·
      errors <span class=${errorsClass(a.errors)}>${errorsText(a.errors)}</span></p>
    <h3>DAG</h3>
    <${Dag} nodes=${a.nodes} edges=${a.edges} shared=${a.shared} selected=${selected} onSelect=${setSelected} />
    <h3>Node latency (latest runs)</h3>
    <div class="hists">${a.nodes.map((n) => html`<${Histogram} id=${n.id} bucketsUs=${stats.bucketsUs} counts=${n.hist} selected=${selected === n.id} />`)}</div>
    <h3>Logs</h3><${Logs} name=${name} onAuth=${onAuth} />
    <${DeployForm} replaces=${name} onAuth=${onAuth} />
    <h3>Remove</h3>
    <p><button type="button" onClick=${remove}>Remove ${name}</button> <span class="errors" role="alert">${error}</span></p>
  </section>`;
}

function DrawPage({ onAuth }) {
  const [text, setText] = useState('');
  const [result, setResult] = useState(null);
  const [selected, setSelected] = useState(null);
  const check = async (ev) => {
    ev.preventDefault();
    try { setResult(await api('POST', '/ui/validate', { definition: text })); } catch (e) { if (e.status === 401) onAuth(); else setResult({ ok: false, problems: [{ message: e.message }] }); }
  };
  const upload = async (ev) => { const f = ev.currentTarget.files[0]; if (f) setText(await f.text()); };
  return html`<section aria-labelledby="draw-title">
    <h2 id="draw-title" tabindex="-1">Draw a definition</h2>
    <form onSubmit=${check}>
      <p><label for="def-file">Open a template or JSON file</label> <input id="def-file" type="file" onChange=${upload} /></p>
      <label for="def">Template or JSON definition</label>
      <textarea id="def" value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
      <button type="submit">Draw</button>
    </form>
    ${result && (result.ok
      ? html`<${Dag} nodes=${result.nodes} edges=${result.edges} shared=${result.shared} selected=${selected} onSelect=${setSelected} />`
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
  return r.page === 'app' ? html`<${AppPage} key=${r.name} name=${r.name} stats=${stats} onAuth=${onAuth} />` : html`<${AppList} stats=${stats} onAuth=${onAuth} />`;
}

function App() {
  const [r, setR] = useState(route());
  const [needToken, setNeedToken] = useState(false);
  const [epoch, setEpoch] = useState(0);
  useEffect(() => { const f = () => setR(route()); addEventListener('hashchange', f); return () => removeEventListener('hashchange', f); }, []);
  const onAuth = () => setNeedToken(true);
  const here = (page) => (r.page === page ? 'page' : undefined);
  return html`<header><h1>Ataru</h1><nav aria-label="pages"><a href="#/" aria-current=${here('list')}>Apps</a> · <a href="#/draw" aria-current=${here('draw')}>Draw a definition</a></nav></header>
    <main>${needToken ? html`<${TokenForm} onDone=${() => { setNeedToken(false); setEpoch(epoch + 1); }} />`
      : r.page === 'draw' ? html`<${DrawPage} onAuth=${onAuth} />` : html`<${Live} key=${epoch} r=${r} onAuth=${onAuth} />`}</main>`;
}

render(html`<${App} />`, document.getElementById('root'));
