/** Loads an example's definition file into a one-VM app, paths relative to the file. */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseDefinition, resolveFunctionPath } from '../../src/app/index.js';
import type { AppDefinition } from '../../src/app/model.js';
import { type App, loadApp } from '../../src/runtime/index.js';

export function readExample(file: string): AppDefinition {
  return parseDefinition(readFileSync(file), { file });
}

export function loadExample(file: string, overrides: Partial<AppDefinition> = {}): Promise<App> {
  const def = { ...readExample(file), instances: 1, ...overrides };
  return loadApp(def, { resolve: (ref) => resolveFunctionPath(ref, dirname(file)) });
}
