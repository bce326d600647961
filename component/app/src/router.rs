//! The screens' router: which screen answers a path and method. The
//! checks every POST passes first are the layer's ([`crate::layer`]).

use http::Method;

use crate::context::Ctx;
use crate::responses::Reply;
use crate::screens;

/// The paths the screens answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
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

/// A request the router has placed: the screen's route, and whether it
/// is a POST (which the layer checks before [`dispatch`]).
pub(crate) struct Placed {
    pub(crate) route: Route,
    pub(crate) post: bool,
}

/// Finds the route of a path and method; a path no screen answers is 404,
/// a method its screen does not take 405.
pub(crate) fn place(ctx: &mut Ctx<'_>, method: &Method, path: &str) -> Result<Placed, Reply> {
    let Some(route) = Route::parse(path) else {
        return Err(ctx.not_found());
    };
    if let Route::Link(_) = route {
        ctx.no_referrer = true;
    }
    let (get, post) = route.methods();
    let is_get = method == Method::GET || method == Method::HEAD;
    let is_post = method == Method::POST;
    if !(is_get && get || is_post && post) {
        return Err(ctx.method_not_allowed(route.allow()));
    }
    Ok(Placed { route, post: is_post })
}

/// The screen of a placed request.
pub(crate) fn dispatch(ctx: &mut Ctx<'_>, placed: Placed) -> Reply {
    match (placed.route, placed.post) {
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
