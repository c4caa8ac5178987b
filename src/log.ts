/**
 * The one logger (pino). Components take a child logger: log.child({ app }).
 * Level from ATARU_LOG_LEVEL (default "info"; tests set "silent"). On a
 * terminal the lines are pretty-printed (pino-pretty, in this thread so no
 * line is lost at exit); elsewhere, or with ATARU_LOG_FORMAT=json, one JSON
 * object per line for log collectors.
 */
import { pino } from 'pino';
import pretty from 'pino-pretty';

const level = process.env.ATARU_LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info');
const pretty_ = process.stdout.isTTY && process.env.ATARU_LOG_FORMAT !== 'json';

export const log = pretty_
  ? pino({ level, base: undefined }, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }))
  : pino({ level, base: undefined });
export type Logger = typeof log;
