//! Plain records shared by the flows and the ports. They mirror the WIT
//! types of `wit/types.wit`, `wit/directory.wit` and `wit/config.wit`; the
//! guest converts between the two at its edge.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (UTC).
pub type Timestamp = u64;

/// A calendar date without time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Date {
    /// Year, e.g. 1985.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of month, 1 to 31.
    pub day: u8,
}

/// What a customer types on screen 2, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInput {
    /// Family name (kanji).
    pub family_name: String,
    /// Given name (kanji).
    pub given_name: String,
    /// Family name in katakana.
    pub family_name_kana: String,
    /// Given name in katakana.
    pub given_name_kana: String,
    /// Date of birth as typed.
    pub birth_date: String,
    /// Phone number as typed.
    pub phone: String,
    /// Postal code as typed.
    pub postal_code: String,
    /// Policy number (証券番号) as typed.
    pub policy_number: String,
}

/// Identity fields after normalisation and validation, as the directory
/// matches them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Family name, NFKC, without spaces.
    pub family_name: String,
    /// Given name, NFKC, without spaces.
    pub given_name: String,
    /// Family name, full-width katakana.
    pub family_name_kana: String,
    /// Given name, full-width katakana.
    pub given_name_kana: String,
    /// Date of birth.
    pub birth_date: Date,
    /// Phone number, ASCII digits only.
    pub phone: String,
    /// Postal code, seven ASCII digits.
    pub postal_code: String,
    /// Policy number, upper-case ASCII letters and digits.
    pub policy_number: String,
}

/// One input field that failed validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Field name in kebab-case, as in the WIT record (`birth-date`).
    pub field: String,
    /// Message in Japanese for the customer.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// A policyholder the directory knows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policyholder {
    /// The insurer's customer number.
    pub customer_id: String,
    /// Display name.
    pub display_name: String,
}

/// One contract of a policyholder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contract {
    /// Policy number (証券番号).
    pub policy_number: String,
    /// Product name.
    pub product: String,
    /// What is insured.
    pub subject: String,
    /// Last day of cover.
    pub expiry_date: Date,
    /// Whether it can be renewed online now.
    pub renewable: bool,
}

/// The deploying portal's settings (see `wit/config.wit`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Insurer name in mail.
    pub insurer_name: String,
    /// From address of mail.
    pub sender_address: String,
    /// Name of the help desk.
    pub desk_name: String,
    /// Help desk phone number.
    pub desk_phone: String,
    /// Help desk opening hours.
    pub desk_hours: String,
    /// Public base URL, no trailing slash.
    pub base_url: String,
    /// Terms-of-use version in force.
    pub terms_version: String,
    /// Link lifetime, seconds.
    pub link_lifetime: u64,
    /// Unfinished flow lifetime, seconds.
    pub flow_lifetime: u64,
    /// Session idle timeout, seconds.
    pub session_idle: u64,
    /// Session absolute lifetime, seconds.
    pub session_absolute: u64,
    /// Mails allowed per address per hour.
    pub mails_per_hour: u32,
    /// The portal's renewal URL, where the browser POSTs the hand-over.
    pub renewal_url: String,
    /// What the portal presents to redeem a hand-over over HTTP; none:
    /// no redemption over HTTP.
    #[serde(default)]
    pub handover_secret: Option<crate::secret::SharedSecret>,
}

impl Default for Settings {
    /// The settings of the seed leaflet, for local runs.
    fn default() -> Self {
        Self {
            insurer_name: "三井住友海上".into(),
            sender_address: "no-reply@example.co.jp".into(),
            desk_name: "インターネットデスク".into(),
            desk_phone: "0120-000-000".into(),
            desk_hours: "月曜日～金曜日（祝日・年末年始を除く）9:00～17:00".into(),
            base_url: "http://127.0.0.1:3000".into(),
            terms_version: "2026-04".into(),
            link_lifetime: 48 * 3600,
            flow_lifetime: 2 * 3600,
            session_idle: 30 * 60,
            session_absolute: 12 * 3600,
            mails_per_hour: 5,
            renewal_url: "http://127.0.0.1:3000/_dev/renewal".into(),
            handover_secret: None,
        }
    }
}

/// A finished mail message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Recipient.
    pub to: String,
    /// Subject, plain UTF-8.
    pub subject: String,
    /// Body, plain UTF-8, `\n` line ends.
    pub text: String,
    /// What it is for: `enrollment-link`, `recovery-link`,
    /// `enrollment-unverified`.
    pub kind: String,
}
