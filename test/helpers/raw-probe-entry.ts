// A child for test/server/raw-port.test.ts: asks for a raw app's packet
// socket on the interface in argv[2] and prints the outcome as JSON (the
// test runs it without CAP_NET_RAW).
import { probeRawAccess } from '../../src/server/raw-port.js';

try {
  probeRawAccess('norights', process.argv[2]!);
  console.log(JSON.stringify({ opened: true }));
} catch (e) {
  const err = e as Error & { code?: string };
  console.log(JSON.stringify({ code: err.code, message: err.message }));
}
