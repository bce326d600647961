//! The host's guarantees: one-time under concurrency, guest faults
//! contained, and the component reaching nothing but its capabilities.

use customer_web_e2e::common;

use std::path::Path;

use common::{Backend, CONTACT, Harness, KEYWORD, PASSWORD};
use customer_web_host::bindings::exports::customer_web::plugin::types::FlowError;
use customer_web_host::plugin::EMBEDDED_COMPONENT;
use customer_web_host::{Capabilities, HostOptions, PluginHost};
use wit_parser::{ManglingAndAbi, Resolve, WorldId};

/// `wit/` (the contract and its vendored WASI) and its world `component`:
/// what the built component may import and must export.
fn component_world() -> (Resolve, WorldId) {
    let mut resolve = Resolve::default();
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    let (package, _) = resolve.push_dir(&wit).expect("wit/ parses with its deps");
    let world = resolve
        .select_world(&[package], Some("component"))
        .expect("wit/ has a world `component`");
    (resolve, world)
}

/// A component of `world`'s shape (every import imported, every export
/// exported) whose functions do nothing, as `wasm-tools` makes them.
fn dummy_component(resolve: &Resolve, world: WorldId) -> Vec<u8> {
    let mut module = wit_component::dummy_module(resolve, world, ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(&mut module, resolve, world, wit_component::StringEncoding::UTF8)
        .expect("metadata embeds");
    wit_component::ComponentEncoder::default()
        .module(&module)
        .expect("a dummy module")
        .validate(true)
        .encode()
        .expect("the dummy encodes as a component")
}

/// The built component conforms to `wit/`'s world `component`: it imports
/// nothing the world does not (its capabilities, and of WASI 0.2 only
/// clocks, random, io, the standard library's `wasi:cli` and
/// `wasi:http/types`: no filesystem, no sockets, no outgoing HTTP) and
/// exports everything it does (the flows and `wasi:http/incoming-handler`).
#[test]
fn the_component_targets_its_world() {
    let (resolve, world) = component_world();
    if let Err(e) = wit_component::targets(&resolve, world, EMBEDDED_COMPONENT) {
        let (imports, _) = common::spin::interfaces(EMBEDDED_COMPONENT);
        panic!("the component does not target wit/'s world `component`: {e:#}\nits imports: {imports:#?}");
    }
    // The world lets a component leave an import out; this one uses every
    // capability.
    let (imports, _) = common::spin::interfaces(EMBEDDED_COMPONENT);
    for capability in ["storage", "mail", "directory", "config", "audit"] {
        let name = format!("customer-web:plugin/{capability}@0.1.0");
        assert!(imports.contains(&name), "{name} not imported");
    }
    println!("component imports:\n  {}", Vec::from_iter(imports).join("\n  "));
}

/// The C library's standard streams and environment are not linked into
/// the component (`component/guest/src/libc.rs`): of `wasi:cli` it imports
/// stdout and stderr only, and nothing of `wasi:io/poll`. Every import is
/// linked at every instantiation, that is at every request.
#[test]
fn the_component_imports_no_environment_terminal_or_polling() {
    let (imports, _) = common::spin::interfaces(EMBEDDED_COMPONENT);
    let cli: Vec<&str> = imports
        .iter()
        .map(String::as_str)
        .filter(|i| i.starts_with("wasi:cli/"))
        .collect();
    assert_eq!(cli, ["wasi:cli/stderr@0.2.12", "wasi:cli/stdout@0.2.12"]);
    assert!(
        !imports.iter().any(|i| i.starts_with("wasi:io/poll@")),
        "{imports:#?}"
    );
}

/// The check has teeth: a component of the world's shape passes it, and the
/// same component importing any interface of `wasi:filesystem` or
/// `wasi:sockets`, or `wasi:http/outgoing-handler`, fails it with a message
/// naming that import.
#[test]
fn a_component_importing_files_sockets_or_outgoing_http_fails_the_world_check() {
    let (resolve, world) = component_world();
    let own_shape = dummy_component(&resolve, world);
    wit_component::targets(&resolve, world, &own_shape)
        .expect("a component of the world's own shape targets it");
    let (allowed, _) = common::spin::interfaces(&own_shape);
    let forbidden: Vec<String> = resolve
        .interfaces
        .iter()
        .filter_map(|(id, _)| resolve.id_of(id))
        .filter(|name| {
            name.starts_with("wasi:filesystem/")
                || name.starts_with("wasi:sockets/")
                || name.starts_with("wasi:http/outgoing-handler@")
        })
        .collect();
    assert!(
        forbidden.len() >= 10,
        "the WASI deps hold the forbidden interfaces: {forbidden:?}"
    );
    for name in &forbidden {
        // A world `intruder`: `component` plus the one import.
        let mut resolve = resolve.clone();
        let source = format!(
            "package test:intruder;\nworld intruder {{\n  include customer-web:plugin/component@0.1.0;\n  import {name};\n}}\n"
        );
        let package = resolve
            .push_str("intruder.wit", &source)
            .expect("intruder.wit parses");
        let intruder = resolve
            .select_world(&[package], Some("intruder"))
            .expect("world intruder");
        let wasm = dummy_component(&resolve, intruder);
        // What it imports beyond the world (`name`, and what `name` uses).
        let (imports, _) = common::spin::interfaces(&wasm);
        let beyond: Vec<&String> = imports.iter().filter(|i| !allowed.contains(*i)).collect();
        assert!(beyond.contains(&name), "the intruder imports {name}: {imports:?}");
        let Err(error) = wit_component::targets(&resolve, world, &wasm) else {
            panic!("a component importing {name} passes the check");
        };
        let message = format!("{error:#}");
        assert!(
            beyond
                .iter()
                .any(|i| message.contains(&format!("missing import named `{i}`"))),
            "the failure names what {name} brings in ({beyond:?}): {message}"
        );
        println!("{name}: {message}");
    }
}

fn race_one_link(backend: Backend) {
    let h = Harness::with_options(
        backend,
        HostOptions {
            max_concurrent: 16,
            ..common::options()
        },
    );
    let token = h.mail_link(CONTACT);
    let outcomes: Vec<Result<String, FlowError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let (h, token) = (&h, &token);
                scope.spawn(move || {
                    let verified = h.submit_keyword(token, KEYWORD)?;
                    h.submit_credentials(&verified.ticket, &format!("racer{i}@example.jp"), PASSWORD)?;
                    h.complete(&verified.ticket).map(|g| g.session)
                })
            })
            .collect();
        handles.into_iter().map(|t| t.join().expect("no panic")).collect()
    });
    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(winners, 1, "outcomes: {outcomes:?}");
    for loser in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert!(
            matches!(loser, FlowError::LinkSpent | FlowError::LinkBurnt),
            "a loser is told the link is gone, got {loser:?}"
        );
    }
    assert_eq!(h.count("account/"), 1);
    assert_eq!(h.count("user/"), 1);
}

