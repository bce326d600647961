//! The host's own `wasi:http/types.[static]fields.from-list`
//! (`host/src/fields.rs`, linked by `add_wasi_to_linker`) against
//! wasi-http's, through a component that hands its argument to the import
//! and returns the import's answer: for each list of fields, both give the
//! same answer (the same fields in the same order, the same error, or
//! both a trap).

use std::sync::Arc;

use customer_web_host::ctx::HostCtx;
use customer_web_host::{Capabilities, add_wasi_to_linker};
use wasmtime::component::{Component, Linker, Resource, TypedFunc};
use wasmtime::{Engine, Store, StoreLimits};
use wasmtime_wasi_http::p2::bindings::http::types::HeaderError;
use wasmtime_wasi_http::{FieldMap, WasiHttpView};

const COMPONENT: &str = r#"
(component
  (import "wasi:http/types@0.2.12" (instance $types
    (export "fields" (type $fields (sub resource)))
    (type $error (variant (case "invalid-syntax") (case "forbidden") (case "immutable")))
    (export "header-error" (type $header-error (eq $error)))
    (export "[static]fields.from-list" (func
      (param "entries" (list (tuple string (list u8))))
      (result (result (own $fields) (error $header-error)))))))
  (alias export $types "fields" (type $fields))
  (alias export $types "header-error" (type $header-error))
  (alias export $types "[static]fields.from-list" (func $from-list))
  (core module $libc
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    ;; Hands out memory upwards, growing it as needed; never frees.
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (i32.and
        (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $at) (local.get 3)))
      (block $fits
        (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
        (if (i32.eq
              (memory.grow (i32.add (i32.const 1) (i32.shr_u
                (i32.sub (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
                (i32.const 16))))
              (i32.const -1))
          (then unreachable)))
      (local.get $at)))
  (core instance $libc (instantiate $libc))
  (core func $from-list-lowered (canon lower (func $from-list)
    (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
  (core module $main
    (import "libc" "memory" (memory 1))
    (import "types" "from-list" (func $from-list (param i32 i32 i32)))
    ;; The import's answer, in a return area at 16, is the export's.
    (func (export "try") (param i32 i32) (result i32)
      (call $from-list (local.get 0) (local.get 1) (i32.const 16))
      (i32.const 16)))
  (core instance $main (instantiate $main
    (with "libc" (instance $libc))
    (with "types" (instance (export "from-list" (func $from-list-lowered))))))
  (func (export "try")
    (param "entries" (list (tuple string (list u8))))
    (result (result (own $fields) (error $header-error)))
    (canon lift (core func $main "try")
      (memory (core memory $libc "memory")) (realloc (core func $libc "realloc")))))
"#;

type Entries = Vec<(String, Vec<u8>)>;
type Try = TypedFunc<(Entries,), (Result<Resource<FieldMap>, HeaderError>,)>;

/// What one `from-list` answered: the fields as (name, value) pairs in
/// order, the component's error, or a trap.
#[derive(Debug, PartialEq)]
enum Answer {
    Fields(Vec<(String, Vec<u8>)>),
    Refused(&'static str),
    Trapped,
}

/// Instances of the component over wasi-http's `wasi:http/types`, and
/// over the host's (which replaces `from-list`).
struct Both {
    engine: Engine,
    component: Component,
    theirs: Linker<HostCtx>,
    ours: Linker<HostCtx>,
}

impl Both {
    fn new() -> Self {
        let engine = Engine::default();
        let component = Component::new(&engine, wat::parse_str(COMPONENT).unwrap()).unwrap();
        let mut theirs = Linker::new(&engine);
        wasmtime_wasi_http::p2::bindings::sync::http::types::add_to_linker::<
            HostCtx,
            wasmtime_wasi_http::WasiHttp,
        >(&mut theirs, &Default::default(), HostCtx::http)
        .unwrap();
        let mut ours = Linker::new(&engine);
        add_wasi_to_linker(&mut ours).unwrap();
        Self {
            engine,
            component,
            theirs,
            ours,
        }
    }

    fn answer(&self, linker: &Linker<HostCtx>, entries: &Entries) -> Answer {
        let caps = Arc::new(Capabilities::in_memory());
        let mut store = Store::new(&self.engine, HostCtx::new(caps, StoreLimits::default()));
        let instance = linker.instantiate(&mut store, &self.component).unwrap();
        let try_: Try = instance.get_typed_func(&mut store, "try").unwrap();
        match try_.call(&mut store, (entries.clone(),)) {
            Err(_) => Answer::Trapped,
            Ok((Err(error),)) => Answer::Refused(match error {
                HeaderError::InvalidSyntax => "invalid-syntax",
                HeaderError::Forbidden => "forbidden",
                HeaderError::Immutable => "immutable",
            }),
            Ok((Ok(fields),)) => {
                let view = store.data_mut().http();
                let map = view.table.get(&fields).unwrap();
                Answer::Fields(
                    map.iter()
                        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
                        .collect(),
                )
            }
        }
    }

    /// Both answers to `entries`, checked equal; the host's is returned.
    fn check(&self, entries: &[(&str, &[u8])]) -> Answer {
        let entries: Entries = entries
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.to_vec()))
            .collect();
        let theirs = self.answer(&self.theirs, &entries);
        let ours = self.answer(&self.ours, &entries);
        assert_eq!(ours, theirs, "the answers to {entries:?}");
        ours
    }
}

fn fields(pairs: &[(&str, &str)]) -> Answer {
    Answer::Fields(
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
            .collect(),
    )
}

#[test]
fn a_pages_fields_are_kept_as_given() {
    let both = Both::new();
    let page: &[(&str, &[u8])] = &[
        ("content-type", b"text/html; charset=utf-8"),
        ("set-cookie", b"cw_csrf=abc; Path=/; HttpOnly; SameSite=Lax"),
        ("content-security-policy", b"default-src 'none'"),
        ("x-content-type-options", b"nosniff"),
        ("x-frame-options", b"DENY"),
        ("referrer-policy", b"same-origin"),
        ("cache-control", b"no-store"),
        ("set-cookie", b"cw_session=def; Path=/"),
        ("X-Custom-Name", b"\xe3\x81\x82 bytes"),
        ("content-length", b"02228"),
    ];
    assert_eq!(
        both.check(page),
        Answer::Fields(vec![
            ("content-type".into(), b"text/html; charset=utf-8".to_vec()),
            (
                "set-cookie".into(),
                b"cw_csrf=abc; Path=/; HttpOnly; SameSite=Lax".to_vec()
            ),
            ("set-cookie".into(), b"cw_session=def; Path=/".to_vec()),
            ("content-security-policy".into(), b"default-src 'none'".to_vec()),
            ("x-content-type-options".into(), b"nosniff".to_vec()),
            ("x-frame-options".into(), b"DENY".to_vec()),
            ("referrer-policy".into(), b"same-origin".to_vec()),
            ("cache-control".into(), b"no-store".to_vec()),
            ("x-custom-name".into(), b"\xe3\x81\x82 bytes".to_vec()),
            ("content-length".into(), b"2228".to_vec()),
        ])
    );
    assert_eq!(both.check(&[]), fields(&[]));
}

#[test]
fn refusals_come_in_the_lists_order_a_name_before_its_value() {
    let both = Both::new();
    let invalid = Answer::Refused("invalid-syntax");
    let forbidden = Answer::Refused("forbidden");
    assert_eq!(both.check(&[("bad name", b"x")]), invalid);
    assert_eq!(both.check(&[("", b"x")]), invalid);
    assert_eq!(both.check(&[("x-a", b"line\r\nbreak")]), invalid);
    assert_eq!(both.check(&[("x-a", b"nul\0")]), invalid);
    assert_eq!(both.check(&[("connection", b"close")]), forbidden);
    assert_eq!(both.check(&[("Host", b"example.com")]), forbidden);
    // A forbidden name is refused as such whatever its value.
    assert_eq!(both.check(&[("transfer-encoding", b"bad\r\n")]), forbidden);
    // The first refused entry decides.
    assert_eq!(
        both.check(&[("x-a", b"ok"), ("bad name", b""), ("te", b"x")]),
        invalid
    );
    assert_eq!(
        both.check(&[("x-a", b"ok"), ("upgrade", b"h2"), ("bad name", b"")]),
        forbidden
    );
    assert_eq!(both.check(&[("keep-alive", b"1"), ("x-a", b"\n")]), forbidden);
}

#[test]
fn a_content_length_is_digits_and_given_once() {
    let both = Both::new();
    let invalid = Answer::Refused("invalid-syntax");
    for bad in [&b""[..], b"+1", b"-1", b"1 ", b"0x10", b"18446744073709551616"] {
        assert_eq!(both.check(&[("content-length", bad)]), invalid, "{bad:?}");
    }
    assert_eq!(
        both.check(&[("content-length", b"12"), ("Content-Length", b"12")]),
        invalid
    );
    assert_eq!(
        both.check(&[("content-length", b"18446744073709551615")]),
        fields(&[("content-length", "18446744073709551615")])
    );
}

#[test]
fn fields_past_the_size_limit_trap() {
    let both = Both::new();
    let value = vec![b'v'; 1024];
    let many: Vec<(String, &[u8])> = (0..200).map(|i| (format!("x-field-{i}"), &value[..])).collect();
    let many: Vec<(&str, &[u8])> = many.iter().map(|(name, value)| (name.as_str(), *value)).collect();
    assert_eq!(both.check(&many), Answer::Trapped);
    // A refusal before the limit is reached is answered, not trapped.
    let mut refused = vec![("bad name", &b""[..])];
    refused.extend_from_slice(&many);
    assert_eq!(both.check(&refused), Answer::Refused("invalid-syntax"));
}
