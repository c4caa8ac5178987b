import type { Command } from 'commander';

// Placeholder: the owner of this verb replaces this file.
export function registerRun(_program: Command): void {}
