//! Settings as plain data: embedded defaults, then an optional file, then `IDR_SECTION__KEY` environment
//! variables, then command-line flags.

use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The defaults shipped in `resolver-config/default.toml`, compiled in so the binary starts anywhere.
pub const DEFAULT_TOML: &str = include_str!("../resolver-config/default.toml");

/// Every error about a setting reads `configuration: {key}: {value} ({where it was set}): {what is expected}`; the
/// value and its source are filled in by `Layers::locate` when the key is a setting (other checks, such as a
/// scheme file's fields, name their own file and field).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file that is missing or is not TOML (the parser's message gives the line and column).
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {field}{}: {reason}", value.as_ref().map(|v| format!(": {v}")).unwrap_or_default())]
    Invalid {
        field: String,
        /// The value as given, and where: `"-1" (IDR_SERVER__WORKERS)`.
        value: Option<String>,
        reason: String,
    },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    pub resolver: ResolverSettings,
    pub store: StoreSettings,
    pub cache: CacheSettings,
    pub did_web: DidWebSettings,
    pub outbound: OutboundSettings,
    #[serde(default)]
    pub keys: Vec<KeySettings>,
    #[serde(default)]
    pub delegations: Vec<DelegationSettings>,
    pub did_auth: DidAuthSettings,
    pub audit: AuditSettings,
    /// How linksets spell relations that several vocabularies name.
    #[serde(default)]
    pub linktypes: LinkTypeSettings,
    /// Issuers that sign their requests with a key from their did:web DID document (see `auth::did`).
    #[serde(default)]
    pub did_writers: Vec<DidWriterSettings>,
    /// Registers whose Digital Identity Anchor credentials let a DID-signed request write without being listed in
    /// `did_writers` (see `auth::dia`).
    #[serde(default)]
    pub trust_anchors: Vec<TrustAnchorSettings>,
    pub dia: DiaSettings,
    /// Checking what credential links point to (`crate::verification`).
    pub verification: VerificationSettings,
    /// The issuer console in the browser (`/console`, `http::console`).
    pub console: ConsoleSettings,
    /// From `IDR_ADMIN_TOKEN` only; never read from a file.
    #[serde(skip)]
    pub admin_token: Option<String>,
    /// The program run as the Data Integrity verifier (`verification::check::verifier`); none: this executable. Not
    /// a setting (never read from a file or the environment): a program embedding idr, such as the in-process test
    /// harness, names the `idr` binary here.
    #[serde(skip)]
    pub verifier_program: Option<std::path::PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// A second listener for operators (`/metrics`, readiness detail); empty: none, and both stay on `listen`.
    #[serde(default)]
    pub admin_listen: String,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub shutdown_drain_ms: u64,
    pub shutdown_timeout_seconds: u64,
    pub management_cors_origins: Vec<String>,
    /// Proxies (addresses or CIDRs) whose `X-Forwarded-For` names the client, for limits per client address.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub max_uri_bytes: usize,
    pub max_header_bytes: usize,
    pub max_path_segments: usize,
    pub max_json_depth: usize,
    /// Bytes of one bulk write (`POST /api/v1/anchors`, NDJSON); `413` beyond, after the lines within it.
    pub max_import_bytes: u64,
    pub max_links_per_anchor: usize,
    pub max_text_bytes: usize,
    pub max_url_bytes: usize,
    pub management_requests_per_second: f64,
    pub management_burst: f64,
    pub convert_requests_per_second: f64,
    pub convert_burst: f64,
    pub max_concurrent_resolutions: usize,
    /// Terms in one vocabulary registered through `/api/v1/linktypes` (`413` beyond).
    pub max_link_type_terms: usize,
    /// Vocabularies registered through `/api/v1/linktypes`, all issuers together (`409` beyond).
    pub max_link_type_vocabularies: usize,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverSettings {
    pub resolver_root: String,
    pub name: String,
    pub legacy_gtin: bool,
    pub convenience_alphas: bool,
    pub config_dir: PathBuf,
    pub load_demo: bool,
    /// `Cache-Control: public, max-age=N` on redirects and linksets (linksets then carry an `ETag` and answer
    /// `304`); 0: `no-store`, nothing cached.
    pub cache_max_age_seconds: u32,
}

/// `Debug` hides the Redis URL's password and the password settings (see `redact_url`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    pub data_dir: PathBuf,
    pub embedded_cache_bytes: usize,
    pub embedded_quick_repair: bool,
    pub redis_url: String,
    pub redis_key_prefix: String,
    pub redis_timeout_ms: u64,
    pub redis_wait_replicas: u32,
    pub redis_wait_timeout_ms: u64,
    /// ACL user and password for the data nodes, when not in the URL (`registry::redis::target` checks that each
    /// is given in one place only). Empty: none.
    pub redis_username: String,
    pub redis_password: String,
    pub redis_password_file: PathBuf,
    /// Sentinels' own credentials (`requirepass` / an ACL user on the sentinels); empty: none.
    pub redis_sentinel_username: String,
    pub redis_sentinel_password: String,
    /// `rediss://`: a PEM bundle of CAs trusted instead of the system roots, and a client certificate and key.
    pub redis_ca_file: PathBuf,
    pub redis_client_cert_file: PathBuf,
    pub redis_client_key_file: PathBuf,
}

impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &str| if s.is_empty() { "" } else { "***" };
        f.debug_struct("StoreSettings")
            .field("data_dir", &self.data_dir)
            .field("embedded_cache_bytes", &self.embedded_cache_bytes)
            .field("embedded_quick_repair", &self.embedded_quick_repair)
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .field("redis_wait_replicas", &self.redis_wait_replicas)
            .field("redis_wait_timeout_ms", &self.redis_wait_timeout_ms)
            .field("redis_username", &self.redis_username)
            .field("redis_password", &hidden(&self.redis_password))
            .field("redis_password_file", &self.redis_password_file)
            .field("redis_sentinel_username", &self.redis_sentinel_username)
            .field(
                "redis_sentinel_password",
                &hidden(&self.redis_sentinel_password),
            )
            .field("redis_ca_file", &self.redis_ca_file)
            .field("redis_client_cert_file", &self.redis_client_cert_file)
            .field("redis_client_key_file", &self.redis_client_key_file)
            .finish()
    }
}

/// A Redis URL with the password of its `user:password@` part, or of a socket URL's `pass=` parameter, replaced by
/// `***`, for logs and messages.
pub fn redact_url(url: &str) -> String {
    let socket = url.starts_with("redis+unix://") || url.starts_with("unix://");
    if let Some((path, query)) = url.split_once('?').filter(|_| socket) {
        let params: Vec<&str> = query
            .split('&')
            .map(|p| {
                if p.starts_with("pass=") {
                    "pass=***"
                } else {
                    p
                }
            })
            .collect();
        return format!("{}?{}", redact_url(path), params.join("&"));
    }
    let Some(scheme) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme + 3..];
    // The userinfo ends at the last '@' before the path (a password may itself contain '@' or '/').
    let Some(at) = rest.rfind('@') else {
        return without_query(url, scheme + 3);
    };
    let userinfo = &rest[..at];
    // Userinfo without a colon is a user name to Redis, but may be a password written without its colon: hidden
    // whole, without claiming a password is there.
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{}://{user}:***", &url[..scheme]),
        None => format!("{}://***", &url[..scheme]),
    };
    let from = shown.len();
    without_query(&format!("{shown}{}", &rest[at..]), from)
}

