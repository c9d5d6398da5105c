//! The `idr` command line.

use clap::{Args, Parser, Subcommand};
use idr::app::{self, Application};
use idr::bulk;
use idr::config::{Overrides, Settings};
use idr::limits::Limits;
use idr::peer_formats::{self, Format};
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc rather than glibc's allocator: a scan that misses the cache allocates and frees many short-lived
/// records, which glibc's bin consolidation makes costly (measured in docs/performance.md, "Choices the figures rest
/// on").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Who the audit trail names for writes made by `idr import` on this machine.
const CLI_WRITER: &str = "cli (idr import)";

#[derive(Parser)]
#[command(
    name = "idr",
    version,
    about = "An ISO/IEC 18975 / GS1 Digital Link identity resolver"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve resolution and the management API.
    #[command(
        after_help = "Examples:\n  idr serve                                   # embedded store in ./data, demo data on first start\n  \
                            idr serve --listen 0.0.0.0:8080 --resolver-root https://id.example.com --no-demo\n  \
                            IDR_REDIS_URL=redis://127.0.0.1:6379 idr serve --config /etc/idr/idr.toml"
    )]
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<String>,
        /// Public origin for anchors and Link headers, e.g. https://id.example.com.
        #[arg(long)]
        resolver_root: Option<String>,
        /// Do not load the demo records into an empty store.
        #[arg(long)]
        no_demo: bool,
    },
    /// Import anchors from a file: our NDJSON (one {"identifier": …, …anchor} per line), GS1 Resolver CE v3
    /// data-entry documents, or Pyx v4 registration bodies.
    #[command(
        after_help = "Examples:\n  idr import anchors.ndjson\n  idr import --format gs1-ce ce-export.json\n  \
                            idr import --format pyx registrations.ndjson"
    )]
    Import {
        #[command(flatten)]
        common: Common,
        /// Input format. Peer formats are all-or-nothing: one bad entry and nothing is imported.
        #[arg(long, value_enum, default_value = "native")]
        format: Format,
        /// Send the file to a running server's bulk write (POST /api/v1/anchors) instead of opening the store, so
        /// an embedded store needs no stop. The bearer token comes from IDR_TOKEN. Native format only.
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        file: PathBuf,
    },
    /// Write every anchor as NDJSON to standard output.
    #[command(
        after_help = "Examples:\n  idr export --data-dir ./data > anchors.ndjson\n  idr export --prefix 01/0952012 > acme.ndjson"
    )]
    Export {
        #[command(flatten)]
        common: Common,
        /// Only anchors whose canonical identifier starts with this (a string prefix, e.g. 01/0952012).
        #[arg(long, default_value = "")]
        prefix: String,
    },
    /// Explain what the resolver would answer for a URI, and why: the walk-up levels and what each holds, the
    /// link type looked for, how negotiation scored its candidates, and the answer. Reads the store (with the
    /// embedded store, stop the server first: it holds the file).
    #[command(after_help = "Examples:\n  idr resolve /01/09520123456788/10/ABC\n  \
                            idr resolve 'https://id.example.com/01/09520123456788?linkType=gs1:pip' --accept-language de\n  \
                            idr resolve /abn/51824753556 --redis-url redis://127.0.0.1:6379")]
    Resolve {
        #[command(flatten)]
        common: Common,
        /// An absolute URI or a path with its query.
        uri: String,
        /// The Accept header to negotiate with.
        #[arg(long)]
        accept: Option<String>,
        /// The Accept-Language header to negotiate with.
        #[arg(long)]
        accept_language: Option<String>,
    },
    /// Check the configuration (settings, keys, delegations, link types, identifier schemes) without serving.
    #[command(after_help = "Example:\n  idr check-config --config /etc/idr/idr.toml")]
    CheckConfig {
        #[command(flatten)]
        common: Common,
    },
    /// Check every stored record against the rules a write checks today: its identifier parses and is canonical
    /// (a record an earlier version stored before a stricter check can still be read and deleted by its stored key),
    /// link types, limits, UNTP's access rules (`encryptionMethod` from UNTP's code list, an encrypted target names
    /// its `accessRole`). Read-only: prints one line per broken rule (identifier, field, link target, rule) and exits
    /// 1 when it found any. With the embedded store, stop the server first (it holds the file).
    #[command(after_help = "Examples:\n  idr check-data --data-dir ./data\n  \
                            idr check-data --redis-url redis://127.0.0.1:6379")]
    CheckData {
        #[command(flatten)]
        common: Common,
    },
    /// Check what credential links point to (verified links): fetch and verify the target of every link whose link
    /// type is a credential type, store the verdicts (as the server does after a write), and print a table (per
    /// link: identifier, link type, status, checked, reason) and totals. CHECKED is `now` for a verdict reached by
    /// this run, `kept` for one kept from an earlier check: the check was deferred (the host's outbound budget
    /// spent, its turn not come in time), or the target could not be fetched and an earlier refusal stands; REASON
    /// then says why. Exits 1 when any target failed, is not a credential or could not be fetched (or an anchor is
    /// missing, or the store answered an error); else 3 when not every link was checked now (run it again later);
    /// else 0. With the embedded store, stop the server first (it holds the file).
    #[command(
        after_help = "Examples:\n  idr verify 01/09520123456788 --data-dir ./data\n  \
                            idr verify --all --redis-url redis://127.0.0.1:6379"
    )]
    Verify {
        #[command(flatten)]
        common: Common,
        /// The anchor to check (canonical path or URI path, e.g. 01/09520123456788).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        identifier: Option<String>,
        /// Check every anchor that has a credential link.
        #[arg(long)]
        all: bool,
    },
    /// Create, list and revoke API keys (stored in the link store; secrets are shown once and never stored).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Read the audit trail out of the store (e.g. before `audit.retain_days` trims it).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Exit 0 when a running resolver answers its health check (for container HEALTHCHECKs), 1 otherwise.
    #[command(after_help = "Example:\n  idr healthcheck --url http://127.0.0.1:8080/healthz")]
    Healthcheck {
        /// The URL to GET; any 2xx answer within --timeout-ms is healthy.
        #[arg(long, default_value = "http://127.0.0.1:8080/healthz")]
        url: String,
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
    /// Internal: verifies one Data Integrity proof (a JSON request on standard input, the verdict as JSON on standard
    /// output) for a running server, which starts it as a child process and kills it at its time limit
    /// (`verification::check::verifier`). Fetches nothing.
    #[command(name = idr::verification::check::verifier::SUBCOMMAND, hide = true)]
    VerifyDataIntegrityProof {
        /// Processor time allowed, in seconds (RLIMIT_CPU).
        #[arg(long)]
        cpu_seconds: u64,
        /// Address space allowed, in bytes (RLIMIT_AS).
        #[arg(long)]
        memory_bytes: u64,
    },
    /// Print the SHA-256 (hex) of a secret read from standard input, for `[[keys]]` in the config.
    #[command(after_help = "Example:\n  printf '%s' \"$SECRET\" | idr hash-secret")]
    HashSecret,
    /// Draw the QR code of an identifier's public URI ({resolver root}/{identifier}), offline, for labels.
    #[command(after_help = QR_EXAMPLES)]
    Qr(QrArgs),
    /// Convert carrier data (barcode scanner output, an element string, an EPC URI or a Digital Link URI) to the
    /// canonical Digital Link URI, and print it with the element string and each AI. Offline.
    #[command(after_help = CONVERT_EXAMPLES)]
    Convert {
        /// The data, as a scanner sends it (`]d2…`; a GS character, `^` also stands for FNC1), `(01)…(10)…`,
        /// `urn:epc:id:sgtin:…`, or `https://…/01/…`.
        data: String,
        /// Public origin of the URI, e.g. https://id.example.com [default: resolver.resolver_root, else
        /// https://id.gs1.org].
        #[arg(long)]
        resolver_root: Option<String>,
        /// Config file (TOML) layered over resolver-config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Also print the EPC pure identity URI: the GS1 Company Prefix length (6 to 12 digits), which the key does
        /// not tell (an EPC URI as data tells it).
        #[arg(long)]
        gcp_length: Option<String>,
        /// Also print the EPC tag URI in this tag encoding (sgtin-96, sgtin-198, sscc-96, …).
        #[arg(long)]
        epc_tag: Option<String>,
        /// The filter value of the tag URI (0 to 7) [default: 0].
        #[arg(long)]
        filter: Option<String>,
    },
}

