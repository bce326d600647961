#!/usr/bin/env node
// A real browser walks the customer-web screens served at --base: the
// system's Chromium, driven by playwright-core, with JavaScript switched off
// (the screens are plain HTML forms and must work so), a phone-sized
// viewport and a Japanese locale.
//
// Enrollment (seed A): top → customer information (with a validation
// error on the contact screen first) → keyword and contact → confirmation →
// keyword shown → the mail in the dev mailbox → the link: a wrong keyword,
// then the right one → user ID and password → confirmation → complete →
// home → contract selection → the hand-over at /_dev/renewal → sign-out →
// sign-in → home; the spent link and an unknown link.
// Recovery (seed C): top → address and birth date → system-made keyword →
// mail → link → keyword → new password → complete; the old password is
// refused and the new one signs in (typed with the keyboard alone).
//
// Every input is found by its label and every button by its accessible
// name, so unlabelled fields or renamed buttons fail the walk. Each screen's
// status code, <h1> and key text are checked before a full-page screenshot
// is saved as --out/NN-name.png; one line is printed per screenshot. Any
// failure saves --out/FAILED-NN.png of the page at that moment and exits 1.
//
//   node walk.mjs --base http://127.0.0.1:3000 --out ../../target/screenshots
//
// Against `customer-web serve` it needs a fresh data directory (the user ID
// it registers must be free) and the dev mailbox (loopback).

