// Light charts drawn as SVG by hand: a sparkline of requests/s and a
// latency histogram per node (the buckets of /metrics' node histogram).
import { h } from 'preact';
import htm from 'htm';

const html = htm.bind(h);

export const us = (v) => (v === null || v === undefined ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(0)} µs`);

export function Sparkline({ values }) {
  const w = 120, hgt = 24, max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${hgt - (v / max) * hgt}`).join(' ');
  return html`<svg class="spark" width=${w} height=${hgt} role="img" aria-label=${`requests per second over the last minutes, latest ${values.at(-1)?.toFixed(1) ?? 0}`}><polyline points=${pts} /></svg>`;
}

/** Bars for the buckets from the first to the last one with runs; bucketsUs are the upper bounds. */
export function Histogram({ id, bucketsUs, counts, selected = false }) {
  const cls = selected ? 'hist selected' : 'hist';
  const total = counts.reduce((a, b) => a + b, 0);
  if (!total) return html`<figure class=${cls} data-node=${id}><figcaption>${id}: no runs yet</figcaption></figure>`;
  let lo = counts.findIndex((c) => c > 0), hi = counts.length - 1;
  while (counts[hi] === 0) hi--;
  hi = Math.max(hi, lo + 2);
  const shown = counts.slice(lo, hi + 1), max = Math.max(...shown);
  const w = 180, hgt = 48, bw = w / shown.length;
  const bound = (i) => (i < bucketsUs.length ? `≤ ${us(bucketsUs[i])}` : `> ${us(bucketsUs.at(-1))}`);
  const label = `${id} latency over its latest ${total} runs: ` + shown.map((c, k) => `${bound(lo + k)}: ${c}`).join(', ');
  return html`<figure class=${cls} data-node=${id}>
    <svg width=${w} height=${hgt + 14} role="img" aria-label=${label}>
      ${shown.map((c, k) => html`<rect x=${k * bw + 1} y=${hgt - (c / max) * hgt} width=${bw - 2} height=${(c / max) * hgt}><title>${bound(lo + k)}: ${c}</title></rect>`)}
      <text x="0" y=${hgt + 12}>${bound(lo)}</text><text x=${w} y=${hgt + 12} text-anchor="end">${bound(hi)}</text>
    </svg>
    <figcaption>${id} (${total} runs)</figcaption>
  </figure>`;
}
