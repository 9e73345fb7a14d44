//! `sesame login`: a terminal client playing the desktop application.

use sesame_client::{Client, SignIn, Tokens};
use std::io::{BufRead as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;

use crate::cli::LoginArgs;
use crate::config::Config;
use crate::error::CliError;

const MAX_TRIES: usize = 5;

pub async fn run(config: &Config, args: LoginArgs) -> Result<(), CliError> {
    let url = args.url.clone().unwrap_or_else(|| config.public_url.clone());
    let client = Client::new(&url, &args.client).map_err(|e| CliError::bad(e.to_string()))?;
    println!("Connexion à {}", url.trim_end_matches('/'));
    let identifier = match &args.identifier {
        Some(id) => id.clone(),
        None => ask("Identifiant : ")?,
    };
    let password = ask_hidden("Mot de passe : ")?;
    let mut answer = client.sign_in(identifier.trim(), &password).await.map_err(failure)?;
    if let SignIn::SecondFactorRequired { ticket, detail, .. } = &answer {
        println!("{detail}");
        answer = second_factor(&client, ticket).await?;
    }
    let tokens = match answer {
        SignIn::Tokens(tokens) => tokens,
        SignIn::PasswordChangeRequired { change_ticket, detail, .. } => {
            println!("{detail}");
            first_password(&client, &change_ticket).await?
        }
        SignIn::SecondFactorRequired { .. } => return Err(CliError::Runtime("réponse inattendue du serveur".into())),
    };
    let me = client.me(&tokens.access_token).await.map_err(failure)?;
    println!("Connexion réussie : {} {} ({}).", me.first_name, me.last_name, me.identifier);
    if let Some(path) = &args.save_token {
        save(path, &tokens)?;
        println!("Jetons enregistrés dans {} (lisible par vous seul).", path.display());
    }
    Ok(())
}

/// Asks for the code of the authenticator app (or a recovery code) until the server accepts
/// it, the ticket runs out, or the tries are spent.
async fn second_factor(client: &Client, ticket: &str) -> Result<SignIn, CliError> {
    for _ in 0..MAX_TRIES {
        let code = ask_hidden("Code de vérification : ")?;
        match client.second_factor(ticket, code.trim()).await {
            Ok(answer) => return Ok(answer),
            Err(e) => match e.problem() {
                Some(p) if p.code() == "wrong_second_factor" => println!("{}", p.detail),
                _ => return Err(failure(e)),
            },
        }
    }
    Err(CliError::Runtime("trop d'essais : relancez sesame login".into()))
}

/// Asks for the personal password until the server accepts it (or the ticket runs out).
async fn first_password(client: &Client, ticket: &str) -> Result<Tokens, CliError> {
    let policy = client.password_policy().await.map_err(failure)?;
    println!("Politique de sécurité :");
    for rule in &policy {
        println!("  - {}", rule.label);
    }
    for _ in 0..MAX_TRIES {
        let new = ask_hidden("Nouveau mot de passe : ")?;
        let confirmation = ask_hidden("Confirmez le nouveau mot de passe : ")?;
        if new != confirmation {
            println!("Les deux saisies ne sont pas identiques. Recommencez.");
            continue;
        }
        match client.set_first_password(ticket, &new).await {
            Ok(tokens) => {
                println!("{}", tokens.message.as_deref().unwrap_or("Votre mot de passe a été changé."));
                return Ok(tokens);
            }
            Err(e) => match e.problem() {
                Some(p) if p.code() == "policy_violation" => {
                    println!("Mot de passe refusé :");
                    for v in &p.violations {
                        println!("  - {}", v.message);
                    }
                }
                _ => return Err(failure(e)),
            },
        }
    }
    Err(CliError::Runtime("trop d'essais : relancez sesame login".into()))
}

fn failure(e: sesame_client::Error) -> CliError {
    match e.problem() {
        Some(p) if p.code() == "throttled" => {
            let wait = p.retry_after.map(|s| format!(" (réessayez dans {s} s)")).unwrap_or_default();
            CliError::Runtime(format!("{}{wait}", p.detail))
        }
        Some(p) => CliError::Runtime(p.detail.clone()),
        None => CliError::Runtime(e.to_string()),
    }
}

fn ask(prompt: &str) -> Result<String, CliError> {
    print!("{prompt}");
    std::io::stdout().flush().map_err(|e| CliError::Runtime(e.to_string()))?;
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::Runtime(e.to_string()))?;
    if read == 0 {
        return Err(CliError::bad("no answer: sesame login needs a terminal"));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn ask_hidden(prompt: &str) -> Result<String, CliError> {
    rpassword::prompt_password(prompt)
        .map_err(|e| CliError::bad(format!("cannot read a hidden answer ({e}): sesame login needs a terminal")))
}

fn save(path: &std::path::Path, tokens: &Tokens) -> Result<(), CliError> {
    let json = serde_json::to_string_pretty(tokens).map_err(|e| CliError::Runtime(e.to_string()))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::bad(format!("cannot write {}: {e}", path.display())))?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    file.write_all(json.as_bytes()).map_err(|e| CliError::Runtime(e.to_string()))
}
