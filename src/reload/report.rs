//! What one reload did: when, why, whether it was swapped in, the
//! generation serving after it, its errors and its route changes.

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Serialize;

use crate::runtime::RouteDiff;

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The config file, a descriptor file or a `.proto` directory changed.
    File,
    /// SIGHUP.
    Signal,
    /// `POST /reload` on the admin listener.
    Admin,
    /// A reflection source's upstream gives new descriptors.
    Reflection,
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::File => "file",
            Self::Signal => "signal",
            Self::Admin => "admin",
            Self::Reflection => "reflection",
        })
    }
}

/// Whether a reload was (or, for a dry run, would be) swapped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReloadResult {
    /// Compiled: swapped in (or, for a dry run, would be).
    Ok,
    /// Refused: the old config keeps serving.
    Failed,
}

/// One reload, as the admin API and the logs tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadReport {
    /// What asked for it.
    pub trigger: Trigger,
    /// Whether it only said what it would do.
    pub dry_run: bool,
    /// Whether it was swapped in.
    pub result: ReloadResult,
    /// The generation serving after it.
    pub generation: u64,
    /// When it finished (`Mon, 07 Dec 2026 10:05:58 GMT`).
    pub time: String,
    /// The same, in milliseconds since the Unix epoch.
    pub time_unix_ms: u64,
    /// Why it was refused, one line per problem with its place.
    pub errors: Vec<String>,
    /// The routes it added, removed and changed.
    pub routes: RouteDiff,
    /// What it changes under clients: routes removed or changed, message
    /// fields removed or retyped (logged; refused with
    /// `reload.refuse_breaking`).
    pub breaking: Vec<String>,
}

impl ReloadReport {
    /// The same report, listing `breaking` changes.
    pub fn with_breaking(mut self, breaking: Vec<String>) -> Self {
        self.breaking = breaking;
        self
    }

    /// A report of a reload that finishes now.
    pub fn new(
        trigger: Trigger,
        dry_run: bool,
        result: ReloadResult,
        generation: u64,
        errors: Vec<String>,
        routes: RouteDiff,
    ) -> Self {
        let now = SystemTime::now();
        let time_unix_ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
        Self {
            trigger,
            dry_run,
            result,
            generation,
            time: httpdate::fmt_http_date(now),
            time_unix_ms,
            errors,
            routes,
            breaking: Vec::new(),
        }
    }
}
