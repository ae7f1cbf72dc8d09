//! Percentiles and formatting of figures.

use std::time::Duration;

/// Milliseconds of a duration, as a float.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// p50 and p99 (nearest rank) of some samples, in their unit; NaN when there are none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct P50P99 {
    /// The median.
    pub(crate) p50: f64,
    /// The 99th percentile.
    pub(crate) p99: f64,
}

/// Nearest-rank p50 and p99 of `samples`.
pub(crate) fn p50_p99(samples: &[f64]) -> P50P99 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    P50P99 { p50: percentile(&s, 50.0), p99: percentile(&s, 99.0) }
}

/// Nearest-rank percentile `p` of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A figure with `digits` decimals, `–` when it is not a number.
pub(crate) fn fmt(v: f64, digits: usize) -> String {
    if v.is_finite() { format!("{v:.digits$}") } else { "–".into() }
}

/// `p50 / p99` in ms with one decimal.
pub(crate) fn fmt_pair(p: P50P99) -> String {
    format!("{} / {}", fmt(p.p50, 1), fmt(p.p99, 1))
}

/// `a / b`, NaN when `b` is zero or either is not a number.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 || !a.is_finite() || !b.is_finite() { f64::NAN } else { a / b }
}

/// Mean of the finite values, NaN when there are none.
pub(crate) fn mean(values: &[f64]) -> f64 {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() { f64::NAN } else { finite.iter().sum::<f64>() / finite.len() as f64 }
}

/// A byte count in KiB with one decimal.
pub(crate) fn kib(bytes: f64) -> String {
    fmt(bytes / 1024.0, 2)
}

/// A Markdown table from a header and rows.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", header.join(" | "));
    out.push_str(&format!("|{}\n", header.iter().map(|_| "---:|").collect::<String>()));
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}
