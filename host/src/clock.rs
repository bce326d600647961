//! The host's wall clock. The component sees it as
//! `wasi:clocks/wall-clock`; the capabilities (storage expiry, outbox
//! retries) read the same clock, so the two always agree.
//!
//! The product runs on the system clock. An embedder (or a test kit) that
//! needs another time gives [`Clock::from_source`] its own [`TimeSource`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where a [`Clock`] reads the time.
pub trait TimeSource: Send + Sync + 'static {
    /// Time since the Unix epoch.
    fn since_epoch(&self) -> Duration;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemTimeSource;

impl TimeSource for SystemTimeSource {
    fn since_epoch(&self) -> Duration {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}

/// A wall clock shared by the component and the capabilities. Clones read
/// the same source.
#[derive(Clone)]
pub struct Clock {
    source: Arc<dyn TimeSource>,
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("since_epoch", &self.since_epoch())
            .finish()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::from_source(Arc::new(SystemTimeSource))
    }

    /// A clock reading `source`.
    pub fn from_source(source: Arc<dyn TimeSource>) -> Self {
        Clock { source }
    }

    /// Time since the Unix epoch.
    pub fn since_epoch(&self) -> Duration {
        self.source.since_epoch()
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.since_epoch().as_secs()
    }
}

/// The stores' expiry reads the same clock as the component.
impl customer_web_core::ports::Clock for Clock {
    fn now(&self) -> u64 {
        Clock::now(self)
    }
}

impl wasmtime_wasi::HostWallClock for Clock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }

    fn now(&self) -> Duration {
        self.since_epoch()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    struct Fixed(AtomicU64);

    impl TimeSource for Fixed {
        fn since_epoch(&self) -> Duration {
            Duration::from_secs(self.0.load(Ordering::SeqCst))
        }
    }

    #[test]
    fn every_clone_reads_the_one_source() {
        let source = Arc::new(Fixed(AtomicU64::new(1_000)));
        let clock = Clock::from_source(source.clone());
        let copy = clock.clone();
        source.0.store(1_000 + 48 * 3600, Ordering::SeqCst);
        assert_eq!(copy.now(), 1_000 + 48 * 3600);
        assert_eq!(
            wasmtime_wasi::HostWallClock::now(&clock),
            Duration::from_secs(1_000 + 48 * 3600)
        );
        assert_eq!(customer_web_core::ports::Clock::now(&clock), 1_000 + 48 * 3600);
    }

    #[test]
    fn the_system_clock_is_the_systems() {
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let read = Clock::system().since_epoch();
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!(before <= read && read <= after);
    }
}
