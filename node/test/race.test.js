// Races between instances in separate threads on one shared store: each
// racer is a worker thread with its own instance of the component, all
// released at once, their storage calls interleaving on the main thread's
// store. Exactly one wins each race, and the store's compare-and-swap
// conflicts show the calls really interleaved.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { inspect } from 'node:util';
import { Worker } from 'node:worker_threads';
import { MemoryStore } from '../src/host.js';
import { StoreServer } from '../src/shared-store.js';
import { KEYWORD, PASSWORD, TERMS, flowError, host, mailLink, yamada } from './support.js';

const RACERS = 4;

/**
 * Runs `calls` (each `{ export: 'link.submitKeyword', args }`) at once, one
 * per worker thread, on `store`; their answers in order, and how many
 * compare-and-swap conflicts the store saw meanwhile.
 */
async function race(store, calls) {
  const server = new StoreServer(store);
  const start = new Int32Array(new SharedArrayBuffer(4));
  const workers = calls.map((call) => {
    const link = server.connect();
    return new Worker(new URL('./race-worker.js', import.meta.url), {
      workerData: { link, start, call },
      transferList: [link.port],
    });
  });
  try {
    const answers = workers.map((w) => new Promise((resolve, reject) => {
      w.on('message', (m) => m !== 'ready' && resolve(m));
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`racer exited (${code}) without answering`)));
    }));
    // Every racer instantiated and waiting, then all released together.
    await Promise.all(workers.map((w) => once(w, 'message')));
    const conflictsBefore = store.conflicts;
    Atomics.store(start, 0, 1);
    Atomics.notify(start, 0);
    const results = await Promise.all(answers);
    return { results, conflicts: store.conflicts - conflictsBefore };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    server.close();
  }
}

test('the same link redeemed by several instances at once: exactly one wins', async () => {
  const store = new MemoryStore();
  const h = await host({ store });
  let conflicts = 0;
  for (let round = 0; round < 3; round++) {
    const token = mailLink(h, `taro+${round}@example.jp`);
    const { results, conflicts: seen } = await race(
      store,
      Array.from({ length: RACERS }, () => ({ export: 'link.submitKeyword', args: [token, KEYWORD] })),
    );
    conflicts += seen;
    const winners = results.filter((r) => r.ok);
    assert.equal(winners.length, 1, inspect(results));
    assert.equal(winners[0].ok.kind, 'enrollment');
    for (const r of results.filter((r) => r.err)) {
      assert.ok(['link-spent', 'link-burnt'].includes(r.err.tag), inspect(r.err));
    }
    // The winner's ticket goes on; the link is spent for everyone.
    h.plugin.credentials.submit(winners[0].ok.ticket, `taro${round}@example.jp`, PASSWORD);
    assert.equal(h.plugin.credentials.review(winners[0].ok.ticket), `taro${round}@example.jp`);
    assert.deepEqual(flowError(() => h.plugin.link.open(token)), { tag: 'link-spent' });
  }
  assert.ok(conflicts > 0, 'the racers never collided: the race did not interleave');
  console.log(`keyword races: ${conflicts} compare-and-swap conflicts`);
});

test('the same customer completing two enrollments at once: one account, the other already-registered', async () => {
  const store = new MemoryStore();
  const h = await host({ store });
  let conflicts = 0;
  for (let round = 0; round < 3; round++) {
    // Two enrollments of 山田 太郎 (two browsers), both past the link, with
    // different user IDs; both confirm at the same moment.
    const tickets = ['pc', 'phone'].map((device) => {
      const { ticket } = h.plugin.link.submitKeyword(mailLink(h, `${device}${round}@example.jp`), KEYWORD);
      h.plugin.credentials.submit(ticket, `${device}${round}@example.jp`, PASSWORD);
      return ticket;
    });
    const { results, conflicts: seen } = await race(
      store,
      tickets.map((ticket) => ({ export: 'credentials.complete', args: [ticket] })),
    );
    conflicts += seen;
    const winners = results.filter((r) => r.ok);
    assert.equal(winners.length, 1, inspect(results));
    assert.deepEqual(results.find((r) => r.err).err, { tag: 'already-registered' });
    assert.ok(h.plugin.account.home(winners[0].ok.session));
    assert.equal(store.keys('account/').length, 1);
    // The next round enrolls the same customer again: clear the account.
    for (const key of store.keys()) store.delete(key, { tag: 'any' });
  }
  assert.ok(conflicts > 0, 'the racers never collided: the race did not interleave');
  console.log(`completion races: ${conflicts} compare-and-swap conflicts`);
});
