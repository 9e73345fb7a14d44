//! The load generator: concurrent clients over loopback, each in a loop until the deadline.

use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::{PASSWORD, Running, Seeded, identifier};

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub name: String,
    pub clients: usize,
    pub requests: u64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// `303×1234, 503×12`
    pub statuses: String,
    /// Answers other than the expected ones (errors included).
    pub unexpected: u64,
    pub server_cpu_percent: f64,
    pub peak_rss_mb: f64,
    pub notes: Vec<String>,
}

struct Samples {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<String, u64>,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// Runs `clients` loops of `request` until `duration` ends.
pub async fn drive<F, Fut>(
    running: &Running,
    name: &str,
    clients: usize,
    duration: Duration,
    expected: &[u16],
    request: F,
) -> Outcome
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u16, String>> + Send,
{
    let request = Arc::new(request);
    let cpu_before = running.cpu_seconds();
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let request = Arc::clone(&request);
        tasks.spawn(async move {
            let mut s = Samples { latencies_us: Vec::new(), statuses: BTreeMap::new() };
            let mut n = 0u64;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let key = match request(c, n).await {
                    Ok(status) => status.to_string(),
                    Err(e) => format!("error ({})", e.chars().take(40).collect::<String>()),
                };
                s.latencies_us.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                *s.statuses.entry(key).or_default() += 1;
                n += 1;
            }
            s
        });
    }
    let samples = tasks.join_all().await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = (running.cpu_seconds() - cpu_before) / elapsed * 100.0;
    let outcome = summarise(name, clients, samples, elapsed, expected, cpu, running.peak_rss_mb());
    println!(
        "{name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {}",
        outcome.requests_per_second, outcome.p50_ms, outcome.p99_ms, outcome.statuses
    );
    outcome
}

/// The clients' samples as one scenario's figures.
fn summarise(
    name: &str,
    clients: usize,
    samples: Vec<Samples>,
    elapsed: f64,
    expected: &[u16],
    server_cpu_percent: f64,
    peak_rss_mb: f64,
) -> Outcome {
    let mut latencies = Vec::new();
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for s in samples {
        latencies.extend(s.latencies_us);
        for (k, v) in s.statuses {
            *statuses.entry(k).or_default() += v;
        }
    }
    latencies.sort_unstable();
    let requests = latencies.len() as u64;
    let unexpected =
        statuses.iter().filter(|(k, _)| !expected.iter().any(|e| e.to_string() == **k)).map(|(_, v)| v).sum();
    Outcome {
        name: name.to_owned(),
        clients,
        requests,
        requests_per_second: requests as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        statuses: statuses.iter().map(|(k, v)| format!("{k}×{v}")).collect::<Vec<_>>().join(", "),
        unexpected,
        server_cpu_percent,
        peak_rss_mb,
        notes: Vec::new(),
    }
}

/// Sends a request; its status, or why it got none.
pub async fn status_of(request: reqwest::RequestBuilder) -> Result<u16, String> {
    request.send().await.map(|r| r.status().as_u16()).map_err(|e| e.to_string())
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(2048)
        .build()
        .unwrap_or_default()
}

/// A browser's CSRF cookie and the matching form token (kept constant: the benchmark does not
/// store the cookies the server sets, so the pair stays valid across logins).
async fn csrf(http: &reqwest::Client, base: &str) -> (String, String) {
    let Ok(page) = http.get(format!("{base}/")).send().await else { return Default::default() };
    let cookie = cookie(&page, "sesame_csrf").unwrap_or_default();
    let body = page.text().await.unwrap_or_default();
    let token = body.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
    (cookie, token)
}

pub async fn forms(running: &Running, clients: usize) -> Arc<Vec<(String, String)>> {
    let http = client();
    let mut out = Vec::new();
    for _ in 0..clients {
        out.push(csrf(&http, &running.base).await);
    }
    Arc::new(out)
}

/// A spread of seeded identifiers for client `c`'s `n`-th request.
fn pick(accounts: u32, c: usize, n: u64) -> String {
    let i = (c as u64 * 7919 + n * 104_729) % u64::from(accounts.max(1));
    identifier(u32::try_from(i).unwrap_or(0) + 1)
}

pub async fn login_page(running: &Running, clients: usize, duration: Duration) -> Outcome {
    let (http, base) = (client(), running.base.clone());
    drive(running, "(a) GET the login page", clients, duration, &[200], move |_, _| {
        let (http, url) = (http.clone(), format!("{base}/"));
        async move { status_of(http.get(url)).await }
    })
    .await
}

pub async fn post_login(
    http: &reqwest::Client,
    base: &str,
    form: &(String, String),
    identifier: &str,
    password: &str,
) -> Result<reqwest::Response, String> {
    http.post(format!("{base}/connexion"))
        .header("cookie", &form.0)
        .form(&[("csrf", form.1.as_str()), ("identifiant", identifier), ("mot_de_passe", password)])
        .send()
        .await
        .map_err(|e| e.to_string())
}

pub async fn login(running: &Running, seeded: &Seeded, clients: usize, duration: Duration, correct: bool) -> Outcome {
    let (name, expected): (&str, &[u16]) = if correct {
        ("(b) POST a correct login", &[303])
    } else {
        ("(c) POST a wrong password (throttling off)", &[200])
    };
    login_expecting(running, seeded, name, clients, duration, correct, expected).await
}

