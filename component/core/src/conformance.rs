//! The storage contract as checks any backend can run: the one suite for
//! the in-memory store, the host's SQLite file and PostgreSQL database,
//! and the Spin adapter reached through the component model.
//!
//! A check is a function over a [`Store`] (or a store with
//! [`Housekeeping`]), a [`Time`] it may let pass, and a namespace its keys
//! live under, so checks can share one store (a Spin app has one
//! database) or each get a fresh one. A check answers `Err` with what it
//! saw instead of panicking, so a run inside a component can report it.
//!
//! ```
//! use std::sync::Arc;
//! use customer_web_core::conformance;
//! use customer_web_core::memory::MemoryStore;
//! use customer_web_core::testing::FakeClock;
//!
//! let clock = FakeClock::default();
//! let report = conformance::run(
//!     &conformance::store_checks(),
//!     || Some(MemoryStore::new(Arc::new(clock.clone()))),
//!     &clock,
//! );
//! assert_eq!(report, Ok(7));
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::Timestamp;
use crate::ports::{
    Clock, Condition, Entry, Housekeeping, MAX_KEY_BYTES, MAX_VALUE_BYTES, Store, WriteOutcome,
};
use crate::testing::FakeClock;

/// The store's clock as a check sees it: it reads the time and lets
/// seconds pass.
pub trait Time {
    /// Seconds since the Unix epoch, no later than the store's clock.
    fn now(&self) -> Timestamp;
    /// Returns once the store's clock has moved `seconds` on.
    fn pass(&self, seconds: u64);
}

impl Time for FakeClock {
    fn now(&self) -> Timestamp {
        Clock::now(self)
    }

    fn pass(&self, seconds: u64) {
        self.advance(seconds);
    }
}

/// The wall clock, for a store whose clock cannot be moved (the Spin
/// adapter's): time passes by waiting. The checks wait about 2 s in all.
#[derive(Clone, Copy, Debug, Default)]
pub struct WallTime;

