//! The Spin side of the harness: `spin.toml` as Spin reads it, the
//! composition `spin up` makes from it, and reads of the Spin app's SQLite
//! database (the adapter's `cw_*` tables: customer-web-sql's and its directory's).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, bail};
use customer_web_host::mail::QueuedMessage;
use wac_graph::types::{Package, SubtypeChecker};
use wac_graph::{CompositionGraph, EncodeOptions};

/// The component id of customer-web in `spin.toml`.
pub const MAIN: &str = "customer-web";
/// The component id of the dev mailbox in `spin.toml`.
pub const DEV_MAILBOX: &str = "dev-mailbox";

/// The workspace root, where `spin.toml` sits.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// `spin.toml`, parsed.
pub fn manifest() -> &'static toml::Table {
    static MANIFEST: OnceLock<toml::Table> = OnceLock::new();
    MANIFEST.get_or_init(|| {
        let text =
            std::fs::read_to_string(root().join("spin.toml")).expect("spin.toml at the workspace root");
        toml::from_str(&text).expect("spin.toml is TOML")
    })
}

/// `[component.<id>]`.
pub fn component(id: &str) -> &'static toml::Table {
    manifest()["component"][id]
        .as_table()
        .unwrap_or_else(|| panic!("spin.toml has no [component.{id}]"))
}

/// The application variables' defaults (`[variables]`).
pub fn variable_defaults() -> BTreeMap<String, String> {
    manifest()["variables"]
        .as_table()
        .expect("[variables]")
        .iter()
        .filter_map(|(name, v)| Some((name.clone(), v.get("default")?.as_str()?.to_owned())))
        .collect()
}

/// The `name`s of every `{{ name }}` in a manifest string.
pub fn template_names(text: &str) -> Vec<String> {
    text.split("{{")
        .skip(1)
        .filter_map(|part| part.split_once("}}"))
        .map(|(name, _)| name.trim().to_owned())
        .collect()
}

/// The variables Spin gives customer-web (and, as it inherits the
/// configuration, its adapter): `[component.customer-web.variables]` with
/// each `{{ name }}` filled in from `values`.
pub fn component_variables(values: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    component(MAIN)["variables"]
        .as_table()
        .expect("[component.customer-web.variables]")
        .iter()
        .map(|(name, template)| {
            let mut text = template.as_str().expect("a variable is a string").to_owned();
            for var in template_names(&text) {
                let value = values
                    .get(&var)
                    .unwrap_or_else(|| panic!("{{{{ {var} }}}} has no value"));
                text = text.replacen(&format!("{{{{ {var} }}}}"), value, 1);
            }
            (name.clone(), text)
        })
        .collect()
}

/// customer-web's `[component.customer-web.dependencies]`: each key and
/// the component file its `path` names.
pub fn dependencies() -> Vec<(String, PathBuf)> {
    component(MAIN)["dependencies"]
        .as_table()
        .expect("[component.customer-web.dependencies]")
        .iter()
        .map(|(key, d)| {
            let path = d["path"]
                .as_str()
                .unwrap_or_else(|| panic!("{key}: a local path"));
            (key.clone(), root().join(path))
        })
        .collect()
}

/// A dependency key of `spin.toml`, as Spin 4.0.2 parses it
/// (`spin_serde::DependencyName`): a plain kebab name (`foo-bar`), or a
/// package name `ns:pkg`, optionally with `/interface` and `@version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DependencyName {
    /// A plain name: matches only an import of that very plain name.
    Plain(String),
    /// A package, optionally narrowed to one interface and one version.
    Package {
        /// `ns:pkg`.
        package: String,
        /// The interface, if the key names one.
        interface: Option<String>,
        /// The version, if the key names one.
        version: Option<String>,
    },
}

impl std::str::FromStr for DependencyName {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        if !s.contains([':', '/']) {
            return Ok(DependencyName::Plain(s.to_owned()));
        }
        let (name, version) = match s.split_once('@') {
            Some((name, version)) => (name, Some(version.to_owned())),
            None => (s, None),
        };
        let (package, interface) = match name.split_once('/') {
            Some((package, interface)) => (package, Some(interface.to_owned())),
            None => (name, None),
        };
        if !package.contains(':') {
            bail!("invalid dependency name {s:?}: the package needs a namespace");
        }
        Ok(DependencyName::Package {
            package: package.to_owned(),
            interface,
            version,
        })
    }
}

