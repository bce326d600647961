//! Checks and normalises what customers type on the enrollment, recovery and
//! sign-up screens.
//!
//! Japanese customers type the same thing in many ways: full-width or
//! half-width digits and letters, half-width katakana, hiragana where
//! katakana is asked for, several different dash characters, spaces between
//! family and given name. Every check therefore folds the input first
//! (Unicode NFKC plus the few foldings NFKC leaves out) and then judges the
//! folded value, so that what is stored and matched against the insurer's
//! records is the same whichever way it was typed. Each error is a single
//! polite Japanese sentence meant to be shown next to its field.

use unicode_normalization::UnicodeNormalization;

use crate::model::{CustomerInput, Date, FieldError, Identity};

const BIRTH_DATE_FORMAT: &str = "生年月日を正しく入力してください（例：1985年4月1日）。";
const BIRTH_DATE_FUTURE: &str = "生年月日に未来の日付は入力できません。";
const EMAIL_FORMAT: &str = "メールアドレスを正しく入力してください。";
const KEYWORD_LENGTH: &str = "キーワードは4文字以上32文字以内で入力してください。";
const KEYWORD_CHARS: &str = "キーワードに使用できない文字が含まれています。";
const PASSWORD_LENGTH: &str = "パスワードは10文字以上128文字以内で入力してください。";
const PASSWORD_CHARS: &str = "パスワードに使用できない文字が含まれています。";
const PASSWORD_COMMON: &str = "このパスワードは推測されやすいため使用できません。";
const PASSWORD_USER_ID: &str = "ユーザーIDと同じパスワードは使用できません。";
const PHONE_FORMAT: &str = "電話番号を正しく入力してください（例：03-1234-5678）。";
const POSTAL_CODE_FORMAT: &str = "郵便番号は7桁の数字で入力してください（例：100-0004）。";
const POLICY_NUMBER_FORMAT: &str = "証券番号は英数字8文字以上20文字以内で入力してください。";

/// Longest name, in characters, that the insurer's records hold.
const NAME_MAX: usize = 30;

/// The message for an empty required field.
fn required(label: &str) -> String {
    format!("{label}を入力してください。")
}

fn nfkc(s: &str) -> String {
    s.nfkc().collect()
}

/// Spaces a customer may put between words: NFKC already turns the
/// ideographic space into an ASCII one, but callers may pass text that has
/// not been through NFKC.
fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{3000}'
}

/// Dash-like characters customers type as a hyphen. NFKC folds the
/// full-width hyphen-minus, but not the katakana prolonged sound mark, the
/// minus sign or the typographic dashes, which Japanese input methods
/// readily produce in place of a hyphen.
fn is_hyphen(c: char) -> bool {
    ('\u{2010}'..='\u{2015}').contains(&c)
        || matches!(
            c,
            '-' | '\u{2043}' | '\u{2212}' | '\u{30FC}' | '\u{FE63}' | '\u{FF0D}' | '\u{FF70}'
        )
}

/// NFKC, trims, removes all spaces (ASCII and U+3000) inside.
///
/// The result is composed again after the spaces are gone, so that a voiced
/// sound mark typed apart from its kana (`カ ゛`) joins it (`ガ`).
pub fn normalise(s: &str) -> String {
    let folded = nfkc(s);
    folded.trim().chars().filter(|&c| !is_space(c)).nfc().collect()
}

/// Validates screen 2; all field errors at once (field names kebab-case:
/// family-name, given-name, family-name-kana, given-name-kana, birth-date,
/// phone, postal-code, policy-number).
pub fn customer(input: &CustomerInput, today: Date) -> Result<Identity, Vec<FieldError>> {
    // Errors are collected in the order the fields appear on the screen.
    let mut errors = Vec::new();
    let family_name = take(
        &mut errors,
        "family-name",
        kanji_name_as(&input.family_name, "お名前（姓）"),
    );
    let given_name = take(
        &mut errors,
        "given-name",
        kanji_name_as(&input.given_name, "お名前（名）"),
    );
    let family_name_kana = take(
        &mut errors,
        "family-name-kana",
        kana_name_as(&input.family_name_kana, "フリガナ（セイ）"),
    );
    let given_name_kana = take(
        &mut errors,
        "given-name-kana",
        kana_name_as(&input.given_name_kana, "フリガナ（メイ）"),
    );
    let birth_date = take(&mut errors, "birth-date", birth_date(&input.birth_date, today));
    let phone = take(&mut errors, "phone", phone(&input.phone));
    let postal_code = take(&mut errors, "postal-code", postal_code(&input.postal_code));
    let policy_number = take(&mut errors, "policy-number", policy_number(&input.policy_number));
    match (
        family_name,
        given_name,
        family_name_kana,
        given_name_kana,
        birth_date,
        phone,
        postal_code,
        policy_number,
    ) {
        (
            Some(family_name),
            Some(given_name),
            Some(family_name_kana),
            Some(given_name_kana),
            Some(birth_date),
            Some(phone),
            Some(postal_code),
            Some(policy_number),
        ) => Ok(Identity {
            family_name,
            given_name,
            family_name_kana,
            given_name_kana,
            birth_date,
            phone,
            postal_code,
            policy_number,
        }),
        _ => Err(errors),
    }
}

