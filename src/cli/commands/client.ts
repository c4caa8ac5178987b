import type { Command } from 'commander';

// Placeholder: the owner of this verb replaces this file.
export function registerClientCommands(_program: Command): void {}
