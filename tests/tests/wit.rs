//! The contract's vendored WASI (`wit/deps/`) is exactly what
//! `wit/deps.lock` locks, digested the way wit-deps (the tool that fetches
//! and locks them, see `wit/deps.toml`) digests a dependency, offline: the
//! SHA-256 and SHA-512 of a deterministic tar of the directory's `.wit`
//! files, in name order, each as `wit/NAME` (wit-deps 0.6, `lock.rs` and
//! `tar()`). `wit-deps lock --check` compares the same.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256, Sha512};

fn wit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit")
}

fn table(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `Write` that hashes what passes through it.
#[derive(Default)]
struct Digests {
    sha256: Sha256,
    sha512: Sha512,
}

impl std::io::Write for Digests {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sha256.update(buf);
        self.sha512.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// wit-deps' digest of the package in `dir`: (sha256, sha512) in hex.
fn digest(dir: &Path) -> (String, String) {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.expect("an entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".wit") && !entry.file_type().expect("a type").is_dir() {
            names.insert(name);
        }
    }
    let mut tar = tar::Builder::new(Digests::default());
    for name in names {
        let path = dir.join(&name);
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // wit-deps tars with async-tar's deterministic headers: tar's,
        // but with the modification time 0.
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(
            &file.metadata().expect("metadata"),
            tar::HeaderMode::Deterministic,
        );
        header.set_mtime(0);
        tar.append_data(&mut header, Path::new("wit").join(&name), file)
            .expect("the file is read");
    }
    let digests = tar.into_inner().expect("the tar ends");
    (
        hex::encode(digests.sha256.finalize()),
        hex::encode(digests.sha512.finalize()),
    )
}

/// Every package in `wit/deps/` has the digest `wit/deps.lock` gives it,
/// and `wit/deps/` holds nothing else.
#[test]
fn the_vendored_wasi_is_byte_for_byte_what_deps_lock_locks() {
    let lock = table(&wit().join("deps.lock"));
    let deps = wit().join("deps");
    let mut changed = Vec::new();
    for (id, entry) in &lock {
        let locked = (
            entry["sha256"].as_str().expect("sha256").to_owned(),
            entry["sha512"].as_str().expect("sha512").to_owned(),
        );
        let (sha256, sha512) = digest(&deps.join(id));
        if (&sha256, &sha512) != (&locked.0, &locked.1) {
            changed.push(format!("wit/deps/{id}: sha256 {sha256} (locked: {})", locked.0));
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

/// A changed byte changes the digest: the check above can fail.
#[test]
fn one_changed_byte_is_another_digest() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let source = wit().join("deps/random");
    for entry in std::fs::read_dir(&source).expect("wit/deps/random") {
        let entry = entry.expect("an entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copied");
    }
    let before = digest(dir.path());
    assert_eq!(before, digest(&source), "a copy digests the same");
    let file = dir.path().join("random.wit");
    let mut text = std::fs::read_to_string(&file).expect("random.wit");
    text.push(' ');
    std::fs::write(&file, text).expect("written");
    assert_ne!(digest(dir.path()), before);
}

/// The lock is the manifest's: every dependency in `wit/deps.toml` is locked
/// from the same URL and prefix (otherwise `wit-deps lock` would fetch it
/// again), and nothing else is locked.
#[test]
fn deps_lock_locks_what_deps_toml_names() {
    let manifest = table(&wit().join("deps.toml"));
    let lock = table(&wit().join("deps.lock"));
    let named: BTreeSet<&String> = manifest.keys().collect();
    let locked: BTreeSet<&String> = lock.keys().collect();
    assert_eq!(named, locked, "the manifest's dependencies and the lock's");
    for (id, entry) in &manifest {
        let url = entry.get("url").and_then(|u| u.as_str());
        assert!(url.is_some(), "{id}: a URL, as released upstream");
        assert_eq!(
            (url, entry.get("prefix").and_then(|p| p.as_str())),
            (
                lock[id].get("url").and_then(|u| u.as_str()),
                lock[id].get("prefix").and_then(|p| p.as_str())
            ),
            "{id}: locked from another source"
        );
    }
}
