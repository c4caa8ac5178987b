// The dashboard's side of the API: every data request carries the bearer
// token (entered once, kept in sessionStorage), and the event streams are
// read with fetch, since EventSource cannot send an Authorization header.
export const TOKEN_KEY = 'ataru-token';

export function authHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { authorization: `Bearer ${t}` } : {};
}

export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { ...authHeaders(), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status === 401) throw Object.assign(new Error('token needed'), { status: 401 });
  const data = res.status === 204 ? {} : await res.json();
  if (!res.ok) throw Object.assign(new Error(data.message ?? res.statusText), { status: res.status, data });
  return data;
}

/** Reads a server-sent-events response from fetch, calling onEvent(name, data) per event. */
export async function readSse(path, onEvent, signal) {
  const res = await fetch(path, { headers: authHeaders(), signal });
  if (res.status === 401) throw Object.assign(new Error('token needed'), { status: 401 });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const ev = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data !== undefined) onEvent(ev, JSON.parse(data));
    }
  }
}

/** A File's bytes as base64 (for the files of a deploy body). */
export async function fileBase64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Calls fn at most once per animation frame with the latest value given (updates coalesced). */
export function perFrame(fn) {
  let pending, scheduled = false;
  return (value) => {
    pending = value;
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; fn(pending); });
  };
}
