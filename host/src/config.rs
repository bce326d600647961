//! The portal's settings: brand strings, base URL, lifetimes. Read from a
//! JSON file whose keys are those of `wit/config.wit` in snake_case; any key
//! left out keeps the default of the seed leaflet.

use std::path::Path;

use anyhow::Context;
pub use customer_web_core::model::Settings;
use customer_web_core::secret::SharedSecret;

/// The environment variable holding the portal's hand-over secret
/// (`handover_secret`); it overrides the settings file.
pub const HANDOVER_SECRET_ENV: &str = "CUSTOMER_WEB_HANDOVER_SECRET";

/// Reads settings from a JSON file, over the defaults.
pub fn load(path: &Path) -> anyhow::Result<Settings> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    from_json(&text).with_context(|| format!("in {}", path.display()))
}

/// Parses settings from JSON text, over the defaults, and checks them.
pub fn from_json(text: &str) -> anyhow::Result<Settings> {
    let mut value = serde_json::to_value(Settings::default())?;
    let overrides: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).context("settings must be a JSON object")?;
    let serde_json::Value::Object(defaults) = &mut value else {
        anyhow::bail!("settings defaults are not an object");
    };
    for (key, v) in overrides {
        anyhow::ensure!(defaults.contains_key(&key), "unknown setting {key:?}");
        defaults.insert(key, v);
    }
    let settings: Settings = serde_json::from_value(value)?;
    check(&settings)?;
    Ok(settings)
}

/// Refuses settings no deployment should run with.
pub fn check(s: &Settings) -> anyhow::Result<()> {
    anyhow::ensure!(
        s.base_url.starts_with("https://") || s.base_url.starts_with("http://"),
        "base_url must be an http(s) URL"
    );
    anyhow::ensure!(
        s.renewal_url.starts_with("https://") || s.renewal_url.starts_with("http://"),
        "renewal_url must be an http(s) URL"
    );
    anyhow::ensure!(
        s.link_lifetime >= 600,
        "link_lifetime must be at least 600 seconds"
    );
    anyhow::ensure!(
        s.session_idle > 0 && s.session_absolute >= s.session_idle,
        "session lifetimes are inconsistent"
    );
    anyhow::ensure!(s.mails_per_hour > 0, "mails_per_hour must be positive");
    anyhow::ensure!(
        s.handover_secret
            .as_ref()
            .is_none_or(|h| h.expose().chars().count() >= SharedSecret::MIN_LEN),
        "handover_secret must be at least {} characters (e.g. openssl rand -hex 32)",
        SharedSecret::MIN_LEN
    );
    anyhow::ensure!(
        s.sender_address.contains('@'),
        "sender_address must be an e-mail address"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_override_defaults_and_unknown_keys_are_refused() {
        let s = from_json(r#"{"insurer_name": "架空損保", "link_lifetime": 86400}"#).unwrap();
        assert_eq!(s.insurer_name, "架空損保");
        assert_eq!(s.link_lifetime, 86400);
        assert_eq!(s.desk_name, Settings::default().desk_name);
        assert!(from_json(r#"{"insurer": "x"}"#).is_err());
        assert!(from_json(r#"{"base_url": "ftp://x"}"#).is_err());
        assert!(from_json(r#"{"handover_secret": "short"}"#).is_err());
        let s = from_json(&format!(r#"{{"handover_secret": "{}"}}"#, "k".repeat(32))).unwrap();
        assert!(s.handover_secret.unwrap().matches(&"k".repeat(32)));
    }
}