impl DependencyName {
    /// The name Spin registers the dependency's package under in the
    /// composition graph: the package without interface or version, or the
    /// plain name. Two keys with one such name cannot both be registered.
    pub fn registered_name(&self) -> &str {
        match self {
            DependencyName::Plain(name) => name,
            DependencyName::Package { package, .. } => package,
        }
    }

    /// Whether this key names the import `import` (Spin's `matches_import`).
    pub fn matches(&self, import: &str) -> bool {
        let parsed = if import.contains([':', '/']) {
            import.split_once('/').map(|(package, rest)| {
                let (interface, version) = rest.split_once('@').map_or((rest, None), |(i, v)| (i, Some(v)));
                (package, interface, version)
            })
        } else {
            None
        };
        match (self, parsed) {
            (DependencyName::Plain(name), None) => name == import,
            (
                DependencyName::Package {
                    package,
                    interface,
                    version,
                },
                Some((import_package, import_interface, import_version)),
            ) => {
                package == import_package
                    && interface.as_deref().is_none_or(|i| i == import_interface)
                    && version.as_deref().is_none_or(|v| Some(v) == import_version)
            }
            _ => false,
        }
    }
}

/// Composes `main` (component id `id`) with its dependencies (manifest
/// key, component bytes) as Spin 4.0.2's `spin up` does: a step-for-step
/// port of spinframework/spin v4.0.2 `crates/compose/src/lib.rs`, on the
/// wac-graph version Spin 4.0.2 locks (0.10.0).
///
/// 1. `main` is registered under its component id and instantiated.
/// 2. For each dependency key in manifest order: every import of `main` the
///    key matches is collected (none: `UnmatchedDependencyName`); the
///    dependency is registered under its package name (or plain name) and
///    instantiated — a second key of the same package fails here, as in
///    Spin, with wac-graph's "has already been registered".
/// 3. An import matched by two keys: `DependencyConflicts`.
/// 4. Each matched import takes the dependency's export of the same name
///    (`MissingExport` without one), after a subtype check.
/// 5. Every export of `main` is re-exported, and the graph is encoded
///    (which validates it).
///
/// Errors carry Spin's own wording, so a test can tell which step refused.
pub fn compose(id: &str, main: &[u8], dependencies: &[(&str, &[u8])]) -> anyhow::Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let package = Package::from_bytes(id, None, main.to_vec(), graph.types_mut())?;
    let main_world = package.ty();
    let package = graph.register_package(package)?;
    let main_instance = graph.instantiate(package);
    let imports: Vec<String> = graph.types()[main_world].imports.keys().cloned().collect();

    struct Prepared {
        key: String,
        instance: wac_graph::NodeId,
        world: wac_graph::types::WorldId,
    }
    let mut mappings = BTreeMap::<String, Vec<usize>>::new();
    let mut prepared = Vec::<Prepared>::new();
    for (key, bytes) in dependencies {
        let name: DependencyName = key.parse()?;
        let matched: Vec<&String> = imports.iter().filter(|i| name.matches(i)).collect();
        if matched.is_empty() {
            bail!("dependency '{key}' doesn't match any imports of component '{id}'");
        }
        let package = Package::from_bytes(name.registered_name(), None, bytes.to_vec(), graph.types_mut())
            .context("an error occurred when preparing dependencies")?;
        let world = package.ty();
        let package = graph
            .register_package(package)
            .context("an error occurred when preparing dependencies")?;
        let instance = graph.instantiate(package);
        for import in matched {
            mappings.entry(import.clone()).or_default().push(prepared.len());
        }
        prepared.push(Prepared {
            key: key.to_string(),
            instance,
            world,
        });
    }
    let conflicts: Vec<String> = mappings
        .iter()
        .filter(|(_, infos)| infos.len() > 1)
        .map(|(import, infos)| {
            let keys: Vec<&str> = infos.iter().map(|&i| prepared[i].key.as_str()).collect();
            format!(
                "import '{import}' satisfied by dependencies: '{}'",
                keys.join(", ")
            )
        })
        .collect();
    if !conflicts.is_empty() {
        bail!(
            "component '{id}' has dependency conflicts: {}",
            conflicts.join("; ")
        );
    }

    let mut cache = Default::default();
    let mut checker = SubtypeChecker::new(&mut cache);
    for (import, infos) in &mappings {
        let dependency = &prepared[infos[0]];
        let export = *graph.types()[dependency.world]
            .exports
            .get(import)
            .with_context(|| {
                format!(
                    "dependency '{}' doesn't export '{import}' to satisfy import '{import}'",
                    dependency.key
                )
            })?;
        let import_ty = graph.types()[main_world].imports[import];
        checker
            .is_subtype(export, graph.types(), import_ty, graph.types())
            .with_context(|| {
                format!(
                    "dependency '{}' exports '{import}' which is not compatible with import '{import}'",
                    dependency.key
                )
            })?;
        let alias = graph.alias_instance_export(dependency.instance, import)?;
        graph.set_instantiation_argument(main_instance, import, alias)?;
    }

    let exports: Vec<String> = graph.types()[main_world].exports.keys().cloned().collect();
    for name in exports {
        let alias = graph.alias_instance_export(main_instance, &name)?;
        graph.export(alias, &name)?;
    }
    graph
        .encode(EncodeOptions::default())
        .context("failed to encode composition graph")
}

