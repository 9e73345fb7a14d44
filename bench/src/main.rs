//! `cargo run --release -p sesame-bench -- [--quick]`: the real `sesame serve` (release build) on
//! a fresh SQLite database, loaded from this separate process over loopback.
//!
//! Scenarios: (a) GET the login page, (b) correct login with CSRF, (c) wrong password
//! (throttling off), (d) "Mot de passe oublié" (captcha off, e-mails queued), (e) API session
//! creation, (f) "Mes services e-santé" with a session, (g) overload: many concurrent logins
//! while the login page and /healthz are probed; OpenID Connect: (h) discovery and JWKS, (i) code
//! exchange and (j) refresh for an ES256 client, (k) userinfo, (l) code exchange for an RS256
//! client (bench/src/oidc.rs). The raw argon2id rate at the same parameters
//! is measured in the same run, on all cores, reusing each thread's memory, just before and just
//! after the correct-login scenario.

mod load;
mod oidc;
mod server;

use clap::Parser;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(about = "Load benchmark of the real sesame server")]
struct Args {
    /// A seconds-long smoke run (CI): few accounts, short scenarios.
    #[arg(long)]
    quick: bool,
    /// Accounts seeded before the run.
    #[arg(long, default_value_t = 1000)]
    accounts: u32,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent clients (login scenarios use as many as the server has hashing workers × 4).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Concurrent clients of the overload scenario.
    #[arg(long, default_value_t = 1000)]
    overload: usize,
    /// Where to write the JSON report (default: bench/results/latest.json, or a temporary
    /// file with --quick).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also rewrite the table in docs/benchmarks.md.
    #[arg(long)]
    update_docs: bool,
    /// Run on PostgreSQL: a throw-away cluster started with the installed initdb/pg_ctl (or
    /// the server named by SESAME_TEST_DATABASE_URL), instead of SQLite.
    #[arg(long)]
    postgres: bool,
    /// Run only these scenarios, by letter (e.g. `--only d,f`), to profile one of them. The
    /// report of a partial run is not written to the docs.
    #[arg(long, value_delimiter = ',')]
    only: Vec<char>,
    /// Load this `sesame` binary instead of building the release one (e.g. a build with
    /// symbols, to profile it: see docs/benchmarks.md).
    #[arg(long)]
    binary: Option<PathBuf>,
}

impl Args {
    fn runs(&self, scenario: char) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: String,
    pub cores: usize,
    pub accounts: u32,
    pub database: String,
    pub argon2: String,
    /// The mean of the two measurements below.
    pub raw_argon2_hashes_per_second: f64,
    /// Measured just before and just after scenario (b), so that the ratio compares rates
    /// taken minutes apart at most (this machine's speed drifts by ±15 % over a run).
    pub raw_argon2_before_and_after_login: (f64, f64),
    pub login_ratio_to_raw: f64,
    pub start_to_ready_ms: u128,
    pub idle_rss_mb: f64,
    pub scenarios: Vec<load::Outcome>,
}

fn main() -> std::process::ExitCode {
    let mut args = Args::parse();
    if args.quick {
        args.accounts = args.accounts.min(50);
        args.seconds = 1;
        args.concurrency = args.concurrency.min(16);
        args.overload = args.overload.min(100);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(1)
        }
    }
}

async fn run(args: &Args) -> Result<(), String> {
    let binary = match &args.binary {
        Some(path) => std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => server::build_release()?,
    };
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let raw_rate = || raw_argon2_rate(args, cores);
    let database_url = if args.postgres { Some(sesame_testkit::postgres_database_url().await) } else { None };
    let seeded = server::Seeded::new(args.accounts, database_url).await?;
    let duration = Duration::from_secs(args.seconds);
    let mut scenarios = Vec::new();

    let running = server::Running::start(&binary, &seeded, true).await?;
    let (start_to_ready_ms, idle_rss_mb) = (running.ready_after.as_millis(), running.rss_mb());
    println!("start to ready: {start_to_ready_ms} ms; idle RSS: {idle_rss_mb:.1} MB");
    let logins = (cores * 4).max(8).min(args.concurrency);
    if args.runs('a') {
        scenarios.push(load::login_page(&running, args.concurrency, duration).await);
    }
    let mut raw = (0.0, 0.0);
    if args.runs('b') {
        raw.0 = raw_rate();
        scenarios.push(load::login(&running, &seeded, logins, duration, true).await);
        raw.1 = raw_rate();
    }
    if args.runs('d') {
        scenarios.push(load::forgot_password(&running, &seeded, args.concurrency, duration).await);
    }
    if args.runs('e') {
        scenarios.push(load::api_sessions(&running, &seeded, logins, duration).await);
    }
    if args.runs('f') {
        scenarios.push(load::services(&running, &seeded, args.concurrency, duration).await);
    }
    if args.runs('g') {
        scenarios.push(load::overload(&running, &seeded, args.overload, duration).await);
    }
    if args.runs('h') {
        scenarios.push(oidc::discovery(&running, args.concurrency, duration).await);
    }
    if ['i', 'j', 'k'].iter().any(|&s| args.runs(s)) {
        let service = oidc::Service::setup(&binary, &running, &seeded, args.concurrency, "ES256").await?;
        if args.runs('i') {
            scenarios.push(oidc::code_exchange(&running, &service, duration).await);
        }
        if args.runs('j') {
            scenarios.push(oidc::refresh(&running, &service, duration).await);
        }
        if args.runs('k') {
            scenarios.push(oidc::userinfo(&running, &service, duration).await);
        }
    }
    if args.runs('l') {
        let service = oidc::Service::setup(&binary, &running, &seeded, args.concurrency, "RS256").await?;
        scenarios.push(oidc::code_exchange(&running, &service, duration).await);
    }
    drop(running);

    if args.runs('c') {
        let no_throttle = server::Running::start(&binary, &seeded, false).await?;
        insert_in_order(&mut scenarios, load::login(&no_throttle, &seeded, logins, duration, false).await);
    }

    let login_rps = scenarios.iter().find(|s| s.name.starts_with("(b)")).map_or(0.0, |s| s.requests_per_second);
    let report = Report {
        machine: server::machine(),
        cores,
        accounts: args.accounts,
        database: if args.postgres { "PostgreSQL 15 (throw-away cluster)".into() } else { "SQLite (WAL)".into() },
        argon2: "argon2id m=19456 KiB, t=2, p=1".into(),
        raw_argon2_hashes_per_second: f64::midpoint(raw.0, raw.1),
        raw_argon2_before_and_after_login: raw,
        login_ratio_to_raw: if raw.0 + raw.1 > 0.0 { login_rps / f64::midpoint(raw.0, raw.1) } else { 0.0 },
        start_to_ready_ms,
        idle_rss_mb,
        scenarios,
    };
    write_report(args, &report)
}

