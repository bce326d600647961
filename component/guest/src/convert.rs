//! Conversions between the WIT types and the core's plain records.

use customer_web_core::FlowError;
use customer_web_core::credentials::SessionGrant;
use customer_web_core::model::{self, Contract, CustomerInput, Identity};

use crate::bindings::customer_web::plugin::directory;
use crate::bindings::exports::customer_web::plugin::types;

fn date(d: model::Date) -> types::Date {
    types::Date {
        year: d.year,
        month: d.month,
        day: d.day,
    }
}

fn directory_date(d: model::Date) -> directory::Date {
    directory::Date {
        year: d.year,
        month: d.month,
        day: d.day,
    }
}

pub fn identity(i: &Identity) -> directory::Identity {
    directory::Identity {
        family_name: i.family_name.clone(),
        given_name: i.given_name.clone(),
        family_name_kana: i.family_name_kana.clone(),
        given_name_kana: i.given_name_kana.clone(),
        birth_date: directory_date(i.birth_date),
        phone: i.phone.clone(),
        postal_code: i.postal_code.clone(),
        policy_number: i.policy_number.clone(),
    }
}

pub fn contract_from_wit(c: directory::Contract) -> Contract {
    Contract {
        policy_number: c.policy_number,
        product: c.product,
        subject: c.subject,
        expiry_date: model::Date {
            year: c.expiry_date.year,
            month: c.expiry_date.month,
            day: c.expiry_date.day,
        },
        renewable: c.renewable,
    }
}

pub fn contract_to_wit(c: Contract) -> types::Contract {
    types::Contract {
        policy_number: c.policy_number,
        product: c.product,
        subject: c.subject,
        expiry_date: date(c.expiry_date),
        renewable: c.renewable,
    }
}

pub fn customer_from_wit(c: types::CustomerInput) -> CustomerInput {
    CustomerInput {
        family_name: c.family_name,
        given_name: c.given_name,
        family_name_kana: c.family_name_kana,
        given_name_kana: c.given_name_kana,
        birth_date: c.birth_date,
        phone: c.phone,
        postal_code: c.postal_code,
        policy_number: c.policy_number,
    }
}

pub fn customer_to_wit(c: CustomerInput) -> types::CustomerInput {
    types::CustomerInput {
        family_name: c.family_name,
        given_name: c.given_name,
        family_name_kana: c.family_name_kana,
        given_name_kana: c.given_name_kana,
        birth_date: c.birth_date,
        phone: c.phone,
        postal_code: c.postal_code,
        policy_number: c.policy_number,
    }
}

pub fn session_grant(g: SessionGrant) -> types::SessionGrant {
    types::SessionGrant {
        session: g.session.expose().to_owned(),
        expires_at: g.expires_at,
    }
}

pub fn flow_error(e: FlowError) -> types::FlowError {
    use types::FlowError as W;
    match e {
        FlowError::InvalidInput(fields) => W::InvalidInput(
            fields
                .into_iter()
                .map(|f| types::FieldError {
                    field: f.field,
                    message: f.message,
                })
                .collect(),
        ),
        FlowError::UnknownFlow => W::UnknownFlow,
        FlowError::FlowExpired => W::FlowExpired,
        FlowError::WrongStep(s) => W::WrongStep(s),
        FlowError::LinkUnknown => W::LinkUnknown,
        FlowError::LinkSpent => W::LinkSpent,
        FlowError::LinkExpired => W::LinkExpired,
        FlowError::LinkBurnt => W::LinkBurnt,
        FlowError::WrongKeyword(n) => W::WrongKeyword(n),
        FlowError::UserIdUnavailable => W::UserIdUnavailable,
        FlowError::AlreadyRegistered => W::AlreadyRegistered,
        FlowError::RateLimited(s) => W::RateLimited(s),
        FlowError::Unavailable(m) => W::Unavailable(m),
    }
}
