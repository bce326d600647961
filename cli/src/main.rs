//! `customer-web`: the wasmtime host's command line.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use customer_web_host::bindings::exports::customer_web::plugin::types::{CustomerInput, FlowError};
use customer_web_host::directory::{Directory, FileDirectory};
use customer_web_host::hashing::Hashing;
use customer_web_host::{Capabilities, HostOptions, PluginHost, config};

/// customer-web: enrollment, recovery and sign-in for an insurer's
/// Customer Web Service, run as a WebAssembly component.
#[derive(Parser, Clone)]
#[command(version, about)]
struct Cli {
    /// Where the SQLite database and the compilation cache live.
    #[arg(long, global = true, default_value = "./data")]
    data_dir: PathBuf,
    /// The database of storage, outbox and audit trail: `sqlite:PATH`, or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` for several hosts on
    /// one database. Default: the SQLite file in --data-dir. Also
    /// CUSTOMER_WEB_DATABASE (which keeps a password off the command line).
    #[arg(long, global = true, env = "CUSTOMER_WEB_DATABASE", hide_env_values = true)]
    database: Option<String>,
    /// Connections this host keeps to PostgreSQL at most (its pool); mind
    /// the server's max_connections across all hosts.
    #[arg(
        long,
        global = true,
        env = "CUSTOMER_WEB_DATABASE_CONNECTIONS",
        default_value_t = customer_web_host::ctx::POSTGRES_CONNECTIONS,
        value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u16).range(1..=1000), usize::from),
    )]
    database_connections: usize,
    /// The insurer's directory of policyholders (JSON); default: the sample.
    #[arg(long, global = true)]
    directory: Option<PathBuf>,
    /// Settings (JSON: brand strings, base URL, lifetimes); default: the seed's.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The component to run (a `.wasm`); default: the one this binary
    /// embeds. Also CUSTOMER_WEB_COMPONENT.
    #[arg(long, global = true, env = "CUSTOMER_WEB_COMPONENT")]
    component: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Clone)]
enum Command {
    /// Serves the screens (the component's wasi:http handler) over HTTP.
    /// Mail goes to an SMTP server (--smtp) or, for development, into the
    /// dev mailbox at /_dev/mail (--dev): one of the two.
    Serve(ServeArgs),
    /// Walks a sample customer through enrollment, sign-in, renewal and
    /// recovery inside the component, printing each step and each mail.
    Demo,
    /// Lists the mail outbox and each message's delivery state.
    Outbox {
        /// Print the full text of each message.
        #[arg(long)]
        full: bool,
    },
    /// Lists the most recent security audit events.
    Audit {
        /// How many events.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Checks a directory file and prints what it holds.
    CheckDirectory {
        /// The JSON file.
        file: PathBuf,
    },
    /// Prints a directory file as SQL for the Spin app:
    /// `customer-web directory-sql FILE > directory.sql`, then
    /// `spin up --sqlite @directory.sql`.
    DirectorySql {
        /// The JSON file (the shape of `--directory`).
        file: PathBuf,
    },
}

/// `customer-web serve`'s own options.
#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: std::net::SocketAddr,
    /// Development: mail stays in the outbox, shown at /_dev/mail, and
    /// /_dev/renewal stands in for the portal; both only to clients on
    /// loopback that name a loopback host. Never with --smtp.
    #[arg(long, conflicts_with = "smtp")]
    dev: bool,
    /// Deliver mail through this SMTP server (`smtp://host:port`,
    /// `smtp://user:pass@host:587?tls=required`, `smtps://host:465`).
    #[arg(long)]
    smtp: Option<String>,
    /// A reverse proxy in front (its address): requests from it are
    /// counted against the client its `X-Forwarded-For` names last.
    #[arg(long)]
    trusted_proxy: Option<std::net::IpAddr>,
    /// Character set of mail sent by SMTP: `utf-8`, or `iso-2022-jp`
    /// for older Japanese mail readers (a message with a character
    /// outside JIS X 0208 then goes out in UTF-8).
    #[arg(long, default_value = "utf-8")]
    mail_charset: customer_web_host::mail::Charset,
    /// Seconds a message this host claimed from the outbox stays its
    /// own: if the host dies mid-delivery, another host sharing the
    /// database sends the message after this. Longer than any one
    /// delivery takes.
    #[arg(long, default_value_t = customer_web_host::mail::DELIVERY_LEASE,
          value_parser = clap::value_parser!(u64).range(1..))]
    mail_lease: u64,
    /// This host hashes keywords and passwords natively, in the
    /// component's stead (`customer-web:plugin/hashing`): each argon2id
    /// about 1.4x faster, and a hashing instance needs 2 MiB of linear
    /// memory instead of 21 MiB. Default: the component hashes in
    /// WebAssembly, as it does on every host.
    #[arg(long)]
    native_hashing: bool,
}

