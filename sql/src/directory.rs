//! The Spin adapter's directory: the insurer's policyholders and
//! contracts, in SQLite's dialect only (the directory always lives in
//! each Spin instance's own SQLite database), with its positional
//! parameters (`?1`, `?2`, …) documented beside each statement. It is
//! outside the migrations: its schema is idempotent and seeded per
//! instance.
//!
//! The adapter runs these strings on Spin's `fermyon:spin/sqlite` database,
//! `customer-web directory-sql` writes [`SCHEMA`] into the script that
//! loads the insurer's directory, and `spin/conformance`'s tests run the
//! very same strings natively on SQLite.
//!
//! Every write is one statement, atomic in SQLite, and the seed statements
//! are idempotent: instances seeding a fresh database at once need no
//! transaction.
//!
//! Numbers are SQLite integers (i64); times are Unix seconds.

/// Counts the directory's tables that exist (no parameters). When the
/// count is [`SCHEMA_OBJECTS`], [`SCHEMA`] need not run.
pub const SCHEMA_CHECK: &str = "SELECT count(*) FROM sqlite_master
     WHERE type = 'table'
       AND name IN ('cw_policyholders', 'cw_contracts', 'cw_directory_source')";

/// How many objects [`SCHEMA_CHECK`] counts in a complete schema.
pub const SCHEMA_OBJECTS: u64 = 3;

/// The directory's schema: idempotent statements, run in order when
/// [`SCHEMA_CHECK`] finds it incomplete. Every name starts with `cw_`, so
/// the tables can share Spin's `default` database with other components.
pub const SCHEMA: &[&str] = &[
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