#[test]
fn a_hundred_racing_submissions_of_one_link_make_exactly_one_account_in_memory() {
    race_one_link(Backend::Memory);
}

#[test]
fn a_hundred_racing_submissions_of_one_link_make_exactly_one_account_on_sqlite() {
    race_one_link(Backend::Sqlite);
}

/// On Spin's SQLite (the stand-in's): every adapter instance on its own
/// connection to one file, every compare-and-swap one statement of the
/// adapter's.
#[test]
fn a_hundred_racing_submissions_of_one_link_make_exactly_one_account_on_spin() {
    race_one_link(Backend::Spin);
}

#[test]
fn two_flows_racing_for_one_user_id_create_one_account() {
    race_for_one_user_id(Backend::Sqlite);
}

#[test]
fn two_flows_racing_for_one_user_id_create_one_account_on_spin() {
    race_for_one_user_id(Backend::Spin);
}

fn race_for_one_user_id(backend: Backend) {
    let h = Harness::with_options(
        backend,
        HostOptions {
            max_concurrent: 8,
            ..common::options()
        },
    );
    // Two enrollments of different policyholders reach screen 9 with the
    // same user ID, then confirm at once, several times over.
    let mut tickets = Vec::new();
    for (holder, contact) in [(common::yamada(), "a@example.jp"), (sato(), "b@example.jp")] {
        let flow = h.start(None).unwrap();
        h.submit_customer(&flow, &holder, &common::terms()).unwrap();
        h.submit_contact(&flow, KEYWORD, contact).unwrap();
        h.confirm(&flow).unwrap();
        let verified = h
            .submit_keyword(&common::link_token(&h.last_mail()), KEYWORD)
            .unwrap();
        h.submit_credentials(&verified.ticket, "shared@example.jp", PASSWORD)
            .unwrap();
        tickets.push(verified.ticket);
    }
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = tickets
            .iter()
            .flat_map(|t| [t, t, t])
            .map(|t| scope.spawn(|| h.complete(t)))
            .collect();
        handles.into_iter().map(|t| t.join().expect("no panic")).collect()
    });
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().any(|o| o == &Err(FlowError::UserIdUnavailable)));
    assert_eq!(h.count("account/"), 1);
    assert_eq!(
        h.count("customer/"),
        1,
        "the losing policyholder's reservation was released"
    );
}