fn main() -> anyhow::Result<()> {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(customer_web_host::log_filter(&spec))
        .with_writer(std::io::stderr)
        // Colours for a terminal only: a log file or journald gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log line that cannot be written is dropped. By default the
        // subscriber reports the failure with `eprintln!` to the same
        // stderr, which panics when stderr is a pipe its reader closed:
        // the request (or the mail delivery pass) that logged would fail.
        .log_internal_errors(false)
        .init();
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve(args) => serve(&cli, args),
        Command::Demo => demo(&cli),
        Command::Outbox { full } => {
            let caps = capabilities(&cli)?;
            for m in caps.outbox.list(100)? {
                println!(
                    "#{} {} {} to={} attempts={} {}",
                    m.id,
                    m.state.as_str(),
                    m.message.kind,
                    m.message.to,
                    m.attempts,
                    m.last_error.as_deref().unwrap_or("")
                );
                if *full {
                    println!("Subject: {}\n\n{}", m.message.subject, m.message.text);
                }
            }
            Ok(())
        }
        Command::Audit { limit } => {
            let caps = capabilities(&cli)?;
            for e in caps.audit.recent(*limit)? {
                println!("{} {:<20} {:<16} {}", e.at, e.kind, e.subject, e.detail);
            }
            Ok(())
        }
        Command::CheckDirectory { file } => {
            let directory = FileDirectory::load(file)?;
            println!("{}: {} policyholders", file.display(), directory.len());
            Ok(())
        }
        Command::DirectorySql { file } => {
            let directory = FileDirectory::load(file)?;
            print!("{}", customer_web_host::directory_sql::directory_sql(&directory));
            Ok(())
        }
    }
}

/// The component `--component` names, or the embedded one, on the
/// capabilities `open` makes while the component is mapped: the two are
/// most of a start.
fn load_opening(
    cli: &Cli,
    open: impl FnOnce() -> anyhow::Result<Capabilities> + Send + 'static,
    options: HostOptions,
) -> anyhow::Result<PluginHost> {
    match &cli.component {
        Some(path) => {
            let wasm =
                std::fs::read(path).with_context(|| format!("reading the component {}", path.display()))?;
            PluginHost::new_opening(&wasm, open, options)
                .with_context(|| format!("the component {}", path.display()))
        }
        #[cfg(feature = "embedded")]
        None => PluginHost::embedded_opening(open, options),
        #[cfg(not(feature = "embedded"))]
        None => anyhow::bail!(
            "this customer-web was built without a component (feature `embedded`): name one with --component PATH"
        ),
    }
}

fn capabilities(cli: &Cli) -> anyhow::Result<Capabilities> {
    std::fs::create_dir_all(&cli.data_dir).with_context(|| format!("creating {}", cli.data_dir.display()))?;
    let directory: Arc<dyn Directory> = match &cli.directory {
        Some(path) => Arc::new(FileDirectory::load(path)?),
        None => Arc::new(FileDirectory::sample()),
    };
    let mut caps = Capabilities::on_database(
        cli.database.as_deref(),
        cli.database_connections,
        &cli.data_dir,
        directory,
    )?;
    if let Some(path) = &cli.config {
        caps.settings = config::load(path)?;
    }
    // The portal's hand-over secret is best kept out of files and command
    // lines: the environment's wins over the settings file's.
    if let Some(secret) = std::env::var_os(config::HANDOVER_SECRET_ENV).filter(|s| !s.is_empty()) {
        let secret = secret
            .into_string()
            .map_err(|_| anyhow::anyhow!("{} is not UTF-8", config::HANDOVER_SECRET_ENV))?;
        caps.settings.handover_secret = Some(customer_web_core::secret::SharedSecret::new(secret));
        config::check(&caps.settings).with_context(|| config::HANDOVER_SECRET_ENV)?;
    }
    Ok(caps)
}

