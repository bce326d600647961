//! The top page, sign-in and sign-out, home (screen 11) and the choice of
//! a contract to renew (screen 12).

use customer_web_core::account::HANDOVER_LIFETIME;
use customer_web_core::model::{Date, FieldError};
use customer_web_core::{FlowError, SignInError};

use crate::context::{Ctx, SESSION_COOKIE};
use crate::pages::{ContractRow, Field, FormView, HandoverPage, HomePage, RenewalPage, TopPage};
use crate::responses::{Again, Reply};
use crate::wire::encode_component;

fn sign_in_fields(user_id: &str) -> Vec<Field> {
    vec![
        Field::new("user-id", "ユーザーID")
            .kind("email")
            .autocomplete("username")
            .value(user_id),
        Field::new("password", "パスワード")
            .kind("password")
            .autocomplete("current-password"),
    ]
}

fn render_top(ctx: &mut Ctx<'_>, status: u16, form: FormView) -> Reply {
    // The agent whose page linked here is carried on to enrollment.
    let agent = ctx.query.get("agent");
    let enroll_href = if agent.is_empty() {
        "/enroll".to_owned()
    } else {
        format!("/enroll?agent={}", encode_component(agent))
    };
    let page = TopPage {
        layout: ctx.layout(),
        enroll_href,
        form,
    };
    ctx.render(status, &page)
}

/// GET /: the two entrances and the sign-in form.
pub(crate) fn top(ctx: &mut Ctx<'_>) -> Reply {
    render_top(ctx, 200, FormView::new(sign_in_fields("")))
}

/// POST /signin.
pub(crate) fn sign_in(ctx: &mut Ctx<'_>) -> Reply {
    let user_id = ctx.form.get("user-id").to_owned();
    let password = ctx.form.get("password").to_owned();
    match ctx.service.sign_in(&user_id, &password) {
        Ok(grant) => {
            // A session this browser held before is ended, not left behind.
            if let Some(old) = ctx.token_cookie(SESSION_COOKIE) {
                let _ = ctx.service.sign_out(&old);
            }
            let max_age = grant.expires_at.saturating_sub(ctx.now());
            ctx.set_cookie(SESSION_COOKIE, grant.session.expose(), Some(max_age));
            ctx.rotate_csrf();
            Reply::SeeOther("/home")
        }
        Err(SignInError::BadCredentials) => {
            let form = FormView::new(sign_in_fields(&user_id))
                .alert("ユーザーIDまたはパスワードが正しくありません。");
            render_top(ctx, 422, form)
        }
        Err(SignInError::RetryAfter(seconds)) => {
            let wait = ctx.retry_after(seconds);
            let form = FormView::new(sign_in_fields(&user_id)).alert(format!(
                "ログインの失敗が続いたため、一時的にログインを制限しています。{wait}ほどたってから、もう一度お試しください。"
            ));
            render_top(ctx, 429, form)
        }
        Err(SignInError::Unavailable(_)) => ctx.unavailable(),
    }
}

/// POST /signout.
pub(crate) fn sign_out(ctx: &mut Ctx<'_>) -> Reply {
    if let Some(session) = ctx.token_cookie(SESSION_COOKIE)
        && let Err(e) = ctx.service.sign_out(&session)
    {
        return ctx.failure(e, Again::Top);
    }
    ctx.clear_cookie(SESSION_COOKIE);
    Reply::SeeOther("/")
}

/// Not signed in (or no longer): back to the top, forgetting the cookie.
fn signed_out(ctx: &mut Ctx<'_>) -> Reply {
    ctx.clear_cookie(SESSION_COOKIE);
    Reply::SeeOther("/")
}

/// GET /home: screen 11.
pub(crate) fn home(ctx: &mut Ctx<'_>) -> Reply {
    let Some(session) = ctx.token_cookie(SESSION_COOKIE) else {
        return signed_out(ctx);
    };
    match ctx.service.home(&session) {
        Ok(Some(home)) => {
            let page = HomePage {
                layout: ctx.layout(),
                display_name: home.display_name,
                user_id: home.user_id,
            };
            ctx.render(200, &page)
        }
        Ok(None) => signed_out(ctx),
        Err(e) => ctx.failure(e, Again::Top),
    }
}

fn date_words(d: Date) -> String {
    format!("{}年{}月{}日", d.year, d.month, d.day)
}