/// 佐藤 花子 of the sample directory, typed as on screen 2; read from the
/// sample so the test follows it.
fn sato() -> customer_web_host::bindings::exports::customer_web::plugin::types::CustomerInput {
    let sample: serde_json::Value =
        serde_json::from_str(customer_web_host::directory::SAMPLE).expect("the sample is JSON");
    let holder = sample["policyholders"]
        .as_array()
        .and_then(|all| all.iter().find(|h| h["family_name"] == "佐藤"))
        .expect("the sample holds 佐藤 花子");
    let text = |field: &str| holder[field].as_str().expect(field).to_owned();
    customer_web_host::bindings::exports::customer_web::plugin::types::CustomerInput {
        family_name: text("family_name"),
        given_name: text("given_name"),
        family_name_kana: text("family_name_kana"),
        given_name_kana: text("given_name_kana"),
        birth_date: text("birth_date"),
        phone: text("phone"),
        postal_code: text("postal_code"),
        policy_number: holder["contracts"][0]["policy_number"]
            .as_str()
            .expect("a contract")
            .to_owned(),
    }
}

#[test]
fn a_guest_trap_fails_that_call_and_the_host_goes_on_serving() {
    let h = Harness::new(Backend::Sqlite);
    let flow = h.start(None).unwrap();
    h.submit_customer(&flow, &common::yamada(), &common::terms())
        .unwrap();
    // A 96 MiB keyword cannot even be copied into the guest's 64 MiB: its
    // allocator fails and the instance traps.
    let huge = "あ".repeat(32 << 20);
    let trapped = h.host.call(|p, s| {
        p.customer_web_plugin_enrollment()
            .call_submit_contact(s, &flow, &huge, CONTACT)
    });
    let error = trapped.expect_err("the call traps");
    assert!(format!("{error:?}").contains("wasm"), "a wasm trap: {error:?}");
    // The flow is where it was, and the host serves the next calls.
    assert_eq!(
        h.review(&flow).unwrap_err(),
        FlowError::WrongStep("customer-entered".into())
    );
    h.submit_contact(&flow, KEYWORD, CONTACT).unwrap();
    h.confirm(&flow).unwrap();
    assert!(h.start(None).is_ok());
}

#[test]
fn without_memory_for_argon2id_a_step_fails_cleanly_and_changes_nothing() {
    // 8 MiB is enough to start a flow but not for argon2id's 19 MiB.
    let h = Harness::with_options(
        Backend::Memory,
        HostOptions {
            memory_limit: 8 << 20,
            ..common::options()
        },
    );
    let flow = h.start(None).unwrap();
    h.submit_customer(&flow, &common::yamada(), &common::terms())
        .unwrap();
    let before = h.storage_versions();
    match h.submit_contact(&flow, KEYWORD, CONTACT) {
        Err(FlowError::Unavailable(message)) => assert!(message.contains("hashing"), "{message}"),
        other => panic!("expected a clean failure, got {other:?}"),
    }
    assert_eq!(h.storage_versions(), before);
}

