//! Which candidate endpoint gets a call: round robin, or the power of two
//! choices by least requests in flight.
//!
//! Not tower's `balance`: that is a `Service` which routes requests itself,
//! while the upstream room hands a target one endpoint (`pick`) and hears
//! back how the call went (`finish`), with health, ejection and the breaker
//! deciding who is a candidate. Selection takes no lock and allocates
//! nothing: it counts the candidates, then walks to the chosen one.

use std::{
    hash::{BuildHasher, RandomState},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use super::endpoint::Endpoint;

/// How an upstream spreads calls over its endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Balancing {
    /// Each candidate in turn.
    #[default]
    RoundRobin,
    /// Two random candidates; the one with fewer calls in flight.
    LeastRequest,
}

/// The balancer of one pool.
#[derive(Debug)]
pub(super) struct Balancer {
    balancing: Balancing,
    /// The round-robin turn, or the counter behind the random draws.
    turn: AtomicU64,
    seed: u64,
}

impl Balancer {
    pub(super) fn new(balancing: Balancing) -> Self {
        Self { balancing, turn: AtomicU64::new(0), seed: RandomState::new().hash_one("protogate") }
    }

    /// The index of the endpoint for the next call among those for which
    /// `is_candidate` holds; `None` when there is none.
    pub(super) fn choose(
        &self,
        endpoints: &[Arc<Endpoint>],
        is_candidate: impl Fn(&Endpoint) -> bool,
    ) -> Option<usize> {
        let count = endpoints.iter().filter(|e| is_candidate(e)).count();
        let count64 = u64::try_from(count).ok().filter(|&n| n > 0)?;
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        // The candidates can change between the two walks; the first one
        // left stands in for a rank that is gone.
        let nth = |rank: u64| {
            let rank = usize::try_from(rank).unwrap_or(0);
            nth_candidate(endpoints, &is_candidate, rank)
                .or_else(|| nth_candidate(endpoints, &is_candidate, 0))
        };
        match self.balancing {
            Balancing::RoundRobin => nth(turn % count64),
            Balancing::LeastRequest if count == 1 => nth(0),
            Balancing::LeastRequest => {
                let draw = splitmix64(self.seed ^ turn);
                let first = draw % count64;
                // A different second candidate: an offset of 1..count from the first.
                let second = (first + 1 + (draw >> 32) % (count64 - 1)) % count64;
                let (a, b) = (nth(first)?, nth(second)?);
                let load = |index: usize| endpoints.get(index).map_or(usize::MAX, |e| e.state().in_flight());
                Some(if load(b) < load(a) { b } else { a })
            }
        }
    }
}

fn nth_candidate(
    endpoints: &[Arc<Endpoint>],
    is_candidate: &impl Fn(&Endpoint) -> bool,
    rank: usize,
) -> Option<usize> {
    endpoints.iter().enumerate().filter(|(_, e)| is_candidate(e)).nth(rank).map(|(index, _)| index)
}

/// A well-mixed 64-bit value from a counter (Steele, Lea and Flood's SplitMix64).
pub(super) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::upstream::{
        endpoint::InFlight,
        tests::{test_endpoints, test_settings},
    };

    fn pool(size: usize) -> Vec<Arc<Endpoint>> {
        test_endpoints(&test_settings(size))
    }

    fn picks(balancer: &Balancer, pool: &[Arc<Endpoint>], n: usize) -> Vec<usize> {
        let now = Instant::now();
        (0..n).map(|_| balancer.choose(pool, |e| e.state().is_candidate(now)).unwrap()).collect()
    }

    #[tokio::test]
    async fn round_robin_takes_turns_and_skips_who_cannot_serve() {
        let balancer = Balancer::new(Balancing::RoundRobin);
        let pool = pool(3);
        assert_eq!(picks(&balancer, &pool, 6), [0, 1, 2, 0, 1, 2]);
        pool[1].state().set_healthy(false);
        let now = Instant::now();
        for _ in 0..5 {
            pool[2].state().record_failure();
        }
        pool[2].state().eject(now, std::time::Duration::from_secs(10), std::time::Duration::from_secs(10));
        assert_eq!(picks(&balancer, &pool, 3), [0, 0, 0]);
        pool[2].state().set_healthy(false);
        pool[0].state().set_healthy(false);
        assert_eq!(balancer.choose(&pool, |e| e.state().is_candidate(now)), None);
    }

    #[tokio::test]
    async fn least_request_prefers_the_less_loaded() {
        let balancer = Balancer::new(Balancing::LeastRequest);
        let pool = pool(3);
        let _busy: Vec<InFlight> = (0..5).map(|_| InFlight::start(pool[0].clone())).collect();
        let _one = InFlight::start(pool[1].clone());
        let chosen = picks(&balancer, &pool, 300);
        assert!(!chosen.contains(&0), "the busiest is never one of two distinct lesser choices");
        let idle = chosen.iter().filter(|&&i| i == 2).count();
        // Endpoint 2 wins every draw it is in (2 of the 3 pairs), endpoint
        // 1 the pair {0, 1}.
        assert!((150..=250).contains(&idle), "{idle} of 300 picks went to the idle endpoint");
        assert_eq!(chosen.iter().filter(|&&i| i == 1).count(), 300 - idle);

        // Two endpoints: always the less loaded.
        let pair = self::pool(2);
        let _busy = InFlight::start(pair[1].clone());
        assert_eq!(picks(&balancer, &pair, 20), [0; 20]);
    }
}
