// What the tests share: the customer of the sample directory, the walk's
// constants, and small helpers over the typed exports.

import { Capabilities, defaultSettings, instantiatePlugin } from '../src/host.js';

export const KEYWORD = 'さくら2026';
export const PASSWORD = 'correct horse battery';
export const CONTACT = 'taro@example.jp';
export const TERMS = defaultSettings().termsVersion;

/** The sample directory's 山田 太郎, typed as on a phone: half-width kana,
 * hiragana, full-width digits, hyphens. */
export function yamada() {
  return {
    familyName: '山田',
    givenName: '太郎',
    familyNameKana: 'ﾔﾏﾀﾞ',
    givenNameKana: 'たろう',
    birthDate: '１９８５年４月１日',
    phone: '０９０-１２３４-５６７８',
    postalCode: '100-0004',
    policyNumber: 'A-123456789',
  };
}

/** A fresh host: its capabilities and one instance of the component. */
export async function host(options = {}) {
  const caps = new Capabilities(options);
  return { caps, plugin: await instantiatePlugin(caps) };
}

/** The flow error a call answers with (a `ComponentError`'s payload). */
export function flowError(call) {
  try {
    call();
  } catch (e) {
    if (e?.payload === undefined) throw e;
    return e.payload;
  }
  throw new Error('expected a flow error, the call succeeded');
}

/** The one-time token in the link line of a mail, as a customer reads it. */
export function linkToken(mail) {
  const line = mail.text.split('\n').find((l) => l.includes('/link/'));
  if (!line) throw new Error(`no link in the mail of kind ${mail.kind}`);
  return line.trim().split('/link/')[1];
}

/** The newest mail in the outbox. */
export const lastMail = (caps) => caps.outbox.messages.at(-1);

/** Screens 1–5 for 山田 太郎, the link mailed to `contact`: its token. */
export function mailLink({ caps, plugin }, contact = CONTACT) {
  const flow = plugin.enrollment.start('AG001');
  plugin.enrollment.submitCustomer(flow, yamada(), TERMS);
  plugin.enrollment.submitContact(flow, KEYWORD, contact);
  plugin.enrollment.confirm(flow);
  return linkToken(lastMail(caps));
}

/** A whole enrollment with `userId`; the session. */
export function enroll(h, userId, contact = CONTACT) {
  const { ticket } = h.plugin.link.submitKeyword(mailLink(h, contact), KEYWORD);
  h.plugin.credentials.submit(ticket, userId, PASSWORD);
  return h.plugin.credentials.complete(ticket).session;
}
