// One racer: an instance of the component in its own thread, on the store
// the main thread owns (src/shared-store.js). It instantiates, says
// `ready`, waits for the start signal, makes its one call, and answers
// `{ ok }` or `{ err }` (the flow error).

import { parentPort, workerData } from 'node:worker_threads';
import { Capabilities, instantiatePlugin } from '../src/host.js';
import { RemoteStore } from '../src/shared-store.js';

const { link, start, call } = workerData;
const plugin = await instantiatePlugin(new Capabilities({ store: new RemoteStore(link) }));
const [iface, fn] = call.export.split('.');
parentPort.postMessage('ready');
Atomics.wait(start, 0, 0);
try {
  parentPort.postMessage({ ok: plugin[iface][fn](...call.args) });
} catch (e) {
  if (e?.payload === undefined) throw e;
  parentPort.postMessage({ err: e.payload });
}
