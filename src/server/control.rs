//! The local control socket (`control.sock` in the state directory, owner-only): redb lets
//! one process hold the database, so while the server runs, `easbox user …` asks it through
//! this socket instead of opening the file.
//!
//! Protocol: the client sends one command line, then for `user passwd` the password on a
//! second line (for `crm set` the settings, `crm::admin`), then closes its side; the server
//! answers `ok` or `error: …` on the first line, and for `user list`, `crm status` and
//! `crm pull` the report after it.

use super::app::App;
use crate::auth::Secret;
use crate::crm::connector::Connector;
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

/// Whether a request is for the CRM connector (`crm::admin::execute`).
pub fn is_crm_request(request: &str) -> bool {
    request.split_whitespace().next() == Some("crm")
}

/// Serves the control socket until the task is dropped. `crm …` requests go to `connector`.
pub async fn serve(
    app: Arc<App>,
    state_dir: &Path,
    connector: Option<Arc<Connector>>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = state_dir.join(SOCKET);
    // A socket left by a killed server would make bind fail.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        let connector = connector.clone();
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
            let answer = if is_crm_request(&request) {
                match &connector {
                    Some(c) => crate::crm::admin::execute(c, &request).await,
                    None => Err("the CRM connector is not running".into()),
                }
            } else {
                let app2 = app.clone();
                tokio::task::spawn_blocking(move || execute(Some(&app2), app2.store(), &request))
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()))
            };
            let text = match answer {
                Ok(body) => format!("ok\n{body}"),
                Err(e) => format!("error: {e}\n"),
            };
            let _ = write.write_all(text.as_bytes()).await;
        });
    }
}
