//! The reflection trigger: every `refresh` (the shortest among the running
//! config's reflection sources), each source's upstream is asked for its
//! descriptors again, and when any gives something other than what the
//! running runtime was built from, the config is reloaded (which asks
//! again and compiles). A refresh whose question fails changes nothing: the
//! last good descriptors keep serving, and the failure is logged.

use std::{sync::Arc, time::Duration};

use super::{Reloader, Trigger};
use crate::{compile, runtime::Runtime, task::TaskGuard};

/// Starts refreshing the reflection sources of `reloader`'s running config.
pub(super) fn start(reloader: Arc<Reloader>) -> TaskGuard {
    let mut generations = reloader.generation.subscribe();
    TaskGuard::spawn(async move {
        loop {
            let every = reloader.gateway.runtime().reflected().iter().map(|source| source.refresh).min();
            tokio::select! {
                () = sleep_or_forever(every) => {
                    if changed(&reloader.gateway.runtime()).await {
                        reloader.reload(Trigger::Reflection).await;
                    }
                }
                generation = generations.changed() => {
                    if generation.is_err() {
                        return;
                    }
                }
            }
            generations.mark_unchanged();
        }
    })
}

async fn sleep_or_forever(every: Option<Duration>) {
    match every {
        Some(every) => tokio::time::sleep(every).await,
        None => std::future::pending().await,
    }
}

/// Whether any reflection source's upstream now gives other descriptors
/// than `runtime` was built from.
async fn changed(runtime: &Runtime) -> bool {
    for source in runtime.reflected() {
        let Some(upstream) = runtime.upstreams().get(&source.upstream) else { continue };
        match compile::reflect(upstream).await {
            Ok(now) if runtime.store().reflected.get(&source.upstream).is_some_and(|then| **then == *now) => {
            }
            Ok(_) => return true,
            Err(error) => {
                tracing::warn!("reflection refresh: {error}; the last good descriptors keep serving")
            }
        }
    }
    false
}
