//! Random-looking 64-bit values for ids (request ids, trace and span ids):
//! a per-thread SipHash with random keys over a per-thread counter. No
//! lock, no shared atomic; unique in practice, not meant to be secret.

use std::{
    cell::Cell,
    hash::{BuildHasher, RandomState},
};

thread_local! {
    static KEYS: RandomState = RandomState::new();
    static COUNTER: Cell<u64> = const { Cell::new(0) };
}

/// Two fresh values (128 bits).
pub(super) fn pair() -> (u64, u64) {
    let n = COUNTER.with(|counter| {
        let n = counter.get().wrapping_add(1);
        counter.set(n);
        n
    });
    KEYS.with(|keys| (keys.hash_one((n, 0u8)), keys.hash_one((n, 1u8))))
}