/// The value of a check, or `None` with its error recorded under `field`.
fn take<T>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, String>) -> Option<T> {
    result
        .map_err(|message| errors.push(FieldError::new(field, message)))
        .ok()
}

/// Birth date as typed: 1985-04-01, 1985/4/1, 1985年4月1日, 19850401,
/// full-width digits too (NFKC first). Must be a real calendar date (leap
/// years), not in the future relative to `today`, year >= 1900. Err is the
/// Japanese message.
///
/// A Japanese era year is accepted as well (昭和60年4月1日, 平成元年1月8日,
/// ㍼60年4月1日), since many customers write their birth date that way; the
/// date must fall within that era.
pub fn birth_date(s: &str, today: Date) -> Result<Date, String> {
    let s = normalise(s);
    if s.is_empty() {
        return Err(required("生年月日"));
    }
    let date = parse_date(&s).ok_or_else(|| BIRTH_DATE_FORMAT.to_owned())?;
    if date > today {
        return Err(BIRTH_DATE_FUTURE.to_owned());
    }
    Ok(date)
}

/// Japanese eras from the first one a living customer can have been born in:
/// name and first day. An era ends the day before the next one starts.
const ERAS: [(&str, (i32, u8, u8)); 5] = [
    ("明治", (1868, 1, 1)),
    ("大正", (1912, 7, 30)),
    ("昭和", (1926, 12, 25)),
    ("平成", (1989, 1, 8)),
    ("令和", (2019, 5, 1)),
];

#[derive(Debug, PartialEq)]
enum Token {
    Number(String),
    Separator(char),
}

fn tokens(s: &str) -> Option<Vec<Token>> {
    let mut out: Vec<Token> = Vec::new();
    for c in s.chars() {
        if c.is_ascii_digit() || c == '元' {
            match out.last_mut() {
                Some(Token::Number(n)) => n.push(c),
                _ => out.push(Token::Number(c.to_string())),
            }
        } else if is_hyphen(c) {
            out.push(Token::Separator('-'));
        } else if matches!(c, '/' | '.' | '年' | '月' | '日') {
            out.push(Token::Separator(c));
        } else {
            return None;
        }
    }
    Some(out)
}

