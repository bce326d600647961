//! Enrollment screens 2 to 5: customer information and terms, keyword and
//! contact address, review, and the keyword shown back once the mail is
//! out.

use customer_web_core::model::{CustomerInput, FieldError};
use customer_web_core::records::EnrollmentState;
use customer_web_core::secret::Token;
use customer_web_core::{FlowError, mail, validate};

use super::{seal_keyword, sealed_keyword};
use crate::context::{Ctx, DISPLAY_COOKIE, FLOW_COOKIE};
use crate::pages::{
    EnrollContactPage, EnrollCustomerPage, EnrollReviewPage, EnrollSentPage, Field, FormView,
};
use crate::responses::{Again, Reply};
use crate::seal::{self, Shown, ShownFor};

const BIRTH_DATE_HINT: &str = "例：1985年4月1日、1985/4/1、昭和60年4月1日";

/// The screen a flow in `state` (as `wrong-step` names it) belongs on.
fn step_path(state: &str) -> &'static str {
    if state == EnrollmentState::CustomerEntered.name() {
        "/enroll/contact"
    } else if state == EnrollmentState::ContactEntered.name() {
        "/enroll/review"
    } else if state == EnrollmentState::MailSent.name() {
        "/enroll/sent"
    } else {
        "/enroll"
    }
}

fn customer_fields(input: &CustomerInput, terms_version: &str, accepted: bool) -> Vec<Field> {
    vec![
        Field::new("family-name", "お名前（姓）")
            .autocomplete("family-name")
            .hint("例：山田")
            .value(&input.family_name),
        Field::new("given-name", "お名前（名）")
            .autocomplete("given-name")
            .hint("例：太郎")
            .value(&input.given_name),
        Field::new("family-name-kana", "フリガナ（セイ）")
            .hint("全角カタカナ　例：ヤマダ")
            .value(&input.family_name_kana),
        Field::new("given-name-kana", "フリガナ（メイ）")
            .hint("全角カタカナ　例：タロウ")
            .value(&input.given_name_kana),
        Field::new("birth-date", "生年月日")
            .autocomplete("bday")
            .hint(BIRTH_DATE_HINT)
            .value(&input.birth_date),
        Field::new("phone", "電話番号")
            .kind("tel")
            .autocomplete("tel")
            .hint("ご契約時にお届けの番号　例：090-1234-5678")
            .value(&input.phone),
        Field::new("postal-code", "郵便番号")
            .autocomplete("postal-code")
            .inputmode("numeric")
            .hint("例：100-0004")
            .value(&input.postal_code),
        Field::new("policy-number", "証券番号")
            .autocomplete("off")
            .hint("保険証券に記載の番号　例：A123456789")
            .value(&input.policy_number),
        Field::new("accepted-terms", "利用規約に同意する")
            .kind("checkbox")
            .value(terms_version)
            .checked(accepted),
    ]
}

fn render_customer(
    ctx: &mut Ctx<'_>,
    status: u16,
    input: &CustomerInput,
    accepted: bool,
    agent_code: &str,
    errors: &[FieldError],
) -> Reply {
    let terms_version = match ctx.settings() {
        Ok(s) => s.terms_version.clone(),
        Err(e) => return ctx.failure(e, Again::Top),
    };
    let page = EnrollCustomerPage {
        layout: ctx.layout(),
        form: FormView::new(customer_fields(input, &terms_version, accepted)).with_errors(errors),
        agent_code: agent_code.to_owned(),
        terms_version,
    };
    ctx.render(status, &page)
}

/// GET /enroll: screen 2, filled in again when the customer comes back
/// from the review.
pub(crate) fn customer_form(ctx: &mut Ctx<'_>) -> Reply {
    let agent = ctx.query.get("agent").to_owned();
    let current_terms = match ctx.settings() {
        Ok(s) => s.terms_version.clone(),
        Err(e) => return ctx.failure(e, Again::Top),
    };
    let (input, accepted) = match ctx
        .token_cookie(FLOW_COOKIE)
        .map(|flow| ctx.service.review_enrollment(&flow))
    {
        Some(Ok(review)) => (review.customer, review.terms_version == current_terms),
        Some(Err(FlowError::Unavailable(_))) => return ctx.unavailable(),
        _ => (CustomerInput::default(), false),
    };
    render_customer(ctx, 200, &input, accepted, &agent, &[])
}

