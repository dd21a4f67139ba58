//! Per-client token-bucket rate limiting.
//!
//! Every client IP has a bucket of `burst` tokens refilled at `rate` tokens per second; a
//! request takes one token, and a request finding the bucket empty is refused with the time
//! until the next token (sent as `Retry-After`). Idle full buckets are forgotten, so the table
//! stays small.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Buckets kept before idle ones are pruned.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token-bucket limiter keyed by client IP.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// A limiter allowing `rate` requests per second with bursts of `burst`. A `rate` of 0
    /// disables limiting.
    #[must_use]
    pub fn new(rate: f64, burst: u32) -> Self {
        Self {
            rate: rate.max(0.0),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// True when limiting is off.
    #[must_use]
    pub fn disabled(&self) -> bool {
        self.rate <= 0.0
    }

    /// Takes a token for `ip` at time `now`.
    ///
    /// # Errors
    /// How long to wait when the bucket is empty.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.disabled() {
            return Ok(());
        }
        let mut map = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= PRUNE_AT {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
            });
        }
        let bucket = map.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_at_rate() {
        let rl = RateLimiter::new(2.0, 3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            rl.check(ip, t0).unwrap();
        }
        let wait = rl.check(ip, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        rl.check(other, t0).unwrap();
        rl.check(ip, t0 + Duration::from_millis(500)).unwrap();
        assert!(rl.check(ip, t0 + Duration::from_millis(500)).is_err());
        // Refill is capped at burst.
        let later = t0 + Duration::from_secs(100);
        for _ in 0..3 {
            rl.check(ip, later).unwrap();
        }
        assert!(rl.check(ip, later).is_err());
    }

    #[test]
    fn zero_rate_disables() {
        let rl = RateLimiter::new(0.0, 1);
        let ip: IpAddr = "::1".parse().unwrap();
        for _ in 0..100 {
            rl.check(ip, Instant::now()).unwrap();
        }
    }
}
