//! Screens 8 to 10 (and recovery steps 5 and 6): the user ID and password
//! chosen once both channels have passed, their review, and completion.

use customer_web_core::model::FieldError;
use customer_web_core::records::TicketState;
use customer_web_core::secret::Token;
use customer_web_core::{FlowError, validate};

use super::enrollment::confirmation_error;
use crate::context::{Ctx, SESSION_COOKIE, TICKET_COOKIE};
use crate::pages::{CompletePage, CredentialsPage, CredentialsReviewPage, Field, FormView};
use crate::responses::{Again, Reply};
use crate::wire::is_token_shape;

const USER_ID_TAKEN: &str = "このユーザーIDはご利用いただけません。別のユーザーIDを指定してください。";

/// The ticket this browser won at a link, and whether it is recovery's.
fn ticket(ctx: &Ctx<'_>) -> Option<(bool, Token)> {
    let (kind, token) = ctx.cookie(TICKET_COOKIE)?.split_once('.')?;
    let recovery = match kind {
        "e" => false,
        "r" => true,
        _ => return None,
    };
    is_token_shape(token).then(|| (recovery, Token::from_caller(token)))
}

fn again(recovery: bool) -> Again {
    if recovery { Again::Recover } else { Again::Enroll }
}

fn fields(user_id: &str) -> Vec<Field> {
    vec![
        Field::new("user-id", "ユーザーID（メールアドレス）")
            .kind("email")
            .autocomplete("username")
            .hint("ログインの際に使います。ご案内メールの送信先と異なるアドレスでもかまいません。")
            .value(user_id),
        Field::new("password", "パスワード")
            .kind("password")
            .autocomplete("new-password")
            .hint("10文字以上。ユーザーIDと同じもの、よく使われるものはご利用いただけません。"),
        Field::new("password-confirm", "パスワード（確認用）")
            .kind("password")
            .autocomplete("new-password")
            .hint("確認のため、もう一度入力してください。"),
    ]
}

fn render_form(
    ctx: &mut Ctx<'_>,
    status: u16,
    recovery: bool,
    user_id: &str,
    errors: &[FieldError],
) -> Reply {
    let page = CredentialsPage {
        layout: ctx.layout(),
        form: FormView::new(fields(user_id)).with_errors(errors),
        recovery,
    };
    ctx.render(status, &page)
}

/// Where a ticket in `state` (as `wrong-step` names it) belongs.
fn step_path(state: &str) -> &'static str {
    if state == TicketState::AwaitingCredentials.name() {
        "/credentials"
    } else if state == TicketState::Completed.name() {
        "/home"
    } else {
        "/credentials/review"
    }
}

/// GET /credentials: screen 8.
pub(crate) fn form(ctx: &mut Ctx<'_>) -> Reply {
    let Some((recovery, ticket)) = ticket(ctx) else {
        return ctx.start_again(Again::Top);
    };
    match ctx.service.review_credentials(&ticket) {
        Ok(user_id) => render_form(ctx, 200, recovery, &user_id, &[]),
        Err(FlowError::WrongStep(state)) if state == TicketState::AwaitingCredentials.name() => {
            render_form(ctx, 200, recovery, "", &[])
        }
        Err(FlowError::WrongStep(state)) => Reply::SeeOther(step_path(&state)),
        Err(e) => ctx.failure(e, again(recovery)),
    }
}

