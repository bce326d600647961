//! Timing and printing shared by the benchmarks: runs taken in
//! alternation with the limits they are set against, nearest-rank
//! percentiles, and a table that prints each figure beside its limit.

#![allow(dead_code)] // each bench binary uses part of it

pub mod wrk;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Durations of `iters` calls of each of `runs`, after `warmup` calls of
/// each whose times are dropped. The runs take turns, `block` calls at a
/// time, so a figure and the limit it is set against share whatever else
/// the machine was doing; blocks rather than single calls, so that
/// microsecond calls are not measured on caches the other run just
/// evicted. Each call gets its index (warm-up calls first) and returns the
/// time of its own timed section, so it can keep its setup out of it.
pub fn measure<const N: usize>(
    warmup: usize,
    iters: usize,
    block: usize,
    mut runs: [&mut dyn FnMut(usize) -> Duration; N],
) -> [Sample; N] {
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(iters));
    let total = warmup + iters;
    for start in (0..total).step_by(block) {
        for (run, times) in runs.iter_mut().zip(times.iter_mut()) {
            for i in start..(start + block).min(total) {
                let took = run(i);
                if i >= warmup {
                    times.push(took);
                }
            }
        }
    }
    times.map(|mut times| {
        times.sort_unstable();
        Sample { warmup, times }
    })
}

pub fn timed<R>(f: impl FnOnce() -> R) -> Duration {
    let began = Instant::now();
    black_box(f());
    began.elapsed()
}

/// Sorted run times.
pub struct Sample {
    pub warmup: usize,
    pub times: Vec<Duration>,
}

impl Sample {
    /// Nearest-rank percentile.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.times.len();
        let rank = ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n);
        self.times[rank - 1]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub fn ratio(measured: Duration, limit: Duration) -> String {
    format!("ratio {:.2}x", secs(measured) / secs(limit))
}

pub fn show(d: Duration) -> String {
    let s = secs(d);
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

// --- the table -----------------------------------------------------------

/// What a figure is set against.
pub struct Limit {
    label: String,
    p50: Option<Duration>,
    p99: Option<Duration>,
    verdict: String,
}

impl Limit {
    pub fn sample(label: &str, sample: &Sample, verdict: String) -> Self {
        Limit {
            label: label.into(),
            p50: Some(sample.p50()),
            p99: Some(sample.p99()),
            verdict,
        }
    }

    /// A limit derived from another measurement (e.g. n × argon2id).
    pub fn value(label: &str, p50: Duration, verdict: String) -> Self {
        Limit {
            label: label.into(),
            p50: Some(p50),
            p99: None,
            verdict,
        }
    }

    pub fn none(label: &str) -> Self {
        Limit {
            label: label.into(),
            p50: None,
            p99: None,
            verdict: String::new(),
        }
    }
}

#[derive(Default)]
pub struct Table {
    lines: Vec<String>,
}

impl Table {
    pub fn row(&mut self, what: &str, sample: &Sample, limits: Vec<Limit>) {
        let runs = format!("{}+{}", sample.times.len(), sample.warmup);
        let left = format!(
            "{what:<48} {runs:>9}  p50 {:>9}  p99 {:>9}",
            show(sample.p50()),
            show(sample.p99())
        );
        for (i, limit) in limits.into_iter().enumerate() {
            let left = if i == 0 {
                left.clone()
            } else {
                " ".repeat(left.chars().count())
            };
            let figures = |label: &str, d: Option<Duration>| d.map(|d| format!("{label} {:>9}", show(d)));
            let p50 = figures("p50", limit.p50).unwrap_or_default();
            let p99 = figures("p99", limit.p99).unwrap_or_default();
            let mut line = format!("{left} | {:<28} {p50:<13}  {p99:<13}", limit.label);
            if !limit.verdict.is_empty() {
                line = format!("{line} | {}", limit.verdict);
            }
            self.lines.push(line.trim_end().to_owned());
        }
    }

    pub fn print(&self) {
        println!(
            "{:<48} {:>9}  {:<28} | {:<57} | verdict",
            "measure", "n+w", "", "limit, measured in this run"
        );
        for line in &self.lines {
            println!("{line}");
        }
    }
}

/// A synthetic directory of `n` policyholders (one per enrollment a
/// benchmark makes), as the JSON `--directory` and `FileDirectory` read.
/// Each is another person (birth dates differ): the confirmations allowed
/// per person an hour are not what a benchmark measures.
pub fn synthetic_directory(n: usize) -> serde_json::Value {
    let holders: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "customer_id": format!("B{i:07}"),
                "family_name": "山田",
                "given_name": "太郎",
                "family_name_kana": "ヤマダ",
                "given_name_kana": "タロウ",
                "birth_date": format!("{}-{:02}-{:02}", 1950 + i / 336, 1 + (i / 28) % 12, 1 + i % 28),
                "phone": format!("090{i:08}"),
                "postal_code": "1000004",
                "contracts": [{
                    "policy_number": format!("B{i:09}"),
                    "product": "自動車保険",
                    "subject": "品川 300 さ 12-34",
                    "expiry_date": "2027-01-31",
                    "renewable": true
                }]
            })
        })
        .collect();
    serde_json::json!({ "policyholders": holders })
}
