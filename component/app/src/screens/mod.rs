//! The screens, one module per part of the service; each function answers
//! one route.

pub(crate) mod account;
pub(crate) mod credentials;
pub(crate) mod enrollment;
pub(crate) mod link;
pub(crate) mod recovery;

use customer_web_core::FlowError;
use customer_web_core::secret::Token;

use crate::context::{Ctx, DISPLAY_COOKIE};
use crate::seal::{self, Shown, ShownFor};

/// The keyword this browser sealed for `shown_for`, with its token.
pub(crate) fn sealed_keyword(
    ctx: &Ctx<'_>,
    shown_for: ShownFor,
) -> Result<Option<(Token, Shown)>, FlowError> {
    let Some(token) = ctx.token_cookie(DISPLAY_COOKIE) else {
        return Ok(None);
    };
    Ok(seal::open(&ctx.ports, &token)?
        .filter(|s| s.shown_for == shown_for)
        .map(|s| (token, s)))
}

/// Seals a keyword for the screen after the redirect, for as long as a
/// flow lives, replacing any this browser had.
pub(crate) fn seal_keyword(ctx: &mut Ctx<'_>, shown: &Shown) -> Result<(), FlowError> {
    let lifetime = ctx.settings()?.flow_lifetime;
    let token = seal::seal(&ctx.ports, shown, ctx.now() + lifetime)?;
    if let Some(old) = ctx.token_cookie(DISPLAY_COOKIE) {
        seal::discard(&ctx.ports, &old);
    }
    ctx.set_cookie(DISPLAY_COOKIE, token.expose(), Some(lifetime));
    Ok(())
}
