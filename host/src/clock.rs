//! The host's wall clock: the system clock plus an offset that tests move,
//! so a 48-hour expiry is tested without waiting; tests that count seconds
//! also stop it, so a slow machine cannot let a delay run out early. The component sees it as
//! `wasi:clocks/wall-clock`; the capabilities (storage expiry, outbox
//! retries) read the same clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wall clock that can be moved forward and stopped. Clones share both.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
    /// Nanoseconds since the epoch at which the system time stopped for
    /// this clock; 0 while it runs.
    stopped_at: Arc<AtomicU64>,
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

    /// Stops this clock (and every clone) where it is: from now on only
    /// [`Clock::advance`] moves it.
    pub fn stop(&self) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let nanos = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX).max(1);
        let _ = self
            .stopped_at
            .compare_exchange(0, nanos, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Time since the Unix epoch.
    pub fn since_epoch(&self) -> Duration {
        let system = match self.stopped_at.load(Ordering::SeqCst) {
            0 => SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default(),
            nanos => Duration::from_nanos(nanos),
        };
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

    #[test]
    fn a_stopped_clock_moves_only_when_advanced() {
        let clock = Clock::system();
        let copy = clock.clone();
        copy.stop();
        let stopped = clock.since_epoch();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.since_epoch(), stopped);
        clock.advance(Duration::from_secs(2));
        assert_eq!(copy.since_epoch(), stopped + Duration::from_secs(2));
    }
}
