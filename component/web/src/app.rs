//! One request through the screens: routing, the checks every POST passes
//! (size, content type, form encoding, CSRF), and the headers every answer
//! carries. The screens themselves are in [`crate::screens`].

use askama::Template;
use customer_web_core::model::{Settings, Timestamp};
use customer_web_core::ports::Ports;
use customer_web_core::secret::Token;
use customer_web_core::{FlowError, Service};
use sha2::{Digest, Sha256};

use crate::http::{self, CONTENT_SECURITY_POLICY, Form, Request, Response};
use crate::pages::{Layout, Link, MessagePage, RENDER_FAILED};
use crate::screens;

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

/// The stylesheet may be cached for a year: its URL changes with it.
const STYLESHEET_CACHE: &str = "public, max-age=31536000, immutable";

/// The paths the screens answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Route {
    Top,
    SignIn,
    SignOut,
    Enroll,
    EnrollContact,
    EnrollReview,
    EnrollConfirm,
    EnrollSent,
    Link(String),
    Credentials,
    CredentialsReview,
    CredentialsComplete,
    Complete,
    Home,
    Renewal,
    Recover,
    RecoverKeyword,
    Stylesheet,
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        Some(match path {
            "/" => Route::Top,
            "/signin" => Route::SignIn,
            "/signout" => Route::SignOut,
            "/enroll" => Route::Enroll,
            "/enroll/contact" => Route::EnrollContact,
            "/enroll/review" => Route::EnrollReview,
            "/enroll/confirm" => Route::EnrollConfirm,
            "/enroll/sent" => Route::EnrollSent,
            "/credentials" => Route::Credentials,
            "/credentials/review" => Route::CredentialsReview,
            "/credentials/complete" => Route::CredentialsComplete,
            "/complete" => Route::Complete,
            "/home" => Route::Home,
            "/renewal" => Route::Renewal,
            "/recover" => Route::Recover,
            "/recover/keyword" => Route::RecoverKeyword,
            "/static/style.css" => Route::Stylesheet,
            other => {
                let token = other.strip_prefix("/link/")?;
                if token.is_empty() || token.contains('/') {
                    return None;
                }
                Route::Link(token.to_owned())
            }
        })
    }

    /// (answers GET and HEAD, answers POST)
    fn methods(&self) -> (bool, bool) {
        match self {
            Route::SignIn | Route::SignOut | Route::EnrollConfirm | Route::CredentialsComplete => {
                (false, true)
            }
            Route::EnrollReview
            | Route::EnrollSent
            | Route::CredentialsReview
            | Route::Complete
            | Route::Home
            | Route::RecoverKeyword
            | Route::Stylesheet
            | Route::Top => (true, false),
            Route::Enroll
            | Route::EnrollContact
            | Route::Link(_)
            | Route::Credentials
            | Route::Renewal
            | Route::Recover => (true, true),
        }
    }

    fn allow(&self) -> &'static str {
        match self.methods() {
            (true, true) => "GET, HEAD, POST",
            (true, false) => "GET, HEAD",
            _ => "POST",
        }
    }
}

/// What a screen answers, before the common headers are added.
pub(crate) enum Reply {
    /// An HTML page.
    Page { status: u16, html: String },
    /// `303 See Other` to a path of this service.
    SeeOther(String),
    /// The stylesheet.
    Stylesheet,
}

/// Where a customer whose flow has ended can begin again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Again {
    /// Enrollment, from screen 2.
    Enroll,
    /// Recovery, from step 2.
    Recover,
    /// The top page.
    Top,
}

/// One request in progress: the service, what the browser sent, and what
/// the answer will set.
pub(crate) struct Ctx<'a> {
    pub(crate) ports: Ports<'a>,
    pub(crate) service: Service<'a>,
    /// The query string, decoded (empty if it is malformed).
    pub(crate) query: Form,
    /// The body of a POST, decoded.
    pub(crate) form: Form,
    cookies: Vec<(String, String)>,
    set_cookies: Vec<(&'static str, String)>,
    pub(crate) extra_headers: Vec<(String, String)>,
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

/// Answers one request. See [`crate::handle`].
pub(crate) fn handle(ports: Ports<'_>, request: Request) -> Response {
    let Request {
        method,
        path_and_query,
        headers,
        body,
    } = request;
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, q),
        None => (path_and_query.as_str(), ""),
    };
    if path.starts_with(crate::api::PREFIX) {
        return crate::api::handle(ports, &method, path, &headers, &body);
    }
    let mut ctx = Ctx {
        ports,
        service: Service::new(ports).for_client(&http::client_address(&headers)),
        query: Form::parse(query.as_bytes()).unwrap_or_default(),
        form: Form::default(),
        cookies: http::cookies(&headers),
        set_cookies: Vec::new(),
        extra_headers: Vec::new(),
        csrf: None,
        session_after: None,
        no_referrer: false,
        form_action_origin: None,
    };
    let head = method == "HEAD";
    let reply = route(&mut ctx, &method, path, &headers, &body);
    let cacheable = matches!(reply, Reply::Stylesheet);
    let mut response = ctx.finish(reply);
    if head {
        response.body.clear();
    }
    if !cacheable {
        response.headers.push(("cache-control".into(), "no-store".into()));
    }
    response
}