fn small_number(s: &str, max_digits: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_date(s: &str) -> Option<Date> {
    let era = ERAS
        .iter()
        .enumerate()
        .find_map(|(i, (name, _))| s.strip_prefix(name).map(|rest| (i, rest)));
    let rest = era.map_or(s, |(_, rest)| rest);
    let tokens = tokens(rest)?;
    let (year, month, day) = match tokens.as_slice() {
        [Token::Number(all)] if era.is_none() && all.len() == 8 => (
            small_number(&all[..4], 4)?,
            small_number(&all[4..6], 2)?,
            small_number(&all[6..], 2)?,
        ),
        [
            Token::Number(y),
            Token::Separator(a),
            Token::Number(m),
            Token::Separator(b),
            Token::Number(d),
            tail @ ..,
        ] => {
            let kanji = *a == '年' && *b == '月';
            let symbols = a == b && matches!(a, '-' | '/' | '.');
            let tail_ok = match tail {
                [] => true,
                [Token::Separator('日')] => kanji,
                _ => false,
            };
            if !(kanji || symbols) || !tail_ok {
                return None;
            }
            let year = match era {
                Some(_) if y == "元" => 1,
                Some(_) => small_number(y, 2)?,
                None if y.len() == 4 => small_number(y, 4)?,
                None => return None,
            };
            (year, small_number(m, 2)?, small_number(d, 2)?)
        }
        _ => return None,
    };
    let year = match era {
        Some((i, _)) => {
            if year == 0 {
                return None;
            }
            ERAS[i].1.0 + i32::try_from(year).ok()? - 1
        }
        None => i32::try_from(year).ok()?,
    };
    if year < 1900 {
        return None;
    }
    let month = u8::try_from(month).ok()?;
    let day = u8::try_from(day).ok()?;
    time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    if let Some((i, _)) = era {
        let (sy, sm, sd) = ERAS[i].1;
        let date = (year, month, day);
        if date < (sy, sm, sd) {
            return None;
        }
        if let Some((_, next)) = ERAS.get(i + 1)
            && date >= *next
        {
            return None;
        }
    }
    Some(Date {
        year: u16::try_from(year).ok()?,
        month,
        day,
    })
}

/// Characters RFC 5322 allows in an unquoted local part, besides letters and
/// digits.
const LOCAL_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-.";

/// E-mail address: NFKC (so full-width ＠ and letters work), trimmed;
/// local@domain with a dot in the domain, no spaces, ASCII only after NFKC,
/// <=254 chars, local part <=64; domain lowercased (local part kept as typed).
/// Ok is the normalised address.
///
/// Dots in the local part are not checked for position: Japanese mobile
/// carriers long issued addresses such as `taro..yamada.@example.ne.jp`, and
/// they still receive mail.
pub fn email(s: &str) -> Result<String, String> {
    let folded = nfkc(s);
    let s = folded.trim();
    if s.is_empty() {
        return Err(required("メールアドレス"));
    }
    let bad = || EMAIL_FORMAT.to_owned();
    if s.len() > 254 || !s.is_ascii() || s.chars().any(|c| c.is_ascii_whitespace() || c.is_ascii_control()) {
        return Err(bad());
    }
    let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    if !local_ok || !domain_ok {
        return Err(bad());
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// Customer-chosen keyword (screen 3): NFKC; 4 to 32 characters counted as
/// chars (kanji/kana allowed); not all spaces; no control chars. Ok is the
/// normalised keyword.
///
/// Spaces at either end are dropped (they are invisible on the screen that
/// shows the keyword back, so the customer could not reproduce them); spaces
/// inside are kept.
pub fn keyword(s: &str) -> Result<String, String> {
    let folded = nfkc(s);
    let k = folded.trim();
    if k.is_empty() {
        return Err(required("キーワード"));
    }
    if k.chars().any(char::is_control) {
        return Err(KEYWORD_CHARS.to_owned());
    }
    if !(4..=32).contains(&k.chars().count()) {
        return Err(KEYWORD_LENGTH.to_owned());
    }
    Ok(k.to_owned())
}

/// Passwords seen most often in public breach lists, lower-cased, keeping
/// only those long enough to pass the length rule (shorter ones are refused
/// by it anyway), plus a few patterns common among Japanese users.
const COMMON_PASSWORDS: &[&str] = &[
    "0000000000",
    "0123456789",
    "01234567890",
    "0987654321",
    "1111111111",
    "11111111111",
    "111111111111",
    "1111122222",
    "1122334455",
    "1212121212",
    "1231231231",
    "123123123123",
    "1234512345",
    "123456123456",
    "1234567890",
    "12345678901",
    "123456789012",
    "1234567890a",
    "1234567891",
    "12345678910",
    "1234567899",
    "123456789a",
    "123456789q",
    "1234qwerasdf",
    "1357924680",
    "1q2w3e4r5t",
    "1q2w3e4r5t6y",
    "1q2w3e4r5t6y7u",
    "1q2w3e4r5t6y7u8i",
    "1qaz2wsx3edc",
    "1qaz2wsx3edc4rfv",
    "1qazxsw23edc",
    "2222222222",
    "3333333333",
    "4444444444",
    "5555555555",
    "6666666666",
    "7777777777",
    "8888888888",
    "9876543210",
    "987654321a",
    "9999999999",
    "a123456789",
    "a1b2c3d4e5",
    "aaaaaaaaaa",
    "abc1234567",
    "abcd123456",
    "abcde12345",
    "abcdefg123",
    "abcdefghij",
    "admin12345",
    "admin123456",
    "administrator",
    "asdfasdfasdf",
    "asdfghjkl1",
    "asdfghjkl123",
    "baseball123",
    "changeme123",
    "computer123",
    "doraemon123",
    "dragon12345",
    "football123",
    "iloveyou12",
    "iloveyou123",
    "iloveyou1234",
    "internet123",
    "letmein123",
    "letmein1234",
    "monkey12345",
    "p@ssw0rd123",
    "p@ssword123",
    "passw0rd123",
    "password00",
    "password01",
    "password1!",
    "password12",
    "password123",
    "password1234",
    "password12345",
    "password123456",
    "password@123",
    "passwordpassword",
    "pokemon123",
    "princess123",
    "q1w2e3r4t5",
    "q1w2e3r4t5y6",
    "qazwsx123456",
    "qazwsxedcrfv",
    "qwerty12345",
    "qwerty123456",
    "qwerty1234",
    "qwerty123!",
    "qwertyqwerty",
    "qwertyuiop",
    "qwertyuiop123",
    "starwars123",
    "sunshine123",
    "superman123",
    "welcome123",
    "welcome1234",
    "whatever123",
    "zaq12wsxcde3",
    "zxcvbnm123",
];

/// Case- and width-insensitive form for comparing passwords with the user ID
/// and the common list: `ＰＡＳＳＷＯＲＤ１２３４` is as weak as `password1234`.
fn fold(s: &str) -> String {
    nfkc(s).to_lowercase()
}

/// Password: counted in characters (chars after NFC is fine), 10 to 128
/// chars; no composition rules; rejected if equal (case-insensitive) to the
/// user ID or to its local part, or in a built-in list of common passwords
/// or among the breached ones of [`crate::common_passwords`] (compared
/// after NFKC and lower-casing); no control characters. Ok(()) or
/// Err(message).
pub fn password(password: &str, user_id: &str) -> Result<(), String> {
    let p: String = password.nfc().collect();
    if p.is_empty() {
        return Err(required("パスワード"));
    }
    if p.chars().any(char::is_control) {
        return Err(PASSWORD_CHARS.to_owned());
    }
    if !(10..=128).contains(&p.chars().count()) {
        return Err(PASSWORD_LENGTH.to_owned());
    }
    let folded = fold(&p);
    let id = fold(user_id.trim());
    let local = id.rsplit_once('@').map(|(local, _)| local);
    if !id.is_empty() && (folded == id || local.is_some_and(|l| !l.is_empty() && folded == l)) {
        return Err(PASSWORD_USER_ID.to_owned());
    }
    if COMMON_PASSWORDS.contains(&folded.as_str()) || crate::common_passwords::contains(&folded) {
        return Err(PASSWORD_COMMON.to_owned());
    }
    Ok(())
}

/// Phone: NFKC, hyphens/parentheses/spaces removed, ASCII digits only, 10 or
/// 11 digits starting with 0.
///
/// An international form (`+81 90-1234-5678`, `+81 (0)3 1234 5678`) is
/// turned into the domestic one.
pub fn phone(s: &str) -> Result<String, String> {
    let digits: String = normalise(s)
        .chars()
        .filter(|&c| !is_hyphen(c) && c != '(' && c != ')')
        .collect();
    if digits.is_empty() {
        return Err(required("電話番号"));
    }
    let digits = match digits.strip_prefix("+81") {
        Some(rest) => format!("0{}", rest.strip_prefix('0').unwrap_or(rest)),
        None => digits,
    };
    let ok = (10..=11).contains(&digits.len())
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(digits)
    } else {
        Err(PHONE_FORMAT.to_owned())
    }
}

/// Postal code: NFKC, optional hyphen (also ー/－ which NFKC may not fold:
/// handle 'ー' U+30FC and '−' U+2212 and '‐' U+2010 as hyphens too), exactly
/// 7 digits; Ok is "1000004".
///
/// The hyphen, when there is one, must stand after the third digit, and a
/// leading postal mark 〒 is ignored.
pub fn postal_code(s: &str) -> Result<String, String> {
    let s = normalise(s);
    let s = s.strip_prefix('〒').unwrap_or(&s);
    if s.is_empty() {
        return Err(required("郵便番号"));
    }
    let chars: Vec<char> = s.chars().collect();
    let digits: String = match chars.as_slice() {
        d if d.len() == 7 => d.iter().collect(),
        [a, b, c, h, rest @ ..] if is_hyphen(*h) && rest.len() == 4 => {
            [*a, *b, *c].iter().chain(rest).collect()
        }
        _ => String::new(),
    };
    if digits.len() == 7 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(POSTAL_CODE_FORMAT.to_owned())
    }
}

/// Kana name: NFKC (folds half-width katakana to full-width), spaces removed;
/// hiragana converted to katakana (U+3041..=U+3096 +0x60); then only
/// full-width katakana U+30A1..=U+30FA, 'ー' U+30FC, 'ヽヾ' allowed; 1..=30
/// chars.
pub fn kana_name(s: &str) -> Result<String, String> {
    kana_name_as(s, "フリガナ")
}

fn kana_name_as(s: &str, label: &str) -> Result<String, String> {
    let s = normalise(s);
    if s.is_empty() {
        return Err(required(label));
    }
    let kana: String = s
        .chars()
        .map(|c| match c {
            // Hiragana and its iteration marks ゝゞ sit 0x60 below their
            // katakana counterparts.
            '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => {
                char::from_u32(u32::from(c) + 0x60).unwrap_or(c)
            }
            _ => c,
        })
        .collect();
    let allowed = |c: char| matches!(c, '\u{30A1}'..='\u{30FA}' | '\u{30FC}' | '\u{30FD}' | '\u{30FE}');
    if !kana.chars().all(allowed) {
        return Err(format!("{label}は全角カタカナで入力してください。"));
    }
    if kana.chars().count() > NAME_MAX {
        return Err(format!("{label}は{NAME_MAX}文字以内で入力してください。"));
    }
    Ok(kana)
}

