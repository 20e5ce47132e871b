//! What a compile waits for before its CPU work: the upstreams built (their
//! channels need the runtime), the reflection sources' upstreams asked for
//! their descriptors, and the policies compiled (JWKS URLs fetched, Redis
//! connected). This runs on the caller's task, awaiting the network; the
//! rest of the compile runs on a blocking thread with what it gathered.

use std::{collections::BTreeMap, path::Path, sync::Arc};

use super::{
    CompileErrors,
    descriptors::{DescriptorSources, descriptor_sources},
    policies::Policies,
    upstreams::build_upstreams,
};
use crate::{config::Config, runtime::StateStore, schema::DescriptorSource, upstream::Upstream};

/// What [`gather`] found, with its errors kept apart so that the compile
/// can put them in the config's order among its own.
pub(super) struct Gathered {
    /// The new runtime's store so far: its upstreams, reflected
    /// descriptors and stateful policies.
    pub store: StateStore,
    pub upstreams: BTreeMap<String, Arc<Upstream>>,
    pub descriptors: DescriptorSources,
    pub policies: Policies,
    /// The problems of `upstreams` and `descriptors`.
    pub upstream_errors: CompileErrors,
    /// The problems of `policies`.
    pub policy_errors: CompileErrors,
}

/// Builds the upstreams, asks the reflection sources and compiles the
/// policies of `config`, keeping what `kept` has with equal settings.
pub(super) async fn gather(
    config: &Config,
    base_dir: &Path,
    builtin: &[DescriptorSource],
    kept: Option<&StateStore>,
) -> Gathered {
    let mut store = StateStore::default();
    let mut upstream_errors = CompileErrors::default();
    let upstreams = build_upstreams(config, base_dir, kept, &mut store, &mut upstream_errors);
    let descriptors =
        descriptor_sources(config, base_dir, builtin, &upstreams, kept, &mut store, &mut upstream_errors)
            .await;
    let mut policy_errors = CompileErrors::default();
    let policies = Policies::compile(config, base_dir, kept, &mut store, &mut policy_errors).await;
    Gathered { store, upstreams, descriptors, policies, upstream_errors, policy_errors }
}
