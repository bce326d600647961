//! What CI can prove about the Spin app without Spin: the imports of the
//! three components against what Spin 4.0.2 provides, `spin.toml` against
//! the build and the component's settings, the sha256 of the component
//! Spin runs against the one the wasmtime host embeds, and the composition
//! `spin up` makes, run here on the Spin stand-in. The flows themselves run
//! on that stand-in as `Backend::Spin` (flows.rs, host.rs).

use customer_web_e2e::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::spin::{self, DEV_MAILBOX, MAIN};
use common::{CONTACT, Harness, KEYWORD};
use customer_web_host::mail::DeliveryState;
use customer_web_host::plugin::EMBEDDED_COMPONENT;
use sha2::{Digest, Sha256};

/// What Spin 4.0.2 links into a component, as (name, version prefix); a
/// name ending in `/*` stands for every interface of that package. Source:
/// the facts of the Spin issue (the interfaces of Spin 4.0.2's host):
/// WASI 0.2.x (cli, clocks, filesystem, io, random, sockets, and wasi:http
/// types and outgoing-handler; wasmtime's linker serves any 0.2.x import
/// from its 0.2 definitions), `fermyon:spin/*@2.0.0`,
/// `spin:key-value@3.0.0`, `spin:sqlite@3.1`, `spin:variables@3.0`,
/// `spin:postgres@4.0.0`,
/// `wasi:keyvalue@0.2.0-draft2` and `wasi:config@0.2.0-draft-2024-09-27`.
const SPIN_4_0_2_PROVIDES: &[(&str, &str)] = &[
    ("wasi:cli/environment", "0.2."),
    ("wasi:cli/exit", "0.2."),
    ("wasi:cli/stdin", "0.2."),
    ("wasi:cli/stdout", "0.2."),
    ("wasi:cli/stderr", "0.2."),
    ("wasi:cli/terminal-input", "0.2."),
    ("wasi:cli/terminal-output", "0.2."),
    ("wasi:cli/terminal-stdin", "0.2."),
    ("wasi:cli/terminal-stdout", "0.2."),
    ("wasi:cli/terminal-stderr", "0.2."),
    ("wasi:clocks/wall-clock", "0.2."),
    ("wasi:clocks/monotonic-clock", "0.2."),
    ("wasi:filesystem/types", "0.2."),
    ("wasi:filesystem/preopens", "0.2."),
    ("wasi:io/error", "0.2."),
    ("wasi:io/poll", "0.2."),
    ("wasi:io/streams", "0.2."),
    ("wasi:random/random", "0.2."),
    ("wasi:random/insecure", "0.2."),
    ("wasi:random/insecure-seed", "0.2."),
    ("wasi:sockets/network", "0.2."),
    ("wasi:sockets/instance-network", "0.2."),
    ("wasi:sockets/tcp", "0.2."),
    ("wasi:sockets/tcp-create-socket", "0.2."),
    ("wasi:sockets/udp", "0.2."),
    ("wasi:sockets/udp-create-socket", "0.2."),
    ("wasi:sockets/ip-name-lookup", "0.2."),
    ("wasi:http/types", "0.2."),
    ("wasi:http/outgoing-handler", "0.2."),
    ("fermyon:spin/*", "2.0.0"),
    ("spin:key-value/key-value", "3.0.0"),
    ("spin:sqlite/sqlite", "3.1."),
    ("spin:variables/variables", "3.0."),
    // The adapter's and the dev mailbox's PostgreSQL (spin-sdk's pg4),
    // which spin_up.rs runs on the real Spin 4.0.2.
    ("spin:postgres/postgres", "4.0.0"),
    ("wasi:keyvalue/store", "0.2.0-draft2"),
    ("wasi:keyvalue/atomics", "0.2.0-draft2"),
    ("wasi:keyvalue/batch", "0.2.0-draft2"),
    ("wasi:config/store", "0.2.0-draft-2024-09-27"),
];

/// Whether Spin 4.0.2 provides the import `name@version`.
fn spin_provides(import: &str) -> bool {
    let (name, version) = import.split_once('@').unwrap_or((import, ""));
    SPIN_4_0_2_PROVIDES.iter().any(|(provided, prefix)| {
        let name_matches = match provided.strip_suffix("/*") {
            Some(package) => name.split_once('/').is_some_and(|(p, _)| p == package),
            None => name == *provided,
        };
        name_matches && version.starts_with(prefix)
    })
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} (not built?)", path.display()))
}