fn route(ctx: &mut Ctx<'_>, method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Reply {
    let Some(route) = Route::parse(path) else {
        return ctx.not_found();
    };
    if let Route::Link(_) = route {
        ctx.no_referrer = true;
    }
    let (get, post) = route.methods();
    let is_get = method == "GET" || method == "HEAD";
    let is_post = method == "POST";
    if !(is_get && get || is_post && post) {
        ctx.extra_headers.push(("allow".into(), route.allow().into()));
        return ctx.message(
            405,
            "この操作は受け付けられません",
            &["画面のボタンやリンクからお進みください。"],
            vec![Link::new("/", "トップへ")],
        );
    }
    if is_post && let Some(refused) = check_post(ctx, headers, body) {
        return refused;
    }
    match (route, is_post) {
        (Route::Stylesheet, _) => Reply::Stylesheet,
        (Route::Top, _) => screens::account::top(ctx),
        (Route::SignIn, _) => screens::account::sign_in(ctx),
        (Route::SignOut, _) => screens::account::sign_out(ctx),
        (Route::Home, _) => screens::account::home(ctx),
        (Route::Renewal, false) => screens::account::renewal(ctx),
        (Route::Renewal, true) => screens::account::begin_renewal(ctx),
        (Route::Enroll, false) => screens::enrollment::customer_form(ctx),
        (Route::Enroll, true) => screens::enrollment::submit_customer(ctx),
        (Route::EnrollContact, false) => screens::enrollment::contact_form(ctx),
        (Route::EnrollContact, true) => screens::enrollment::submit_contact(ctx),
        (Route::EnrollReview, _) => screens::enrollment::review(ctx),
        (Route::EnrollConfirm, _) => screens::enrollment::confirm(ctx),
        (Route::EnrollSent, _) => screens::enrollment::sent(ctx),
        (Route::Link(token), false) => screens::link::open(ctx, &token),
        (Route::Link(token), true) => screens::link::submit_keyword(ctx, &token),
        (Route::Credentials, false) => screens::credentials::form(ctx),
        (Route::Credentials, true) => screens::credentials::submit(ctx),
        (Route::CredentialsReview, _) => screens::credentials::review(ctx),
        (Route::CredentialsComplete, _) => screens::credentials::complete(ctx),
        (Route::Complete, _) => screens::credentials::completed(ctx),
        (Route::Recover, false) => screens::recovery::form(ctx),
        (Route::Recover, true) => screens::recovery::start(ctx),
        (Route::RecoverKeyword, _) => screens::recovery::keyword(ctx),
    }
}

/// The checks of every POST, in the order that tells the customer the most
/// useful thing; `Some` refuses the request before anything is changed.
fn check_post(ctx: &mut Ctx<'_>, headers: &[(String, String)], body: &[u8]) -> Option<Reply> {
    if body.len() > crate::MAX_BODY {
        return Some(ctx.message(
            413,
            "送信された内容が大きすぎます",
            &["入力内容を短くして、もう一度お試しください。"],
            vec![Link::new("/", "トップへ")],
        ));
    }
    if !http::is_form_content_type(http::header(headers, "content-type")) {
        return Some(ctx.message(
            415,
            "送信された内容を受け付けられません",
            &["画面のフォームから送信してください。"],
            vec![Link::new("/", "トップへ")],
        ));
    }
    match Form::parse(body) {
        Ok(form) => ctx.form = form,
        Err(_) => {
            return Some(ctx.message(
                400,
                "送信された内容を読み取れません",
                &["お手数ですが、画面を開き直してもう一度お試しください。"],
                vec![Link::new("/", "トップへ")],
            ));
        }
    }
    // Browsers say where a request comes from; a POST from anywhere but
    // this origin (another host of the same site included, which could
    // have planted a cookie and field pair) is refused before the token is
    // compared.
    let base_url = ctx.settings().ok().map(|s| s.base_url.clone());
    let ours = http::from_our_origin(headers, base_url.as_deref());
    let expected = ctx
        .cookie(CSRF_COOKIE)
        .filter(|c| is_token_shape(c))
        .map(|c| csrf_field(c, ctx.session_cookie()));
    let sent = ctx.form.get(CSRF_FIELD);
    if !ours || !expected.is_some_and(|e| http::same_secret(&e, sent)) {
        return Some(ctx.message(
            403,
            "この操作は受け付けられませんでした",
            &[
                "画面を表示してから時間がたったか、別の画面から送信された可能性があります。",
                "お手数ですが、画面を開き直してもう一度お試しください。",
            ],
            vec![Link::new("/", "トップへ")],
        ));
    }
    None
}

