//! `customer-web:plugin/directory` on SQLite: the insurer's policyholders
//! and contracts in normalised tables (`cw_policyholders`, `cw_contracts`),
//! matched exactly as the wasmtime host's `FileDirectory` matches.
//!
//! On first use the tables are seeded with the bundled sample through
//! customer-web-directory's validated parser, unless the operator loaded
//! the insurer's own directory (a `cw_directory_source` row says so).

use std::cell::Cell;

use customer_web_directory::{Date, FileDirectory, SAMPLE};
use spin_sdk::sqlite::{Connection, Value};

use crate::bindings::exports::customer_web::plugin::directory::{
    self as wit, Error, Guest, Identity, Policyholder,
};
use crate::db::{self, column, int, text};
use crate::{Adapter, sql};

thread_local! {
    /// Whether this instance saw the directory complete.
    static COMPLETE: Cell<bool> = const { Cell::new(false) };
}

impl Guest for Adapter {
    fn find_policyholder(identity: Identity) -> Result<Option<Policyholder>, Error> {
        let d = identity.birth_date;
        // A date that does not exist matches nobody.
        let Some(birth_date) = Date::new(d.year, d.month, d.day) else {
            return Ok(None);
        };
        db::with(|conn| {
            ensure_complete(conn)?;
            let found = db::exec(
                conn,
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
            let Some(row) = found.rows.first() else {
                return Ok(None);
            };
            Ok(Some(Policyholder {
                customer_id: column::<&str>(row, 0, "customer_id")?.to_owned(),
                display_name: column::<&str>(row, 1, "display_name")?.to_owned(),
            }))
        })
        .map_err(Error::Unavailable)
    }

    fn list_contracts(customer_id: String) -> Result<Vec<wit::Contract>, Error> {
        db::with(|conn| {
            ensure_complete(conn)?;
            let listed = db::exec(conn, sql::LIST_CONTRACTS, &[text(customer_id)])?;
            listed
                .rows
                .iter()
                .map(|row| {
                    let expiry: &str = column(row, 3, "expiry_date")?;
                    let expiry: Date = expiry
                        .parse()
                        .map_err(|e| format!("cw_contracts holds a bad expiry_date: {e}"))?;
                    Ok(wit::Contract {
                        policy_number: column::<&str>(row, 0, "policy_number")?.to_owned(),
                        product: column::<&str>(row, 1, "product")?.to_owned(),
                        subject: column::<&str>(row, 2, "subject")?.to_owned(),
                        expiry_date: wit::Date {
                            year: expiry.year,
                            month: expiry.month,
                            day: expiry.day,
                        },
                        renewable: column(row, 4, "renewable")?,
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
fn ensure_complete(conn: &Connection) -> Result<(), String> {
    if COMPLETE.get() {
        return Ok(());
    }
    let source = db::exec(conn, sql::DIRECTORY_SOURCE, &[])?;
    if source.rows.is_empty() {
        seed_sample(conn)?;
    }
    COMPLETE.set(true);
    Ok(())
}

fn seed_sample(conn: &Connection) -> Result<(), String> {
    let sample =
        FileDirectory::from_json(SAMPLE).map_err(|e| format!("the bundled sample directory: {e:#}"))?;
    for holder in sample.policyholders() {
        db::exec(
            conn,
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
            db::exec(
                conn,
                sql::SEED_CONTRACT,
                &[
                    text(contract.policy_number.as_str()),
                    text(holder.customer_id.as_str()),
                    int(u64::try_from(position).unwrap_or(u64::MAX)),
                    text(contract.product.as_str()),
                    text(contract.subject.as_str()),
                    text(contract.expiry_date.to_string()),
                    Value::Integer(i64::from(contract.renewable)),
                ],
            )?;
        }
    }
    db::exec(conn, sql::SEED_DONE, &[int(db::now())])?;
    Ok(())
}