/// The file a manifest path names, as the tests' build made it.
fn built(manifest_path: &str) -> PathBuf {
    spin::root().join(manifest_path)
}

fn source(id: &str) -> &'static str {
    spin::component(id)["source"]
        .as_str()
        .unwrap_or_else(|| panic!("{id}: source is a local path"))
}

// ------------------------------------------------------------ (1) imports

/// Whether these exports hold `wasi:http/incoming-handler@0.2.x`.
fn answers_http(exports: &BTreeSet<String>) -> bool {
    exports
        .iter()
        .any(|e| e.starts_with("wasi:http/incoming-handler@0.2."))
}

#[test]
fn the_adapter_and_the_dev_mailbox_import_only_what_spin_provides() {
    let adapter = read(Path::new(customer_web_artifacts::SPIN_ADAPTER_PATH));
    let mailbox = read(Path::new(customer_web_artifacts::SPIN_DEV_MAILBOX_PATH));
    for (what, wasm) in [("adapter", &adapter), ("dev mailbox", &mailbox)] {
        let (imports, _) = spin::interfaces(wasm);
        let missing: Vec<_> = imports.iter().filter(|i| !spin_provides(i)).collect();
        assert!(
            missing.is_empty(),
            "the {what} imports what Spin 4.0.2 does not provide: {missing:?}"
        );
        println!(
            "{what} imports:\n  {}",
            imports.iter().cloned().collect::<Vec<_>>().join("\n  ")
        );
    }
    let (_, mailbox_exports) = spin::interfaces(&mailbox);
    assert!(
        answers_http(&mailbox_exports),
        "the dev mailbox is an HTTP component: {mailbox_exports:?}"
    );
}

#[test]
fn the_adapter_exports_exactly_the_capabilities_the_component_imports() {
    let (main_imports, main_exports) = spin::interfaces(EMBEDDED_COMPONENT);
    let (adapter_imports, adapter_exports) =
        spin::interfaces(&read(Path::new(customer_web_artifacts::SPIN_ADAPTER_PATH)));
    let plugin = |names: &BTreeSet<String>| -> BTreeSet<String> {
        names
            .iter()
            .filter(|n| n.starts_with("customer-web:plugin/"))
            .cloned()
            .collect()
    };
    // Every customer-web import of the component is a capability, and the
    // adapter exports exactly those: the package key matches them all and
    // nothing else.
    let capabilities = plugin(&main_imports);
    let expected: BTreeSet<String> = ["storage", "mail", "directory", "config", "audit", "hashing"]
        .iter()
        .map(|c| format!("customer-web:plugin/{c}@0.1.0"))
        .collect();
    assert_eq!(capabilities, expected);
    assert_eq!(adapter_exports, capabilities);
    assert!(plugin(&adapter_imports).is_empty(), "{adapter_imports:?}");
    // The flows' shared types are the component's export, not an import.
    assert!(
        main_exports.contains("customer-web:plugin/types@0.1.0"),
        "{main_exports:?}"
    );
    assert!(
        answers_http(&main_exports),
        "the component answers HTTP: {main_exports:?}"
    );
}

