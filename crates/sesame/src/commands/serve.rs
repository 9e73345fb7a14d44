//! `sesame serve`: the HTTP server, the outbox worker and the purge schedule.

use std::time::Duration;
use tokio::sync::watch;

use crate::app;
use crate::config::Config;
use crate::error::CliError;

const PURGE_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(config: &Config) -> Result<(), CliError> {
    let store = app::open_store(config).await?;
    let clock = app::clock();
    let worker = app::worker(config, &store, &clock)?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| CliError::bad(format!("cannot listen on {}: {e}", config.listen)))?;
    let (stop, stopped) = watch::channel(false);
    let until_stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let waker = worker.waker();
    let delivery = tokio::spawn(worker.run(until_stopped(stopped.clone())));
    let purge = tokio::spawn(purge_loop(config.clone(), store.clone(), until_stopped(stopped.clone())));

    let app = sesame_web::router(app::web_state(config, &store, &clock, app::hasher(config)?).with_mail_waker(waker));
    tracing::info!(
        listen = %config.listen,
        public_url = %config.public_url,
        database = %sesame_store::redact_url(&config.database_url()),
        mail = %app::transport(config)?.describe(),
        "Sésame is ready"
    );
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
    server.await.map_err(|e| CliError::Runtime(format!("the server stopped: {e}")))?;
    let _ = tokio::join!(delivery, purge);
    tracing::info!("stopped");
    Ok(())
}

async fn purge_loop(
    config: Config,
    store: std::sync::Arc<dyn sesame_core::store::Store>,
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
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(PURGE_EVERY) => {}
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
