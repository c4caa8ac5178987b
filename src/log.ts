/**
 * The one logger (pino). Components take a child logger: log.child({ app }).
 * Level from ATARU_LOG_LEVEL (default "info"; tests set "silent").
 */
import { pino } from 'pino';

export const log = pino({
  level: process.env.ATARU_LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info'),
  base: undefined,
});
export type Logger = typeof log;
