//! `sesame mail test` and `sesame mail flush`.

use sesame_core::mail::MailMessage;
use sesame_core::types::Email;
use sesame_mail::Catalogue;
use sesame_mail::transport::Envelope;

use crate::app;
use crate::cli::MailCommand;
use crate::config::Config;
use crate::error::CliError;

pub async fn run(config: &Config, command: MailCommand) -> Result<(), CliError> {
    match command {
        MailCommand::Test { to } => {
            let to = Email::parse(&to).map_err(|e| CliError::bad(e.to_string()))?;
            let transport = app::transport(config)?;
            let catalogue = Catalogue::new(config.branding.clone(), &config.public_url);
            let rendered = catalogue.render(&MailMessage::Test).map_err(|e| CliError::Runtime(e.to_string()))?;
            let message = sesame_mail::message::build(
                &config.mail.from,
                to.as_str(),
                "",
                &rendered,
                std::time::SystemTime::now(),
            )
            .map_err(|e| CliError::bad(e.to_string()))?;
            transport
                .send(&message, Envelope { outbox_id: None, kind: "test" })
                .await
                .map_err(|e| CliError::Runtime(format!("the test message could not be sent: {e}")))?;
            println!("Test message sent to {to} ({}).", transport.describe());
            Ok(())
        }
        MailCommand::Flush => {
            let store = app::open_store(config).await?;
            let worker = app::worker(config, &store, &app::clock())?;
            let report = worker.flush().await?;
            let pending = store.pending_mail_count().await?;
            println!(
                "Delivered {}, deferred {}, dropped {}; {pending} message(s) still queued.",
                report.sent, report.deferred, report.dropped
            );
            if report.dropped > 0 {
                return Err(CliError::Runtime(format!(
                    "{} message(s) were dropped: their secret cannot be opened with the key file (see the log and `sesame audit`)",
                    report.dropped
                )));
            }
            if report.deferred > 0 {
                return Err(CliError::Runtime(format!(
                    "{} message(s) could not be delivered and stay queued; they will be retried",
                    report.deferred
                )));
            }
            Ok(())
        }
    }
}
