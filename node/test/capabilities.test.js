// The capabilities keep the Rust host's contract: storage's versions,
// conditions, expiry and limits; the outbox's refusals; faults as the WIT
// error variant, never a trap.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Capabilities, CapabilityError, MAX_KEY_BYTES, MAX_SUBJECT, MAX_TEXT, MAX_VALUE_BYTES, ManualClock, MemoryStore,
} from '../src/host.js';
import { flowError, host } from './support.js';

const bytes = (text) => new TextEncoder().encode(text);
const absent = { tag: 'absent' };
const any = { tag: 'any' };
const version = (v) => ({ tag: 'version', val: v });

/** The `err` an import answers with. */
function importError(call) {
  try {
    call();
  } catch (e) {
    assert.ok(e instanceof CapabilityError, `a CapabilityError, not ${e}`);
    return e.payload;
  }
  throw new Error('expected the import to answer err');
}

test('storage: compare-and-swap on store-wide versions, never reused', () => {
  const store = new Capabilities().imports()['customer-web:plugin/storage'];
  assert.equal(store.get('k'), undefined);
  assert.deepEqual(store.put('k', bytes('a'), absent, undefined), { tag: 'written', val: 1n });
  assert.deepEqual(store.put('k', bytes('b'), absent, undefined), { tag: 'conflict' });
  assert.deepEqual(store.get('k'), { value: bytes('a'), version: 1n });
  assert.deepEqual(store.put('k', bytes('b'), version(1n), undefined), { tag: 'written', val: 2n });
  // Two writers holding version 2: exactly one wins.
  assert.deepEqual(store.put('k', bytes('c'), version(2n), undefined), { tag: 'written', val: 3n });
  assert.deepEqual(store.put('k', bytes('d'), version(2n), undefined), { tag: 'conflict' });
  assert.deepEqual(store.put('other', bytes('x'), any, undefined), { tag: 'written', val: 4n });
  // Delete: with the version, then absent/any on an absent key is written(0).
  assert.deepEqual(store.delete('k', version(2n)), { tag: 'conflict' });
  assert.deepEqual(store.delete('k', version(3n)), { tag: 'written', val: 0n });
  assert.deepEqual(store.delete('k', absent), { tag: 'written', val: 0n });
  assert.deepEqual(store.delete('k', any), { tag: 'written', val: 0n });
  assert.deepEqual(store.delete('k', version(3n)), { tag: 'conflict' });
  // Written again after deletion: a new version, so a stale writer never wins (ABA).
  assert.deepEqual(store.put('k', bytes('e'), absent, undefined), { tag: 'written', val: 5n });
  assert.deepEqual(store.put('k', bytes('f'), version(3n), undefined), { tag: 'conflict' });
});

test('storage: a key reads as absent from its expiry on, by the host clock', () => {
  const clock = new ManualClock(1_000_000n);
  const store = new MemoryStore(clock);
  assert.deepEqual(store.put('k', bytes('a'), absent, clock.now() + 10n), { tag: 'written', val: 1n });
  clock.advance(9);
  assert.equal(store.get('k').version, 1n);
  clock.advance(1); // at expires-at: gone
  assert.equal(store.get('k'), undefined);
  assert.deepEqual(store.put('k', bytes('b'), version(1n), undefined), { tag: 'conflict' });
  assert.deepEqual(store.put('k', bytes('b'), absent, undefined), { tag: 'written', val: 2n });
  assert.equal(store.conflicts, 1);
});

test('storage: a key or value past the limits is too-large, and nothing is written', () => {
  const caps = new Capabilities();
  const store = caps.imports()['customer-web:plugin/storage'];
  const longest = 'k'.repeat(MAX_KEY_BYTES);
  assert.deepEqual(store.put(longest, new Uint8Array(MAX_VALUE_BYTES), absent, undefined), { tag: 'written', val: 1n });
  // Bytes, not characters: 171 × 3-byte 鍵 is 513 bytes.
  for (const key of [`${longest}k`, '鍵'.repeat(171)]) {
    assert.deepEqual(importError(() => store.get(key)), { tag: 'too-large' });
    assert.deepEqual(importError(() => store.put(key, bytes('v'), any, undefined)), { tag: 'too-large' });
    assert.deepEqual(importError(() => store.delete(key, any)), { tag: 'too-large' });
  }
  assert.deepEqual(importError(() => store.put('v', new Uint8Array(MAX_VALUE_BYTES + 1), any, undefined)), { tag: 'too-large' });
  assert.deepEqual(caps.store.keys(), [longest]);
});

