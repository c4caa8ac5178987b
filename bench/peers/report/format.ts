/** Number formatting shared by the Markdown table and the charts. */
export function num(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(2);
}

export function bytes(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  if (x >= 1024 * 1024) return `${(x / 1024 / 1024).toFixed(1)} MiB`;
  return `${Math.round(x / 1024).toLocaleString('en-US')} KiB`;
}

export function ratio(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  return `${num(x)}×`;
}
