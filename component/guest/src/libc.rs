//! The three functions of the C library that Rust's `std` reaches in this
//! component, given here so that the C library's own are not linked:
//! `write` and `writev` (`std::io::stderr`, which a panic's message goes
//! to) and `getenv` (`std::env::var`, which only the panic hook reads, for
//! `RUST_BACKTRACE`).
//!
//! The C library's `write` serves every descriptor through a table that
//! imports stdin, stdout, stderr, the five terminal interfaces, polling
//! and four stream methods; its `getenv` imports the environment and, for
//! a failed allocation, `exit`. Each import is linked at every
//! instantiation, that is at every request, whether it is called or not.
//! Here, `write` sends descriptors 1 and 2 to `wasi:cli/stdout` and
//! `wasi:cli/stderr` with the stream calls the HTTP body already imports,
//! and the component has no environment: no code of it reads one, and a
//! host has no business configuring it through one (its settings come
//! from the `config` capability).

use core::ffi::{c_char, c_int, c_void};

use wasip2::io::streams::OutputStream;

/// `EBADF` and `EIO` as the C library numbers them.
const EBADF: c_int = 8;
const EIO: c_int = 29;

unsafe extern "C" {
    fn __errno_location() -> *mut c_int;
}

fn fail(errno: c_int) -> isize {
    // SAFETY: the C library's errno lives as long as the instance.
    unsafe { *__errno_location() = errno };
    -1
}

/// The stream of a standard output descriptor.
fn stream(fd: c_int) -> Option<OutputStream> {
    match fd {
        1 => Some(wasip2::cli::stdout::get_stdout()),
        2 => Some(wasip2::cli::stderr::get_stderr()),
        _ => None,
    }
}

/// Writes at most 4096 bytes (what one `blocking-write-and-flush` takes)
/// of `bytes` to descriptor 1 or 2; any other descriptor is `EBADF`,
/// which `std` takes for a closed stream and ignores.
fn write_to(fd: c_int, bytes: &[u8]) -> isize {
    let Some(stream) = stream(fd) else {
        return fail(EBADF);
    };
    let chunk = &bytes[..bytes.len().min(4096)];
    match stream.blocking_write_and_flush(chunk) {
        Ok(()) => chunk.len() as isize,
        Err(_) => fail(EIO),
    }
}

/// `ssize_t write(int fd, const void *buf, size_t count)`.
///
/// # Safety
///
/// `buf` points to `count` readable bytes, as for the C function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: usize) -> isize {
    if count == 0 {
        return if matches!(fd, 1 | 2) { 0 } else { fail(EBADF) };
    }
    // SAFETY: the caller's promise.
    let bytes = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    write_to(fd, bytes)
}

/// One buffer of a `writev`.
#[repr(C)]
pub struct IoVec {
    base: *const c_void,
    len: usize,
}

/// `ssize_t writev(int fd, const struct iovec *iov, int iovcnt)`: the
/// buffers in turn, stopping at the first that is not written whole.
///
/// # Safety
///
/// `iov` points to `iovcnt` buffers, each as for [`write`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const IoVec, iovcnt: c_int) -> isize {
    let Ok(count) = usize::try_from(iovcnt) else {
        return fail(EBADF);
    };
    // SAFETY: the caller's promise.
    let buffers = unsafe { core::slice::from_raw_parts(iov, count) };
    let mut written = 0;
    for buffer in buffers.iter().filter(|b| b.len > 0) {
        // SAFETY: the caller's promise.
        let bytes = unsafe { core::slice::from_raw_parts(buffer.base.cast::<u8>(), buffer.len) };
        match write_to(fd, bytes) {
            n if n < 0 => return if written > 0 { written } else { n },
            n => {
                written += n;
                if n as usize != bytes.len() {
                    break;
                }
            }
        }
    }
    written
}

/// `char *getenv(const char *name)`: the component has no environment.
#[unsafe(no_mangle)]
pub extern "C" fn getenv(_name: *const c_char) -> *mut c_char {
    core::ptr::null_mut()
}
