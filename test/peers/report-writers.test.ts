/**
 * The report writers produce well-formed output: SVG that is balanced,
 * quoted and escaped XML; Markdown tables with one cell per column.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latencyChart, throughputChart } from '../../bench/peers/report/charts.js';
import { markdownReport, markdownTable, workloadTable } from '../../bench/peers/report/markdown.js';
import type { WorkloadTable } from '../../bench/peers/report/summary.js';
import { el, svgDocument } from '../../bench/peers/report/svg.js';
import { generateDagC, topoOrder } from '../../bench/peers/dag-c.js';
import { workloads } from '../../bench/peers/workloads.js';

/** A small XML well-formedness check: every tag closed in order, every
 * attribute quoted, no raw '<' or stray '&' in text. */
function assertWellFormedXml(xml: string): void {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  let roots = 0;
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    const textPart = body.slice(i, lt < 0 ? body.length : lt);
    assert.doesNotMatch(textPart, /&(?!(amp|lt|gt|quot|apos);)/, `raw & in text: ${textPart}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(body);
    assert.ok(m, `malformed tag at ${lt}: ${body.slice(lt, lt + 60)}`);
    const [, close, name, , selfClose] = m!;
    if (close) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!selfClose) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
    i = tag.lastIndex;
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(roots, 1, 'exactly one root element');
}

const fig = (m: number) => ({ median: m, p25: m * 0.9, p75: m * 1.1, runs: 3 });

const tables: WorkloadTable[] = [
  {
    workloadId: 'fnv',
    label: 'FNV <4 KiB> & "friends"',
    rows: [
      { systemId: 'ataru', label: 'Ataru | pooled', workloadId: 'fnv', status: 'ok', p50: fig(40), p99: 90, thr1: fig(20000), thr2: fig(38000), cold: fig(900), memoryBytes: 300 * 1024, perGiB: 3495, vsFloor: 1.2, vsNative: 9, requests: 10 },
      { systemId: 'native', label: 'native', workloadId: 'fnv', status: 'ok', p50: fig(4.5), thr1: fig(2e5), thr2: fig(4e5), requests: 10 },
      { systemId: 'qemu', label: 'qemu <tcg>', workloadId: 'fnv', status: 'wrong answer', reason: 'qemu: wrong answer\nsecond line', requests: 0 },
    ],
  },
];

test('the SVG writer escapes text and attributes', () => {
  assertWellFormedXml(svgDocument(10, 10, [el('text', { x: 1, title: 'a"b<c' }, 'x < y & z')]));
});

test('both charts are well-formed SVG and show every reported system', () => {
  const ids = ['ataru', 'native', 'qemu'];
  for (const svg of [latencyChart(tables, ids), throughputChart(tables, ids)]) {
    assertWellFormedXml(svg);
    assert.match(svg, /Ataru \| pooled/);
    assert.doesNotMatch(svg, /qemu &lt;tcg&gt;/, 'a system with a wrong answer has no bar or line');
  }
});

test('Markdown tables have one cell per column and escape pipes', () => {
  const md = workloadTable(tables[0]!);
  const lines = md.split('\n');
  const cols = (l: string) => l.replace(/\\\|/g, '').split('|').length;
  for (const l of lines) assert.equal(cols(l), cols(lines[0]!), l);
  assert.match(md, /Ataru \\\| pooled/);
  assert.match(md, /not reported: wrong answer/);
  assert.equal(markdownTable(['a', 'b'], [['1', '2']]), '| a | b |\n| --- | --- |\n| 1 | 2 |');
});

test('the report carries the machine, the date and the charts', () => {
  const md = markdownReport(tables, {
    machine: { cpu: 'AMD EPYC', cores: 2, kernel: 'Linux 6', node: 'v20', kvm: 'kvm_pvm', qemu: 'QEMU 7.2', compilers: 'gcc' },
    date: '2026-11-25T12:00:00Z',
    mode: 'quick',
    rounds: 3,
    durationS: 30,
    notes: [{ label: 'native', note: 'C loop' }],
    charts: ['peers-latency.svg'],
  });
  for (const s of ['AMD EPYC', 'kvm_pvm', '2026-11-25', '![peers-latency.svg](peers-latency.svg)', '## FNV']) assert.ok(md.includes(s), s);
  assert.match(md, /Ataru p50 40\.0 µs; others relative to it: native 0\.11×/);
});

test('the generated DAG runs parents first and passes parent output lengths', () => {
  assert.deepEqual(topoOrder(4, [{ from: 0, to: 1 }, { from: 0, to: 2 }, { from: 1, to: 3 }, { from: 2, to: 3 }]), [0, 1, 2, 3]);
  assert.deepEqual(topoOrder(3, [{ from: 2, to: 0 }, { from: 0, to: 1 }]), [2, 0, 1]);
  assert.throws(() => topoOrder(2, [{ from: 0, to: 1 }, { from: 1, to: 0 }]));
  const c = generateDagC(workloads(['sobel'])[0]!);
  assert.match(c, /r\[3\] = peer_fn_3\(shm \+ 32768ull, shm \+ 98304ull, 3, \(uint64_t\)r\[1\]/);
  assert.match(c, /r\[0\] = peer_fn_0\(shm \+ 0ull, shm \+ 16384ull, 0, in_len/);
});
