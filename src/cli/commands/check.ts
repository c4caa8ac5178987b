import type { Command } from 'commander';

// Placeholder: the owner of these verbs replaces this file.
export function registerCheck(_program: Command): void {}
export function registerConvert(_program: Command): void {}