/// The value of the forms' CSRF field: the browser's CSRF cookie bound to
/// its session cookie (empty when signed out). A cookie and field pair
/// planted by someone else stops working once the customer signs in,
/// since the planter cannot know the session; and a field read off one
/// session's page is refused in another.
pub fn csrf_field(csrf_cookie: &str, session_cookie: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"customer-web csrf v1\0");
    hash.update(csrf_cookie.as_bytes());
    hash.update(b"\0");
    hash.update(session_cookie.as_bytes());
    hash.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a text has the shape of a [`Token`]: 22 characters of base64url.
pub(crate) fn is_token_shape(text: &str) -> bool {
    text.len() == 22
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl<'a> Ctx<'a> {
    /// The settings in force.
    pub(crate) fn settings(&self) -> Result<&Settings, FlowError> {
        self.service.settings()
    }

    /// The current time.
    pub(crate) fn now(&self) -> Timestamp {
        self.ports.clock.now()
    }

    /// A cookie the browser sent, under the name it travels as
    /// ([`http::wire_cookie_name`]): a bare-named cookie on an HTTPS
    /// service could have been planted by another host, and is not read.
    pub(crate) fn cookie(&self, name: &str) -> Option<&str> {
        let wire = http::wire_cookie_name(name, self.secure());
        self.cookies
            .iter()
            .find(|(n, _)| *n == wire)
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
            .map(|s| !http::is_local_base_url(&s.base_url))
            .unwrap_or(true)
    }

    /// The session cookie the browser sent, if it has a token's shape
    /// (else empty): what the CSRF field is bound to.
    fn session_cookie(&self) -> &str {
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
        let header = http::set_cookie(name, value, max_age, self.secure());
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
        Layout::new(self.settings().ok(), csrf)
    }

    /// Renders a page.
    pub(crate) fn render(&self, status: u16, page: &impl Template) -> Reply {
        match page.render() {
            // A page sent back with errors says so first in its title, the
            // first thing a screen reader reads of a new page.
            Ok(html) if status == 422 => Reply::Page {
                status,
                html: html.replacen("<title>", "<title>入力エラー：", 1),
            },
            Ok(html) => Reply::Page { status, html },
            Err(_) => Reply::Page {
                status: 500,
                html: RENDER_FAILED.to_owned(),
            },
        }
    }

    /// A page that only says something.
    pub(crate) fn message(
        &mut self,
        status: u16,
        heading: &str,
        paragraphs: &[&str],
        links: Vec<Link>,
    ) -> Reply {
        let page = MessagePage {
            layout: self.layout(),
            heading: heading.to_owned(),
            paragraphs: paragraphs.iter().map(|p| (*p).to_owned()).collect(),
            links,
        };
        self.render(status, &page)
    }

    /// 404.
    pub(crate) fn not_found(&mut self) -> Reply {
        self.message(
            404,
            "お探しのページが見つかりません",
            &["URLに誤りがないかご確認ください。"],
            vec![Link::new("/", "トップへ")],
        )
    }

    /// 503: a capability failed. What failed is for the host's log, not
    /// for the customer.
    pub(crate) fn unavailable(&mut self) -> Reply {
        self.extra_headers.push(("retry-after".into(), "30".into()));
        self.message(
            503,
            "ただいまサービスをご利用いただけません",
            &[
                "しばらく時間をおいてから、もう一度お試しください。",
                "繰り返し表示される場合は、お問い合わせ先までご連絡ください。",
            ],
            vec![Link::new("/", "トップへ")],
        )
    }

    /// The flow this browser was in has ended or was never there.
    pub(crate) fn start_again(&mut self, again: Again) -> Reply {
        let link = match again {
            Again::Enroll => Link::new("/enroll", "初めてご利用いただく方はこちら"),
            Again::Recover => Link::new("/recover", "ユーザーＩＤ・パスワードをお忘れの方はこちら"),
            Again::Top => Link::new("/", "トップへ"),
        };
        self.message(
            410,
            "お手続きを続けることができません",
            &[
                "お手続きの有効期限が切れたか、お手続きの情報が見つかりません。",
                "お手数ですが、最初からやり直してください。",
            ],
            vec![link],
        )
    }

    /// Too many mails to one address: say how long to wait.
    pub(crate) fn rate_limit_message(&mut self, seconds: u64) -> String {
        self.extra_headers
            .push(("retry-after".into(), seconds.max(1).to_string()));
        format!(
            "短い時間に続けてお手続きがあったため、受け付けを停止しています。{}ほどたってから、もう一度お試しください。",
            wait_words(seconds)
        )
    }

    /// A step refused for a reason the screen itself does not handle.
    pub(crate) fn failure(&mut self, error: FlowError, again: Again) -> Reply {
        match error {
            FlowError::Unavailable(_) => self.unavailable(),
            FlowError::UnknownFlow | FlowError::FlowExpired => self.start_again(again),
            FlowError::RateLimited(seconds) => {
                let text = self.rate_limit_message(seconds);
                self.message(
                    429,
                    "しばらくお待ちください",
                    &[&text],
                    vec![Link::new("/", "トップへ")],
                )
            }
            _ => self.message(
                409,
                "この操作は受け付けられませんでした",
                &["お手数ですが、画面を開き直してもう一度お試しください。"],
                vec![Link::new("/", "トップへ")],
            ),
        }
    }

    fn finish(self, reply: Reply) -> Response {
        let (status, content_type, body, location) = match reply {
            Reply::Page { status, html } => (status, "text/html; charset=utf-8", html.into_bytes(), None),
            Reply::SeeOther(location) => (303, "text/html; charset=utf-8", Vec::new(), Some(location)),
            Reply::Stylesheet => (
                200,
                "text/css; charset=utf-8",
                crate::pages::STYLESHEET.as_bytes().to_vec(),
                None,
            ),
        };
        let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
        if let Some(location) = location {
            headers.push(("location".into(), location));
        }
        if content_type.starts_with("text/css") {
            headers.push(("cache-control".into(), STYLESHEET_CACHE.into()));
        }
        let csp = match &self.form_action_origin {
            Some(origin) => {
                CONTENT_SECURITY_POLICY.replace("form-action 'self'", &format!("form-action 'self' {origin}"))
            }
            None => CONTENT_SECURITY_POLICY.to_owned(),
        };
        headers.push(("content-security-policy".into(), csp));
        headers.push(("x-content-type-options".into(), "nosniff".into()));
        headers.push(("x-frame-options".into(), "DENY".into()));
        let referrer = if self.no_referrer {
            "no-referrer"
        } else {
            "same-origin"
        };
        headers.push(("referrer-policy".into(), referrer.into()));
        headers.extend(self.extra_headers);
        headers.extend(
            self.set_cookies
                .into_iter()
                .map(|(_, value)| ("set-cookie".to_owned(), value)),
        );
        Response {
            status,
            headers,
            body,
        }
    }
}

/// A wait in words: minutes once it is a minute or more.
pub(crate) fn wait_words(seconds: u64) -> String {
    if seconds < 60 {
        format!("{}秒", seconds.max(1))
    } else {
        format!("{}分", seconds.div_ceil(60))
    }
}

/// The 413 answer, for the adapter to send before reading a body longer
/// than [`crate::MAX_BODY`]: JSON under the API, a page elsewhere.
pub(crate) fn payload_too_large(path: &str) -> Response {
    if is_api(path) {
        return crate::api::refused(413, "payload-too-large");
    }
    standalone_page(
        413,
        "送信された内容が大きすぎます",
        "入力内容を短くして、もう一度お試しください。",
    )
}

/// The 400 answer for a request whose body could not be read.
pub(crate) fn bad_request(path: &str) -> Response {
    if is_api(path) {
        return crate::api::refused(400, "bad-request");
    }
    standalone_page(
        400,
        "送信された内容を読み取れませんでした",
        "お手数ですが、もう一度お試しください。",
    )
}

fn is_api(path_and_query: &str) -> bool {
    path_and_query.starts_with(crate::api::PREFIX)
}

/// A page answered before any flow is looked at (the request could not
/// even be read), with the headers every page carries.
fn standalone_page(status: u16, heading: &str, paragraph: &str) -> Response {
    let page = MessagePage {
        layout: Layout::new(None, String::new()),
        heading: heading.into(),
        paragraphs: vec![paragraph.into()],
        links: vec![Link::new("/", "トップへ")],
    };
    let html = page.render().unwrap_or_else(|_| RENDER_FAILED.to_owned());
    let headers = [
        ("content-type", "text/html; charset=utf-8"),
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ];
    Response {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: html.into_bytes(),
    }
}