/// A URL's query may carry a password too (`?password=…`, which idr refuses, but names in the error): shown as `?…`.
fn without_query(url: &str, from: usize) -> String {
    match url[from..].find('?') {
        Some(q) => format!("{}?…", &url[..from + q]),
        None => url.to_string(),
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    pub max_bytes: u64,
    pub ttl_seconds: u64,
    pub negative_ttl_ms: u64,
}

/// `[linktypes]`: which spelling linksets show for a relation several vocabularies name (`gs1:dpp` and `untp:dpp`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkTypeSettings {
    /// `registered` (each link as registered), or a vocabulary prefix (`gs1`, `untp`) whose spelling wins when the
    /// relation has one; checked against the loaded vocabularies at start-up.
    pub emit: String,
}

impl Default for LinkTypeSettings {
    fn default() -> Self {
        LinkTypeSettings {
            emit: "registered".into(),
        }
    }
}

/// How long the audit trail is kept (see `registry::retention`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Entries older than this many days are removed by a background trim; 0 keeps them for good.
    pub retain_days: u64,
}

impl AuditSettings {
    /// How long entries are kept, when they are not kept for good.
    pub fn retention(&self) -> Option<std::time::Duration> {
        (self.retain_days > 0)
            .then(|| std::time::Duration::from_secs(self.retain_days.saturating_mul(86_400)))
    }
}

/// Resolution of `GET /did:web:…` (see `did::resolver`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidWebSettings {
    pub enabled: bool,
    /// Connect and total time allowed for fetching one DID document.
    pub timeout_ms: u64,
    pub max_document_bytes: usize,
    /// Bounds on how long a fetched document is reused, whatever its `Cache-Control` says.
    pub min_cache_seconds: u64,
    pub max_cache_seconds: u64,
    /// How long a failed fetch is remembered.
    pub failure_cache_seconds: u64,
    /// Memory for cached DID documents, counted in document bytes.
    pub cache_bytes: u64,
    /// Deprecated: the former place of `outbound.extra_ca_file`, still read (see `Settings::validate`).
    pub extra_ca_file: PathBuf,
}

/// Every fetch idr makes (see `outbound`): which addresses it may reach, and how often per host.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundSettings {
    /// Loopback, private (RFC 1918), CGNAT, unique-local and other non-public addresses (not link-local).
    pub allow_private_addresses: bool,
    /// Host names (`did.corp.example`, `*.corp.example`), IP addresses and CIDR blocks fetches may reach even
    /// though they are not public.
    pub allow: Vec<String>,
    /// Per host: fetches a second (token bucket refill) and the most at once (bucket size).
    pub per_host_requests_per_second: f64,
    pub per_host_burst: f64,
    /// Fetches in flight at once, all hosts together; more are refused at once.
    pub max_concurrent_fetches: usize,
    /// How long a host that could not be reached fails fast, for any URL on it.
    pub failure_cache_seconds: u64,
    /// PEM bundle of extra CA certificates trusted besides the system roots; empty for none.
    pub extra_ca_file: PathBuf,
    /// The setting `extra_ca_file` came from, for error messages (`did_web.extra_ca_file` is its old name).
    #[serde(skip)]
    pub extra_ca_from_did_web: bool,
}

impl OutboundSettings {
    /// The address policy of `allow_private_addresses` and `allow`; a bad entry names `outbound.allow[i]`.
    pub fn policy(&self) -> Result<crate::outbound::address::AddressPolicy, ConfigError> {
        crate::outbound::address::AddressPolicy::new(self.allow_private_addresses, &self.allow)
            .map_err(|(i, reason)| invalid(format!("outbound.allow[{i}]"), reason))
    }

    pub fn extra_ca_field(&self) -> &'static str {
        if self.extra_ca_from_did_web {
            "did_web.extra_ca_file"
        } else {
            "outbound.extra_ca_file"
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.policy()?;
        let rate = self.per_host_requests_per_second;
        // At least one fetch a day: a smaller rate would make the wait for the next token overflow a `Duration`.
        if !(rate.is_finite() && rate >= 1.0 / 86_400.0) {
            return Err(invalid(
                "outbound.per_host_requests_per_second",
                "must be a number of at least 1/86400 (one fetch a day)",
            ));
        }
        if !(self.per_host_burst.is_finite() && self.per_host_burst >= 1.0) {
            return Err(invalid("outbound.per_host_burst", "must be at least 1"));
        }
        if self.max_concurrent_fetches == 0 {
            return Err(invalid(
                "outbound.max_concurrent_fetches",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}

impl DidWebSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout_ms == 0 {
            return Err(invalid("did_web.timeout_ms", "must be greater than 0"));
        }
        if self.max_document_bytes == 0 {
            return Err(invalid(
                "did_web.max_document_bytes",
                "must be greater than 0",
            ));
        }
        if self.min_cache_seconds > self.max_cache_seconds {
            return Err(invalid(
                "did_web.min_cache_seconds",
                "must not be greater than did_web.max_cache_seconds",
            ));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySettings {
    pub name: String,
    pub sha256: String,
    pub scopes: Vec<String>,
}

impl ServerSettings {
    /// The operators' listener, when one is configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_listen.trim().parse().ok()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let admin = self.admin_listen.trim();
        if admin.is_empty() {
            return Ok(());
        }
        let addr: SocketAddr = admin.parse().map_err(|_| {
            invalid(
                "server.admin_listen",
                "expected host:port with an IP address, such as 127.0.0.1:9091 (empty: no admin listener)",
            )
        })?;
        if addr == self.listen && addr.port() != 0 {
            return Err(invalid(
                "server.admin_listen",
                "must differ from server.listen",
            ));
        }
        Ok(())
    }
}

/// Limits on DID-signed request tokens (see `auth::did`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidAuthSettings {
    /// Longest lifetime (`exp` - `iat`) a token may declare; its `jti` is remembered that long.
    pub max_token_seconds: u64,
    /// Clock difference tolerated between the issuer and this resolver.
    pub clock_skew_seconds: u64,
}

impl DidAuthSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        // A long-lived token is a bearer secret in all but name: keep the window short.
        if !(1..=3600).contains(&self.max_token_seconds) {
            return Err(invalid("did_auth.max_token_seconds", "must be 1-3600"));
        }
        if self.clock_skew_seconds > 300 {
            return Err(invalid("did_auth.clock_skew_seconds", "must be 0-300"));
        }
        Ok(())
    }
}

/// A did:web DID allowed to write, and the identifiers it may write.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DidWriterSettings {
    pub did: String,
    pub scopes: Vec<String>,
}

