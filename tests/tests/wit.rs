//! The contract's vendored WASI (`wit/deps/`) is exactly what
//! `wit/deps.lock` locks, digested the way wit-deps (the tool that fetches
//! and locks them, see `wit/deps.toml`) digests a dependency: with its own
//! library, offline.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use wit_deps::{Lock, LockEntry, LockEntrySource, Manifest, ManifestEntry};

fn wit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest_and_lock() -> (Manifest, Lock) {
    let wit = wit();
    let manifest =
        toml::from_str(&read(&wit.join("deps.toml"))).expect("wit/deps.toml is a wit-deps manifest");
    let lock = toml::from_str(&read(&wit.join("deps.lock"))).expect("wit/deps.lock is a wit-deps lock");
    (manifest, lock)
}

/// Every package in `wit/deps/` has the digest `wit/deps.lock` gives it (the
/// digest `wit-deps lock --check` compares: SHA-256 and SHA-512 of a
/// deterministic tar of the directory's `.wit` files), and `wit/deps/` holds
/// nothing else.
#[test]
fn the_vendored_wasi_is_byte_for_byte_what_deps_lock_locks() {
    let (_, lock) = manifest_and_lock();
    let deps = wit().join("deps");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut changed = Vec::new();
    for (id, entry) in lock.iter() {
        let digest = runtime
            .block_on(LockEntry::digest(deps.join(id)))
            .unwrap_or_else(|e| panic!("wit/deps/{id}: {e}"));
        if digest != entry.digest {
            changed.push(format!(
                "wit/deps/{id}: sha256 {} (locked: {})",
                hex::encode(digest.sha256),
                hex::encode(entry.digest.sha256)
            ));
        }
    }
    assert!(
        changed.is_empty(),
        "vendored WIT differs from wit/deps.lock; `wit-deps update` restores it:\n{}",
        changed.join("\n")
    );
    let present: BTreeSet<String> = std::fs::read_dir(&deps)
        .expect("wit/deps/")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    let locked: BTreeSet<String> = lock.keys().cloned().collect();
    assert_eq!(present, locked, "wit/deps/ holds exactly the locked packages");
}

/// The lock is the manifest's: every dependency in `wit/deps.toml` is locked
/// from the same URL and prefix (otherwise `wit-deps lock` would fetch it
/// again), and nothing else is locked.
#[test]
fn deps_lock_locks_what_deps_toml_names() {
    let (manifest, lock) = manifest_and_lock();
    let named: BTreeSet<&String> = manifest.keys().collect();
    let locked: BTreeSet<&String> = lock.keys().collect();
    assert_eq!(named, locked, "the manifest's dependencies and the lock's");
    for (id, entry) in manifest.iter() {
        let ManifestEntry::Url { url, prefix, .. } = entry else {
            panic!("{id}: a URL, as released upstream");
        };
        match &lock[id].source {
            Some(LockEntrySource::Url {
                url: locked_url,
                prefix: locked_prefix,
            }) => {
                assert_eq!(
                    (url, prefix),
                    (locked_url, locked_prefix),
                    "{id}: locked from another source"
                );
            }
            other => panic!("{id}: locked from {other:?}"),
        }
    }
}
