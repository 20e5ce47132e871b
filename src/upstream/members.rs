//! The endpoints an upstream is made of: the configured URIs in order, an
//! IP literal as one endpoint, a host name as one endpoint per address it
//! resolved to last. Each endpoint is kept with the guard of its health
//! check; every change is published to the pool as a new list (an
//! `ArcSwap` store), so picks in flight keep the list they loaded.
//!
//! A new resolution of a name is reconciled with its endpoints
//! ([`reconcile`]): an address still there keeps its endpoint (health
//! verdict, ejection, calls in flight, channel), a new address gets a new
//! endpoint and health check, a vanished one is dropped with its check.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use http::Uri;
use rustls::ClientConfig;

use crate::task::TaskGuard;

use super::{
    BuildError, Pool, UpstreamSettings,
    endpoint::{Endpoint, Host, host_of},
    health::HealthChecks,
    resolve::{Name, ResolveError},
};

/// One endpoint and its health check.
#[derive(Debug)]
struct Member {
    endpoint: Arc<Endpoint>,
    /// Stops the check when the member is dropped.
    _health: Option<TaskGuard>,
}

/// What one configured URI became.
#[derive(Debug)]
enum Group {
    /// An IP literal.
    Fixed(Member),
    /// A host name and the endpoints of its last good resolution.
    Named { uri: Uri, members: Vec<Member> },
}

/// The endpoints of one upstream, by configured URI.
#[derive(Debug)]
pub(super) struct Membership {
    pool: Arc<Pool>,
    settings: UpstreamSettings,
    /// gRPC: TLS towards `https://` endpoints, for every new address too.
    tls: Option<Arc<ClientConfig>>,
    checks: Option<HealthChecks>,
    groups: Vec<Group>,
}

/// The outcome of [`reconcile`].
#[derive(Debug)]
pub(super) struct Reconciled<M> {
    /// One member per resolved address, in address order.
    pub(super) members: Vec<M>,
    /// The addresses that got a new member.
    pub(super) added: Vec<SocketAddr>,
    /// The members whose address vanished.
    pub(super) removed: Vec<M>,
}

/// Matches `current` members to a new resolution: the member of an
/// address still `resolved` is kept as it is, `make` builds one for a new
/// address (`None`: skipped), the others are returned as removed.
/// `resolved` may be in any order and repeat itself.
pub(super) fn reconcile<M>(
    current: Vec<M>,
    resolved: &[SocketAddr],
    address_of: impl Fn(&M) -> SocketAddr,
    mut make: impl FnMut(SocketAddr) -> Option<M>,
) -> Reconciled<M> {
    let mut addresses = resolved.to_vec();
    addresses.sort_unstable();
    addresses.dedup();
    let (mut kept, removed): (Vec<M>, Vec<M>) =
        current.into_iter().partition(|member| addresses.binary_search(&address_of(member)).is_ok());
    let mut added = Vec::new();
    for &address in &addresses {
        if !kept.iter().any(|member| address_of(member) == address)
            && let Some(member) = make(address)
        {
            kept.push(member);
            added.push(address);
        }
    }
    kept.sort_by_key(|member| address_of(member));
    Reconciled { members: kept, added, removed }
}

impl Membership {
    /// The endpoints of `settings.endpoints`, published to `pool`: IP
    /// literals now, names once [`Membership::resolved`] is told their
    /// addresses. Starts the health checks, if any. Fails when an IP
    /// literal's endpoint cannot be built (the endpoint of a new address is
    /// skipped, logged, instead). Must run inside a Tokio runtime.
    pub(super) fn new(
        pool: Arc<Pool>,
        settings: &UpstreamSettings,
        tls: Option<Arc<ClientConfig>>,
    ) -> Result<Self, BuildError> {
        let checks = settings.health_check.as_ref().map(|checks| HealthChecks::new(&pool.name, checks));
        let mut membership = Self { pool, settings: settings.clone(), tls, checks, groups: Vec::new() };
        for uri in &settings.endpoints {
            let group = match host_of(uri) {
                Some(Host::Address(address)) => Some(Group::Fixed(membership.member(uri, address)?)),
                Some(Host::Name { .. }) => Some(Group::Named { uri: uri.clone(), members: Vec::new() }),
                None => None,
            };
            membership.groups.extend(group);
        }
        membership.publish();
        Ok(membership)
    }

