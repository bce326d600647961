//! What may be shown of a database URL: never its password.

/// `url` with its password replaced by `…`: what errors and logs may name
/// (the wasmtime host's and the Spin adapter's alike).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:…{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// `message` with `url`'s password cut out, should a driver have quoted
/// the URL or a part of it.
#[cfg_attr(not(feature = "spin"), allow(dead_code))]
pub(crate) fn hide_password(message: &str, url: &str) -> String {
    let password = match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => url[scheme + 3..at].split_once(':').map(|(_, p)| p),
        _ => None,
    };
    let message = message.replace(url, &redact_url(url));
    match password {
        Some(password) if !password.is_empty() => message.replace(password, "…"),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::{hide_password, redact_url};

    #[test]
    fn the_password_never_shows() {
        let url = "postgres://cw:s3cret@db.internal:5432/customer_web";
        assert_eq!(redact_url(url), "postgres://cw:…@db.internal:5432/customer_web");
        assert_eq!(
            redact_url("postgres://db.internal/cw"),
            "postgres://db.internal/cw"
        );
        assert_eq!(
            redact_url("postgres://cw@db.internal/cw"),
            "postgres://cw@db.internal/cw"
        );
        let message = hide_password(&format!("invalid connection string {url}, near s3cret"), url);
        assert!(!message.contains("s3cret"), "{message}");
        assert!(message.contains("postgres://cw:…@db.internal"), "{message}");
    }
}
