//! Every SQL statement of the Spin app, in SQLite's dialect, with its
//! positional parameters (`?1`, `?2`, …) documented beside it.
//!
//! The adapter runs these strings on Spin's `fermyon:spin/sqlite` database,
//! the dev mailbox reads the outbox with them, and `spin/sql-check` runs the
//! very same strings natively on SQLite to test them.
//!
//! Spin's interface offers no transaction across `execute` calls (one
//! instance may get its own connection, or a remote libSQL database may
//! answer each statement on its own), so **every write is one statement**,
//! atomic in SQLite: a compare-and-swap is an `INSERT … SELECT … WHERE` on
//! the condition, a lease an `UPDATE … WHERE` on the lease, and a statement
//! that changed nothing says so by returning no row.
//!
//! Numbers are SQLite integers (i64); times are Unix seconds.

/// Counts the schema's tables and indexes that exist (no parameters).
/// When the count is [`SCHEMA_OBJECTS`], [`SCHEMA`] need not run.
pub const SCHEMA_CHECK: &str = "SELECT count(*) FROM sqlite_master
     WHERE type IN ('table', 'index')
       AND name IN ('cw_kv', 'cw_kv_expires_at', 'cw_outbox', 'cw_outbox_due', 'cw_audit',
                    'cw_audit_subject', 'cw_policyholders', 'cw_contracts', 'cw_directory_source')";

/// How many objects [`SCHEMA_CHECK`] counts in a complete schema.
pub const SCHEMA_OBJECTS: i64 = 9;

/// The schema: idempotent statements, run in order when [`SCHEMA_CHECK`]
/// finds it incomplete. Every name starts with `cw_`, so the tables can
/// share Spin's `default` database with other components.
pub const SCHEMA: &[&str] = &[
    // The versioned key-value store. `version` is the AUTOINCREMENT rowid:
    // `INSERT OR REPLACE` deletes the old row and inserts a new one with a
    // rowid higher than any ever used, so a version is never reused, even
    // for a key deleted and written again.
    "CREATE TABLE IF NOT EXISTS cw_kv (
        version    INTEGER PRIMARY KEY AUTOINCREMENT,
        key        TEXT NOT NULL UNIQUE,
        value      BLOB NOT NULL,
        expires_at INTEGER
    )",
    "CREATE INDEX IF NOT EXISTS cw_kv_expires_at ON cw_kv (expires_at) WHERE expires_at IS NOT NULL",
    // The durable mail outbox, with the wasmtime host's columns and states.
    "CREATE TABLE IF NOT EXISTS cw_outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        recipient       TEXT NOT NULL,
        subject         TEXT NOT NULL,
        body            TEXT NOT NULL,
        kind            TEXT NOT NULL,
        queued_at       INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failing')),
        next_attempt_at INTEGER NOT NULL,
        leased_until    INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT,
        sent_at         INTEGER
    )",
    "CREATE INDEX IF NOT EXISTS cw_outbox_due ON cw_outbox (next_attempt_at) WHERE state <> 'sent'",
    // The audit trail.
    "CREATE TABLE IF NOT EXISTS cw_audit (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail  TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS cw_audit_subject ON cw_audit (subject)",
    // The insurer's directory: every identity field of a policyholder, as
    // customer-web-directory validated it (dates as YYYY-MM-DD), and the
    // display name it makes.
    "CREATE TABLE IF NOT EXISTS cw_policyholders (
        customer_id      TEXT PRIMARY KEY NOT NULL,
        family_name      TEXT NOT NULL,
        given_name       TEXT NOT NULL,
        family_name_kana TEXT NOT NULL,
        given_name_kana  TEXT NOT NULL,
        birth_date       TEXT NOT NULL,
        phone            TEXT NOT NULL,
        postal_code      TEXT NOT NULL,
        display_name     TEXT NOT NULL
    )",
    // A policy number is unique across the directory; `position` keeps the
    // insurer's order of a policyholder's contracts.
    "CREATE TABLE IF NOT EXISTS cw_contracts (
        policy_number TEXT PRIMARY KEY NOT NULL,
        customer_id   TEXT NOT NULL REFERENCES cw_policyholders (customer_id),
        position      INTEGER NOT NULL,
        product       TEXT NOT NULL,
        subject       TEXT NOT NULL,
        expiry_date   TEXT NOT NULL,
        renewable     INTEGER NOT NULL CHECK (renewable IN (0, 1)),
        UNIQUE (customer_id, position)
    )",
    // One row once the directory is complete: `sample` after the adapter
    // seeded the bundled sample, anything else when the operator loaded the
    // insurer's own directory (then the sample is never seeded).
    "CREATE TABLE IF NOT EXISTS cw_directory_source (
        id        INTEGER PRIMARY KEY CHECK (id = 0),
        source    TEXT NOT NULL,
        loaded_at INTEGER NOT NULL
    )",
];