#[test]
fn a_hashing_call_peaks_above_argon2id_memory_and_within_the_cap() {
    let h = Harness::new(Backend::Memory);
    let limit = common::options().memory_limit;
    let flow = h.start(None).unwrap();
    h.submit_customer(&flow, &common::yamada(), &common::terms())
        .unwrap();
    let ((), bare) = h.with_peak_memory(|_, _| Ok(()));
    let (contact, hashing) = h.with_peak_memory(|p, s| {
        p.customer_web_plugin_enrollment()
            .call_submit_contact(s, &flow, KEYWORD, CONTACT)
    });
    contact.unwrap();
    // argon2id's m=19 MiB block matrix lives in the instance's memory.
    assert!(hashing >= 19 << 20, "peak {hashing} below argon2id's 19 MiB");
    assert!(hashing <= limit, "peak {hashing} above the {limit}-byte cap");
    // A fresh instance starts from its initial memory, not the last peak.
    assert!(bare > 0 && bare < 19 << 20, "a bare instance peaks at {bare}");
}

#[test]
fn a_proxy_only_host_serves_no_typed_calls() {
    let host = PluginHost::proxy_only(EMBEDDED_COMPONENT, Capabilities::in_memory(), common::options())
        .expect("the component links as a wasi:http proxy");
    let refused = host.call(|_, _| Ok(())).expect_err("no typed exports");
    assert!(
        format!("{refused:#}").contains("only wasi:http/incoming-handler"),
        "{refused:#}"
    );
}

/// The component hashes with argon2 built for wasm32 with its SIMD block
/// function (vendor/argon2); what it stores must be what the published
/// code computes natively: the stored password hash verifies natively, and
/// so does the keyword's, and neither verifies another secret.
#[test]
fn hashes_the_component_stores_verify_natively() {
    use customer_web_core::ports::OwnHashing;
    use customer_web_core::secret::Memorised;
    let h = Harness::new(Backend::Memory);
    let token = h.mail_link(CONTACT);
    let store = &h.host.capabilities().store;
    let stored = |prefix: &str| -> Vec<serde_json::Value> {
        h.storage_versions()
            .into_iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .map(|(key, _)| {
                let entry = store.get(&key).expect("store").expect("a live key");
                serde_json::from_slice(&entry.value).expect("a JSON record")
            })
            .collect()
    };
    let links = stored("link/");
    assert_eq!(links.len(), 1, "one mailed link");
    let keyword_hash = links[0]["keyword_hash"].as_str().expect("the keyword's hash");
    assert!(
        keyword_hash.starts_with("argon2id$v=19$m=19456,t=2,p=1$"),
        "{keyword_hash}"
    );
    assert_eq!(
        Memorised::new(KEYWORD).verify(keyword_hash, &OwnHashing),
        Ok(true)
    );
    assert_eq!(
        Memorised::new("another keyword").verify(keyword_hash, &OwnHashing),
        Ok(false)
    );

    let verified = h.submit_keyword(&token, KEYWORD).expect("keyword");
    h.submit_credentials(&verified.ticket, "native@example.jp", PASSWORD)
        .expect("credentials");
    h.complete(&verified.ticket).expect("complete");
    let accounts = stored("account/");
    assert_eq!(accounts.len(), 1, "one account");
    let password_hash = accounts[0]["password_hash"]
        .as_str()
        .expect("the password's hash");
    assert_eq!(
        Memorised::new(PASSWORD).verify(password_hash, &OwnHashing),
        Ok(true)
    );
    assert_eq!(
        Memorised::new("not the password").verify(password_hash, &OwnHashing),
        Ok(false)
    );
}