const CONVERT_EXAMPLES: &str = "Examples:
  idr convert $']d2010952012345678810ABC\\x1d17201231' --resolver-root https://id.example.com
  idr convert '(01)09520123456788(10)ABC(17)201231'
  idr convert '^010952012345678810ABC^17201231'
  idr convert urn:epc:id:sgtin:0614141.812345.6789
  idr convert 'https://id.gs1.org/01/09520123456788/10/ABC?17=201231'
  idr convert 'https://id.gs1.org/01/80614141123458/21/6789' --gcp-length 7 --epc-tag sgtin-96 --filter 3

Prints the Digital Link URI, the element string (bracketed, and as the barcode carries it, <GS> marking FNC1)
and each AI with its title; with --gcp-length (or an EPC URI as data) the EPC URIs too. GET
/api/v1/convert?data=…&gcpLength=… answers the same as JSON.";

const QR_EXAMPLES: &str = "Examples:
  idr qr 01/09520123456788/10/ABC --resolver-root https://id.example.com > label.svg
  idr qr 01/09520123456788/21/12345 --format png --size 1024 --ecc H --output serial.png
  idr qr abr/abn/51824753556 --config production.toml --output abn.svg
  idr qr did:web:id.example.com:01:09520123456788 --resolver-root https://id.example.com --format png -o did.png
  idr qr 01/09780345418913/21/12345 --compressed --resolver-root https://id.example.com > small.svg

