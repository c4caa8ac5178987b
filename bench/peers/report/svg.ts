/**
 * A very small SVG writer: elements as strings, attributes escaped, so that
 * charts are well-formed whatever the labels contain.
 */
export type Attrs = Record<string, string | number | undefined>;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined && !(typeof v === 'number' && !Number.isFinite(v)))
    .map(([k, v]) => ` ${k}="${escapeXml(typeof v === 'number' ? String(Math.round(v * 100) / 100) : v!)}"`)
    .join('');
}

export function el(tag: string, a: Attrs = {}, children: string[] | string = []): string {
  const body = Array.isArray(children) ? children.join('') : escapeXml(children);
  return body ? `<${tag}${attrs(a)}>${body}</${tag}>` : `<${tag}${attrs(a)}/>`;
}

export function text(x: number, y: number, s: string, a: Attrs = {}): string {
  return el('text', { x, y, ...a }, s);
}

export function svgDocument(width: number, height: number, children: string[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    el(
      'svg',
      {
        xmlns: 'http://www.w3.org/2000/svg',
        width,
        height,
        viewBox: `0 0 ${width} ${height}`,
        'font-family': 'sans-serif',
        'font-size': 12,
      },
      [el('rect', { width, height, fill: 'white' }), ...children],
    ) +
    '\n'
  );
}

/** Log-scale mapping of [lo, hi] (powers of ten around the data) to [a, b]. */
export function logScale(values: readonly number[], a: number, b: number): { map: (v: number) => number; ticks: number[] } {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  const lo = 10 ** Math.floor(Math.log10(pos.length ? Math.min(...pos) : 1));
  const hi = 10 ** Math.ceil(Math.log10(pos.length ? Math.max(...pos) : 10));
  const span = Math.log10(hi) - Math.log10(lo) || 1;
  const ticks: number[] = [];
  for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  return { map: (v) => a + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span) * (b - a), ticks };
}
