//! Start-up: open the store, load vocabularies and demo data, bind, and serve.

use crate::auth::Authenticator;
use crate::bulk;
use crate::config::{ConfigError, Settings};
use crate::did::DidResolver;
use crate::http::{self, AppState};
use crate::identifier::gs1::ParseOptions;
use crate::identifier::pattern::PathPattern;
use crate::registry::cache::CachedStore;
use crate::registry::embedded::EmbeddedStore;
use crate::registry::redis::RedisStore;
use crate::registry::{LinkStore, StoreError};
use crate::resolution::Delegations;
use crate::vocabulary::{Vocabulary, VocabularyError};
use actix_web::{App, HttpServer, web};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vocabulary(#[from] VocabularyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("demo data {file}: {reason}")]
    Demo { file: String, reason: String },
}

pub fn parse_options(settings: &Settings) -> ParseOptions {
    ParseOptions {
        legacy_gtin: settings.resolver.legacy_gtin,
        convenience_alphas: settings.resolver.convenience_alphas,
    }
}

/// The configured store itself: Redis when a URL is set, else the embedded file.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn LinkStore>, StartupError> {
    Ok(match settings.redis_url() {
        Some(_) => Arc::new(RedisStore::connect(&settings.store).await?),
        None => Arc::new(EmbeddedStore::open_with_cache(
            &settings.store.data_dir,
            settings.store.embedded_cache_bytes,
        )?),
    })
}

/// The store a server reads through: a shared store gets the in-process cache in front.
async fn serving_store(settings: &Settings) -> Result<Arc<dyn LinkStore>, StartupError> {
    let store = open_store(settings).await?;
    Ok(match settings.redis_url() {
        Some(url) => {
            tracing::info!(url = %redacted(url), "link registry: Redis");
            CachedStore::wrap(store, &settings.cache)
        }
        None => store,
    })
}

/// A Redis URL without its password, for logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}

pub fn load_vocabulary(settings: &Settings) -> Result<Vocabulary, StartupError> {
    Ok(Vocabulary::load(&settings.config_dir().join("linktypes"))?)
}

fn delegations(settings: &Settings, options: &ParseOptions) -> Result<Delegations, ConfigError> {
    let rules = settings.delegations.iter().enumerate().map(|(i, d)| {
        PathPattern::parse_canonical(&d.identifiers, options)
            .map(|p| (p, d.resolver.clone()))
            .map_err(|e| ConfigError::invalid(format!("delegations[{i}].identifiers"), e))
    });
    Ok(Delegations::new(rules.collect::<Result<_, _>>()?))
}

pub struct Application {
    server: actix_web::dev::Server,
    addr: SocketAddr,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let options = parse_options(&settings);
        // Configuration errors first, before anything is opened.
        let auth = Authenticator::from_settings(&settings, &options)?;
        let delegations = delegations(&settings, &options)?;
        let did_web = match settings.did_web.enabled {
            true => Some(Arc::new(DidResolver::new(&settings.did_web)?)),
            false => None,
        };
        if settings.fixed_root().is_none() {
            tracing::warn!(
                "resolver.resolver_root is not set: anchors and Link headers take their origin from each request's \
                 Host or X-Forwarded-Host; set it in production"
            );
        }
        let store = serving_store(&settings).await?;
        let vocabulary = Arc::new(load_vocabulary(&settings)?);
        if settings.resolver.load_demo {
            load_demo_once(store.as_ref(), &vocabulary, &options, &settings).await?;
        }
        let addr = settings.server.listen;
        let listener =
            TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr, source })?;
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let state = web::Data::new(AppState {
            store,
            vocabulary,
            auth,
            parse_options: options,
            delegations,
            did_web,
            settings,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(http::common_headers())
                .configure(http::routes)
        })
        .workers(workers)
        .listen(listener)
        .map_err(|source| StartupError::Bind { addr, source })?
        .run();
        tracing::info!(%addr, workers, "idr listening");
        Ok(Application { server, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Demo data is for a new store only: a store emptied later stays empty across restarts. A shared store that is
/// down at start-up is not fatal: the replica starts, answers 503 and recovers; the demo is simply not loaded.
async fn load_demo_once(
    store: &dyn LinkStore,
    vocabulary: &Vocabulary,
    options: &ParseOptions,
    settings: &Settings,
) -> Result<(), StartupError> {
    let first_start = match store.claim_first_start().await {
        Ok(first) => first,
        Err(StoreError::Unavailable(e)) => {
            tracing::warn!(error = %e, "store unavailable at start-up; demo data not loaded");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    if first_start && store.is_empty().await? {
        load_demo(store, vocabulary, options, settings).await?;
    }
    Ok(())
}

/// Loads `demo/*.ndjson` from the config folder (or the shipped demo when the folder is absent).
async fn load_demo(
    store: &dyn LinkStore,
    vocabulary: &Vocabulary,
    options: &ParseOptions,
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
    for (file, text) in files {
        let report = bulk::import(store, vocabulary, options, text.as_bytes())
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
        assert_eq!(
            super::redacted("redis://user:secret@h:6379/0"),
            "redis://***@h:6379/0"
        );
        assert_eq!(super::redacted("redis://h:6379"), "redis://h:6379");
    }
}
