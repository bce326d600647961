//! `wasi:http/types.[static]fields.from-list`, read from the component's
//! memory in place. wasi-http's own lifts the list into a `Vec` of an
//! owned `String` and `Vec<u8>` per field, then parses each: an answer's
//! fields (nine on a page of the screens) cost three allocations each
//! before any is looked at. This one reads each name and value where the
//! component wrote it, and allocates only what the fields keep.
//!
//! Its answers are wasi-http's, field by field in the list's order: a
//! name or value that is not a valid field is `invalid-syntax`, a name the
//! hooks forbid is `forbidden` (checked before its value), a second
//! `content-length` is `invalid-syntax`, and fields past the context's
//! size limit trap; a name that is not UTF-8 traps, as lifting a `string`
//! does.

use hyper::http::header::CONTENT_LENGTH;
use hyper::http::{HeaderName, HeaderValue};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, WasmList, WasmStr};
use wasmtime_wasi_http::p2::bindings::http::types::{HeaderError, HostFields};
use wasmtime_wasi_http::{FieldMap, FieldMapError, WasiHttpCtxView, WasiHttpView};

/// The `wasi:http/types` instance wasi-http links, whose `from-list` this
/// replaces.
const TYPES: &str = "wasi:http/types@0.2.12";

/// Replaces `[static]fields.from-list` in `linker`, which must already
/// hold wasi-http's `wasi:http/types`. The linker does not allow
/// shadowing afterwards.
pub(crate) fn link_from_list<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let linked = linker
        .instance(TYPES)
        .and_then(|mut types| types.func_wrap("[static]fields.from-list", from_list::<T>));
    linker.allow_shadowing(false);
    linked
}

/// One entry of the list, read.
enum Entry {
    Field(HeaderName, HeaderValue),
    /// A name that is not a field name.
    BadName,
    /// A value that is not a field value (or not one for this name).
    BadValue(HeaderName),
}

type Entries = WasmList<(WasmStr, WasmList<u8>)>;

fn from_list<T: WasiHttpView + 'static>(
    mut store: StoreContextMut<'_, T>,
    (entries,): (Entries,),
) -> wasmtime::Result<(Result<Resource<FieldMap>, HeaderError>,)> {
    let entries = entries.iter(&mut store)?.collect::<wasmtime::Result<Vec<_>>>()?;
    // Read up to the first entry that is not a field: nothing after it is
    // looked at, as in wasi-http's loop.
    let mut read = Vec::with_capacity(entries.len());
    for (name, value) in &entries {
        let name = name.to_str(&store)?;
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            read.push(Entry::BadName);
            break;
        };
        match field_value(&name, value.as_le_slice(&store)) {
            Some(value) => read.push(Entry::Field(name, value)),
            None => {
                read.push(Entry::BadValue(name));
                break;
            }
        }
    }
    let mut view = store.data_mut().http();
    let fields = HostFields::new(&mut view)?;
    match fill(&mut view, &fields, read) {
        Ok(Ok(())) => Ok((Ok(fields),)),
        Ok(Err(refused)) => {
            view.table.delete(fields)?;
            Ok((Err(refused),))
        }
        Err(trap) => Err(trap),
    }
}

/// Appends the entries to `fields` in order, stopping at the first one
/// refused (the component's error) or past the size limit (a trap).
fn fill(
    view: &mut WasiHttpCtxView<'_>,
    fields: &Resource<FieldMap>,
    read: Vec<Entry>,
) -> wasmtime::Result<Result<(), HeaderError>> {
    for entry in read {
        let (name, value) = match entry {
            Entry::BadName => return Ok(Err(HeaderError::InvalidSyntax)),
            Entry::BadValue(name) if view.hooks.is_forbidden_header(&name) => {
                return Ok(Err(HeaderError::Forbidden));
            }
            Entry::BadValue(_) => return Ok(Err(HeaderError::InvalidSyntax)),
            Entry::Field(name, value) => (name, value),
        };
        if view.hooks.is_forbidden_header(&name) {
            return Ok(Err(HeaderError::Forbidden));
        }
        let map = view.table.get_mut(fields)?;
        // Several lengths would make the message's framing ambiguous.
        if name == CONTENT_LENGTH && map.contains_key(&name) {
            return Ok(Err(HeaderError::InvalidSyntax));
        }
        match map.append_raw(name, value) {
            Ok(_) => {}
            Err(FieldMapError::Immutable) => return Ok(Err(HeaderError::Immutable)),
            Err(FieldMapError::Forbidden) => return Ok(Err(HeaderError::Forbidden)),
            Err(FieldMapError::InvalidHeaderName | FieldMapError::InvalidHeaderValue) => {
                return Ok(Err(HeaderError::InvalidSyntax));
            }
            Err(too_much @ (FieldMapError::TooManyFields | FieldMapError::TotalSizeTooBig)) => {
                return Err(wasmtime::Error::new(too_much));
            }
        }
    }
    Ok(Ok(()))
}

/// `bytes` as the value of field `name`, as wasi-http parses one: a
/// `content-length` is one or more decimal digits that fit a `u64`.
fn field_value(name: &HeaderName, bytes: &[u8]) -> Option<HeaderValue> {
    if name == CONTENT_LENGTH {
        if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let length: u64 = std::str::from_utf8(bytes).ok()?.parse().ok()?;
        Some(length.into())
    } else {
        HeaderValue::from_bytes(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::field_value;
    use hyper::http::HeaderName;
    use hyper::http::header::{CONTENT_LENGTH, CONTENT_TYPE};

    #[test]
    fn a_content_length_is_digits_that_fit_a_u64() {
        assert_eq!(field_value(&CONTENT_LENGTH, b"2228").unwrap(), "2228");
        assert_eq!(field_value(&CONTENT_LENGTH, b"007").unwrap(), "7");
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1.0",
            b"18446744073709551616",
        ] {
            assert!(field_value(&CONTENT_LENGTH, bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn other_values_are_any_valid_field_value() {
        assert_eq!(field_value(&CONTENT_TYPE, b"text/html").unwrap(), "text/html");
        assert_eq!(field_value(&HeaderName::from_static("x-a"), b"").unwrap(), "");
        assert!(field_value(&CONTENT_TYPE, b"a\r\nb").is_none());
        assert!(field_value(&CONTENT_TYPE, b"a\0b").is_none());
    }
}
