//! The vtenext connector (shared/CRM-API.md, issue 4).
//!
//! - [`wire`]: the web-service protocol as typed values (sans-io).
//! - [`map`]: CRM records ⇄ [`crate::model`] items, with the CRM's three time zones (sans-io).
//! - [`fake`]: an in-process stand-in for vtenext that answers like the recorded replies in
//!   shared/fixtures/vtenext-replies/; tests and `easbox fake-crm` use it.
//! - [`client`]: HTTP to `webservice.php`, the integration user's session, `login_pwd`.
//!
//! Conventions every part keeps:
//! - The integration user is a CRM administrator. A pull asks for each module's changes of
//!   *all* users at once and files each record under its owner (`assigned_user_id`), so a
//!   cycle costs the same few calls for 1 or 100 users. Only users enabled on the box get data.
//! - A box user name is the CRM `user_name` in lower case (`store::crm::CrmUser`).
//! - `sync::CrmRef::modified` is the CRM's modifiedtime as Unix seconds in decimal, whatever
//!   zone the reply carried (see [`map::modified_time`]), so equal means the same version.

pub mod client;
pub mod fake;
pub mod map;
pub mod pull;
pub mod wire;

use crate::sync::FolderId;
use std::sync::{Arc, RwLock};

/// A CRM module the box carries, and the box folder it fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Module {
    /// `Contacts` → the Contacts folder.
    Contacts,
    /// `Events` → the Calendar folder.
    Events,
    /// `Calendar` records with `activitytype = Task` → the Tasks folder.
    Tasks,
}

impl Module {
    pub const ALL: [Module; 3] = [Module::Contacts, Module::Events, Module::Tasks];

    /// The CRM's module name (`elementType`).
    pub const fn crm_name(self) -> &'static str {
        match self {
            Module::Contacts => "Contacts",
            Module::Events => "Events",
            Module::Tasks => "Calendar",
        }
    }

    pub fn from_crm_name(s: &str) -> Option<Module> {
        Module::ALL.into_iter().find(|m| m.crm_name() == s)
    }

    /// The box folder (`sync::DEFAULT_FOLDERS`).
    pub const fn folder(self) -> FolderId {
        match self {
            Module::Contacts => FolderId(8),
            Module::Events => FolderId(7),
            Module::Tasks => FolderId(6),
        }
    }

    pub fn from_folder(f: FolderId) -> Option<Module> {
        Module::ALL.into_iter().find(|m| m.folder() == f)
    }
}

/// The live CRM client that the EAS server (CRM passwords) and the connector share. It is
/// replaced when the settings change and empty while none are set.
#[derive(Clone, Default)]
pub struct CrmHandle(Arc<RwLock<Option<Arc<client::Client>>>>);

impl CrmHandle {
    pub fn get(&self) -> Option<Arc<client::Client>> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn set(&self, c: Option<Arc<client::Client>>) {
        match self.0.write() {
            Ok(mut g) => *g = c,
            Err(p) => *p.into_inner() = c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::{DEFAULT_FOLDERS, FolderKind};

    #[test]
    fn modules_match_the_default_folders() {
        for m in Module::ALL {
            let f = DEFAULT_FOLDERS
                .iter()
                .find(|f| FolderId(f.0) == m.folder())
                .unwrap();
            let want = match m {
                Module::Contacts => FolderKind::Contacts,
                Module::Events => FolderKind::Calendar,
                Module::Tasks => FolderKind::Tasks,
            };
            assert_eq!(f.1, want);
            assert_eq!(Module::from_crm_name(m.crm_name()), Some(m));
            assert_eq!(Module::from_folder(m.folder()), Some(m));
        }
    }
}