/// An authoritative register (an issuer of Digital Identity Anchor credentials) and what it is trusted for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustAnchorSettings {
    /// The register's did:web DID: the `issuer` of the DIAs it signs.
    pub did: String,
    /// Scopes (the syntax of key scopes: `01/0952012*`, `abr/*`, `01/09520123456788`) within which the register's
    /// DIAs make their subject the owner of the registered identifier. Empty: its DIAs only carry contributor roles.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// How a DIA's `registeredId` becomes an identifier here: a template with `{registeredId}` (which must then be
    /// letters, digits, `.`, `_` or `-`), e.g. `abr/abn/{registeredId}` or `01/0{registeredId}*` (a company prefix).
    /// Empty: the `registeredId` is itself an identifier path (`01/09520123456788`).
    #[serde(default)]
    pub identifier: String,
    /// Roles (`registrationScopeList` entries) that make a DIA's subject a lifecycle contributor.
    #[serde(default)]
    pub contributors: Vec<ContributorSettings>,
}

/// A lifecycle contributor role: a DIA listing `scope` in its `registrationScopeList` may add links of `link_types`
/// to anchors within `namespaces`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContributorSettings {
    pub scope: String,
    pub link_types: Vec<String>,
    #[serde(default = "everywhere")]
    pub namespaces: Vec<String>,
}

fn everywhere() -> Vec<String> {
    vec!["*".into()]
}

/// What the resolver does with the verdicts of verified links (`verification.mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationMode {
    /// Nothing is fetched or checked.
    Off,
    /// Targets are checked and the verdicts shown (API, linksets, HTML view, metrics); scans are unchanged.
    #[default]
    Report,
    /// As `report`, and a target that failed is never chosen as a redirect target or default link.
    Enforce,
}

/// Verified links: the credentials that links of credential link types point to, fetched and checked.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationSettings {
    pub mode: VerificationMode,
    /// Every verdict is checked again after this many hours (0: only after writes and on demand).
    pub recheck_hours: u64,
    /// Targets fetched and checked at once, all hosts together (one at a time per host).
    pub concurrency: usize,
    /// Time allowed to fetch one target.
    pub timeout_ms: u64,
    /// Largest credential fetched.
    pub max_credential_bytes: usize,
    /// Whether Data Integrity proofs are verified (enveloped `vc+jwt` always is), each in a verifier process bounded
    /// in processor time and memory (`verification::check::verifier`; docs/security.md).
    #[serde(default = "data_integrity_default")]
    pub data_integrity: bool,
    /// Per link type: the only issuers whose credentials verify for it.
    #[serde(default)]
    pub trust: Vec<VerificationTrustSettings>,
}

/// The issuer console (`/console`): the operator's switch and the life of a session.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// `false`: every `/console` path answers `404`, as if there were no console.
    pub enabled: bool,
    /// How long a session lasts after sign-in (the cookie's `Max-Age` and the stored session's lifetime).
    pub session_minutes: u64,
}

impl ConsoleSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=7 * 24 * 60).contains(&self.session_minutes) {
            return Err(invalid("console.session_minutes", "must be 1-10080"));
        }
        Ok(())
    }

    /// The lifetime of a session.
    pub fn session_lifetime(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.session_minutes.saturating_mul(60))
    }
}

/// Issuers trusted for one link type (e.g. conformity credentials only from listed accredited bodies).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerificationTrustSettings {
    /// As spelled in a vocabulary (`untp:dcc`); checked at start-up.
    pub link_type: String,
    /// Issuer DIDs (`did:web:…`, `did:key:…`).
    pub issuers: Vec<String>,
}

fn data_integrity_default() -> bool {
    true
}

impl VerificationSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.recheck_hours > 24 * 365 {
            return Err(invalid("verification.recheck_hours", "must be 0-8760"));
        }
        if !(1..=256).contains(&self.concurrency) {
            return Err(invalid("verification.concurrency", "must be 1-256"));
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err(invalid("verification.timeout_ms", "must be 1-60000"));
        }
        if self.max_credential_bytes == 0 || self.max_credential_bytes > 16 * 1024 * 1024 {
            return Err(invalid(
                "verification.max_credential_bytes",
                "must be 1-16777216",
            ));
        }
        for (i, t) in self.trust.iter().enumerate() {
            if t.link_type.trim().is_empty() {
                return Err(invalid(
                    format!("verification.trust[{i}].link_type"),
                    "must name a link type",
                ));
            }
            if let Some(j) = t.issuers.iter().position(|d| !d.starts_with("did:")) {
                return Err(invalid(
                    format!("verification.trust[{i}].issuers[{j}]"),
                    "must be a DID (did:web:… or did:key:…)",
                ));
            }
        }
        Ok(())
    }
}

/// How Digital Identity Anchor credentials are checked.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiaSettings {
    /// Longest a fetched status list is believed: a revocation takes effect within this many seconds.
    pub status_list_cache_seconds: u64,
    /// Memory for cached status lists (decoded bits plus URL).
    pub status_list_cache_bytes: u64,
    /// Largest status list credential fetched.
    pub max_status_list_bytes: usize,
    pub timeout_ms: u64,
}

impl DiaSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=86_400).contains(&self.status_list_cache_seconds) {
            return Err(invalid("dia.status_list_cache_seconds", "must be 1-86400"));
        }
        if self.max_status_list_bytes == 0 || self.max_status_list_bytes > 16 * 1024 * 1024 {
            return Err(invalid("dia.max_status_list_bytes", "must be 1-16777216"));
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err(invalid("dia.timeout_ms", "must be 1-60000"));
        }
        Ok(())
    }
}

/// Identifiers held by another resolver: scans for them that match nothing here are redirected there.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegationSettings {
    /// A path pattern such as `01/0952099*` (see `identifier::pattern`).
    pub identifiers: String,
    /// The other resolver's root, e.g. `https://resolver.brand.example`.
    pub resolver: String,
}

/// Values given on the command line; `None` leaves the lower layers in force.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub resolver_root: Option<String>,
    pub redis_url: Option<String>,
    pub no_demo: bool,
}

