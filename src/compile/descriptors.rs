//! `descriptors` compiled into one [`Schema`]: descriptor files and `.proto`
//! sources read, and the upstreams named by `reflection` asked for theirs
//! ([`reflect`]). A reflection that fails keeps the descriptors the
//! runtime being replaced got from that upstream, if it has them, with a
//! warning; else it is an error at `descriptors[i].reflection`. What each
//! upstream gave goes into the new runtime's store, for the next reload and
//! for the refresh to compare with.

use std::{collections::BTreeMap, path::Path, sync::Arc, time::Duration};

use super::{CompileErrors, Place, issues::unknown_name, settings::duration};
use crate::{
    config::{Config, DescriptorConfig, ReflectionConfig},
    runtime::{ReflectedSource, StateStore},
    schema::{DescriptorSource, Schema, SchemaError, fetch_file_set},
    upstream::Upstream,
};

/// How often a reflection source is asked again, unless `refresh` says.
pub const DEFAULT_REFLECTION_REFRESH: Duration = Duration::from_secs(300);

/// The sources of `descriptors`, read or asked for: what a compile waits
/// on the network for (the reflection sources), gathered before the
/// schema is built off the request workers ([`DescriptorSources::schema`]).
pub(super) struct DescriptorSources {
    /// The built-in sources, then the config's, in its order.
    sources: Vec<DescriptorSource>,
    /// The place of each of the config's sources.
    places: Vec<Place>,
    /// How many of `sources` are built in.
    builtin: usize,
    /// The reflection sources, for the refresh.
    pub reflected: Vec<ReflectedSource>,
}

/// The sources of `config.descriptors`, after `builtin`; the reflection
/// sources' upstreams asked for their descriptors now.
pub(super) async fn descriptor_sources(
    config: &Config,
    base_dir: &Path,
    builtin: &[DescriptorSource],
    upstreams: &BTreeMap<String, Arc<Upstream>>,
    kept: Option<&StateStore>,
    next: &mut StateStore,
    errors: &mut CompileErrors,
) -> DescriptorSources {
    let mut sources = builtin.to_vec();
    let mut reflected = Vec::new();
    let mut places = Vec::new();
    for (index, descriptor) in config.descriptors.iter().enumerate() {
        let place = Place::root().key("descriptors").index(index);
        let source = match descriptor {
            DescriptorConfig { file: Some(file), proto: None, reflection: None, files }
                if files.is_empty() =>
            {
                Some(DescriptorSource::File(base_dir.join(file)))
            }
            DescriptorConfig { file: Some(_), proto: None, reflection: None, .. } => {
                errors.push(&place, "`files` goes with `proto`, not with `file`");
                None
            }
            DescriptorConfig { file: None, proto: Some(root), reflection: None, files } => {
                Some(DescriptorSource::Proto { root: base_dir.join(root), files: files.clone() })
            }
            DescriptorConfig { file: None, proto: None, reflection: Some(reflection), files }
                if files.is_empty() =>
            {
                let place = place.key("reflection");
                let source = reflected_source(reflection, upstreams, kept, &place, errors).await;
                if let Some((source, bytes)) = source {
                    next.reflected.insert(source.upstream.clone(), bytes.clone());
                    reflected.push(source.clone());
                    Some(DescriptorSource::Reflected { upstream: source.upstream, bytes })
                } else {
                    None
                }
            }
            _ => {
                errors.push(
                    &place,
                    "set exactly one of `file` (a descriptor set), `proto` (a directory of .proto files) \
                     or `reflection` (an upstream's gRPC server reflection)",
                );
                None
            }
        };
        if let Some(source) = source {
            sources.push(source);
            places.push(place);
        }
    }
    DescriptorSources { sources, places, builtin: builtin.len(), reflected }
}

impl DescriptorSources {
    /// The schema of every source (`None` when one failed, each failure
    /// at its place): CPU work, decoding and compiling `.proto` sources.
    pub(super) fn schema(&self, errors: &mut CompileErrors) -> Option<Schema> {
        // Pass-through routes need no descriptors: no source is an empty schema.
        Schema::load(&self.sources)
            .map_err(|failures| {
                for failure in failures {
                    let place = match failure.source.and_then(|index| index.checked_sub(self.builtin)) {
                        Some(index) => self.places[index].clone(),
                        None => Place::root().key("descriptors"),
                    };
                    errors.push(place, failure.error);
                }
            })
            .ok()
    }
}

/// The reflection source `reflection` names and the descriptors its
/// upstream gives now (or gave the runtime being replaced).
async fn reflected_source(
    reflection: &ReflectionConfig,
    upstreams: &BTreeMap<String, Arc<Upstream>>,
    kept: Option<&StateStore>,
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<(ReflectedSource, Arc<[u8]>)> {
    let refresh = duration(reflection.refresh, DEFAULT_REFLECTION_REFRESH, &place.key("refresh"), errors);
    let name = &reflection.upstream;
    let Some(upstream) = upstreams.get(name) else {
        let known = upstreams.keys().map(String::as_str);
        errors.push(place.key("upstream"), unknown_name("upstream", name, known));
        return None;
    };
    let bytes = match reflect(upstream).await {
        Ok(bytes) => Arc::from(bytes),
        Err(error) => match kept.and_then(|store| store.reflected.get(name)) {
            Some(last_good) => {
                tracing::warn!(upstream = %name, "{error}; keeping the descriptors it gave before");
                last_good.clone()
            }
            None => {
                errors.push(place, error);
                return None;
            }
        },
    };
    Some((ReflectedSource { upstream: name.clone(), refresh }, bytes))
}

/// The encoded file set `upstream`'s server reflection gives, asked of
/// its endpoints in turn until one answers.
pub async fn reflect(upstream: &Upstream) -> Result<Vec<u8>, SchemaError> {
    let failed = |message: &str| SchemaError::Reflection {
        upstream: upstream.name().to_owned(),
        message: message.to_owned(),
    };
    let endpoints = upstream.endpoints();
    let mut last = failed("it has no endpoint yet");
    for endpoint in endpoints.iter() {
        let Some(channel) = endpoint.channel() else {
            return Err(failed("it is an HTTP upstream; server reflection needs a gRPC one"));
        };
        match fetch_file_set(channel.clone(), upstream.name()).await {
            Ok(bytes) => return Ok(bytes),
            Err(error) => last = error,
        }
    }
    Err(last)
}