fn serve(cli: &Cli, args: &ServeArgs) -> anyhow::Result<()> {
    let ServeArgs {
        listen,
        dev,
        ref smtp,
        trusted_proxy,
        mail_charset: charset,
        mail_lease,
        native_hashing,
    } = *args;
    let smtp = smtp.as_deref();
    match (smtp, dev) {
        (Some(_), true) => bail!("--dev and --smtp exclude each other: the dev pages would show real mail"),
        (None, false) => bail!(
            "where should mail go? `serve --smtp smtp://HOST:PORT` delivers it; \
             `serve --dev` keeps it in the dev mailbox at /_dev/mail (development only)"
        ),
        _ => {}
    }
    // The capabilities open on a thread of their own, on another CPU
    // than the component's load; the runtime is built there after them.
    let own = cli.clone();
    let (built, runtime) = std::sync::mpsc::sync_channel(1);
    let open = move || {
        let mut caps = capabilities(&own)?;
        let _ = built.send(runtime_for_serve());
        if own.config.is_none() {
            // Without a configuration the mailed links point at this
            // server, and the renewal hand-over at its stand-in portal page.
            caps.settings.base_url = format!("http://{listen}");
            caps.settings.renewal_url = format!("http://{listen}/_dev/renewal");
        }
        if native_hashing {
            caps.hashing = Hashing::Native;
        }
        Ok(caps)
    };
    let options = HostOptions {
        cache_dir: Some(cli.data_dir.join("cache")),
        ..HostOptions::default()
    };
    let started = std::time::Instant::now();
    let host = Arc::new(load_opening(cli, open, options)?);
    let delivery: Arc<dyn customer_web_host::mail::Delivery> = match smtp {
        Some(url) => Arc::new(
            customer_web_host::mail::SmtpDelivery::from_url(
                url,
                &host.capabilities().settings.sender_address,
            )?
            .with_charset(charset),
        ),
        None => Arc::new(customer_web_host::dev::DevMailbox),
    };
    let hashing = match host.capabilities().hashing {
        Hashing::Component => "component",
        Hashing::Native => "native",
    };
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        hashing = %hashing,
        "component ready"
    );
    let runtime = runtime.recv().context("the runtime was not built")??;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let address = listener.local_addr()?;
        announce(format_args!("customer-web: http://{address}/"));
        if dev {
            announce(format_args!(
                "dev mailbox:  http://{address}/_dev/mail (loopback clients only)"
            ));
        }
        let options = customer_web_host::serve::ServeOptions {
            delivery,
            delivery_interval: std::time::Duration::from_secs(2),
            delivery_lease: mail_lease,
            dev_mailbox: dev,
            purge_interval: customer_web_host::serve::PURGE_INTERVAL,
            limits: customer_web_host::guard::Limits {
                trusted_proxy,
                ..Default::default()
            },
        };
        customer_web_host::serve::serve(host, listener, options, shutdown_signal()).await
    })
}

/// `serve`'s runtime: a worker per CPU. Built on the thread that opens
/// the capabilities, whose CPU mask its workers do not keep.
fn runtime_for_serve() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(customer_web_host::cores())
        .enable_all()
        .on_thread_start(customer_web_host::any_cpu)
        .build()
}

/// One line to whoever started `serve`: where it listens. The first line
/// is printed once the port is bound, so a supervisor may connect as soon
/// as it reads it. A supervisor that reads that line and closes the pipe
/// must not stop the server: a failed write is ignored (`println!` would
/// panic).
fn announce(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn flow<T>(step: &str, result: Result<T, FlowError>) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!("{step}: {e:?}"))
}

