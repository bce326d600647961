//! The ports through which the flows reach the world. The component binds
//! them to its WIT imports; unit tests bind them to in-memory fakes.

use crate::model::{Contract, Identity, Message, Policyholder, Settings, Timestamp};

/// A capability failed; carries a description without secrets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

/// A stored value and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The bytes last written.
    pub value: Vec<u8>,
    /// Its version (store-wide unique).
    pub version: u64,
}

/// The condition of a conditional write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Only if the key is absent or expired.
    Absent,
    /// Only if the current version is this one.
    Version(u64),
    /// Unconditionally.
    Any,
}

/// The outcome of a conditional write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written, with this new version.
    Written(u64),
    /// The condition did not hold; nothing was written.
    Conflict,
}

/// The longest key any store accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 512;

/// The largest value any store accepts, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Whether a key or value is past [`MAX_KEY_BYTES`] / [`MAX_VALUE_BYTES`]:
/// every store refuses it before any other work, and writes nothing.
pub fn too_large(key: &str, value: Option<&[u8]>) -> bool {
    key.len() > MAX_KEY_BYTES || value.is_some_and(|v| v.len() > MAX_VALUE_BYTES)
}

/// Versioned key-value storage with compare-and-swap and expiry.
///
/// The contract every backend keeps (and `conformance` checks):
/// - a read sees every write that returned before it;
/// - a conditional write is an atomic compare-and-swap, with exactly one
///   winner among racing writers, whatever connection or host they use;
/// - versions are store-wide and never reused, even for a key deleted or
///   expired and written again, so a stale writer never wins (ABA);
/// - a key whose `expires_at` is at or before the store's clock reads as
///   absent, and [`Condition::Absent`] holds for it;
/// - deleting an absent key with `Absent` or `Any` is `Written(0)`, with
///   `Version` a conflict;
/// - a key or value past the limits ([`too_large`]) is an error, and
///   nothing is written.
pub trait Store {
    /// Reads a key; absent or expired is `None`.
    fn get(&self, key: &str) -> Result<Option<Entry>, PortError>;
    /// [`Store::get`], if the backend can answer at once: without waiting
    /// on a lock, a disk sync or the network. `None` (the default): ask
    /// [`Store::get`], which may wait. A host calls this first on a thread
    /// that must not block (an async executor's worker), and `get` only
    /// where waiting is allowed.
    fn get_now(&self, key: &str) -> Option<Result<Option<Entry>, PortError>> {
        let _ = key;
        None
    }
    /// Writes if `condition` holds.
    fn put(
        &self,
        key: &str,
        value: &[u8],
        condition: Condition,
        expires_at: Option<Timestamp>,
    ) -> Result<WriteOutcome, PortError>;
    /// Deletes if `condition` holds.
    fn delete(&self, key: &str, condition: Condition) -> Result<WriteOutcome, PortError>;
}

/// What a host does to its store beside the flows: purging expired keys
/// on a schedule, and counting and listing for operators and tests. No
/// flow uses it, and the component cannot reach it.
pub trait Housekeeping {
    /// Removes the keys expired by the store's clock; returns how many.
    fn purge_expired(&self) -> Result<u64, PortError>;
    /// Number of live keys starting with `prefix` (literally: no wildcard,
    /// no case folding).
    fn count_prefix(&self, prefix: &str) -> Result<u64, PortError>;
    /// Every live key with its version, sorted by key. Versions change on
    /// every write, so two equal listings prove nothing was written in
    /// between.
    fn versions(&self) -> Result<Vec<(String, u64)>, PortError>;
}

/// Queues finished mail for delivery.
pub trait Mailer {
    /// Hands a message to the host's durable outbox.
    fn send(&self, message: &Message) -> Result<(), PortError>;
}

/// The insurer's policyholders and contracts.
pub trait Directory {
    /// The policyholder matching every identity field, if any.
    fn find_policyholder(&self, identity: &Identity) -> Result<Option<Policyholder>, PortError>;
    /// The contracts of a policyholder.
    fn list_contracts(&self, customer_id: &str) -> Result<Vec<Contract>, PortError>;
}

/// The portal's settings.
pub trait Config {
    /// The settings in force.
    fn settings(&self) -> Result<Settings, PortError>;
}

/// One audit event; never carries a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub at: Timestamp,
    /// What, e.g. `keyword-failed`.
    pub kind: &'static str,
    /// A public reference to the flow or account.
    pub subject: String,
    /// Outcome and details.
    pub detail: String,
}

/// The security audit trail.
pub trait Audit {
    /// Appends an event.
    fn record(&self, event: &AuditEvent) -> Result<(), PortError>;
}

/// Wall-clock time, passed in so tests can move it.
pub trait Clock {
    /// Seconds since the Unix epoch.
    fn now(&self) -> Timestamp;
}

/// Cryptographically secure randomness, passed in.
pub trait Rng {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// argon2id's parameters, as the core asks a [`Hasher`] for a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory, in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
    /// Output length, in bytes.
    pub output_len: u32,
}

/// Hashing the host may do in the core's stead (natively, where the core
/// runs in WebAssembly). The core chooses parameters and salt and compares
/// the result itself; a hasher only computes.
pub trait Hasher {
    /// argon2id (version 0x13) of `secret`; `Ok(None)` if this hasher does
    /// not hash, and the core computes it itself.
    fn argon2id(
        &self,
        secret: &[u8],
        salt: &[u8],
        params: Argon2Params,
    ) -> Result<Option<Vec<u8>>, PortError>;
}

/// The [`Hasher`] that leaves every hash to the core.
#[derive(Clone, Copy, Debug, Default)]
pub struct OwnHashing;

impl Hasher for OwnHashing {
    fn argon2id(&self, _: &[u8], _: &[u8], _: Argon2Params) -> Result<Option<Vec<u8>>, PortError> {
        Ok(None)
    }
}

/// Everything a flow step may touch, borrowed for one call.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    /// Storage.
    pub store: &'a dyn Store,
    /// Outgoing mail.
    pub mailer: &'a dyn Mailer,
    /// Policyholder directory.
    pub directory: &'a dyn Directory,
    /// Settings.
    pub config: &'a dyn Config,
    /// Audit trail.
    pub audit: &'a dyn Audit,
    /// Clock.
    pub clock: &'a dyn Clock,
    /// Randomness.
    pub rng: &'a dyn Rng,
    /// Hashing by the host, if it offers it.
    pub hasher: &'a dyn Hasher,
}