/// POST /credentials: validates and records screen 8.
pub(crate) fn submit(ctx: &mut Ctx<'_>) -> Reply {
    let user_id = ctx.form.get("user-id").to_owned();
    let password = ctx.form.get("password").to_owned();
    let confirmation = ctx.form.get("password-confirm").to_owned();
    let Some((recovery, ticket)) = ticket(ctx) else {
        return ctx.start_again(Again::Top);
    };
    // Every field is checked here so that all messages show at once; the
    // core checks again and decides.
    let mut errors = Vec::new();
    let valid_id = validate::email(&user_id)
        .map_err(|m| errors.push(FieldError::new("user-id", m)))
        .ok();
    let valid_password = validate::password(&password, valid_id.as_deref().unwrap_or(&user_id))
        .map_err(|m| errors.push(FieldError::new("password", m)))
        .is_ok();
    if let Some(m) = confirmation_error(
        valid_password.then_some(password.as_str()),
        &confirmation,
        "パスワード",
    ) {
        errors.push(FieldError::new("password-confirm", m));
    }
    if !errors.is_empty() {
        return render_form(ctx, 422, recovery, &user_id, &errors);
    }
    match ctx.service.submit_credentials(&ticket, &user_id, &password) {
        Ok(()) => Reply::SeeOther("/credentials/review"),
        Err(FlowError::InvalidInput(errors)) => render_form(ctx, 422, recovery, &user_id, &errors),
        Err(FlowError::UserIdUnavailable) => render_form(
            ctx,
            422,
            recovery,
            &user_id,
            &[FieldError::new("user-id", USER_ID_TAKEN)],
        ),
        Err(FlowError::WrongStep(state)) => Reply::SeeOther(step_path(&state)),
        Err(e) => ctx.failure(e, again(recovery)),
    }
}

/// GET /credentials/review: screen 9.
pub(crate) fn review(ctx: &mut Ctx<'_>) -> Reply {
    let Some((recovery, ticket)) = ticket(ctx) else {
        return ctx.start_again(Again::Top);
    };
    match ctx.service.review_credentials(&ticket) {
        Ok(user_id) => {
            let page = CredentialsReviewPage {
                layout: ctx.layout(),
                form: FormView::default(),
                user_id,
                recovery,
            };
            ctx.render(200, &page)
        }
        Err(FlowError::WrongStep(state)) => Reply::SeeOther(step_path(&state)),
        Err(e) => ctx.failure(e, again(recovery)),
    }
}

/// POST /credentials/complete: creates the account or replaces its
/// credentials, and signs in.
pub(crate) fn complete(ctx: &mut Ctx<'_>) -> Reply {
    let Some((recovery, ticket)) = ticket(ctx) else {
        return ctx.start_again(Again::Top);
    };
    match ctx.service.complete_credentials(&ticket) {
        Ok(grant) => {
            let max_age = grant.expires_at.saturating_sub(ctx.now());
            ctx.set_cookie(SESSION_COOKIE, grant.session.expose(), Some(max_age));
            ctx.clear_cookie(TICKET_COOKIE);
            ctx.rotate_csrf();
            let to = if recovery {
                "/complete?for=recovery"
            } else {
                "/complete"
            };
            Reply::SeeOther(to)
        }
        // Taken meanwhile by another flow: screen 8 again, told why.
        Err(FlowError::UserIdUnavailable) => {
            let user_id = ctx.service.review_credentials(&ticket).unwrap_or_default();
            render_form(
                ctx,
                422,
                recovery,
                &user_id,
                &[FieldError::new("user-id", USER_ID_TAKEN)],
            )
        }
        Err(FlowError::AlreadyRegistered) => {
            ctx.clear_cookie(TICKET_COOKIE);
            ctx.message(
                409,
                "既にご登録いただいています",
                &[
                    "このお客さまは、既にお客さまWebサービスにご登録いただいています。",
                    "ユーザーID・パスワードをお忘れの場合は、再設定のお手続きをしてください。",
                ],
                vec![
                    crate::pages::Link::new("/recover", "ユーザーＩＤ・パスワードをお忘れの方はこちら"),
                    crate::pages::Link::new("/", "トップへ"),
                ],
            )
        }
        Err(FlowError::WrongStep(state)) => Reply::SeeOther(step_path(&state)),
        Err(e) => ctx.failure(e, again(recovery)),
    }
}

/// GET /complete: screen 10 (recovery step 6).
pub(crate) fn completed(ctx: &mut Ctx<'_>) -> Reply {
    let page = CompletePage {
        layout: ctx.layout(),
        recovery: ctx.query.get("for") == "recovery",
    };
    ctx.render(200, &page)
}
