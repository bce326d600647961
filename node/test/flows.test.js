// Enrollment and recovery end to end through the component's typed
// exports, on capabilities supplied from JavaScript: the walks of
// tests/tests/flows.rs, in Node.js.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../src/host.js';
import { CONTACT, KEYWORD, PASSWORD, TERMS, enroll, flowError, host, lastMail, linkToken, mailLink, yamada } from './support.js';

test('enrollment: keyword and contact, the mailed link, credentials, sign-in, renewal hand-over', async () => {
  const { caps, plugin } = await host();
  const { enrollment, link, credentials, account } = plugin;

  // Screens 1–5.
  const flow = enrollment.start('AG001');
  enrollment.submitCustomer(flow, yamada(), TERMS);
  enrollment.submitContact(flow, KEYWORD, CONTACT);
  const summary = enrollment.review(flow);
  assert.equal(summary.customer.familyNameKana, 'ヤマダ');
  assert.equal(summary.customer.givenNameKana, 'タロウ');
  assert.equal(summary.customer.phone, '09012345678');
  assert.equal(summary.termsVersion, TERMS);
  const sent = enrollment.confirm(flow);
  assert.equal(sent.email, CONTACT);
  const now = caps.clock.now();
  assert.ok(sent.linkExpiresAt >= now + 48n * 3600n - 2n && sent.linkExpiresAt <= now + 48n * 3600n);

  // The mail, in the outbox.
  assert.equal(caps.outbox.messages.length, 1);
  const mail = lastMail(caps);
  assert.equal(mail.kind, 'enrollment-link');
  assert.equal(mail.to, CONTACT);
  assert.equal(mail.subject, '【三井住友海上】初回利用登録に関するご案内');
  assert.ok(mail.text.includes('ご利用期限：'));
  assert.ok(!mail.text.includes(KEYWORD), 'the keyword never travels by mail');
  const token = linkToken(mail);
  assert.ok(mail.text.includes(`http://127.0.0.1:3000/link/${token}`));

  // Screen 7: opening spends nothing; a wrong keyword counts; the right one wins.
  for (let i = 0; i < 3; i++) assert.equal(link.open(token).attemptsLeft, 5);
  assert.deepEqual(flowError(() => link.submitKeyword(token, 'ちがう言葉')), { tag: 'wrong-keyword', val: 4 });
  const verified = link.submitKeyword(token, KEYWORD);
  assert.equal(verified.kind, 'enrollment');
  assert.deepEqual(flowError(() => link.submitKeyword(token, KEYWORD)), { tag: 'link-spent' });

  // Screens 8–10.
  credentials.submit(verified.ticket, 'Taro.Yamada@Example.jp', PASSWORD);
  assert.equal(credentials.review(verified.ticket), 'Taro.Yamada@example.jp');
  const grant = credentials.complete(verified.ticket);
  const home = account.home(grant.session);
  assert.equal(home.displayName, '山田　太郎');
  assert.equal(home.userId, 'Taro.Yamada@example.jp');

  // Sign out, sign in again, renew.
  account.signOut(grant.session);
  assert.equal(account.home(grant.session), undefined);
  assert.deepEqual(flowError(() => account.signIn('taro.yamada@example.jp', 'wrong password!')), { tag: 'bad-credentials' });
  const { session } = account.signIn('taro.yamada@example.jp', PASSWORD);
  const contracts = account.renewableContracts(session);
  assert.deepEqual(contracts.map((c) => c.policyNumber), ['A123456789']);
  assert.deepEqual(contracts[0].expiryDate, { year: 2027, month: 1, day: 31 });
  const handover = account.beginRenewal(session, 'A123456789');
  assert.ok(handover.url.endsWith('/_dev/renewal') && !handover.url.includes(handover.token));
  assert.deepEqual(account.redeemHandover(handover.token), {
    customerId: 'C0000001',
    policyNumber: 'A123456789',
    agentCode: 'AG001',
  });
  assert.equal(account.redeemHandover(handover.token), undefined, 'one-time');

  // The audit trail tells the story; no secret is a storage key.
  const kinds = caps.audit.kinds();
  for (const kind of ['enrollment-started', 'mail-sent', 'keyword-failed', 'link-spent', 'account-created', 'sign-in-failed', 'sign-in-succeeded']) {
    assert.ok(kinds.includes(kind), `audit lacks ${kind}: ${kinds}`);
  }
  for (const key of caps.store.keys()) {
    for (const secret of [token, flow, grant.session, session]) assert.ok(!key.includes(secret), key);
  }
});