impl Settings {
    pub fn load(overrides: &Overrides) -> Result<Settings, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_with_env(overrides, &env)
    }

    /// Like `load`, with the environment passed in (tests must not mutate the process environment).
    pub fn load_with_env(
        overrides: &Overrides,
        env: &HashMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        use config::{Config, Environment, File, FileFormat};
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml));
        if let Some(path) = &overrides.config_file {
            builder = builder.add_source(File::from(path.as_path()).required(true));
        }
        builder = builder.add_source(
            Environment::with_prefix("IDR")
                .prefix_separator("_")
                .separator("__")
                .source(Some(section_variables(env))),
        );
        builder = set(builder, "server.listen", overrides.listen.clone())?;
        builder = set(
            builder,
            "resolver.resolver_root",
            overrides.resolver_root.clone(),
        )?;
        // IDR_REDIS_URL is the documented short form of IDR_STORE__REDIS_URL; the flag beats both.
        let redis_url = overrides
            .redis_url
            .clone()
            .or_else(|| env.get("IDR_REDIS_URL").filter(|u| !u.is_empty()).cloned());
        builder = set(builder, "store.redis_url", redis_url)?;
        // A list in one variable: comma-separated (the environment source reads every value as one string).
        for (variable, key) in LIST_VARIABLES {
            if let Some(list) = env.get(*variable) {
                let entries: Vec<&str> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .collect();
                builder = builder.set_override(*key, entries)?;
            }
        }
        let data_dir = overrides.data_dir.as_ref().map(|p| p.display().to_string());
        builder = set(builder, "store.data_dir", data_dir)?;
        if overrides.no_demo {
            builder = builder.set_override("resolver.load_demo", false)?;
        }
        let config = builder.build()?;
        let layers = Layers {
            config: &config,
            overrides,
            env,
        };
        let mut settings: Settings = config
            .clone()
            .try_deserialize()
            .map_err(|e| layers.locate(layers.describe(e)))?;
        settings.admin_token = env
            .get("IDR_ADMIN_TOKEN")
            .filter(|t| !t.is_empty())
            .cloned();
        settings.validate().map_err(|e| layers.locate(e))?;
        Ok(settings)
    }

    fn validate(&mut self) -> Result<(), ConfigError> {
        let root = self
            .resolver
            .resolver_root
            .trim()
            .trim_end_matches('/')
            .to_string();
        if !root.is_empty() {
            check_origin("resolver.resolver_root", &root)?;
        }
        self.resolver.resolver_root = root;
        self.check_cache_max_age()?;
        for (i, key) in self.keys.iter().enumerate() {
            let hex_ok =
                key.sha256.len() == 64 && key.sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex_ok {
                return Err(invalid(
                    format!("keys[{i}].sha256"),
                    "must be the 64-character hex SHA-256 of the key's secret",
                ));
            }
            if key.scopes.is_empty() {
                return Err(invalid(
                    format!("keys[{i}].scopes"),
                    "must list at least one scope",
                ));
            }
        }
        self.validate_did_writers()?;
        self.validate_trust_anchors()?;
        self.dia.validate()?;
        self.verification.validate()?;
        self.console.validate()?;
        for (i, d) in self.delegations.iter_mut().enumerate() {
            d.resolver = d.resolver.trim().trim_end_matches('/').to_string();
            check_origin(&format!("delegations[{i}].resolver"), &d.resolver)?;
            if d.identifiers.trim().is_empty() {
                return Err(invalid(
                    format!("delegations[{i}].identifiers"),
                    "must not be empty",
                ));
            }
        }
        let prefix_ok = !self.store.redis_key_prefix.is_empty()
            && self
                .store
                .redis_key_prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if !prefix_ok {
            return Err(invalid(
                "store.redis_key_prefix",
                "letters, digits, '_', '-' or '.' only",
            ));
        }
        if self.store.redis_wait_replicas > 0 && self.store.redis_wait_timeout_ms == 0 {
            // WAIT with a timeout of 0 blocks until the replicas answer, however long that takes.
            return Err(invalid(
                "store.redis_wait_timeout_ms",
                "must be greater than 0 when redis_wait_replicas is set",
            ));
        }
        if self.store.redis_timeout_ms == 0 {
            return Err(invalid("store.redis_timeout_ms", "must be greater than 0"));
        }
        self.server.validate()?;
        if self.limits.max_import_bytes == 0 {
            return Err(invalid("limits.max_import_bytes", "must be greater than 0"));
        }
        if self.server.max_body_bytes == 0 {
            return Err(invalid("server.max_body_bytes", "must be greater than 0"));
        }
        self.did_auth.validate()?;
        self.did_web.validate()?;
        self.merge_extra_ca()?;
        self.outbound.validate()
    }

    /// `did_web.extra_ca_file` is the old name of `outbound.extra_ca_file` (the CA file serves every fetch now);
    /// it still works alone, and contradicting the new one is an error.
    fn merge_extra_ca(&mut self) -> Result<(), ConfigError> {
        let old = std::mem::take(&mut self.did_web.extra_ca_file);
        if old.as_os_str().is_empty() {
            return Ok(());
        }
        let new = &self.outbound.extra_ca_file;
        if !new.as_os_str().is_empty() && *new != old {
            return Err(invalid(
                "did_web.extra_ca_file",
                "is the old name of outbound.extra_ca_file, which is set to another file; keep only outbound.extra_ca_file",
            ));
        }
        self.outbound.extra_ca_file = old;
        self.outbound.extra_ca_from_did_web = true;
        Ok(())
    }

    /// DID syntax and non-empty scopes here; the scopes themselves are parsed with the identifier schemes in `auth`.
    fn validate_did_writers(&self) -> Result<(), ConfigError> {
        for (i, writer) in self.did_writers.iter().enumerate() {
            crate::identifier::did_web::DidWeb::parse(&writer.did)
                .map_err(|e| invalid(format!("did_writers[{i}].did"), e.to_string()))?;
            if self.did_writers[..i].iter().any(|w| w.did == writer.did) {
                return Err(invalid(
                    format!("did_writers[{i}].did"),
                    format!("{} is listed twice", writer.did),
                ));
            }
            if writer.scopes.is_empty() {
                return Err(invalid(
                    format!("did_writers[{i}].scopes"),
                    "must list at least one scope",
                ));
            }
        }
        Ok(())
    }

    /// DID syntax, templates and non-empty lists here; scopes are parsed with the identifier schemes in `auth`, link
    /// types with the vocabularies at start-up.
    fn validate_trust_anchors(&self) -> Result<(), ConfigError> {
        for (i, anchor) in self.trust_anchors.iter().enumerate() {
            let at = |field: &str| format!("trust_anchors[{i}].{field}");
            crate::identifier::did_web::DidWeb::parse(&anchor.did)
                .map_err(|e| invalid(at("did"), e.to_string()))?;
            if self.trust_anchors[..i].iter().any(|a| a.did == anchor.did) {
                return Err(invalid(
                    at("did"),
                    format!("{} is listed twice", anchor.did),
                ));
            }
            if !anchor.identifier.is_empty()
                && anchor.identifier.matches("{registeredId}").count() != 1
            {
                return Err(invalid(
                    at("identifier"),
                    "must contain {registeredId} once, e.g. abr/abn/{registeredId}",
                ));
            }
            if anchor.namespaces.is_empty() && anchor.contributors.is_empty() {
                return Err(invalid(
                    at("namespaces"),
                    "list at least one namespace, or a contributor role",
                ));
            }
            for (j, c) in anchor.contributors.iter().enumerate() {
                if c.scope.trim().is_empty() {
                    return Err(invalid(
                        at(&format!("contributors[{j}].scope")),
                        "must not be empty",
                    ));
                }
                if c.link_types.is_empty() {
                    return Err(invalid(
                        at(&format!("contributors[{j}].link_types")),
                        "must list at least one link type",
                    ));
                }
                if c.namespaces.is_empty() {
                    return Err(invalid(
                        at(&format!("contributors[{j}].namespaces")),
                        "must list at least one namespace (\"*\": any identifier)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The Redis URL, when Redis is the store.
    pub fn redis_url(&self) -> Option<&str> {
        Some(self.store.redis_url.trim()).filter(|u| !u.is_empty())
    }

    /// Shared caches key answers on the URL, never on `X-Forwarded-Host`/`-Proto`: an origin taken from those headers
    /// would let one client's headers decide the `Link` and anchors every later client is served.
    fn check_cache_max_age(&self) -> Result<(), ConfigError> {
        let max_age = self.resolver.cache_max_age_seconds;
        if max_age > MAX_CACHE_AGE_SECONDS {
            return Err(invalid(
                "resolver.cache_max_age_seconds",
                format!("must be at most {MAX_CACHE_AGE_SECONDS} (one year)"),
            ));
        }
        if max_age > 0 && self.fixed_root().is_none() {
            return Err(invalid(
                "resolver.cache_max_age_seconds",
                "needs resolver.resolver_root: a cached answer must not take its origin from the \
                 X-Forwarded-Host / Host headers of whichever request filled the cache",
            ));
        }
        Ok(())
    }

    /// The configured public origin, if any (no trailing slash).
    pub fn fixed_root(&self) -> Option<&str> {
        Some(self.resolver.resolver_root.as_str()).filter(|r| !r.is_empty())
    }

    pub fn config_dir(&self) -> &Path {
        &self.resolver.config_dir
    }
}

fn set(
    builder: config::ConfigBuilder<config::builder::DefaultState>,
    key: &str,
    value: Option<String>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, ConfigError> {
    Ok(match value {
        Some(v) => builder.set_override(key, v)?,
        None => builder,
    })
}

/// `outbound.allow` from the environment, comma-separated.
const OUTBOUND_ALLOW: &str = "IDR_OUTBOUND__ALLOW";
const TRUSTED_PROXIES: &str = "IDR_SERVER__TRUSTED_PROXIES";
/// Settings that are lists, set from one comma-separated environment variable each.
const LIST_VARIABLES: &[(&str, &str)] = &[
    (OUTBOUND_ALLOW, "outbound.allow"),
    (TRUSTED_PROXIES, "server.trusted_proxies"),
];

/// Only `IDR_SECTION__KEY` variables are configuration; other `IDR_*` names (the admin token, test helpers)
/// must not trip the unknown-field check.
fn section_variables(env: &HashMap<String, String>) -> HashMap<String, String> {
    env.iter()
        .filter(|(k, _)| {
            k.starts_with("IDR_") && k.contains("__") && !LIST_VARIABLES.iter().any(|(v, _)| v == k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// One year, the longest lifetime RFC 9111 caches are expected to honour in practice.
const MAX_CACHE_AGE_SECONDS: u32 = 31_536_000;

fn check_origin(field: &str, root: &str) -> Result<(), ConfigError> {
    let parsed =
        url::Url::parse(root).map_err(|e| invalid(field, format!("not an absolute URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(
            field,
            "must be an http(s) origin such as https://id.example.com",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid(field, "must not have a query or fragment"));
    }
    Ok(())
}

impl ConfigError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        invalid(field, reason)
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        value: None,
        reason: reason.into(),
    }
}

/// The layers a configuration was built from, to say of a setting what value it has and where that was set.
struct Layers<'a> {
    config: &'a config::Config,
    overrides: &'a Overrides,
    env: &'a HashMap<String, String>,
}

impl Layers<'_> {
    /// The `config` crate's error for a setting as `Invalid`: the key, and the expected form in words a person
    /// editing a file or an environment variable can act on. Errors without a key stay as they are.
    fn describe(&self, error: config::ConfigError) -> ConfigError {
        use config::ConfigError as E;
        let (key, message, expected) = match error {
            E::Type {
                key: Some(key),
                expected,
                ..
            } => (key, String::new(), Some(expected.to_string())),
            E::At {
                error,
                key: Some(key),
                ..
            } => {
                let message = error.to_string();
                // serde's own wording: "invalid type: string \"x\", expected a sequence".
                let expected = message
                    .strip_prefix("invalid ")
                    .and_then(|m| m.split_once(", expected "))
                    .map(|(_, e)| e.to_string());
                (key, message, expected)
            }
            E::NotFound(key) => {
                // The crate writes an array element's field without its dot: `keys[0]sha256`.
                let key = key
                    .replace("]", "].")
                    .replace("].[", "][")
                    .replace("].]", "]]");
                let key = key.trim_end_matches('.').to_string();
                return invalid(key, "missing: this setting is required here");
            }
            E::Message(message) if unknown_field(&message).is_some() => {
                (String::new(), message, None)
            }
            other => return ConfigError::Load(other),
        };
        if let Some((field, allowed)) = unknown_field(&message) {
            let field = if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            };
            return invalid(
                field,
                format!(
                    "not a setting; expected one of {}",
                    allowed.replace('`', "")
                ),
            );
        }
        let reason = match expected_form(&key, expected.as_deref()) {
            Some(form) => format!("expected {form}"),
            None => message,
        };
        invalid(key, reason)
    }

    /// Fills in the value of a setting named in `error`, and the layer it came from.
    fn locate(&self, error: ConfigError) -> ConfigError {
        let ConfigError::Invalid {
            field,
            value: None,
            reason,
        } = error
        else {
            return error;
        };
        let value = self.config.get::<config::Value>(&field).ok().map(|v| {
            let shown = shown(&field, &v);
            match self.source(&field) {
                Some(source) => format!("{shown} ({source})"),
                None => shown,
            }
        });
        ConfigError::Invalid {
            field,
            value,
            reason,
        }
    }

    /// The flag, environment variable or file a setting's value came from; `None` for the shipped defaults.
    fn source(&self, key: &str) -> Option<String> {
        let o = self.overrides;
        let flag = match key {
            "server.listen" => o.listen.as_ref().map(|_| "--listen"),
            "store.data_dir" => o.data_dir.as_ref().map(|_| "--data-dir"),
            "resolver.resolver_root" => o.resolver_root.as_ref().map(|_| "--resolver-root"),
            "resolver.load_demo" => o.no_demo.then_some("--no-demo"),
            "store.redis_url" if o.redis_url.is_some() => Some("--redis-url"),
            "store.redis_url" => self
                .env
                .get("IDR_REDIS_URL")
                .filter(|u| !u.is_empty())
                .map(|_| "IDR_REDIS_URL"),
            k => LIST_VARIABLES
                .iter()
                .find(|(variable, list)| {
                    (k == *list || k.strip_prefix(*list).is_some_and(|r| r.starts_with('[')))
                        && self.env.contains_key(*variable)
                })
                .map(|(variable, _)| *variable),
        };
        if let Some(flag) = flag {
            return Some(flag.to_string());
        }
        let variable = format!("IDR_{}", key.replace('.', "__")).to_uppercase();
        if let Some(name) = self.env.keys().find(|name| name.to_uppercase() == variable) {
            return Some(name.clone());
        }
        // Read again on its own (an error path only): the merged configuration does not keep each value's origin.
        let file = o.config_file.as_ref()?;
        config::Config::builder()
            .add_source(config::File::from(file.as_path()))
            .build()
            .ok()?
            .get::<config::Value>(key)
            .ok()
            .map(|_| file.display().to_string())
    }
}

/// `unknown field `foo`, expected one of `a`, `b`` → (`foo`, "`a`, `b`").
fn unknown_field(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let allowed = rest
        .split_once("expected one of ")
        .or_else(|| rest.split_once("expected "))
        .map_or("", |(_, a)| a);
    let allowed = allowed.split(" for key `").next().unwrap_or(allowed);
    Some((field, allowed))
}

/// What a setting must look like, in the words of the file and the environment rather than of Rust's types. Every
/// integer setting is unsigned.
fn expected_form(key: &str, serde_expected: Option<&str>) -> Option<String> {
    let leaf = key.rsplit('.').next().unwrap_or(key);
    let by_key = match leaf {
        "listen" | "admin_listen" => Some(
            "host:port with an IP address, such as 127.0.0.1:8080 or [::]:8080 (not a host name such as localhost)",
        ),
        "format" if key == "log.format" => Some("text or json"),
        _ => None,
    };
    if let Some(form) = by_key {
        return Some(form.into());
    }
    let expected = serde_expected?;
    Some(
        if expected.contains("integer") {
            "a whole number, 0 or more"
        } else if expected.contains("float") {
            "a number, such as 2.5"
        } else if expected.contains("boolean") {
            "true or false"
        } else if expected.contains("sequence") || expected.contains("array") {
            "a list, such as [\"a\", \"b\"] in TOML"
        } else if expected.contains("map") || expected.starts_with("struct ") {
            "a table"
        } else {
            expected
        }
        .into(),
    )
}

/// A setting's value for a message: quoted when a string, secrets hidden, long tables cut.
fn shown(key: &str, value: &config::Value) -> String {
    let text = match &value.kind {
        config::ValueKind::String(s) => s.clone(),
        config::ValueKind::Table(_) => return "a table".into(),
        other => other.to_string(),
    };
    let text = if key.contains("password") {
        "***".to_string()
    } else if key.ends_with("redis_url") {
        redact_url(&text)
    } else {
        text
    };
    let cut: String = text.chars().take(120).collect();
    let cut = if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    };
    match value.kind {
        config::ValueKind::String(_) => format!("{cut:?}"),
        _ => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_console_is_on_by_default_and_its_sessions_are_bounded() {
        let s = Settings::load_with_env(&Overrides::default(), &env(&[])).unwrap();
        assert!(s.console.enabled);
        assert_eq!(
            s.console.session_lifetime(),
            std::time::Duration::from_secs(3600)
        );
        let off = env(&[
            ("IDR_CONSOLE__ENABLED", "false"),
            ("IDR_CONSOLE__SESSION_MINUTES", "5"),
        ]);
        let s = Settings::load_with_env(&Overrides::default(), &off).unwrap();
        assert!(!s.console.enabled);
        assert_eq!(
            s.console.session_lifetime(),
            std::time::Duration::from_secs(300)
        );
        for bad in ["0", "10081"] {
            let err = Settings::load_with_env(
                &Overrides::default(),
                &env(&[("IDR_CONSOLE__SESSION_MINUTES", bad)]),
            )
            .err()
            .unwrap()
            .to_string();
            assert!(err.contains("console.session_minutes"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_admin_listener_is_off_unless_set_and_must_be_an_address() {
        let s = Settings::load_with_env(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(s.server.admin_addr(), None);
        let s = Settings::load_with_env(
            &Overrides::default(),
            &env(&[("IDR_SERVER__ADMIN_LISTEN", "127.0.0.1:9091")]),
        )
        .unwrap();
        assert_eq!(
            s.server.admin_addr(),
            Some("127.0.0.1:9091".parse().unwrap())
        );
        for bad in ["localhost", "127.0.0.1", "127.0.0.1:8080"] {
            let err = Settings::load_with_env(
                &Overrides::default(),
                &env(&[("IDR_SERVER__ADMIN_LISTEN", bad)]),
            )
            .unwrap_err();
            assert!(
                err.to_string().contains("server.admin_listen"),
                "{bad}: {err}"
            );
        }
    }

    /// Every kind of error about a setting, from each layer, reads `key: value (source): expected form`.
    #[test]
    fn config_errors_name_the_key_the_value_its_source_and_the_form_expected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("idr.toml");
        let shown = file.display().to_string();
        let from_file = |toml: &str| {
            std::fs::write(&file, toml).unwrap();
            let overrides = Overrides {
                config_file: Some(file.clone()),
                ..Default::default()
            };
            Settings::load_with_env(&overrides, &env(&[]))
                .unwrap_err()
                .to_string()
        };
        let from_env = |name: &str, value: &str| {
            Settings::load_with_env(&Overrides::default(), &env(&[(name, value)]))
                .unwrap_err()
                .to_string()
        };
        let cases = [
            (
                from_env("IDR_SERVER__WORKERS", "-1"),
                "configuration: server.workers: \"-1\" (IDR_SERVER__WORKERS): expected a whole number, 0 or more".to_string(),
            ),
            (
                from_env("IDR_LOG__FORMAT", "xml"),
                "configuration: log.format: \"xml\" (IDR_LOG__FORMAT): expected text or json".into(),
            ),
            (
                from_env("IDR_RESOLVER__LOAD_DEMO", "maybe"),
                "configuration: resolver.load_demo: \"maybe\" (IDR_RESOLVER__LOAD_DEMO): expected true or false".into(),
            ),
            (
                from_env("IDR_SERVER__FOO", "1"),
                "configuration: server.foo: \"1\" (IDR_SERVER__FOO): not a setting; expected one of listen, admin_listen, workers,".into(),
            ),
            (
                from_env("IDR_DID_WEB__TIMEOUT_MS", "0"),
                "configuration: did_web.timeout_ms: \"0\" (IDR_DID_WEB__TIMEOUT_MS): must be greater than 0".into(),
            ),
            (
                from_env("IDR_SERVER__ADMIN_LISTEN", "localhost"),
                "configuration: server.admin_listen: \"localhost\" (IDR_SERVER__ADMIN_LISTEN): expected host:port with an IP address".into(),
            ),
            (
                from_file("[server]\nworkers = -3\n"),
                format!("configuration: server.workers: -3 ({shown}): expected a whole number, 0 or more"),
            ),
            (
                from_file("[limits]\nmanagement_burst = \"x\"\n"),
                format!("configuration: limits.management_burst: \"x\" ({shown}): expected a number, such as 2.5"),
            ),
            (
                from_file("[server]\nmanagement_cors_origins = \"https://a.example\"\n"),
                format!("configuration: server.management_cors_origins: \"https://a.example\" ({shown}): expected a list"),
            ),
            (
                from_file("[[keys]]\nname = \"a\"\nsha256 = \"abc\"\nscopes = [\"*\"]\n"),
                format!("configuration: keys[0].sha256: \"abc\" ({shown}): must be the 64-character hex SHA-256"),
            ),
            (
                from_file("[sever]\nlisten = \"x\"\n"),
                format!("configuration: sever: a table ({shown}): not a setting; expected one of server, limits,"),
            ),
            (
                from_file("[[keys]]\nname = \"a\"\n"),
                "configuration: keys[0].sha256: missing: this setting is required here".into(),
            ),
            (
                from_file("server = 5\n"),
                format!("configuration: server: 5 ({shown}): expected a table"),
            ),
        ];
        for (error, expected) in &cases {
            assert!(
                error.starts_with(expected.as_str()),
                "\n{error}\ndoes not start with\n{expected}"
            );
        }

        let flags = Overrides {
            listen: Some("localhost".into()),
            ..Default::default()
        };
        let error = Settings::load_with_env(&flags, &env(&[]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "configuration: server.listen: \"localhost\" (--listen): expected host:port with an IP address, such as \
             127.0.0.1:8080 or [::]:8080 (not a host name such as localhost)"
        );
        let flags = Overrides {
            resolver_root: Some("ftp://x".into()),
            ..Default::default()
        };
        let error = Settings::load_with_env(&flags, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("configuration: resolver.resolver_root: \"ftp://x\" (--resolver-root): must be an http(s) origin"),
            "{error}"
        );
    }

    #[test]
    fn secrets_stay_out_of_config_errors() {
        let password = config::Value::new(None, "s3cret");
        assert_eq!(shown("store.redis_sentinel_password", &password), "\"***\"");
        let url = config::Value::new(None, "redis://u:s3cret@h:6379");
        assert_eq!(shown("store.redis_url", &url), "\"redis://u:***@h:6379\"");
        let e = env(&[
            ("IDR_STORE__REDIS_PASSWORD", "s3cret"),
            ("IDR_STORE__REDIS_TIMEOUT_MS", "0"),
        ]);
        let error = Settings::load_with_env(&Overrides::default(), &e)
            .unwrap_err()
            .to_string();
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn defaults_load() {
        let s = Settings::load_with_env(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.store.data_dir, PathBuf::from("./data"));
        assert!(s.fixed_root().is_none());
        assert!(s.resolver.load_demo);
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("idr.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:9000\"\nworkers = 3\n",
        )
        .unwrap();
        let overrides = Overrides {
            config_file: Some(file),
            listen: Some("127.0.0.1:9100".into()),
            ..Default::default()
        };
        let e = env(&[
            ("IDR_REDIS_URL", "redis://127.0.0.1:1"),
            ("IDR_SERVER__WORKERS", "5"),
            ("IDR_ADMIN_TOKEN", "tok"),
            ("IDR_OTHER", "x"),
        ]);
        let s = Settings::load_with_env(&overrides, &e).unwrap();
        assert_eq!(
            s.server.listen.to_string(),
            "127.0.0.1:9100",
            "flag beats file"
        );
        assert_eq!(s.server.workers, 5, "environment beats file");
        assert_eq!(s.admin_token.as_deref(), Some("tok"));
        assert_eq!(s.redis_url(), Some("redis://127.0.0.1:1"));
        let overrides = Overrides {
            redis_url: Some("redis://flag:2".into()),
            ..Default::default()
        };
        let s = Settings::load_with_env(&overrides, &e).unwrap();
        assert_eq!(
            s.redis_url(),
            Some("redis://flag:2"),
            "flag beats IDR_REDIS_URL"
        );
    }

    #[test]
    fn shipped_example_config_loads() {
        let path = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/idr.example.toml"
        ));
        let overrides = Overrides {
            config_file: Some(path),
            ..Default::default()
        };
        let s = Settings::load_with_env(&overrides, &env(&[])).unwrap();
        assert_eq!(s.fixed_root(), Some("https://id.example.com"));
        assert!(!s.resolver.load_demo);
    }

    #[test]
    fn cache_max_age_needs_a_fixed_origin_and_at_most_a_year() {
        let vars = env(&[("IDR_RESOLVER__CACHE_MAX_AGE_SECONDS", "600")]);
        let err = Settings::load_with_env(&Overrides::default(), &vars)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("resolver.cache_max_age_seconds") && err.contains("resolver_root"),
            "{err}"
        );
        let rooted = Overrides {
            resolver_root: Some("https://id.example.com".into()),
            ..Default::default()
        };
        let s = Settings::load_with_env(&rooted, &vars).unwrap();
        assert_eq!(s.resolver.cache_max_age_seconds, 600);
        let too_long = env(&[("IDR_RESOLVER__CACHE_MAX_AGE_SECONDS", "31536001")]);
        let err = Settings::load_with_env(&rooted, &too_long)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 31536000"), "{err}");
        let default = Settings::load_with_env(&Overrides::default(), &env(&[])).unwrap();
        assert_eq!(default.resolver.cache_max_age_seconds, 0);
    }

    #[test]
    fn bad_values_name_the_field() {
        let overrides = Overrides {
            resolver_root: Some("ftp://x".into()),
            ..Default::default()
        };
        let err = Settings::load_with_env(&overrides, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("resolver.resolver_root"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("idr.toml");
        std::fs::write(&file, "[sever]\nlisten = \"x\"\n").unwrap();
        let overrides = Overrides {
            config_file: Some(file),
            ..Default::default()
        };
        let err = Settings::load_with_env(&overrides, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sever"), "{err}");

        let file = dir.path().join("keys.toml");
        std::fs::write(
            &file,
            "[[keys]]\nname = \"a\"\nsha256 = \"abc\"\nscopes = [\"*\"]\n",
        )
        .unwrap();
        let overrides = Overrides {
            config_file: Some(file),
            ..Default::default()
        };
        let err = Settings::load_with_env(&overrides, &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("keys[0].sha256"), "{err}");
    }

    #[test]
    fn did_writers_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let load = |toml: &str| {
            let file = dir.path().join("w.toml");
            std::fs::write(&file, toml).unwrap();
            let overrides = Overrides {
                config_file: Some(file),
                ..Default::default()
            };
            Settings::load_with_env(&overrides, &env(&[]))
        };
        let ok = "[[did_writers]]\ndid = \"did:web:brand.example\"\nscopes = [\"01/0952012*\"]\n";
        assert_eq!(load(ok).unwrap().did_writers.len(), 1);
        for (toml, field) in [
            (
                "[[did_writers]]\ndid = \"did:key:z6Mk\"\nscopes = [\"*\"]\n",
                "did_writers[0].did",
            ),
            (
                "[[did_writers]]\ndid = \"did:web:brand.example#key-1\"\nscopes = [\"*\"]\n",
                "did_writers[0].did",
            ),
            (
                "[[did_writers]]\ndid = \"did:web:brand.example\"\nscopes = []\n",
                "did_writers[0].scopes",
            ),
            (&format!("{ok}{ok}"), "did_writers[1].did"),
            (
                "[did_auth]\nmax_token_seconds = 0\n",
                "did_auth.max_token_seconds",
            ),
        ] {
            let err = load(toml).unwrap_err().to_string();
            assert!(err.contains(field), "{toml}: {err}");
        }
    }

    #[test]
    fn trust_anchors_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let load = |toml: &str| {
            let file = dir.path().join("t.toml");
            std::fs::write(&file, toml).unwrap();
            let overrides = Overrides {
                config_file: Some(file),
                ..Default::default()
            };
            Settings::load_with_env(&overrides, &env(&[]))
        };
        let anchor = "[[trust_anchors]]\ndid = \"did:web:register.example\"\nnamespaces = [\"01/0952012*\"]\n";
        let role = "[[trust_anchors.contributors]]\nscope = \"https://r.example/recycler\"\nlink_types = [\"untp:dte\"]\n";
        let ok = load(&format!("{anchor}{role}")).unwrap();
        assert_eq!(ok.trust_anchors[0].contributors[0].namespaces, ["*"]);
        assert_eq!(ok.dia.status_list_cache_seconds, 300);
        for (toml, field) in [
            (
                "[[trust_anchors]]\ndid = \"https://register.example\"\nnamespaces = [\"*\"]\n"
                    .to_string(),
                "trust_anchors[0].did",
            ),
            (
                "[[trust_anchors]]\ndid = \"did:web:register.example\"\n".to_string(),
                "trust_anchors[0].namespaces",
            ),
            (
                format!("{anchor}identifier = \"abr/abn/\"\n"),
                "trust_anchors[0].identifier",
            ),
            (
                format!("{anchor}{role}link_types = []\n")
                    .replace("link_types = [\"untp:dte\"]\n", ""),
                "trust_anchors[0].contributors[0].link_types",
            ),
            (format!("{anchor}{anchor}"), "trust_anchors[1].did"),
            (
                "[dia]\nstatus_list_cache_seconds = 0\n".to_string(),
                "dia.status_list_cache_seconds",
            ),
        ] {
            let err = load(&toml).unwrap_err().to_string();
            assert!(err.contains(field), "{toml}: {err}");
        }
    }

    #[test]
    fn did_web_settings_are_checked() {
        let s = Settings::load_with_env(&Overrides::default(), &env(&[])).unwrap();
        assert!(s.did_web.enabled);
        assert!(s.did_web.extra_ca_file.as_os_str().is_empty());
        let e = env(&[
            ("IDR_DID_WEB__MIN_CACHE_SECONDS", "10"),
            ("IDR_DID_WEB__MAX_CACHE_SECONDS", "5"),
        ]);
        let err = Settings::load_with_env(&Overrides::default(), &e)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did_web.min_cache_seconds"), "{err}");
        let e = env(&[("IDR_DID_WEB__TIMEOUT_MS", "0")]);
        let err = Settings::load_with_env(&Overrides::default(), &e)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did_web.timeout_ms"), "{err}");
    }

    #[test]
    fn outbound_settings_load_from_the_environment_and_are_checked() {
        let s = Settings::load_with_env(&Overrides::default(), &env(&[])).unwrap();
        assert!(
            !s.outbound.allow_private_addresses,
            "public addresses only by default"
        );
        assert!(s.outbound.allow.is_empty());
        assert_eq!(
            s.did_web.min_cache_seconds, 60,
            "a floor for documents without Cache-Control"
        );
        let e = env(&[
            ("IDR_OUTBOUND__ALLOW_PRIVATE_ADDRESSES", "true"),
            ("IDR_OUTBOUND__ALLOW", "did.corp.example,10.1.0.0/16"),
        ]);
        let s = Settings::load_with_env(&Overrides::default(), &e).unwrap();
        assert!(s.outbound.allow_private_addresses);
        assert_eq!(s.outbound.allow, ["did.corp.example", "10.1.0.0/16"]);
        let e = env(&[("IDR_SERVER__TRUSTED_PROXIES", " 10.0.0.0/8, 127.0.0.1 ")]);
        let s = Settings::load_with_env(&Overrides::default(), &e).unwrap();
        assert_eq!(s.server.trusted_proxies, ["10.0.0.0/8", "127.0.0.1"]);
        let bad = ["10.0.0.0/8".to_string(), "proxy.example".to_string()];
        let refused = crate::http::guard::ClientAddresses::from_settings(&bad).unwrap_err();
        assert!(
            refused.to_string().contains("server.trusted_proxies[1]"),
            "{refused}"
        );
        for (variable, value, field) in [
            (
                "IDR_OUTBOUND__ALLOW",
                "localhost,10.0.0.0/40",
                "outbound.allow[1]",
            ),
            (
                "IDR_OUTBOUND__PER_HOST_REQUESTS_PER_SECOND",
                "0",
                "outbound.per_host_requests_per_second",
            ),
            (
                "IDR_OUTBOUND__PER_HOST_REQUESTS_PER_SECOND",
                "1e-20",
                "outbound.per_host_requests_per_second",
            ),
            (
                "IDR_OUTBOUND__PER_HOST_BURST",
                "0.5",
                "outbound.per_host_burst",
            ),
            (
                "IDR_OUTBOUND__MAX_CONCURRENT_FETCHES",
                "0",
                "outbound.max_concurrent_fetches",
            ),
        ] {
            let err = Settings::load_with_env(&Overrides::default(), &env(&[(variable, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{variable}={value}: {err}");
        }
    }

    #[test]
    fn the_old_name_of_the_extra_ca_file_still_works() {
        let old = env(&[("IDR_DID_WEB__EXTRA_CA_FILE", "/etc/idr/ca.pem")]);
        let s = Settings::load_with_env(&Overrides::default(), &old).unwrap();
        assert_eq!(s.outbound.extra_ca_file, PathBuf::from("/etc/idr/ca.pem"));
        assert_eq!(s.outbound.extra_ca_field(), "did_web.extra_ca_file");
        let new = env(&[("IDR_OUTBOUND__EXTRA_CA_FILE", "/etc/idr/ca.pem")]);
        let s = Settings::load_with_env(&Overrides::default(), &new).unwrap();
        assert_eq!(s.outbound.extra_ca_field(), "outbound.extra_ca_file");
        let both = env(&[
            ("IDR_DID_WEB__EXTRA_CA_FILE", "/etc/idr/old.pem"),
            ("IDR_OUTBOUND__EXTRA_CA_FILE", "/etc/idr/ca.pem"),
        ]);
        let err = Settings::load_with_env(&Overrides::default(), &both)
            .unwrap_err()
            .to_string();
        assert!(err.contains("did_web.extra_ca_file"), "{err}");
    }
}
