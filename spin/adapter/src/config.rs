//! `customer-web:plugin/config`: the settings from Spin variables, one per
//! field of `settings` in snake_case (spin.toml gives each a default and
//! `SPIN_VARIABLE_<NAME>` overrides it), checked as the wasmtime host
//! checks its settings file.

use spin_sdk::variables;

use crate::Adapter;
use crate::bindings::exports::customer_web::plugin::config::{Error, Guest, Settings};

impl Guest for Adapter {
    fn get_settings() -> Result<Settings, Error> {
        let settings = Settings {
            insurer_name: var("insurer_name")?,
            sender_address: var("sender_address")?,
            desk_name: var("desk_name")?,
            desk_phone: var("desk_phone")?,
            desk_hours: var("desk_hours")?,
            base_url: var("base_url")?,
            terms_version: var("terms_version")?,
            link_lifetime: number("link_lifetime")?,
            flow_lifetime: number("flow_lifetime")?,
            session_idle: number("session_idle")?,
            session_absolute: number("session_absolute")?,
            mails_per_hour: number("mails_per_hour")?,
            renewal_url: var("renewal_url")?,
            // Empty (spin.toml's default): no redemption over HTTP.
            handover_secret: Some(var("handover_secret")?).filter(|s| !s.is_empty()),
        };
        check(&settings).map_err(Error::Unavailable)?;
        Ok(settings)
    }
}

/// The Spin variable `name`, or an error that names it.
pub fn var(name: &str) -> Result<String, Error> {
    variables::get(name).map_err(|e| {
        Error::Unavailable(match e {
            variables::Error::Undefined(_) => format!(
                "Spin variable {name} is not defined: give it to the customer-web component \
                 in spin.toml ([component.customer-web.variables])"
            ),
            variables::Error::InvalidName(_) => format!("Spin variable name {name} is invalid"),
            variables::Error::Provider(detail) | variables::Error::Other(detail) => {
                format!("Spin variable {name} cannot be read: {detail}")
            }
        })
    })
}

/// The Spin variable `name` as a whole number.
fn number<T: std::str::FromStr>(name: &str) -> Result<T, Error> {
    let value = var(name)?;
    value.trim().parse().map_err(|_| {
        Error::Unavailable(format!(
            "Spin variable {name} is {value:?}, which is not a whole number in range"
        ))
    })
}

/// Refuses settings no deployment should run with: the wasmtime host's
/// checks (host/src/config.rs), each naming its variable.
fn check(s: &Settings) -> Result<(), String> {
    if !(s.base_url.starts_with("https://") || s.base_url.starts_with("http://")) {
        return Err(format!(
            "Spin variable base_url is {:?}: it must be an http(s) URL",
            s.base_url
        ));
    }
    if !(s.renewal_url.starts_with("https://") || s.renewal_url.starts_with("http://")) {
        return Err(format!(
            "Spin variable renewal_url is {:?}: it must be an http(s) URL",
            s.renewal_url
        ));
    }
    if s.link_lifetime < 600 {
        return Err("Spin variable link_lifetime must be at least 600 seconds".into());
    }
    if s.session_idle == 0 || s.session_absolute < s.session_idle {
        return Err(
            "Spin variables session_idle and session_absolute are inconsistent: \
             session_idle must be positive and at most session_absolute"
                .into(),
        );
    }
    if s.mails_per_hour == 0 {
        return Err("Spin variable mails_per_hour must be positive".into());
    }
    if s.handover_secret.as_ref().is_some_and(|h| h.chars().count() < 32) {
        return Err(
            "Spin variable handover_secret must be empty or at least 32 characters \
             (e.g. openssl rand -hex 32)"
                .into(),
        );
    }
    if !s.sender_address.contains('@') {
        return Err(format!(
            "Spin variable sender_address is {:?}: it must be an e-mail address",
            s.sender_address
        ));
    }
    Ok(())
}
