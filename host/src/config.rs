//! The portal's settings: brand strings, base URL, lifetimes. Read from a
//! JSON file whose keys are those of `wit/config.wit` in snake_case; any key
//! left out keeps the default of the seed leaflet.

use std::path::Path;

use anyhow::Context;
pub use customer_web_core::model::Settings;

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
        s.link_lifetime >= 600,
        "link_lifetime must be at least 600 seconds"
    );
    anyhow::ensure!(
        s.session_idle > 0 && s.session_absolute >= s.session_idle,
        "session lifetimes are inconsistent"
    );
    anyhow::ensure!(s.mails_per_hour > 0, "mails_per_hour must be positive");
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
    }
}
