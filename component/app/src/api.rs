//! The JSON API beside the screens, for portals that draw their own pages:
//! the same flows, step for step, under `/api/v1/`.
//!
//! Every secret travels in a JSON body or in `Authorization: Bearer`, never
//! in a cookie or a URL: a browser cannot attach it to a request another
//! site makes, so there is no CSRF token to carry, and no access log holds
//! a flow id, link token or session. Request bodies must be
//! `application/json` with no unknown fields. Every answer is JSON with
//! `Cache-Control: no-store`; an error is
//! `{"error": code, "fields": [...]?, "attempts_left": n?, "retry_after": s?}`.
//! The routes and bodies are listed in README.md ("JSON API").

use customer_web_core::model::{CustomerInput, Date, FieldError};
use customer_web_core::ports::Ports;
use customer_web_core::records::LinkKind;
use customer_web_core::secret::Token;
use customer_web_core::{FlowError, Service, SignInError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use http::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};

use crate::wire::{self, is_token_shape};

/// Where the API lives.
pub(crate) const PREFIX: &str = "/api/";

/// An answer before the common headers are added.
struct Answer {
    status: u16,
    body: Option<Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self::with_status(200, body)
    }

    fn with_status(status: u16, body: Value) -> Self {
        Answer {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn no_content() -> Self {
        Answer {
            status: 204,
            body: None,
            headers: Vec::new(),
        }
    }

    fn error(status: u16, code: &str) -> Self {
        Self::with_status(status, json!({ "error": code }))
    }

    fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    fn field(mut self, name: &str, value: Value) -> Self {
        if let Some(Value::Object(map)) = &mut self.body {
            map.insert(name.to_owned(), value);
        }
        self
    }
}

/// The routes, each with the method it answers.
fn route(method: &Method, path: &str) -> Result<Step, Answer> {
    let (allowed, step) = match path {
        "/api/v1/enrollment" => ("POST", Step::StartEnrollment),
        "/api/v1/enrollment/customer" => ("POST", Step::SubmitCustomer),
        "/api/v1/enrollment/contact" => ("POST", Step::SubmitContact),
        "/api/v1/enrollment/review" => ("POST", Step::ReviewEnrollment),
        "/api/v1/enrollment/confirm" => ("POST", Step::ConfirmEnrollment),
        "/api/v1/link" => ("POST", Step::OpenLink),
        "/api/v1/link/keyword" => ("POST", Step::SubmitKeyword),
        "/api/v1/credentials" => ("POST", Step::SubmitCredentials),
        "/api/v1/credentials/review" => ("POST", Step::ReviewCredentials),
        "/api/v1/credentials/complete" => ("POST", Step::CompleteCredentials),
        "/api/v1/recovery" => ("POST", Step::StartRecovery),
        "/api/v1/session" => match *method {
            Method::DELETE => ("DELETE", Step::SignOut),
            _ => ("POST", Step::SignIn),
        },
        "/api/v1/home" => ("GET", Step::Home),
        "/api/v1/contracts" => ("GET", Step::Contracts),
        "/api/v1/renewal" => ("POST", Step::BeginRenewal),
        "/api/v1/handover/redeem" => ("POST", Step::RedeemHandover),
        _ => return Err(Answer::error(404, "not-found")),
    };
    if *method == allowed {
        Ok(step)
    } else {
        let allow = if path == "/api/v1/session" {
            "POST, DELETE"
        } else {
            allowed
        };
        Err(Answer::error(405, "method-not-allowed").header(ALLOW, HeaderValue::from_static(allow)))
    }
}

#[derive(Clone, Copy, Debug)]
enum Step {
    StartEnrollment,
    SubmitCustomer,
    SubmitContact,
    ReviewEnrollment,
    ConfirmEnrollment,
    OpenLink,
    SubmitKeyword,
    SubmitCredentials,
    ReviewCredentials,
    CompleteCredentials,
    StartRecovery,
    SignIn,
    SignOut,
    Home,
    Contracts,
    BeginRenewal,
    RedeemHandover,
}

/// Answers one request under [`PREFIX`], before the headers every answer
/// carries ([`crate::layer`]).
pub(crate) fn handle(
    ports: Ports<'_>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response<Vec<u8>> {
    let answer = match route(method, path) {
        Ok(step) => {
            let request = Call {
                service: Service::new(ports).for_client(&wire::client_address(headers)),
                now: ports.clock.now(),
                headers,
                body,
            };
            request.run(step).unwrap_or_else(|refused| refused)
        }
        Err(refused) => refused,
    };
    finish(answer)
}

/// A JSON answer for a request refused before it reached the API (too
/// large, or unreadable).
pub(crate) fn refused(status: StatusCode, code: &str) -> Response<Vec<u8>> {
    finish(Answer::error(status.as_u16(), code))
}

fn finish(answer: Answer) -> Response<Vec<u8>> {
    let mut response = Response::new(Vec::new());
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(value) = answer.body {
        *response.body_mut() = value.to_string().into_bytes();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    for (name, value) in answer.headers {
        response.headers_mut().insert(name, value);
    }
    response
}

/// One API call in progress.
struct Call<'a, 'r> {
    service: Service<'a>,
    now: u64,
    headers: &'r HeaderMap,
    body: &'r [u8],
}

/// Bodies of the requests. Unknown fields are refused, so a misspelt field
/// is an error rather than a value silently left out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartEnrollment {
    #[serde(default)]
    agent_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowOnly {
    flow: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitCustomer {
    flow: String,
    family_name: String,
    given_name: String,
    family_name_kana: String,
    given_name_kana: String,
    birth_date: String,
    phone: String,
    postal_code: String,
    policy_number: String,
    accepted_terms: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitContact {
    flow: String,
    keyword: String,
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkOnly {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitKeyword {
    token: String,
    keyword: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitCredentials {
    ticket: String,
    user_id: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketOnly {
    ticket: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRecovery {
    email: String,
    birth_date: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user_id: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BeginRenewal {
    policy_number: String,
}

#[derive(Serialize)]
struct CustomerView<'a> {
    family_name: &'a str,
    given_name: &'a str,
    family_name_kana: &'a str,
    given_name_kana: &'a str,
    birth_date: &'a str,
    phone: &'a str,
    postal_code: &'a str,
    policy_number: &'a str,
}

impl<'a> From<&'a CustomerInput> for CustomerView<'a> {
    fn from(c: &'a CustomerInput) -> Self {
        CustomerView {
            family_name: &c.family_name,
            given_name: &c.given_name,
            family_name_kana: &c.family_name_kana,
            given_name_kana: &c.given_name_kana,
            birth_date: &c.birth_date,
            phone: &c.phone,
            postal_code: &c.postal_code,
            policy_number: &c.policy_number,
        }
    }
}

fn kind_name(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Enrollment => "enrollment",
        LinkKind::Recovery => "recovery",
    }
}

fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

impl Call<'_, '_> {
    fn run(&self, step: Step) -> Result<Answer, Answer> {
        match step {
            Step::StartEnrollment => {
                let input: StartEnrollment = self.input()?;
                let flow = self
                    .service
                    .start_enrollment(input.agent_code.as_deref())
                    .map_err(flow_error)?;
                let settings = self.service.settings().map_err(flow_error)?;
                Ok(Answer::with_status(
                    201,
                    json!({
                        "flow": flow.expose(),
                        "terms_version": settings.terms_version,
                        "expires_at": self.now + settings.flow_lifetime,
                    }),
                ))
            }
            Step::SubmitCustomer => {
                let input: SubmitCustomer = self.input()?;
                let flow = flow_token(&input.flow)?;
                let customer = CustomerInput {
                    family_name: input.family_name,
                    given_name: input.given_name,
                    family_name_kana: input.family_name_kana,
                    given_name_kana: input.given_name_kana,
                    birth_date: input.birth_date,
                    phone: input.phone,
                    postal_code: input.postal_code,
                    policy_number: input.policy_number,
                };
                self.service
                    .submit_customer(&flow, &customer, &input.accepted_terms)
                    .map_err(flow_error)?;
                Ok(Answer::no_content())
            }
            Step::SubmitContact => {
                let input: SubmitContact = self.input()?;
                let flow = flow_token(&input.flow)?;
                self.service
                    .submit_contact(&flow, &input.keyword, &input.email)
                    .map_err(flow_error)?;
                Ok(Answer::no_content())
            }
            Step::ReviewEnrollment => {
                let input: FlowOnly = self.input()?;
                let flow = flow_token(&input.flow)?;
                let review = self.service.review_enrollment(&flow).map_err(flow_error)?;
                Ok(Answer::ok(json!({
                    "customer": CustomerView::from(&review.customer),
                    "email": review.email,
                    "terms_version": review.terms_version,
                })))
            }
            Step::ConfirmEnrollment => {
                let input: FlowOnly = self.input()?;
                let flow = flow_token(&input.flow)?;
                let sent = self.service.confirm_enrollment(&flow).map_err(flow_error)?;
                Ok(Answer::ok(json!({
                    "email": sent.email,
                    "link_expires_at": sent.link_expires_at,
                })))
            }
            Step::OpenLink => {
                let input: LinkOnly = self.input()?;
                let link = some_token(&input.token).ok_or_else(|| Answer::error(404, "link-unknown"))?;
                let status = self.service.open_link(&link).map_err(flow_error)?;
                Ok(Answer::ok(json!({
                    "kind": kind_name(status.kind),
                    "attempts_left": status.attempts_left,
                    "expires_at": status.expires_at,
                })))
            }
            Step::SubmitKeyword => {
                let input: SubmitKeyword = self.input()?;
                let link = some_token(&input.token).ok_or_else(|| Answer::error(404, "link-unknown"))?;
                let verified = self
                    .service
                    .submit_keyword(&link, &input.keyword)
                    .map_err(flow_error)?;
                Ok(Answer::ok(json!({
                    "kind": kind_name(verified.kind),
                    "ticket": verified.ticket.expose(),
                })))
            }
            Step::SubmitCredentials => {
                let input: SubmitCredentials = self.input()?;
                let ticket = flow_token(&input.ticket)?;
                self.service
                    .submit_credentials(&ticket, &input.user_id, &input.password)
                    .map_err(flow_error)?;
                Ok(Answer::no_content())
            }
            Step::ReviewCredentials => {
                let input: TicketOnly = self.input()?;
                let ticket = flow_token(&input.ticket)?;
                let user_id = self.service.review_credentials(&ticket).map_err(flow_error)?;
                Ok(Answer::ok(json!({ "user_id": user_id })))
            }
            Step::CompleteCredentials => {
                let input: TicketOnly = self.input()?;
                let ticket = flow_token(&input.ticket)?;
                let grant = self.service.complete_credentials(&ticket).map_err(flow_error)?;
                Ok(Answer::ok(json!({
                    "session": grant.session.expose(),
                    "expires_at": grant.expires_at,
                })))
            }
            Step::StartRecovery => {
                let input: StartRecovery = self.input()?;
                let started = self
                    .service
                    .start_recovery(&input.email, &input.birth_date)
                    .map_err(flow_error)?;
                Ok(Answer::ok(json!({
                    "keyword": started.keyword.expose(),
                    "link_expires_at": started.link_expires_at,
                })))
            }
            Step::SignIn => {
                let input: SignIn = self.input()?;
                match self.service.sign_in(&input.user_id, &input.password) {
                    Ok(grant) => Ok(Answer::ok(json!({
                        "session": grant.session.expose(),
                        "expires_at": grant.expires_at,
                    }))),
                    Err(SignInError::BadCredentials) => Err(Answer::error(401, "bad-credentials")),
                    Err(SignInError::RetryAfter(seconds)) => Err(retry_after(seconds)),
                    Err(SignInError::Unavailable(_)) => Err(unavailable()),
                }
            }
            Step::SignOut => {
                let session = self.session()?;
                self.service.sign_out(&session).map_err(flow_error)?;
                Ok(Answer::no_content())
            }
            Step::Home => {
                let session = self.session()?;
                match self.service.home(&session).map_err(flow_error)? {
                    Some(home) => Ok(Answer::ok(json!({
                        "display_name": home.display_name,
                        "user_id": home.user_id,
                        "session_expires_at": home.session_expires_at,
                    }))),
                    None => Err(unauthorized()),
                }
            }
            Step::Contracts => {
                let session = self.session()?;
                let contracts = match self.service.renewable_contracts(&session) {
                    Err(FlowError::UnknownFlow) => return Err(unauthorized()),
                    other => other.map_err(flow_error)?,
                };
                let list: Vec<Value> = contracts
                    .iter()
                    .map(|c| {
                        json!({
                            "policy_number": c.policy_number,
                            "product": c.product,
                            "subject": c.subject,
                            "expiry_date": iso_date(c.expiry_date),
                            "renewable": c.renewable,
                        })
                    })
                    .collect();
                Ok(Answer::ok(json!({ "contracts": list })))
            }
            Step::BeginRenewal => {
                let session = self.session()?;
                let input: BeginRenewal = self.input()?;
                let grant = match self.service.begin_renewal(&session, &input.policy_number) {
                    Err(FlowError::UnknownFlow) => return Err(unauthorized()),
                    other => other.map_err(flow_error)?,
                };
                Ok(Answer::ok(json!({
                    "url": grant.url,
                    "token": grant.token.expose(),
                    "expires_at": grant.expires_at,
                })))
            }
            Step::RedeemHandover => {
                self.portal()?;
                let input: LinkOnly = self.input()?;
                let handover =
                    some_token(&input.token).ok_or_else(|| Answer::error(404, "handover-unknown"))?;
                match self.service.redeem_handover(&handover).map_err(flow_error)? {
                    Some(claim) => Ok(Answer::ok(json!({
                        "customer_id": claim.customer_id,
                        "policy_number": claim.policy_number,
                        "agent_code": claim.agent_code,
                    }))),
                    None => Err(Answer::error(404, "handover-unknown")),
                }
            }
        }
    }

    /// The body, which must be a JSON object of exactly the fields `T` has.
    fn input<T: DeserializeOwned>(&self) -> Result<T, Answer> {
        let content_type = wire::header(self.headers, CONTENT_TYPE);
        let is_json = content_type
            .as_deref()
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(Answer::error(415, "unsupported-media-type"));
        }
        serde_json::from_slice(self.body).map_err(|e| {
            // Where the body went wrong, never what it held: it may hold a
            // password.
            let detail = match e.classify() {
                serde_json::error::Category::Data => "a field is missing, unknown or of the wrong type",
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => "not valid JSON",
                serde_json::error::Category::Io => "unreadable",
            };
            Answer::error(400, "bad-request").field(
                "detail",
                json!(format!("{detail} (line {}, column {})", e.line(), e.column())),
            )
        })
    }

    /// The portal's renewal procedure, by the shared secret it presents as
    /// `Authorization: Bearer` (compared in constant time). Without a
    /// configured secret nobody is.
    fn portal(&self) -> Result<(), Answer> {
        let settings = self.service.settings().map_err(flow_error)?;
        let authorization = wire::header(self.headers, AUTHORIZATION);
        let presented = authorization
            .as_deref()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match (&settings.handover_secret, presented) {
            (Some(secret), Some(presented)) if secret.matches(presented) => Ok(()),
            _ => Err(unauthorized()),
        }
    }

    /// The session named by `Authorization: Bearer`.
    fn session(&self) -> Result<Token, Answer> {
        wire::header(self.headers, AUTHORIZATION)
            .as_deref()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| is_token_shape(t))
            .map(Token::from_caller)
            .ok_or_else(unauthorized)
    }
}

/// A flow id or ticket from a body field; anything not shaped like one
/// names no flow.
fn flow_token(text: &str) -> Result<Token, Answer> {
    some_token(text).ok_or_else(|| Answer::error(404, "flow-unknown"))
}

/// A token, if the text has the shape of one.
fn some_token(text: &str) -> Option<Token> {
    is_token_shape(text).then(|| Token::from_caller(text))
}

fn unauthorized() -> Answer {
    Answer::error(401, "unauthorized").header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
}

fn unavailable() -> Answer {
    Answer::error(503, "unavailable").header(RETRY_AFTER, HeaderValue::from(30u64))
}

fn retry_after(seconds: u64) -> Answer {
    let seconds = seconds.max(1);
    Answer::error(429, "rate-limited")
        .field("retry_after", json!(seconds))
        .header(RETRY_AFTER, HeaderValue::from(seconds))
}

/// Field names of the core (`birth-date`) as the API spells them
/// (`birth_date`).
fn fields(errors: &[FieldError]) -> Value {
    errors
        .iter()
        .map(|e| json!({ "field": e.field.replace('-', "_"), "message": e.message }))
        .collect()
}

/// How each refusal of the flow core reads in the API.
fn flow_error(error: FlowError) -> Answer {
    match error {
        FlowError::InvalidInput(errors) => {
            Answer::error(422, "invalid-input").field("fields", fields(&errors))
        }
        FlowError::UnknownFlow => Answer::error(404, "flow-unknown"),
        FlowError::FlowExpired => Answer::error(410, "flow-expired"),
        FlowError::WrongStep(state) => Answer::error(409, "wrong-step").field("state", json!(state)),
        FlowError::LinkUnknown => Answer::error(404, "link-unknown"),
        FlowError::LinkSpent => Answer::error(410, "link-spent"),
        FlowError::LinkExpired => Answer::error(410, "link-expired"),
        FlowError::LinkBurnt => Answer::error(410, "link-burnt"),
        FlowError::WrongKeyword(left) => {
            Answer::error(422, "wrong-keyword").field("attempts_left", json!(left))
        }
        FlowError::UserIdUnavailable => Answer::error(409, "user-id-unavailable"),
        FlowError::AlreadyRegistered => Answer::error(409, "already-registered"),
        FlowError::RateLimited(seconds) => retry_after(seconds),
        FlowError::Unavailable(_) => unavailable(),
    }
}
