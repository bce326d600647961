//! A harness over the wasmtime host: typed calls into the component, on
//! the in-memory or the SQLite backends, with the host's clock in hand.

#![allow(dead_code)] // each test binary uses part of it

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use customer_web_host::bindings::Plugin;
use customer_web_host::bindings::customer_web::plugin::directory::Contract;
use customer_web_host::bindings::customer_web::plugin::types::{CustomerInput, FlowError, SessionGrant};
use customer_web_host::bindings::exports::customer_web::plugin::account::{
    Handover, HandoverClaim, HomeScreen, SignInError,
};
use customer_web_host::bindings::exports::customer_web::plugin::enrollment::{MailSent, Summary};
use customer_web_host::bindings::exports::customer_web::plugin::link::{LinkStatus, Verified};
use customer_web_host::bindings::exports::customer_web::plugin::recovery::Started;
use customer_web_host::ctx::HostCtx;
use customer_web_host::directory::FileDirectory;
use customer_web_host::mail::QueuedMessage;
use customer_web_host::{Capabilities, HostOptions, PluginHost};

pub const KEYWORD: &str = "さくら2026";
pub const PASSWORD: &str = "correct horse battery";
pub const CONTACT: &str = "taro@example.jp";

/// Which capability backends a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Memory,
    Sqlite,
}

pub struct Harness {
    pub host: Arc<PluginHost>,
    _dir: Option<tempfile::TempDir>,
}

/// Compiled code is cached here, so each test compiles the component once
/// per build, not once per test.
fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasmtime-cache")
}

pub fn options() -> HostOptions {
    HostOptions {
        cache_dir: Some(cache_dir()),
        ..HostOptions::default()
    }
}

impl Harness {
    pub fn new(backend: Backend) -> Self {
        Self::with_options(backend, options())
    }