/// The origin (`scheme://host[:port]`) of an http(s) URL, if it is plain
/// enough to name in a header.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")) {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let plain = !authority.is_empty()
        && !authority.contains('@')
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    plain.then(|| format!("{}://{authority}", scheme.to_ascii_lowercase()))
}

fn render_renewal(ctx: &mut Ctx<'_>, status: u16, error: Option<String>) -> Reply {
    let Some(session) = ctx.token_cookie(SESSION_COOKIE) else {
        return signed_out(ctx);
    };
    let contracts = match ctx.service.renewable_contracts(&session) {
        Ok(contracts) => contracts,
        Err(FlowError::UnknownFlow) => return signed_out(ctx),
        Err(e) => return ctx.failure(e, Again::Top),
    };
    allow_renewal_form_action(ctx);
    let mut form = FormView::default();
    if let Some(message) = &error {
        form.alerts.push(crate::pages::Alert {
            message: message.clone(),
            anchor: Some("policy-number".into()),
        });
    }
    let page = RenewalPage {
        layout: ctx.layout(),
        form,
        contracts: contracts
            .into_iter()
            .map(|c| ContractRow {
                policy_number: c.policy_number,
                product: c.product,
                subject: c.subject,
                expiry: date_words(c.expiry_date),
            })
            .collect(),
        error,
    };
    ctx.render(status, &page)
}

/// Lets this page's forms post to the portal's renewal procedure (the
/// hand-over page's form does; screen 12's is held to the same policy, as
/// its answer leads there). One on this service's own origin needs nothing
/// more.
fn allow_renewal_form_action(ctx: &mut Ctx<'_>) {
    ctx.form_action_origin = ctx
        .settings()
        .ok()
        .and_then(|s| origin(&s.renewal_url).filter(|o| origin(&s.base_url).as_ref() != Some(o)));
}

/// GET /renewal: screen 12.
pub(crate) fn renewal(ctx: &mut Ctx<'_>) -> Reply {
    render_renewal(ctx, 200, None)
}

/// POST /renewal: hands the chosen contract over to the portal.
pub(crate) fn begin_renewal(ctx: &mut Ctx<'_>) -> Reply {
    let Some(session) = ctx.token_cookie(SESSION_COOKIE) else {
        return signed_out(ctx);
    };
    let policy_number = ctx.form.get("policy-number").to_owned();
    if policy_number.is_empty() {
        return render_renewal(
            ctx,
            422,
            Some("継続手続きをするご契約を選択してください。".into()),
        );
    }
    match ctx.service.begin_renewal(&session, &policy_number) {
        // The token goes to the portal in the body of a POST the customer
        // sends with one button (no script runs on these pages): out of
        // the address bar, the history and every access log. A renewal
        // URL that is no http(s) URL is a configuration fault.
        Ok(grant) if origin(&grant.url).is_some() => {
            allow_renewal_form_action(ctx);
            ctx.no_referrer = true;
            let page = HandoverPage {
                layout: ctx.layout(),
                policy_number: policy_number.trim().to_owned(),
                url: grant.url,
                token: grant.token.expose().to_owned(),
                minutes: HANDOVER_LIFETIME / 60,
            };
            ctx.render(200, &page)
        }
        Ok(_) => ctx.unavailable(),
        Err(FlowError::InvalidInput(errors)) => {
            let message = errors
                .into_iter()
                .map(|e: FieldError| e.message)
                .collect::<Vec<_>>()
                .join(" ");
            render_renewal(ctx, 422, Some(message))
        }
        Err(FlowError::UnknownFlow) => signed_out(ctx),
        Err(e) => ctx.failure(e, Again::Top),
    }
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn origins_of_renewal_urls() {
        assert_eq!(
            origin("https://Portal.example.co.jp/renew?x=1").as_deref(),
            Some("https://Portal.example.co.jp")
        );
        assert_eq!(
            origin("http://127.0.0.1:3000/renewal").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(
            origin("https://[::1]:8443").as_deref(),
            Some("https://[::1]:8443")
        );
        assert_eq!(origin("javascript:alert(1)"), None);
        assert_eq!(origin("https://a b/"), None);
        assert_eq!(origin("https://user@host/"), None);
        assert_eq!(origin("https:///path"), None);
    }
}