/// POST /enroll: starts a flow unless the browser has one it can go on
/// with, and records screen 2.
pub(crate) fn submit_customer(ctx: &mut Ctx<'_>) -> Reply {
    let form = &ctx.form;
    let input = CustomerInput {
        family_name: form.get("family-name").to_owned(),
        given_name: form.get("given-name").to_owned(),
        family_name_kana: form.get("family-name-kana").to_owned(),
        given_name_kana: form.get("given-name-kana").to_owned(),
        birth_date: form.get("birth-date").to_owned(),
        phone: form.get("phone").to_owned(),
        postal_code: form.get("postal-code").to_owned(),
        policy_number: form.get("policy-number").to_owned(),
    };
    let accepted_terms = form.get("accepted-terms").to_owned();
    let agent = form.get("agent-code").to_owned();
    let accepted = !accepted_terms.is_empty();

    // The input is checked before the flow is looked up, so bad input is
    // refused without a flow being made; a browser without a flow probes
    // with a token that names none.
    let existing = ctx.token_cookie(FLOW_COOKIE);
    let probe = existing.clone().unwrap_or_else(|| Token::from_caller(""));
    match ctx.service.submit_customer(&probe, &input, &accepted_terms) {
        Ok(()) => return Reply::SeeOther("/enroll/contact"),
        Err(FlowError::InvalidInput(errors)) => {
            return render_customer(ctx, 422, &input, accepted, &agent, &errors);
        }
        // Gone, lapsed, or already mailed: this is a new enrollment.
        Err(FlowError::UnknownFlow | FlowError::FlowExpired | FlowError::WrongStep(_)) => {}
        Err(e) => return ctx.failure(e, Again::Enroll),
    }
    let lifetime = match ctx.settings() {
        Ok(s) => s.flow_lifetime,
        Err(e) => return ctx.failure(e, Again::Enroll),
    };
    let flow = match ctx
        .service
        .start_enrollment(Some(agent.as_str()).filter(|a| !a.is_empty()))
    {
        Ok(flow) => flow,
        Err(FlowError::InvalidInput(errors)) => {
            return render_customer(ctx, 422, &input, accepted, &agent, &errors);
        }
        Err(e) => return ctx.failure(e, Again::Enroll),
    };
    match ctx.service.submit_customer(&flow, &input, &accepted_terms) {
        Ok(()) => {
            ctx.set_cookie(FLOW_COOKIE, flow.expose(), Some(lifetime));
            Reply::SeeOther("/enroll/contact")
        }
        Err(FlowError::InvalidInput(errors)) => render_customer(ctx, 422, &input, accepted, &agent, &errors),
        Err(e) => ctx.failure(e, Again::Enroll),
    }
}

fn contact_fields(email: &str) -> Vec<Field> {
    vec![
        Field::new("keyword", "キーワード").autocomplete("off").hint(
            "4～32文字。漢字・ひらがな・カタカナ・英数字が使えます。メールには記載されませんので、必ずメモしてください。",
        ),
        Field::new("email", "メールアドレス")
            .kind("email")
            .autocomplete("email")
            .hint("ご案内メールの送信先です。")
            .value(email),
        Field::new("email-confirm", "メールアドレス（確認用）")
            .kind("email")
            .autocomplete("email")
            .hint("確認のため、もう一度入力してください。")
            .value(email),
    ]
}

