//! The first token of a new database: an edit token for all accounts, whose secret goes to
//! a file beside the database that only its owner can read.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::new_token;
use crate::domain::{AccountScope, Permission, TokenSecret};
use crate::store::TokenStore;

/// Name of the first token, as `ztrisk token list` shows it.
const FIRST_TOKEN_NAME: &str = "first token";

/// Returns the file that receives the first token's secret: the database file's path with
/// the extension `token`, such as `data/ztrisk.token` for `data/ztrisk.db`.
pub fn token_file_path(database: &Path) -> PathBuf {
    database.with_extension("token")
}

/// Creates the first token if the database contains no token at all, revoked ones included,
/// and writes its secret to `token_file`. Returns whether it did.
///
/// The file is written before the token is stored, so a crash in between leaves a secret
/// that opens nothing, and the next start writes a new one. If a token appears meanwhile
/// (from `ztrisk token create`), the file is removed again.
pub async fn create_first_token(store: &TokenStore, token_file: &Path) -> anyhow::Result<bool> {
    if store.count().await? > 0 {
        return Ok(false);
    }

    let (token, secret) = new_token(FIRST_TOKEN_NAME, Permission::Edit, AccountScope::All, None);
    let id = token.id.clone();
    write_secret_file(token_file, &secret)
        .with_context(|| format!("failed to write the token file {}", token_file.display()))?;
    let inserted = store.insert_if_none(token).await?;

    if !inserted {
        fs::remove_file(token_file).with_context(|| {
            format!(
                "failed to remove the unused token file {}",
                token_file.display()
            )
        })?;
        return Ok(false);
    }
    tracing::info!(
        token_id = %id,
        path = %token_file.display(),
        "created the first API token, an edit token for all accounts; its secret is in the file"
    );
    Ok(true)
}

/// Writes `secret` and a newline to `path`, readable and writable by the owner only. The
/// secret goes to a new file created with mode 0600, which is then renamed over `path`, so
/// no reader ever sees a partial file or one with wider permissions.
fn write_secret_file(path: &Path, secret: &TokenSecret) -> io::Result<()> {
    let temporary = path.with_extension("token.tmp");
    match fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(secret.expose().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    drop(file);

    fs::rename(&temporary, path)?;
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    File::open(folder)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_sits_beside_database() {
        let path = token_file_path(Path::new("data/ztrisk.db"));

        assert_eq!(path, PathBuf::from("data/ztrisk.token"));
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("ztrisk.token");
        fs::write(&path, "old contents").expect("old file");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let secret = TokenSecret::generate();

        write_secret_file(&path, &secret).expect("file written");

        let mode = fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let contents = fs::read_to_string(&path).expect("contents");
        assert_eq!(contents, format!("{}\n", secret.expose()));
        assert!(!path.with_extension("token.tmp").exists());
    }
}
