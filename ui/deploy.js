// Deploy and redeploy from the browser: a definition file (template, JSON
// or the binary form) and the binaries it names, uploaded in one POST /apps.
// The server says which files the definition needs (/ui/validate `files`);
// each upload goes where a needed file of its name is, and any other upload
// (a library a function needs) beside every function.
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { api, fileBase64 } from './api.js';

const html = htm.bind(h);

/** The definition file as the body's `definition` and `encoding` (a NUL byte means the binary form). */
async function definitionOf(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (bytes.includes(0)) return { definition: await fileBase64(file), encoding: 'base64' };
  return { definition: new TextDecoder().decode(bytes), encoding: 'text' };
}

const base = (p) => p.slice(p.lastIndexOf('/') + 1);
const dir = (p) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '.');

async function filesFor(needed, uploads) {
  const files = {};
  const dirs = [...new Set(needed.map(dir))];
  for (const f of uploads) {
    const b64 = await fileBase64(f);
    const at = needed.filter((k) => base(k) === f.name);
    for (const k of at.length ? at : dirs.map((d) => (d === '.' ? f.name : `${d}/${f.name}`))) files[k] = b64;
  }
  const missing = needed.filter((k) => !(k in files));
  return { files, missing };
}

/** replaces: the running app's name on its page (redeploy), undefined on the list (deploy). */
export function DeployForm({ replaces, onDone, onAuth }) {
  const [status, setStatus] = useState(null);
  const verb = replaces ? 'Redeploy' : 'Deploy';
  const submit = async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    const def = form.elements.definition.files[0];
    if (!def) return setStatus({ error: 'choose a definition file' });
    try {
      const body = await definitionOf(def);
      const v = await api('POST', '/ui/validate', body);
      if (!v.ok) return setStatus({ error: `${def.name}: ` + v.problems.map((p) => `${p.location?.line ? `line ${p.location.line}: ` : ''}${p.message}`).join('; ') });
      if (replaces && v.name !== replaces) return setStatus({ error: `${def.name} defines the app ${v.name}, not ${replaces}` });
      const { files, missing } = await filesFor(v.files, [...form.elements.binaries.files]);
      if (missing.length) return setStatus({ error: `the definition needs ${missing.join(', ')}: add ${missing.length > 1 ? 'them' : 'it'} to the binaries` });
      if (replaces && !confirm(`Redeploy ${replaces}? The new version takes the requests once it is ready.`)) return;
      const r = await api('POST', '/apps', { ...body, files });
      setStatus({ ok: `${r.replaced ? 'Redeployed' : 'Deployed'} ${r.name} (data port ${r.port})` });
      form.reset();
      onDone?.(r.name);
    } catch (e) {
      if (e.status === 401) onAuth();
      else setStatus({ error: e.message });
    }
  };
  const id = replaces ? 'redeploy' : 'deploy';
  return html`<form class="deploy" aria-labelledby=${`${id}-title`} onSubmit=${submit}>
    <h3 id=${`${id}-title`}>${replaces ? `Redeploy ${replaces}` : 'Deploy an app'}</h3>
    <p><label for=${`${id}-def`}>Definition (template, JSON or binary)</label> <input id=${`${id}-def`} name="definition" type="file" /></p>
    <p><label for=${`${id}-bin`}>Function binaries and libraries</label> <input id=${`${id}-bin`} name="binaries" type="file" multiple /></p>
    <p><button type="submit">${verb}</button>
      ${status?.ok ? html` <span role="status" class="ok">${status.ok}</span>` : ''}${status?.error ? html` <span role="alert" class="errors">${status.error}</span>` : ''}</p>
  </form>`;
}