import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const { values: options } = parseArgs({
  options: {
    base: { type: 'string' },
    out: { type: 'string', default: 'screenshots' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    agent: { type: 'string', default: 'AG001' },
    keyword: { type: 'string', default: 'ひまわり畑' },
    contact: { type: 'string', default: 'taro@example.jp' },
    'user-id': { type: 'string', default: 'taro.yamada@example.jp' },
    password: { type: 'string', default: 'correct horse battery' },
    'new-password': { type: 'string', default: 'a brand new passphrase' },
  },
});
if (!options.base) {
  console.error(
    'usage: node walk.mjs --base http://127.0.0.1:PORT [--out DIR] [--chromium PATH]\n' +
      '       [--agent CODE] [--keyword K] [--contact ADDR] [--user-id ADDR] [--password P] [--new-password P]',
  );
  process.exit(2);
}
const BASE = options.base.replace(/\/+$/, '');
const OUT = path.resolve(options.out);

// The sample policyholder of component/directory/sample/directory.json, as a customer
// would type it.
const CUSTOMER = [
  ['お名前（姓）', '山田'],
  ['お名前（名）', '太郎'],
  ['フリガナ（セイ）', 'ヤマダ'],
  ['フリガナ（メイ）', 'タロウ'],
  ['生年月日', '1985年4月1日'],
  ['電話番号', '090-1234-5678'],
  ['郵便番号', '100-0004'],
  ['証券番号', 'A123456789'],
];
const POLICY_NUMBER = 'A123456789';
const KEYWORD = options.keyword;
const WRONG_KEYWORD = `${KEYWORD}x`;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

class WalkError extends Error {}

function fail(message) {
  throw new WalkError(message);
}

/** Status of the last main-frame document (after redirects). */
let lastStatus = 0;
let shots = 0;
/** Sub-resources that failed to load (stylesheet, …), named per screen. */
const brokenResources = [];

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The input labelled `label`. A label's accessible name ends with its
 * 「必須」/「任意」 badge; nothing else may follow, so 「パスワード」 does not
 * also find 「パスワード（確認用）」.
 */
function field(page, label) {
  return page.getByLabel(new RegExp(`^${escapeRegExp(label)}\\s*(必須|任意)?$`));
}

function button(page, name) {
  return page.getByRole('button', { name, exact: true });
}

function link(page, name) {
  return page.getByRole('link', { name, exact: true });
}

/** Runs `action`, which navigates, and waits for the new document. */
async function act(page, action) {
  const response = page.waitForResponse(
    (r) =>
      r.request().isNavigationRequest() &&
      r.frame() === page.mainFrame() &&
      !(r.status() >= 300 && r.status() < 400),
  );
  const loaded = page.waitForEvent('load');
  await action();
  lastStatus = (await response).status();
  await loaded;
}

async function go(page, url) {
  const response = await page.goto(url.startsWith('http') ? url : `${BASE}${url}`);
  if (!response) fail(`no response for ${url}`);
  lastStatus = response.status();
}

async function fill(page, label, value) {
  const input = field(page, label);
  if ((await input.count()) !== 1) fail(`no single input labelled 「${label}」 on ${page.url()}`);
  await input.fill(value);
}

async function press(page, name) {
  const target = button(page, name);
  if ((await target.count()) !== 1) fail(`no single button 「${name}」 on ${page.url()}`);
  await act(page, () => target.click());
}

async function follow(page, name) {
  const target = link(page, name);
  if ((await target.count()) < 1) fail(`no link 「${name}」 on ${page.url()}`);
  await act(page, () => target.first().click());
}

/**
 * Checks the screen (status, the one <h1>, texts that must and must not be
 * on it) and saves its screenshot.
 */
async function screen(page, name, { status = 200, heading, texts = [], absent = [], url }) {
  if (lastStatus !== status) fail(`${name}: status ${lastStatus}, expected ${status} (${page.url()})`);
  if (url && !url.test(page.url())) fail(`${name}: at ${page.url()}, expected ${url}`);
  const h1 = page.locator('h1');
  if ((await h1.count()) !== 1) fail(`${name}: ${await h1.count()} <h1> elements on ${page.url()}`);
  const title = (await h1.innerText()).trim();
  const headingOk = heading instanceof RegExp ? heading.test(title) : title === heading;
  if (!headingOk) fail(`${name}: heading 「${title}」, expected 「${heading}」 (${page.url()})`);
  // A page sent back with input errors says so first in its title.
  const pageTitle = await page.title();
  if (status === 422 && !pageTitle.startsWith('入力エラー：')) {
    fail(`${name}: title 「${pageTitle}」 does not start with 「入力エラー：」`);
  }
  const body = await page.locator('body').innerText();
  for (const text of texts) {
    const found = text instanceof RegExp ? text.test(body) : body.includes(text);
    if (!found) fail(`${name}: 「${text}」 not on the screen (${page.url()})`);
  }
  for (const text of absent) {
    if (body.includes(text)) fail(`${name}: 「${text}」 must not be on the screen (${page.url()})`);
  }
  if (brokenResources.length) fail(`${name}: resources failed to load: ${brokenResources.join(', ')}`);
  shots += 1;
  const file = `${String(shots).padStart(2, '0')}-${name}.png`;
  await page.screenshot({ path: path.join(OUT, file), fullPage: true });
  console.log(`screenshot ${file}  ${status}  ${title}`);
  return body;
}

/** The error of `label`'s input is shown beside it and announced with it. */
async function expectFieldError(page, label, message) {
  const input = field(page, label);
  const id = await input.getAttribute('id');
  const errorId = `${id}-error`;
  if ((await input.getAttribute('aria-invalid')) !== 'true') fail(`「${label}」 is not marked aria-invalid`);
  const describedBy = ((await input.getAttribute('aria-describedby')) ?? '').split(/\s+/);
  if (!describedBy.includes(errorId)) fail(`「${label}」 is not described by #${errorId}: ${describedBy}`);
  // The message sits in the field's own block, next to the input.
  const beside = input.locator('xpath=..').locator(`#${errorId}`);
  if ((await beside.count()) !== 1) fail(`no error beside 「${label}」`);
  const text = await beside.innerText();
  if (!text.includes(message)) fail(`error beside 「${label}」 is 「${text}」, expected 「${message}」`);
  if (!(await beside.isVisible())) fail(`the error beside 「${label}」 is not visible`);
  // And the summary at the top links to the field.
  const summary = page.getByRole('alert');
  if (!(await summary.innerText()).includes(message)) fail(`the error summary lacks 「${message}」`);
}

/** Tabs forward until `locator` has the focus. */
async function tabTo(page, locator, what) {
  for (let i = 0; i < 20; i += 1) {
    await page.keyboard.press('Tab');
    if (await locator.evaluate((el) => el === document.activeElement)) return;
  }
  fail(`Tab never reached ${what}`);
}

/**
 * The dev mailbox: the newest mail of `kind` to `to`, opened; returns its
 * one-time URL.
 */
async function openMail(page, { kind, to, listName, mailName, subject, absent = [] }) {
  await go(page, '/_dev/mail');
  const row = page.getByRole('row').filter({ hasText: to }).filter({ hasText: kind }).first();
  if ((await row.count()) === 0) fail(`no ${kind} mail to ${to} in the dev mailbox`);
  await screen(page, listName, { heading: '開発用メールボックス', texts: [to, kind] });
  await act(page, () => row.getByRole('link').first().click());
  await screen(page, mailName, {
    heading: subject,
    texts: ['ご利用期限：', /\d{4}年\d{1,2}月\d{1,2}日\d{1,2}時まで/, '/link/'],
    absent,
  });
  const links = page.getByRole('link', { name: /\/link\// });
  if ((await links.count()) !== 1) fail(`${await links.count()} one-time links in the mail`);
  const href = await links.getAttribute('href');
  if (!href.startsWith(`${BASE}/link/`)) fail(`the mailed link ${href} is not under ${BASE}/link/`);
  return href;
}

async function signIn(page, userId, password) {
  await fill(page, 'ユーザーID', userId);
  await fill(page, 'パスワード', password);
  await press(page, 'ログイン');
}

async function walk(page) {
  const userId = options['user-id'];
  const contact = options.contact;

  // ---- Enrollment (seed A) ----------------------------------------------
  await go(page, `/?agent=${options.agent}`);
  await screen(page, 'top', {
    heading: 'お客さまWebサービス',
    texts: ['初めてご利用いただく方はこちら', 'ユーザーＩＤ・パスワードをお忘れの方はこちら', 'ご登録済みの方'],
  });

  await follow(page, '初めてご利用いただく方はこちら');
  await screen(page, 'customer-info', {
    heading: 'お客さま情報の入力、利用規約同意',
    texts: ['手順 1／4', '利用規約'],
    url: new RegExp(`/enroll\\?agent=${options.agent}$`),
  });
  for (const [label, value] of CUSTOMER) await fill(page, label, value);
  await page.getByLabel('利用規約に同意する').check();
  await press(page, '次へ');

  await screen(page, 'contact', {
    heading: 'キーワード・メールアドレスの入力',
    texts: ['手順 2／4', 'メールには記載されません'],
    url: /\/enroll\/contact$/,
  });
  // First with an address that does not match its confirmation.
  await fill(page, 'キーワード', KEYWORD);
  await fill(page, 'メールアドレス', contact);
  await fill(page, 'メールアドレス（確認用）', `x${contact}`);
  await press(page, '確認');
  await screen(page, 'contact-mismatch-error', {
    status: 422,
    heading: 'キーワード・メールアドレスの入力',
    texts: ['入力内容をご確認ください', 'メールアドレスが確認用と一致しません。'],
  });
  await expectFieldError(page, 'メールアドレス（確認用）', 'メールアドレスが確認用と一致しません。');
  // The keyword is not sent back; the page asks for it again.
  if ((await field(page, 'キーワード').inputValue()) !== '') fail('the keyword was sent back');
  await expectFieldError(page, 'キーワード', 'もう一度入力してください。');

  await fill(page, 'キーワード', KEYWORD);
  await fill(page, 'メールアドレス', contact);
  await fill(page, 'メールアドレス（確認用）', contact);
  await press(page, '確認');
  await screen(page, 'review', {
    heading: '入力内容確認',
    texts: ['手順 3／4', '山田', 'ヤマダ', POLICY_NUMBER, KEYWORD, contact],
    url: /\/enroll\/review$/,
  });
  await press(page, '確認');
  await screen(page, 'keyword-shown', {
    heading: 'キーワード表示',
    texts: [KEYWORD, 'メモ', contact, /\d{4}年\d{1,2}月\d{1,2}日\d{1,2}時まで/],
    url: /\/enroll\/sent$/,
  });

  const enrollLink = await openMail(page, {
    kind: 'enrollment-link',
    to: contact,
    listName: 'dev-mailbox',
    mailName: 'enrollment-mail',
    subject: /初回利用登録に関するご案内/,
    absent: [KEYWORD],
  });

  await go(page, enrollLink);
  await screen(page, 'link-keyword', {
    heading: 'キーワード入力',
    texts: ['このURLのご利用期限', 'あと5回'],
  });
  await fill(page, 'キーワード', WRONG_KEYWORD);
  await press(page, '次へ');
  await screen(page, 'link-wrong-keyword', {
    status: 422,
    heading: 'キーワード入力',
    texts: ['キーワードが正しくありません', 'あと4回'],
  });
  await expectFieldError(page, 'キーワード', 'キーワードが正しくありません。');
  await fill(page, 'キーワード', KEYWORD);
  await press(page, '次へ');

  await screen(page, 'credentials', {
    heading: 'ID・パスワード入力',
    texts: ['初回利用登録'],
    url: /\/credentials$/,
  });
  await fill(page, 'ユーザーID（メールアドレス）', userId);
  await fill(page, 'パスワード', options.password);
  await fill(page, 'パスワード（確認用）', options.password);
  await press(page, '次へ');
  await screen(page, 'credentials-review', {
    heading: '入力内容確認',
    texts: [userId, '（表示しません）'],
    absent: [options.password],
    url: /\/credentials\/review$/,
  });
  await press(page, '次へ');
  await screen(page, 'complete', {
    heading: '登録完了',
    texts: ['お客さまWebサービスの登録が完了しました。'],
  });
  await follow(page, 'ホームへ');
  await screen(page, 'home', {
    heading: '山田　太郎 さま',
    texts: [`ユーザーID：${userId}`],
    url: /\/home$/,
  });
  await follow(page, '契約の継続手続');
  await screen(page, 'contract-selection', {
    heading: '継続契約選択',
    texts: [POLICY_NUMBER, '自動車保険'],
    url: /\/renewal$/,
  });
  await page.getByLabel(new RegExp(`証券番号：${POLICY_NUMBER}`)).check();
  await press(page, '次へ');
  await screen(page, 'handover', {
    heading: '継続手続きへ',
    texts: [POLICY_NUMBER, '継続手続きへ進む'],
    url: /\/renewal$/,
  });
  // The hand-over leaves in the body of a POST: no URL ever holds it.
  await press(page, '継続手続きへ進む');
  await screen(page, 'portal-handover', {
    heading: '契約の継続手続（ポータル）',
    texts: ['ポータルの継続手続に引き継がれました。', POLICY_NUMBER, options.agent],
    url: /\/_dev\/renewal$/,
  });

  await go(page, '/home');
  await press(page, 'ログアウト');
  await screen(page, 'signed-out', { heading: 'お客さまWebサービス', url: /\/$/ });
  await go(page, '/home');
  if (!page.url().endsWith('/')) fail(`/home after sign-out went to ${page.url()}, not the top`);
  await signIn(page, userId, options.password);
  await screen(page, 'home-signed-in', {
    heading: '山田　太郎 さま',
    texts: [`ユーザーID：${userId}`],
    url: /\/home$/,
  });

  await go(page, enrollLink);
  await screen(page, 'link-spent', {
    status: 410,
    heading: 'このURLは既に使用されています',
    texts: ['一回のアクセスのみ有効', '初めてご利用いただく方はこちら'],
  });
  await go(page, '/link/xyz');
  await screen(page, 'link-unknown', {
    status: 404,
    heading: 'このURLは無効です',
    texts: ['トップへ'],
  });

  // ---- Recovery (seed C) ------------------------------------------------
  await go(page, '/');
  await follow(page, 'ユーザーＩＤ・パスワードをお忘れの方はこちら');
  await screen(page, 'recover', {
    heading: 'ユーザーID・パスワードをお忘れの方',
    url: /\/recover$/,
  });
  await fill(page, 'ご登録のメールアドレス', contact);
  await fill(page, '生年月日', '昭和60年4月1日');
  await press(page, '次へ');
  const recoverBody = await screen(page, 'recover-keyword', {
    heading: 'キーワード表示',
    texts: ['このキーワードはメールには記載されません', contact],
    url: /\/recover\/keyword$/,
  });
  const systemKeyword = (await page.locator('.keyword-system').innerText()).trim();
  if (!/^[A-Za-z0-9]{8}$/.test(systemKeyword)) fail(`system keyword 「${systemKeyword}」 is not 8 letters/digits`);
  if (!recoverBody.includes(systemKeyword)) fail('the system keyword is not on the screen');

  const recoveryLink = await openMail(page, {
    kind: 'recovery-link',
    to: contact,
    listName: 'dev-mailbox-recovery',
    mailName: 'recovery-mail',
    subject: /ユーザーID・パスワード再登録手続のご案内/,
    absent: [systemKeyword],
  });
  if (recoveryLink === enrollLink) fail('the recovery mail carries the enrollment link');

  await go(page, recoveryLink);
  await screen(page, 'recovery-link-keyword', {
    heading: 'キーワード入力',
    texts: ['ユーザーID・パスワードの再設定'],
  });
  await fill(page, 'キーワード', systemKeyword);
  await press(page, '次へ');
  await screen(page, 'recovery-credentials', {
    heading: 'ID・パスワード入力',
    texts: ['ユーザーID・パスワードの再設定', 'これまでのパスワードは使えなくなります'],
    url: /\/credentials$/,
  });
  await fill(page, 'ユーザーID（メールアドレス）', userId);
  await fill(page, 'パスワード', options['new-password']);
  await fill(page, 'パスワード（確認用）', options['new-password']);
  await press(page, '次へ');
  await screen(page, 'recovery-review', {
    heading: '入力内容確認',
    texts: [userId, '再設定します'],
  });
  await press(page, '次へ');
  await screen(page, 'recovery-complete', {
    heading: '登録完了',
    texts: ['ユーザーID・パスワードの再設定が完了しました。'],
  });
  await follow(page, 'ホームへ');
  await screen(page, 'recovery-home', { heading: '山田　太郎 さま', url: /\/home$/ });
  await press(page, 'ログアウト');

  // The old password no longer works.
  await signIn(page, userId, options.password);
  await screen(page, 'signin-old-password-refused', {
    status: 422,
    heading: 'お客さまWebサービス',
    texts: ['ユーザーIDまたはパスワードが正しくありません。'],
  });

  // The new one does: typed and submitted with the keyboard alone.
  await go(page, '/');
  const userIdInput = field(page, 'ユーザーID');
  await tabTo(page, userIdInput, 'the user ID field');
  await page.keyboard.type(userId);
  await tabTo(page, field(page, 'パスワード'), 'the password field');
  await page.keyboard.type(options['new-password']);
  await act(page, () => page.keyboard.press('Enter'));
  await screen(page, 'signin-new-password', {
    heading: '山田　太郎 さま',
    texts: [`ユーザーID：${userId}`],
    url: /\/home$/,
  });
}

async function main() {
  await mkdir(OUT, { recursive: true });
  const browser = await chromium.launch({ executablePath: options.chromium, args: CHROMIUM_ARGS });
  let page;
  try {
    const context = await browser.newContext({
      javaScriptEnabled: false,
      viewport: { width: 390, height: 844 },
      locale: 'ja-JP',
      timezoneId: 'Asia/Tokyo',
    });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('response', (r) => {
      const url = new URL(r.url());
      if (!r.request().isNavigationRequest() && r.status() >= 400 && url.pathname !== '/favicon.ico') {
        brokenResources.push(`${r.status()} ${url.pathname}`);
      }
    });
    page.on('requestfailed', (r) => {
      // A load cut short by the next navigation is no fault of the page.
      const error = r.failure()?.errorText ?? '';
      if (error !== 'net::ERR_ABORTED' && new URL(r.url()).pathname !== '/favicon.ico') {
        brokenResources.push(`${error} ${r.url()}`);
      }
    });
    page.on('console', (m) => {
      // With scripts off, what the console gets is the browser's own
      // complaints, e.g. a Content-Security-Policy refusal. A failed load
      // is reported by the response listener above, which tells a page's
      // own 4xx (expected on error screens) from a sub-resource's.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
        brokenResources.push(`console: ${m.text()} ${m.location().url ?? ''}`);
      }
    });
    await walk(page);
    console.log(`walk complete: ${shots} screenshots in ${OUT}`);
  } catch (error) {
    const where = page ? page.url() : '(no page)';
    console.error(`walk FAILED after ${shots} screenshots at ${where}: ${error.message}`);
    if (!(error instanceof WalkError)) console.error(error.stack);
    if (page) {
      const file = path.join(OUT, `FAILED-${String(shots + 1).padStart(2, '0')}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.error(`failing page saved as ${file}`);
    }
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await main();