fn render_contact(ctx: &mut Ctx<'_>, status: u16, email: &str, errors: &[FieldError]) -> Reply {
    let mut form = FormView::new(contact_fields(email)).with_errors(errors);
    // The keyword is never sent back to the browser: say so, or the next
    // 「確認」 fails on an empty field the customer filled in before.
    if !errors.is_empty() && !errors.iter().any(|e| e.field == "keyword") {
        form.field_error(
            "keyword",
            "セキュリティのため、キーワードは消去しました。もう一度入力してください。",
        );
    }
    let page = EnrollContactPage {
        layout: ctx.layout(),
        form,
    };
    ctx.render(status, &page)
}

/// GET /enroll/contact: screen 3.
pub(crate) fn contact_form(ctx: &mut Ctx<'_>) -> Reply {
    let Some(flow) = ctx.token_cookie(FLOW_COOKIE) else {
        return ctx.start_again(Again::Enroll);
    };
    match ctx.service.review_enrollment(&flow) {
        Ok(review) => render_contact(ctx, 200, &review.email, &[]),
        Err(FlowError::WrongStep(state)) if state == EnrollmentState::CustomerEntered.name() => {
            render_contact(ctx, 200, "", &[])
        }
        Err(FlowError::WrongStep(state)) => Reply::SeeOther(step_path(&state)),
        Err(e) => ctx.failure(e, Again::Enroll),
    }
}

/// The confirmation field's message, if it has one. A wrong address is
/// told at its own field; the twin is only compared with a valid one.
pub(crate) fn confirmation_error(first: Option<&str>, confirmation: &str, what: &str) -> Option<String> {
    if confirmation.trim().is_empty() {
        return Some(format!("確認のため、{what}をもう一度入力してください。"));
    }
    match first {
        Some(first) if first != confirmation => Some(format!("{what}が確認用と一致しません。")),
        _ => None,
    }
}

/// POST /enroll/contact: records screen 3 and seals the keyword for the
/// review.
pub(crate) fn submit_contact(ctx: &mut Ctx<'_>) -> Reply {
    let keyword = ctx.form.get("keyword").to_owned();
    let email = ctx.form.get("email").to_owned();
    let confirmation = ctx.form.get("email-confirm").to_owned();
    let mut errors = Vec::new();
    let normalised = validate::keyword(&keyword)
        .map_err(|m| errors.push(FieldError::new("keyword", m)))
        .ok();
    let valid_email = validate::email(&email)
        .map_err(|m| errors.push(FieldError::new("email", m)))
        .ok();
    let confirmed = validate::email(&confirmation).unwrap_or(confirmation.clone());
    if let Some(m) = confirmation_error(valid_email.as_deref(), &confirmed, "メールアドレス") {
        errors.push(FieldError::new("email-confirm", m));
    }
    let Some(normalised) = normalised.filter(|_| errors.is_empty()) else {
        return render_contact(ctx, 422, &email, &errors);
    };
    let Some(flow) = ctx.token_cookie(FLOW_COOKIE) else {
        return ctx.start_again(Again::Enroll);
    };
    match ctx.service.submit_contact(&flow, &keyword, &email) {
        Ok(()) => {}
        Err(FlowError::InvalidInput(errors)) => return render_contact(ctx, 422, &email, &errors),
        Err(FlowError::WrongStep(state)) => return Reply::SeeOther(step_path(&state)),
        Err(e) => return ctx.failure(e, Again::Enroll),
    }
    let shown = Shown {
        shown_for: ShownFor::Enrollment,
        keyword: normalised,
        email: None,
        link_expires_at: None,
    };
    match seal_keyword(ctx, &shown) {
        Ok(()) => Reply::SeeOther("/enroll/review"),
        Err(e) => ctx.failure(e, Again::Enroll),
    }
}

