//! In-memory fakes of every port, for tests and native benchmarks: a
//! versioned map with compare-and-swap and expiry, a capturing mailer, a
//! fixed directory, a clock that moves when told, and a seeded random
//! source. Thread-safe, so races can be tested.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::model::{Contract, Date, Identity, Message, Policyholder, Settings, Timestamp};
use crate::ports::{Audit, AuditEvent, Clock, Config, Directory, Mailer, OwnHashing, PortError, Ports, Rng};

pub use crate::memory::MemoryStore;

/// A mailer that keeps what it is given.
#[derive(Default)]
pub struct CapturingMailer {
    sent: Mutex<Vec<Message>>,
}

impl CapturingMailer {
    /// Every message sent so far.
    pub fn sent(&self) -> Vec<Message> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Mailer for CapturingMailer {
    fn send(&self, message: &Message) -> Result<(), PortError> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message.clone());
        Ok(())
    }
}

/// A directory of fixed policyholders.
#[derive(Default)]
pub struct FixedDirectory {
    /// Policyholders with their identity and contracts.
    pub holders: Vec<(Identity, Policyholder, Vec<Contract>)>,
}

impl Directory for FixedDirectory {
    fn find_policyholder(&self, identity: &Identity) -> Result<Option<Policyholder>, PortError> {
        Ok(self
            .holders
            .iter()
            .find(|(i, _, _)| i == identity)
            .map(|(_, p, _)| p.clone()))
    }

    fn list_contracts(&self, customer_id: &str) -> Result<Vec<Contract>, PortError> {
        Ok(self
            .holders
            .iter()
            .filter(|(_, p, _)| p.customer_id == customer_id)
            .flat_map(|(_, _, c)| c.clone())
            .collect())
    }
}

/// Fixed settings.
pub struct FixedConfig(pub Settings);

impl Config for FixedConfig {
    fn settings(&self) -> Result<Settings, PortError> {
        Ok(self.0.clone())
    }
}

/// An audit trail in memory.
#[derive(Default)]
pub struct MemAudit {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemAudit {
    /// Every event so far.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Audit for MemAudit {
    fn record(&self, event: &AuditEvent) -> Result<(), PortError> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
        Ok(())
    }
}

/// A clock that stands still until moved. Clones share the time.
#[derive(Clone)]
pub struct FakeClock(Arc<AtomicU64>);

impl Default for FakeClock {
    /// 2026-11-25 14:31 JST.
    fn default() -> Self {
        FakeClock(Arc::new(AtomicU64::new(1_795_584_660)))
    }
}

impl FakeClock {
    /// A clock standing at `seconds` since the Unix epoch.
    pub fn at(seconds: Timestamp) -> Self {
        FakeClock(Arc::new(AtomicU64::new(seconds)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        self.0.load(Ordering::SeqCst)
    }
}

/// A deterministic random source (splitmix64); for tests only.
#[derive(Default)]
pub struct SeqRng(AtomicU64);

impl Rng for SeqRng {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z = self
                .0
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// A whole fake world: every port, wired together, with one sample
/// policyholder (山田 太郎) holding two contracts.
pub struct World {
    /// Storage.
    pub store: MemoryStore,
    /// Mail.
    pub mailer: CapturingMailer,
    /// Directory.
    pub directory: FixedDirectory,
    /// Settings.
    pub config: FixedConfig,
    /// Audit trail.
    pub audit: MemAudit,
    /// Clock (shared with the store's expiry).
    pub clock: FakeClock,
    /// Randomness.
    pub rng: SeqRng,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// A world with default settings and the sample policyholder.
    pub fn new() -> Self {
        let clock = FakeClock::default();
        World {
            store: MemoryStore::new(Arc::new(clock.clone())),
            mailer: CapturingMailer::default(),
            directory: FixedDirectory {
                holders: vec![(sample_identity(), sample_policyholder(), sample_contracts())],
            },
            config: FixedConfig(Settings::default()),
            audit: MemAudit::default(),
            clock,
            rng: SeqRng::default(),
        }
    }

    /// The ports over this world.
    pub fn ports(&self) -> Ports<'_> {
        Ports {
            store: &self.store,
            mailer: &self.mailer,
            directory: &self.directory,
            config: &self.config,
            audit: &self.audit,
            clock: &self.clock,
            rng: &self.rng,
            hasher: &OwnHashing,
        }
    }
}

/// The sample policyholder's identity, normalised.
pub fn sample_identity() -> Identity {
    Identity {
        family_name: "山田".into(),
        given_name: "太郎".into(),
        family_name_kana: "ヤマダ".into(),
        given_name_kana: "タロウ".into(),
        birth_date: Date {
            year: 1985,
            month: 4,
            day: 1,
        },
        phone: "09012345678".into(),
        postal_code: "1000004".into(),
        policy_number: "A123456789".into(),
    }
}

/// The sample policyholder.
pub fn sample_policyholder() -> Policyholder {
    Policyholder {
        customer_id: "C0001".into(),
        display_name: "山田　太郎".into(),
    }
}

/// The sample contracts: one renewable, one not.
pub fn sample_contracts() -> Vec<Contract> {
    vec![
        Contract {
            policy_number: "A123456789".into(),
            product: "自動車保険".into(),
            subject: "品川 300 さ 12-34".into(),
            expiry_date: Date {
                year: 2026,
                month: 12,
                day: 31,
            },
            renewable: true,
        },
        Contract {
            policy_number: "B987654321".into(),
            product: "火災保険".into(),
            subject: "東京都千代田区".into(),
            expiry_date: Date {
                year: 2027,
                month: 6,
                day: 30,
            },
            renewable: false,
        },
    ]
}
