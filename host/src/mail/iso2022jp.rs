//! ISO-2022-JP (RFC 1468) for the mail readers that still expect it: older
//! Japanese handsets and corporate mail systems. The text is encoded line
//! by line, so every line starts and ends in ASCII as RFC 1468 requires,
//! and the subject becomes RFC 2047 encoded-words that each stand alone.
//! A text with a character ISO-2022-JP cannot carry is refused as a whole
//! (the caller then sends UTF-8): a mail is never sent with characters
//! silently replaced.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use encoding_rs::ISO_2022_JP;

/// The longest line RFC 5322 allows, without its CRLF.
const MAX_LINE: usize = 998;

/// Longest RFC 2047 encoded-word.
const MAX_ENCODED_WORD: usize = 75;

/// `=?ISO-2022-JP?B?` and `?=`.
const WORD_OVERHEAD: usize = "=?ISO-2022-JP?B?".len() + "?=".len();

/// Some character has no ISO-2022-JP code (or a line grew too long).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unencodable(pub char);

/// Characters with two Unicode spellings for one JIS X 0208 code: text
/// typed on a Mac or Unix holds the first, text typed on Windows the
/// second, which is the one the encoder's table (WHATWG's, after Windows
/// code page 932) knows. Both become the same JIS code.
fn table_form(c: char) -> char {
    match c {
        '\u{301C}' => '\u{FF5E}', // WAVE DASH → FULLWIDTH TILDE (JIS 1-33)
        '\u{2016}' => '\u{2225}', // DOUBLE VERTICAL LINE → PARALLEL TO (JIS 1-34)
        '\u{2212}' => '\u{FF0D}', // MINUS SIGN → FULLWIDTH HYPHEN-MINUS (JIS 1-61)
        '\u{00A2}' => '\u{FFE0}', // CENT SIGN → FULLWIDTH CENT SIGN (JIS 1-81)
        '\u{00A3}' => '\u{FFE1}', // POUND SIGN → FULLWIDTH POUND SIGN (JIS 1-82)
        '\u{00AC}' => '\u{FFE2}', // NOT SIGN → FULLWIDTH NOT SIGN (JIS 2-44)
        other => other,
    }
}

/// Whether ISO-2022-JP output stays inside JIS X 0208 proper (rows 1 to 8
/// and 16 to 84): the encoder's table also has the NEC and IBM rows of
/// code page 932 (①, Ⅰ, 髙 …), which strict readers cannot decode.
fn strictly_jis_x0208(bytes: &[u8]) -> bool {
    let mut two_byte = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => {
                two_byte = bytes.get(i + 1..i + 3) == Some(b"$B");
                i += 3;
            }
            lead if two_byte => {
                let row = lead.wrapping_sub(0x20);
                if !(1..=8).contains(&row) && !(16..=84).contains(&row) {
                    return false;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    true
}

/// Encodes one piece of text with no line break, ending in ASCII.
fn encode_piece(text: &str) -> Result<Vec<u8>, Unencodable> {
    let mapped: String = text.chars().map(table_form).collect();
    let encodes = |t: &str| {
        let (bytes, _, had_errors) = ISO_2022_JP.encode(t);
        (!had_errors && strictly_jis_x0208(&bytes)).then(|| bytes.into_owned())
    };
    encodes(&mapped).ok_or_else(|| {
        // Name the first character that failed, for the log.
        let bad = mapped
            .chars()
            .find(|c| encodes(c.encode_utf8(&mut [0; 4])).is_none())
            .unwrap_or('\u{FFFD}');
        Unencodable(bad)
    })
}

/// The body: ISO-2022-JP, lines joined by CRLF, ready to send as `7bit`.
pub fn encode_body(text: &str) -> Result<Vec<u8>, Unencodable> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let encoded = encode_piece(line.trim_end_matches('\r'))?;
        if encoded.len() > MAX_LINE {
            return Err(Unencodable('\n'));
        }
        out.extend_from_slice(&encoded);
    }
    Ok(out)
}

/// The subject as RFC 2047 encoded-words, folded onto continuation lines.
pub fn encode_subject(subject: &str) -> Result<String, Unencodable> {
    let max_bytes = (MAX_ENCODED_WORD - WORD_OVERHEAD) / 4 * 3;
    let mut words: Vec<String> = Vec::new();
    let mut chunk = String::new();
    let mut encoded_chunk: Vec<u8> = Vec::new();
    for c in subject.chars() {
        let mut candidate = chunk.clone();
        candidate.push(c);
        let encoded = encode_piece(&candidate)?;
        if encoded.len() > max_bytes && !chunk.is_empty() {
            words.push(encoded_word(&encoded_chunk));
            chunk = c.to_string();
            encoded_chunk = encode_piece(&chunk)?;
        } else {
            chunk = candidate;
            encoded_chunk = encoded;
        }
    }
    if !chunk.is_empty() {
        words.push(encoded_word(&encoded_chunk));
    }
    Ok(words.join("\r\n "))
}

fn encoded_word(bytes: &[u8]) -> String {
    format!("=?ISO-2022-JP?B?{}?=", STANDARD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> String {
        let (text, had_errors) = ISO_2022_JP.decode_without_bom_handling(bytes);
        assert!(!had_errors);
        text.into_owned()
    }

    #[test]
    fn every_line_starts_and_ends_in_ascii() {
        let text = "山田　太郎 様\nhttps://example.jp/link/abc\n\nｶﾀｶﾅ も全角で";
        let body = encode_body(text).unwrap();
        assert!(body.iter().all(|b| *b < 0x80), "7-bit");
        for line in body.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.contains(&0x1b) {
                assert!(line.ends_with(b"\x1b(B"), "{:?}", String::from_utf8_lossy(line));
            }
        }
        let decoded = decode(&body);
        assert_eq!(
            decoded,
            "山田　太郎 様\r\nhttps://example.jp/link/abc\r\n\r\nカタカナ も全角で"
        );
    }

    #[test]
    fn both_spellings_of_a_jis_character_become_the_same_code() {
        let windows = encode_body("月曜日～金曜日").unwrap();
        let unix = encode_body("月曜日〜金曜日").unwrap();
        assert_eq!(windows, unix);
        // JIS 1-33, the wave dash, between the two 曜日.
        assert!(windows.windows(2).any(|w| w == [0x21, 0x41]));
    }

    #[test]
    fn vendor_rows_are_refused() {
        assert_eq!(encode_body("①"), Err(Unencodable('①')));
        assert_eq!(encode_body("髙橋"), Err(Unencodable('髙')));
        assert!(encode_body("高橋").is_ok());
    }

    #[test]
    fn characters_outside_the_charset_refuse_the_whole_text() {
        assert_eq!(encode_body("😀 です"), Err(Unencodable('😀')));
        assert_eq!(encode_subject("件名 𠮷"), Err(Unencodable('𠮷')));
    }

    #[test]
    fn subjects_split_into_standalone_words_of_at_most_75_characters() {
        let subject = "【三井住友海上】初回利用登録に関するご案内：お手続きの期限は四十八時間です";
        let encoded = encode_subject(subject).unwrap();
        let words: Vec<&str> = encoded.split("\r\n ").collect();
        assert!(words.len() > 1, "{encoded}");
        let mut decoded = String::new();
        for word in words {
            assert!(word.len() <= MAX_ENCODED_WORD, "{word}");
            let b64 = word
                .strip_prefix("=?ISO-2022-JP?B?")
                .and_then(|w| w.strip_suffix("?="))
                .unwrap();
            decoded.push_str(&decode(&STANDARD.decode(b64).unwrap()));
        }
        assert_eq!(decoded, subject);
    }
}