/// Kanji name: NFKC, spaces removed, 1..=30 chars, no ASCII digits or
/// symbols/control chars (letters of any script allowed: kanji, kana, latin
/// letters, '々', 'ー', '・').
///
/// Ideographic variation selectors are kept, so that a name registered with
/// a specific glyph form (葛󠄀) matches as registered.
pub fn kanji_name(s: &str) -> Result<String, String> {
    kanji_name_as(s, "お名前")
}

fn kanji_name_as(s: &str, label: &str) -> Result<String, String> {
    let s = normalise(s);
    if s.is_empty() {
        return Err(required(label));
    }
    let allowed = |c: char| {
        c.is_alphabetic()
            || matches!(c, '々' | 'ー' | '・' | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
    };
    if !s.chars().all(allowed) {
        return Err(format!("{label}に使用できない文字が含まれています。"));
    }
    if s.chars().count() > NAME_MAX {
        return Err(format!("{label}は{NAME_MAX}文字以内で入力してください。"));
    }
    Ok(s)
}

/// Policy number: NFKC, hyphens and spaces removed, upper-cased ASCII; 8 to
/// 20 characters of A-Z0-9.
pub fn policy_number(s: &str) -> Result<String, String> {
    let s: String = normalise(s)
        .chars()
        .filter(|&c| !is_hyphen(c))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if s.is_empty() {
        return Err(required("証券番号"));
    }
    if (8..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        Ok(s)
    } else {
        Err(POLICY_NUMBER_FORMAT.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Date = Date {
        year: 2026,
        month: 11,
        day: 25,
    };

    fn date(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn normalise_folds_width_and_removes_spaces() {
        assert_eq!(normalise("  山田　太郎 "), "山田太郎");
        assert_eq!(normalise("ＡＢＣ　１２３"), "ABC123");
        assert_eq!(normalise("\tﾔﾏﾀﾞ ﾀﾛｳ\n"), "ヤマダタロウ");
        assert_eq!(normalise(""), "");
    }

    #[test]
    fn normalise_joins_a_voiced_mark_typed_apart() {
        // U+309B decomposes under NFKC to a space and the combining mark.
        assert_eq!(normalise("カ゛"), "ガ");
    }

    #[test]
    fn birth_date_formats() {
        let want = Ok(date(1985, 4, 1));
        for typed in [
            "1985-04-01",
            "1985/4/1",
            "1985/04/01",
            "1985.4.1",
            "1985年4月1日",
            "1985年04月01日",
            "1985年4月1",
            "19850401",
            "１９８５年４月１日",
            "１９８５／０４／０１",
            "１９８５０４０１",
            "1985－04－01",
            "1985ー04ー01",
            " 1985 年 4 月 1 日 ",
            "昭和60年4月1日",
            "昭和６０年４月１日",
            "昭和60/4/1",
            "㍼60年4月1日",
        ] {
            assert_eq!(birth_date(typed, TODAY), want, "{typed}");
        }
    }

    #[test]
    fn birth_date_eras() {
        assert_eq!(birth_date("平成元年1月8日", TODAY), Ok(date(1989, 1, 8)));
        assert_eq!(birth_date("昭和64年1月7日", TODAY), Ok(date(1989, 1, 7)));
        assert_eq!(birth_date("令和元年5月1日", TODAY), Ok(date(2019, 5, 1)));
        assert_eq!(birth_date("平成31年4月30日", TODAY), Ok(date(2019, 4, 30)));
        assert_eq!(birth_date("大正15年12月24日", TODAY), Ok(date(1926, 12, 24)));
        assert_eq!(birth_date("明治33年1月1日", TODAY), Ok(date(1900, 1, 1)));
        // Outside the era named.
        for typed in [
            "昭和64年1月8日",
            "平成元年1月7日",
            "平成31年5月1日",
            "令和元年4月30日",
            "昭和0年1月1日",
            "明治32年12月31日",
        ] {
            assert_eq!(
                birth_date(typed, TODAY),
                Err(BIRTH_DATE_FORMAT.to_owned()),
                "{typed}"
            );
        }
    }

    #[test]
    fn birth_date_leap_days() {
        assert_eq!(birth_date("2000-02-29", TODAY), Ok(date(2000, 2, 29)));
        assert_eq!(birth_date("1996年2月29日", TODAY), Ok(date(1996, 2, 29)));
        for typed in ["2001-02-29", "1900-02-29", "2001/2/29", "20010229"] {
            assert_eq!(
                birth_date(typed, TODAY),
                Err(BIRTH_DATE_FORMAT.to_owned()),
                "{typed}"
            );
        }
    }

    #[test]
    fn birth_date_rejects_malformed() {
        for typed in [
            "1985-13-01",
            "1985-04-31",
            "1985-00-10",
            "1985-04-00",
            "1985/04-01",
            "85/4/1",
            "1985年4月",
            "1985-4-1日",
            "1985年4月1日生",
            "198504011",
            "1985041",
            "1899-12-31",
            "元年4月1日",
            "1985/４/１x",
            "April 1 1985",
        ] {
            assert_eq!(
                birth_date(typed, TODAY),
                Err(BIRTH_DATE_FORMAT.to_owned()),
                "{typed}"
            );
        }
    }

    #[test]
    fn birth_date_today_and_future() {
        assert_eq!(birth_date("2026-11-25", TODAY), Ok(TODAY));
        assert_eq!(birth_date("2026-11-26", TODAY), Err(BIRTH_DATE_FUTURE.to_owned()));
        assert_eq!(
            birth_date("2030年1月1日", TODAY),
            Err(BIRTH_DATE_FUTURE.to_owned())
        );
    }

    #[test]
    fn birth_date_empty() {
        assert_eq!(
            birth_date(" 　", TODAY),
            Err("生年月日を入力してください。".to_owned())
        );
    }

    #[test]
    fn email_accepts_and_normalises() {
        assert_eq!(email(" taro@example.co.jp "), Ok("taro@example.co.jp".to_owned()));
        assert_eq!(
            email("Taro.Yamada@Example.CO.JP"),
            Ok("Taro.Yamada@example.co.jp".to_owned())
        );
        assert_eq!(
            email("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏ．ｊｐ"),
            Ok("taro@example.co.jp".to_owned())
        );
        assert_eq!(
            email("taro+tag@mail-1.example.com"),
            Ok("taro+tag@mail-1.example.com".to_owned())
        );
        // Carrier addresses that break RFC 5322's dot rules still exist.
        assert_eq!(
            email("taro..yamada.@docomo.ne.jp"),
            Ok("taro..yamada.@docomo.ne.jp".to_owned())
        );
    }

    #[test]
    fn email_rejects() {
        let bad = Err(EMAIL_FORMAT.to_owned());
        for typed in [
            "taro",
            "taro@",
            "@example.com",
            "taro@example",
            "taro@@example.com",
            "taro@exa@mple.com",
            "taro yamada@example.com",
            "taro@example .com",
            "太郎@example.com",
            "taro@例え.jp",
            "taro@.example.com",
            "taro@example..com",
            "taro@example.com.",
            "taro@-example.com",
            "taro@example-.com",
            "taro@example.123",
            "ta(ro)@example.com",
            "ta\"ro@example.com",
            "taro@exa_mple.com",
            "ta\u{7}ro@example.com",
        ] {
            assert_eq!(email(typed), bad, "{typed}");
        }
        assert_eq!(email("  "), Err("メールアドレスを入力してください。".to_owned()));
    }

    #[test]
    fn email_lengths() {
        let local64 = "a".repeat(64);
        assert!(email(&format!("{local64}@example.com")).is_ok());
        assert!(email(&format!("{}@example.com", "a".repeat(65))).is_err());
        // 64 + 1 + 189 = 254 characters.
        let domain189 = format!("{}.{}.{}.com", "b".repeat(60), "c".repeat(60), "d".repeat(63));
        assert_eq!(domain189.len(), 189);
        assert!(email(&format!("{local64}@{domain189}")).is_ok());
        assert!(email(&format!("{local64}@e{domain189}")).is_err());
    }

    #[test]
    fn keyword_rules() {
        assert_eq!(keyword("さくら咲く"), Ok("さくら咲く".to_owned()));
        assert_eq!(keyword("ａｂｃｄ"), Ok("abcd".to_owned()));
        assert_eq!(keyword("ｻｸﾗｻｸ"), Ok("サクラサク".to_owned()));
        assert_eq!(keyword("  夏の 海  "), Ok("夏の 海".to_owned()));
        assert_eq!(keyword("abcd"), Ok("abcd".to_owned()));
        assert_eq!(keyword(&"あ".repeat(32)), Ok("あ".repeat(32)));
        assert_eq!(keyword("abc"), Err(KEYWORD_LENGTH.to_owned()));
        assert_eq!(keyword("春夏秋"), Err(KEYWORD_LENGTH.to_owned()));
        assert_eq!(keyword(&"あ".repeat(33)), Err(KEYWORD_LENGTH.to_owned()));
        assert_eq!(keyword("    "), Err("キーワードを入力してください。".to_owned()));
        assert_eq!(
            keyword("　　　　"),
            Err("キーワードを入力してください。".to_owned())
        );
        assert_eq!(keyword("ab\u{0}cd"), Err(KEYWORD_CHARS.to_owned()));
        assert_eq!(keyword("ab\ncd"), Err(KEYWORD_CHARS.to_owned()));
    }

    #[test]
    fn password_length() {
        assert_eq!(password("correct horse", "taro@example.com"), Ok(()));
        assert_eq!(password("aB3$xY9!qZ", "taro@example.com"), Ok(()));
        assert_eq!(
            password("aB3$xY9!q", "taro@example.com"),
            Err(PASSWORD_LENGTH.to_owned())
        );
        // Counted in characters, not bytes.
        assert_eq!(password("あいうえおかきくけこ", "taro@example.com"), Ok(()));
        assert_eq!(
            password("あいうえおかきくけ", "taro@example.com"),
            Err(PASSWORD_LENGTH.to_owned())
        );
        assert_eq!(password(&"x".repeat(128), "taro@example.com"), Ok(()));
        assert_eq!(
            password(&"x".repeat(129), "taro@example.com"),
            Err(PASSWORD_LENGTH.to_owned())
        );
        // Decomposed kana count as the composed characters they are.
        let decomposed = "か\u{3099}".repeat(10);
        assert_eq!(decomposed.chars().count(), 20);
        assert_eq!(password(&decomposed, "taro@example.com"), Ok(()));
        assert_eq!(
            password("", "taro@example.com"),
            Err("パスワードを入力してください。".to_owned())
        );
    }

    #[test]
    fn password_not_user_id() {
        let same = Err(PASSWORD_USER_ID.to_owned());
        assert_eq!(
            password("taro.yamada@example.com", "taro.yamada@example.com"),
            same
        );
        assert_eq!(
            password("TARO.YAMADA@EXAMPLE.COM", "taro.yamada@example.com"),
            same
        );
        assert_eq!(password("Taro.Yamada", "taro.yamada@example.com"), same);
        assert_eq!(
            password("ｔａｒｏ．ｙａｍａｄａ", "taro.yamada@example.com"),
            same
        );
        assert_eq!(password("taro.yamada1", "taro.yamada@example.com"), Ok(()));
    }

    #[test]
    fn password_not_common() {
        let common = Err(PASSWORD_COMMON.to_owned());
        for typed in [
            "password1234",
            "PassWord1234",
            "qwertyuiop",
            "1234567890",
            "password123",
            "iloveyou12",
            "ＱＷＥＲＴＹＵＩＯＰ",
        ] {
            assert_eq!(password(typed, "taro@example.com"), common, "{typed}");
        }
        assert!(COMMON_PASSWORDS.len() >= 100);
        for p in COMMON_PASSWORDS {
            assert_eq!(*p, p.to_lowercase(), "{p} must be stored lower-cased");
            assert!(p.chars().count() >= 10, "{p} is refused by length already");
        }
    }

    #[test]
    fn breached_passwords_are_refused_in_any_case_or_width() {
        let common = Err(PASSWORD_COMMON.to_owned());
        for typed in [
            "Password123!",
            "passw0rd12",
            "ＰＡＳＳＷ０ＲＤ１２",
            "Iloveyou123",
            "QWERTYUIOP1",
            "0000000000",
            "1qaz2wsx3edc",
            "qwerty123456",
        ] {
            assert_eq!(password(typed, "taro@example.com"), common, "{typed}");
        }
    }

    #[test]
    fn random_long_passphrases_are_accepted() {
        // Fixed pseudo-random passphrases (splitmix64 over a syllable
        // table): none is anyone's common password.
        const SYLLABLES: [&str; 16] = [
            "ka", "mi", "to", "re", "su", "no", "ha", "ze", "ru", "po", "ya", "gu", "fe", "lo", "wi", "dan",
        ];
        let mut state = 0x5EED_u64;
        for _ in 0..200 {
            let mut phrase = String::new();
            for word in 0..4 {
                if word > 0 {
                    phrase.push('-');
                }
                for _ in 0..3 {
                    state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    phrase.push_str(SYLLABLES[(z >> 60) as usize]);
                }
            }
            assert_eq!(password(&phrase, "taro@example.com"), Ok(()), "{phrase}");
        }
        assert_eq!(
            password("紫陽花の咲く坂道で待ち合わせ", "taro@example.com"),
            Ok(())
        );
    }

    #[test]
    fn password_no_control_chars() {
        assert_eq!(
            password("abcdefghij\u{7}", "taro@example.com"),
            Err(PASSWORD_CHARS.to_owned())
        );
        assert_eq!(
            password("abcde\tfghij", "taro@example.com"),
            Err(PASSWORD_CHARS.to_owned())
        );
    }

    #[test]
    fn phone_forms() {
        for (typed, want) in [
            ("03-1234-5678", "0312345678"),
            ("０３－１２３４－５６７８", "0312345678"),
            ("(03)1234-5678", "0312345678"),
            ("（０３）１２３４ー５６７８", "0312345678"),
            ("090 1234 5678", "09012345678"),
            ("090−1234−5678", "09012345678"),
            ("09012345678", "09012345678"),
            ("+81 90-1234-5678", "09012345678"),
            ("+81(0)3-1234-5678", "0312345678"),
        ] {
            assert_eq!(phone(typed), Ok(want.to_owned()), "{typed}");
        }
        for typed in [
            "312345678",
            "1234567890",
            "031234567",
            "090123456789",
            "03-1234-567a",
            "+1 555 123 4567",
            "03.1234.5678",
        ] {
            assert_eq!(phone(typed), Err(PHONE_FORMAT.to_owned()), "{typed}");
        }
        assert_eq!(phone("--"), Err("電話番号を入力してください。".to_owned()));
    }

    #[test]
    fn postal_code_forms() {
        for typed in [
            "100-0004",
            "1000004",
            "１００－０００４",
            "１０００００４",
            "100ー0004",
            "100−0004",
            "100‐0004",
            "100ｰ0004",
            "〒100-0004",
            " 100 - 0004 ",
        ] {
            assert_eq!(postal_code(typed), Ok("1000004".to_owned()), "{typed}");
        }
        for typed in [
            "100-004",
            "10000045",
            "1000-004",
            "100--0004",
            "abc-defg",
            "100_0004",
            "10-00004",
        ] {
            assert_eq!(postal_code(typed), Err(POSTAL_CODE_FORMAT.to_owned()), "{typed}");
        }
        assert_eq!(postal_code(""), Err("郵便番号を入力してください。".to_owned()));
    }

    #[test]
    fn kana_name_forms() {
        assert_eq!(kana_name("ヤマダ"), Ok("ヤマダ".to_owned()));
        assert_eq!(kana_name("ﾔﾏﾀﾞ"), Ok("ヤマダ".to_owned()));
        assert_eq!(kana_name("やまだ"), Ok("ヤマダ".to_owned()));
        assert_eq!(kana_name("ヤマ ダ"), Ok("ヤマダ".to_owned()));
        assert_eq!(kana_name("さゝき"), Ok("サヽキ".to_owned()));
        assert_eq!(kana_name("ゔぃくとりー"), Ok("ヴィクトリー".to_owned()));
        assert_eq!(kana_name("ｺｰﾋｰ"), Ok("コーヒー".to_owned()));
        assert_eq!(kana_name(&"ア".repeat(30)), Ok("ア".repeat(30)));
    }

    #[test]
    fn kana_name_rejects() {
        let bad = Err("フリガナは全角カタカナで入力してください。".to_owned());
        for typed in ["山田", "Yamada", "ヤマダ1", "ヤマダ・タロウ", "ヤマダ-", "ｱﾞ"] {
            assert_eq!(kana_name(typed), bad, "{typed}");
        }
        assert_eq!(
            kana_name(&"ア".repeat(31)),
            Err("フリガナは30文字以内で入力してください。".to_owned())
        );
        assert_eq!(kana_name("　"), Err("フリガナを入力してください。".to_owned()));
    }

    #[test]
    fn kanji_name_forms() {
        assert_eq!(kanji_name("山田"), Ok("山田".to_owned()));
        assert_eq!(kanji_name(" 佐々木 "), Ok("佐々木".to_owned()));
        assert_eq!(kanji_name("ｽﾐｽ・ｼﾞｮﾝ"), Ok("スミス・ジョン".to_owned()));
        assert_eq!(kanji_name("Ｓｍｉｔｈ"), Ok("Smith".to_owned()));
        assert_eq!(kanji_name("ジョン ー"), Ok("ジョンー".to_owned()));
        assert_eq!(kanji_name("〆木"), Ok("〆木".to_owned()));
        assert_eq!(kanji_name("葛\u{E0100}城"), Ok("葛\u{E0100}城".to_owned()));
        assert_eq!(kanji_name(&"山".repeat(30)), Ok("山".repeat(30)));
    }

    #[test]
    fn kanji_name_rejects() {
        let bad = Err("お名前に使用できない文字が含まれています。".to_owned());
        for typed in [
            "山田1",
            "山田１",
            "山田!",
            "山田@",
            "山\u{0}田",
            "<script>",
            "山田-",
        ] {
            assert_eq!(kanji_name(typed), bad, "{typed}");
        }
        assert_eq!(
            kanji_name(&"山".repeat(31)),
            Err("お名前は30文字以内で入力してください。".to_owned())
        );
        assert_eq!(kanji_name(""), Err("お名前を入力してください。".to_owned()));
    }

    #[test]
    fn policy_number_forms() {
        for (typed, want) in [
            ("AB12345678", "AB12345678"),
            ("ab-1234-5678", "AB12345678"),
            ("ＡＢ１２３４５６７８", "AB12345678"),
            ("ａｂ－１２３４ ５６７８", "AB12345678"),
            ("12345678", "12345678"),
            ("12345678901234567890", "12345678901234567890"),
        ] {
            assert_eq!(policy_number(typed), Ok(want.to_owned()), "{typed}");
        }
        for typed in [
            "1234567",
            "123456789012345678901",
            "AB12_34567",
            "証券12345678",
            "AB1234567Ä",
        ] {
            assert_eq!(
                policy_number(typed),
                Err(POLICY_NUMBER_FORMAT.to_owned()),
                "{typed}"
            );
        }
        assert_eq!(
            policy_number(" - "),
            Err("証券番号を入力してください。".to_owned())
        );
    }

    fn good_input() -> CustomerInput {
        CustomerInput {
            family_name: "山田".into(),
            given_name: "太郎".into(),
            family_name_kana: "ﾔﾏﾀﾞ".into(),
            given_name_kana: "たろう".into(),
            birth_date: "１９８５年４月１日".into(),
            phone: "090-1234-5678".into(),
            postal_code: "100ー0004".into(),
            policy_number: "ab-1234-5678".into(),
        }
    }

    #[test]
    fn customer_normalises_everything() {
        assert_eq!(
            customer(&good_input(), TODAY),
            Ok(Identity {
                family_name: "山田".into(),
                given_name: "太郎".into(),
                family_name_kana: "ヤマダ".into(),
                given_name_kana: "タロウ".into(),
                birth_date: date(1985, 4, 1),
                phone: "09012345678".into(),
                postal_code: "1000004".into(),
                policy_number: "AB12345678".into(),
            })
        );
    }

    #[test]
    fn customer_reports_all_errors_at_once_in_screen_order() {
        let input = CustomerInput {
            family_name: "".into(),
            given_name: "太郎1".into(),
            family_name_kana: "山田".into(),
            given_name_kana: "".into(),
            birth_date: "2001-02-29".into(),
            phone: "12345".into(),
            postal_code: "100".into(),
            policy_number: "x".into(),
        };
        let errors = customer(&input, TODAY).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "family-name",
                "given-name",
                "family-name-kana",
                "given-name-kana",
                "birth-date",
                "phone",
                "postal-code",
                "policy-number"
            ]
        );
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "お名前（姓）を入力してください。",
                "お名前（名）に使用できない文字が含まれています。",
                "フリガナ（セイ）は全角カタカナで入力してください。",
                "フリガナ（メイ）を入力してください。",
                BIRTH_DATE_FORMAT,
                PHONE_FORMAT,
                POSTAL_CODE_FORMAT,
                POLICY_NUMBER_FORMAT,
            ]
        );
    }

    #[test]
    fn customer_single_error() {
        let input = CustomerInput {
            birth_date: "2027-01-01".into(),
            ..good_input()
        };
        assert_eq!(
            customer(&input, TODAY),
            Err(vec![FieldError::new("birth-date", BIRTH_DATE_FUTURE)])
        );
    }

    #[test]
    fn customer_all_empty() {
        let errors = customer(&CustomerInput::default(), TODAY).unwrap_err();
        assert_eq!(errors.len(), 8);
        assert!(
            errors.iter().all(|e| e.message.ends_with("を入力してください。")),
            "{errors:?}"
        );
    }
}
