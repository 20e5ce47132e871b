//! The client-certificate (mTLS) policy resolved from the config: its
//! consumers, each recognised by exactly one of a common name or an
//! alternative name, and the consumer header. Problems with their place
//! (`policies.partners.mtls.consumers[1]`).

use super::{CompileErrors, Place, auth::header_name};
use crate::{
    config::MtlsConfig,
    policy::auth::{CertificateMatch, MtlsConsumer, MtlsSettings},
};

/// An mTLS policy's settings; `None` (with the problems in `errors`) when
/// the config is wrong.
pub(super) fn mtls_settings(
    config: &MtlsConfig,
    place: &Place,
    errors: &mut CompileErrors,
) -> Option<MtlsSettings> {
    let before = errors.issues.len();
    let consumers = config.consumers.as_ref().map(|list| {
        if list.is_empty() {
            errors.push(
                place.key("consumers"),
                "lists no certificate: leave it out to accept every verified one by its common name",
            );
        }
        let mut consumers = Vec::with_capacity(list.len());
        for (index, entry) in list.iter().enumerate() {
            let here = place.key("consumers").index(index);
            if entry.consumer.is_empty() || http::HeaderValue::from_str(&entry.consumer).is_err() {
                errors.push(here.key("consumer"), "must be a non-empty name of visible characters");
            }
            let matches = match (&entry.common_name, &entry.san) {
                (Some(name), None) if !name.is_empty() => CertificateMatch::CommonName(name.clone()),
                (None, Some(san)) if !san.is_empty() => CertificateMatch::San(san.clone()),
                _ => {
                    errors.push(here, "set exactly one of `common_name` or `san`, not empty");
                    continue;
                }
            };
            consumers.push(MtlsConsumer { consumer: entry.consumer.clone(), matches });
        }
        consumers
    });
    let consumer_header = config
        .consumer_header
        .as_ref()
        .and_then(|name| header_name(name, &place.key("consumer_header"), errors));
    (errors.issues.len() == before).then_some(MtlsSettings { consumers, consumer_header })
}
