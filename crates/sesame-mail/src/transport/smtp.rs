use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use secrecy::ExposeSecret as _;
use std::time::Duration;

use super::{Envelope, Transport, TransportError};
use crate::settings::{SmtpSecurity, SmtpSettings};

/// An SMTP relay: STARTTLS (required), implicit TLS, or plain for a local relay; optional
/// authentication; connect and command timeouts.
#[derive(Debug, Clone)]
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    description: String,
}

impl SmtpTransport {
    pub fn new(settings: &SmtpSettings) -> Result<Self, TransportError> {
        let host = settings.host.trim();
        let port = settings.effective_port();
        let extra_root = match &settings.ca_file {
            Some(path) => {
                let pem =
                    std::fs::read(path).map_err(|e| TransportError(format!("cannot read {}: {e}", path.display())))?;
                Some(Certificate::from_pem(&pem).map_err(|e| TransportError(format!("{}: {e}", path.display())))?)
            }
            None => None,
        };
        let tls = || {
            let mut params = TlsParameters::builder(host.to_owned());
            if let Some(root) = extra_root.clone() {
                params = params.add_root_certificate(root);
            }
            params.build_rustls().map_err(|e| TransportError(format!("TLS setup for {host}: {e}")))
        };
        let tls = match settings.security {
            SmtpSecurity::Starttls => Tls::Required(tls()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(settings.timeout_secs)));
        if let Some(user) = &settings.username {
            let password = settings.password.as_ref().map(|p| p.expose_secret().to_owned()).unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let security = match settings.security {
            SmtpSecurity::Starttls => "STARTTLS",
            SmtpSecurity::Tls => "TLS",
            SmtpSecurity::None => "no encryption",
        };
        Ok(Self { inner: builder.build(), description: format!("SMTP {host}:{port} ({security})") })
    }
}

#[async_trait]
impl Transport for SmtpTransport {
    async fn send(&self, message: &Message, _: Envelope<'_>) -> Result<(), TransportError> {
        self.inner
            .send(message.clone())
            .await
            .map(|_| ())
            .map_err(|e| TransportError(format!("{}: {e}", self.description)))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
