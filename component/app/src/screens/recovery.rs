//! Recovery of a forgotten user ID or password, steps 2 and 3: the
//! registered address and birth date, then the system-made keyword. The
//! answer is the same whether or not they match an account.

use customer_web_core::{FlowError, mail, validate};

use super::{seal_keyword, sealed_keyword};
use crate::context::Ctx;
use crate::pages::{Field, FormView, RecoverKeywordPage, RecoverPage};
use crate::responses::{Again, Reply};
use crate::seal::{Shown, ShownFor};

fn fields(email: &str, birth_date: &str) -> Vec<Field> {
    vec![
        Field::new("email", "ご登録のメールアドレス")
            .kind("email")
            .autocomplete("email")
            .hint("ご登録の際に、ご案内メールの送信先として入力したメールアドレスです。")
            .value(email),
        Field::new("birth-date", "生年月日")
            .autocomplete("bday")
            .hint("例：1985年4月1日、1985/4/1、昭和60年4月1日")
            .value(birth_date),
    ]
}

fn render_form(ctx: &mut Ctx<'_>, status: u16, form: FormView) -> Reply {
    let page = RecoverPage {
        layout: ctx.layout(),
        form,
    };
    ctx.render(status, &page)
}

/// GET /recover: step 2.
pub(crate) fn form(ctx: &mut Ctx<'_>) -> Reply {
    render_form(ctx, 200, FormView::new(fields("", "")))
}

/// POST /recover: makes the keyword and (if they match) mails the link.
pub(crate) fn start(ctx: &mut Ctx<'_>) -> Reply {
    let email = ctx.form.get("email").to_owned();
    let birth_date = ctx.form.get("birth-date").to_owned();
    let started = match ctx.service.start_recovery(&email, &birth_date) {
        Ok(started) => started,
        Err(FlowError::InvalidInput(errors)) => {
            let form = FormView::new(fields(&email, &birth_date)).with_errors(&errors);
            return render_form(ctx, 422, form);
        }
        Err(FlowError::RateLimited(seconds)) => {
            let text = ctx.rate_limit_message(seconds);
            let form = FormView::new(fields(&email, &birth_date)).alert(text);
            return render_form(ctx, 429, form);
        }
        Err(e) => return ctx.failure(e, Again::Recover),
    };
    let shown = Shown {
        shown_for: ShownFor::Recovery,
        keyword: started.keyword.expose().to_owned(),
        email: Some(validate::email(&email).unwrap_or(email)),
        link_expires_at: Some(started.link_expires_at),
    };
    match seal_keyword(ctx, &shown) {
        Ok(()) => Reply::SeeOther("/recover/keyword"),
        Err(e) => ctx.failure(e, Again::Recover),
    }
}

/// GET /recover/keyword: step 3.
pub(crate) fn keyword(ctx: &mut Ctx<'_>) -> Reply {
    let shown = match sealed_keyword(ctx, ShownFor::Recovery) {
        Ok(Some((_, shown))) => shown,
        Ok(None) => return ctx.start_again(Again::Recover),
        Err(e) => return ctx.failure(e, Again::Recover),
    };
    let (Some(email), Some(expires_at)) = (shown.email, shown.link_expires_at) else {
        return ctx.start_again(Again::Recover);
    };
    let page = RecoverKeywordPage {
        layout: ctx.layout(),
        keyword: shown.keyword,
        email,
        deadline: mail::deadline_jst(expires_at),
    };
    ctx.render(200, &page)
}