    /// The host names to resolve, each with the index to report with.
    pub(super) fn names(&self) -> Vec<Name> {
        let named = self.groups.iter().enumerate().filter_map(|(group, g)| match g {
            Group::Named { uri, .. } => Some((group, uri)),
            Group::Fixed(_) => None,
        });
        named
            .filter_map(|(group, uri)| match host_of(uri)? {
                Host::Name { host, port } => Some(Name { group, host, port }),
                Host::Address(_) => None,
            })
            .collect()
    }

    /// Takes the result of resolving the name of `group`: its endpoints
    /// follow the addresses; a failure keeps the last good ones.
    pub(super) fn resolved(
        &mut self,
        group: usize,
        result: Result<Vec<SocketAddr>, ResolveError>,
        every: Duration,
    ) {
        let Some(Group::Named { uri, members }) = self.groups.get_mut(group) else { return };
        let upstream = &self.pool.name;
        let addresses = match result {
            Ok(addresses) => addresses,
            Err(error) if members.is_empty() => {
                tracing::warn!(%upstream, endpoint = %uri, "cannot resolve: {error}; no endpoints from it for now, trying again every {every:?}");
                return;
            }
            Err(error) => {
                let kept = members.len();
                tracing::warn!(%upstream, endpoint = %uri, "cannot resolve: {error}; keeping its last {kept} address(es)");
                return;
            }
        };
        let uri = uri.clone();
        let current = std::mem::take(members);
        let (settings, tls, checks) = (&self.settings, self.tls.as_ref(), self.checks.as_ref());
        let reconciled = reconcile(
            current,
            &addresses,
            |member| member.endpoint.address(),
            |address| {
                new_member(settings, tls, checks, &uri, address)
                    .map_err(|error| tracing::error!(%upstream, %address, "no endpoint: {error}"))
                    .ok()
            },
        );
        let changed = !reconciled.added.is_empty() || !reconciled.removed.is_empty();
        if changed {
            let removed: Vec<SocketAddr> = reconciled.removed.iter().map(|m| m.endpoint.address()).collect();
            tracing::info!(%upstream, endpoint = %uri, added = ?reconciled.added, ?removed, "the endpoint's addresses changed");
        }
        if let Some(Group::Named { members, .. }) = self.groups.get_mut(group) {
            *members = reconciled.members;
        }
        if changed {
            self.publish();
        }
    }

    fn member(&self, uri: &Uri, address: SocketAddr) -> Result<Member, BuildError> {
        new_member(&self.settings, self.tls.as_ref(), self.checks.as_ref(), uri, address)
    }

    /// Hands the pool the current endpoints, in config order.
    fn publish(&self) {
        let endpoints = self
            .groups
            .iter()
            .flat_map(|group| match group {
                Group::Fixed(member) => std::slice::from_ref(member),
                Group::Named { members, .. } => members.as_slice(),
            })
            .map(|member| member.endpoint.clone())
            .collect();
        self.pool.endpoints.store(Arc::new(endpoints));
    }
}

/// The endpoint of `uri` at `address`, its health check started.
fn new_member(
    settings: &UpstreamSettings,
    tls: Option<&Arc<ClientConfig>>,
    checks: Option<&HealthChecks>,
    uri: &Uri,
    address: SocketAddr,
) -> Result<Member, BuildError> {
    let endpoint = Arc::new(Endpoint::new(uri.clone(), address, settings, tls)?);
    let health = checks.and_then(|checks| checks.start(&endpoint));
    Ok(Member { endpoint, _health: health })
}

#[cfg(test)]
#[path = "members_tests.rs"]
mod tests;