The resolver root comes from --resolver-root, else from resolver.resolver_root in the configuration
(--config, IDR_RESOLVER__RESOLVER_ROOT); there is no request to take it from, so one of them is required.";

#[derive(Args)]
struct QrArgs {
    /// An identifier as the management API writes it (01/09520123456788/10/ABC, abr/abn/51824753556), or a did:web DID.
    identifier: String,
    #[arg(long, value_enum, default_value = "svg")]
    format: idr::qr::Format,
    /// Edge of the image in pixels (64-4096).
    #[arg(long, default_value_t = idr::qr::DEFAULT_SIZE)]
    size: u32,
    /// Quiet zone around the code, in modules (0-16).
    #[arg(long, default_value_t = idr::qr::DEFAULT_MARGIN)]
    margin: u32,
    /// Error correction: how much of the code may be damaged or covered and still scan.
    #[arg(long, value_enum, ignore_case = true, default_value = "M")]
    ecc: idr::qr::Ecc,
    /// Draw the GS1 Digital Link compressed URI ({resolver root}/DBHKVAdpQgowOQ): shorter, so a code no larger.
    #[arg(long)]
    compressed: bool,
    /// Public origin the code points to, e.g. https://id.example.com [default: resolver.resolver_root].
    #[arg(long)]
    resolver_root: Option<String>,
    /// Config file (TOML) layered over resolver-config/default.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Write the image here instead of to standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Write every audit entry of every identifier as NDJSON to standard output, in the shape of the audit API's
    /// entries, each identifier's oldest first. With the embedded store, stop the server first: it holds the file.
    #[command(
        after_help = "Examples:\n  idr audit export --data-dir ./data > audit-2026-12.ndjson\n  \
                      idr audit export --redis-url redis://127.0.0.1:6379 | gzip > audit.ndjson.gz"
    )]
    Export {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print its secret (once).
    #[command(
        after_help = "Examples:\n  idr keys create --name acme --scope '01/0952012*' --scope '414/952012*' --expires-in 365d\n  \
                            idr keys create --name registry --scope 'abr/*'\n  idr keys create --name ops --scope admin"
    )]
    Create {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        name: String,
        /// What the key may read and write: a prefix (`01/0952012*`), a namespace (`abr/*`), one identifier and its
        /// levels (`01/09520123456788`), or `admin`. Repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Lifetime, e.g. `90d`, `12h`; without it the key does not expire.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List keys: name, scopes, created, expiry, status (never secrets).
    #[command(after_help = "Example:\n  idr keys list --data-dir ./data")]
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Revoke a key: with Redis every running replica refuses it within 10 seconds; with the embedded store, from
    /// the server's next start.
    #[command(after_help = "Example:\n  idr keys revoke --name acme")]
    Revoke {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        name: String,
    },
}

#[derive(Args)]
struct Common {
    /// Config file (TOML) layered over resolver-config/default.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder of the embedded store [default: ./data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Use Redis as the store: redis://host:port, redis+sentinel://s1:p1,s2:p2/master or redis+cluster://h1:p1,h2:p2;
    /// rediss… for TLS (also IDR_REDIS_URL).
    #[arg(long)]
    redis_url: Option<String>,
}

