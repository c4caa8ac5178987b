/** The Markdown report: machine, method, one table per workload. */
import type { Machine } from '../machine.js';
import { bytes, num, ratio } from './format.js';
import type { Row, WorkloadTable } from './summary.js';

export function escapeCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function spread(f: Row['p50']): string {
  if (!f) return '—';
  return f.runs > 1 ? `${num(f.median)} (${num(f.p25)}–${num(f.p75)})` : num(f.median);
}

const HEADER = [
  'system',
  'p50 µs (p25–p75)',
  'p99 µs',
  '× floor',
  '× native',
  'req/s c=1 (p25–p75)',
  'req/s c=2 (p25–p75)',
  'cold start µs',
  'private memory',
  'per GiB',
];

/** The line of a (possibly multi-line) failure that says what went wrong. */
export function shortReason(reason = ''): string {
  const lines = reason.split('\n').map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => /error|not found|wrong answer|cannot|failed/i.test(l) && !/^Command failed/.test(l)) ?? lines[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

function rowCells(r: Row): string[] {
  if (r.status !== 'ok') {
    const why = r.status === 'unavailable' ? 'not run' : `**not reported: ${r.status}**`;
    return [r.label, `${why} — ${shortReason(r.reason)}`, ...HEADER.slice(2).map(() => '—')];
  }
  return [
    r.label,
    spread(r.p50),
    num(r.p99),
    ratio(r.vsFloor),
    ratio(r.vsNative),
    spread(r.thr1),
    spread(r.thr2),
    spread(r.cold),
    bytes(r.memoryBytes),
    r.perGiB !== undefined ? r.perGiB.toLocaleString('en-US') : '—',
  ];
}

export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const line = (cells: readonly string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function workloadTable(t: WorkloadTable): string {
  return markdownTable(HEADER, t.rows.map(rowCells));
}

export interface ReportMeta {
  machine: Machine;
  date: string;
  mode: string;
  rounds: number;
  durationS: number;
  notes: { label: string; note: string }[];
  charts: string[];
}

/** One line per workload: how many times slower each peer's p50 is than
 * Ataru's (clean state), the comparison a reader looks for first. */
export function headline(tables: readonly WorkloadTable[]): string[] {
  const lines: string[] = [];
  for (const t of tables) {
    const ataru = t.rows.find((r) => r.systemId === 'ataru' && r.p50)?.p50?.median;
    if (!ataru) continue;
    const parts = t.rows
      .filter((r) => r.systemId !== 'ataru' && r.systemId !== 'floor' && r.p50)
      .map((r) => `${r.label} ${ratio(r.p50!.median / ataru)}`);
    lines.push(`- **${t.label}**: Ataru p50 ${num(ataru)} µs; others relative to it: ${parts.join(', ')}`);
  }
  return lines;
}

export function markdownReport(tables: readonly WorkloadTable[], meta: ReportMeta): string {
  const m = meta.machine;
  const out: string[] = [
    '# Ataru against the alternatives (bench:peers)',
    '',
    `${meta.date} · ${meta.mode} run, ${meta.rounds} interleaved rounds, ${Math.round(meta.durationS)} s`,
    '',
    '| machine | |',
    '| --- | --- |',
    ...Object.entries({
      CPU: `${m.cpu} (${m.cores} cores)`,
      kernel: m.kernel,
      node: m.node,
      'kvm module': m.kvm,
      'qemu': m.qemu,
      compilers: m.compilers,
    }).map(([k, v]) => `| ${k} | ${escapeCell(v)} |`),
    '',
    'Each figure is the median over the rounds, with the p25–p75 spread across rounds in',
    'parentheses; p99 is over all requests of all rounds. Ratios compare p50 latencies: × floor to',
    'one bare KVM exit round trip, × native to the same C called in-process. A system whose',
    'answer differed from the expected output is not reported. This machine is shared and',
    'noisy: compare ratios within one run, not absolute times across runs. On kvm_pvm a VM',
    'exit costs ~25 µs (1–4 µs on hardware KVM), and Ataru pays one per request.',
    '',
  ];
  const head = headline(tables);
  if (head.length) out.push('## At a glance (p50 latency, × Ataru with clean state)', '', ...head, '');
  for (const t of tables) out.push(`## ${t.label}`, '', workloadTable(t), '');
  out.push('## How each system is measured', '');
  for (const n of meta.notes) out.push(`- **${n.label}**: ${n.note}`);
  out.push('');
  for (const c of meta.charts) out.push(`![${c}](${c})`, '');
  return out.join('\n');
}
