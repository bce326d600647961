//! The insurer's directory as SQL for the Spin app
//! (`customer-web directory-sql FILE`): the Spin adapter reads
//! policyholders and contracts from its own tables in Spin's `default`
//! SQLite database, and `spin up --sqlite @directory.sql` loads them there
//! before the first request.
//!
//! The script is one transaction. It makes the adapter's directory tables
//! (the very statements of `customer_web_sql::directory`, all idempotent),
//! replaces their rows with the file's, and marks the directory as the
//! insurer's, so the adapter never seeds its sample. Running it again at
//! every `spin up` reloads the directory; flows, accounts, mail and the
//! audit trail (customer-web-sql's tables, which the adapter migrates
//! itself) are left alone.
//!
//! ```
//! use customer_web_host::directory::FileDirectory;
//! let sql = customer_web_host::directory_sql::directory_sql(&FileDirectory::sample());
//! assert!(sql.starts_with("-- customer-web directory"));
//! assert!(sql.contains("INSERT INTO cw_policyholders"));
//! ```

use std::fmt::Write as _;

use customer_web_directory::FileDirectory;

/// The Spin adapter's directory statements: their schema is the script's.
use customer_web_sql::directory as adapter_sql;

/// The `source` the script writes into `cw_directory_source`.
pub const SOURCE: &str = "insurer";

/// `directory` as a SQLite script for `spin up --sqlite @FILE`.
pub fn directory_sql(directory: &FileDirectory) -> String {
    let mut sql = String::new();
    let _ = writeln!(
        sql,
        "-- customer-web directory: {} policyholders, for `spin up --sqlite @FILE`.\n\
         -- Made by `customer-web directory-sql`; reloads the directory at every run.",
        directory.len()
    );
    sql.push_str("BEGIN IMMEDIATE;\n");
    for statement in adapter_sql::SCHEMA {
        let _ = writeln!(sql, "{statement};");
    }
    sql.push_str(
        "DELETE FROM cw_contracts;\nDELETE FROM cw_policyholders;\nDELETE FROM cw_directory_source;\n",
    );
    for holder in directory.policyholders() {
        let _ = writeln!(
            sql,
            "INSERT INTO cw_policyholders (customer_id, family_name, given_name, family_name_kana, \
             given_name_kana, birth_date, phone, postal_code, display_name) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {});",
            literal(&holder.customer_id),
            literal(&holder.family_name),
            literal(&holder.given_name),
            literal(&holder.family_name_kana),
            literal(&holder.given_name_kana),
            literal(&holder.birth_date.to_string()),
            literal(&holder.phone),
            literal(&holder.postal_code),
            literal(&holder.display_name()),
        );
        for (position, contract) in holder.contracts.iter().enumerate() {
            let _ = writeln!(
                sql,
                "INSERT INTO cw_contracts (policy_number, customer_id, position, product, subject, \
                 expiry_date, renewable) VALUES ({}, {}, {position}, {}, {}, {}, {});",
                literal(&contract.policy_number),
                literal(&holder.customer_id),
                literal(&contract.product),
                literal(&contract.subject),
                literal(&contract.expiry_date.to_string()),
                u8::from(contract.renewable),
            );
        }
    }
    let _ = writeln!(
        sql,
        "INSERT INTO cw_directory_source (id, source, loaded_at) VALUES (0, {}, unixepoch());",
        literal(SOURCE)
    );
    sql.push_str("COMMIT;\n");
    sql
}