#[test]
fn the_composition_imports_only_what_spin_provides() {
    let composed = spin::composed();
    let (imports, exports) = spin::interfaces(composed);
    let missing: Vec<_> = imports.iter().filter(|i| !spin_provides(i)).collect();
    assert!(missing.is_empty(), "Spin 4.0.2 provides no {missing:?}");
    let (_, main_exports) = spin::interfaces(EMBEDDED_COMPONENT);
    assert_eq!(exports, main_exports, "every export re-exported");
    println!(
        "composition ({} bytes) imports:\n  {}",
        composed.len(),
        imports.iter().cloned().collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn the_stand_in_refuses_the_layouts_spin_refuses() {
    let adapter = read(Path::new(customer_web_artifacts::SPIN_ADAPTER_PATH));
    let main = EMBEDDED_COMPONENT;
    // One key per interface of one package: Spin 4.0.2 registers the
    // package once per key, and the second registration fails.
    let per_interface: Vec<(String, &[u8])> = ["storage", "mail", "directory", "config", "audit", "hashing"]
        .iter()
        .map(|c| (format!("customer-web:plugin/{c}"), adapter.as_slice()))
        .collect();
    let keys: Vec<(&str, &[u8])> = per_interface.iter().map(|(k, b)| (k.as_str(), *b)).collect();
    let error = format!(
        "{:#}",
        spin::compose(MAIN, main, &keys).expect_err("Spin refuses it")
    );
    assert!(
        error.contains("an error occurred when preparing dependencies")
            && error.contains("has already been registered"),
        "{error}"
    );
    // A key that names nothing the component imports.
    let error = format!(
        "{:#}",
        spin::compose(MAIN, main, &[("customer-web:nothing", &adapter)]).expect_err("unmatched")
    );
    assert!(error.contains("doesn't match any imports"), "{error}");
    // The package key and an interface key of the same package.
    let error = format!(
        "{:#}",
        spin::compose(
            MAIN,
            main,
            &[
                ("customer-web:plugin", &adapter),
                ("customer-web:plugin/mail", &adapter)
            ]
        )
        .expect_err("registered twice")
    );
    assert!(error.contains("has already been registered"), "{error}");
    // A dependency without the export the key matched.
    let mailbox = read(Path::new(customer_web_artifacts::SPIN_DEV_MAILBOX_PATH));
    let error = format!(
        "{:#}",
        spin::compose(MAIN, main, &[("customer-web:plugin", &mailbox)]).expect_err("no such export")
    );
    assert!(error.contains("doesn't export"), "{error}");
    // And what spin.toml says composes.
    assert!(!spin::composed().is_empty());
}

#[test]
fn dependency_keys_match_imports_as_spin_matches_them() {
    use spin::DependencyName;
    let matches = |key: &str, import: &str| key.parse::<DependencyName>().expect(key).matches(import);
    // Spin 4.0.2's own cases (crates/compose, test_matches_import).
    for (key, imports) in [
        ("foo:bar/baz@0.1.0", vec!["foo:bar/baz@0.1.0"]),
        ("foo:bar/baz", vec!["foo:bar/baz@0.1.0", "foo:bar/baz"]),
        ("foo:bar", vec!["foo:bar/baz@0.1.0", "foo:bar/baz"]),
        ("foo:bar@0.1.0", vec!["foo:bar/baz@0.1.0"]),
        ("foo-bar", vec!["foo-bar"]),
    ] {
        for import in imports {
            assert!(matches(key, import), "{key} ~ {import}");
        }
    }
    for (key, imports) in [
        ("foo:bar/baz@0.1.0", vec!["foo:bar/baz"]),
        ("foo:bar/baz", vec!["foo:bar/bub", "foo:bar/bub@0.1.0"]),
        ("foo:bar", vec!["foo:bub/bib"]),
        ("foo:bar@0.1.0", vec!["foo:bar/baz"]),
        ("foo:bar/baz", vec!["foo:bar/baz-bub", "foo-bar"]),
    ] {
        for import in imports {
            assert!(!matches(key, import), "{key} !~ {import}");
        }
    }
    assert_eq!(
        "customer-web:plugin/storage@0.1.0"
            .parse::<DependencyName>()
            .expect("a key")
            .registered_name(),
        "customer-web:plugin"
    );
}

// ------------------------------------------------------------ (2) manifest

/// The `.wasm` that one `cargo build --package P … --target wasm32-wasip2
/// --target-dir D` of a build command makes, relative to the manifest.
fn build_output(command: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert!(
        words.starts_with(&["cargo", "build"]),
        "not a cargo build: {command}"
    );
    let arg = |flag: &str| {
        words
            .windows(2)
            .find(|w| w[0] == flag)
            .map(|w| w[1])
            .unwrap_or_else(|| panic!("{flag} missing in {command}"))
    };
    assert_eq!(arg("--profile"), "wasm", "not the wasm profile: {command}");
    assert_eq!(arg("--target"), "wasm32-wasip2", "{command}");
    let dir = arg("--target-dir");
    assert!(
        Path::new(dir).is_relative(),
        "{command}: --target-dir relative to the manifest"
    );
    format!(
        "{dir}/wasm32-wasip2/wasm/{}.wasm",
        arg("--package").replace('-', "_")
    )
}

fn build_commands(id: &str) -> Vec<&'static str> {
    spin::component(id)["build"]["command"]
        .as_str()
        .unwrap_or_else(|| panic!("{id}: build.command is one string"))
        .split("&&")
        .map(str::trim)
        .collect()
}

#[test]
fn spin_toml_routes_each_path_to_its_component() {
    let manifest = spin::manifest();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let routes: BTreeMap<&str, &str> = manifest["trigger"]["http"]
        .as_array()
        .expect("[[trigger.http]]")
        .iter()
        .map(|t| {
            (
                t["route"].as_str().expect("route"),
                t["component"].as_str().expect("component"),
            )
        })
        .collect();
    assert_eq!(
        routes,
        BTreeMap::from([("/...", MAIN), ("/_dev/...", DEV_MAILBOX)])
    );
    let components: BTreeSet<&str> = manifest["component"]
        .as_table()
        .expect("[component]")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(components, BTreeSet::from([MAIN, DEV_MAILBOX]));
}

#[test]
fn every_source_and_dependency_is_made_by_a_build_command_of_the_manifest() {
    let mut made = BTreeSet::new();
    for id in [MAIN, DEV_MAILBOX] {
        made.extend(build_commands(id).into_iter().map(build_output));
    }
    let mut named = vec![source(MAIN).to_owned(), source(DEV_MAILBOX).to_owned()];
    for (key, d) in spin::component(MAIN)["dependencies"]
        .as_table()
        .expect("dependencies")
    {
        named.push(
            d["path"]
                .as_str()
                .unwrap_or_else(|| panic!("{key}: path"))
                .to_owned(),
        );
    }
    for path in &named {
        assert!(
            made.contains(path),
            "{path} is named in spin.toml but no build command makes it"
        );
    }
    // The files the tests use are the ones spin.toml names.
    let same = |manifest_path: &str, used: &str| {
        assert_eq!(
            built(manifest_path).canonicalize().expect(manifest_path),
            Path::new(used).canonicalize().expect(used),
        );
    };
    same(source(DEV_MAILBOX), customer_web_artifacts::SPIN_DEV_MAILBOX_PATH);
    for (_, path) in spin::dependencies() {
        assert_eq!(
            path.canonicalize().expect("dependency built"),
            Path::new(customer_web_artifacts::SPIN_ADAPTER_PATH)
                .canonicalize()
                .expect("adapter built")
        );
    }
}

#[test]
fn the_build_commands_are_the_ones_the_artifacts_crate_runs() {
    use customer_web_wasm_cargo::{COMPONENT, SPIN_ADAPTER, SPIN_DEV_MAILBOX};
    let host = COMPONENT.command();
    assert_eq!(build_commands(MAIN), [host.clone(), SPIN_ADAPTER.command()]);
    assert_eq!(build_commands(DEV_MAILBOX), [SPIN_DEV_MAILBOX.command()]);
    assert_eq!(source(MAIN), COMPONENT.wasm());
    assert_eq!(build_output(&host), COMPONENT.wasm());
    assert_eq!(source(DEV_MAILBOX), SPIN_DEV_MAILBOX.wasm());
}

#[test]
fn one_package_key_plugs_every_capability() {
    let (imports, _) = spin::interfaces(EMBEDDED_COMPONENT);
    let keys: Vec<String> = spin::dependencies().into_iter().map(|(k, _)| k).collect();
    // One key per package: Spin registers a dependency's package once per
    // key, so a second key of `customer-web:plugin` would not start.
    assert_eq!(keys, ["customer-web:plugin"]);
    let key: spin::DependencyName = keys[0].parse().expect("a dependency name");
    let matched: BTreeSet<String> = imports.iter().filter(|i| key.matches(i)).cloned().collect();
    let capabilities: BTreeSet<String> = ["storage", "mail", "directory", "config", "audit", "hashing"]
        .iter()
        .map(|c| format!("customer-web:plugin/{c}@0.1.0"))
        .collect();
    assert_eq!(matched, capabilities);
    for (key, d) in spin::component(MAIN)["dependencies"]
        .as_table()
        .expect("dependencies")
    {
        let d = d.as_table().expect("a dependency table");
        let fields: BTreeSet<&str> = d.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            BTreeSet::from(["path"]),
            "{key}: a local path and nothing else"
        );
    }
}

