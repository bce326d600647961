//! `customer-web:plugin/directory` on Spin's `default` SQLite (whatever
//! database the contract is on): the insurer's policyholders
//! and contracts in normalised tables (`cw_policyholders`, `cw_contracts`),
//! matched exactly as the wasmtime host's `FileDirectory` matches.
//!
//! On first use the tables are seeded with the bundled sample through
//! customer-web-directory's validated parser, unless the operator loaded
//! the insurer's own directory (a `cw_directory_source` row says so).

use std::cell::Cell;

use customer_web_directory::{Date, FileDirectory, SAMPLE};
use customer_web_sql::{Connection, SqlError, Value};

use crate::bindings::exports::customer_web::plugin::directory::{
    self as wit, Error, Guest, Identity, Policyholder,
};
use crate::{Adapter, db};
use customer_web_sql::directory as sql;

thread_local! {
    /// Whether this instance saw the directory complete.
    static COMPLETE: Cell<bool> = const { Cell::new(false) };
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

impl Guest for Adapter {
    fn find_policyholder(identity: Identity) -> Result<Option<Policyholder>, Error> {
        let d = identity.birth_date;
        // A date that does not exist matches nobody.
        let Some(birth_date) = Date::new(d.year, d.month, d.day) else {
            return Ok(None);
        };
        db::with_directory(|c| {
            ensure_complete(c)?;
            let found = c.query(
                sql::FIND_POLICYHOLDER,
                &[
                    text(identity.family_name),
                    text(identity.given_name),
                    text(identity.family_name_kana),
                    text(identity.given_name_kana),
                    text(birth_date.to_string()),
                    text(identity.phone),
                    text(identity.postal_code),
                    text(identity.policy_number),
                ],
            )?;
            let Some(row) = found.first() else {
                return Ok(None);
            };
            Ok(Some(Policyholder {
                customer_id: row.text(0, "customer_id")?,
                display_name: row.text(1, "display_name")?,
            }))
        })
        .map_err(Error::Unavailable)
    }

    fn list_contracts(customer_id: String) -> Result<Vec<wit::Contract>, Error> {
        db::with_directory(|c| {
            ensure_complete(c)?;
            let listed = c.query(sql::LIST_CONTRACTS, &[text(customer_id)])?;
            listed
                .iter()
                .map(|row| {
                    let expiry: Date = row
                        .text(3, "expiry_date")?
                        .parse()
                        .map_err(|e| SqlError(format!("cw_contracts holds a bad expiry_date: {e}")))?;
                    Ok(wit::Contract {
                        policy_number: row.text(0, "policy_number")?,
                        product: row.text(1, "product")?,
                        subject: row.text(2, "subject")?,
                        expiry_date: wit::Date {
                            year: expiry.year,
                            month: expiry.month,
                            day: expiry.day,
                        },
                        renewable: row.uint(4, "renewable")? != 0,
                    })
                })
                .collect()
        })
        .map_err(Error::Unavailable)
    }
}

/// Makes sure the directory is complete before it is read: seeds the
/// sample when no `cw_directory_source` row exists yet. The seed
/// statements are idempotent and do nothing once the row exists, so
/// instances racing on a fresh database all end with the same, complete
/// directory, and none reads it half-seeded.
fn ensure_complete(c: &mut dyn Connection) -> Result<(), SqlError> {
    if COMPLETE.get() {
        return Ok(());
    }
    if c.query(sql::DIRECTORY_SOURCE, &[])?.is_empty() {
        seed_sample(c)?;
    }
    COMPLETE.set(true);
    Ok(())
}

fn seed_sample(c: &mut dyn Connection) -> Result<(), SqlError> {
    let sample = FileDirectory::from_json(SAMPLE)
        .map_err(|e| SqlError(format!("the bundled sample directory: {e:#}")))?;
    for holder in sample.policyholders() {
        c.execute(
            sql::SEED_POLICYHOLDER,
            &[
                text(holder.customer_id.as_str()),
                text(holder.family_name.as_str()),
                text(holder.given_name.as_str()),
                text(holder.family_name_kana.as_str()),
                text(holder.given_name_kana.as_str()),
                text(holder.birth_date.to_string()),
                text(holder.phone.as_str()),
                text(holder.postal_code.as_str()),
                text(holder.display_name()),
            ],
        )?;
        for (position, contract) in holder.contracts.iter().enumerate() {
            c.execute(
                sql::SEED_CONTRACT,
                &[
                    text(contract.policy_number.as_str()),
                    text(holder.customer_id.as_str()),
                    Value::uint(u64::try_from(position).unwrap_or(u64::MAX)),
                    text(contract.product.as_str()),
                    text(contract.subject.as_str()),
                    text(contract.expiry_date.to_string()),
                    Value::Int(i64::from(contract.renewable)),
                ],
            )?;
        }
    }
    c.execute(sql::SEED_DONE, &[Value::uint(db::now())])?;
    Ok(())
}
