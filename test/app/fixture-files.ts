/** The definition files in test/app/fixtures/. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const fixturePath = (name: string): string => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url));
export const fixtureBytes = (name: string): Buffer => readFileSync(fixturePath(name));
export const fixtureText = (name: string): string => readFileSync(fixturePath(name), 'utf8');
