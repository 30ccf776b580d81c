//! The `ztrisk token` commands. They run in their own process against the database file a
//! daemon may be serving, and a running daemon applies their changes from its next request.

use std::fmt::Write as _;

use anyhow::Context;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use clap::{ArgGroup, Args, Subcommand};
use sqlx::Connection;

use super::new_token;
use crate::config::Settings;
use crate::domain::{AccountScope, AccountTag, Permission, TokenId, TokenSecret};
use crate::store::{self, RevokeOutcome, StoredToken};

/// Maximum length of a token name, in characters.
const MAX_NAME_CHARS: usize = 100;
/// Maximum `--expires-in`: about ten years.
const MAX_EXPIRES_IN_DAYS: i64 = 3650;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print its secret on standard output. The secret is shown
    /// only this once; the database keeps only its hash.
    Create(CreateArgs),
    /// List every token, without secrets.
    List,
    /// Revoke a token. A running daemon rejects it from its next request.
    Revoke {
        /// The token's id, as `ztrisk token list` shows it.
        id: String,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("scope").required(true).args(["accounts", "all_accounts"])))]
pub struct CreateArgs {
    /// A name that says who or what uses the token, such as "ci-reader".
    #[arg(long)]
    name: String,
    /// An account tag (32 hexadecimal characters) the token may use. Repeat it to allow
    /// several accounts.
    #[arg(long = "account", value_name = "TAG", value_parser = parse_account_tag)]
    accounts: Vec<AccountTag>,
    /// Let the token use every account, including accounts created later.
    #[arg(long)]
    all_accounts: bool,
    /// Allow only GET requests. Without it the token may also create, update and delete.
    #[arg(long)]
    read_only: bool,
    /// Make the token expire after DURATION: a whole number and a unit, s (seconds),
    /// m (minutes), h (hours) or d (days), such as 90m, 12h or 30d. Without it the token
    /// does not expire.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    expires_in: Option<Duration>,
}

/// A token just created, with the secret that is never shown again.
#[derive(Debug)]
pub struct IssuedToken {
    pub id: TokenId,
    pub secret: TokenSecret,
}

/// Runs a `ztrisk token` command, printing to standard output and standard error.
pub async fn run(command: TokenCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create(args) => create(args, settings).await,
        TokenCommand::List => list(settings).await,
        TokenCommand::Revoke { id } => revoke_command(&id, settings).await,
    }
}

async fn create(args: CreateArgs, settings: &Settings) -> anyhow::Result<()> {
    let name = check_name(&args.name)?;
    let scope = if args.all_accounts {
        AccountScope::All
    } else {
        AccountScope::accounts(args.accounts).context("give --account TAG or --all-accounts")?
    };
    let permission = if args.read_only {
        Permission::Read
    } else {
        Permission::Edit
    };
    let expires_at = args.expires_in.map(|duration| Utc::now() + duration);

    let issued = issue_token(settings, name, permission, scope.clone(), expires_at).await?;

    let expiry = expires_at.map_or("never".to_owned(), |time| format_time(&time));
    eprintln!(
        "created API token {} ({name}): {} access to {scope}, expires {expiry}",
        issued.id,
        permission.as_str()
    );
    eprintln!("its secret, printed on standard output, is shown only this once; store it now");
    println!("{}", issued.secret.expose());
    Ok(())
}

async fn list(settings: &Settings) -> anyhow::Result<()> {
    let mut connection = store::open_connection(settings).await?;
    let tokens = store::list_tokens(&mut connection).await?;
    connection.close().await?;

    print!("{}", format_table(&tokens, Utc::now()));
    Ok(())
}

async fn revoke_command(id: &str, settings: &Settings) -> anyhow::Result<()> {
    let id = TokenId::parse(id).with_context(|| {
        format!(
            "invalid token id {id:?}: it must be {}; `ztrisk token list` shows the ids",
            TokenId::FORMAT
        )
    })?;

    match revoke(settings, &id).await? {
        RevokeOutcome::Revoked => eprintln!("revoked API token {id}"),
        RevokeOutcome::AlreadyRevoked(at) => {
            eprintln!("API token {id} was already revoked at {}", format_time(&at));
        }
        RevokeOutcome::NotFound => {
            anyhow::bail!("no API token has id {id}; `ztrisk token list` shows the ids")
        }
    }
    Ok(())
}

