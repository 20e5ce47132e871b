//! Transcoding: an HTTP/JSON request becomes a dynamic gRPC call and the
//! reply becomes JSON. Binding and rendering are compiled once per route;
//! nothing here looks up a descriptor by name on the request path.

pub mod bind;
pub mod codec;
pub mod failure;
pub mod field_path;
pub mod metadata;
pub mod render;
pub mod target;

#[cfg(test)]
mod tests;