/// The component the wasmtime host embeds, composed with the dependencies
/// `spin.toml` names, as `spin up` would run it. Composed once per test
/// binary.
pub fn composed() -> &'static [u8] {
    static COMPOSED: OnceLock<Vec<u8>> = OnceLock::new();
    COMPOSED.get_or_init(|| {
        let files: Vec<(String, Vec<u8>)> = dependencies()
            .into_iter()
            .map(|(key, path)| {
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                (key, bytes)
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(k, b)| (k.as_str(), b.as_slice())).collect();
        compose(MAIN, customer_web_host::plugin::EMBEDDED_COMPONENT, &refs)
            .expect("the composition Spin would make")
    })
}

/// The import and export names of a component.
pub fn interfaces(wasm: &[u8]) -> (BTreeSet<String>, BTreeSet<String>) {
    let decoded = wit_component::decode(wasm).expect("a component");
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        panic!("not a component");
    };
    let world = &resolve.worlds[world];
    let imports = world.imports.keys().map(|k| resolve.name_world_key(k)).collect();
    let exports = world.exports.keys().map(|k| resolve.name_world_key(k)).collect();
    (imports, exports)
}

/// The Spin app's database, as the adapter writes it.
pub struct SpinDb {
    path: PathBuf,
}

impl SpinDb {
    pub fn new(path: PathBuf) -> Self {
        SpinDb { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(&self.path).expect("the Spin database");
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .expect("busy timeout");
        conn
    }

    /// Whether the adapter has made its tables yet (it does at its first call).
    fn has(&self, conn: &rusqlite::Connection, table: &str) -> bool {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |row| row.get::<_, i64>(0),
        )
        .expect("sqlite_master")
            > 0
    }

    /// `cw_outbox`, oldest first.
    pub fn mails(&self) -> Vec<QueuedMessage> {
        let conn = self.open();
        if !self.has(&conn, "cw_outbox") {
            return Vec::new();
        }
        let mut conn = conn;
        let mut mails = customer_web_sql::outbox::list(&mut conn, usize::MAX).expect("cw_outbox rows");
        mails.reverse();
        mails
    }

    /// The kinds of `cw_audit`, newest first (as the host's audit log
    /// lists them).
    pub fn audit_kinds(&self) -> Vec<String> {
        let conn = self.open();
        if !self.has(&conn, "cw_audit") {
            return Vec::new();
        }
        let mut statement = conn
            .prepare("SELECT kind FROM cw_audit ORDER BY id DESC")
            .expect("cw_audit");
        statement
            .query_map([], |row| row.get(0))
            .expect("cw_audit")
            .collect::<Result<_, _>>()
            .expect("cw_audit rows")
    }

    /// `cw_audit` as (kind, subject, detail), newest first.
    pub fn audit(&self) -> Vec<(String, String, String)> {
        let conn = self.open();
        if !self.has(&conn, "cw_audit") {
            return Vec::new();
        }
        let mut statement = conn
            .prepare("SELECT kind, subject, detail FROM cw_audit ORDER BY id DESC")
            .expect("cw_audit");
        statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .expect("cw_audit")
            .collect::<Result<_, _>>()
            .expect("cw_audit rows")
    }

    /// Keys of `cw_kv` live at `now` (0: every key) and their versions, in
    /// key order.
    pub fn versions(&self, now: u64) -> Vec<(String, u64)> {
        let conn = self.open();
        if !self.has(&conn, "cw_kv") {
            return Vec::new();
        }
        let mut conn = conn;
        customer_web_sql::kv::versions(&mut conn, now).expect("cw_kv rows")
    }

    /// How many live keys of `cw_kv` start with `prefix`.
    pub fn count_prefix(&self, prefix: &str, now: u64) -> usize {
        self.versions(now)
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .count()
    }
}
