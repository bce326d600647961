// One store for instances in several worker threads. The component calls
// its imports synchronously, so a worker cannot await another thread's
// answer: it posts the operation on a MessagePort, sleeps on a shared flag
// (Atomics.wait) until the owning thread has run it, then takes the answer
// off the port synchronously (receiveMessageOnPort). The owning thread runs
// each operation whole, one at a time, so the store's compare-and-swap
// holds across threads exactly as within one. The owning thread must keep
// its event loop free (awaiting, not inside a synchronous call of its own
// instance) while workers run, or they wait for it forever.
//
//   // owning thread
//   const server = new StoreServer(store);
//   const link = server.connect();          // one per worker
//   new Worker(url, { workerData: { link }, transferList: [link.port] });
//
//   // worker
//   const store = new RemoteStore(workerData.link);
//   const caps = new Capabilities({ store });

import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { CapabilityError, unavailable } from './host.js';

const OPERATIONS = new Set(['get', 'put', 'delete']);

/** Serves `store` to workers; runs on the thread that owns the store. */
export class StoreServer {
  constructor(store) {
    this.store = store;
    this.ports = [];
  }

  /**
   * A connection for one worker: `{ port, flag }`, to pass in `workerData`
   * (with `port` in the transfer list).
   */
  connect() {
    const { port1, port2 } = new MessageChannel();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    port1.on('message', ({ op, args }) => {
      let answer;
      try {
        if (!OPERATIONS.has(op)) throw new Error(`no storage operation ${op}`);
        answer = { ok: this.store[op](...args) };
      } catch (e) {
        answer = { err: e instanceof CapabilityError ? e.payload : unavailable(e?.message ?? e).payload };
      }
      port1.postMessage(answer);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
    this.ports.push(port1);
    return { port: port2, flag };
  }

  /** Stops serving, so the owning thread can exit. */
  close() {
    for (const port of this.ports) port.close();
  }
}

/** The store as a worker sees it: the same methods, answered by the owner. */
export class RemoteStore {
  constructor({ port, flag }) {
    this.port = port;
    this.flag = flag;
  }

  #call(op, args) {
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage({ op, args });
    Atomics.wait(this.flag, 0, 0);
    const answer = receiveMessageOnPort(this.port)?.message;
    if (!answer) throw unavailable('the store thread did not answer');
    if (answer.err) throw new CapabilityError(answer.err);
    return answer.ok;
  }

  get(key) {
    return this.#call('get', [key]);
  }
  put(key, value, condition, expiresAt) {
    return this.#call('put', [key, value, condition, expiresAt]);
  }
  delete(key, condition) {
    return this.#call('delete', [key, condition]);
  }
}
