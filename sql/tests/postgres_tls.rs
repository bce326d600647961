//! TLS to PostgreSQL: what a URL asks for, and a real server that offers
//! TLS with a certificate for `localhost` signed by a CA of the run
//! (`.ci/postgres` makes both; `CUSTOMER_WEB_TEST_POSTGRES_CA` is the CA).

use std::io::Write as _;

use customer_web_sql::postgres::{PgPool, Transport, parse_url};
use customer_web_sql::{Database, Value};

fn transport(url: &str) -> Result<Transport, String> {
    parse_url(url).map(|(_, transport)| transport).map_err(|e| e.0)
}

fn is_required_tls(url: &str) -> bool {
    matches!(transport(url), Ok(Transport::Tls { required: true, .. }))
}

#[test]
fn a_database_elsewhere_is_reached_over_verified_tls_unless_the_url_says_otherwise() {
    // On this machine: in the clear unless asked.
    for url in [
        "postgres://u@127.0.0.1:5432/db",
        "postgres://u@localhost/db",
        "postgres://u@[::1]:5432/db",
        "host=/var/run/postgresql user=u dbname=db",
        "postgres://u@db.internal/db?sslmode=disable",
    ] {
        assert!(matches!(transport(url), Ok(Transport::Plain)), "{url}");
    }
    // Elsewhere: TLS, required, with no word in the URL.
    for url in [
        "postgres://u:p@db.internal:5432/db",
        "postgresql://u@10.0.0.5/db?application_name=portal",
        "host=db.internal user=u dbname=db",
        "postgres://u@127.0.0.1/db?sslmode=require",
        "postgres://u@localhost/db?sslmode=verify-full",
        "postgres://u@localhost/db?sslmode=verify-ca",
    ] {
        assert!(is_required_tls(url), "{url}: {:?}", transport(url));
    }
    assert!(matches!(
        transport("postgres://u@db.internal/db?sslmode=prefer"),
        Ok(Transport::Tls { required: false, .. })
    ));
    // The parameters the client's parser does not know are taken out; the
    // rest stay.
    let (config, _) =
        parse_url("postgres://u@db.internal/db?sslmode=require&application_name=portal").unwrap();
    assert_eq!(config.get_application_name(), Some("portal"));
}

#[test]
fn a_wrong_tls_setting_is_a_clear_error() {
    let missing = transport("postgres://u@db.internal/db?sslrootcert=/nonexistent/ca.pem").unwrap_err();
    assert!(missing.contains("sslrootcert /nonexistent/ca.pem"), "{missing}");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let none = transport(&format!(
        "postgres://u@db.internal/db?sslrootcert={}",
        empty.display()
    ))
    .unwrap_err();
    assert!(none.contains("no certificate"), "{none}");
    let mode = transport("postgres://u@db.internal/db?sslmode=sometimes").unwrap_err();
    assert!(mode.contains("sslmode=sometimes"), "{mode}");
    let both = transport("postgres://u@db.internal/db?sslmode=disable&sslrootcert=/x.pem").unwrap_err();
    assert!(both.contains("sslmode=disable"), "{both}");
}

/// The test server's URL and CA, or `None` (after a loud note) outside CI
/// when there is none.
fn server() -> Option<(String, String)> {
    let url = std::env::var("CUSTOMER_WEB_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty());
    let ca = std::env::var("CUSTOMER_WEB_TEST_POSTGRES_CA")
        .ok()
        .filter(|c| !c.is_empty());
    match (url, ca) {
        (Some(url), Some(ca)) => Some((url, ca)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CUSTOMER_WEB_TEST_POSTGRES(_CA) unset: CI must run the TLS tests (.ci/postgres starts a TLS server)"
            );
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED (PostgreSQL TLS): no server with a test CA (eval \"$(bash .ci/postgres start)\") ***\n"
            );
            None
        }
    }
}

/// The test server's URL with `host` for its host and `query` appended.
fn at(url: &str, host: &str, query: &str) -> String {
    let url = url.replacen("@127.0.0.1:", &format!("@{host}:"), 1);
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

/// Whether the pool's connection is encrypted, as the server sees it.
fn encrypted(pool: &PgPool) -> bool {
    let rows = pool
        .with(|c| c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]))
        .unwrap();
    rows[0].0[0] == Value::Int(1)
}

#[test]
fn a_verified_server_is_reached_over_tls_and_an_unverified_one_is_refused() {
    let Some((url, ca)) = server() else { return };

    // Verified by name against the run's CA: connected, encrypted.
    let pool = PgPool::connect(
        &at(
            &url,
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        2,
    )
    .unwrap();
    assert!(encrypted(&pool), "the connection is TLS");
    // `prefer` takes the TLS the server offers.
    let pool = PgPool::connect(
        &at(&url, "localhost", &format!("sslmode=prefer&sslrootcert={ca}")),
        2,
    )
    .unwrap();
    assert!(encrypted(&pool));

    // The certificate names `localhost`, not 127.0.0.1: refused by address.
    let by_address = PgPool::connect(
        &at(&url, "127.0.0.1", &format!("sslmode=require&sslrootcert={ca}")),
        2,
    )
    .err()
    .expect("a certificate for another name is refused");
    assert!(by_address.0.contains("certificate"), "{}", by_address.0);
    assert!(
        by_address.0.contains("sslrootcert=PATH"),
        "the error says what to do: {}",
        by_address.0
    );

    // The run's CA is no public one: refused against Mozilla's roots.
    let unknown = PgPool::connect(&at(&url, "localhost", "sslmode=require"), 2)
        .err()
        .expect("a private CA is not trusted by default");
    assert!(unknown.0.contains("certificate"), "{}", unknown.0);

    // On this machine with no word: in the clear.
    let plain = PgPool::connect(&url, 2).unwrap();
    assert!(
        !encrypted(&plain),
        "a loopback server is reached in the clear by default"
    );
}
