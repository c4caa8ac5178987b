/**
 * Server-sent events as the tests read them: the blocks of a fetch body,
 * each with its id, event name and parsed data. Written apart from the
 * dashboard's own reader (ui/api.js), so a test never checks the page's
 * parser with itself.
 */
export interface SseEvent {
  id: number;
  event: string;
  data: unknown;
}

/** Yields each event of `res` until the stream ends (or the caller stops). */
export async function* sseEvents(res: Response): AsyncGenerator<SseEvent> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const data = /^data: (.*)$/m.exec(block)?.[1];
        yield {
          id: Number(/^id: (.*)$/m.exec(block)?.[1]),
          event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message',
          data: data === undefined ? null : JSON.parse(data),
        };
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
