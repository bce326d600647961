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

/// Versioned key-value storage with compare-and-swap and expiry.
pub trait Store {
    /// Reads a key; absent or expired is `None`.
    fn get(&self, key: &str) -> Result<Option<Entry>, PortError>;
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
}
