//! The screens: askama templates (in `templates/`) and the records they
//! render. Everything shown is HTML-escaped by the templates.

use std::sync::Arc;

use askama::Template;
use customer_web_core::model::{FieldError, Settings};

/// The stylesheet, served at `/static/style.css`.
pub(crate) const STYLESHEET: &str = include_str!("../static/style.css");

/// The stylesheet's URL, with a fingerprint of the sheet in its query, so
/// a changed sheet gets a new URL and the long cache lifetime never serves
/// a stale one. Worked out at compile time.
const STYLESHEET_URL: &str = {
    match core::str::from_utf8(&STYLESHEET_URL_BYTES) {
        Ok(url) => url,
        Err(_) => panic!("the stylesheet URL is ASCII"),
    }
};

const STYLESHEET_URL_BYTES: [u8; 36] = {
    const PATH: &[u8; 20] = b"/static/style.css?v=";
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let fingerprint = fnv1a(STYLESHEET.as_bytes());
    let mut url = [0u8; 36];
    let mut i = 0;
    while i < PATH.len() {
        url[i] = PATH[i];
        i += 1;
    }
    // 16 hex digits, most significant first, as `{:016x}` writes them.
    let mut digit = 0;
    while digit < 16 {
        url[PATH.len() + digit] = HEX[((fingerprint >> (60 - 4 * digit)) & 15) as usize];
        digit += 1;
    }
    url
};

const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// What the base layout shows around every screen: the brand and the
/// desk from the settings (shared with the service, not copied), and the
/// CSRF token of the page's forms.
pub(crate) struct Layout {
    /// `None` when the settings could not be read: no brand, no desk.
    settings: Option<Arc<Settings>>,
    /// The desk phone as a `tel:` target (digits and `+` only).
    pub(crate) desk_tel: String,
    /// The CSRF token every form of the page carries.
    pub(crate) csrf: String,
    pub(crate) stylesheet: &'static str,
}

impl Layout {
    /// The layout of a deployment; `None` settings (the configuration
    /// could not be read) give a layout without brand or desk.
    pub(crate) fn new(settings: Option<Arc<Settings>>, csrf: String) -> Self {
        let phone = settings.as_deref().map_or("", |s| &s.desk_phone);
        let mut desk_tel = String::with_capacity(phone.len());
        desk_tel.extend(phone.chars().filter(|c| c.is_ascii_digit() || *c == '+'));
        Self {
            settings,
            desk_tel,
            csrf,
            stylesheet: STYLESHEET_URL,
        }
    }

    fn setting(&self, field: fn(&Settings) -> &String) -> &str {
        self.settings.as_deref().map_or("", |s| field(s))
    }

    pub(crate) fn insurer_name(&self) -> &str {
        self.setting(|s| &s.insurer_name)
    }

    pub(crate) fn desk_name(&self) -> &str {
        self.setting(|s| &s.desk_name)
    }

    pub(crate) fn desk_phone(&self) -> &str {
        self.setting(|s| &s.desk_phone)
    }

    pub(crate) fn desk_hours(&self) -> &str {
        self.setting(|s| &s.desk_hours)
    }
}

/// One input of a form.
pub(crate) struct Field {
    /// The input's `name` and `id`: the core's field name (`birth-date`).
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    /// The input type: `text`, `email`, `tel`, `password`, `checkbox`.
    pub(crate) kind: &'static str,
    pub(crate) autocomplete: &'static str,
    pub(crate) inputmode: &'static str,
    pub(crate) hint: &'static str,
    /// The value shown back (for a checkbox: the value it sends).
    pub(crate) value: String,
    pub(crate) checked: bool,
    pub(crate) required: bool,
    pub(crate) error: Option<String>,
}

impl Field {
    /// A required text input.
    pub(crate) fn new(name: &'static str, label: &'static str) -> Self {
        Self {
            name,
            label,
            kind: "text",
            autocomplete: "",
            inputmode: "",
            hint: "",
            value: String::new(),
            checked: false,
            required: true,
            error: None,
        }
    }

    pub(crate) fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }

    pub(crate) fn autocomplete(mut self, autocomplete: &'static str) -> Self {
        self.autocomplete = autocomplete;
        self
    }

    pub(crate) fn inputmode(mut self, inputmode: &'static str) -> Self {
        self.inputmode = inputmode;
        self
    }

    pub(crate) fn hint(mut self, hint: &'static str) -> Self {
        self.hint = hint;
        self
    }

    pub(crate) fn value(mut self, value: impl Into<String>) -> Self {
        self.value = value.into();
        self
    }

    pub(crate) fn checked(mut self, checked: bool) -> Self {
        self.checked = checked;
        self
    }

    /// The ids describing the input: its hint and its error.
    pub(crate) fn described_by(&self) -> Option<String> {
        let hint = !self.hint.is_empty() && self.kind != "checkbox";
        let error = self.error.is_some();
        if !hint && !error {
            return None;
        }
        let mut ids = String::with_capacity(2 * self.name.len() + 12);
        if hint {
            ids.push_str(self.name);
            ids.push_str("-hint");
        }
        if error {
            if hint {
                ids.push(' ');
            }
            ids.push_str(self.name);
            ids.push_str("-error");
        }
        Some(ids)
    }
}

