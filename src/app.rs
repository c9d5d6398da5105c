//! Start-up: check the configuration, bind, open the store, load demo data, and serve.

use crate::auth::Authenticator;
use crate::bulk;
use crate::codelist::{AccessCodes, CodeListError};
use crate::config::{ConfigError, Settings, redact_url};
use crate::did::DidResolver;
use crate::http::{self, AppState};
use crate::identifier::Parser;
use crate::identifier::gs1::ParseOptions;
use crate::identifier::pattern::PathPattern;
use crate::identifier::scheme::registered::Registration;
use crate::identifier::scheme::{SchemeLoadError, SchemeSet};
use crate::limits::Limits;
use crate::outbound::Outbound;
use crate::registry::embedded::EmbeddedStore;
use crate::registry::redis::{RedisStore, Target};
use crate::registry::{
    AnchorStore, DocumentStore, InvalidationSink, LINK_TYPES_CHANGED, Registry, StoreError,
};
use crate::resolution::Delegations;
use crate::vocabulary::{Emit, Vocabularies, Vocabulary, VocabularyError};
use actix_web::{App, HttpServer, web};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vocabulary(#[from] VocabularyError),
    #[error(transparent)]
    CodeList(#[from] CodeListError),
    #[error("identifier scheme {0}")]
    Scheme(#[from] SchemeLoadError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("demo data {file}: {reason}")]
    Demo { file: String, reason: String },
}

/// The identifier parser: the schemes in `{config_dir}/schemes` (or the shipped ones) with the GS1 switches, each
/// scheme's vocabularies checked against the loaded link types.
pub fn parser(settings: &Settings, vocabulary: &Vocabulary) -> Result<Parser, StartupError> {
    let mut schemes = SchemeSet::load(&settings.config_dir().join("schemes"))?;
    if let Some(stem) = root_stem(settings) {
        // URIs printed under a root with a path reach this server with that path in front, as a GS1 custom stem
        // (unless a proxy strips it): no scheme may take it.
        schemes = schemes.with_stem(&stem, "the path of resolver.resolver_root")?;
    }
    for scheme in schemes.iter() {
        if let Some(unknown) = scheme.vocabularies.iter().find(|v| {
            !vocabulary
                .namespaces()
                .iter()
                .any(|n| n.prefix.eq_ignore_ascii_case(v))
        }) {
            return Err(ConfigError::invalid(
                format!("{}: vocabularies", scheme.source),
                format!("no link-type vocabulary has the prefix {unknown:?}"),
            )
            .into());
        }
    }
    let options = ParseOptions {
        legacy_gtin: settings.resolver.legacy_gtin,
        convenience_alphas: settings.resolver.convenience_alphas,
    };
    Ok(Parser::new(schemes, options))
}

/// The first path segment of the configured resolver root (`https://id.example.com/dl` → `dl`), if it has a path.
fn root_stem(settings: &Settings) -> Option<String> {
    let root = url::Url::parse(settings.fixed_root()?).ok()?;
    let first = root.path_segments()?.next()?.to_string();
    (!first.is_empty()).then_some(first)
}

/// Everything start-up checks before it opens a store: what `idr check-config` runs.
pub fn check_config(settings: &Settings) -> Result<(Arc<Vocabulary>, Arc<Parser>), StartupError> {
    let vocabulary = Arc::new(load_vocabulary(settings)?);
    let parser = Arc::new(parser(settings, &vocabulary)?);
    load_codes(settings)?;
    crate::http::guard::ClientAddresses::from_settings(&settings.server.trusted_proxies)?;
    Authenticator::from_settings(settings, &parser)?;
    contributor_link_types(settings, &vocabulary)?;
    delegations(settings, &parser, &vocabulary)?;
    if fetches(settings) {
        // Reads and checks the extra CA bundle.
        let outbound = Outbound::new(&settings.outbound)?;
        if settings.verification.mode != crate::config::VerificationMode::Off {
            // The verification settings the checker reads (trust lists' link types).
            crate::verification::check::Checker::new(
                settings,
                Arc::new(outbound),
                parser.clone(),
                Arc::new(Vocabularies::new((*vocabulary).clone())),
            )?;
        }
    }
    if settings.redis_url().is_some() {
        // Parses the URL and reads the password, CA and client certificate files (no connection).
        Target::from_settings(&settings.store)?;
    }
    Ok((vocabulary, parser))
}

/// Whether this configuration fetches anything from elsewhere (did:web documents, DID writers' documents).
fn fetches(settings: &Settings) -> bool {
    settings.did_web.enabled
        || !settings.did_writers.is_empty()
        || !settings.trust_anchors.is_empty()
        || settings.verification.mode != crate::config::VerificationMode::Off
}

/// API keys and DID writers. DID writers' documents are fetched with a did:web resolver of their own (its own cache,
/// and its own per-host failures and budgets over the shared guarded client), never with the one of anonymous
/// `GET /did:web:…`: a client scanning a writer's host (a closed port, a flood of made-up DIDs) must not be able to
/// spend or poison what signature checks need. `did_web.enabled` governs public resolution, while `did_writers`
/// alone decides whose documents are fetched to check signatures.
fn authenticator(
    settings: &Settings,
    parser: &Parser,
    outbound: Option<&Arc<Outbound>>,
) -> Result<Authenticator, StartupError> {
    let auth = Authenticator::from_settings(settings, parser)?;
    if !auth.has_did_writers() {
        return Ok(auth);
    }
    let own = match outbound {
        Some(shared) => shared.sibling(),
        None => Outbound::new(&settings.outbound)?,
    };
    let own = Arc::new(own);
    let resolver = Arc::new(DidResolver::new(&settings.did_web, own.clone()));
    Ok(auth.with_did_resolver(resolver, own))
}

/// The configured store itself, every part of it: Redis when a URL is set, else the embedded file.
pub async fn open_store(settings: &Settings) -> Result<Registry, StartupError> {
    Ok(match settings.redis_url() {
        Some(_) => {
            let target = Target::from_settings(&settings.store)?;
            Registry::of(Arc::new(
                RedisStore::connect_to(target, &settings.store).await?,
            ))
        }
        None => Registry::of(Arc::new(EmbeddedStore::open_with(
            &settings.store.data_dir,
            settings.store.embedded_cache_bytes,
            settings.store.embedded_quick_repair,
        )?)),
    })
}

/// The configured store, for commands that only read it (`idr export`, `idr resolve`, …): an embedded store must
/// already exist, rather than be created empty and read as such.
pub async fn open_existing_store(settings: &Settings) -> Result<Registry, StartupError> {
    let dir = &settings.store.data_dir;
    if settings.redis_url().is_none() && !EmbeddedStore::exists(dir) {
        return Err(StoreError::Unavailable(format!(
            "no store at {}: pass --data-dir with the folder `idr serve` uses (or --redis-url for Redis)",
            dir.display()
        ))
        .into());
    }
    open_store(settings).await
}

/// The store a server reads through, with the in-process cache of hot records in front of its anchors. The embedded
/// file has one writer, this process (redb locks it), so invalidation on write keeps that cache coherent; Redis also
/// feeds it other replicas' writes.
async fn serving_store(settings: &Settings) -> Result<Registry, StartupError> {
    let store = open_store(settings).await?;
    if let Some(url) = settings.redis_url() {
        tracing::info!(url = %redact_url(url), "link registry: Redis");
    }
    Ok(store.cached(&settings.cache))
}

/// Every link type a contributor role names is known to the vocabularies.
fn contributor_link_types(
    settings: &Settings,
    vocabulary: &Vocabulary,
) -> Result<(), StartupError> {
    for (i, anchor) in settings.trust_anchors.iter().enumerate() {
        for (j, role) in anchor.contributors.iter().enumerate() {
            for (k, spelling) in role.link_types.iter().enumerate() {
                if vocabulary.lookup(spelling).is_none() {
                    return Err(crate::config::ConfigError::invalid(
                        format!("trust_anchors[{i}].contributors[{j}].link_types[{k}]"),
                        format!("{spelling:?} is in no link-type vocabulary"),
                    )
                    .into());
                }
            }
        }
    }
    Ok(())
}

pub fn load_vocabulary(settings: &Settings) -> Result<Vocabulary, StartupError> {
    Ok(Vocabulary::load_with(
        &settings.config_dir().join("linktypes"),
        Emit::parse(&settings.linktypes.emit),
    )?)
}

/// Adds the link-type vocabularies issuers registered at run time. A shared store that is down only delays this.
pub async fn load_registered_link_types(store: &dyn DocumentStore, vocabularies: &Vocabularies) {
    match store.link_types().await {
        Ok(stored) => vocabularies.reload(&stored),
        Err(e) => tracing::warn!(error = %e, "registered link-type vocabularies not loaded yet"),
    }
}

/// Hears other replicas' changes to the run-time vocabularies on the store's invalidation feed, and re-reads them
/// after a gap in the feed (changes may have been missed).
struct LinkTypeFeed {
    store: Arc<dyn DocumentStore>,
    vocabularies: Arc<Vocabularies>,
}

impl LinkTypeFeed {
    fn reload(&self) {
        let (store, vocabularies) = (self.store.clone(), self.vocabularies.clone());
        tokio::spawn(
            async move { load_registered_link_types(store.as_ref(), &vocabularies).await },
        );
    }
}

impl InvalidationSink for LinkTypeFeed {
    fn invalidate(&self, key: &str) {
        if key == LINK_TYPES_CHANGED {
            self.reload();
        }
    }

    fn connected(&self) {
        self.reload();
    }

    fn disconnected(&self) {}
}

/// Verified links over the store (`parts`), checking with `checker` if given, else the real checker, unless
/// `verification.mode` is off.
fn verification(
    settings: &Settings,
    (outbound, checker): (
        Option<&Arc<Outbound>>,
        Option<Arc<dyn crate::verification::Check>>,
    ),
    (parser, vocabularies): (&Arc<Parser>, &Arc<Vocabularies>),
    mut parts: crate::verification::Parts,
) -> Result<crate::verification::Verification, StartupError> {
    let off = settings.verification.mode == crate::config::VerificationMode::Off;
    if let (Some(checker), false) = (checker, off) {
        parts.checker = checker;
    } else if let (Some(outbound), false) = (outbound, off) {
        let checker = crate::verification::check::Checker::new(
            settings,
            Arc::new(outbound.sibling()),
            parser.clone(),
            vocabularies.clone(),
        )?;
        // Targets on names reserved for examples (the demo data's) are answered without a fetch.
        parts.checker = Arc::new(crate::verification::reserved::SkipReserved::new(
            Arc::new(checker),
            settings.outbound.policy()?,
        ));
    }
    Ok(crate::verification::Verification::with_parts(
        &settings.verification,
        parts,
    ))
}

/// UNTP's access code lists from `{config_dir}/codelists` (or the shipped ones).
pub fn load_codes(settings: &Settings) -> Result<AccessCodes, StartupError> {
    Ok(AccessCodes::load(&settings.config_dir().join("codelists"))?)
}

pub fn delegations(
    settings: &Settings,
    parser: &Parser,
    vocabulary: &Vocabulary,
) -> Result<Delegations, ConfigError> {
    let rules = settings.delegations.iter().enumerate().map(|(i, d)| {
        PathPattern::parse_canonical(&d.identifiers, parser)
            .map(|p| (p, d.resolver.clone()))
            .map_err(|e| ConfigError::invalid(format!("delegations[{i}].identifiers"), e))
    });
    let idr = vocabulary.lookup("untp:idr").map(|d| d.uri.clone());
    Ok(Delegations::new(rules.collect::<Result<_, _>>()?, idr))
}

pub struct Application {
    server: actix_web::dev::Server,
    addr: SocketAddr,
    /// The operators' listener (`server.admin_listen`), when configured.
    admin: Option<(actix_web::dev::Server, SocketAddr)>,
    draining: Arc<AtomicBool>,
    drain: Duration,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        Self::build_checking_with(settings, None).await
    }

    /// `build`, with `checker` checking verified links' targets in place of the one that fetches them (when
    /// `verification.mode` is not `off`): for tests that need a check's outcome fixed, not timed by a network.
    pub async fn build_checking_with(
        settings: Settings,
        checker: Option<Arc<dyn crate::verification::Check>>,
    ) -> Result<Application, StartupError> {
        // Configuration errors first, before anything is opened.
        let (vocabulary, parser) = check_config(&settings)?;
        let delegations = delegations(&settings, &parser, &vocabulary)?;
        let codes = Arc::new(load_codes(&settings)?);
        // The one client every fetch goes through (see `outbound`).
        let outbound = match fetches(&settings) {
            true => Some(Arc::new(Outbound::new(&settings.outbound)?)),
            false => None,
        };
        let did_web = match (settings.did_web.enabled, &outbound) {
            (true, Some(outbound)) => Some(Arc::new(DidResolver::new(
                &settings.did_web,
                outbound.clone(),
            ))),
            _ => None,
        };
        let auth = Arc::new(authenticator(&settings, &parser, outbound.as_ref())?);
        if settings.fixed_root().is_none() {
            tracing::warn!(
                "resolver.resolver_root is not set: anchors and Link headers take their origin from each request's \
                 Host or X-Forwarded-Host; set it in production"
            );
        }
        // Bind before anything is created or loaded: a port in use stops start-up with the data folder untouched.
        let (listener, addr) = bind(settings.server.listen)?;
        let admin_listener = settings.server.admin_addr().map(bind).transpose()?;
        let registry = serving_store(&settings).await?;
        load_registered_schemes(registry.documents.as_ref(), &parser).await;
        load_stored_keys(registry.documents.as_ref(), &auth, &parser).await;
        let vocabularies = Arc::new(Vocabularies::new((*vocabulary).clone()));
        load_registered_link_types(registry.documents.as_ref(), &vocabularies).await;
        registry.coordination.subscribe(Arc::new(LinkTypeFeed {
            store: registry.documents.clone(),
            vocabularies: vocabularies.clone(),
        }));
        warn_without_credentials(&auth, &settings);
        tokio::spawn(refresh_registered(
            registry.documents.clone(),
            parser.clone(),
            auth.clone(),
            vocabularies.clone(),
        ));
        if settings.resolver.load_demo {
            load_demo_once(&registry, &vocabulary, &parser, &codes, &settings).await?;
        }
        if let Some(retain) = settings.audit.retention() {
            tracing::info!(
                retain_days = settings.audit.retain_days,
                "audit retention: older entries are removed"
            );
            tokio::spawn(crate::registry::retention::run(
                registry.audit.clone(),
                retain,
            ));
        }
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        // Installs the recorder before the first request records anything.
        crate::telemetry::metrics();
        let draining = Arc::new(AtomicBool::new(false));
        let drain = Duration::from_millis(settings.server.shutdown_drain_ms);
        let shutdown_timeout = settings.server.shutdown_timeout_seconds;
        let limits = &settings.limits;
        let resolutions = Arc::new(tokio::sync::Semaphore::new(
            limits.max_concurrent_resolutions.max(1),
        ));
        let rate_limiter = http::guard::RateLimiter::new(
            limits.management_requests_per_second,
            limits.management_burst,
        );
        let convert_limiter =
            http::guard::RateLimiter::new(limits.convert_requests_per_second, limits.convert_burst);
        let client_addresses =
            http::guard::ClientAddresses::from_settings(&settings.server.trusted_proxies)?;
        let Registry {
            anchors: store,
            audit,
            documents,
            coordination,
            verdicts,
            sessions,
        } = registry;
        let verification = Arc::new(verification(
            &settings,
            (outbound.as_ref(), checker),
            (&parser, &vocabularies),
            crate::verification::Parts {
                anchors: store.clone(),
                verdicts,
                coordination: coordination.clone(),
                vocabularies: vocabularies.clone(),
                checker: Arc::new(crate::verification::engine::Unchecked),
            },
        )?);
        verification.start(coordination.as_ref()).await;
        // Every write the HTTP layer makes queues its anchor for a check (nothing when verification is off).
        let store = match settings.verification.mode {
            crate::config::VerificationMode::Off => store,
            _ => crate::verification::enqueue::Enqueuing::wrap(store, verification.clone()),
        };
        let freshness = http::freshness::Freshness::new(
            settings.resolver.cache_max_age_seconds,
            &format!("{delegations:?}"),
        );
        let state = web::Data::new(AppState {
            freshness,
            resolutions,
            rate_limiter,
            convert_limiter,
            client_addresses,
            store,
            audit,
            documents,
            coordination,
            sessions,
            vocabularies,
            codes,
            auth,
            limits: Limits::from_settings(&settings),
            parser,
            delegations,
            did_web,
            verification,
            settings,
            draining: draining.clone(),
        });
        let admin = match admin_listener {
            Some((listener, admin_addr)) => Some((
                admin_server(state.clone(), listener, admin_addr, shutdown_timeout)?,
                admin_addr,
            )),
            None => None,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(http::common_headers())
                .wrap(actix_web::middleware::from_fn(http::observe::observe))
                .configure(http::routes)
        })
        .workers(workers)
        // Signals are ours: readiness must turn false before the server stops accepting (see `run`).
        .disable_signals()
        .shutdown_timeout(shutdown_timeout)
        .listen(listener)
        .map_err(|source| StartupError::Bind { addr, source })?
        .run();
        tracing::info!(%addr, workers, "idr listening");
        if let Some((_, admin_addr)) = &admin {
            tracing::info!(%admin_addr, "admin listener (/metrics, /readyz detail)");
        }
        Ok(Application {
            server,
            addr,
            admin,
            draining,
            drain,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin listener's address, when one is configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|(_, addr)| *addr)
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully: `/readyz` fails for `shutdown_drain_ms` so load
    /// balancers stop sending traffic, then new connections are refused and in-flight requests finish (at most
    /// `shutdown_timeout_seconds`).
    /// The admin listener answers throughout and stops with the public one.
    pub async fn run(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Like `run`, with `stop` in place of the signals: an application in a process that keeps its signals (a test)
    /// shuts down the same way when `stop` completes.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let handle = self.server.handle();
        let admin_handle = self.admin.as_ref().map(|(server, _)| server.handle());
        let (draining, drain) = (self.draining, self.drain);
        tokio::spawn(async move {
            stop.await;
            tracing::info!(
                drain_ms = drain.as_millis() as u64,
                "shutting down: draining"
            );
            draining.store(true, Ordering::Release);
            tokio::time::sleep(drain).await;
            handle.stop(true).await;
            if let Some(admin) = admin_handle {
                admin.stop(true).await;
            }
        });
        match self.admin {
            Some((admin, _)) => {
                let (public, admin) = tokio::join!(self.server, admin);
                public?;
                admin?;
            }
            None => self.server.await?,
        }
        tracing::info!("stopped");
        Ok(())
    }
}

fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let listener = TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| StartupError::Bind { addr, source })?;
    Ok((listener, bound))
}

/// The operators' server: one worker, metrics and readiness only, sharing the public server's state (so its
/// readiness turns false with the public one's on shutdown).
fn admin_server(
    state: web::Data<AppState>,
    listener: TcpListener,
    addr: SocketAddr,
    shutdown_timeout: u64,
) -> Result<actix_web::dev::Server, StartupError> {
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(http::common_headers())
            .configure(http::admin_routes)
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(shutdown_timeout)
    .listen(listener)
    .map_err(|source| StartupError::Bind { addr, source })?
    .run())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// How often a replica re-reads schemes registered through the API and API keys (another replica or `idr keys`
/// may have changed them).
const SCHEME_REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// Adds the schemes registered through the API to the parser. A shared store that is down only delays this.
pub async fn load_registered_schemes(store: &dyn DocumentStore, parser: &Parser) {
    let stored = match store.schemes().await {
        Ok(stored) => stored,
        Err(e) => {
            tracing::warn!(error = %e, "registered identifier schemes not loaded yet");
            return;
        }
    };
    let known = parser.schemes();
    for (namespace, definition) in stored {
        let current = known
            .iter()
            .find(|s| s.registered && s.namespace == namespace);
        if current.is_some_and(|s| s.definition == definition) {
            continue;
        }
        let scheme = serde_json::from_str::<Registration>(&definition)
            .map_err(|e| e.to_string())
            .and_then(|r| r.compile().map_err(|e| e.to_string()))
            .map(|mut s| {
                s.definition = definition.clone();
                s
            });
        match scheme.map(|s| parser.register(s).map_err(|e| e.to_string())) {
            Ok(Ok(())) => tracing::info!(namespace, "registered identifier scheme loaded"),
            Ok(Err(e)) | Err(e) => {
                tracing::warn!(namespace, error = %e, "registered identifier scheme skipped")
            }
        }
    }
}

/// Keys created or revoked with `idr keys` (on any replica, or offline) take effect here.
async fn load_stored_keys(store: &dyn DocumentStore, auth: &Authenticator, parser: &Parser) {
    match store.api_keys().await {
        Ok(records) => auth.load_stored(&records, parser),
        Err(e) => tracing::warn!(error = %e, "stored API keys not loaded yet"),
    }
}

/// A server nothing can write to says so once, with the ways to give it a credential.
fn warn_without_credentials(auth: &Authenticator, settings: &Settings) {
    if auth.has_credentials() {
        return;
    }
    let keys = match settings.redis_url() {
        Some(_) => {
            "`idr keys create --name NAME --scope admin --redis-url …` (replicas load it within 10 seconds)"
        }
        None => {
            "`idr keys create --name NAME --scope admin` with this server stopped (the embedded store is used by one \
             process at a time)"
        }
    };
    tracing::warn!(
        "no credentials: every write will be refused (401). Set IDR_ADMIN_TOKEN (a secret of your choice) and \
         restart, add [[keys]] to the configuration, or create a key with {keys}"
    );
}

/// Re-reads what other replicas (or `idr keys`) may have changed: run-time schemes, API keys and link types (also
/// heard at once on the invalidation feed; this bounds a missed message).
async fn refresh_registered(
    store: Arc<dyn DocumentStore>,
    parser: Arc<Parser>,
    auth: Arc<Authenticator>,
    vocabularies: Arc<Vocabularies>,
) {
    let mut ticks = tokio::time::interval(SCHEME_REFRESH);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        load_registered_schemes(store.as_ref(), &parser).await;
        load_stored_keys(store.as_ref(), &auth, &parser).await;
        load_registered_link_types(store.as_ref(), &vocabularies).await;
    }
}

