//! The component compiled once and kept, ready to map: the first start
//! compiles it with Cranelift and writes the machine code beside the data
//! (`cache/customer-web-KEY.cwasm`); later starts map that file instead of
//! compiling, or decompressing a cache entry, again.
//!
//! The key is the SHA-256 of the component's bytes and of the engine's
//! compatibility hash (wasmtime's version and every setting that changes
//! the code), so another component, another wasmtime or another setting
//! never meets a stale file. Loading machine code runs it, so a file is
//! trusted only when it is this user's and no one else may write it (the
//! directory is made `0700`, the file `0600`, and both are checked before
//! every load); a file that fails the check, or that wasmtime refuses, is
//! compiled again and replaced.

use std::hash::{Hash, Hasher};
use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// `wasm` compiled for `engine`: mapped from `cache_dir` when a trusted
/// file of it is there, compiled (and written there) otherwise; compiled
/// only, without a directory.
pub fn component(engine: &Engine, wasm: &[u8], cache_dir: Option<&Path>) -> anyhow::Result<Component> {
    match cache_dir {
        None => compile(engine, wasm),
        Some(_) => component_hashed(engine, wasm, &Sha256::digest(wasm).into(), cache_dir),
    }
}

/// [`component`] of `wasm` whose SHA-256 is `sha256`, known beforehand
/// (the embedded component's, taken at build time): hashing its megabytes
/// would be a fifth of a start. A wrong digest would map another
/// component's code, so only digests this crate checks come here.
pub(crate) fn component_hashed(
    engine: &Engine,
    wasm: &[u8],
    sha256: &[u8; 32],
    cache_dir: Option<&Path>,
) -> anyhow::Result<Component> {
    let Some(dir) = cache_dir else {
        return compile(engine, wasm);
    };
    let path = dir.join(format!("customer-web-{}.cwasm", key(engine, sha256)));
    if trusted(&path) {
        // SAFETY: the file is this user's and writable by nobody else
        // (`trusted`), and it was written by `keep` below from
        // `Component::serialize` of this very engine's configuration (the
        // key holds its compatibility hash); wasmtime checks its header
        // again and refuses a file made by another configuration.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "precompiled component refused; compiling again")
            }
        }
    }
    let component = compile(engine, wasm)?;
    if let Err(e) = keep(&component, dir, &path) {
        tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "the compiled component is not kept");
    }
    Ok(component)
}

fn compile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Component> {
    Component::new(engine, wasm)
        .map_err(anyhow::Error::from)
        .context("compiling the component")
}

/// The file name's key: SHA-256 of the component's SHA-256 and of the
/// engine's compatibility hash, in hex.
fn key(engine: &Engine, sha256: &[u8; 32]) -> String {
    struct Feed(Sha256);
    impl Hasher for Feed {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            0
        }
    }
    let mut feed = Feed(Sha256::new());
    feed.0.update(sha256);
    engine.precompile_compatibility_hash().hash(&mut feed);
    hex(&feed.0.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `path` is a regular file of this user's that only this user
/// may write, in a directory only this user may write.
#[cfg(unix)]
fn trusted(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let mine = |meta: &std::fs::Metadata| meta.uid() == euid() && meta.mode() & 0o022 == 0;
    let Ok(file) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let dir_ok = path
        .parent()
        .and_then(|dir| std::fs::metadata(dir).ok())
        .is_some_and(|dir| mine(&dir));
    file.file_type().is_file() && mine(&file) && dir_ok
}

#[cfg(not(unix))]
fn trusted(path: &Path) -> bool {
    path.is_file()
}

/// This process's effective user id.
#[cfg(unix)]
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Writes `component`'s machine code to `path` in `dir` (made `0700` if
/// new): into a `0600` temporary file first, renamed into place, so a
/// reader never sees half a file.
fn keep(component: &Component, dir: &Path, path: &Path) -> anyhow::Result<()> {
    let bytes = component.serialize().map_err(anyhow::Error::from)?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&temporary)
        .and_then(|mut file| std::io::Write::write_all(&mut file, &bytes).and_then(|()| file.sync_all()));
    if let Err(e) = written.and_then(|()| std::fs::rename(&temporary, path)) {
        let _ = std::fs::remove_file(&temporary);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use customer_web_artifacts::COMPONENT as EMBEDDED_COMPONENT;

    use super::*;

    fn cwasm(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_first_load_keeps_the_code_and_the_next_maps_it() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        component(&engine, EMBEDDED_COMPONENT, Some(&cache)).unwrap();
        let kept = cwasm(&cache);
        assert_eq!(kept.len(), 1, "{kept:?}");
        let written = std::fs::metadata(&kept[0]).unwrap().modified().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
                0o700
            );
            assert_eq!(
                std::fs::metadata(&kept[0]).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let again = component(&engine, EMBEDDED_COMPONENT, Some(&cache)).unwrap();
        assert_eq!(
            std::fs::metadata(&kept[0]).unwrap().modified().unwrap(),
            written,
            "mapped, not rewritten"
        );
        assert!(again.component_type().exports(&engine).count() > 0);
    }

    #[test]
    fn a_damaged_file_is_compiled_again_and_replaced() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        component(&engine, EMBEDDED_COMPONENT, Some(dir.path())).unwrap();
        let kept = cwasm(dir.path()).remove(0);
        let good = std::fs::read(&kept).unwrap();
        std::fs::write(&kept, b"not machine code").unwrap();
        component(&engine, EMBEDDED_COMPONENT, Some(dir.path())).unwrap();
        assert_eq!(std::fs::read(&kept).unwrap(), good);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_others_may_write_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        component(&engine, EMBEDDED_COMPONENT, Some(dir.path())).unwrap();
        let kept = cwasm(dir.path()).remove(0);
        assert!(trusted(&kept));
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(!trusted(&kept), "world-writable");
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!trusted(&kept), "in a world-writable directory");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(trusted(&kept));
    }

    #[test]
    fn another_component_or_engine_setting_is_another_file() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let other = Engine::new(&config).unwrap();
        let ours = Sha256::digest(EMBEDDED_COMPONENT).into();
        assert_ne!(key(&engine, &ours), key(&other, &ours));
        assert_ne!(
            key(&engine, &ours),
            key(&engine, &Sha256::digest(b"\0asm\x0d\0\x01\0").into())
        );
        component(&engine, EMBEDDED_COMPONENT, Some(dir.path())).unwrap();
        component(&other, EMBEDDED_COMPONENT, Some(dir.path())).unwrap();
        assert_eq!(cwasm(dir.path()).len(), 2);
    }
}