fn demo(cli: &Cli) -> anyhow::Result<()> {
    // The capabilities open on a thread of their own.
    let own = cli.clone();
    let open = move || {
        let mut caps = capabilities(&own)?;
        if own.config.is_none() {
            // Each run mails the same address twice; let a developer repeat
            // the demo within the hour without meeting the per-address mail
            // limit.
            caps.settings.mails_per_hour = 60;
        }
        Ok(caps)
    };
    let options = HostOptions {
        cache_dir: Some(cli.data_dir.join("cache")),
        ..HostOptions::default()
    };
    let host = load_opening(cli, open, options)?;
    let outbox = host.capabilities().outbox.clone();
    let last_mail = || -> anyhow::Result<_> {
        let list = outbox.list(1)?;
        list.into_iter().next().context("no mail was queued")
    };
    let keyword = "さくら2026";
    // A policyholder enrolls once: on a data directory that ran the demo
    // before, enrollment ends at screen 10 with "already registered" and
    // the demo goes on with recovery.
    println!("== 1. お客さまWebサービストップ → 初めてご利用いただく方はこちら (agent AG001)");
    let id = host.call(|p, s| p.customer_web_plugin_enrollment().call_start(s, Some("AG001")))?;
    let id = flow("start", id)?;
    println!("   flow opened");
    println!("== 2. お客さま情報の入力、利用規約同意");
    let customer = CustomerInput {
        family_name: "山田".into(),
        given_name: "太郎".into(),
        family_name_kana: "ﾔﾏﾀﾞ".into(),
        given_name_kana: "タロウ".into(),
        birth_date: "１９８５年４月１日".into(),
        phone: "090-1234-5678".into(),
        postal_code: "100-0004".into(),
        policy_number: "A123456789".into(),
    };
    let terms = host.capabilities().settings.terms_version.clone();
    flow(
        "customer",
        host.call(|p, s| {
            p.customer_web_plugin_enrollment()
                .call_submit_customer(s, &id, &customer, &terms)
        })?,
    )?;
    println!("== 3. キーワード・メールアドレス入力: keyword {keyword}, mail taro@example.jp");
    flow(
        "contact",
        host.call(|p, s| {
            p.customer_web_plugin_enrollment()
                .call_submit_contact(s, &id, keyword, "taro@example.jp")
        })?,
    )?;
    println!("== 4. 入力内容確認");
    let review = flow(
        "review",
        host.call(|p, s| p.customer_web_plugin_enrollment().call_review(s, &id))?,
    )?;
    println!(
        "   {} {} ({} {}) {} {}",
        review.customer.family_name,
        review.customer.given_name,
        review.customer.family_name_kana,
        review.customer.given_name_kana,
        review.customer.birth_date,
        review.email
    );
    let sent = flow(
        "confirm",
        host.call(|p, s| p.customer_web_plugin_enrollment().call_confirm(s, &id))?,
    )?;
    println!(
        "== 5. キーワード表示: 【{keyword}】 — please note it. Mail sent to {}",
        sent.email
    );
    let mail = last_mail()?;
    println!(
        "== 6. メール受信\nSubject: {}\n\n{}",
        mail.message.subject, mail.message.text
    );
    let Some(token) = mail
        .message
        .text
        .lines()
        .find_map(|l| l.trim().split("/link/").nth(1))
    else {
        bail!("the identity did not match the directory: {}", mail.message.kind);
    };
    let token = token.to_owned();
    println!("== 7. キーワード入力");
    let status = flow(
        "open",
        host.call(|p, s| p.customer_web_plugin_link().call_open(s, &token))?,
    )?;
    println!(
        "   link opened (not spent): {} attempts left",
        status.attempts_left
    );
    let verified = flow(
        "keyword",
        host.call(|p, s| {
            p.customer_web_plugin_link()
                .call_submit_keyword(s, &token, keyword)
        })?,
    )?;
    println!("   keyword correct; link spent");
    println!("== 8. ID・パスワード入力");
    let user_id = "taro.yamada@example.jp";
    let password = "correct horse battery";
    flow(
        "credentials",
        host.call(|p, s| {
            p.customer_web_plugin_credentials()
                .call_submit(s, &verified.ticket, user_id, password)
        })?,
    )?;
    println!(
        "== 9. 入力内容確認: {}",
        flow(
            "review",
            host.call(|p, s| p
                .customer_web_plugin_credentials()
                .call_review(s, &verified.ticket))?
        )?
    );
    match host.call(|p, s| {
        p.customer_web_plugin_credentials()
            .call_complete(s, &verified.ticket)
    })? {
        Ok(grant) => {
            println!("== 10. 登録完了 → ホームへ");
            home_and_renewal(&host, &grant.session)?;
        }
        Err(FlowError::AlreadyRegistered) => {
            println!("== 10. already registered (this data directory ran the demo before): recovery instead");
        }
        Err(e) => bail!("complete: {e:?}"),
    }

    println!("== Recovery 1–3: ユーザーＩＤ・パスワードをお忘れの方はこちら");
    let started = flow(
        "recovery",
        host.call(|p, s| {
            p.customer_web_plugin_recovery()
                .call_start(s, "taro@example.jp", "1985/4/1")
        })?,
    )?;
    println!(
        "   keyword shown on screen: 【{}】 (not in the mail)",
        started.keyword
    );
    let mail = last_mail()?;
    println!("Subject: {}\n\n{}", mail.message.subject, mail.message.text);
    let token = mail
        .message
        .text
        .lines()
        .find_map(|l| l.trim().split("/link/").nth(1))
        .context("recovery mail has a link")?
        .to_owned();
    println!("== Recovery 4–6: keyword, new ID and password");
    let verified = flow(
        "keyword",
        host.call(|p, s| {
            p.customer_web_plugin_link()
                .call_submit_keyword(s, &token, &started.keyword)
        })?,
    )?;
    let new_password = format!("new passphrase {}", host.capabilities().clock.now());
    flow(
        "credentials",
        host.call(|p, s| {
            p.customer_web_plugin_credentials()
                .call_submit(s, &verified.ticket, user_id, &new_password)
        })?,
    )?;
    let grant = flow(
        "complete",
        host.call(|p, s| {
            p.customer_web_plugin_credentials()
                .call_complete(s, &verified.ticket)
        })?,
    )?;
    println!("   credentials replaced; every older session revoked");
    home_and_renewal(&host, &grant.session)?;
    println!("== Audit trail (newest last)");
    for e in host.capabilities().audit.recent(12)? {
        println!("   {:<20} {:<16} {}", e.kind, e.subject, e.detail);
    }
    println!("\nData in {}", cli.data_dir.display());
    Ok(())
}

fn home_and_renewal(host: &PluginHost, session: &str) -> anyhow::Result<()> {
    let home = flow(
        "home",
        host.call(|p, s| p.customer_web_plugin_account().call_home(s, session))?,
    )?
    .context("session is live")?;
    println!(
        "== 11. ホーム: {} ({}) → 契約の継続手続",
        home.display_name, home.user_id
    );
    let contracts = flow(
        "contracts",
        host.call(|p, s| {
            p.customer_web_plugin_account()
                .call_renewable_contracts(s, session)
        })?,
    )?;
    for c in &contracts {
        println!(
            "   {} {} {} (満期 {}年{}月{}日)",
            c.policy_number, c.product, c.subject, c.expiry_date.year, c.expiry_date.month, c.expiry_date.day
        );
    }
    let first = contracts.first().context("a renewable contract")?;
    let handover = flow(
        "renewal",
        host.call(|p, s| {
            p.customer_web_plugin_account()
                .call_begin_renewal(s, session, &first.policy_number)
        })?,
    )?;
    println!(
        "== 12. 継続契約選択 → hand-over POSTed to {} (valid until {})",
        handover.url, handover.expires_at
    );
    Ok(())
}