impl Common {
    fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
            redis_url: self.redis_url.clone(),
            ..Default::default()
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any runtime or thread: the verifier limits its own process and runs on a runtime of its own.
    if let Command::VerifyDataIntegrityProof {
        cpu_seconds,
        memory_bytes,
    } = cli.command
    {
        return idr::verification::check::verifier::run(cpu_seconds, memory_bytes);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve {
                common,
                listen,
                resolver_root,
                no_demo,
            } => {
                let overrides = Overrides {
                    listen,
                    resolver_root,
                    no_demo,
                    ..common.overrides()
                };
                serve(overrides).await
            }
            Command::Import {
                common,
                format,
                server: Some(server),
                file,
            } => import_remote(common.overrides(), format, &server, file).await,
            Command::Import {
                common,
                format,
                server: None,
                file,
            } => import(common.overrides(), format, file).await,
            Command::Export { common, prefix } => export(common.overrides(), &prefix).await,
            Command::CheckConfig { common } => check_config(common.overrides()),
            Command::CheckData { common } => check_data(common.overrides()).await,
            Command::Verify {
                common,
                identifier,
                all: _,
            } => verify(common.overrides(), identifier.as_deref()).await,
            Command::Resolve {
                common,
                uri,
                accept,
                accept_language,
            } => resolve(common.overrides(), &uri, accept, accept_language).await,
            Command::HashSecret => hash_secret(),
            Command::VerifyDataIntegrityProof { .. } => unreachable!("run before the runtime"),
            Command::Keys(command) => keys(command).await,
            Command::Audit(AuditCommand::Export { common }) => {
                audit_export(common.overrides()).await
            }
            Command::Healthcheck { url, timeout_ms } => healthcheck(&url, timeout_ms).await,
            Command::Qr(args) => qr(args),
            Command::Convert {
                data,
                resolver_root,
                config,
                gcp_length,
                epc_tag,
                filter,
            } => {
                let epc = idr::http::convert::EpcRequest {
                    gcp_length: gcp_length.as_deref(),
                    tag: epc_tag.as_deref(),
                    filter: filter.as_deref(),
                };
                convert(&data, resolver_root, config, &epc)
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

async fn serve(overrides: Overrides) -> Result<ExitCode> {
    let settings = Settings::load(&overrides)?;
    idr::telemetry::init_logging(settings.log.format);
    let application = Application::build(settings).await?;
    application.run().await?;
    Ok(ExitCode::SUCCESS)
}

async fn import(overrides: Overrides, format: Format, file: PathBuf) -> Result<ExitCode> {
    let settings = Settings::load(&overrides)?;
    idr::telemetry::init_logging(settings.log.format);
    let (vocabulary, parser) = app::check_config(&settings)?;
    let codes = Arc::new(app::load_codes(&settings)?);
    let store = app::open_store(&settings).await?;
    // Link types issuers registered at run time are as usable here as in the API.
    let vocabulary = Arc::new(vocabulary.with_stored(&store.documents.link_types().await?));
    if format != Format::Native {
        return import_peer(
            &settings,
            &store,
            &vocabulary,
            &parser,
            &codes,
            format,
            &file,
        )
        .await;
    }
    let input = std::fs::File::open(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let bar = idr::progress::bytes(input.metadata().map_or(0, |m| m.len()));
    let input = idr::progress::Counting {
        inner: input,
        bar: bar.clone(),
    };
    let report = bulk::import(
        store.anchors.as_ref(),
        &vocabulary,
        &parser,
        &Limits::from_settings(&settings),
        &codes,
        BufReader::new(input),
        CLI_WRITER,
    )
    .await?;
    bar.finish_and_clear();
    for (line, reason) in &report.rejected {
        eprintln!("{}:{line}: rejected: {reason}", file.display());
    }
    println!(
        "imported {} anchors, rejected {} lines",
        report.imported,
        report.rejected.len()
    );
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Converts and checks every entry before anything is written: a peer file is imported whole or not at all.
async fn import_peer(
    settings: &Settings,
    store: &idr::registry::Registry,
    vocabulary: &Arc<idr::vocabulary::Vocabulary>,
    parser: &Arc<idr::identifier::Parser>,
    codes: &Arc<idr::codelist::AccessCodes>,
    format: Format,
    file: &std::path::Path,
) -> Result<ExitCode> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let converted = peer_formats::convert(format, &text, parser);
    let limits = Limits::from_settings(settings);
    let mut errors = converted.errors;
    let lines: Vec<String> = converted.lines.iter().map(|(_, l)| l.to_string()).collect();
    for ((at, _), line) in converted.lines.iter().zip(&lines) {
        if let Err(e) = bulk::check_line(vocabulary, parser, &limits, codes, line) {
            errors.push((at.clone(), format!("{}: {}", e.field, e.message)));
        }
    }
    if !errors.is_empty() {
        for (at, reason) in &errors {
            eprintln!("{}: {at}: rejected: {reason}", file.display());
        }
        println!(
            "imported 0 anchors: {} entries rejected, nothing written",
            errors.len()
        );
        return Ok(ExitCode::from(2));
    }
    let report = bulk::import(
        store.anchors.as_ref(),
        vocabulary,
        parser,
        &limits,
        codes,
        lines.join("\n").as_bytes(),
        CLI_WRITER,
    )
    .await?;
    for (line, reason) in &report.rejected {
        let at = converted
            .lines
            .get(line - 1)
            .map_or("?", |(at, _)| at.as_str());
        eprintln!("{}: {at}: rejected: {reason}", file.display());
    }
    println!(
        "imported {} anchors, rejected {} entries",
        report.imported,
        report.rejected.len()
    );
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `idr import --server`: the file goes to the server's bulk write; the totals and every failed line are printed as
/// `idr import` prints them.
async fn import_remote(
    overrides: Overrides,
    format: Format,
    server: &str,
    file: PathBuf,
) -> Result<ExitCode> {
    let settings = Settings::load(&overrides)?;
    idr::telemetry::init_logging(settings.log.format);
    if format != Format::Native {
        return Err("--server sends native NDJSON only: convert the file first (idr convert) or import it offline".into());
    }
    let token = std::env::var("IDR_TOKEN")
        .map_err(|_| "--server needs the bearer token in IDR_TOKEN (an API key whose scopes cover the file's identifiers)")?;
    let size = std::fs::metadata(&file)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .len();
    let bar = idr::progress::bytes(size);
    let mut report = idr::bulk_client::RemoteReport::default();
    let sent = idr::bulk_client::import(server, &token, &file, &bar, &mut report).await;
    bar.finish_and_clear();
    for failure in &report.failures {
        eprintln!(
            "{}:{}: rejected ({}): {}{}",
            file.display(),
            failure.line,
            failure.status,
            failure
                .identifier
                .as_deref()
                .map_or(String::new(), |i| format!("{i}: ")),
            failure.detail.as_deref().unwrap_or("")
        );
    }
    if report.omitted > 0 {
        eprintln!(
            "{} more failed lines not listed by the server",
            report.omitted
        );
    }
    println!(
        "imported {} anchors ({} created, {} replaced), rejected {} lines",
        report.created + report.replaced,
        report.created,
        report.replaced,
        report.failed
    );
    if let Err(e) = sent {
        eprintln!("{server}: {e}");
        return Ok(ExitCode::FAILURE);
    }
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

async fn export(overrides: Overrides, prefix: &str) -> Result<ExitCode> {
    let settings = Settings::load(&overrides)?;
    idr::telemetry::init_logging(settings.log.format);
    let store = app::open_existing_store(&settings).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let bar = idr::progress::anchors();
    let count = bulk::export(store.anchors.as_ref(), &mut out, prefix, &bar).await?;
    bar.finish_and_clear();
    out.flush()?;
    eprintln!("exported {count} anchors");
    Ok(ExitCode::SUCCESS)
}

async fn audit_export(overrides: Overrides) -> Result<ExitCode> {
    let settings = Settings::load(&overrides)?;
    idr::telemetry::init_logging(settings.log.format);
    let store = app::open_existing_store(&settings).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut count = 0u64;
    store
        .audit
        .export_audit(&mut |entry| {
            let view = idr::http::audit::AuditView::from(entry);
            serde_json::to_writer(&mut out, &view)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|e| {
                    idr::registry::StoreError::Unavailable(format!("standard output: {e}"))
                })?;
            count += 1;
            Ok(())
        })
        .await?;
    out.flush()?;
    eprintln!("exported {count} audit entries");
    Ok(ExitCode::SUCCESS)
}

async fn resolve(
    overrides: Overrides,
    uri: &str,
    accept: Option<String>,
    accept_language: Option<String>,
) -> Result<ExitCode> {
    let settings = Settings::load(&overrides)?;
    idr::telemetry::init_logging(settings.log.format);
    let (vocabulary, parser) = app::check_config(&settings)?;
    let delegations = app::delegations(&settings, &parser, &vocabulary)?;
    let store = app::open_existing_store(&settings).await?;
    let (root, why) = idr::explain::origin(settings.fixed_root(), uri);
    println!("origin: {root} ({why})");
    let vocabulary = Arc::new(vocabulary.with_stored(&store.documents.link_types().await?));
    let cx = idr::explain::Context {
        store: store.anchors.as_ref(),
        parser: &parser,
        vocabulary: &vocabulary,
        delegations: &delegations,
        root: &root,
    };
    let request = idr::explain::Request {
        uri,
        accept: accept.as_deref(),
        accept_language: accept_language.as_deref(),
    };
    // In enforce mode, the stored verdicts decide what a scan passes over, as on the server (nothing is checked here).
    let explained = if settings.verification.mode == idr::config::VerificationMode::Enforce {
        let verification = idr::verification::Verification::with_parts(
            &settings.verification,
            idr::verification::Parts {
                anchors: store.anchors.clone(),
                verdicts: store.verdicts.clone(),
                coordination: store.coordination.clone(),
                vocabularies: Arc::new(idr::vocabulary::Vocabularies::new((*vocabulary).clone())),
                checker: Arc::new(idr::verification::engine::Unchecked),
            },
        );
        idr::explain::explain_verified(&cx, &request, Some(&verification)).await?
    } else {
        idr::explain::explain(&cx, &request).await?
    };
    print!("{explained}");
    Ok(ExitCode::SUCCESS)
}

async fn check_data(overrides: Overrides) -> Result<ExitCode> {
    let settings = Settings::load(&overrides)?;
    idr::telemetry::init_logging(settings.log.format);
    let (vocabulary, parser) = app::check_config(&settings)?;
    let codes = app::load_codes(&settings)?;
    let store = app::open_existing_store(&settings).await?;
    // What issuers registered at run time (schemes, link types) counts as it does in the API.
    app::load_registered_schemes(store.documents.as_ref(), &parser).await;
    let vocabulary = vocabulary.with_stored(&store.documents.link_types().await?);
    let limits = Limits::from_settings(&settings);
    let rules = idr::datacheck::Rules {
        vocabulary: &vocabulary,
        parser: &parser,
        limits: &limits,
        codes: &codes,
    };
    let (findings, count) = idr::datacheck::check(store.anchors.as_ref(), &rules).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    for f in &findings {
        let link = f
            .href
            .as_deref()
            .map_or(String::new(), |h| format!(" ({h})"));
        writeln!(out, "{}: {}{link}: {}", f.identifier, f.field, f.message)?;
    }
    out.flush()?;
    let identifiers: std::collections::HashSet<&str> =
        findings.iter().map(|f| f.identifier.as_str()).collect();
    eprintln!(
        "checked {count} anchors: {} rules broken in {} anchors",
        findings.len(),
        identifiers.len()
    );
    if findings.iter().any(|f| f.field == "identifier") {
        eprintln!(
            "an identifier that no longer parses: GET or DELETE /api/v1/anchors/<identifier as listed> still reaches it"
        );
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `idr verify <identifier>` / `--all`: checks, stores and prints the verdicts.
async fn verify(overrides: Overrides, identifier: Option<&str>) -> Result<ExitCode> {
    use futures_util::StreamExt;
    use idr::verification::{Checked, Status};
    let settings = Settings::load(&overrides)?;
    idr::telemetry::init_logging(settings.log.format);
    if settings.verification.mode == idr::config::VerificationMode::Off {
        eprintln!(
            "verification is off (verification.mode = \"off\"): nothing is fetched or checked; set \
             verification.mode to \"report\" or \"enforce\" (or IDR_VERIFICATION__MODE) to check"
        );
        return Ok(ExitCode::from(2));
    }
    let (vocabulary, parser) = app::check_config(&settings)?;
    let store = app::open_existing_store(&settings).await?;
    app::load_registered_schemes(store.documents.as_ref(), &parser).await;
    let vocabulary = vocabulary.with_stored(&store.documents.link_types().await?);
    let vocabularies = Arc::new(idr::vocabulary::Vocabularies::new(vocabulary.clone()));
    let outbound = Arc::new(idr::outbound::Outbound::new(&settings.outbound)?);
    let checker = idr::verification::check::Checker::new(
        &settings,
        outbound,
        parser.clone(),
        vocabularies.clone(),
    )?;
    let verification = idr::verification::Verification::with_parts(
        &settings.verification,
        idr::verification::Parts {
            anchors: store.anchors.clone(),
            verdicts: store.verdicts.clone(),
            coordination: store.coordination.clone(),
            vocabularies,
            checker: Arc::new(idr::verification::reserved::SkipReserved::new(
                Arc::new(checker),
                settings.outbound.policy()?,
            )),
        },
    );
    let anchors: Vec<String> = match identifier {
        Some(raw) => {
            let raw = raw.trim_start_matches('/');
            vec![parser.parse_key(raw)?.canonical_path().to_string()]
        }
        None => {
            let mut found = Vec::new();
            store
                .anchors
                .for_each(&mut |path, record| {
                    // A pattern record (`~pattern/…`) stands in for identifiers: no anchor of its own to check.
                    if idr::registry::patterns::pattern_of(path).is_none()
                        && !idr::verification::credential_links(&vocabulary, &record.record)
                            .is_empty()
                    {
                        found.push(path.to_string());
                    }
                    Ok(())
                })
                .await?;
            found
        }
    };
    let checked: Vec<(
        String,
        std::result::Result<Option<Checked>, idr::registry::StoreError>,
    )> = futures_util::stream::iter(anchors)
        .map(|anchor| {
            let verification = &verification;
            async move {
                let result = verification.check_now(&anchor).await;
                (anchor, result)
            }
        })
        .buffered(settings.verification.concurrency.max(1))
        .collect()
        .await;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut totals = std::collections::BTreeMap::<&str, usize>::new();
    let (mut bad, mut missing, mut errors, mut kept) = (false, 0, 0, 0);
    let mut incomplete = false;
    writeln!(out, "IDENTIFIER\tLINK TYPE\tSTATUS\tCHECKED\tREASON")?;
    for (anchor, result) in &checked {
        let checked = match result {
            Ok(Some(c)) => c,
            Ok(None) => {
                missing += 1;
                writeln!(out, "{anchor}\t-\tno anchor\t-\t")?;
                continue;
            }
            Err(e) => {
                errors += 1;
                let e = e.to_string().replace(['\t', '\n'], " ");
                writeln!(out, "{anchor}\t-\terror\t-\t{e}")?;
                continue;
            }
        };
        incomplete |= !checked.complete();
        for (v, why) in checked.verdicts.links.iter().zip(&checked.kept) {
            let link_type = vocabulary
                .by_uri(&v.link_type)
                .map_or(v.link_type.as_str(), |d| d.curie.as_str());
            let reason = v.reason.as_deref().unwrap_or("");
            let (when, reason) = match why {
                None => ("now".to_string(), reason.to_string()),
                Some(why) => {
                    kept += 1;
                    let when = match &v.checked_at {
                        Some(at) => format!("kept ({at})"),
                        None => "kept (never checked)".to_string(),
                    };
                    let reason = match reason {
                        "" => why.to_string(),
                        reason => format!("{why}; kept verdict: {reason}"),
                    };
                    (when, reason)
                }
            };
            let reason = reason.replace(['\t', '\n'], " ");
            writeln!(
                out,
                "{anchor}\t{link_type}\t{}\t{when}\t{reason}",
                v.status.as_str()
            )?;
            *totals.entry(v.status.as_str()).or_default() += 1;
            bad |= matches!(
                v.status,
                Status::Failed | Status::NotACredential | Status::Unreachable
            );
        }
    }
    let summary: Vec<String> = Status::ALL
        .iter()
        .filter_map(|s| {
            totals
                .get(s.as_str())
                .map(|n| format!("{n} {}", s.as_str()))
        })
        .collect();
    writeln!(
        out,
        "checked {} anchors, {} links: {}",
        checked.len() - missing - errors,
        totals.values().sum::<usize>(),
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(", ")
        }
    )?;
    if kept > 0 {
        writeln!(
            out,
            "{kept} verdicts kept from earlier checks (rows marked \"kept\"), not reached by this run"
        )?;
    }
    out.flush()?;
    if errors > 0 {
        eprintln!(
            "{errors} anchors not checked: the store answered an error (rows marked \"error\")"
        );
    }
    if incomplete {
        eprintln!(
            "not every link was checked now (rows marked \"kept\", reason \"not checked now\"): run it again later"
        );
    }
    Ok(if bad || missing > 0 || errors > 0 {
        ExitCode::from(1)
    } else if incomplete {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

fn check_config(overrides: Overrides) -> Result<ExitCode> {
    let settings = Settings::load(&overrides)?;
    idr::telemetry::init_logging(settings.log.format);
    let (vocabulary, parser) = app::check_config(&settings)?;
    let schemes: Vec<String> = parser
        .schemes()
        .iter()
        .map(|s| format!("{} ({})", s.namespace, s.source))
        .collect();
    println!(
        "configuration is valid: {} link types, {} keys, schemes: {}",
        vocabulary.all().len(),
        settings.keys.len(),
        schemes.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

async fn keys(command: KeysCommand) -> Result<ExitCode> {
    let common = match &command {
        KeysCommand::Create { common, .. }
        | KeysCommand::List { common }
        | KeysCommand::Revoke { common, .. } => common,
    };
    let settings = Settings::load(&common.overrides())?;
    idr::telemetry::init_logging(settings.log.format);
    let (_, parser) = app::check_config(&settings)?;
    // A first key may be the first thing a new store holds; listing and revoking need one.
    let store = match command {
        KeysCommand::Create { .. } => app::open_store(&settings).await?,
        _ => app::open_existing_store(&settings).await?,
    };
    match command {
        KeysCommand::Create {
            name,
            scopes,
            expires_in,
            ..
        } => {
            let expires = match expires_in {
                None => None,
                Some(d) => {
                    let secs = idr::keys::parse_duration(&d).ok_or_else(|| {
                        format!("--expires-in {d:?}: use a number and s, m, h or d (e.g. 90d)")
                    })?;
                    Some(idr::auth::now() + secs)
                }
            };
            let configured: Vec<String> = settings.keys.iter().map(|k| k.name.clone()).collect();
            let (record, secret) = idr::keys::create(
                store.documents.as_ref(),
                &parser,
                &name,
                &scopes,
                expires,
                &configured,
            )
            .await?;
            eprintln!(
                "created key {:?} with scopes {}; the secret is shown once:",
                record.name,
                record.scopes.join(", ")
            );
            println!("{secret}");
        }
        KeysCommand::List { .. } => {
            for k in idr::keys::list(store.documents.as_ref()).await? {
                let status = if k.revoked {
                    "revoked"
                } else if k.expires.is_some_and(|e| idr::auth::now() >= e) {
                    "expired"
                } else {
                    "active"
                };
                let expires = k
                    .expires
                    .map_or("never".to_string(), |e| format!("{e} (unix)"));
                println!(
                    "{}\t{}\tscopes {}\tcreated {} (unix)\texpires {expires}",
                    k.name,
                    status,
                    k.scopes.join(","),
                    k.created
                );
            }
        }
        KeysCommand::Revoke { name, .. } => {
            idr::keys::revoke(store.documents.as_ref(), &name).await?;
            let when = if settings.redis_url().is_some() {
                "running replicas refuse it within 10 seconds"
            } else {
                "the server refuses it from its next start (the embedded store is used by one process at a time)"
            };
            eprintln!("revoked key {name:?}; {when}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn healthcheck(url: &str, timeout_ms: u64) -> Result<ExitCode> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(r) => {
            eprintln!("idr: {url} answered {}", r.status());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("idr: {url}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn hash_secret() -> Result<ExitCode> {
    let mut secret = String::new();
    std::io::stdin().read_line(&mut secret)?;
    println!(
        "{}",
        idr::auth::hex_digest(secret.trim_end_matches(['\n', '\r']))
    );
    Ok(ExitCode::SUCCESS)
}

fn qr(args: QrArgs) -> Result<ExitCode> {
    use idr::qr;
    let overrides = Overrides {
        config_file: args.config.clone(),
        resolver_root: args.resolver_root.clone(),
        ..Default::default()
    };
    let settings = Settings::load(&overrides)?;
    let root = settings.fixed_root().ok_or(
        "no resolver root: pass --resolver-root https://id.example.com or set resolver.resolver_root",
    )?;
    if qr::is_did(&args.identifier) && !settings.did_web.enabled {
        return Err(
            "did:web resolution is off (did_web.enabled = false): the code would lead nowhere"
                .into(),
        );
    }
    let (_, parser) = app::check_config(&settings)?;
    let uri = if args.compressed {
        qr::compressed_label_uri(&parser, root, &args.identifier)?
    } else {
        qr::label_uri(&parser, root, &args.identifier)?
    };
    let options = qr::Options::new(args.format, args.size, args.margin, args.ecc)?;
    let bytes = qr::render(&uri, &options)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("{uri} → {}", path.display());
        }
        None if options.format == qr::Format::Png
            && std::io::IsTerminal::is_terminal(&std::io::stdout()) =>
        {
            return Err("a PNG is binary: use --output FILE or redirect standard output".into());
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn convert(
    data: &str,
    resolver_root: Option<String>,
    config: Option<PathBuf>,
    epc: &idr::http::convert::EpcRequest<'_>,
) -> Result<ExitCode> {
    use idr::identifier::gs1::carrier;
    let overrides = Overrides {
        config_file: config,
        resolver_root,
        ..Default::default()
    };
    let settings = Settings::load(&overrides)?;
    let (_, parser) = app::check_config(&settings)?;
    let root = settings.fixed_root().unwrap_or("https://id.gs1.org");
    let converted = carrier::convert(data, &parser.gs1_options)?;
    let epc = epc.view(&converted).map_err(|e| match e.parameter() {
        "gcpLength" => format!("--gcp-length: {e}"),
        "epcTag" => format!("--epc-tag: {e}"),
        "filter" => format!("--filter: {e}"),
        _ => e.to_string(),
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "uri: {}", converted.uri_under(root))?;
    writeln!(out, "element string: {}", converted.element_string())?;
    let barcode = converted.barcode_data().replace(carrier::GS, "<GS>");
    writeln!(out, "barcode data: {barcode}")?;
    if let carrier::Source::Scanned(symbology) = converted.source {
        writeln!(
            out,
            "symbology: {} {}",
            symbology.identifier, symbology.name
        )?;
    }
    for e in converted.elements() {
        let role = e.placement.name();
        writeln!(out, "  ({}) {}: {} [{role}]", e.ai, e.title, e.value)?;
    }
    if let Some(epc) = epc {
        writeln!(out, "epc pure identity: {}", epc.pure_identity)?;
        if !epc.not_carried.is_empty() {
            let ais: Vec<String> = epc.not_carried.iter().map(|ai| format!("({ai})")).collect();
            writeln!(
                out,
                "epc leaves out: {} (the EPC has no field for them)",
                ais.join(" ")
            )?;
        }
        if let Some(tag) = epc.tag {
            writeln!(out, "epc tag uri: {tag}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("idr: {e}");
    ExitCode::FAILURE
}
