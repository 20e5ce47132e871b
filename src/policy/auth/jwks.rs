//! A JWKS URL: fetched at start, refreshed periodically by a task, and
//! fetched again when a token names an unknown `kid` or no set was fetched
//! yet (at most once per cool-down per JWKS, whatever the number of such
//! requests, one fetch at a time). A failed fetch keeps the last good set.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{ConfigBuilderExt, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use jsonwebtoken::Algorithm;
use rustls::{ClientConfig, RootCertStore};
use tokio::sync::Mutex;

use super::{AuthSetupError, JwksUrl, KeySet};

/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// A JWKS URL's current keys, and how to fetch them again.
pub(super) struct RemoteKeys {
    settings: JwksUrl,
    accepted: Vec<Algorithm>,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    current: ArcSwap<KeySet>,
    /// When the last fetch started; held during a fetch, so fetches never overlap.
    last_fetch: Mutex<Option<Instant>>,
}

impl RemoteKeys {
    /// Builds the client; fetches nothing yet. Must run inside a Tokio runtime.
    pub fn new(settings: JwksUrl, accepted: Vec<Algorithm>) -> Result<Self, AuthSetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| AuthSetupError::Client(error.to_string()))?;
        let tls = if settings.url.scheme_str() == Some("https") {
            builder.with_native_roots().map_err(|error| AuthSetupError::Client(error.to_string()))?
        } else {
            builder.with_root_certificates(RootCertStore::empty())
        }
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(settings.timeout));
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            settings,
            accepted,
            client,
            current: ArcSwap::from_pointee(KeySet::default()),
            last_fetch: Mutex::new(None),
        })
    }

    /// The keys as last fetched (empty before the first good fetch).
    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// Fetches the set now (waiting for a fetch in flight). Returns whether
    /// keys of the previous set were withdrawn.
    pub async fn refresh(&self) -> bool {
        let mut last_fetch = self.last_fetch.lock().await;
        *last_fetch = Some(Instant::now());
        self.fetch_and_store().await
    }

    /// Fetches the set for a token with an unknown `kid`, unless a fetch
    /// started less than a cool-down ago (an unknown `kid` costs at most one
    /// fetch per cool-down, whoever sends it). Returns whether keys were
    /// withdrawn.
    pub async fn refresh_for_unknown_kid(&self) -> bool {
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < self.settings.cooldown) {
            return false;
        }
        *last_fetch = Some(Instant::now());
        self.fetch_and_store().await
    }

    /// The time to wait before the next periodic fetch: the refresh
    /// interval, or the cool-down while no set was ever fetched.
    pub fn next_refresh(&self) -> Duration {
        if self.current.load().is_empty() { self.settings.cooldown } else { self.settings.refresh }
    }

    async fn fetch_and_store(&self) -> bool {
        match self.fetch().await {
            Ok(keys) => {
                tracing::debug!(url = %self.settings.url, keys = keys.len(), "JWKS fetched");
                let previous = self.current.swap(Arc::new(keys));
                previous.loses_keys_in(&self.current.load())
            }
            Err(error) => {
                tracing::warn!(url = %self.settings.url, %error, "JWKS fetch failed; keeping the last good keys");
                false
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let request = Request::get(self.settings.url.clone())
            .header(header::ACCEPT, "application/json, application/jwk-set+json")
            .body(Empty::new())
            .map_err(|error| error.to_string())?;
        let fetch = async {
            let response = self.client.request(request).await.map_err(|error| error.to_string())?;
            if !response.status().is_success() {
                return Err(format!("HTTP status {}", response.status()));
            }
            let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
                .collect()
                .await
                .map_err(|error| error.to_string())?;
            Ok(body.to_bytes())
        };
        let body = tokio::time::timeout(self.settings.timeout, fetch)
            .await
            .map_err(|_| format!("no answer within {:?}", self.settings.timeout))??;
        KeySet::from_jwks(&body, &self.accepted).map_err(|error| error.to_string())
    }
}
