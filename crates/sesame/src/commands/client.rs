//! `sesame client …`: the OpenID Connect clients.

use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use sesame_core::audit::RequestContext;
use sesame_core::oidc::{Client, ClientRequest, Clients, Created};

use super::{confirm, format_utc};
use crate::app;
use crate::cli::{ClientArgs, ClientCommand};
use crate::config::Config;
use crate::error::CliError;

pub async fn run(config: &Config, command: ClientCommand) -> Result<(), CliError> {
    let store = app::open_store(config).await?;
    let clients = app::services(config, &store, &app::clock())?.clients;
    let ctx = RequestContext::cli();
    match command {
        ClientCommand::Create(args) => {
            let created = clients.create(&request(&args), &ctx).await?;
            print_secret(&created, args.json, "registered");
            Ok(())
        }
        ClientCommand::List { json } => list(&clients, json).await,
        ClientCommand::Show { client_id, json } => {
            let client = clients.get(&client_id).await?;
            if json {
                println!("{}", describe(&client));
            } else {
                print_client(&client);
            }
            Ok(())
        }
        ClientCommand::RotateSecret { client_id, json, yes } => {
            if clients.get(&client_id).await?.kind == sesame_core::oidc::ClientKind::Public {
                return Err(sesame_core::oidc::ClientError::Public(client_id).into());
            }
            confirm(
                "replace this client's secret (the service stops signing in until it has the new one)",
                &client_id,
                yes,
            )?;
            let created = clients.rotate_secret(&client_id, &ctx).await?;
            print_secret(&created, json, "has a new secret");
            Ok(())
        }
        ClientCommand::Delete { client_id, yes } => {
            let client = clients.get(&client_id).await?;
            confirm(&format!("delete the client '{}'", client.name), &client_id, yes)?;
            clients.delete(&client_id, &ctx).await?;
            println!("Client '{}' ({client_id}) deleted.", client.name);
            Ok(())
        }
    }
}

fn request(args: &ClientArgs) -> ClientRequest {
    ClientRequest {
        name: args.name.clone(),
        redirect_uris: args.redirect_uris.clone(),
        public: args.public,
        post_logout_redirect_uris: args.post_logout_redirect_uris.clone(),
        backchannel_logout_uri: args.backchannel_logout_uri.clone(),
        first_party: args.first_party,
        require_second_factor: args.require_second_factor,
        pkce_optional: args.pkce_optional,
        id_token_alg: args.id_token_alg.clone(),
    }
}

fn print_secret(created: &Created, json: bool, what: &str) {
    let secret = created.secret.as_ref().map(|s| s.expose_secret().to_owned());
    if json {
        println!("{}", json!({ "client_id": created.client.client_id, "client_secret": secret }));
        return;
    }
    println!("Client '{}' {what}.", created.client.name);
    println!("  client_id:     {}", created.client.client_id);
    match secret {
        Some(secret) => {
            println!("  client_secret: {secret}");
            println!("Copy the secret into the service's configuration now: it is not shown again.");
        }
        None => println!("  public client: no secret; the service must use PKCE (S256)."),
    }
}

async fn list(clients: &Clients, json: bool) -> Result<(), CliError> {
    let all = clients.list().await?;
    if json {
        for client in &all {
            println!("{}", describe(client));
        }
        return Ok(());
    }
    if all.is_empty() {
        println!("No client is registered: add one with `sesame client create`.");
        return Ok(());
    }
    println!("{:<24} {:<13} NAME", "CLIENT_ID", "KIND");
    for client in &all {
        println!("{:<24} {:<13} {}", client.client_id, client.kind.as_str(), client.name);
    }
    Ok(())
}

/// Everything about a client but its secret's digest.
fn describe(client: &Client) -> Value {
    json!({
        "client_id": client.client_id,
        "name": client.name,
        "kind": client.kind.as_str(),
        "redirect_uris": client.redirect_uris.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "first_party": client.first_party,
        "require_second_factor": client.require_second_factor,
        "require_pkce": client.needs_pkce(),
        "id_token_signed_response_alg": client.id_token_alg.as_str(),
        "created_at": format_utc(client.created_at),
        "secret_rotated_at": client.secret_rotated_at.map(format_utc),
    })
}

fn print_client(client: &Client) {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    println!("{} ({})", client.name, client.kind.as_str());
    println!("  client_id:              {}", client.client_id);
    for uri in &client.redirect_uris {
        println!("  redirect URI:           {}", uri.as_str());
    }
    for uri in &client.post_logout_redirect_uris {
        println!("  after logout:           {uri}");
    }
    if let Some(uri) = &client.backchannel_logout_uri {
        println!("  back-channel logout:    {uri}");
    }
    println!("  first party (no consent): {}", yes_no(client.first_party));
    println!("  two factors required:   {}", yes_no(client.require_second_factor));
    println!("  PKCE required:          {}", yes_no(client.needs_pkce()));
    println!("  ID tokens signed with:  {}", client.id_token_alg.as_str());
    println!("  created:                {}", format_utc(client.created_at));
    if let Some(at) = client.secret_rotated_at {
        println!("  secret replaced:        {}", format_utc(at));
    }
}
