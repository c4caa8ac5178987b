/** The runtime's public API. */
export { App, loadApp } from './app.js';
export { Sandbox, type SandboxOptions, type CallResult } from './sandbox.js';
export { StreamingStats } from './stats.js';
export { statusName, errorCodeOf } from './status.js';
export type * from './types.js';
export { ByteBudget } from './byte-budget.js';
