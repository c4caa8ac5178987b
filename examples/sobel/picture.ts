/**
 * Pictures in, pictures out: runs the sobel app in-process (one VM, through
 * loadApp) on a PNG or JPEG and writes the edge image as a PNG.
 *
 *   make -C examples/sobel
 *   npx tsx examples/sobel/picture.ts examples/sobel/samples/shapes.png edges.png
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDefinition, resolveFunctionPath } from '../../src/app/index.js';
import { AtaruError } from '../../src/errors.js';
import { grayToPng, GRAY_SIDE, toGray128 } from '../../src/image.js';
import { loadApp } from '../../src/runtime/index.js';

const here = dirname(fileURLToPath(import.meta.url));

async function main(input: string, output: string): Promise<void> {
  const file = join(here, 'sobel.tmpl');
  const def = { ...parseDefinition(readFileSync(file), { file }), instances: 1 };
  const app = await loadApp(def, { resolve: (ref) => resolveFunctionPath(ref, here) });
  try {
    const result = await app.run(toGray128(readFileSync(input)));
    writeFileSync(output, grayToPng(result.output, GRAY_SIDE, GRAY_SIDE));
    console.log(`${output}: edges of ${input} (${(result.dagNs / 1000).toFixed(1)} µs in the VM)`);
  } finally {
    await app.close();
  }
}

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: tsx examples/sobel/picture.ts <in.png|in.jpg> <out.png>');
  process.exit(2);
}
main(input, output).catch((err) => {
  console.error(err instanceof AtaruError ? err.describe() : err);
  process.exit(1);
});
