//! The local control socket (`control.sock` in the state directory, owner-only): redb lets
//! one process hold the database, so while the server runs, `easbox user …` asks it through
//! this socket instead of opening the file.
//!
//! Protocol: the client sends one command line, then for `user passwd` the password on a
//! second line, then closes its side; the server answers `ok` or `error: …` on the first line,
//! and for `user list` the listing after it.

use super::app::App;
use crate::auth::Secret;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

/// Largest request read from the socket.
pub const MAX_REQUEST: u64 = 4096;
/// The socket's file name in the state directory.
pub const SOCKET: &str = "control.sock";

/// Runs one request against the store; shared by the socket server and the direct path.
pub fn execute(
    app: Option<&App>,
    store: &crate::store::Store,
    request: &str,
) -> Result<String, String> {
    let mut lines = request.splitn(2, '\n');
    let command = lines.next().unwrap_or("");
    let rest = lines.next().unwrap_or("");
    let words: Vec<&str> = command.split_whitespace().collect();
    match words.as_slice() {
        ["user", "passwd", name, flags @ ..] => {
            let password = Secret::new(rest.trim_end_matches(['\r', '\n']).to_owned());
            let enable = flags.contains(&"--enable");
            let enabled = super::users::set_password(store, name, &password, enable)?;
            if let Some(app) = app {
                app.forget_password(&super::users::normalize(name)?);
            }
            Ok(if enabled {
                "password set; ActiveSync enabled\n".into()
            } else {
                "password set; ActiveSync is off until `easbox user enable`\n".into()
            })
        }
        ["user", verb @ ("enable" | "disable"), name] => {
            super::users::set_enabled(store, name, *verb == "enable")?;
            if let Some(app) = app {
                app.forget_password(&super::users::normalize(name)?);
            }
            Ok(format!("{verb}d\n"))
        }
        ["user", "list"] => super::users::list(store),
        _ => Err(format!("unknown request {command:?}")),
    }
}

/// Serves the control socket until the task is dropped.
pub async fn serve(app: Arc<App>, state_dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = state_dir.join(SOCKET);
    // A socket left by a killed server would make bind fail.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut request = String::new();
            if read
                .take(MAX_REQUEST)
                .read_to_string(&mut request)
                .await
                .is_err()
            {
                return;
            }
            let app2 = app.clone();
            let answer =
                tokio::task::spawn_blocking(move || execute(Some(&app2), app2.store(), &request))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
            let text = match answer {
                Ok(body) => format!("ok\n{body}"),
                Err(e) => format!("error: {e}\n"),
            };
            let _ = write.write_all(text.as_bytes()).await;
        });
    }
}
