//! A wall clock for tests: the system clock plus an offset that tests
//! move, and a switch that stops it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use customer_web_host::clock::{Clock, TimeSource};

/// A wall clock that can be moved forward and stopped. Clones, and every
/// [`Clock`] made by [`MovableClock::clock`], share both.
#[derive(Clone, Debug, Default)]
pub struct MovableClock {
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    offset: AtomicI64,
    /// Nanoseconds since the epoch at which the system time stopped for
    /// this clock; 0 while it runs.
    stopped_at: AtomicU64,
}

impl MovableClock {
    /// The system clock, unmoved.
    pub fn new() -> Self {
        Self::default()
    }

    /// The host's clock, reading this one: give it to the capabilities
    /// (`Capabilities::in_memory_on`, `Capabilities::sqlite_file`).
    pub fn clock(&self) -> Clock {
        Clock::from_source(self.state.clone())
    }

    /// Moves this clock (and every clone) forward.
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.state.offset.fetch_add(secs, Ordering::SeqCst);
    }

    /// Stops this clock (and every clone) where it is: from now on only
    /// [`MovableClock::advance`] moves it.
    pub fn stop(&self) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let nanos = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX).max(1);
        let _ = self
            .state
            .stopped_at
            .compare_exchange(0, nanos, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Time since the Unix epoch.
    pub fn since_epoch(&self) -> Duration {
        self.state.since_epoch()
    }

    /// Seconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.since_epoch().as_secs()
    }
}

impl TimeSource for State {
    fn since_epoch(&self) -> Duration {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone_and_every_clock() {
        let time = MovableClock::new();
        let copy = time.clone();
        let clock = time.clock();
        let before = copy.now();
        time.advance(Duration::from_secs(48 * 3600));
        assert!(copy.now() >= before + 48 * 3600);
        assert!(copy.now() < before + 48 * 3600 + 60);
        assert!(clock.now() >= before + 48 * 3600);
    }

    #[test]
    fn a_stopped_clock_moves_only_when_advanced() {
        let time = MovableClock::new();
        let clock = time.clock();
        time.clone().stop();
        let stopped = clock.since_epoch();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.since_epoch(), stopped);
        time.advance(Duration::from_secs(2));
        assert_eq!(clock.since_epoch(), stopped + Duration::from_secs(2));
        assert_eq!(time.since_epoch(), stopped + Duration::from_secs(2));
    }
}