/// The raw argon2id rate on every core, printed.
fn raw_argon2_rate(args: &Args, cores: usize) -> f64 {
    let raw = server::raw_argon2_rate(Duration::from_secs(args.seconds.clamp(1, 5)), cores);
    println!("raw argon2id (m=19456 KiB, t=2, p=1, {cores} threads, memory reused): {raw:.1} hashes/s");
    raw
}

/// Scenario (c) runs on its own server, last: its place in the report is by its name.
fn insert_in_order(scenarios: &mut Vec<load::Outcome>, outcome: load::Outcome) {
    let at = scenarios.iter().position(|s| s.name.as_str() > outcome.name.as_str()).unwrap_or(scenarios.len());
    scenarios.insert(at, outcome);
}

/// Prints the tables, writes the JSON (and the docs with `--update-docs`); fails when a scenario
/// got unexpected answers.
fn write_report(args: &Args, report: &Report) -> Result<(), String> {
    let table = markdown(report);
    println!("\n{table}");
    let out = args.out.clone().unwrap_or_else(|| {
        let name = if args.postgres { "latest-postgres.json" } else { "latest.json" };
        if args.quick {
            std::env::temp_dir().join("sesame-bench-quick.json")
        } else {
            PathBuf::from("bench/results").join(name)
        }
    });
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out, serde_json::to_string_pretty(report).map_err(|e| e.to_string())?)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    println!("JSON report: {}", out.display());
    if args.update_docs && !args.only.is_empty() {
        return Err("--update-docs needs a full run: drop --only".into());
    }
    if args.update_docs {
        server::update_docs(&table, args.postgres)?;
    }
    let broken: Vec<_> = report.scenarios.iter().filter(|s| s.unexpected > 0).map(|s| s.name.clone()).collect();
    if broken.is_empty() { Ok(()) } else { Err(format!("unexpected answers in: {}", broken.join(", "))) }
}

fn markdown(r: &Report) -> String {
    let mut out = format!(
        "Machine: {} ({} cores). {}, {} accounts. {}.\n\nRaw argon2id rate: **{:.1} hashes/s** ({:.1} just before scenario (b), {:.1} just after); correct login (b): **{:.1} % of it**. Start to ready: {} ms. Idle RSS: {:.1} MB.\n\n",
        r.machine,
        r.cores,
        r.database,
        r.accounts,
        r.argon2,
        r.raw_argon2_hashes_per_second,
        r.raw_argon2_before_and_after_login.0,
        r.raw_argon2_before_and_after_login.1,
        r.login_ratio_to_raw * 100.0,
        r.start_to_ready_ms,
        r.idle_rss_mb
    );
    out.push_str("| Scenario | Clients | Requests/s | p50 ms | p95 ms | p99 ms | Statuses | Server CPU | Peak RSS MB |\n|---|---|---|---|---|---|---|---|---|\n");
    for s in &r.scenarios {
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.0} % | {:.1} |\n",
            s.name,
            s.clients,
            s.requests_per_second,
            s.p50_ms,
            s.p95_ms,
            s.p99_ms,
            s.statuses,
            s.server_cpu_percent,
            s.peak_rss_mb
        ));
        for extra in &s.notes {
            out.push_str(&format!("| ↳ {extra} | | | | | | | | |\n"));
        }
    }
    out
}