/// Every string anywhere in the manifest.
fn strings(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        toml::Value::Table(table) => table.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn every_template_names_a_declared_variable_with_a_default() {
    let defaults = spin::variable_defaults();
    let declared = spin::manifest()["variables"].as_table().expect("[variables]");
    for (name, v) in declared {
        assert!(
            v.get("default").and_then(toml::Value::as_str).is_some(),
            "variable {name} has no default"
        );
    }
    let mut all = Vec::new();
    strings(&toml::Value::Table(spin::manifest().clone()), &mut all);
    let used: BTreeSet<String> = all.iter().flat_map(|s| spin::template_names(s)).collect();
    assert!(!used.is_empty());
    for name in &used {
        assert!(
            defaults.contains_key(name),
            "{{{{ {name} }}}} is not a declared variable"
        );
    }
}

#[test]
fn the_variables_default_to_the_component_settings_defaults() {
    let settings =
        serde_json::to_value(customer_web_host::config::Settings::default()).expect("settings as JSON");
    let settings = settings.as_object().expect("an object");
    let defaults = spin::variable_defaults();
    let given = spin::component_variables(&defaults);
    for (name, value) in settings {
        let expected = match value {
            serde_json::Value::String(s) => s.clone(),
            // An optional setting left out (the hand-over secret): empty.
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        assert_eq!(defaults.get(name), Some(&expected), "variable {name}");
        assert_eq!(given.get(name), Some(&expected), "customer-web's variable {name}");
    }
    // And the one the adapter reads beyond the settings: empty keeps mail in
    // the outbox for the dev mailbox.
    assert_eq!(given.get("mail_relay_url").map(String::as_str), Some(""));
}

#[test]
fn configuration_inheritance_and_the_database_are_declared() {
    let main = spin::component(MAIN);
    assert_eq!(main["dependencies_inherit_configuration"].as_bool(), Some(true));
    for (key, d) in main["dependencies"].as_table().expect("dependencies") {
        assert!(
            d.get("inherit_configuration").is_none(),
            "{key}: per-dependency inherit_configuration mixed with the component-level form"
        );
    }
    for id in [MAIN, DEV_MAILBOX] {
        let databases = spin::component(id)["sqlite_databases"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}: sqlite_databases"));
        assert!(
            databases.iter().any(|d| d.as_str() == Some("default")),
            "{id}: sqlite_databases holds \"default\""
        );
    }
}

// ------------------------------------------------------------ (4) sha256

#[test]
fn spin_runs_the_very_bytes_the_wasmtime_host_embeds() {
    let path = built(source(MAIN));
    let on_disk = hex::encode(Sha256::digest(read(&path)));
    let embedded = hex::encode(Sha256::digest(EMBEDDED_COMPONENT));
    assert_eq!(
        on_disk,
        embedded,
        "{} differs from the embedded component",
        path.display()
    );
    println!("sha256 {embedded}  {}", source(MAIN));
}

// ------------------------------------------------------------ vendored WIT

/// spin-sdk 5.2.0's source directory, found without asking cargo: the
/// adapter's build (tests/build.rs, spin.toml's command) compiled it, and
/// the dep-info file of that compilation names its source files in the
/// cargo registry, wherever `CARGO_HOME` is. `None` when the lock file
/// holds no spin-sdk 5.2.0. Needs no network and no other package.
fn spin_sdk_dir() -> Option<PathBuf> {
    let lock = std::fs::read_to_string(spin::root().join("Cargo.lock")).expect("Cargo.lock");
    if !lock.contains("name = \"spin-sdk\"\nversion = \"5.2.0\"") {
        return None;
    }
    let deps = Path::new(customer_web_artifacts::SPIN_ADAPTER_PATH)
        .parent()
        .expect("the adapter's release directory")
        .join("deps");
    let entries = std::fs::read_dir(&deps).unwrap_or_else(|e| panic!("{}: {e}", deps.display()));
    for entry in entries {
        let path = entry.expect("a dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !(name.starts_with("spin_sdk-") && name.ends_with(".d")) {
            continue;
        }
        let info = std::fs::read_to_string(&path).expect("dep-info");
        let found = info
            .split_whitespace()
            .find_map(|word| word.split_once("/spin-sdk-5.2.0/").map(|(dir, _)| dir))
            .map(|dir| PathBuf::from(format!("{dir}/spin-sdk-5.2.0")));
        if let Some(dir) = found.filter(|d| d.join("Cargo.toml").is_file()) {
            return Some(dir);
        }
    }
    panic!(
        "no dep-info in {} names spin-sdk 5.2.0's sources, though Cargo.lock locks it",
        deps.display()
    );
}

#[test]
fn the_vendored_spin_wit_is_spin_sdks() {
    let Some(sdk) = spin_sdk_dir() else {
        println!("skipped: the lock file holds no spin-sdk 5.2.0 to compare testkit/wit-spin with");
        return;
    };
    let theirs = sdk.join("wit/deps/spin@2.0.0");
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/wit-spin/deps/fermyon-spin");
    for file in ["sqlite.wit", "variables.wit"] {
        assert_eq!(
            std::fs::read_to_string(ours.join(file)).expect(file),
            std::fs::read_to_string(theirs.join(file)).expect(file),
            "testkit/wit-spin/deps/fermyon-spin/{file} differs from spin-sdk 5.2.0's"
        );
    }
    // The package line, which spin-sdk keeps in its world.wit.
    let package = |text: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with("package "))
            .map(str::trim)
            .map(str::to_owned)
    };
    assert_eq!(
        package(&std::fs::read_to_string(ours.join("package.wit")).expect("package.wit")),
        package(&std::fs::read_to_string(theirs.join("world.wit")).expect("world.wit")),
    );
}

