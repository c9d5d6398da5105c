//! Where the Redis store connects, parsed once from `store.redis_url` and the credential and TLS settings:
//! a standalone server, a cluster's seed nodes, or a Sentinel-watched master; the ACL user; the TLS configuration.
//!
//! URL forms (`s` after `redis` means TLS; `user:password@` may follow the scheme, percent-encoded):
//! `redis://host:port[/db]`, `redis+unix:///path[?db=N]`, `redis+cluster://h1:p1,h2:p2`,
//! `redis+sentinel://s1:26379,s2:26379/master-name[/db]`.

use crate::config::{ConfigError, StoreSettings, redact_url};
use percent_encoding::percent_decode_str;
use redis::{ClientTlsConfig, RedisConnectionInfo, TlsCertificates};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const URL: &str = "store.redis_url";

/// A node's address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    Tcp(String, u16),
    Unix(PathBuf),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp(host, port) if host.contains(':') => write!(f, "[{host}]:{port}"),
            Addr::Tcp(host, port) => write!(f, "{host}:{port}"),
            Addr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// How the data nodes are found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    Standalone(Addr),
    Cluster(Vec<Addr>),
    /// The master the sentinels name `master`, asked again whenever a connection to it is lost.
    Sentinel {
        sentinels: Vec<Addr>,
        master: String,
    },
}

/// TLS for every connection: our own rustls configuration (standalone, Sentinel, pub/sub, scans) and the same
/// certificates in the form the redis crate's cluster client takes.
#[derive(Clone)]
pub struct Tls {
    pub config: Arc<rustls::ClientConfig>,
    pub certificates: TlsCertificates,
}

/// Everything needed to reach Redis. `Debug`/`Display` never show a password.
#[derive(Clone)]
pub struct Target {
    pub topology: Topology,
    /// ACL user, password and database of the data nodes (handed to `AUTH`/`SELECT` at each connection).
    pub node: RedisConnectionInfo,
    /// The sentinels' own credentials (database 0).
    pub sentinel: RedisConnectionInfo,
    pub tls: Option<Tls>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |addrs: &[Addr]| {
            addrs
                .iter()
                .map(Addr::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        match &self.topology {
            Topology::Standalone(a) => write!(f, "{a}")?,
            Topology::Cluster(nodes) => write!(f, "cluster {}", list(nodes))?,
            Topology::Sentinel { sentinels, master } => {
                write!(f, "master {master:?} of sentinels {}", list(sentinels))?
            }
        }
        if self.tls.is_some() {
            f.write_str(" (TLS)")?;
        }
        if let Some(user) = self.node.username() {
            write!(f, " as {user}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({self})")
    }
}

impl Target {
    /// Parses the URL and reads the credential and certificate files. Every problem is a configuration error naming
    /// its setting; no message carries a password.
    pub fn from_settings(s: &StoreSettings) -> Result<Target, ConfigError> {
        let raw = s.redis_url.trim();
        let url = Parsed::parse(raw)?;
        let (user, password) = credentials(s, &url)?;
        let mut node = RedisConnectionInfo::default().set_db(url.db);
        if let Some(user) = user {
            node = node.set_username(user);
        }
        if let Some(password) = password {
            node = node.set_password(password);
        }
        let mut sentinel = RedisConnectionInfo::default();
        if !s.redis_sentinel_username.is_empty() {
            sentinel = sentinel.set_username(&s.redis_sentinel_username);
        }
        if !s.redis_sentinel_password.is_empty() {
            sentinel = sentinel.set_password(&s.redis_sentinel_password);
        }
        let tls_files = !s.redis_ca_file.as_os_str().is_empty()
            || !s.redis_client_cert_file.as_os_str().is_empty()
            || !s.redis_client_key_file.as_os_str().is_empty();
        let tls = if url.tls {
            Some(tls(s)?)
        } else if tls_files {
            return Err(ConfigError::invalid(
                "store.redis_ca_file",
                "TLS files are set but store.redis_url is not a rediss:// URL",
            ));
        } else {
            None
        };
        Ok(Target {
            topology: url.topology,
            node,
            sentinel,
            tls,
        })
    }
}

/// The parts of a Redis URL.
#[derive(Debug)]
struct Parsed {
    topology: Topology,
    tls: bool,
    user: Option<String>,
    password: Option<String>,
    db: i64,
}

impl Parsed {
    fn parse(raw: &str) -> Result<Parsed, ConfigError> {
        let shown = redact_url(raw);
        let bad = |reason: String| ConfigError::invalid(URL, format!("{shown}: {reason}"));
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(bad(FORMS.to_string()));
        };
        if matches!(scheme, "redis+unix" | "unix") {
            return unix(raw, &shown);
        }
        let (tls, kind) = match scheme {
            "redis" => (false, ""),
            "rediss" => (true, ""),
            "redis+cluster" => (false, "cluster"),
            "rediss+cluster" => (true, "cluster"),
            "redis+sentinel" => (false, "sentinel"),
            "rediss+sentinel" => (true, "sentinel"),
            _ => return Err(bad(FORMS.to_string())),
        };
        // A password may hold '@' or '/' (percent-encoded or not): the user part ends at the last '@'.
        let (userinfo, rest) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
        if path.contains(['?', '#']) || hosts.contains(['?', '#']) {
            return Err(bad("query and fragment are not supported".into()));
        }
        let default_port = if kind == "sentinel" { 26379 } else { 6379 };
        let addrs = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| host_port(h, default_port).map_err(&bad))
            .collect::<Result<Vec<_>, _>>()?;
        if addrs.is_empty() {
            return Err(bad("no host".into()));
        }
        let segments: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let number = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| bad(format!("{s:?} is not a database number")))
        };
        let (topology, db) = match kind {
            "cluster" if segments.is_empty() => (Topology::Cluster(addrs), 0),
            "cluster" => return Err(bad("a cluster has no database number".into())),
            "sentinel" => {
                let (master, db) = match segments.as_slice() {
                    [master] => (master, 0),
                    [master, db] => (master, number(db)?),
                    _ => return Err(bad("name the master: /master-name[/db]".into())),
                };
                let master = decode(master);
                (
                    Topology::Sentinel {
                        sentinels: addrs,
                        master,
                    },
                    db,
                )
            }
            _ => {
                let [addr] = <[Addr; 1]>::try_from(addrs).map_err(|_| {
                    bad("one host; list several with redis+cluster:// or redis+sentinel://".into())
                })?;
                let db = match segments.as_slice() {
                    [] => 0,
                    [db] => number(db)?,
                    _ => return Err(bad("the path is the database number only".into())),
                };
                (Topology::Standalone(addr), db)
            }
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, password) = info.split_once(':').unwrap_or((info, ""));
                let some = |s: &str| Some(decode(s)).filter(|s| !s.is_empty());
                (some(user), some(password))
            }
        };
        Ok(Parsed {
            topology,
            tls,
            user,
            password,
            db,
        })
    }
}