/// One line of the error summary; `anchor` is the input it is about.
pub(crate) struct Alert {
    pub(crate) message: String,
    pub(crate) anchor: Option<String>,
}

/// A form's inputs and what went wrong with them.
#[derive(Default)]
pub(crate) struct FormView {
    pub(crate) fields: Vec<Field>,
    pub(crate) alerts: Vec<Alert>,
}

impl FormView {
    pub(crate) fn new(fields: Vec<Field>) -> Self {
        Self {
            fields,
            alerts: Vec::new(),
        }
    }

    /// Puts each message beside its input and in the summary. A message
    /// for a field the form does not show (an agent code from the entry
    /// link) goes to the summary only.
    pub(crate) fn with_errors(mut self, errors: &[FieldError]) -> Self {
        for e in errors {
            self.field_error(&e.field, &e.message);
        }
        self
    }

    /// One message for one field.
    pub(crate) fn field_error(&mut self, field: &str, message: &str) {
        let anchor = match self.fields.iter_mut().find(|f| f.name == field) {
            Some(f) => {
                f.error = Some(match f.error.take() {
                    Some(before) => format!("{before} {message}"),
                    None => message.to_owned(),
                });
                Some(f.name.to_owned())
            }
            None => None,
        };
        self.alerts.push(Alert {
            message: message.to_owned(),
            anchor,
        });
    }

    /// A message about the form as a whole.
    pub(crate) fn alert(mut self, message: impl Into<String>) -> Self {
        self.alerts.push(Alert {
            message: message.into(),
            anchor: None,
        });
        self
    }
}

/// A link on a message page.
pub(crate) struct Link {
    pub(crate) href: String,
    pub(crate) label: String,
}

impl Link {
    pub(crate) fn new(href: impl Into<String>, label: impl Into<String>) -> Self {
        Self {
            href: href.into(),
            label: label.into(),
        }
    }
}

/// A page that only says something: errors, ended links, start again.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub(crate) layout: Layout,
    pub(crate) heading: String,
    pub(crate) paragraphs: Vec<String>,
    pub(crate) links: Vec<Link>,
}

/// Top: the two entrances and sign-in.
#[derive(Template)]
#[template(path = "top.html")]
pub(crate) struct TopPage {
    pub(crate) layout: Layout,
    pub(crate) enroll_href: String,
    pub(crate) form: FormView,
}

/// Enrollment screen 2.
#[derive(Template)]
#[template(path = "enroll_customer.html")]
pub(crate) struct EnrollCustomerPage {
    pub(crate) layout: Layout,
    pub(crate) form: FormView,
    pub(crate) agent_code: String,
    pub(crate) terms_version: String,
}

/// Enrollment screen 3.
#[derive(Template)]
#[template(path = "enroll_contact.html")]
pub(crate) struct EnrollContactPage {
    pub(crate) layout: Layout,
    pub(crate) form: FormView,
}

/// Enrollment screen 4.
#[derive(Template)]
#[template(path = "enroll_review.html")]
pub(crate) struct EnrollReviewPage {
    pub(crate) layout: Layout,
    pub(crate) form: FormView,
    pub(crate) rows: Vec<(&'static str, String)>,
    pub(crate) keyword: String,
    pub(crate) email: String,
    pub(crate) terms_version: String,
}

/// Enrollment screen 5.
#[derive(Template)]
#[template(path = "enroll_sent.html")]
pub(crate) struct EnrollSentPage {
    pub(crate) layout: Layout,
    pub(crate) keyword: String,
    pub(crate) email: String,
    pub(crate) deadline: String,
}

/// Screen 7 (and recovery step 4).
#[derive(Template)]
#[template(path = "link_keyword.html")]
pub(crate) struct LinkKeywordPage {
    pub(crate) layout: Layout,
    pub(crate) form: FormView,
    pub(crate) recovery: bool,
    pub(crate) attempts_left: u32,
    pub(crate) deadline: String,
}

/// Screen 8 (and recovery step 5).
#[derive(Template)]
#[template(path = "credentials.html")]
pub(crate) struct CredentialsPage {
    pub(crate) layout: Layout,
    pub(crate) form: FormView,
    pub(crate) recovery: bool,
}

/// Screen 9.
#[derive(Template)]
#[template(path = "credentials_review.html")]
pub(crate) struct CredentialsReviewPage {
    pub(crate) layout: Layout,
    pub(crate) form: FormView,
    pub(crate) user_id: String,
    pub(crate) recovery: bool,
}

/// Screen 10 (and recovery step 6).
#[derive(Template)]
#[template(path = "complete.html")]
pub(crate) struct CompletePage {
    pub(crate) layout: Layout,
    pub(crate) recovery: bool,
}

/// Screen 11.
#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct HomePage {
    pub(crate) layout: Layout,
    pub(crate) display_name: String,
    pub(crate) user_id: String,
}

