//! One request in progress through the screens: what the browser sent
//! (query, form, cookies), the service it reaches, and what the answer
//! will set (cookies, headers, the CSRF token of its forms).

use customer_web_core::FlowError;
use customer_web_core::Service;
use customer_web_core::model::{Settings, Timestamp};
use customer_web_core::ports::Ports;
use customer_web_core::secret::Token;
use http::HeaderMap;

use crate::layer::csrf_field;
use crate::pages::Layout;
use crate::wire::{self, Form, is_token_shape};

/// The cookie holding the enrollment flow id (screens 2 to 4).
pub(crate) const FLOW_COOKIE: &str = "cw_flow";
/// The cookie holding the token of a sealed keyword ([`crate::seal`]).
pub(crate) const DISPLAY_COOKIE: &str = "cw_display";
/// The cookie holding the credentials ticket won at a link (screens 8, 9).
pub(crate) const TICKET_COOKIE: &str = "cw_ticket";
/// The cookie holding the session id.
pub(crate) const SESSION_COOKIE: &str = "cw_session";
/// The CSRF cookie: the secret every form's `csrf` field is derived from
/// ([`csrf_field`]).
pub(crate) const CSRF_COOKIE: &str = "cw_csrf";
/// The form field carrying the CSRF cookie bound to the session.
pub(crate) const CSRF_FIELD: &str = "csrf";

/// One request in progress: the service, what the browser sent, and what
/// the answer will set.
pub(crate) struct Ctx<'a> {
    pub(crate) ports: Ports<'a>,
    pub(crate) service: Service<'a>,
    /// The query string, decoded (empty if it is malformed).
    pub(crate) query: Form,
    /// The body of a POST, decoded (by the layer, once it has passed the
    /// checks of every POST).
    pub(crate) form: Form,
    cookies: Vec<(String, String)>,
    pub(crate) set_cookies: Vec<(&'static str, String)>,
    /// Headers of this answer beyond those every answer carries
    /// (`retry-after`, `allow`).
    pub(crate) extra_headers: HeaderMap,
    /// The browser's CSRF cookie as this answer leaves it.
    csrf: Option<String>,
    /// The session cookie as this answer leaves it, when the answer sets
    /// or ends it (empty: ended).
    session_after: Option<String>,
    /// Link pages must not tell the next site their URL.
    pub(crate) no_referrer: bool,
    /// An origin the renewal form may be redirected to.
    pub(crate) form_action_origin: Option<String>,
}

impl<'a> Ctx<'a> {
    /// A request with these headers and query string, before its body is
    /// read.
    pub(crate) fn new(ports: Ports<'a>, headers: &HeaderMap, query: Option<&str>) -> Self {
        Ctx {
            ports,
            service: Service::new(ports).for_client(&wire::client_address(headers)),
            query: Form::parse(query.unwrap_or_default().as_bytes()).unwrap_or_default(),
            form: Form::default(),
            cookies: wire::cookies(headers),
            set_cookies: Vec::new(),
            extra_headers: HeaderMap::new(),
            csrf: None,
            session_after: None,
            no_referrer: false,
            form_action_origin: None,
        }
    }

    /// The settings in force.
    pub(crate) fn settings(&self) -> Result<&Settings, FlowError> {
        self.service.settings()
    }

    /// The current time.
    pub(crate) fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    /// A cookie the browser sent, under the name it travels as
    /// ([`wire::is_wire_cookie_name`]): a bare-named cookie on an HTTPS
    /// service could have been planted by another host, and is not read.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        let secure = self.secure();
        self.cookies
            .iter()
            .find(|(n, _)| wire::is_wire_cookie_name(n, name, secure))
            .map(|(_, v)| v.as_str())
    }

    /// A cookie holding a token; anything not shaped like one is absent.
    pub(crate) fn token_cookie(&self, name: &str) -> Option<Token> {
        self.cookie(name)
            .filter(|v| is_token_shape(v))
            .map(Token::from_caller)
    }

    /// Cookies are `Secure` unless the service runs on the developer's own
    /// machine; if the settings cannot be read, they are `Secure`.
    fn secure(&self) -> bool {
        self.settings()
            .map(|s| !wire::is_local_base_url(&s.base_url))
            .unwrap_or(true)
    }

    /// The session cookie the browser sent, if it has a token's shape
    /// (else empty): what the CSRF field is bound to.
    pub(crate) fn session_cookie(&self) -> &str {
        self.cookie(SESSION_COOKIE)
            .filter(|c| is_token_shape(c))
            .unwrap_or("")
    }

    /// Sets a cookie (replacing one set earlier in this answer).
    pub(crate) fn set_cookie(&mut self, name: &'static str, value: &str, max_age: Option<u64>) {
        if name == SESSION_COOKIE {
            let kept = max_age != Some(0) && is_token_shape(value);
            self.session_after = Some(if kept { value.to_owned() } else { String::new() });
        }
        let header = wire::set_cookie(name, value, max_age, self.secure());
        self.set_cookies.retain(|(n, _)| *n != name);
        self.set_cookies.push((name, header));
    }

    /// Ends a cookie the browser holds.
    pub(crate) fn clear_cookie(&mut self, name: &'static str) {
        if self.cookie(name).is_some() {
            self.set_cookie(name, "", Some(0));
        }
    }

    /// The CSRF field of the forms on this page: the browser's CSRF cookie
    /// (or a new one set now) bound to the session cookie as this answer
    /// leaves it.
    fn csrf_token(&mut self) -> String {
        let secret = match &self.csrf {
            Some(secret) => secret.clone(),
            None => {
                let secret = match self.cookie(CSRF_COOKIE).filter(|c| is_token_shape(c)) {
                    Some(existing) => existing.to_owned(),
                    None => {
                        let fresh = Token::generate(self.ports.rng).expose().to_owned();
                        self.set_cookie(CSRF_COOKIE, &fresh, None);
                        fresh
                    }
                };
                self.csrf = Some(secret.clone());
                secret
            }
        };
        let session = match &self.session_after {
            Some(after) => after.clone(),
            None => self.session_cookie().to_owned(),
        };
        csrf_field(&secret, &session)
    }

    /// A new CSRF token when the browser's standing changes (signed in),
    /// so a token planted before cannot be used after.
    pub(crate) fn rotate_csrf(&mut self) {
        let fresh = Token::generate(self.ports.rng).expose().to_owned();
        self.set_cookie(CSRF_COOKIE, &fresh, None);
        self.csrf = Some(fresh);
    }

    /// The layout around a screen.
    pub(crate) fn layout(&mut self) -> Layout {
        let csrf = self.csrf_token();
        Layout::new(self.service.settings_shared().ok(), csrf)
    }
}
