/**
 * Templates (native/template.h): what an extra instance costs when it is
 * made copy-on-write from its version's initialised template, beside the
 * same instance loaded the way every instance was before templates (its own
 * load and link, its own copy of every image) — both in this run. The app:
 * one function with a 4 MiB image whose ataru_init builds a 1 MiB table.
 *
 * Memory figures (private and PSS bytes, from /proc/self/pagemap and
 * /proc/kpagecount) are valid on any KVM, emulated or not; times are not
 * (bench/kvm-gate.ts marks an emulated run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadApp } from '../../src/runtime/app.js';
import { native, type NativeHandle, type NativeTemplate } from '../../src/runtime/native.js';
import { buildSpec } from '../../src/runtime/spec.js';
import { fmtKiB, fmtRatio, fmtUs, median, printTable, type BenchContext } from '../lib.js';
import { resolveOpts, single } from './dags.js';

const GiB = 1024 ** 3;
const EXTRA = 32; // instances measured per way

export async function run(ctx: BenchContext): Promise<void> {
  const def = single('inittable', { msg_len: 1, instances: 1 });
  const { spec } = buildSpec(def, resolveOpts);
  const input = Buffer.from([7]);

  const measure = async (template?: NativeTemplate) => {
    const handles: NativeHandle[] = [];
    const addNs: number[] = [];
    for (let i = 0; i < EXTRA && !ctx.overBudget(0.4); i++) {
      const t = process.hrtime.bigint();
      handles.push(await native().createInstance({ ...spec, template }));
      addNs.push(Number(process.hrtime.bigint() - t));
    }
    // Each serves one request, then sits idle: the state an extra pool instance is in.
    for (const h of handles) await native().run(h, input);
    const mem = handles.map((h) => native().memory(h));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const out = {
      n: handles.length,
      privateBytes: mean(mem.map((m) => m.privateBytes)),
      pssBytes: mean(mem.map((m) => m.pssBytes)),
      addNs: median(addNs),
    };
    await Promise.all(handles.map((h) => native().destroy(h)));
    return out;
  };

  const loaded = await measure(); // today's way: every instance loads its own
  const tpl = await native().createTemplate(spec);
  const info = native().templateInfo(tpl);
  const cow = await measure(tpl);
  native().releaseTemplate(tpl);

  // Cold start of a version: init runs and the template is stored, then a
  // restart maps the stored one.
  const dir = mkdtempSync(join(tmpdir(), 'ataru-bench-tpl-'));
  const cold = async () => {
    const t = process.hrtime.bigint();
    const app = await loadApp(def, { ...resolveOpts, templateStore: { dir } });
    const ns = Number(process.hrtime.bigint() - t);
    const fromStore = app.stats().template?.fromStore ?? false;
    await app.close();
    return { ns, fromStore };
  };
  const first = await cold();
  const again = await cold();
  rmSync(dir, { recursive: true, force: true });

  const perGiB = (bytes: number) => (bytes > 0 ? Math.floor(GiB / bytes).toLocaleString('en') : '∞ (0 bytes)');
  const check = (ok: boolean) => (ok ? 'yes' : 'NO');
  const rows: string[][] = [
    ['template: guest memory / non-zero data', `${fmtKiB(info.guestBytes)} / ${fmtKiB(info.dataBytes)}`, '', '', ''],
    ['init (1 MiB table), once per version', fmtUs(info.initNs), '', '', ''],
    [`private per extra idle instance, loaded (n=${loaded.n})`, fmtKiB(loaded.privateBytes), 'baseline', '', ''],
    [
      `private per extra idle instance, from template (n=${cow.n})`,
      fmtKiB(cow.privateBytes),
      fmtRatio(cow.privateBytes / loaded.privateBytes),
      '≤ 64 KiB',
      check(cow.privateBytes <= 64 * 1024),
    ],
    ['PSS per instance, loaded', fmtKiB(loaded.pssBytes), 'baseline', '', ''],
    ['PSS per instance, from template', fmtKiB(cow.pssBytes), fmtRatio(cow.pssBytes / loaded.pssBytes), '', ''],
    ['idle instances per GiB, loaded (1 GiB / private)', perGiB(loaded.privateBytes), '', '', ''],
    [
      'idle instances per GiB, from template (1 GiB / private)',
      perGiB(cow.privateBytes),
      '',
      '≥ 8,000',
      check(cow.privateBytes === 0 || GiB / cow.privateBytes >= 8000),
    ],
    ['time to add an instance, loaded (median)', fmtUs(loaded.addNs), 'baseline', '', ''],
    ['time to add an instance, from template (median)', fmtUs(cow.addNs), fmtRatio(cow.addNs / loaded.addNs), '', ''],
    [`cold start of a version, init + store (stored: ${first.fromStore})`, fmtUs(first.ns), 'baseline', '', ''],
    [`cold start of a version, stored template (stored: ${again.fromStore})`, fmtUs(again.ns), fmtRatio(again.ns / first.ns), '', ''],
  ];
  printTable('Templates: copy-on-write instances (4 MiB image, 1 MiB init table)', ['measure', 'value', 'vs baseline', 'target', 'met'], rows);
}