/// A host that hashes natively (`Hashing::Native`) computes argon2id in
/// the component's stead: the hashing instance never grows to argon2id's
/// 19 MiB. Its hashes and the component's own are the same function, so
/// hosts sharing one store may hash differently: a keyword hashed by the
/// host verifies in the component, a password hashed in the component
/// verifies in the host, and wrong secrets fail in both.
#[test]
fn a_host_that_hashes_natively_and_one_that_does_not_verify_each_others_hashes() {
    use customer_web_host::bindings::exports::customer_web::plugin::account::SignInError;
    use customer_web_host::hashing::Hashing;
    let time = customer_web_testkit::MovableClock::new();
    let caps = Capabilities::in_memory_on(time.clock());
    let host = |hashing| {
        let caps = Capabilities {
            hashing,
            ..caps.clone()
        };
        let host = PluginHost::new(EMBEDDED_COMPONENT, caps, common::options()).expect("host");
        Harness::over(std::sync::Arc::new(host), time.clone())
    };
    let (native, wasm) = (host(Hashing::Native), host(Hashing::Component));

    let flow = native.start(Some("AG001")).unwrap();
    native
        .submit_customer(&flow, &common::yamada(), &common::terms())
        .unwrap();
    let (contact, peak) = native.with_peak_memory(|p, s| {
        p.customer_web_plugin_enrollment()
            .call_submit_contact(s, &flow, KEYWORD, CONTACT)
    });
    contact.unwrap();
    assert!(
        peak < 19 << 20,
        "the instance grew to {peak} bytes: it hashed itself"
    );
    native.confirm(&flow).unwrap();
    let token = common::link_token(&native.last_mail());

    assert_eq!(
        wasm.submit_keyword(&token, "another keyword").unwrap_err(),
        FlowError::WrongKeyword(4)
    );
    let verified = wasm
        .submit_keyword(&token, KEYWORD)
        .expect("the host's hash verifies in wasm");
    wasm.submit_credentials(&verified.ticket, "native@example.jp", PASSWORD)
        .unwrap();
    wasm.complete(&verified.ticket).unwrap();

    assert_eq!(
        native
            .sign_in("native@example.jp", "not the password")
            .unwrap_err(),
        SignInError::BadCredentials
    );
    native
        .sign_in("native@example.jp", PASSWORD)
        .expect("the component's hash verifies natively");
}

/// One request through `handle_http_async` as `serve` makes it: the
/// instance on a task of its own, the head awaited, the body collected.
async fn answer(
    host: std::sync::Arc<PluginHost>,
    method: &str,
    path: &str,
    body: &'static [u8],
) -> (u16, String) {
    use http_body_util::BodyExt;
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("spin-client-addr", "127.0.0.1:1")
        .body(
            http_body_util::Full::new(hyper::body::Bytes::from_static(body))
                .map_err(|never: std::convert::Infallible| -> wasmtime_wasi_http::Error { match never {} }),
        )
        .expect("request");
    let (respond, response) = tokio::sync::oneshot::channel();
    let instance = tokio::spawn(host.handle_http_async(
        request,
        wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http,
        respond,
    ));
    let response = response.await.expect("an answer").expect("a response");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("the body").to_bytes();
    instance.await.expect("joined").expect("handled");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn requests_on_one_worker_are_all_answered_while_one_hashes() {
    // One worker, more requests than instance slots: the hashing one
    // yields its worker, the others wait for a slot on their tasks, and
    // the storage calls move the worker's other tasks aside.
    let host = std::sync::Arc::new(
        PluginHost::new(EMBEDDED_COMPONENT, Capabilities::in_memory(), common::options()).expect("host"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let (hashed, pages) = runtime.block_on(async {
        let hashing = tokio::spawn(answer(
            host.clone(),
            "POST",
            "/api/v1/recovery",
            br#"{"email":"a@example.jp","birth_date":"1985-04-01"}"#,
        ));
        let pages: Vec<_> = (0..12)
            .map(|_| tokio::spawn(answer(host.clone(), "GET", "/", b"")))
            .collect();
        let mut answered = Vec::new();
        for page in pages {
            answered.push(page.await.expect("a page"));
        }
        (hashing.await.expect("the hashing request"), answered)
    });
    // A recovery hashes the new screen keyword it answers.
    assert_eq!(hashed.0, 200, "{}", hashed.1);
    assert!(hashed.1.contains("\"keyword\":"), "{}", hashed.1);
    for (status, body) in pages {
        assert_eq!(status, 200);
        assert!(body.contains("お客さまWebサービス"), "{body}");
    }
}
