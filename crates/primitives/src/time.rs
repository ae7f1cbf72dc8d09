//! Wall-clock time in the unit every record and deadline of Keyward uses: Unix seconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current Unix time in seconds (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_after_2025_and_monotone_enough() {
        let a = unix_now();
        assert!(a > 1_735_689_600, "{a}");
        assert!(unix_now() >= a);
    }
}