test('mail: a bad recipient, subject or body is rejected as the Rust host rejects it, and not queued', () => {
  const caps = new Capabilities();
  const mail = caps.imports()['customer-web:plugin/mail'];
  const message = (to, subject, text) => ({ to, subject, text, kind: 'enrollment-link' });
  const subject = '【ご登録】お客さまWebサービス';
  mail.send(message('taro@example.jp', subject, '本文\n'));
  mail.send(message('taro@example.jp', 'a'.repeat(MAX_SUBJECT), 'x'.repeat(MAX_TEXT)));
  for (const to of [
    'taro@example.jp\r\nBcc: all@example.jp',
    'taro@example.jp, jiro@example.jp',
    'taro@example.jp; jiro@example.jp',
    'taro.example.jp',
    'taro@example.jp\0',
  ]) {
    assert.deepEqual(importError(() => mail.send(message(to, subject, '本文'))),
      { tag: 'rejected', val: 'recipient is not a single address' }, JSON.stringify(to));
  }
  for (const bad of ['件名\r\nBcc: all@example.jp', '件名\n', 'a'.repeat(MAX_SUBJECT + 1), 'あ'.repeat(333)]) {
    assert.deepEqual(importError(() => mail.send(message('taro@example.jp', bad, '本文'))),
      { tag: 'rejected', val: 'subject has control characters or is too long' }, JSON.stringify(bad));
  }
  assert.deepEqual(importError(() => mail.send(message('taro@example.jp', subject, 'x'.repeat(MAX_TEXT + 1)))),
    { tag: 'rejected', val: 'body too long' });
  assert.equal(caps.outbox.messages.length, 2);
});

test('directory and config: the sample policyholders and the default settings', () => {
  const imports = new Capabilities().imports();
  const { findPolicyholder, listContracts } = imports['customer-web:plugin/directory'];
  const identity = {
    familyName: '佐藤', givenName: '花子', familyNameKana: 'サトウ', givenNameKana: 'ハナコ',
    birthDate: { year: 1990, month: 12, day: 24 }, phone: '08098765432', postalCode: '5300001', policyNumber: 'C345678901',
  };
  assert.deepEqual(findPolicyholder(identity), { customerId: 'C0000002', displayName: '佐藤　花子' });
  assert.equal(findPolicyholder({ ...identity, policyNumber: 'A123456789' }), undefined, "another holder's contract");
  assert.equal(findPolicyholder({ ...identity, birthDate: { year: 1990, month: 12, day: 25 } }), undefined);
  assert.deepEqual(listContracts('C0000002').map((c) => [c.policyNumber, c.renewable]), [['B234567890', true], ['C345678901', false]]);
  assert.deepEqual(listContracts('C9999999'), []);
  const settings = imports['customer-web:plugin/config'].getSettings();
  assert.equal(settings.linkLifetime, 172800n);
  assert.equal(settings.mailsPerHour, 5);
});

test('a failing capability is the flow error unavailable, and the instance goes on', async () => {
  let broken = true;
  const store = new MemoryStore();
  const flaky = {
    get: (key) => store.get(key),
    put: (...args) => {
      if (broken) throw new Error('disk full');
      return store.put(...args);
    },
    delete: (...args) => store.delete(...args),
  };
  const { plugin } = await host({ store: flaky });
  const error = flowError(() => plugin.enrollment.start('AG001'));
  assert.equal(error.tag, 'unavailable');
  assert.match(error.val, /disk full/);
  broken = false;
  assert.ok(plugin.enrollment.start('AG001').length > 0);
});
