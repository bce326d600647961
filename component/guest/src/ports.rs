//! The core's ports over the component's imports: storage, mail,
//! directory, configuration, audit and (where the host offers it) hashing
//! from the host; time and randomness from WASI.

use customer_web_core::model::{Contract, Identity, Message, Policyholder, Settings, Timestamp};
use customer_web_core::ports::{
    Argon2Params, Audit, AuditEvent, Clock, Condition, Config, Directory, Entry, Hasher, Mailer, PortError,
    Ports, Rng, Store, WriteOutcome,
};
use customer_web_core::secret::SharedSecret;

use crate::bindings::customer_web::plugin::{audit, config, directory, hashing, mail, storage};
use crate::convert;

/// The host's capabilities, as the core's ports.
pub struct Host;

/// The ports of one call.
pub fn ports() -> Ports<'static> {
    Ports {
        store: &Host,
        mailer: &Host,
        directory: &Host,
        config: &Host,
        audit: &Host,
        clock: &Host,
        rng: &Host,
        hasher: &Host,
    }
}

fn storage_error(e: storage::Error) -> PortError {
    match e {
        storage::Error::Unavailable(m) => PortError(format!("storage: {m}")),
        storage::Error::TooLarge => PortError("storage: value too large".into()),
    }
}

fn condition(c: Condition) -> storage::Condition {
    match c {
        Condition::Absent => storage::Condition::Absent,
        Condition::Version(v) => storage::Condition::Version(v),
        Condition::Any => storage::Condition::Any,
    }
}

fn outcome(o: storage::WriteOutcome) -> WriteOutcome {
    match o {
        storage::WriteOutcome::Written(v) => WriteOutcome::Written(v),
        storage::WriteOutcome::Conflict => WriteOutcome::Conflict,
    }
}

impl Store for Host {
    fn get(&self, key: &str) -> Result<Option<Entry>, PortError> {
        let entry = storage::get(key).map_err(storage_error)?;
        Ok(entry.map(|e| Entry {
            value: e.value,
            version: e.version,
        }))
    }

    fn put(
        &self,
        key: &str,
        value: &[u8],
        c: Condition,
        expires_at: Option<Timestamp>,
    ) -> Result<WriteOutcome, PortError> {
        storage::put(key, value, condition(c), expires_at)
            .map(outcome)
            .map_err(storage_error)
    }

    fn delete(&self, key: &str, c: Condition) -> Result<WriteOutcome, PortError> {
        storage::delete(key, condition(c))
            .map(outcome)
            .map_err(storage_error)
    }
}

impl Mailer for Host {
    fn send(&self, m: &Message) -> Result<(), PortError> {
        mail::send(&mail::Message {
            to: m.to.clone(),
            subject: m.subject.clone(),
            text: m.text.clone(),
            kind: m.kind.clone(),
        })
        .map_err(|e| match e {
            mail::Error::Unavailable(m) => PortError(format!("mail: {m}")),
            mail::Error::Rejected(m) => PortError(format!("mail rejected: {m}")),
        })
    }
}

fn directory_error(e: directory::Error) -> PortError {
    let directory::Error::Unavailable(m) = e;
    PortError(format!("directory: {m}"))
}

impl Directory for Host {
    fn find_policyholder(&self, identity: &Identity) -> Result<Option<Policyholder>, PortError> {
        let found = directory::find_policyholder(&convert::identity(identity)).map_err(directory_error)?;
        Ok(found.map(|p| Policyholder {
            customer_id: p.customer_id,
            display_name: p.display_name,
        }))
    }

    fn list_contracts(&self, customer_id: &str) -> Result<Vec<Contract>, PortError> {
        let list = directory::list_contracts(customer_id).map_err(directory_error)?;
        Ok(list.into_iter().map(convert::contract_from_wit).collect())
    }
}

impl Config for Host {
    fn settings(&self) -> Result<Settings, PortError> {
        let s = config::get_settings().map_err(|e| {
            let config::Error::Unavailable(m) = e;
            PortError(format!("configuration: {m}"))
        })?;
        Ok(Settings {
            insurer_name: s.insurer_name,
            sender_address: s.sender_address,
            desk_name: s.desk_name,
            desk_phone: s.desk_phone,
            desk_hours: s.desk_hours,
            base_url: s.base_url,
            terms_version: s.terms_version,
            link_lifetime: s.link_lifetime,
            flow_lifetime: s.flow_lifetime,
            session_idle: s.session_idle,
            session_absolute: s.session_absolute,
            mails_per_hour: s.mails_per_hour,
            renewal_url: s.renewal_url,
            handover_secret: s.handover_secret.map(SharedSecret::new),
        })
    }
}

impl Audit for Host {
    fn record(&self, event: &AuditEvent) -> Result<(), PortError> {
        audit::record_event(&audit::Event {
            at: event.at,
            kind: event.kind.to_owned(),
            subject: event.subject.clone(),
            detail: event.detail.clone(),
        })
        .map_err(|e| {
            let audit::Error::Unavailable(m) = e;
            PortError(format!("audit: {m}"))
        })
    }
}

impl Clock for Host {
    fn now(&self) -> Timestamp {
        // wasi:clocks/wall-clock, called as the HTTP calls are (not
        // through the C library's clock_gettime, which would link the
        // monotonic clock too); the host decides what time it is.
        wasip2::clocks::wall_clock::now().seconds
    }
}

impl Rng for Host {
    fn fill(&self, buf: &mut [u8]) {
        // wasi:random/random cannot fail on a conforming host; a host that
        // fails it has no business running an identity flow, so stop here
        // rather than issue a predictable token.
        if getrandom::fill(buf).is_err() {
            panic!("wasi:random/random failed");
        }
    }
}

impl Hasher for Host {
    fn argon2id(
        &self,
        secret: &[u8],
        salt: &[u8],
        params: Argon2Params,
    ) -> Result<Option<Vec<u8>>, PortError> {
        let params = hashing::Argon2Params {
            m_cost: params.m_cost,
            t_cost: params.t_cost,
            p_cost: params.p_cost,
            output_len: params.output_len,
        };
        hashing::argon2id(secret, salt, params).map_err(|e| match e {
            hashing::Error::Unavailable(m) => PortError(format!("hashing: {m}")),
        })
    }
}
