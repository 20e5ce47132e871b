//! Policies: what a route asks of a request before its target sees it.
//!
//! Each policy works on the request head (`http::request::Parts`) and knows
//! nothing of the target it guards (transcoded or proxied).

pub mod auth;