// ---------------------------------------------------------------- storage

/// ?1 key, ?2 now → `(value, version)` if the key is live.
pub const KV_GET: &str = "SELECT value, version FROM cw_kv
     WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)";

/// ?1 key, ?2 value, ?3 expires_at (or NULL) → the new version.
pub const KV_PUT_ANY: &str = "INSERT OR REPLACE INTO cw_kv (key, value, expires_at) VALUES (?1, ?2, ?3)
     RETURNING version";

/// ?1 key, ?2 value, ?3 expires_at, ?4 now → the new version, or no row if
/// a live value is there (conflict). An expired leftover is replaced.
pub const KV_PUT_ABSENT: &str = "INSERT OR REPLACE INTO cw_kv (key, value, expires_at)
     SELECT ?1, ?2, ?3
     WHERE NOT EXISTS (SELECT 1 FROM cw_kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?4))
     RETURNING version";

/// ?1 key, ?2 value, ?3 expires_at, ?4 now, ?5 expected version → the new
/// version, or no row unless the live value has that version (conflict).
pub const KV_PUT_VERSION: &str = "INSERT OR REPLACE INTO cw_kv (key, value, expires_at)
     SELECT ?1, ?2, ?3
     WHERE EXISTS (SELECT 1 FROM cw_kv
                   WHERE key = ?1 AND version = ?5 AND (expires_at IS NULL OR expires_at > ?4))
     RETURNING version";

/// ?1 key: deletes whatever is there (condition `any`).
pub const KV_DELETE_ANY: &str = "DELETE FROM cw_kv WHERE key = ?1";

/// ?1 key, ?2 now → a row if a live value is there (then a delete with
/// condition `absent` is a conflict).
pub const KV_LIVE: &str = "SELECT 1 FROM cw_kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)";

/// ?1 key, ?2 now: drops an expired leftover (a delete with condition
/// `absent` that holds).
pub const KV_DELETE_EXPIRED: &str = "DELETE FROM cw_kv WHERE key = ?1 AND expires_at <= ?2";

/// ?1 key, ?2 expected version, ?3 now → a row if the live value had that
/// version and is now deleted; no row is a conflict.
pub const KV_DELETE_VERSION: &str = "DELETE FROM cw_kv
     WHERE key = ?1 AND version = ?2 AND (expires_at IS NULL OR expires_at > ?3)
     RETURNING version";

/// ?1 now: removes expired keys, which already read as absent.
pub const KV_PURGE: &str = "DELETE FROM cw_kv WHERE expires_at IS NOT NULL AND expires_at <= ?1";

// ------------------------------------------------------------------- mail

/// ?1 recipient, ?2 subject, ?3 body, ?4 kind, ?5 now → the message's id.
/// The message is due at once.
pub const OUTBOX_INSERT: &str =
    "INSERT INTO cw_outbox (recipient, subject, body, kind, queued_at, state, next_attempt_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?5)
     RETURNING id";

/// ?1 now, ?2 lease end, ?3 most messages, ?4 the id to claim first →
/// `(id, recipient, subject, body, kind)` of each message claimed: due
/// (not sent, next attempt reached) and not leased by another caller.
/// Leasing is one statement, so two callers never claim one message.
pub const OUTBOX_CLAIM: &str = "UPDATE cw_outbox SET leased_until = ?2
     WHERE id IN (SELECT id FROM cw_outbox
                  WHERE state <> 'sent' AND next_attempt_at <= ?1 AND leased_until <= ?1
                  ORDER BY id = ?4 DESC, next_attempt_at, id
                  LIMIT ?3)
     RETURNING id, recipient, subject, body, kind";

/// ?1 id, ?2 now: the message was delivered; it is never claimed again.
pub const OUTBOX_SENT: &str = "UPDATE cw_outbox
     SET state = 'sent', attempts = attempts + 1, sent_at = ?2, leased_until = 0
     WHERE id = ?1 AND state <> 'sent'";

/// ?1 id, ?2 error, ?3 now: the attempt failed; the next one is due after
/// the host's backoff, min(30 s × 2^(attempts − 1), 1 h) with the failed
/// attempt counted. A message already sent stays sent.
pub const OUTBOX_FAILED: &str = "UPDATE cw_outbox
     SET state = 'failing', attempts = attempts + 1, last_error = ?2, leased_until = 0,
         next_attempt_at = ?3 + min(30 * (1 << min(attempts, 7)), 3600)
     WHERE id = ?1 AND state <> 'sent'";

