import type { Command } from 'commander';

// Placeholder: the owner of this verb replaces this file.
export function registerServe(_program: Command): void {}
