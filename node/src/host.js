// A Node.js host for the customer-web component: the five capabilities of
// `wit/worlds.wit` (world `imports`) supplied from JavaScript (hashing,
// the sixth import, is not offered: the component hashes itself), and the
// component (transpiled by jco into ../generated, see scripts/transpile.js)
// instantiated on them.
//
//   import { Capabilities, instantiatePlugin } from './src/host.js';
//   const caps = new Capabilities();            // memory store, outbox, sample directory
//   const plugin = await instantiatePlugin(caps);
//   const flow = plugin.enrollment.start('AG001');
//
// Errors, both ways, follow jco's conventions:
// - an export whose WIT result is `result<T, E>` returns T, or throws a
//   `ComponentError` whose `payload` is E (e.g. `{ tag: 'link-spent' }`);
// - an import answers `err(E)` by throwing a value whose own `payload` is
//   E: here a `CapabilityError`. Any other thrown `Error` would trap the
//   instance, so every capability turns its own faults into the WIT
//   `unavailable` case, as the Rust host does (never a trap).
//
// Integers follow jco too: WIT `u64` (timestamps, versions, lifetimes) is a
// BigInt, `u8`/`u16`/`u32` a Number; `option<T>` is T or `undefined`.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cli, clocks, http, io, random } from '@bytecodealliance/preview2-shim';

const here = dirname(fileURLToPath(import.meta.url));

/** Where `npm run transpile` puts the transpiled component. */
export const GENERATED_DIR = join(here, '..', 'generated');

// --------------------------------------------------------------- errors

/**
 * An import's `err` value: jco hands `payload` (a WIT variant of the
 * interface's `error`, e.g. `{ tag: 'too-large' }`) to the component.
 */
export class CapabilityError extends Error {
  constructor(payload) {
    super(payload.val === undefined ? payload.tag : `${payload.tag}: ${payload.val}`);
    this.name = 'CapabilityError';
    this.payload = payload;
  }
}

/** `unavailable(message)`: the case every capability's `error` has. */
export const unavailable = (message) => new CapabilityError({ tag: 'unavailable', val: String(message) });

/**
 * Calls `fn` and returns its result; a `CapabilityError` passes through, any
 * other fault becomes `unavailable`, so a broken capability never traps.
 */
function guarded(what, fn) {
  return (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      if (e instanceof CapabilityError) throw e;
      throw unavailable(`${what}: ${e?.message ?? e}`);
    }
  };
}

// ---------------------------------------------------------------- clock

/** Seconds since the Unix epoch, as a BigInt: the component's `timestamp`. */
export const systemClock = { now: () => BigInt(Math.floor(Date.now() / 1000)) };

/** A clock that stands still until moved: for tests of lifetimes. */
export class ManualClock {
  constructor(seconds = systemClock.now()) {
    this.seconds = BigInt(seconds);
  }
  now() {
    return this.seconds;
  }
  advance(seconds) {
    this.seconds += BigInt(seconds);
  }
}

// -------------------------------------------------------------- storage

/** The longest key any store accepts, in UTF-8 bytes (core: MAX_KEY_BYTES). */
export const MAX_KEY_BYTES = 512;
/** The largest value any store accepts, in bytes (core: MAX_VALUE_BYTES). */
export const MAX_VALUE_BYTES = 1024 * 1024;

/** Whether a key or value is past the limits: refused before any work. */
export function tooLarge(key, value) {
  return Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES || (value !== undefined && value.length > MAX_VALUE_BYTES);
}

/**
 * The versioned key-value store of `storage.wit`, in memory: the contract of
 * the core's `Store` port (component/core/src/ports.rs), as its
 * `MemoryStore` keeps it:
 * - versions are store-wide and never reused, even for a key deleted or
 *   expired and written again;
 * - a key whose `expiresAt` is at or before the clock reads as absent, and
 *   `absent` holds for it;
 * - `put`/`delete` hold to a condition (`absent`, `version(v)`, `any`):
 *   compare-and-swap, so of two writers holding one version exactly one
 *   gets `written`; every operation runs whole, synchronously;
 * - deleting an absent key with `absent` or `any` is `written(0)`, with
 *   `version` a `conflict`;
 * - a key or value past the limits is `too-large`, and nothing is written.
 *
 * `conflicts` counts the writes refused by their condition.
 */
export class MemoryStore {
  constructor(clock = systemClock) {
    this.clock = clock;
    /** key → { value: Uint8Array, version: bigint, expiresAt?: bigint } */
    this.entries = new Map();
    this.lastVersion = 0n;
    this.conflicts = 0;
  }

