//! The Content-Security-Policy of every answer customer-web makes, written
//! here once: the screens', the JSON API's, and the one of the pages a host
//! renders itself with an inline stylesheet (the dev pages, the host's own
//! refusals). The wasmtime host and the Spin dev mailbox take theirs from
//! here.
//!
//! Every policy loads nothing by default, can be framed by nobody and
//! allows no `<base>`; each adds only what its pages need.

/// A policy: nothing by default, then the directives given, then no
/// framing and no `<base>`.
macro_rules! policy {
    ($($directive:expr),* $(,)?) => {
        concat!(
            "default-src 'none'; ",
            $($directive, "; ",)*
            "frame-ancestors 'none'; base-uri 'none'"
        )
    };
}

/// The screens' policy, with `$also` after `form-action 'self'`: the own
/// stylesheet and images, forms to this origin, and nothing runs.
macro_rules! screens {
    ($also:expr) => {
        policy!(
            "style-src 'self'",
            "img-src 'self'",
            concat!("form-action 'self'", $also),
        )
    };
}

/// The policy of every screen: the stylesheet and images of this origin,
/// forms only to this origin, no script, no framing.
pub const SCREENS: &str = screens!("");

/// The policy of every JSON API answer: JSON is never a document to render.
pub const API: &str = policy!();

/// The policy of a page with its stylesheet inline and nothing else: the
/// dev pages, and the pages a host answers itself when the component
/// could not.
pub const INLINE_STYLE: &str = policy!("style-src 'unsafe-inline'");

/// [`SCREENS`] with forms also allowed to go to `origin` (the portal's
/// renewal procedure, on another origin).
pub fn screens_with_form_action(origin: &str) -> String {
    format!(screens!(" {}"), origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policies_read_as_sent() {
        assert_eq!(
            SCREENS,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(API, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
        assert_eq!(
            INLINE_STYLE,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(
            screens_with_form_action("https://renew.example.co.jp"),
            SCREENS.replace(
                "form-action 'self'",
                "form-action 'self' https://renew.example.co.jp"
            )
        );
    }
}
