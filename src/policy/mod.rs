//! Policies that stand between the router and a target.
//!
//! - [`rate_limit`]: GCRA rate limits, per process or shared through Redis.

pub mod rate_limit;