// ------------------------------------------------------------ (3) the composition on the stand-in

#[test]
fn with_a_relay_configured_mail_is_posted_once_and_marked_sent() {
    let relay_url = "http://127.0.0.1:8025/messages";
    let h = Harness::on_spin(&[("mail_relay_url", relay_url)], common::options());
    h.send_enrollment_mail(CONTACT);
    let relay = &h.spin.as_ref().expect("a Spin harness").relay;
    let requests = relay.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.uri, relay_url);
    let mail = h.last_mail();
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(
        header("idempotency-key"),
        Some(format!("cw-outbox-{}", mail.id).as_str())
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).expect("a JSON body");
    assert_eq!(body["to"], CONTACT);
    assert_eq!(body["kind"], "enrollment-link");
    let token = body["text"]
        .as_str()
        .expect("text")
        .lines()
        .find_map(|line| line.trim().split("/link/").nth(1))
        .expect("a link in the posted text")
        .to_owned();
    assert_eq!(mail.state, DeliveryState::Sent);
    // The link has left: the outbox keeps the record, not the body.
    assert_eq!(mail.message.text, "");
    assert_eq!(mail.message.kind, "enrollment-link");
    h.submit_keyword(&token, KEYWORD).expect("the mailed link works");
}

#[test]
fn a_failing_relay_keeps_the_mail_queued_and_the_flow_going() {
    let h = Harness::on_spin(
        &[("mail_relay_url", "http://127.0.0.1:8025/messages")],
        common::options(),
    );
    h.spin.as_ref().expect("a Spin harness").relay.answer_with(503);
    let token = h.mail_link(CONTACT);
    let mail = h.last_mail();
    assert_eq!(mail.state, DeliveryState::Failing);
    assert_eq!(mail.attempts, 1);
    assert!(
        mail.last_error.as_deref().is_some_and(|e| e.contains("503")),
        "{mail:?}"
    );
    h.submit_keyword(&token, KEYWORD)
        .expect("the link works all the same");
}

#[test]
fn without_a_relay_mail_stays_in_the_outbox_for_the_dev_mailbox() {
    let h = Harness::new(common::Backend::Spin);
    h.mail_link(CONTACT);
    assert!(
        h.spin
            .as_ref()
            .expect("a Spin harness")
            .relay
            .requests()
            .is_empty()
    );
    assert_eq!(h.last_mail().state, DeliveryState::Pending);
}

#[test]
fn the_composition_answers_http_through_its_incoming_handler() {
    let h = Harness::new(common::Backend::Spin);
    let (status, body) = h.get("/");
    assert_eq!(status, 200);
    assert!(body.contains("初めてご利用いただく方はこちら"), "{body}");
}