/// One renewable contract on screen 12.
pub(crate) struct ContractRow {
    pub(crate) policy_number: String,
    pub(crate) product: String,
    pub(crate) subject: String,
    pub(crate) expiry: String,
}

/// Screen 12.
#[derive(Template)]
#[template(path = "renewal.html")]
pub(crate) struct RenewalPage {
    pub(crate) layout: Layout,
    pub(crate) form: FormView,
    pub(crate) contracts: Vec<ContractRow>,
    pub(crate) error: Option<String>,
}

/// Screen 12's answer: the form that carries the hand-over to the portal
/// in a POST body (never in a URL).
#[derive(Template)]
#[template(path = "renewal_handover.html")]
pub(crate) struct HandoverPage {
    pub(crate) layout: Layout,
    pub(crate) policy_number: String,
    pub(crate) url: String,
    pub(crate) token: String,
    pub(crate) minutes: u64,
}

/// Recovery step 2.
#[derive(Template)]
#[template(path = "recover.html")]
pub(crate) struct RecoverPage {
    pub(crate) layout: Layout,
    pub(crate) form: FormView,
}

/// Recovery step 3.
#[derive(Template)]
#[template(path = "recover_keyword.html")]
pub(crate) struct RecoverKeywordPage {
    pub(crate) layout: Layout,
    pub(crate) keyword: String,
    pub(crate) email: String,
    pub(crate) deadline: String,
}

/// What is shown when a template cannot be rendered (it never should):
/// plain, self-contained, with nothing from the request.
pub(crate) const RENDER_FAILED: &str = "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>エラー</title></head>\
<body><main><h1>ただいま画面を表示できません</h1><p>しばらく時間をおいてから、もう一度お試しください。</p>\
<p><a href=\"/\">トップへ</a></p></main></body></html>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_url_carries_the_sheets_fingerprint_in_hex() {
        let fingerprint = fnv1a(STYLESHEET.as_bytes());
        assert_eq!(STYLESHEET_URL, format!("/static/style.css?v={fingerprint:016x}"));
    }

    fn message(layout: Layout) -> String {
        MessagePage {
            layout,
            heading: "見出し".into(),
            paragraphs: vec![],
            links: vec![],
        }
        .render()
        .unwrap()
    }

    #[test]
    fn the_footer_shows_the_desk_from_the_settings_and_calls_its_digits() {
        let settings = Settings {
            insurer_name: "A&B損保".into(),
            desk_name: "<デスク>".into(),
            desk_phone: "+81 (0120) 123-456".into(),
            desk_hours: "9:00～17:00".into(),
            ..Settings::default()
        };
        let html = message(Layout::new(Some(Arc::new(settings)), "token".into()));
        assert!(
            html.contains("<title>見出し｜A&#38;B損保 お客さまWebサービス</title>"),
            "{html}"
        );
        assert!(html.contains("<p>A&#38;B損保　&#60;デスク&#62;</p>"), "{html}");
        assert!(
            html.contains(r#"TEL：<a href="tel:+810120123456">+81 (0120) 123-456</a>（無料）"#),
            "{html}"
        );
        assert!(html.contains("<p>受付時間：9:00～17:00</p>"), "{html}");
    }

    #[test]
    fn a_phone_without_digits_is_shown_without_a_link() {
        let settings = Settings {
            desk_phone: "お近くの代理店へ".into(),
            ..Settings::default()
        };
        let html = message(Layout::new(Some(Arc::new(settings)), String::new()));
        assert!(html.contains("TEL：お近くの代理店へ（無料）"), "{html}");
        assert!(!html.contains("tel:"), "{html}");
    }

    #[test]
    fn without_settings_the_layout_shows_no_brand_and_no_desk() {
        let html = message(Layout::new(None, String::new()));
        assert!(
            html.contains("<title>見出し｜お客さまWebサービス</title>"),
            "{html}"
        );
        assert!(!html.contains("お問い合わせ先"), "{html}");
        assert!(!html.contains("class=\"insurer\""), "{html}");
    }
}