/// `text` as a SQL string literal. The directory's values were validated
/// as text; a NUL, which SQLite's parser would end the literal at, cannot
/// pass that validation, and is dropped here all the same.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars().filter(|&c| c != '\0') {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use customer_web_directory::{Directory, IdentityQuery};

    fn loaded(sql: &str) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
        conn.execute_batch(sql).expect("the script runs");
        conn
    }

    /// Every policyholder of the sample is found by the adapter's own
    /// query, with the same customer id and display name as the host's
    /// FileDirectory answers, and their contracts come back in order.
    #[test]
    fn the_script_loads_a_directory_the_adapter_matches_as_the_host_does() {
        let directory = FileDirectory::sample();
        let conn = loaded(&directory_sql(&directory));
        for holder in directory.policyholders() {
            for contract in &holder.contracts {
                let query = IdentityQuery {
                    family_name: holder.family_name.clone(),
                    given_name: holder.given_name.clone(),
                    family_name_kana: holder.family_name_kana.clone(),
                    given_name_kana: holder.given_name_kana.clone(),
                    birth_date: holder.birth_date,
                    phone: holder.phone.clone(),
                    postal_code: holder.postal_code.clone(),
                    policy_number: contract.policy_number.clone(),
                };
                let expected = directory
                    .find_policyholder(&query)
                    .expect("found")
                    .expect("a match");
                let found: (String, String) = conn
                    .query_row(
                        adapter_sql::FIND_POLICYHOLDER,
                        rusqlite::params![
                            query.family_name,
                            query.given_name,
                            query.family_name_kana,
                            query.given_name_kana,
                            query.birth_date.to_string(),
                            query.phone,
                            query.postal_code,
                            query.policy_number,
                        ],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .expect("the adapter's query finds them");
                assert_eq!(found, (expected.customer_id, expected.display_name));
            }
            let listed: Vec<String> = conn
                .prepare(adapter_sql::LIST_CONTRACTS)
                .expect("prepare")
                .query_map([&holder.customer_id], |row| row.get(0))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            let expected: Vec<String> = holder.contracts.iter().map(|c| c.policy_number.clone()).collect();
            assert_eq!(listed, expected);
        }
        let source: String = conn
            .query_row(adapter_sql::DIRECTORY_SOURCE, [], |row| row.get(0))
            .expect("marked loaded");
        assert_eq!(source, SOURCE);
    }

    /// Run twice (as at every `spin up`), the script replaces the directory
    /// instead of failing or doubling it, and leaves other tables alone.
    #[test]
    fn the_script_reloads_and_leaves_the_rest_of_the_database_alone() {
        let mut conn = loaded(&directory_sql(&FileDirectory::sample()));
        // The trail, as the adapter makes it.
        customer_web_sql::migrate(&mut conn, &customer_web_sql::audit::SCHEMA).expect("the trail");
        conn.execute(
            "INSERT INTO cw_audit (at, kind, subject, detail) VALUES (1, 'k', 's', 'd')",
            [],
        )
        .expect("an audit row");
        let one = FileDirectory::from_json(
            r#"{"policyholders": [{"customer_id": "C9", "family_name": "鈴木", "given_name": "花子",
                "family_name_kana": "スズキ", "given_name_kana": "ハナコ", "birth_date": "1990-01-02",
                "phone": "0312345678", "postal_code": "1500001",
                "contracts": [{"policy_number": "Z1", "product": "火災保険", "subject": "東京都渋谷区",
                               "expiry_date": "2027-03-31", "renewable": true}]}]}"#,
        )
        .expect("a directory");
        conn.execute_batch(&directory_sql(&one)).expect("runs again");
        let holders: i64 = conn
            .query_row("SELECT count(*) FROM cw_policyholders", [], |r| r.get(0))
            .expect("count");
        let audit: i64 = conn
            .query_row("SELECT count(*) FROM cw_audit", [], |r| r.get(0))
            .expect("count");
        assert_eq!((holders, audit), (1, 1));
    }

    #[test]
    fn quotes_are_doubled_in_literals() {
        assert_eq!(literal("O'Brien"), "'O''Brien'");
        let conn = rusqlite::Connection::open_in_memory().expect("sqlite");
        let back: String = conn
            .query_row(&format!("SELECT {}", literal("a'b''c")), [], |r| r.get(0))
            .expect("select");
        assert_eq!(back, "a'b''c");
    }
}
