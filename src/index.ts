/**
 * Ataru's public TypeScript API: app definitions, the runtime (Sandbox for
 * one function, loadApp for a DAG app), the server, and the error type.
 */
export * from './errors.js';
export * from './app/index.js';
export * from './app/model.js';
export * from './runtime/index.js';
export * from './server/index.js';