test('recovery: forgotten user ID and password, a new keyword on screen, sessions revoked', async () => {
  const h = await host();
  const { caps, plugin } = h;
  const oldSession = enroll(h, 'taro@example.jp');
  const otherSession = plugin.account.signIn('taro@example.jp', PASSWORD).session;

  // Full-width address, Japanese era date: normalised by the component.
  const started = plugin.recovery.start('ＴＡＲＯ＠example.jp', '昭和60年4月1日');
  const mail = lastMail(caps);
  assert.equal(mail.kind, 'recovery-link');
  assert.equal(mail.to, 'TARO@example.jp', 'NFKC-normalised, the domain in lower case');
  assert.ok(!mail.text.includes(started.keyword), 'the keyword is on the screen only');
  const verified = plugin.link.submitKeyword(linkToken(mail), started.keyword.toLowerCase());
  assert.equal(verified.kind, 'recovery');
  plugin.credentials.submit(verified.ticket, 'new-id@example.jp', 'a brand new passphrase');
  const grant = plugin.credentials.complete(verified.ticket);

  assert.equal(plugin.account.home(oldSession), undefined);
  assert.equal(plugin.account.home(otherSession), undefined);
  assert.equal(plugin.account.home(grant.session).userId, 'new-id@example.jp');
  assert.deepEqual(flowError(() => plugin.account.signIn('taro@example.jp', PASSWORD)), { tag: 'bad-credentials' });
  plugin.account.signIn('new-id@example.jp', 'a brand new passphrase');
  assert.ok(caps.audit.kinds().includes('credentials-reset'));

  // An unknown address answers alike, and no mail goes out.
  const mails = caps.outbox.messages.length;
  const unknown = plugin.recovery.start('nobody@example.jp', '1985-04-01');
  assert.equal(unknown.keyword.length, started.keyword.length);
  assert.equal(caps.outbox.messages.length, mails);
});

test('a link expires 48 hours after sending, on the host clock the store and component share', async () => {
  const clock = new ManualClock();
  const h = await host({ clock });
  const token = mailLink(h);
  const { expiresAt } = h.plugin.link.open(token);
  assert.equal(expiresAt, clock.now() + 48n * 3600n);
  clock.advance(expiresAt - clock.now() - 5n);
  h.plugin.link.open(token);
  clock.advance(6n);
  assert.deepEqual(flowError(() => h.plugin.link.open(token)), { tag: 'link-expired' });
  assert.deepEqual(flowError(() => h.plugin.link.submitKeyword(token, KEYWORD)), { tag: 'link-expired' });
});

test('bad input is a field error and changes nothing in storage', async () => {
  const { caps, plugin } = await host();
  const flow = plugin.enrollment.start(undefined);
  const before = JSON.stringify([...caps.store.entries].map(([k, v]) => [k, String(v.version)]));
  const bad = { ...yamada(), birthDate: '1985-02-30', postalCode: '12' };
  const error = flowError(() => plugin.enrollment.submitCustomer(flow, bad, TERMS));
  assert.equal(error.tag, 'invalid-input');
  assert.deepEqual(error.val.map((f) => f.field), ['birth-date', 'postal-code']);
  assert.ok(error.val.every((f) => f.message.length > 0));
  assert.equal(JSON.stringify([...caps.store.entries].map(([k, v]) => [k, String(v.version)])), before);
  assert.deepEqual(flowError(() => plugin.enrollment.review('not-a-flow')), { tag: 'unknown-flow' });
});