/// Stores a new token in the database named by `settings`, applying migrations as `serve`
/// does, and returns its id and secret.
pub async fn issue_token(
    settings: &Settings,
    name: &str,
    permission: Permission,
    scope: AccountScope,
    expires_at: Option<DateTime<Utc>>,
) -> anyhow::Result<IssuedToken> {
    let (token, secret) = new_token(name, permission, scope, expires_at);
    let mut connection = store::open_connection(settings).await?;
    store::insert_token(&mut connection, &token)
        .await
        .context("failed to store the token")?;
    connection.close().await?;
    Ok(IssuedToken {
        id: token.id,
        secret,
    })
}

/// Revokes a token in the database named by `settings`.
pub async fn revoke(settings: &Settings, id: &TokenId) -> anyhow::Result<RevokeOutcome> {
    let mut connection = store::open_connection(settings).await?;
    let outcome = store::revoke_token(&mut connection, id, Utc::now())
        .await
        .context("failed to revoke the token")?;
    connection.close().await?;
    Ok(outcome)
}

/// Parses a duration such as `90m`: a whole number from 1 and one unit, `s`, `m`, `h` or
/// `d`, at most ten years in all.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "invalid duration {value:?}: expected a whole number and a unit, s, m, h or d, \
             such as 90m, 12h or 30d"
        )
    };
    if !value.is_ascii() {
        return Err(invalid());
    }
    let unit_at = value.len().checked_sub(1).ok_or_else(invalid)?;
    let (number, unit) = value.split_at(unit_at);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let number: i64 = number.parse().map_err(|_| invalid())?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    let seconds = number.checked_mul(seconds_per_unit).ok_or_else(invalid)?;
    if !(1..=MAX_EXPIRES_IN_DAYS * 86_400).contains(&seconds) {
        return Err(format!(
            "invalid duration {value:?}: it must be from 1s to {MAX_EXPIRES_IN_DAYS}d"
        ));
    }
    Ok(Duration::seconds(seconds))
}

fn parse_account_tag(value: &str) -> Result<AccountTag, String> {
    AccountTag::parse(value).map_err(|_| {
        format!(
            "invalid account tag {value:?}: it must be {}",
            AccountTag::FORMAT
        )
    })
}

fn check_name(name: &str) -> anyhow::Result<&str> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        anyhow::bail!(
            "invalid --name: it must be 1 to {MAX_NAME_CHARS} characters without control \
             characters"
        );
    }
    Ok(name)
}

/// Formats one line per token under a header, in columns.
fn format_table(tokens: &[StoredToken], now: DateTime<Utc>) -> String {
    let mut rows = vec![[
        "ID".to_owned(),
        "NAME".to_owned(),
        "PERMISSION".to_owned(),
        "STATUS".to_owned(),
        "EXPIRES".to_owned(),
        "LAST USED".to_owned(),
        "ACCOUNTS".to_owned(),
    ]];
    for token in tokens {
        let status = match (token.revoked_at, token.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(expiry)) if expiry <= now => "expired",
            _ => "active",
        };
        let optional_time =
            |time: Option<DateTime<Utc>>| time.map_or("-".to_owned(), |t| format_time(&t));
        rows.push([
            token.id.to_string(),
            token.name.clone(),
            token.permission.as_str().to_owned(),
            status.to_owned(),
            optional_time(token.expires_at),
            optional_time(token.last_used_at),
            token.scope.to_string(),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    for row in &rows {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        table.push_str(line.trim_end());
        table.push('\n');
    }
    table
}

fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_duration_accepts_each_unit() {
        let cases = [
            ("45s", 45),
            ("90m", 90 * 60),
            ("12h", 12 * 3600),
            ("30d", 30 * 86_400),
            ("3650d", 3650 * 86_400),
        ];
        for (input, seconds) in cases {
            let duration = parse_duration(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(duration.num_seconds(), seconds, "{input}");
        }
    }

    #[test]
    fn parse_duration_rejects_other_forms() {
        let cases = [
            ("empty", ""),
            ("unit only", "d"),
            ("number only", "30"),
            ("zero", "0d"),
            ("negative", "-1d"),
            ("plus sign", "+1d"),
            ("fraction", "1.5h"),
            ("unknown unit", "2w"),
            ("uppercase unit", "30D"),
            ("two units", "1d12h"),
            ("space", "30 d"),
            ("over ten years", "3651d"),
            ("overflow", "99999999999999999999s"),
            ("non-ASCII", "3é"),
        ];
        for (label, input) in cases {
            assert!(parse_duration(input).is_err(), "{label} was accepted");
        }
    }

    #[test]
    fn check_name_rejects_blank_and_control() {
        assert_eq!(check_name(" ci-reader ").ok(), Some("ci-reader"));
        assert!(check_name("   ").is_err());
        assert!(check_name("line\nbreak").is_err());
        assert!(check_name(&"n".repeat(MAX_NAME_CHARS + 1)).is_err());
    }
}