const FORMS: &str = "use redis://host:port[/db], rediss://…, redis+unix:///path, \
    redis+cluster://h1:p1,h2:p2, or redis+sentinel://s1:26379,s2:26379/master-name[/db] \
    (rediss+cluster://, rediss+sentinel:// for TLS)";

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn host_port(text: &str, default_port: u16) -> Result<Addr, String> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("{text:?}: unclosed '['"))?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse()
            .map_err(|_| format!("{text:?}: {p:?} is not a port"))?,
    };
    if host.is_empty() {
        return Err(format!("{text:?}: no host"));
    }
    Ok(Addr::Tcp(host.to_string(), port))
}

/// `redis+unix:///path?db=N` and `unix://`, through the redis crate's parser.
fn unix(raw: &str, shown: &str) -> Result<Parsed, ConfigError> {
    let info = redis::IntoConnectionInfo::into_connection_info(raw)
        .map_err(|e| ConfigError::invalid(URL, format!("{shown}: {e}")))?;
    let redis::ConnectionAddr::Unix(path) = info.addr().clone() else {
        return Err(ConfigError::invalid(URL, format!("{shown}: not a socket")));
    };
    let settings = info.redis_settings();
    Ok(Parsed {
        topology: Topology::Standalone(Addr::Unix(path)),
        tls: false,
        user: settings.username().map(str::to_string),
        password: settings.password().map(str::to_string),
        db: settings.db(),
    })
}

/// The ACL user and password: each from one place only (URL, setting or environment, file), so that no
/// precedence rule can silently pick a stale one.
fn credentials(
    s: &StoreSettings,
    url: &Parsed,
) -> Result<(Option<String>, Option<String>), ConfigError> {
    let user = match (&url.user, s.redis_username.as_str()) {
        (Some(_), u) if !u.is_empty() => {
            return Err(ConfigError::invalid(
                "store.redis_username",
                "the user is also in store.redis_url: give it in one place",
            ));
        }
        (Some(u), _) => Some(u.clone()),
        (None, "") => None,
        (None, u) => Some(u.to_string()),
    };
    let file = (!s.redis_password_file.as_os_str().is_empty())
        .then(|| read_password(&s.redis_password_file))
        .transpose()?;
    let mut given: Vec<(&str, String)> = Vec::new();
    if let Some(p) = &url.password {
        given.push((URL, p.clone()));
    }
    if !s.redis_password.is_empty() {
        given.push(("store.redis_password", s.redis_password.clone()));
    }
    if let Some(p) = file {
        given.push(("store.redis_password_file", p));
    }
    match given.len() {
        0 => Ok((user, None)),
        1 => Ok((user, given.pop().map(|(_, p)| p))),
        _ => Err(ConfigError::invalid(
            given[1].0,
            format!(
                "the password is also given in {}: give it in one place",
                given[0].0
            ),
        )),
    }
}

