//! wrk, the HTTP load generator, run from the benchmarks as a second
//! process: installed when missing (as root), run, and its `--latency`
//! report read.

use std::process::Command;
use std::time::Duration;

/// Per target: a warm-up run whose figures are dropped, then
/// [`ROUNDS`] runs of the load taken in turns with the other targets',
/// then one connection alone: one request at a time, the latency of a
/// request over HTTP without queueing.
pub const WARMUP: Shape = Shape {
    duration: Duration::from_secs(3),
    ..LOAD
};
pub const LOAD: Shape = Shape {
    threads: 2,
    connections: 16,
    duration: Duration::from_secs(3),
};
/// Rounds of [`LOAD`]: in each, every target once, one after the other, so
/// a target and the ceiling it is set against share whatever else the
/// machine is doing in that round.
pub const ROUNDS: usize = 5;
pub const ALONE: Shape = Shape {
    threads: 1,
    connections: 1,
    duration: Duration::from_secs(5),
};

/// wrk's threads, open connections (keep-alive) and duration.
#[derive(Clone, Copy)]
pub struct Shape {
    pub threads: usize,
    pub connections: usize,
    pub duration: Duration,
}

/// The version of `wrk` on the PATH; installed with apt-get when missing
/// and running as root; otherwise the process exits with a message.
pub fn wrk_or_exit() -> String {
    if let Some(wrk) = find_wrk() {
        return wrk;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        eprintln!("wrk is missing: installing Debian's package (apt-get update && apt-get install -y wrk) …");
        for args in [&["update"][..], &["install", "-y", "wrk"]] {
            // apt-get's progress goes to stderr: stdout holds the figures.
            let ok = Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(std::io::stderr())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                break;
            }
        }
        if let Some(wrk) = find_wrk() {
            return wrk;
        }
    }
    eprintln!(
        "this benchmark needs wrk, the HTTP load generator: install it as root with \
         `apt-get update && apt-get install -y wrk` (Debian, Ubuntu), then run it again"
    );
    std::process::exit(2);
}

fn find_wrk() -> Option<String> {
    // `wrk --version` prints its version and then its usage, with a
    // failing status: being able to run it is what counts.
    let out = Command::new("wrk").arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
}

/// What one wrk run reports.
#[derive(Clone)]
pub struct Load {
    pub requests: u64,
    pub per_second: f64,
    pub p50: Duration,
    pub p75: Duration,
    pub p90: Duration,
    pub p99: Duration,
    /// Responses other than 2xx or 3xx.
    pub non_2xx: u64,
    /// wrk's socket errors line (connect, read, write, timeout), if any.
    pub socket_errors: Option<String>,
}

impl Load {
    /// Several runs of one target as one: the median of each figure over
    /// the runs (requests, errors and non-2xx responses summed).
    pub fn median(runs: &[Load]) -> Load {
        assert!(!runs.is_empty(), "no runs");
        fn middle<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
            values.sort_by(|a, b| a.partial_cmp(b).expect("comparable"));
            values[(values.len() - 1) / 2]
        }
        let socket_errors: Vec<&str> = runs.iter().filter_map(|r| r.socket_errors.as_deref()).collect();
        Load {
            requests: runs.iter().map(|r| r.requests).sum(),
            per_second: middle(runs.iter().map(|r| r.per_second).collect()),
            p50: middle(runs.iter().map(|r| r.p50).collect()),
            p75: middle(runs.iter().map(|r| r.p75).collect()),
            p90: middle(runs.iter().map(|r| r.p90).collect()),
            p99: middle(runs.iter().map(|r| r.p99).collect()),
            non_2xx: runs.iter().map(|r| r.non_2xx).sum(),
            socket_errors: (!socket_errors.is_empty()).then(|| socket_errors.join(" / ")),
        }
    }
}

pub fn run_wrk(url: &str, shape: Shape) -> Load {
    let out = Command::new("wrk")
        .arg("--latency")
        .args(["--threads", &shape.threads.to_string()])
        .args(["--connections", &shape.connections.to_string()])
        .args(["--duration", &format!("{}s", shape.duration.as_secs())])
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_wrk(&text).unwrap_or_else(|| panic!("unexpected wrk output:\n{text}"))
}

/// Reads wrk's `--latency` report.
fn parse_wrk(text: &str) -> Option<Load> {
    let line = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let percentile = |p: &str| line(p).and_then(wrk_duration);
    Some(Load {
        requests: text
            .lines()
            .find(|l| l.contains(" requests in "))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?,
        per_second: line("Requests/sec:")?.parse().ok()?,
        p50: percentile("50%")?,
        p75: percentile("75%")?,
        p90: percentile("90%")?,
        p99: percentile("99%")?,
        non_2xx: line("Non-2xx or 3xx responses:").map_or(Some(0), |n| n.parse().ok())?,
        socket_errors: line("Socket errors:").map(str::to_owned),
    })
}

/// wrk's durations: `250.00us`, `1.23ms`, `2.00s`, `1.50m`.
fn wrk_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(number * scale))
}
