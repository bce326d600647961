//! A harness over the wasmtime host: typed calls into the component, on
//! the in-memory or the SQLite backends, or composed with the Spin adapter
//! on a stand-in for Spin's host, with the host's clock in hand.

pub mod spin;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use customer_web_host::bindings::Plugin;
use customer_web_host::bindings::exports::customer_web::plugin::account::{
    Handover, HandoverClaim, HomeScreen, SignInError,
};
use customer_web_host::bindings::exports::customer_web::plugin::enrollment::{MailSent, Summary};
use customer_web_host::bindings::exports::customer_web::plugin::link::{LinkStatus, Verified};
use customer_web_host::bindings::exports::customer_web::plugin::recovery::Started;
use customer_web_host::bindings::exports::customer_web::plugin::types::Contract;
use customer_web_host::bindings::exports::customer_web::plugin::types::{
    CustomerInput, FlowError, SessionGrant,
};
use customer_web_host::ctx::HostCtx;
use customer_web_host::directory::FileDirectory;
use customer_web_host::mail::QueuedMessage;
use customer_web_host::{Capabilities, HostOptions, PluginHost};
use customer_web_testkit::MovableClock;
use customer_web_testkit::spin::{Relay, SpinState};

pub const KEYWORD: &str = "さくら2026";
pub const PASSWORD: &str = "correct horse battery";
pub const CONTACT: &str = "taro@example.jp";

/// Which capability backends a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Memory,
    Sqlite,
    /// The component composed with the Spin adapter as `spin up` composes
    /// it from `spin.toml`, on `customer_web_testkit::spin`'s stand-in for
    /// Spin's host (SQLite file, variables from the manifest's defaults,
    /// outgoing HTTP to a recording relay).
    Spin,
}

pub struct Harness {
    pub host: Arc<PluginHost>,
    /// The clock the component and the capabilities read.
    pub time: MovableClock,
    /// The Spin app's database and relay, on [`Backend::Spin`]; the
    /// capability reads below go there instead of the host's capabilities.
    pub spin: Option<SpinApp>,
    _dir: Option<tempfile::TempDir>,
}

/// What a Spin-backed harness reads: the adapter's database and the relay
/// outgoing HTTP requests reach.
pub struct SpinApp {
    pub db: spin::SpinDb,
    pub relay: Relay,
}

/// Compiled code is cached here, so each test compiles the component once
/// per build, not once per test.
fn cache_dir() -> PathBuf {
    crate::target_tmp().join("wasmtime-cache")
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
        let time = MovableClock::new();
        let (caps, dir) = match backend {
            Backend::Spin => return Self::on_spin(&[], options),
            Backend::Memory => (Capabilities::in_memory_on(time.clock()), None),
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let caps = Capabilities::sqlite_on(
                    dir.path(),
                    std::sync::Arc::new(FileDirectory::sample()),
                    time.clock(),
                )
                .expect("SQLite capabilities");
                (caps, Some(dir))
            }
        };
        Harness {
            host: Arc::new(
                PluginHost::new(customer_web_host::plugin::EMBEDDED_COMPONENT, caps, options).expect("host"),
            ),
            time,
            spin: None,
            _dir: dir,
        }
    }

    /// [`Backend::Spin`] with these application variables set over
    /// `spin.toml`'s defaults (as `spin up --variable name=value` would).
    pub fn on_spin(overrides: &[(&str, &str)], options: HostOptions) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut values = spin::variable_defaults();
        for (name, value) in overrides {
            assert!(
                values.contains_key(*name),
                "spin.toml declares no variable {name}"
            );
            values.insert(name.to_string(), value.to_string());
        }
        // Where `spin up` keeps the default database: .spin/sqlite_db.db.
        let database = dir.path().join("sqlite_db.db");
        let time = MovableClock::new();
        let state = SpinState {
            clock: time.clock(),
            ..SpinState::new(database.clone(), spin::component_variables(&values))
        };
        let relay = state.relay.clone();
        Harness {
            host: Arc::new(
                customer_web_testkit::spin::host(spin::composed(), state, options).expect("Spin stand-in"),
            ),
            time,
            spin: Some(SpinApp {
                db: spin::SpinDb::new(database),
                relay,
            }),
            _dir: Some(dir),
        }
    }

    /// Typed calls into a host made elsewhere (e.g. one a server serves),
    /// whose capabilities read `time`.
    pub fn over(host: Arc<PluginHost>, time: MovableClock) -> Self {
        Harness {
            host,
            time,
            spin: None,
            _dir: None,
        }
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
        self.time.advance(Duration::from_secs(seconds));
    }

    pub fn now(&self) -> u64 {
        self.host.capabilities().clock.now()
    }

    /// Every mail queued so far, oldest first.
    pub fn mails(&self) -> Vec<QueuedMessage> {
        if let Some(spin) = &self.spin {
            return spin.db.mails();
        }
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
        if let Some(spin) = &self.spin {
            return spin.db.versions(self.now());
        }
        self.housekeeping().versions().expect("storage")
    }

    pub fn count(&self, prefix: &str) -> usize {
        if let Some(spin) = &self.spin {
            return spin.db.count_prefix(prefix, self.now());
        }
        self.housekeeping()
            .count_prefix(prefix)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .expect("storage")
    }

    fn housekeeping(&self) -> &dyn customer_web_host::storage::SharedHousekeeping {
        self.host
            .capabilities()
            .housekeeping
            .as_deref()
            .expect("the host's stores all have housekeeping")
    }

    pub fn audit_kinds(&self) -> Vec<String> {
        if let Some(spin) = &self.spin {
            return spin.db.audit_kinds();
        }
        let events = self.host.capabilities().audit.recent(10_000).expect("audit");
        events.into_iter().map(|e| e.kind).collect()
    }

    /// `GET path` through the component's `wasi:http/incoming-handler`, as
    /// `serve` hands a request over: status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        use http_body_util::BodyExt;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let request = hyper::Request::get(format!("http://127.0.0.1:3000{path}"))
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .expect("request");
        let host = self.host.clone();
        runtime.block_on(async move {
            let (respond, response) = tokio::sync::oneshot::channel();
            let call = tokio::task::spawn_blocking(move || {
                host.handle_http(
                    request,
                    wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http,
                    respond,
                )
            });
            let response = response.await.expect("an answer").expect("a response");
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.expect("the body").to_bytes();
            call.await.expect("joined").expect("handled");
            (status, String::from_utf8(body.to_vec()).expect("UTF-8"))
        })
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
        self.send_enrollment_mail(contact);
        link_token(&self.last_mail())
    }

    /// Enrollment up to the mail with the link, sent to `contact`.
    pub fn send_enrollment_mail(&self, contact: &str) {
        let flow = self.start(Some("AG001")).expect("start");
        self.submit_customer(&flow, &yamada(), &terms())
            .expect("customer");
        self.submit_contact(&flow, KEYWORD, contact).expect("contact");
        self.confirm(&flow).expect("confirm");
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

/// Defines one test per backend (memory, SQLite, Spin) from a function
/// taking a `Harness`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[test] fn $name() { super::$name(&$crate::common::Harness::new($crate::common::Backend::Memory)) } )*
        }
        mod sqlite {
            $( #[test] fn $name() { super::$name(&$crate::common::Harness::new($crate::common::Backend::Sqlite)) } )*
        }
        mod spin {
            $( #[test] fn $name() { super::$name(&$crate::common::Harness::new($crate::common::Backend::Spin)) } )*
        }
    };
}