impl Time for WallTime {
    fn now(&self) -> Timestamp {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs())
    }

    fn pass(&self, seconds: u64) {
        // Whole seconds on the store's side: wait past the next boundary.
        let target = self.now() + seconds;
        while self.now() < target {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One check of the contract.
pub struct Check<S: ?Sized> {
    /// Its name, also the namespace of its keys.
    pub name: &'static str,
    /// The check.
    pub run: fn(&S, &dyn Time, &str) -> Result<(), String>,
}

impl<S: ?Sized> Clone for Check<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: ?Sized> Copy for Check<S> {}

/// Runs each check on a store from `fresh` (`None`: the backend is not
/// available here, and `fresh` said so), its keys under the check's name.
/// Answers how many ran, or the first failure, named.
pub fn run<S>(
    checks: &[Check<S>],
    mut fresh: impl FnMut() -> Option<S>,
    time: &dyn Time,
) -> Result<usize, String> {
    let mut ran = 0;
    for check in checks {
        let Some(store) = fresh() else { return Ok(ran) };
        (check.run)(&store, time, check.name).map_err(|failure| format!("{}: {failure}", check.name))?;
        ran += 1;
    }
    Ok(ran)
}

/// Runs each check on one shared store, its keys under `namespace` and the
/// check's name: for a backend that is one database (the Spin app's).
pub fn run_shared<S: ?Sized>(
    checks: &[Check<S>],
    store: &S,
    time: &dyn Time,
    namespace: &str,
) -> Result<usize, String> {
    for check in checks {
        let ns = format!("{namespace}{}", check.name);
        (check.run)(store, time, &ns).map_err(|failure| format!("{}: {failure}", check.name))?;
    }
    Ok(checks.len())
}

/// The checks of the [`Store`] port: what the flows rely on.
pub fn store_checks<S: Store + ?Sized>() -> Vec<Check<S>> {
    vec![
        Check {
            name: "put-get-and-versions",
            run: put_get_and_versions::<S>,
        },
        Check {
            name: "delete",
            run: delete_semantics::<S>,
        },
        Check {
            name: "versions-never-reused",
            run: versions_are_never_reused::<S>,
        },
        Check {
            name: "expiry",
            run: expiry::<S>,
        },
        Check {
            name: "keys-are-exact",
            run: keys_are_exact_strings::<S>,
        },
        Check {
            name: "limits",
            run: limits::<S>,
        },
        Check {
            name: "increments",
            run: sequential_increments::<S>,
        },
    ]
}

/// The checks of [`Housekeeping`], beside the port's: purging, counting
/// and listing.
pub fn housekeeping_checks<S: Store + Housekeeping + ?Sized>() -> Vec<Check<S>> {
    vec![
        Check {
            name: "purge-and-count",
            run: purge_and_count::<S>,
        },
        Check {
            name: "prefixes-are-literal",
            run: prefixes_are_literal::<S>,
        },
        Check {
            name: "versions-list",
            run: versions_list::<S>,
        },
    ]
}

/// Fails with `what` unless `ok`.
fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

/// Fails unless `left == right`, showing both.
fn same<T: PartialEq + std::fmt::Debug>(left: T, right: T, what: &str) -> Result<(), String> {
    ensure(left == right, || {
        format!("{what}: got {left:?}, expected {right:?}")
    })
}

/// The new version of a write that had to succeed.
fn written(outcome: Result<WriteOutcome, crate::ports::PortError>, what: &str) -> Result<u64, String> {
    match outcome {
        Ok(WriteOutcome::Written(version)) => Ok(version),
        Ok(WriteOutcome::Conflict) => Err(format!("{what}: a conflict where a write was due")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// The outcome of a call that had to reach the store.
fn reached<T>(result: Result<T, crate::ports::PortError>, what: &str) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e}"))
}

fn put_get_and_versions<S: Store + ?Sized>(store: &S, _: &dyn Time, ns: &str) -> Result<(), String> {
    let (one, two, none) = (format!("{ns}/1"), format!("{ns}/2"), format!("{ns}/none"));
    same(reached(store.get(&one), "get")?, None, "a fresh key")?;
    let v1 = written(store.put(&one, b"one", Condition::Absent, None), "put absent")?;
    ensure(v1 > 0, || "a written value has version 0".into())?;
    same(
        reached(store.get(&one), "get")?,
        Some(Entry {
            value: b"one".to_vec(),
            version: v1,
        }),
        "the value read back",
    )?;
    same(
        reached(store.put(&one, b"x", Condition::Absent, None), "put")?,
        WriteOutcome::Conflict,
        "absent on a live key",
    )?;
    let v2 = written(
        store.put(&one, b"two", Condition::Version(v1), None),
        "put version",
    )?;
    ensure(v2 > v1, || format!("version {v2} after {v1}"))?;
    same(
        reached(store.put(&one, b"stale", Condition::Version(v1), None), "put")?,
        WriteOutcome::Conflict,
        "a stale version",
    )?;
    same(
        reached(store.get(&one), "get")?.map(|e| e.value),
        Some(b"two".to_vec()),
        "the value after a refused write",
    )?;
    let v3 = written(store.put(&one, b"three", Condition::Any, None), "put any")?;
    ensure(v3 > v2, || format!("version {v3} after {v2}"))?;
    let v4 = written(store.put(&two, b"", Condition::Any, None), "put any")?;
    ensure(v4 > v3, || format!("versions are store-wide: {v4} after {v3}"))?;
    same(
        reached(store.get(&two), "get")?.map(|e| e.value),
        Some(Vec::new()),
        "an empty value",
    )?;
    same(
        reached(store.put(&none, b"x", Condition::Version(v4), None), "put")?,
        WriteOutcome::Conflict,
        "a version on an absent key",
    )?;
    same(reached(store.get(&none), "get")?, None, "after a refused write")
}

fn delete_semantics<S: Store + ?Sized>(store: &S, _: &dyn Time, ns: &str) -> Result<(), String> {
    let k = format!("{ns}/k");
    same(
        reached(store.delete(&k, Condition::Absent), "delete")?,
        WriteOutcome::Written(0),
        "absent on an absent key",
    )?;
    same(
        reached(store.delete(&k, Condition::Any), "delete")?,
        WriteOutcome::Written(0),
        "any on an absent key",
    )?;
    same(
        reached(store.delete(&k, Condition::Version(1)), "delete")?,
        WriteOutcome::Conflict,
        "a version on an absent key",
    )?;
    let v = written(store.put(&k, b"v", Condition::Absent, None), "put")?;
    same(
        reached(store.delete(&k, Condition::Absent), "delete")?,
        WriteOutcome::Conflict,
        "absent on a live key",
    )?;
    same(
        reached(store.delete(&k, Condition::Version(v + 1)), "delete")?,
        WriteOutcome::Conflict,
        "another version",
    )?;
    ensure(reached(store.get(&k), "get")?.is_some(), || {
        "a refused delete deleted".into()
    })?;
    same(
        reached(store.delete(&k, Condition::Version(v)), "delete")?,
        WriteOutcome::Written(0),
        "the live version",
    )?;
    same(reached(store.get(&k), "get")?, None, "after the delete")?;
    written(store.put(&k, b"v", Condition::Absent, None), "put")?;
    same(
        reached(store.delete(&k, Condition::Any), "delete")?,
        WriteOutcome::Written(0),
        "any on a live key",
    )?;
    same(reached(store.get(&k), "get")?, None, "after the delete")
}

fn versions_are_never_reused<S: Store + ?Sized>(store: &S, time: &dyn Time, ns: &str) -> Result<(), String> {
    let (a, b) = (format!("{ns}/a"), format!("{ns}/b"));
    let old = written(store.put(&a, b"first", Condition::Absent, None), "put")?;
    written(store.delete(&a, Condition::Version(old)), "delete")?;
    let new = written(store.put(&a, b"second", Condition::Absent, None), "put again")?;
    ensure(new != old, || format!("version {old} reused"))?;
    // A writer still holding the old version must lose (ABA).
    same(
        reached(store.put(&a, b"stale", Condition::Version(old), None), "put")?,
        WriteOutcome::Conflict,
        "a version from before the delete",
    )?;
    same(
        reached(store.delete(&a, Condition::Version(old)), "delete")?,
        WriteOutcome::Conflict,
        "a delete with a version from before the delete",
    )?;
    same(
        reached(store.get(&a), "get")?.map(|e| e.value),
        Some(b"second".to_vec()),
        "the value after stale writers",
    )?;
    // The same when the key vanished by expiry: a deadline already passed.
    let expired = written(
        store.put(&b, b"first", Condition::Absent, Some(time.now())),
        "put with a passed deadline",
    )?;
    same(reached(store.get(&b), "get")?, None, "a key past its deadline")?;
    let recreated = written(
        store.put(&b, b"second", Condition::Absent, None),
        "put over an expired key",
    )?;
    ensure(recreated > expired, || {
        format!("version {recreated} after {expired}")
    })?;
    same(
        reached(store.put(&b, b"stale", Condition::Version(expired), None), "put")?,
        WriteOutcome::Conflict,
        "a version from before the expiry",
    )
}

fn expiry<S: Store + ?Sized>(store: &S, time: &dyn Time, ns: &str) -> Result<(), String> {
    let (lapsing, kept, deadlined) = (
        format!("{ns}/lapsing"),
        format!("{ns}/kept"),
        format!("{ns}/deadlined"),
    );
    let deadline = time.now() + 2;
    let v = written(
        store.put(&lapsing, b"s", Condition::Absent, Some(deadline)),
        "put",
    )?;
    // Rewriting without a deadline clears the old one…
    let first = written(store.put(&kept, b"s", Condition::Absent, Some(deadline)), "put")?;
    let again = written(store.put(&kept, b"t", Condition::Version(first), None), "rewrite")?;
    // …and a rewrite can set one on a key that had none.
    let open = written(store.put(&deadlined, b"u", Condition::Absent, None), "put")?;
    written(
        store.put(&deadlined, b"u", Condition::Version(open), Some(deadline)),
        "rewrite with a deadline",
    )?;
    same(
        reached(store.get(&lapsing), "get")?.map(|e| e.version),
        Some(v),
        "a key before its deadline",
    )?;

    time.pass(2);
    same(
        reached(store.get(&lapsing), "get")?,
        None,
        "a key at its deadline",
    )?;
    same(
        reached(store.get(&kept), "get")?,
        Some(Entry {
            value: b"t".to_vec(),
            version: again,
        }),
        "a key rewritten without a deadline",
    )?;
    same(
        reached(store.get(&deadlined), "get")?,
        None,
        "a key given a deadline",
    )?;
    // An expired key's version no longer matches, for put or delete.
    same(
        reached(store.put(&lapsing, b"x", Condition::Version(v), None), "put")?,
        WriteOutcome::Conflict,
        "the version of an expired key",
    )?;
    same(
        reached(store.delete(&lapsing, Condition::Version(v)), "delete")?,
        WriteOutcome::Conflict,
        "deleting by the version of an expired key",
    )?;
    // Deleting an expired key is deleting an absent key, and Absent holds.
    same(
        reached(store.delete(&lapsing, Condition::Absent), "delete")?,
        WriteOutcome::Written(0),
        "deleting an expired key",
    )?;
    let reborn = written(
        store.put(&lapsing, b"n", Condition::Absent, None),
        "absent on an expired key",
    )?;
    ensure(reborn > again, || format!("version {reborn} after {again}"))
}

fn keys_are_exact_strings<S: Store + ?Sized>(store: &S, _: &dyn Time, ns: &str) -> Result<(), String> {
    let keys: Vec<String> = ["フロー/一", "a\0b", "a", "A", "a%", "a_", "a "]
        .iter()
        .map(|k| format!("{ns}/{k}"))
        .collect();
    for key in &keys {
        written(store.put(key, key.as_bytes(), Condition::Absent, None), "put")?;
    }
    for key in &keys {
        same(
            reached(store.get(key), "get")?.map(|e| e.value),
            Some(key.as_bytes().to_vec()),
            &format!("the value under {key:?}"),
        )?;
    }
    same(
        reached(store.get(&format!("{ns}/a\0")), "get")?,
        None,
        "a prefix of a key",
    )
}

fn limits<S: Store + ?Sized>(store: &S, _: &dyn Time, ns: &str) -> Result<(), String> {
    let stem = format!("{ns}/");
    let longest = format!("{stem}{}", "k".repeat(MAX_KEY_BYTES - stem.len()));
    let too_long = format!("{longest}k");
    let largest = vec![7u8; MAX_VALUE_BYTES];
    let too_large = vec![7u8; MAX_VALUE_BYTES + 1];
    let small = format!("{ns}/small");

    let v = written(
        store.put(&longest, &largest, Condition::Absent, None),
        "the largest write",
    )?;
    same(
        reached(store.get(&longest), "get")?,
        Some(Entry {
            value: largest,
            version: v,
        }),
        "the largest value read back",
    )?;
    ensure(store.put(&too_long, b"v", Condition::Any, None).is_err(), || {
        "a key one byte too long was accepted".into()
    })?;
    ensure(
        store.put(&small, &too_large, Condition::Any, None).is_err(),
        || "a value one byte too large was accepted".into(),
    )?;
    same(reached(store.get(&small), "get")?, None, "a refused write")?;
    // A multi-byte key is measured in bytes, not characters.
    let wide = format!("{stem}{}", "鍵".repeat((MAX_KEY_BYTES - stem.len()) / 3 + 1));
    ensure(wide.chars().count() <= MAX_KEY_BYTES, || {
        "the wide key is too short".into()
    })?;
    ensure(store.put(&wide, b"v", Condition::Any, None).is_err(), || {
        "a key too long in bytes was accepted".into()
    })
}

fn sequential_increments<S: Store + ?Sized>(store: &S, _: &dyn Time, ns: &str) -> Result<(), String> {
    let key = format!("{ns}/counter");
    increment(store, &key, 20)?;
    same(read_counter(store, &key)?, 20, "the counter")
}

/// Adds one to the decimal counter under `key`, `times` times, each a
/// read-modify-write retried on conflict; answers the conflicts met. Many
/// racing callers (threads, hosts, Spin instances) must lose no increment.
pub fn increment<S: Store + ?Sized>(store: &S, key: &str, times: u64) -> Result<u64, String> {
    let mut conflicts = 0;
    for _ in 0..times {
        loop {
            let (count, condition) = match reached(store.get(key), "get")? {
                Some(entry) => (parse_counter(&entry.value)?, Condition::Version(entry.version)),
                None => (0, Condition::Absent),
            };
            let next = (count + 1).to_string();
            match reached(store.put(key, next.as_bytes(), condition, None), "put")? {
                WriteOutcome::Written(_) => break,
                WriteOutcome::Conflict => conflicts += 1,
            }
        }
    }
    Ok(conflicts)
}

/// The counter [`increment`] keeps under `key` (0 when absent).
pub fn read_counter<S: Store + ?Sized>(store: &S, key: &str) -> Result<u64, String> {
    match reached(store.get(key), "get")? {
        Some(entry) => parse_counter(&entry.value),
        None => Ok(0),
    }
}

fn parse_counter(value: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("the counter holds {value:?}"))
}

/// `threads` threads, spread over `stores` (connections, pools or hosts on
/// one database), each adding `times` to one counter: with an atomic
/// compare-and-swap every increment lands, and every store reads the sum.
pub fn race<S: Store + Send + Sync + 'static>(
    stores: &[Arc<S>],
    threads: usize,
    times: u64,
) -> Result<(), String> {
    let key = "race/counter";
    let handles: Vec<_> = (0..threads)
        .map(|index| {
            let store = Arc::clone(&stores[index % stores.len()]);
            std::thread::spawn(move || increment(&*store, key, times))
        })
        .collect();
    for handle in handles {
        handle.join().map_err(|_| "a racer panicked".to_owned())??;
    }
    let expected = u64::try_from(threads).unwrap_or(u64::MAX) * times;
    for store in stores {
        same(read_counter(&**store, key)?, expected, "the raced counter")?;
    }
    Ok(())
}

fn purge_and_count<S: Store + Housekeeping + ?Sized>(
    store: &S,
    time: &dyn Time,
    ns: &str,
) -> Result<(), String> {
    let start = time.now();
    for (index, lifetime) in [Some(10), Some(20), None, Some(30)].into_iter().enumerate() {
        written(
            store.put(
                &format!("{ns}/flow/{index}"),
                b"f",
                Condition::Any,
                lifetime.map(|l| start + l),
            ),
            "put",
        )?;
    }
    written(
        store.put(&format!("{ns}/link/1"), b"l", Condition::Any, None),
        "put",
    )?;
    let count = |prefix: &str| reached(store.count_prefix(&format!("{ns}/{prefix}")), "count");
    same(count("flow/")?, 4, "live flows")?;
    same(count("link/")?, 1, "live links")?;
    same(count("")?, 5, "live keys")?;
    same(
        reached(store.purge_expired(), "purge")?,
        0,
        "purged before any deadline",
    )?;

    time.pass(20);
    same(count("flow/")?, 2, "live flows after 20 s")?;
    same(reached(store.purge_expired(), "purge")?, 2, "purged after 20 s")?;
    same(reached(store.purge_expired(), "purge")?, 0, "purged again")?;
    same(count("flow/")?, 2, "flows after the purge")?;
    time.pass(1_000);
    same(reached(store.purge_expired(), "purge")?, 1, "purged at the end")?;
    same(count("")?, 2, "what is left")
}

fn prefixes_are_literal<S: Store + Housekeeping + ?Sized>(
    store: &S,
    _: &dyn Time,
    ns: &str,
) -> Result<(), String> {
    for key in [
        "flow/1",
        "flow/2",
        "flo",
        "フロー/一",
        "a\0b",
        "a",
        "A",
        "a%",
        "a_",
    ] {
        written(
            store.put(&format!("{ns}/{key}"), b"v", Condition::Any, None),
            "put",
        )?;
    }
    let count = |prefix: &str| reached(store.count_prefix(&format!("{ns}/{prefix}")), "count");
    same(count("flow/")?, 2, "flow/")?;
    same(count("FLOW/")?, 0, "no case folding")?;
    same(count("f%")?, 0, "% is no wildcard")?;
    same(count("f_ow/")?, 0, "_ is no wildcard")?;
    same(count("フロー/")?, 1, "a multi-byte prefix")?;
    same(count("a\0")?, 1, "a prefix with NUL")?;
    same(count("a")?, 4, "a")?;
    same(count("nothing/")?, 0, "an unused prefix")
}

fn versions_list<S: Store + Housekeeping + ?Sized>(
    store: &S,
    time: &dyn Time,
    ns: &str,
) -> Result<(), String> {
    let (b, a, gone) = (format!("{ns}/b"), format!("{ns}/a"), format!("{ns}/gone"));
    let vb = written(store.put(&b, b"1", Condition::Absent, None), "put")?;
    let va = written(store.put(&a, b"2", Condition::Absent, None), "put")?;
    written(store.put(&gone, b"3", Condition::Absent, Some(time.now())), "put")?;
    let listed: Vec<(String, u64)> = reached(store.versions(), "versions")?
        .into_iter()
        .filter(|(key, _)| key.starts_with(ns))
        .collect();
    same(listed, vec![(a, va), (b.clone(), vb)], "the live keys, sorted")?;
    let before = reached(store.versions(), "versions")?;
    same(
        reached(store.put(&b, b"x", Condition::Version(va), None), "put")?,
        WriteOutcome::Conflict,
        "a stale write",
    )?;
    same(
        reached(store.versions(), "versions")?,
        before.clone(),
        "after a refused write",
    )?;
    written(store.put(&b, b"1", Condition::Version(vb), None), "rewrite")?;
    ensure(reached(store.versions(), "versions")? != before, || {
        "a rewrite of the same bytes left the listing unchanged".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;

    #[test]
    fn the_memory_store_keeps_the_contract() {
        let clock = FakeClock::default();
        let fresh = || Some(MemoryStore::new(Arc::new(clock.clone())));
        assert_eq!(run(&store_checks(), fresh, &clock), Ok(7));
        assert_eq!(run(&housekeeping_checks(), fresh, &clock), Ok(3));
    }

    #[test]
    fn the_checks_share_one_store_under_namespaces() {
        let clock = FakeClock::default();
        let store = MemoryStore::new(Arc::new(clock.clone()));
        assert_eq!(run_shared(&store_checks(), &store, &clock, "one/"), Ok(7));
        assert_eq!(run_shared(&store_checks(), &store, &clock, "two/"), Ok(7));
    }

    #[test]
    fn racing_threads_lose_no_increment() {
        let clock = FakeClock::default();
        let store = Arc::new(MemoryStore::new(Arc::new(clock)));
        assert_eq!(race(&[Arc::clone(&store), store], 8, 50), Ok(()));
    }

    /// A store that forgets versions (every write is version 1) breaks the
    /// contract, and the checks say where.
    #[test]
    fn a_store_that_reuses_versions_fails() {
        struct Forgetful(MemoryStore);
        impl Store for Forgetful {
            fn get(&self, key: &str) -> Result<Option<Entry>, crate::ports::PortError> {
                Ok(self.0.get(key)?.map(|e| Entry { version: 1, ..e }))
            }
            fn put(
                &self,
                key: &str,
                value: &[u8],
                _: Condition,
                expires_at: Option<Timestamp>,
            ) -> Result<WriteOutcome, crate::ports::PortError> {
                self.0.put(key, value, Condition::Any, expires_at)?;
                Ok(WriteOutcome::Written(1))
            }
            fn delete(
                &self,
                key: &str,
                condition: Condition,
            ) -> Result<WriteOutcome, crate::ports::PortError> {
                self.0.delete(key, condition)
            }
        }
        let clock = FakeClock::default();
        let failure = run(
            &store_checks(),
            || Some(Forgetful(MemoryStore::new(Arc::new(clock.clone())))),
            &clock,
        )
        .unwrap_err();
        assert!(failure.starts_with("put-get-and-versions: "), "{failure}");
    }
}