fn read_password(path: &Path) -> Result<String, ConfigError> {
    const FIELD: &str = "store.redis_password_file";
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::invalid(FIELD, format!("cannot read {}: {e}", path.display())))?;
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(ConfigError::invalid(
            FIELD,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(password.to_string())
}

/// The TLS configuration: the CA file's certificates, or else the system's roots; a client certificate when set.
fn tls(s: &StoreSettings) -> Result<Tls, ConfigError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let ca = read_pem(&s.redis_ca_file, "store.redis_ca_file")?;
    let mut roots = rustls::RootCertStore::empty();
    match &ca {
        Some(pem) => {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pem_error("store.redis_ca_file", &s.redis_ca_file, e))?;
            if certs.is_empty() {
                return Err(ConfigError::invalid(
                    "store.redis_ca_file",
                    format!("{} holds no PEM certificate", s.redis_ca_file.display()),
                ));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    ConfigError::invalid(
                        "store.redis_ca_file",
                        format!("{}: {e}", s.redis_ca_file.display()),
                    )
                })?;
            }
        }
        None => {
            // Unreadable entries in the system store are skipped, as every TLS client does.
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    let cert = read_pem(&s.redis_client_cert_file, "store.redis_client_cert_file")?;
    let key = read_pem(&s.redis_client_key_file, "store.redis_client_key_file")?;
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let (config, client_tls) = match (cert, key) {
        (None, None) => (builder.with_no_client_auth(), None),
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(&cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| {
                    pem_error("store.redis_client_cert_file", &s.redis_client_cert_file, e)
                })?;
            let private = PrivateKeyDer::from_pem_slice(&key).map_err(|e| {
                pem_error("store.redis_client_key_file", &s.redis_client_key_file, e)
            })?;
            let config = builder
                .with_client_auth_cert(chain, private)
                .map_err(|e| ConfigError::invalid("store.redis_client_cert_file", e.to_string()))?;
            let client = ClientTlsConfig {
                client_cert: cert,
                client_key: key,
            };
            (config, Some(client))
        }
        (Some(_), None) => {
            return Err(ConfigError::invalid(
                "store.redis_client_key_file",
                "must be set with store.redis_client_cert_file",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::invalid(
                "store.redis_client_cert_file",
                "must be set with store.redis_client_key_file",
            ));
        }
    };
    Ok(Tls {
        config: Arc::new(config),
        certificates: TlsCertificates {
            client_tls,
            root_cert: ca,
        },
    })
}

fn read_pem(path: &Path, field: &str) -> Result<Option<Vec<u8>>, ConfigError> {
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    std::fs::read(path)
        .map(Some)
        .map_err(|e| ConfigError::invalid(field, format!("cannot read {}: {e}", path.display())))
}

