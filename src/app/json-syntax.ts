/**
 * Where JSON text first goes wrong. JSON.parse (Node 20) often reports no
 * position at all; this scanner finds the first error's character offset so a
 * definition's syntax error gets a line and column. Iterative (an explicit
 * stack), so deeply nested input can't exhaust the JS stack.
 */

export interface JsonSyntaxError {
  position: number;
  message: string;
}

type State = 'value' | 'valueOrEnd' | 'key' | 'keyOrEnd' | 'after';

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WHITESPACE = /[ \t\n\r]*/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const stack: ('{' | '[')[] = [];
  let state: State = 'value';
  const found = () => (i >= text.length ? 'the end of the input' : JSON.stringify(text[i]));
  const fail = (expected: string): JsonSyntaxError => ({ position: i, message: `expected ${expected}, found ${found()}` });
  const skipWhitespace = () => {
    WHITESPACE.lastIndex = i;
    WHITESPACE.test(text);
    i = WHITESPACE.lastIndex;
  };
  /** Scans a string at i; returns an error or undefined. */
  const string = (): JsonSyntaxError | undefined => {
    i++;
    for (;;) {
      if (i >= text.length) return { position: i, message: 'expected the end of the string (\'"\'), found the end of the input' };
      const c = text[i];
      if (c === '"') {
        i++;
        return undefined;
      }
      if (c < ' ') return { position: i, message: `expected no control character in a string, found ${JSON.stringify(c)}` };
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) return { position: i, message: 'expected \\u and 4 hex digits' };
          i += 6;
        } else if (e !== undefined && ESCAPES.has(e)) i += 2;
        else return { position: i, message: `expected an escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u), found ${JSON.stringify('\\' + (e ?? ''))}` };
      } else i++;
    }
  };

  for (;;) {
    skipWhitespace();
    const c = text[i];
    switch (state) {
      case 'valueOrEnd':
      case 'keyOrEnd':
        if (c === (state === 'valueOrEnd' ? ']' : '}')) {
          stack.pop();
          i++;
          state = 'after';
        } else state = state === 'valueOrEnd' ? 'value' : 'key';
        break;
      case 'value':
        if (c === '{' || c === '[') {
          stack.push(c);
          i++;
          state = c === '{' ? 'keyOrEnd' : 'valueOrEnd';
          break;
        }
        if (c === '"') {
          const e = string();
          if (e) return e;
        } else if (c === '-' || (c >= '0' && c <= '9')) {
          NUMBER.lastIndex = i;
          if (!NUMBER.test(text)) return fail('a number');
          i = NUMBER.lastIndex;
        } else {
          const literal = ['true', 'false', 'null'].find((l) => text.startsWith(l, i));
          if (!literal) return fail('a value');
          i += literal.length;
        }
        state = 'after';
        break;
      case 'key': {
        if (c !== '"') return fail('a string key');
        const e = string();
        if (e) return e;
        skipWhitespace();
        if (text[i] !== ':') return fail("':'");
        i++;
        state = 'value';
        break;
      }
      case 'after': {
        const top = stack[stack.length - 1];
        if (top === undefined) return i < text.length ? fail('the end of the input') : undefined;
        const close = top === '{' ? '}' : ']';
        if (c === ',') {
          i++;
          state = top === '{' ? 'key' : 'value';
        } else if (c === close) {
          stack.pop();
          i++;
        } else return fail(`',' or '${close}'`);
      }
    }
  }
}