    pub fn with_options(backend: Backend, options: HostOptions) -> Self {
        let (caps, dir) = match backend {
            Backend::Memory => (Capabilities::in_memory(), None),
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let caps = Capabilities::sqlite(dir.path(), std::sync::Arc::new(FileDirectory::sample()))
                    .expect("SQLite capabilities");
                (caps, Some(dir))
            }
        };
        Harness {
            host: Arc::new(
                PluginHost::new(customer_web_host::plugin::EMBEDDED_COMPONENT, caps, options).expect("host"),
            ),
            _dir: dir,
        }
    }

    /// Typed calls into a host made elsewhere (e.g. one a server serves).
    pub fn over(host: Arc<PluginHost>) -> Self {
        Harness { host, _dir: None }
    }

    /// Runs `f` in a fresh instance, as every call does, and returns its
    /// result with the instance's peak linear memory in bytes.
    pub fn with_peak_memory<R>(
        &self,
        f: impl FnOnce(&Plugin, &mut wasmtime::Store<HostCtx>) -> wasmtime::Result<R>,
    ) -> (R, usize) {
        self.host
            .call(|p, s| {
                let result = f(p, s)?;
                Ok((result, s.data().peak_memory()))
            })
            .expect("no trap")
    }

    pub fn advance(&self, seconds: u64) {
        self.host
            .capabilities()
            .clock
            .advance(Duration::from_secs(seconds));
    }

    pub fn now(&self) -> u64 {
        self.host.capabilities().clock.now()
    }

    /// Every mail queued so far, oldest first.
    pub fn mails(&self) -> Vec<QueuedMessage> {
        let mut all = self.host.capabilities().outbox.list(10_000).expect("outbox");
        all.reverse();
        all
    }

    pub fn last_mail(&self) -> QueuedMessage {
        self.mails().pop().expect("a mail was queued")
    }

    /// Live storage keys and their versions: equal listings mean nothing
    /// was written in between.
    pub fn storage_versions(&self) -> Vec<(String, u64)> {
        self.host
            .capabilities()
            .store
            .versions(self.now())
            .expect("storage")
    }

    pub fn count(&self, prefix: &str) -> usize {
        self.host
            .capabilities()
            .store
            .count_prefix(prefix, self.now())
            .expect("storage")
    }

    pub fn audit_kinds(&self) -> Vec<String> {
        let events = self.host.capabilities().audit.recent(10_000).expect("audit");
        events.into_iter().map(|e| e.kind).collect()
    }

    // --- enrollment ------------------------------------------------------

    pub fn start(&self, agent: Option<&str>) -> Result<String, FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_enrollment().call_start(s, agent))
            .expect("no trap")
    }

    pub fn submit_customer(&self, flow: &str, c: &CustomerInput, terms: &str) -> Result<(), FlowError> {
        self.host
            .call(|p, s| {
                p.customer_web_plugin_enrollment()
                    .call_submit_customer(s, flow, c, terms)
            })
            .expect("no trap")
    }

    pub fn submit_contact(&self, flow: &str, keyword: &str, email: &str) -> Result<(), FlowError> {
        self.host
            .call(|p, s| {
                p.customer_web_plugin_enrollment()
                    .call_submit_contact(s, flow, keyword, email)
            })
            .expect("no trap")
    }

    pub fn review(&self, flow: &str) -> Result<Summary, FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_enrollment().call_review(s, flow))
            .expect("no trap")
    }

    pub fn confirm(&self, flow: &str) -> Result<MailSent, FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_enrollment().call_confirm(s, flow))
            .expect("no trap")
    }

    // --- link and credentials -------------------------------------------

    pub fn open_link(&self, token: &str) -> Result<LinkStatus, FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_link().call_open(s, token))
            .expect("no trap")
    }

    pub fn submit_keyword(&self, token: &str, keyword: &str) -> Result<Verified, FlowError> {
        self.host
            .call(|p, s| {
                p.customer_web_plugin_link()
                    .call_submit_keyword(s, token, keyword)
            })
            .expect("no trap")
    }

    pub fn submit_credentials(&self, ticket: &str, user_id: &str, password: &str) -> Result<(), FlowError> {
        self.host
            .call(|p, s| {
                p.customer_web_plugin_credentials()
                    .call_submit(s, ticket, user_id, password)
            })
            .expect("no trap")
    }

    pub fn review_credentials(&self, ticket: &str) -> Result<String, FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_credentials().call_review(s, ticket))
            .expect("no trap")
    }

    pub fn complete(&self, ticket: &str) -> Result<SessionGrant, FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_credentials().call_complete(s, ticket))
            .expect("no trap")
    }

    // --- recovery and account -------------------------------------------

    pub fn start_recovery(&self, email: &str, birth_date: &str) -> Result<Started, FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_recovery().call_start(s, email, birth_date))
            .expect("no trap")
    }

    pub fn sign_in(&self, user_id: &str, password: &str) -> Result<SessionGrant, SignInError> {
        self.host
            .call(|p, s| p.customer_web_plugin_account().call_sign_in(s, user_id, password))
            .expect("no trap")
    }

    pub fn sign_out(&self, session: &str) -> Result<(), FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_account().call_sign_out(s, session))
            .expect("no trap")
    }

    pub fn home(&self, session: &str) -> Result<Option<HomeScreen>, FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_account().call_home(s, session))
            .expect("no trap")
    }

    pub fn renewable_contracts(&self, session: &str) -> Result<Vec<Contract>, FlowError> {
        self.host
            .call(|p, s| {
                p.customer_web_plugin_account()
                    .call_renewable_contracts(s, session)
            })
            .expect("no trap")
    }

    pub fn begin_renewal(&self, session: &str, policy: &str) -> Result<Handover, FlowError> {
        self.host
            .call(|p, s| {
                p.customer_web_plugin_account()
                    .call_begin_renewal(s, session, policy)
            })
            .expect("no trap")
    }

    pub fn redeem_handover(&self, token: &str) -> Result<Option<HandoverClaim>, FlowError> {
        self.host
            .call(|p, s| p.customer_web_plugin_account().call_redeem_handover(s, token))
            .expect("no trap")
    }

    // --- composite steps --------------------------------------------------

    /// Screens 1–5 for the sample policyholder; returns the mailed link
    /// token (read out of the queued mail, as a customer would).
    pub fn mail_link(&self, contact: &str) -> String {
        let flow = self.start(Some("AG001")).expect("start");
        self.submit_customer(&flow, &yamada(), &terms())
            .expect("customer");
        self.submit_contact(&flow, KEYWORD, contact).expect("contact");
        self.confirm(&flow).expect("confirm");
        link_token(&self.last_mail())
    }

    /// A whole enrollment; returns the session.
    pub fn enroll(&self, user_id: &str) -> String {
        let token = self.mail_link(CONTACT);
        let verified = self.submit_keyword(&token, KEYWORD).expect("keyword");
        self.submit_credentials(&verified.ticket, user_id, PASSWORD)
            .expect("credentials");
        self.complete(&verified.ticket).expect("complete").session
    }
}

pub fn terms() -> String {
    customer_web_host::config::Settings::default().terms_version
}

/// The sample directory's 山田 太郎, typed as a customer on a phone would:
/// half-width kana, hiragana, full-width digits, hyphens.
pub fn yamada() -> CustomerInput {
    CustomerInput {
        family_name: "山田".into(),
        given_name: "太郎".into(),
        family_name_kana: "ﾔﾏﾀﾞ".into(),
        given_name_kana: "たろう".into(),
        birth_date: "１９８５年４月１日".into(),
        phone: "０９０-１２３４-５６７８".into(),
        postal_code: "100-0004".into(),
        policy_number: "A-123456789".into(),
    }
}

/// The one-time token in a mail's link line.
pub fn link_token(mail: &QueuedMessage) -> String {
    mail.message
        .text
        .lines()
        .find_map(|l| l.trim().split("/link/").nth(1))
        .unwrap_or_else(|| panic!("no link in mail of kind {}", mail.message.kind))
        .to_owned()
}

/// Defines one test per backend from a function taking a `Harness`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[test] fn $name() { super::$name(&$crate::common::Harness::new($crate::common::Backend::Memory)) } )*
        }
        mod sqlite {
            $( #[test] fn $name() { super::$name(&$crate::common::Harness::new($crate::common::Backend::Sqlite)) } )*
        }
    };
}
