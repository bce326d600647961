//! `customer-web:plugin/config`: the settings the host was started with.

use crate::bindings::customer_web::plugin::config::{self, Error, Settings};
use crate::link::{CustomerWeb, Fault};

impl config::Host for CustomerWeb<'_> {
    fn convert_error(&mut self, fault: Fault<Error>) -> wasmtime::Result<Error> {
        fault.into_guest()
    }

    fn get_settings(&mut self) -> Result<Settings, Fault<Error>> {
        let s = &self.caps.settings;
        Ok(Settings {
            insurer_name: s.insurer_name.clone(),
            sender_address: s.sender_address.clone(),
            desk_name: s.desk_name.clone(),
            desk_phone: s.desk_phone.clone(),
            desk_hours: s.desk_hours.clone(),
            base_url: s.base_url.clone(),
            terms_version: s.terms_version.clone(),
            link_lifetime: s.link_lifetime,
            flow_lifetime: s.flow_lifetime,
            session_idle: s.session_idle,
            session_absolute: s.session_absolute,
            mails_per_hour: s.mails_per_hour,
            renewal_url: s.renewal_url.clone(),
            handover_secret: s.handover_secret.as_ref().map(|h| h.expose().to_owned()),
        })
    }
}