  #live(key) {
    const stored = this.entries.get(key);
    return stored && (stored.expiresAt === undefined || stored.expiresAt > this.clock.now()) ? stored : undefined;
  }

  #holds(condition, key) {
    const current = this.#live(key);
    const holds = condition.tag === 'any'
      || (condition.tag === 'absent' && current === undefined)
      || (condition.tag === 'version' && current !== undefined && current.version === BigInt(condition.val));
    if (!holds) this.conflicts += 1;
    return holds;
  }

  /** `get`: the live entry `{ value, version }`, or `undefined`. */
  get(key) {
    if (tooLarge(key)) throw new CapabilityError({ tag: 'too-large' });
    const stored = this.#live(key);
    return stored && { value: Uint8Array.from(stored.value), version: stored.version };
  }

  /** `put`: `{ tag: 'written', val: version }` or `{ tag: 'conflict' }`. */
  put(key, value, condition, expiresAt) {
    if (tooLarge(key, value)) throw new CapabilityError({ tag: 'too-large' });
    if (!this.#holds(condition, key)) return { tag: 'conflict' };
    this.lastVersion += 1n;
    this.entries.set(key, {
      value: Uint8Array.from(value),
      version: this.lastVersion,
      expiresAt: expiresAt === undefined ? undefined : BigInt(expiresAt),
    });
    return { tag: 'written', val: this.lastVersion };
  }

  /** `delete`: `{ tag: 'written', val: 0n }` or `{ tag: 'conflict' }`. */
  delete(key, condition) {
    if (tooLarge(key)) throw new CapabilityError({ tag: 'too-large' });
    if (!this.#holds(condition, key)) return { tag: 'conflict' };
    this.entries.delete(key);
    return { tag: 'written', val: 0n };
  }

  /** Live keys starting with `prefix`, sorted: for operators and tests. */
  keys(prefix = '') {
    return [...this.entries.keys()].filter((k) => k.startsWith(prefix) && this.#live(k)).sort();
  }
}

// ----------------------------------------------------------------- mail

/** The longest subject accepted, in bytes (a header line's limit). */
export const MAX_SUBJECT = 998;
/** The largest body accepted, in bytes. */
export const MAX_TEXT = 64 * 1024;

const CONTROL = /\p{Cc}/u;

/**
 * Why the outbox refuses a message, if it does: the Rust host's
 * `OutgoingMessage::refusal` (sql/src/outbox.rs), word for word.
 */
export function refusal({ to, subject, text }) {
  if (CONTROL.test(to) || to.includes(',') || to.includes(';') || !to.includes('@')) {
    return 'recipient is not a single address';
  }
  if (CONTROL.test(subject) || Buffer.byteLength(subject, 'utf8') > MAX_SUBJECT) {
    return 'subject has control characters or is too long';
  }
  if (Buffer.byteLength(text, 'utf8') > MAX_TEXT) {
    return 'body too long';
  }
  return undefined;
}

/**
 * The outbox: queued messages in an array, for the portal's own delivery
 * (SMTP, a mail API, ...). A refused message is `rejected`, and not queued.
 */
export class Outbox {
  constructor(clock = systemClock) {
    this.clock = clock;
    /** `{ id, to, subject, text, kind, queuedAt }`, oldest first. */
    this.messages = [];
  }

  send(message) {
    const why = refusal(message);
    if (why) throw new CapabilityError({ tag: 'rejected', val: why });
    const { to, subject, text, kind } = message;
    this.messages.push({ id: this.messages.length + 1, to, subject, text, kind, queuedAt: this.clock.now() });
  }
}

// ------------------------------------------------------------ directory

/** The sample directory the Rust host ships (`FileDirectory::sample()`). */
export const SAMPLE_DIRECTORY = join(here, '..', '..', 'component', 'directory', 'sample', 'directory.json');

const parseDate = (text) => {
  const [year, month, day] = text.split('-').map(Number);
  return { year, month, day };
};

/**
 * The insurer's policyholders, from a directory file in the format of
 * component/directory (values already normalised, so matching is plain
 * equality on every identity field plus one of the holder's contracts).
 */
export class FileDirectory {
  constructor(path = SAMPLE_DIRECTORY) {
    this.holders = JSON.parse(readFileSync(path, 'utf8')).policyholders;
  }

  /** `find-policyholder`: `{ customerId, displayName }` or `undefined`. */
  findPolicyholder(identity) {
    const b = identity.birthDate;
    const holder = this.holders.find((h) => {
      const d = parseDate(h.birth_date);
      return h.family_name === identity.familyName
        && h.given_name === identity.givenName
        && h.family_name_kana === identity.familyNameKana
        && h.given_name_kana === identity.givenNameKana
        && d.year === b.year && d.month === b.month && d.day === b.day
        && h.phone === identity.phone
        && h.postal_code === identity.postalCode
        && h.contracts.some((c) => c.policy_number === identity.policyNumber);
    });
    // Family and given name with an ideographic space: 「山田　太郎」.
    return holder && { customerId: holder.customer_id, displayName: `${holder.family_name}\u3000${holder.given_name}` };
  }

  /** `list-contracts`: the holder's contracts in file order; none if unknown. */
  listContracts(customerId) {
    const holder = this.holders.find((h) => h.customer_id === customerId);
    return (holder?.contracts ?? []).map((c) => ({
      policyNumber: c.policy_number,
      product: c.product,
      subject: c.subject,
      expiryDate: parseDate(c.expiry_date),
      renewable: c.renewable,
    }));
  }
}

// --------------------------------------------------------------- config

/** `config.settings` with the Rust host's defaults (`Settings::default()`). */
export function defaultSettings() {
  return {
    insurerName: '三井住友海上',
    senderAddress: 'no-reply@example.co.jp',
    deskName: 'インターネットデスク',
    deskPhone: '0120-000-000',
    deskHours: '月曜日～金曜日（祝日・年末年始を除く）9:00～17:00',
    baseUrl: 'http://127.0.0.1:3000',
    termsVersion: '2026-04',
    linkLifetime: 48n * 3600n,
    flowLifetime: 2n * 3600n,
    sessionIdle: 30n * 60n,
    sessionAbsolute: 12n * 3600n,
    mailsPerHour: 5,
    renewalUrl: 'http://127.0.0.1:3000/_dev/renewal',
    handoverSecret: undefined,
  };
}

// ---------------------------------------------------------------- audit

/** The audit trail: `{ at, kind, subject, detail }` events, oldest first. */
export class AuditLog {
  constructor() {
    this.events = [];
  }
  recordEvent(event) {
    this.events.push({ ...event });
  }
  kinds() {
    return this.events.map((e) => e.kind);
  }
}

// --------------------------------------------------------- capabilities

/**
 * Everything the component may touch. Each part can be replaced by any
 * object with the same methods (e.g. a store over a database).
 */
export class Capabilities {
  constructor({
    clock = systemClock,
    store = new MemoryStore(clock),
    outbox = new Outbox(clock),
    directory = new FileDirectory(),
    settings = defaultSettings(),
    audit = new AuditLog(),
  } = {}) {
    Object.assign(this, { clock, store, outbox, directory, settings, audit });
  }

  /**
   * The import object for jco's `instantiate`: the five capabilities,
   * hashing declined, and WASI (preview2-shim), with the wall clock read from `clock`, so the
   * component and storage expiry agree on the time.
   */
  imports() {
    const { clock, store, outbox, directory, settings, audit } = this;
    return {
      'customer-web:plugin/storage': {
        get: guarded('storage', (key) => store.get(key)),
        put: guarded('storage', (key, value, condition, expiresAt) => store.put(key, value, condition, expiresAt)),
        delete: guarded('storage', (key, condition) => store.delete(key, condition)),
      },
      'customer-web:plugin/mail': {
        send: guarded('mail', (message) => outbox.send(message)),
      },
      'customer-web:plugin/directory': {
        findPolicyholder: guarded('directory', (identity) => directory.findPolicyholder(identity)),
        listContracts: guarded('directory', (customerId) => directory.listContracts(customerId)),
      },
      'customer-web:plugin/config': {
        getSettings: guarded('config', () => settings),
      },
      'customer-web:plugin/audit': {
        recordEvent: guarded('audit', (event) => audit.recordEvent(event)),
      },
      // Not offered: `none` (undefined), and the component hashes itself.
      'customer-web:plugin/hashing': {
        argon2id: () => undefined,
      },
      'wasi:cli/environment': cli.environment,
      'wasi:cli/exit': cli.exit,
      'wasi:cli/stderr': cli.stderr,
      'wasi:cli/stdin': cli.stdin,
      'wasi:cli/stdout': cli.stdout,
      'wasi:cli/terminal-input': cli.terminalInput,
      'wasi:cli/terminal-output': cli.terminalOutput,
      'wasi:cli/terminal-stderr': cli.terminalStderr,
      'wasi:cli/terminal-stdin': cli.terminalStdin,
      'wasi:cli/terminal-stdout': cli.terminalStdout,
      'wasi:clocks/monotonic-clock': clocks.monotonicClock,
      'wasi:clocks/wall-clock': {
        now: () => ({ seconds: clock.now(), nanoseconds: 0 }),
        resolution: () => ({ seconds: 1n, nanoseconds: 0 }),
      },
      'wasi:http/types': http.types,
      'wasi:io/error': io.error,
      'wasi:io/poll': io.poll,
      'wasi:io/streams': io.streams,
      'wasi:random/random': random.random,
      // The seed of Rust's hash maps (the http crate's header maps).
      'wasi:random/insecure-seed': random.insecureSeed,
    };
  }
}

// ---------------------------------------------------------- the plugin

const compiled = new Map();

/** Compiles a core module of the transpiled component once per process. */
function coreModule(dir, name) {
  const path = join(dir, name);
  if (!compiled.has(path)) compiled.set(path, WebAssembly.compile(readFileSync(path)));
  return compiled.get(path);
}

/**
 * A new instance of the component on `caps`. Its exports are the flow
 * interfaces: `enrollment`, `link`, `credentials`, `recovery`, `account`
 * (see generated/customer_web.d.ts). Instances are cheap once compiled;
 * several may share one store.
 */
export async function instantiatePlugin(caps, { dir = GENERATED_DIR } = {}) {
  const { instantiate } = await import(pathToFileURL(join(dir, 'customer_web.js')).href);
  return instantiate((name) => coreModule(dir, name), caps.imports());
}
