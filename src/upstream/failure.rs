//! Which answers count as failures of an upstream: a set of gRPC codes
//! (configurable per upstream) and, for HTTP, every 5xx.

use tonic::Code;

/// Every gRPC code with its canonical name, as written in the config.
const NAMES: [(&str, Code); 17] = [
    ("OK", Code::Ok),
    ("CANCELLED", Code::Cancelled),
    ("UNKNOWN", Code::Unknown),
    ("INVALID_ARGUMENT", Code::InvalidArgument),
    ("DEADLINE_EXCEEDED", Code::DeadlineExceeded),
    ("NOT_FOUND", Code::NotFound),
    ("ALREADY_EXISTS", Code::AlreadyExists),
    ("PERMISSION_DENIED", Code::PermissionDenied),
    ("RESOURCE_EXHAUSTED", Code::ResourceExhausted),
    ("FAILED_PRECONDITION", Code::FailedPrecondition),
    ("ABORTED", Code::Aborted),
    ("OUT_OF_RANGE", Code::OutOfRange),
    ("UNIMPLEMENTED", Code::Unimplemented),
    ("INTERNAL", Code::Internal),
    ("UNAVAILABLE", Code::Unavailable),
    ("DATA_LOSS", Code::DataLoss),
    ("UNAUTHENTICATED", Code::Unauthenticated),
];

/// The gRPC code named `name` (`UNAVAILABLE`, `DEADLINE_EXCEEDED`, ...).
pub fn code_named(name: &str) -> Option<Code> {
    NAMES.iter().find(|(known, _)| *known == name).map(|(_, code)| *code)
}

/// The canonical name of `code` (`NOT_FOUND`), as the config and metrics write it.
pub fn code_name(code: Code) -> &'static str {
    NAMES.get(code as usize).map_or("UNKNOWN", |(name, _)| *name)
}

/// The canonical names of the gRPC codes, for suggestions.
pub fn code_names() -> impl Iterator<Item = &'static str> {
    NAMES.iter().map(|(name, _)| *name)
}

/// A set of gRPC codes that count as failures of the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCodes {
    /// Bit `n` set: code `n` is a failure.
    bits: u32,
}

impl Default for FailureCodes {
    /// UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL and UNKNOWN.
    fn default() -> Self {
        Self::new([Code::Unavailable, Code::DeadlineExceeded, Code::Internal, Code::Unknown])
    }
}

impl FailureCodes {
    /// Exactly these codes.
    pub fn new(codes: impl IntoIterator<Item = Code>) -> Self {
        Self { bits: codes.into_iter().fold(0, |bits, code| bits | bit(code)) }
    }

    /// Whether `code` counts as a failure.
    pub fn contains(&self, code: Code) -> bool {
        self.bits & bit(code) != 0
    }
}

fn bit(code: Code) -> u32 {
    // gRPC codes are 0..=16; anything else (never produced by tonic) maps to no bit.
    u32::try_from(code as i32).ok().and_then(|n| 1u32.checked_shl(n)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_set_and_names() {
        let codes = FailureCodes::default();
        for code in [Code::Unavailable, Code::DeadlineExceeded, Code::Internal, Code::Unknown] {
            assert!(codes.contains(code), "{code:?}");
        }
        assert!(!codes.contains(Code::NotFound));
        assert!(!codes.contains(Code::Ok));
        assert_eq!(code_named("RESOURCE_EXHAUSTED"), Some(Code::ResourceExhausted));
        for (name, code) in NAMES {
            assert_eq!(code_name(code), name, "NAMES is in the codes' order");
        }
        assert_eq!(code_named("unavailable"), None);
        assert_eq!(code_names().count(), 17);
        assert!(FailureCodes::new([Code::NotFound]).contains(Code::NotFound));
    }
}
