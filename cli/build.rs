//! Links `customer-web` with packed relative relocations (`-z
//! pack-relative-relocs`, DT_RELR) where the linker and the C library
//! take them: the dynamic loader then applies a few kilobytes of
//! relocations at exec instead of 35,000 entries (850 KB) read and
//! applied one by one, the largest part of the time before `main` and so
//! of a start (`--bench flows`, "serve: process start to first answer").
//!
//! A C compiler links a probe with the flag and the probe must run: an old
//! linker ignores the flag, an old C library refuses to load the result,
//! and in either case the binary is linked as usual.

use std::path::PathBuf;
use std::process::{Command, Stdio};

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    // Only where the probe can run: a native Linux GNU build.
    if target != host || !target.ends_with("-linux-gnu") {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let source = out.join("relr-probe.c");
    let probe = out.join("relr-probe");
    if std::fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let quiet = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let linked = quiet(Command::new(&cc).arg(&source).arg("-o").arg(&probe).arg(FLAG));
    if linked && quiet(&mut Command::new(&probe)) {
        println!("cargo:rustc-link-arg-bins={FLAG}");
    }
}