/// Demo data is for a new store only: a store emptied later stays empty across restarts. A shared store that is
/// down at start-up is not fatal: the replica starts, answers 503 and recovers; the demo is simply not loaded.
async fn load_demo_once(
    registry: &Registry,
    vocabulary: &Arc<Vocabulary>,
    parser: &Arc<Parser>,
    codes: &Arc<AccessCodes>,
    settings: &Settings,
) -> Result<(), StartupError> {
    let first_start = match registry.coordination.claim_first_start().await {
        Ok(first) => first,
        Err(StoreError::Unavailable(e)) => {
            tracing::warn!(error = %e, "store unavailable at start-up; demo data not loaded");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let store = registry.anchors.as_ref();
    if first_start && store.is_empty().await? {
        load_demo(store, vocabulary, parser, codes, settings).await?;
    }
    Ok(())
}

/// Loads `demo/*.ndjson` from the config folder (or the shipped demo when the folder is absent).
async fn load_demo(
    store: &dyn AnchorStore,
    vocabulary: &Arc<Vocabulary>,
    parser: &Arc<Parser>,
    codes: &Arc<AccessCodes>,
    settings: &Settings,
) -> Result<(), StartupError> {
    const SHIPPED: &str = include_str!("../resolver-config/demo/demo.ndjson");
    let dir = settings.config_dir().join("demo");
    let mut files: Vec<(String, String)> = Vec::new();
    if dir.is_dir() {
        let demo_error = |reason: String| StartupError::Demo {
            file: dir.display().to_string(),
            reason,
        };
        for entry in std::fs::read_dir(&dir).map_err(|e| demo_error(e.to_string()))? {
            let path = entry.map_err(|e| demo_error(e.to_string()))?.path();
            if path.extension().is_some_and(|x| x == "ndjson") {
                let text = std::fs::read_to_string(&path).map_err(|e| demo_error(e.to_string()))?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
    } else {
        files.push(("shipped demo".into(), SHIPPED.into()));
    }
    let limits = Limits::from_settings(settings);
    for (file, text) in files {
        let report = bulk::import(
            store,
            vocabulary,
            parser,
            &limits,
            codes,
            text.as_bytes(),
            "demo data",
        )
        .await
        .map_err(|e| StartupError::Demo {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        if let Some((line, reason)) = report.rejected.first() {
            return Err(StartupError::Demo {
                file,
                reason: format!("line {line}: {reason}"),
            });
        }
        tracing::info!(file, anchors = report.imported, "demo data loaded");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_logs() {
        use crate::config::redact_url;
        assert_eq!(
            redact_url("redis://user:secret@h:6379/0"),
            "redis://user:***@h:6379/0"
        );
        assert_eq!(redact_url("rediss://:p@ss/w@h:1"), "rediss://:***@h:1");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert_eq!(
            redact_url("rediss+cluster://idr@h:1,h:2"),
            "rediss+cluster://***@h:1,h:2"
        );
        assert_eq!(
            redact_url("redis+unix:///run/r.sock?db=2&pass=s3cret&user=u"),
            "redis+unix:///run/r.sock?db=2&pass=***&user=u"
        );
    }
}
