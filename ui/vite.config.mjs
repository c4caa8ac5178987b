// Bundles the dashboard into dist/ui (served by `ataru serve` at /). No
// inline script or style: the server's CSP forbids them.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  build: { outDir: '../dist/ui', emptyOutDir: true, assetsInlineLimit: 0, modulePreload: { polyfill: false } },
  logLevel: 'warn',
});