/// No parameters → a row once the outbox table exists.
#[allow(dead_code, reason = "the dev mailbox's, not the adapter's")]
pub const OUTBOX_EXISTS: &str = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cw_outbox'";

/// ?1 most messages → `(id, recipient, subject, kind, state, attempts,
/// queued_at)`, newest first.
#[allow(dead_code, reason = "the dev mailbox's, not the adapter's")]
pub const OUTBOX_LIST: &str = "SELECT id, recipient, subject, kind, state, attempts, queued_at FROM cw_outbox
     ORDER BY id DESC LIMIT ?1";

/// ?1 id → `(recipient, subject, body, kind, state, attempts, last_error)`.
#[allow(dead_code, reason = "the dev mailbox's, not the adapter's")]
pub const OUTBOX_GET: &str =
    "SELECT recipient, subject, body, kind, state, attempts, last_error FROM cw_outbox
     WHERE id = ?1";

// ------------------------------------------------------------------ audit

/// ?1 at, ?2 kind, ?3 subject, ?4 detail.
pub const AUDIT_INSERT: &str = "INSERT INTO cw_audit (at, kind, subject, detail) VALUES (?1, ?2, ?3, ?4)";

// -------------------------------------------------------------- directory

/// No parameters → `(source)` once the directory is complete.
pub const DIRECTORY_SOURCE: &str = "SELECT source FROM cw_directory_source WHERE id = 0";

/// ?1 customer_id, ?2 family_name, ?3 given_name, ?4 family_name_kana,
/// ?5 given_name_kana, ?6 birth_date (YYYY-MM-DD), ?7 phone,
/// ?8 postal_code, ?9 display_name: one policyholder of the sample.
///
/// Idempotent, and a no-op once the directory is complete: concurrent
/// first readers may all seed, and the insurer's own directory is never
/// mixed with the sample.
pub const SEED_POLICYHOLDER: &str = "INSERT OR IGNORE INTO cw_policyholders
         (customer_id, family_name, given_name, family_name_kana, given_name_kana,
          birth_date, phone, postal_code, display_name)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
     WHERE NOT EXISTS (SELECT 1 FROM cw_directory_source)";

/// ?1 policy_number, ?2 customer_id, ?3 position (0-based, the insurer's
/// order), ?4 product, ?5 subject, ?6 expiry_date (YYYY-MM-DD),
/// ?7 renewable (0 or 1): one contract of the sample; idempotent like
/// [`SEED_POLICYHOLDER`].
pub const SEED_CONTRACT: &str = "INSERT OR IGNORE INTO cw_contracts
         (policy_number, customer_id, position, product, subject, expiry_date, renewable)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
     WHERE NOT EXISTS (SELECT 1 FROM cw_directory_source)";

/// ?1 now: marks the sample complete. Written after every row, so a reader
/// that sees it reads a complete directory; a reader that does not seeds
/// (idempotently) before reading.
pub const SEED_DONE: &str =
    "INSERT OR IGNORE INTO cw_directory_source (id, source, loaded_at) VALUES (0, 'sample', ?1)";

/// ?1 family_name, ?2 given_name, ?3 family_name_kana, ?4 given_name_kana,
/// ?5 birth_date (YYYY-MM-DD), ?6 phone, ?7 postal_code, ?8 policy_number
/// → `(customer_id, display_name)` of the policyholder who matches every
/// identity field and holds that policy; no row otherwise. Plain equality
/// (SQLite's BINARY collation: byte for byte), as the wasmtime host's
/// FileDirectory matches.
pub const FIND_POLICYHOLDER: &str = "SELECT h.customer_id, h.display_name
     FROM cw_contracts c JOIN cw_policyholders h ON h.customer_id = c.customer_id
     WHERE c.policy_number = ?8
       AND h.family_name = ?1 AND h.given_name = ?2
       AND h.family_name_kana = ?3 AND h.given_name_kana = ?4
       AND h.birth_date = ?5 AND h.phone = ?6 AND h.postal_code = ?7";

/// ?1 customer_id → `(policy_number, product, subject, expiry_date,
/// renewable)` of each contract, in the insurer's order; no row for an
/// unknown customer.
pub const LIST_CONTRACTS: &str =
    "SELECT policy_number, product, subject, expiry_date, renewable FROM cw_contracts
     WHERE customer_id = ?1 ORDER BY position";
