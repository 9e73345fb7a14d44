//! `sesame serve`: the HTTP(S) server, the outbox worker, the back-channel logout worker, the
//! purge schedule (signing keys replaced long enough ago included), and the reload of
//! certificates and revocation lists on SIGHUP or when their files change.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;

use sesame_core::keys::Sealer;
use sesame_web::certs::{Trust, Verifier};

use crate::app;
use crate::config::Config;
use crate::error::CliError;

const PURGE_EVERY: Duration = Duration::from_secs(3600);
const WATCH_EVERY: Duration = Duration::from_secs(30);

pub async fn run(config: &Config) -> Result<(), CliError> {
    // The port first: a busy one is refused before anything is created or changed.
    let listener = std::net::TcpListener::bind(&config.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| CliError::bad(format!("cannot listen on {}: {e}", config.listen)))?;
    let sealer = app::sealer(config)?;
    let store = app::open_store_with(config, sealer.clone()).await?;
    warn_of_unknown_keys(&store, &sealer).await;
    let clock = app::clock();
    let worker = app::worker(config, &store, &clock)?;
    let verifier = verifier(config)?;
    let (stop, stopped) = watch::channel(false);
    let waker = worker.waker();
    let delivery = tokio::spawn(worker.run(until_stopped(stopped.clone())));
    let services = app::services(config, &store, &clock)?;
    for key in services.signing_keys.ensure().await? {
        tracing::info!(kid = %key.kid, alg = key.alg.as_str(), "OpenID Connect signing key generated");
    }
    let poster = crate::backchannel::HttpPoster::new()?;
    let notices =
        tokio::spawn(crate::backchannel::run(services.backchannel.clone(), poster, until_stopped(stopped.clone())));
    let keys = services.signing_keys.clone();
    let purge = tokio::spawn(purge_loop(config.clone(), store.clone(), keys, until_stopped(stopped.clone())));

    let mut state = app::web_state(config, services).with_mail_waker(waker);
    if let Some(v) = &verifier {
        state = state.with_certificates(Arc::clone(v));
    }
    let app = sesame_web::router(state).into_make_service_with_connect_info::<SocketAddr>();
    tracing::info!(
        listen = %config.listen,
        https = config.tls.cert_file.is_some(),
        certificates = verifier.is_some(),
        public_url = %config.public_url,
        database = %sesame_store::redact_url(&config.database_url()),
        mail = %app::transport(config)?.describe(),
        "Sésame is ready"
    );
    let shutdown = async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    };
    let reloaded = Reloaded { verifier, rustls: None, sealer };
    listen(config, listener, app, reloaded, shutdown, stopped).await?;
    let _ = tokio::join!(delivery, notices, purge);
    tracing::info!("stopped");
    Ok(())
}

async fn until_stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// The certificate verifier, when certificate sign-in is enabled.
fn verifier(config: &Config) -> Result<Option<Arc<Verifier>>, CliError> {
    if !config.client_certificate.enabled {
        return Ok(None);
    }
    let trust = Trust::load(&config.tls).map_err(CliError::bad)?;
    Ok(Some(Arc::new(Verifier::new(&config.client_certificate, trust).map_err(CliError::bad)?)))
}

type App = axum::extract::connect_info::IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>;

/// Serves HTTPS (built-in TLS) or plain HTTP until `shutdown`, reloading files meanwhile.
async fn listen(
    config: &Config,
    listener: std::net::TcpListener,
    app: App,
    mut reloaded: Reloaded,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    stopped: watch::Receiver<bool>,
) -> Result<(), CliError> {
    let stopped_error = |e: std::io::Error| CliError::Runtime(format!("the server stopped: {e}"));
    if config.tls.cert_file.is_none() {
        tokio::spawn(reload_loop(config.clone(), reloaded, until_stopped(stopped)));
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| CliError::Runtime(e.to_string()))?;
        return axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(stopped_error);
    }
    let trust = Trust::load(&config.tls).map_err(CliError::bad)?;
    let server_config = sesame_web::tls::server_config(&config.tls, &trust).map_err(CliError::bad)?;
    let rustls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(server_config));
    reloaded.rustls = Some(rustls.clone());
    tokio::spawn(reload_loop(config.clone(), reloaded, until_stopped(stopped)));
    let handle = axum_server::Handle::new();
    let graceful = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        graceful.graceful_shutdown(Some(Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener, rustls)
        .map_err(|e| CliError::bad(format!("cannot listen on {}: {e}", config.listen)))?
        .handle(handle)
        .serve(app)
        .await
        .map_err(stopped_error)
}

