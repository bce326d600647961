//! `customer-web:plugin/directory` over the host's
//! [`Directory`](crate::directory::Directory).

use crate::bindings::customer_web::plugin::directory::{self, Contract, Date, Error, Identity, Policyholder};
use crate::directory as backend;
use crate::link::{CustomerWeb, Fault};

fn error(e: backend::DirectoryError) -> Fault<Error> {
    tracing::warn!(error = %e, "customer_web.directory fault");
    Error::Unavailable(e.to_string()).into()
}

impl directory::Host for CustomerWeb<'_> {
    fn convert_error(&mut self, fault: Fault<Error>) -> wasmtime::Result<Error> {
        fault.into_guest()
    }

    fn find_policyholder(&mut self, identity: Identity) -> Result<Option<Policyholder>, Fault<Error>> {
        let _span = tracing::debug_span!("customer_web.directory.find_policyholder").entered();
        let d = identity.birth_date;
        // A date that does not exist matches nobody.
        let Some(birth_date) = backend::Date::new(d.year, d.month, d.day) else {
            return Ok(None);
        };
        let query = backend::IdentityQuery {
            family_name: identity.family_name,
            given_name: identity.given_name,
            family_name_kana: identity.family_name_kana,
            given_name_kana: identity.given_name_kana,
            birth_date,
            phone: identity.phone,
            postal_code: identity.postal_code,
            policy_number: identity.policy_number,
        };
        crate::blocking::run(|| self.caps.directory.find_policyholder(&query))
            .map(|found| {
                found.map(|p| Policyholder {
                    customer_id: p.customer_id,
                    display_name: p.display_name,
                })
            })
            .map_err(error)
    }

    fn list_contracts(&mut self, customer_id: String) -> Result<Vec<Contract>, Fault<Error>> {
        let _span = tracing::debug_span!("customer_web.directory.list_contracts").entered();
        crate::blocking::run(|| self.caps.directory.list_contracts(&customer_id))
            .map(|list| {
                list.into_iter()
                    .map(|c| Contract {
                        policy_number: c.policy_number,
                        product: c.product,
                        subject: c.subject,
                        expiry_date: Date {
                            year: c.expiry_date.year,
                            month: c.expiry_date.month,
                            day: c.expiry_date.day,
                        },
                        renewable: c.renewable,
                    })
                    .collect()
            })
            .map_err(error)
    }
}