async fn login_expecting(
    running: &Running,
    seeded: &Seeded,
    name: &str,
    clients: usize,
    duration: Duration,
    correct: bool,
    expected: &[u16],
) -> Outcome {
    let forms = forms(running, clients).await;
    let (http, base) = (client(), running.base.clone());
    let password = if correct { PASSWORD } else { "pas le bon mot de passe du tout" };
    let ids: Arc<Vec<String>> = Arc::new((0..clients * 64).map(|k| pick(seeded.accounts, k, k as u64)).collect());
    drive(running, name, clients, duration, expected, move |c, n| {
        let (http, base, forms, ids) = (http.clone(), base.clone(), Arc::clone(&forms), Arc::clone(&ids));
        async move {
            let id = &ids[(c * 64 + usize::try_from(n % 64).unwrap_or(0)) % ids.len()];
            post_login(&http, &base, &forms[c], id, password).await.map(|r| r.status().as_u16())
        }
    })
    .await
}

pub async fn forgot_password(running: &Running, seeded: &Seeded, clients: usize, duration: Duration) -> Outcome {
    let forms = forms(running, clients).await;
    let (http, base, accounts) = (client(), running.base.clone(), seeded.accounts);
    let mut outcome =
        drive(running, "(d) POST Mot de passe oublié (captcha off)", clients, duration, &[200], move |c, n| {
            let (http, base, forms) = (http.clone(), base.clone(), Arc::clone(&forms));
            async move {
                let i = u32::try_from((c as u64 * 31 + n) % u64::from(accounts.max(1))).unwrap_or(0) + 1;
                status_of(
                    http.post(format!("{base}/mot-de-passe-oublie"))
                        .header("cookie", &forms[c].0)
                        .form(&[("csrf", forms[c].1.as_str()), ("identifiant", identifier(i).as_str())]),
                )
                .await
            }
        })
        .await;
    outcome
        .notes
        .push("at most 3 e-mails per account and hour: later requests are answered alike and send nothing".into());
    outcome
}

pub async fn api_sessions(running: &Running, seeded: &Seeded, clients: usize, duration: Duration) -> Outcome {
    let (http, base, accounts) = (client(), running.base.clone(), seeded.accounts);
    drive(running, "(e) POST /api/v1/sessions", clients, duration, &[201], move |c, n| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let i = u32::try_from((c as u64 * 17 + n) % u64::from(accounts.max(1))).unwrap_or(0) + 1;
            let body = serde_json::json!({ "identifier": identifier(i), "password": PASSWORD, "client": "bench" });
            status_of(http.post(format!("{base}/api/v1/sessions")).json(&body)).await
        }
    })
    .await
}

pub async fn services(running: &Running, seeded: &Seeded, clients: usize, duration: Duration) -> Outcome {
    let forms = forms(running, 1).await;
    let http = client();
    let mut sessions = Vec::new();
    for c in 0..clients {
        let id = identifier(u32::try_from(c).unwrap_or(0) % seeded.accounts.max(1) + 1);
        let cookie = match post_login(&http, &running.base, &forms[0], &id, PASSWORD).await {
            Ok(r) => cookie(&r, "sesame_session").unwrap_or_default(),
            Err(_) => String::new(),
        };
        sessions.push(cookie);
    }
    let sessions = Arc::new(sessions);
    let base = running.base.clone();
    drive(running, "(f) GET Mes services e-santé (signed in)", clients, duration, &[200], move |c, _| {
        let (http, url, sessions) = (http.clone(), format!("{base}/services"), Arc::clone(&sessions));
        async move { status_of(http.get(url).header("cookie", &sessions[c])).await }
    })
    .await
}

pub async fn overload(running: &Running, seeded: &Seeded, clients: usize, duration: Duration) -> Outcome {
    let base = running.base.clone();
    // Probes that must stay fast while logins pile up.
    let probe = tokio::spawn({
        let base = base.clone();
        async move {
            let http = client();
            let (mut page, mut health) = (Vec::new(), Vec::new());
            let deadline = Instant::now() + duration;
            while Instant::now() < deadline {
                for (path, into) in [("/", &mut page), ("/healthz", &mut health)] {
                    let t0 = Instant::now();
                    let _ = http.get(format!("{base}{path}")).send().await;
                    into.push(u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            page.sort_unstable();
            health.sort_unstable();
            (percentile(&page, 0.99), percentile(&health, 0.99))
        }
    });
    // Beyond the hashing queue, 503 with Retry-After is the expected answer.
    let name = format!("(g) overload: {clients} concurrent logins");
    let mut outcome = login_expecting(running, seeded, &name, clients, duration, true, &[303, 503]).await;
    let (page_p99, health_p99) = probe.await.unwrap_or_default();
    outcome
        .notes
        .push(format!("during the overload: login page p99 {page_p99:.1} ms, /healthz p99 {health_p99:.1} ms"));
    outcome
}

/// The `name=value` of a cookie the response sets.
pub fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&prefix))
        .map(|c| c.split(';').next().unwrap_or("").to_owned())
}
