//! The host's wall clock: the system clock plus an offset that tests move,
//! so a 48-hour expiry is tested without waiting. The component sees it as
//! `wasi:clocks/wall-clock`; the capabilities (storage expiry, outbox
//! retries) read the same clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wall clock that can be moved forward. Clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock, unmoved.
    pub fn system() -> Self {
        Self::default()
    }

    /// Moves this clock (and every clone) forward.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }

    /// Time since the Unix epoch.
    pub fn since_epoch(&self) -> Duration {
        let system = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let offset = self.offset.load(Ordering::SeqCst);
        if offset >= 0 {
            system + Duration::from_secs(offset.unsigned_abs())
        } else {
            system.saturating_sub(Duration::from_secs(offset.unsigned_abs()))
        }
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.since_epoch().as_secs()
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
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(Duration::from_secs(48 * 3600));
        assert!(copy.now() >= before + 48 * 3600);
        assert!(copy.now() < before + 48 * 3600 + 60);
    }
}
