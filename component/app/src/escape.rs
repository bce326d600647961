//! The HTML escaper of the templates (`askama.toml`): the same output as
//! askama's own (`&#34;` `&#38;` `&#39;` `&#60;` `&#62;` for `"` `&` `'`
//! `<` `>`, everything else as it is), looked for eight bytes at a time.
//! askama's reads one byte after another, which compiled to WebAssembly
//! is the larger part of rendering a page.

use core::fmt::{self, Write};

/// The escaper named in `askama.toml`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        let bytes = text.as_bytes();
        // Nearly every value on a page has nothing to escape.
        if !any_special_in(bytes) {
            return dest.write_str(text);
        }
        // Everything before `last` has been written.
        let mut last = 0;
        for (here, byte) in bytes.iter().enumerate() {
            if let Some(entity) = entity(*byte) {
                // Both ends sit beside an ASCII byte, so on a character
                // boundary.
                if last < here {
                    dest.write_str(&text[last..here])?;
                }
                dest.write_str(entity)?;
                last = here + 1;
            }
        }
        if last < bytes.len() {
            dest.write_str(&text[last..])?;
        }
        Ok(())
    }

    fn write_escaped_char<W: Write>(&self, mut dest: W, c: char) -> fmt::Result {
        match u8::try_from(c).ok().and_then(entity) {
            Some(entity) => dest.write_str(entity),
            None => dest.write_char(c),
        }
    }
}

/// The entity written for a byte that needs one.
fn entity(byte: u8) -> Option<&'static str> {
    match byte {
        b'"' => Some("&#34;"),
        b'&' => Some("&#38;"),
        b'\'' => Some("&#39;"),
        b'<' => Some("&#60;"),
        b'>' => Some("&#62;"),
        _ => None,
    }
}

/// Whether any byte of `bytes` needs an entity. Eight bytes are tested at
/// once, and a text's last part word as the eight bytes that end it
/// (looking at some twice): testing a part word byte by byte, or building
/// it from its bytes, compiles to a jump on its length, which mispredicts
/// from one value to the next and was the slowest part of escaping in
/// WebAssembly. A text shorter than eight bytes is looked at byte by byte
/// with one test that rarely branches.
fn any_special_in(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return bytes.iter().any(|byte| is_special(*byte));
    }
    let word = |at: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    let mut at = 0;
    while at + 8 <= bytes.len() {
        if any_special(word(at)) {
            return true;
        }
        at += 8;
    }
    at < bytes.len() && any_special(word(bytes.len() - 8))
}

/// `"&'<>` as bits of a mask indexed by byte value.
const SPECIALS: u64 = 1 << b'"' | 1 << b'&' | 1 << b'\'' | 1 << b'<' | 1 << b'>';

/// Whether one byte needs an entity.
const fn is_special(byte: u8) -> bool {
    byte < 64 && SPECIALS >> byte & 1 != 0
}

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// Whether any byte of `word` is 0.
const fn any_zero(word: u64) -> bool {
    word.wrapping_sub(ONES) & !word & HIGHS != 0
}

/// Whether any byte of `word` is one of `"&'<>`: `"` (0x22) alone, `&`
/// and `'` (0x26, 0x27) as the bytes that are 0x27 with their lowest bit
/// set, `<` and `>` (0x3c, 0x3e) as those that are 0x3e with bit 1 set.
const fn any_special(word: u64) -> bool {
    any_zero(word ^ (ONES * 0x22))
        || any_zero((word | ONES) ^ (ONES * 0x27))
        || any_zero((word | (ONES * 0x02)) ^ (ONES * 0x3e))
}

#[cfg(test)]
mod tests {
    use askama::filters::Escaper;

    use super::*;

    fn ours(text: &str) -> String {
        let mut out = String::new();
        Html.write_escaped_str(&mut out, text).unwrap();
        out
    }

    fn askamas(text: &str) -> String {
        let mut out = String::new();
        askama::filters::Html.write_escaped_str(&mut out, text).unwrap();
        out
    }

    #[test]
    fn every_byte_value_in_every_position_of_a_word() {
        // Each ASCII character, and the bytes of a few wider ones, at each
        // offset of the first and second word and in the tail.
        let mut chars: Vec<char> = (0u8..0x80).map(char::from).collect();
        chars.extend(['あ', '＆', '＜', 'é', '\u{10348}']);
        for c in chars {
            for before in 0..20 {
                for after in [0, 1, 7, 8, 9] {
                    let text = format!("{}{c}{}", "a".repeat(before), "b".repeat(after));
                    assert_eq!(ours(&text), askamas(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn random_text_escapes_as_askama_escapes_it() {
        let alphabet = [
            "\"", "&", "'", "<", ">", "=", "?", ";", "#", "a", "Z", "0", " ", "\n", "あ", "三井", "＆",
            "\u{7f}", "%", "/",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            assert_eq!(ours(&text), askamas(&text), "{text:?}");
        }
    }

    #[test]
    fn a_char_escapes_as_askama_escapes_it() {
        for c in (0u8..0x80).map(char::from).chain(['あ', '＞']) {
            let (mut a, mut b) = (String::new(), String::new());
            Html.write_escaped_char(&mut a, c).unwrap();
            askama::filters::Html.write_escaped_char(&mut b, c).unwrap();
            assert_eq!(a, b, "{c:?}");
        }
    }

    #[test]
    fn the_byte_test_finds_exactly_the_five() {
        for byte in 0..=u8::MAX {
            assert_eq!(is_special(byte), entity(byte).is_some(), "{byte:#x}");
        }
    }

    #[test]
    fn every_length_is_looked_at_to_its_last_byte() {
        for len in 0..40 {
            for at in 0..len {
                let mut text = vec![b'a'; len];
                assert!(!any_special_in(&text), "{len}");
                text[at] = b'<';
                assert!(any_special_in(&text), "{len} {at}");
            }
        }
    }

    #[test]
    fn the_word_test_finds_exactly_the_five() {
        for byte in 0..=u8::MAX {
            let word = u64::from_le_bytes([b'a', b'a', b'a', byte, b'a', b'a', b'a', b'a']);
            assert_eq!(any_special(word), entity(byte).is_some(), "{byte:#x}");
        }
    }
}
