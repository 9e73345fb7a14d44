//! Building the services a command needs from the configuration.

use sesame_core::clock::{Clock, SystemClock};
use sesame_core::hashing::PasswordHasher;
use sesame_core::keys::Sealer;
use sesame_core::store::Store;
use sesame_core::{AccountService, CoreSettings, Services};
use sesame_mail::{Catalogue, FileTransport, OutboxWorker, SmtpTransport, Transport, TransportKind};
use sesame_web::WebSettings;
use std::sync::Arc;

use crate::config::Config;
use crate::error::CliError;

/// Opens the database and applies pending migrations, with the key ring of the key file.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, CliError> {
    open_store_with(config, sealer(config)?).await
}

/// Opens the database and applies pending migrations, sealing with `sealer`.
pub async fn open_store_with(config: &Config, sealer: Sealer) -> Result<Arc<dyn Store>, CliError> {
    Ok(sesame_store::connect_and_migrate(&config.database_url(), &config.store_options(), sealer).await?)
}

/// The key ring of `secrets.key_file` (the default file is created at first start).
pub fn sealer(config: &Config) -> Result<Sealer, CliError> {
    let (path, named) = config.key_file();
    Ok(Sealer::new(crate::keyfile::load(&path, named)?))
}

pub fn clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

pub fn transport(config: &Config) -> Result<Arc<dyn Transport>, CliError> {
    Ok(match config.mail.transport {
        TransportKind::File => Arc::new(FileTransport::new(config.outbox_dir())),
        TransportKind::Smtp => {
            Arc::new(SmtpTransport::new(&config.mail.smtp).map_err(|e| CliError::bad(e.to_string()))?)
        }
    })
}

pub fn worker(config: &Config, store: &Arc<dyn Store>, clock: &Arc<dyn Clock>) -> Result<OutboxWorker, CliError> {
    let applications = sesame_web::downloads::application_names(&config.downloads);
    let catalogue =
        Arc::new(Catalogue::new(config.branding.clone(), &config.public_url).with_applications(applications));
    Ok(OutboxWorker::new(Arc::clone(store), Arc::clone(clock), catalogue, transport(config)?, &config.mail))
}

pub fn hasher(config: &Config) -> Result<PasswordHasher, CliError> {
    PasswordHasher::start(&config.hashing).map_err(|e| CliError::Runtime(e.to_string()))
}

/// The use cases' settings, from the configuration's sections.
pub fn core_settings(config: &Config) -> CoreSettings {
    CoreSettings {
        branding: config.branding.clone(),
        public_url: config.public_url.trim_end_matches('/').to_owned(),
        policy: config.policy.clone(),
        accounts: config.accounts.clone(),
        sessions: config.session.clone(),
        throttle: config.throttle.clone(),
        reset: config.reset.clone(),
        api: config.api.clone(),
        second_factor: config.second_factor.clone(),
        oidc: config.oidc.clone(),
    }
}

/// Every use case, over this store and clock.
pub fn services(config: &Config, store: &Arc<dyn Store>, clock: &Arc<dyn Clock>) -> Result<Services, CliError> {
    Ok(Services::new(Arc::clone(store), Arc::clone(clock), hasher(config)?, &core_settings(config)))
}

pub fn web_state(config: &Config, services: Services) -> sesame_web::AppState {
    let settings = WebSettings {
        public_url: config.public_url.trim_end_matches('/').to_owned(),
        trusted_proxies: config.trusted_proxies(),
        services: config.services.clone(),
        captcha: config.captcha.clone(),
        branding: config.branding.clone(),
        downloads: config.downloads.clone(),
        // Checked with the rest of the configuration before any command runs.
        help_html: config.help_html().unwrap_or_default(),
    };
    sesame_web::AppState::new(services, settings)
}

pub fn accounts(config: &Config, store: &Arc<dyn Store>, clock: &Arc<dyn Clock>) -> Result<AccountService, CliError> {
    Ok(services(config, store, clock)?.accounts)
}