/// Screen 4, with `alert` above it if the confirmation was refused.
fn render_review(ctx: &mut Ctx<'_>, status: u16, alert: Option<String>) -> Reply {
    let Some(flow) = ctx.token_cookie(FLOW_COOKIE) else {
        return ctx.start_again(Again::Enroll);
    };
    let review = match ctx.service.review_enrollment(&flow) {
        Ok(review) => review,
        Err(FlowError::WrongStep(state)) => return Reply::SeeOther(step_path(&state)),
        Err(e) => return ctx.failure(e, Again::Enroll),
    };
    // Without its sealed keyword the review cannot show what the customer
    // must note; screen 3 takes the keyword again.
    let keyword = match sealed_keyword(ctx, ShownFor::Enrollment) {
        Ok(Some((_, shown))) => shown.keyword,
        Ok(None) => return Reply::SeeOther("/enroll/contact"),
        Err(e) => return ctx.failure(e, Again::Enroll),
    };
    let c = &review.customer;
    let mut form = FormView::default();
    if let Some(alert) = alert {
        form = form.alert(alert);
    }
    let page = EnrollReviewPage {
        layout: ctx.layout(),
        form,
        rows: vec![
            ("お名前", format!("{}　{}", c.family_name, c.given_name)),
            (
                "フリガナ",
                format!("{}　{}", c.family_name_kana, c.given_name_kana),
            ),
            ("生年月日", c.birth_date.clone()),
            ("電話番号", c.phone.clone()),
            ("郵便番号", c.postal_code.clone()),
            ("証券番号", c.policy_number.clone()),
        ],
        keyword,
        email: review.email,
        terms_version: review.terms_version,
    };
    ctx.render(status, &page)
}

/// GET /enroll/review: screen 4.
pub(crate) fn review(ctx: &mut Ctx<'_>) -> Reply {
    render_review(ctx, 200, None)
}

/// POST /enroll/confirm: checks the identity and sends the mail (the
/// answer is the same whether or not the identity matched).
pub(crate) fn confirm(ctx: &mut Ctx<'_>) -> Reply {
    let Some(flow) = ctx.token_cookie(FLOW_COOKIE) else {
        return ctx.start_again(Again::Enroll);
    };
    let (token, mut shown) = match sealed_keyword(ctx, ShownFor::Enrollment) {
        Ok(Some(found)) => found,
        Ok(None) => return Reply::SeeOther("/enroll/contact"),
        Err(e) => return ctx.failure(e, Again::Enroll),
    };
    let lifetime = match ctx.settings() {
        Ok(s) => s.flow_lifetime,
        Err(e) => return ctx.failure(e, Again::Enroll),
    };
    let sent = match ctx.service.confirm_enrollment(&flow) {
        Ok(sent) => sent,
        Err(FlowError::RateLimited(seconds)) => {
            let text = ctx.rate_limit_message(seconds);
            return render_review(ctx, 429, Some(text));
        }
        Err(FlowError::WrongStep(state)) => return Reply::SeeOther(step_path(&state)),
        Err(e) => return ctx.failure(e, Again::Enroll),
    };
    shown.email = Some(sent.email);
    shown.link_expires_at = Some(sent.link_expires_at);
    if let Err(e) = seal::reseal(&ctx.ports, &token, &shown, ctx.now() + lifetime) {
        return ctx.failure(e, Again::Enroll);
    }
    // The flow goes on from the mailed link; its id is of no more use.
    ctx.clear_cookie(FLOW_COOKIE);
    ctx.set_cookie(DISPLAY_COOKIE, token.expose(), Some(lifetime));
    Reply::SeeOther("/enroll/sent")
}

/// GET /enroll/sent: screen 5.
pub(crate) fn sent(ctx: &mut Ctx<'_>) -> Reply {
    let shown = match sealed_keyword(ctx, ShownFor::Enrollment) {
        Ok(Some((_, shown))) => shown,
        Ok(None) => return ctx.start_again(Again::Enroll),
        Err(e) => return ctx.failure(e, Again::Enroll),
    };
    let (Some(email), Some(expires_at)) = (shown.email, shown.link_expires_at) else {
        return Reply::SeeOther("/enroll/review");
    };
    let page = EnrollSentPage {
        layout: ctx.layout(),
        keyword: shown.keyword,
        email,
        deadline: mail::deadline_jst(expires_at),
    };
    ctx.render(200, &page)
}