fn pem_error(field: &str, path: &Path, e: impl fmt::Display) -> ConfigError {
    ConfigError::invalid(field, format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> StoreSettings {
        let mut s = crate::config::Settings::load_with_env(
            &crate::config::Overrides::default(),
            &Default::default(),
        )
        .unwrap()
        .store;
        s.redis_url = url.to_string();
        s
    }

    fn tcp(host: &str, port: u16) -> Addr {
        Addr::Tcp(host.into(), port)
    }

    #[test]
    fn url_forms() {
        let t = Target::from_settings(&settings("redis://127.0.0.1:6380/2")).unwrap();
        assert_eq!(t.topology, Topology::Standalone(tcp("127.0.0.1", 6380)));
        assert_eq!(t.node.db(), 2);
        assert!(t.tls.is_none());
        let t = Target::from_settings(&settings("rediss://u:p%40ss@h")).unwrap();
        assert_eq!(t.topology, Topology::Standalone(tcp("h", 6379)));
        assert_eq!(
            (t.node.username(), t.node.password()),
            (Some("u"), Some("p@ss"))
        );
        assert!(t.tls.is_some());
        let t = Target::from_settings(&settings("redis+cluster://:pw@a:1, b:2,[::1]:3")).unwrap();
        assert_eq!(
            t.topology,
            Topology::Cluster(vec![tcp("a", 1), tcp("b", 2), tcp("::1", 3)])
        );
        assert_eq!(t.node.password(), Some("pw"));
        let t =
            Target::from_settings(&settings("redis+sentinel://s1,s2:26380/mymaster/3")).unwrap();
        assert_eq!(
            t.topology,
            Topology::Sentinel {
                sentinels: vec![tcp("s1", 26379), tcp("s2", 26380)],
                master: "mymaster".into()
            }
        );
        assert_eq!(t.node.db(), 3);
        assert!(t.to_string().contains("mymaster"));
        for bad in [
            "http://x",
            "redis+cluster://",
            "redis+cluster://a:1/0",
            "redis+sentinel://s1:26379",
            "redis://a:1,b:2",
            "redis://h:port",
            "redis://h/x",
        ] {
            let e = Target::from_settings(&settings(bad)).unwrap_err();
            assert!(e.to_string().contains(URL), "{bad}: {e}");
        }
    }

    #[test]
    fn a_password_is_given_in_one_place_and_never_shown() {
        let mut s = settings("redis://alice:url-secret@h:1");
        s.redis_password = "env-secret".into();
        let e = Target::from_settings(&s).unwrap_err().to_string();
        assert!(e.contains("store.redis_password"), "{e}");
        assert!(!e.contains("secret"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "file-secret\n").unwrap();
        let mut s = settings("redis://h:1");
        s.redis_username = "alice".into();
        s.redis_password_file = file.clone();
        let t = Target::from_settings(&s).unwrap();
        assert_eq!(
            (t.node.username(), t.node.password()),
            (Some("alice"), Some("file-secret"))
        );
        assert!(!format!("{t} {t:?} {s:?}").contains("secret"));
        s.redis_password_file = dir.path().join("missing");
        let e = Target::from_settings(&s).unwrap_err().to_string();
        assert!(e.contains("store.redis_password_file"), "{e}");
        let e = Parsed::parse("redis://u:top-secret@h:1/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("u:***@h:1") && !e.contains("top-secret"), "{e}");
    }

    proptest::proptest! {
        /// Whatever the password (percent-encoded or not, holding '@', '/' or ':'), and whatever else is wrong with
        /// the URL, neither the redacted URL nor a parse error nor the target's description shows it.
        #[test]
        fn a_password_never_shows(
            password in "[!-~]{8,24}",
            scheme in proptest::sample::select(vec!["redis", "rediss", "redis+cluster", "redis+sentinel", "ftp"]),
            tail in proptest::sample::select(vec!["h:1", "h:1/0", "h:x", "a:1,b:2/m", "h:1/m/x/y", ""]),
        ) {
            let secret = format!("S3cr{password}");
            let encoded = percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC).to_string();
            for (written, url) in [
                (secret.clone(), format!("{scheme}://user:{secret}@{tail}")),
                (encoded.clone(), format!("{scheme}://user:{encoded}@{tail}")),
                // In a query, which is refused, naming the URL.
                (encoded.clone(), format!("{scheme}://{tail}?password={encoded}")),
                (encoded.clone(), format!("{scheme}://user:x@{tail}?password={encoded}&db=1")),
            ] {
                let redacted = redact_url(&url);
                proptest::prop_assert!(!redacted.contains(&written), "{redacted}");
                let shown = match Target::from_settings(&settings(&url)) {
                    Ok(t) => format!("{t} {t:?}"),
                    Err(e) => e.to_string(),
                };
                proptest::prop_assert!(!shown.contains(&secret) && !shown.contains(&written), "{shown}");
            }
        }
    }

    #[test]
    fn tls_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings("rediss://h:1");
        s.redis_ca_file = dir.path().join("missing.pem");
        let e = Target::from_settings(&s).unwrap_err().to_string();
        assert!(e.contains("store.redis_ca_file"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate").unwrap();
        s.redis_ca_file = empty;
        let e = Target::from_settings(&s).unwrap_err().to_string();
        assert!(e.contains("store.redis_ca_file"), "{e}");
        let mut s = settings("redis://h:1");
        s.redis_ca_file = dir.path().join("x.pem");
        let e = Target::from_settings(&s).unwrap_err().to_string();
        assert!(e.contains("rediss://"), "{e}");
        let mut s = settings("rediss://h:1");
        s.redis_client_cert_file = dir.path().join("c.pem");
        let e = Target::from_settings(&s).unwrap_err().to_string();
        assert!(e.contains("store.redis_client_"), "{e}");
    }
}