/// What a running server reloads from files.
struct Reloaded {
    verifier: Option<Arc<Verifier>>,
    rustls: Option<axum_server::tls_rustls::RustlsConfig>,
    sealer: Sealer,
}

/// Reloads the key file of the secrets at rest, the server certificate, the client CAs and the
/// CRLs on SIGHUP, or when one of their files changes. A file that fails to load leaves the
/// previous configuration in place.
async fn reload_loop(config: Config, reloaded: Reloaded, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let tls_files = [&config.tls.cert_file, &config.tls.key_file, &config.tls.client_ca_file]
        .into_iter()
        .flatten()
        .chain(config.tls.crl_files.iter());
    let files: Vec<PathBuf> = std::iter::once(config.key_file().0).chain(tls_files.cloned()).collect();
    let stamps = |files: &[PathBuf]| -> Vec<Option<SystemTime>> {
        files.iter().map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok()).collect()
    };
    let mut seen = stamps(&files);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        let reason = tokio::select! {
            () = &mut stop => return,
            _ = async { match hangup.as_mut() { Some(h) => { h.recv().await; } None => std::future::pending::<()>().await } } => "SIGHUP",
            () = tokio::time::sleep(WATCH_EVERY) => "file change",
        };
        let now = stamps(&files);
        if reason == "file change" && now == seen {
            continue;
        }
        seen = now;
        match crate::keyfile::read(&config.key_file().0) {
            Ok(ring) => {
                tracing::info!(reason, keys = ?ring.ids(), "key file reloaded");
                reloaded.sealer.reload(ring);
            }
            Err(e) => tracing::error!(error = %e, reason, "key file not reloaded; keeping the previous keys"),
        }
        if reloaded.verifier.is_none() && reloaded.rustls.is_none() {
            continue;
        }
        match Trust::load(&config.tls) {
            Ok(trust) => {
                if let Some(rustls) = &reloaded.rustls {
                    match sesame_web::tls::server_config(&config.tls, &trust) {
                        Ok(server) => rustls.reload_from_config(Arc::new(server)),
                        Err(e) => tracing::error!(error = %e, "TLS configuration not reloaded"),
                    }
                }
                if let Some(v) = &reloaded.verifier {
                    v.reload(trust);
                }
                tracing::info!(reason, "certificates and revocation lists reloaded");
            }
            Err(e) => tracing::error!(error = %e, reason, "certificates not reloaded; keeping the previous ones"),
        }
    }
}

/// Says at start when queued e-mails are sealed with keys this node's key file lacks: they can
/// only be sent by a node that has them, and are dropped after a grace period otherwise.
async fn warn_of_unknown_keys(store: &Arc<dyn sesame_core::store::Store>, sealer: &Sealer) {
    let ring = sealer.ring();
    match store.sealed_keys().await {
        Ok(keys) => {
            for (key, queued) in keys.iter().filter(|(k, _)| !ring.ids().contains(&k.as_str())) {
                tracing::error!(
                    key = %key,
                    queued,
                    "queued e-mails are sealed with a key that is not in this node's key file: give every node the same \
                     secrets.key_file; if that key is lost, these e-mails will be dropped (issue new temporary passwords)"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not check the keys of queued e-mails"),
    }
}

async fn purge_loop(
    config: Config,
    store: Arc<dyn sesame_core::store::Store>,
    keys: sesame_core::oidc::SigningKeys,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let now = time::OffsetDateTime::now_utc();
        let keep = time::Duration::days(i64::from(config.mail.keep_sent_days));
        match store.purge_expired(now, now - keep).await {
            Ok(p) => tracing::debug!(?p, "purged expired rows"),
            Err(e) => tracing::warn!(error = %e, "purge failed"),
        }
        match keys.prune().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "replaced OpenID Connect signing keys withdrawn"),
            Err(e) => tracing::warn!(error = %e, "signing keys not pruned"),
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(PURGE_EVERY) => {}
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return interrupt.await.unwrap_or(()),
    };
    tokio::select! {
        _ = interrupt => {}
        _ = term.recv() => {}
    }
}
