//! The command line: every subcommand, its flags and its help.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "sesame",
    version,
    about = "Identity and accounts for health professionals' portals",
    long_about = "Sésame runs the portal's sign-in pages, the e-mail delivery worker and the administration commands.\n\n\
                  Configuration comes from built-in defaults, then the TOML file given with --config (or SESAME_CONFIG), \
                  then SESAME_* environment variables (SESAME_ + the key path in capitals joined by __, e.g. \
                  SESAME_MAIL__TRANSPORT=smtp). With no configuration at all, data lives in ./data (SQLite) and e-mails \
                  are written as .eml files in ./data/outbox.\n\n\
                  Exit codes: 0 success, 1 runtime failure, 2 bad input or configuration (nothing was changed)."
)]
pub struct Cli {
    /// Configuration file (TOML).
    #[arg(long, short = 'c', global = true, env = "SESAME_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server and the e-mail delivery worker (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Create, inspect and manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Register and manage the OpenID Connect clients (the services that sign people in
    /// through Sésame).
    #[command(subcommand)]
    Client(ClientCommand),
    /// The keys that sign the OpenID Connect tokens (sealed in the database).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Test and drive e-mail delivery.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Manage the key file that seals secrets at rest (secrets.key_file).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Write a consistent copy of the SQLite database to FILE while the server runs.
    Backup {
        /// The copy to create (must not exist yet); readable only by its owner.
        file: PathBuf,
    },
    /// Print the audit trail, oldest first.
    Audit(AuditArgs),
    /// Sign in to a Sésame server as a desktop application does (first connection included):
    /// asks for the identifier and the password, and for a new one when the password is
    /// temporary. Nothing secret is written to disk unless --save-token is given.
    Login(LoginArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server's address (default: the configured public_url).
    #[arg(long)]
    pub url: Option<String>,
    /// Skip the identifier question.
    #[arg(long)]
    pub identifier: Option<String>,
    /// The application name shown in "Mon compte".
    #[arg(long, default_value = "sesame login")]
    pub client: String,
    /// Write the tokens (JSON) to this file, readable only by you (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub save_token: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Show the key file, its keys (the first one seals) and how many queued secrets each seals.
    Status,
    /// Put a new sealing key first (creating the key file if it does not exist yet), keep the
    /// older keys so that what they sealed still opens, and re-seal every queued secret under
    /// the new key. Then copy the file to every other node.
    Rotate,
    /// Keep only the sealing key, once every node has the rotated file: queued secrets still
    /// under an older key are re-sealed first.
    Prune {
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Report every problem in the configuration (key, reason, origin); exit code 2 if any.
    Check,
    /// Print the effective configuration as TOML, secrets left out.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account and send its identifier and a temporary password in two separate e-mails.
    Create(CreateArgs),
    /// Show one account.
    Show {
        /// Identifier, e-mail address, or #ID.
        account: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List accounts, ordered by identifier.
    List {
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Case-insensitive text to look for in identifiers, e-mail addresses and names.
        #[arg(long)]
        search: Option<String>,
        /// At most this many accounts.
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Issue a new temporary password: the old one stops working, every session, token and
    /// reset link of the account ends, and two e-mails are sent (identifier, temporary password).
    ResetPassword {
        /// Identifier, e-mail address, or #ID.
        account: String,
        /// Also print the temporary password here (it is always e-mailed).
        #[arg(long)]
        show_password: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Disable an account: it can no longer sign in, and its sessions and tokens end.
    Disable {
        /// Identifier, e-mail address, or #ID.
        account: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Enable a disabled account.
    Enable {
        /// Identifier, e-mail address, or #ID.
        account: String,
    },
    /// Pin a client certificate to an account: it then signs in to this account with
    /// "Authentification par certificat client" (the holder is told by e-mail).
    BindCertificate {
        /// Identifier, e-mail address, or #ID.
        account: String,
        /// The certificate (PEM or DER).
        #[arg(long, value_name = "FILE")]
        certificate: PathBuf,
    },
    /// Remove every second factor (authenticator app, security keys, recovery codes) of an account whose holder
    /// lost them, after checking who they are: the next sign-in asks the password alone (or, with
    /// `second_factor.required = always`, a new enrolment). The holder is told by e-mail.
    RemoveSecondFactors {
        /// Identifier, e-mail address, or #ID.
        account: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Remove a pinned client certificate (the holder is told by e-mail).
    UnbindCertificate {
        /// Identifier, e-mail address, or #ID.
        account: String,
        /// The certificate (PEM or DER)…
        #[arg(long, value_name = "FILE", conflicts_with = "fingerprint", required_unless_present = "fingerprint")]
        certificate: Option<PathBuf>,
        /// …or its SHA-256 fingerprint (hex, as `account show` prints it).
        #[arg(long)]
        fingerprint: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The professional's e-mail address (unique).
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub first_name: String,
    #[arg(long)]
    pub last_name: String,
    /// Sign-in identifier (unique, case-insensitive); derived from the names when absent
    /// (Jeanne Dupont → jdupont, then jdupont2…).
    #[arg(long)]
    pub identifier: Option<String>,
    /// RPPS (11 digits) or ADELI (9 digits) number, or its idNat_PS form.
    #[arg(long)]
    pub national_id: Option<String>,
    /// Also print the temporary password here (it is always e-mailed).
    #[arg(long)]
    pub show_password: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Active,
    Disabled,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a service: prints its client_id and, unless --public, its client_secret (shown
    /// this once, stored as a digest).
    Create(ClientArgs),
    /// List the registered clients.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        client_id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Give a confidential client a new secret: the old one stops working at once.
    RotateSecret {
        client_id: String,
        /// Print {"client_id", "client_secret"} as JSON.
        #[arg(long)]
        json: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Remove a client: its sign-ins through Sésame stop.
    Delete {
        client_id: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys: which signs now, which is published ahead, which was replaced and
    /// until when it stays published.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Generate a new ES256 and a new RS256 key, published at once and signing after
    /// --activate-in (so that services that cached the key set have fetched it again); the
    /// keys they replace stay published until the tokens they signed have expired.
    Rotate {
        /// When the new keys start signing, e.g. 1h, 90m, 2d (at least 10m, the key set's cache
        /// lifetime).
        #[arg(long, value_name = "DURATION", default_value = "1h", conflicts_with = "now")]
        activate_in: String,
        /// Sign with the new keys at once (a key leaked); then remove the old ones with
        /// `sesame keys remove`.
        #[arg(long)]
        now: bool,
    },
    /// Withdraw a key at once (it leaked): the tokens it signed stop verifying. The key that
    /// signs now cannot be removed; rotate with --now first.
    Remove {
        kid: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The service's name, as the consent page and "Mon compte" show it.
    #[arg(long)]
    pub name: String,
    /// Where the authorization answer goes, compared exactly (repeat for several). https, or
    /// http on 127.0.0.1, [::1] or localhost; a public client on a loopback IP gets any port
    /// (RFC 8252), and may use a reverse-domain scheme (fr.example.app:/callback).
    #[arg(long = "redirect-uri", value_name = "URI", required = true)]
    pub redirect_uris: Vec<String>,
    /// A desktop or browser application that cannot keep a secret: no secret, PKCE required.
    #[arg(long)]
    pub public: bool,
    /// Where the service may send people after signing out (repeat for several).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where Sésame POSTs a logout token when a session ends (OpenID Back-Channel Logout).
    #[arg(long, value_name = "URI")]
    pub backchannel_logout_uri: Option<String>,
    /// One of the portal's own services: no consent page.
    #[arg(long)]
    pub first_party: bool,
    /// Every sign-in for this service needs two factors (a second step if the session has only
    /// a password).
    #[arg(long)]
    pub require_second_factor: bool,
    /// Let a confidential client go without PKCE (S256 is required by default).
    #[arg(long)]
    pub pkce_optional: bool,
    /// How its ID tokens are signed: RS256 (the default, which every library accepts) or ES256
    /// (OpenID Connect's id_token_signed_response_alg)
    #[arg(long, value_name = "ALG")]
    pub id_token_alg: Option<String>,
    /// Print {"client_id", "client_secret"} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Send one test message through the configured transport, now, without the outbox.
    Test {
        /// Recipient address.
        #[arg(long)]
        to: String,
    },
    /// Deliver every queued message that is due, then exit.
    Flush,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events about this account (identifier, e-mail address, or #ID).
    #[arg(long)]
    pub account: Option<String>,
    /// From this time on (RFC 3339 such as 2026-11-24T08:00:00Z, or a date: 2026-11-24, UTC).
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time (same formats).
    #[arg(long)]
    pub until: Option<String>,
    /// At most this many events.
    #[arg(long)]
    pub limit: Option<u32>,
    /// Print JSON lines (one event per line) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
