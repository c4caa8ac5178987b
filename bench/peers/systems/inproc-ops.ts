/**
 * The per-request operations of the two in-process peers, shared by the main
 * harness and the child processes (inproc-child.ts) that measure
 * concurrency 2 and memory.
 */
import { readFileSync } from 'node:fs';
import vm from 'node:vm';

/** Node `vm`: the script compiled once, a new context per request. */
export function vmOp(js: string, input: Uint8Array): () => Uint8Array {
  const script = new vm.Script(`${js}(input)`);
  return () => script.runInContext(vm.createContext({ input })) as Uint8Array;
}

/** A cold start: compile (defeating V8's compilation cache), context, run. */
let coldSeq = 0;
export function vmCold(js: string, input: Uint8Array): Uint8Array {
  const script = new vm.Script(`${js}(input) // cold ${++coldSeq}`);
  return script.runInContext(vm.createContext({ input })) as Uint8Array;
}

interface PeerExports {
  memory: WebAssembly.Memory;
  peer_input(): number;
  peer_output(): number;
  peer_call(len: number): number;
}

export function wasmModule(path: string): WebAssembly.Module {
  return new WebAssembly.Module(readFileSync(path));
}

/** One request on a fresh instance: request in, call, output copied out. */
export function wasmRequest(mod: WebAssembly.Module, input: Uint8Array): { out: Uint8Array; instance: WebAssembly.Instance } {
  const instance = new WebAssembly.Instance(mod, {});
  const e = instance.exports as unknown as PeerExports;
  new Uint8Array(e.memory.buffer, e.peer_input(), input.length).set(input);
  const n = e.peer_call(input.length);
  if (n < 0) throw new Error('wasm peer: a node failed');
  return { out: new Uint8Array(e.memory.buffer, e.peer_output(), n).slice(), instance };
}

export function wasmOp(mod: WebAssembly.Module, input: Uint8Array): () => Uint8Array {
  return () => wasmRequest(mod, input).out;
}

/** The module's bytes plus a unique custom section, so that V8's module
 * cache cannot serve a "cold" compile. */
let wasmSeq = 0;
export function wasmColdBytes(path: string): Uint8Array<ArrayBuffer> {
  const bytes = readFileSync(path);
  const name = Buffer.from('peers-cold');
  const payload = Buffer.alloc(4);
  payload.writeUInt32LE(++wasmSeq ^ (process.pid << 8));
  const body = Buffer.concat([Buffer.from([name.length]), name, payload]);
  return new Uint8Array(Buffer.concat([bytes, Buffer.from([0, body.length]), body]));
}
