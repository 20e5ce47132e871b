//! Policies: what a route asks of a request before its target sees it.
//!
//! Each route has one [`PolicyChain`], compiled from the policies the
//! config names for it (the gateway's `default_policies`, then the route's
//! own), the same for transcoded and pass-through routes. The chain runs in
//! a fixed order: CORS (preflights answered here), then the request
//! admitted or refused by the other policies, whose response headers (CORS,
//! rate limits) are added to whatever the target answers, errors included;
//! last, the route's limit of requests in flight ([`InFlightLimit`]).
//!
//! A policy knows the request head and the client's address; it does not
//! know which kind of target it guards, nor read bodies.

pub mod auth;
mod chain;
pub mod cors;
mod in_flight;
pub mod rate_limit;

pub use chain::{Admission, Authenticator, Named, PolicyChain, PolicyListener};
pub use in_flight::{InFlightLimit, InFlightPermit, Overloaded};
