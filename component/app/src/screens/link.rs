//! Screen 7 (and recovery step 4): the mailed one-time link. Opening it
//! spends nothing (mail scanners open links); the first correct keyword
//! spends it and wins a ticket for the credentials screens.

use customer_web_core::kv;
use customer_web_core::link::LinkStatus;
use customer_web_core::model::FieldError;
use customer_web_core::records::{self, LinkKind};
use customer_web_core::secret::Token;
use customer_web_core::{FlowError, mail};

use crate::context::{Ctx, DISPLAY_COOKIE, TICKET_COOKIE};
use crate::pages::{Field, FormView, LinkKeywordPage};
use crate::responses::{Again, Reply};
use crate::seal;
use crate::wire::is_token_shape;

/// The ticket cookie names the flow it continues, so the later screens
/// can word themselves for enrollment or recovery.
pub(crate) fn ticket_cookie_value(kind: LinkKind, ticket: &Token) -> String {
    let prefix = match kind {
        LinkKind::Enrollment => 'e',
        LinkKind::Recovery => 'r',
    };
    format!("{prefix}.{}", ticket.expose())
}

/// The token of a link path; anything not shaped like a token names no
/// link and is not looked up.
fn link_token(raw: &str) -> Option<Token> {
    is_token_shape(raw).then(|| Token::from_caller(raw))
}

fn keyword_field(kind: LinkKind) -> Field {
    let field = Field::new("keyword", "キーワード").autocomplete("off");
    match kind {
        LinkKind::Enrollment => field.hint("ご登録の際に、ご自身で指定したキーワードです。"),
        LinkKind::Recovery => field.hint("手続きの画面に表示された、英数字8文字のキーワードです。"),
    }
}

fn render_keyword(ctx: &mut Ctx<'_>, status: u16, link: &LinkStatus, errors: &[FieldError]) -> Reply {
    let page = LinkKeywordPage {
        layout: ctx.layout(),
        form: FormView::new(vec![keyword_field(link.kind)]).with_errors(errors),
        recovery: link.kind == LinkKind::Recovery,
        attempts_left: link.attempts_left,
        deadline: mail::deadline_jst(link.expires_at),
    };
    ctx.render(status, &page)
}

/// GET /link/{token}: the keyword form.
pub(crate) fn open(ctx: &mut Ctx<'_>, raw: &str) -> Reply {
    let Some(token) = link_token(raw) else {
        return ended(ctx, FlowError::LinkUnknown, None);
    };
    match ctx.service.open_link(&token) {
        Ok(link) => render_keyword(ctx, 200, &link, &[]),
        Err(e) => ended(ctx, e, Some(&token)),
    }
}

/// POST /link/{token}: the keyword.
pub(crate) fn submit_keyword(ctx: &mut Ctx<'_>, raw: &str) -> Reply {
    let Some(token) = link_token(raw) else {
        return ended(ctx, FlowError::LinkUnknown, None);
    };
    let lifetime = match ctx.settings() {
        Ok(s) => s.flow_lifetime,
        Err(e) => return ctx.failure(e, Again::Top),
    };
    let keyword = ctx.form.get("keyword").to_owned();
    let errors = match ctx.service.submit_keyword(&token, &keyword) {
        Ok(verified) => {
            ctx.set_cookie(
                TICKET_COOKIE,
                &ticket_cookie_value(verified.kind, &verified.ticket),
                Some(lifetime),
            );
            // The keyword has done its work; it is not kept for display.
            if let Some(display) = ctx.token_cookie(DISPLAY_COOKIE) {
                seal::discard(&ctx.ports, &display);
                ctx.clear_cookie(DISPLAY_COOKIE);
            }
            return Reply::SeeOther("/credentials");
        }
        Err(FlowError::InvalidInput(errors)) => errors,
        Err(FlowError::WrongKeyword(_)) => vec![FieldError::new(
            "keyword",
            "キーワードが正しくありません。画面でメモしたキーワードをご確認ください。",
        )],
        Err(e) => return ended(ctx, e, Some(&token)),
    };
    match ctx.service.open_link(&token) {
        Ok(link) => render_keyword(ctx, 422, &link, &errors),
        Err(e) => ended(ctx, e, Some(&token)),
    }
}

/// A link that cannot take a keyword, said plainly, with the way to begin
/// again for its kind of flow.
fn ended(ctx: &mut Ctx<'_>, error: FlowError, token: Option<&Token>) -> Reply {
    let (status, heading, reason) = match error {
        FlowError::LinkSpent => (
            410,
            "このURLは既に使用されています",
            "このURLはセキュリティーを考慮し、一回のアクセスのみ有効となっております。",
        ),
        FlowError::LinkExpired => (
            410,
            "有効期限が切れています",
            "このURLはご利用期限を過ぎたため、ご利用いただけません。",
        ),
        FlowError::LinkBurnt => (
            410,
            "このURLは使用できなくなりました",
            "キーワードの誤入力が続いたため、安全のためこのURLを無効にしました。",
        ),
        FlowError::LinkUnknown => (
            404,
            "このURLは無効です",
            "メールに記載のURLを、途中で切れていないかご確認のうえ開いてください。",
        ),
        other => return ctx.failure(other, Again::Top),
    };
    let kind = match (status, token) {
        (410, Some(token)) => kv::load::<records::Link>(ctx.ports.store, &records::link_key(token))
            .ok()
            .flatten()
            .map(|l| l.value.kind),
        _ => None,
    };
    let again = match kind {
        Some(LinkKind::Enrollment) => crate::pages::Link::new("/enroll", "初めてご利用いただく方はこちら"),
        Some(LinkKind::Recovery) => {
            crate::pages::Link::new("/recover", "ユーザーＩＤ・パスワードをお忘れの方はこちら")
        }
        None => crate::pages::Link::new("/", "トップへ"),
    };
    let restart = if kind.is_some() {
        "お手数ですが、最初からお手続きをやり直してください。"
    } else {
        "お手数ですが、トップページからお手続きください。"
    };
    ctx.message(status, heading, &[reason, restart], vec![again])
}
