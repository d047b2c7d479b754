//! The policies in force and the instance's time zone: a snapshot that
//! answers which scopes apply to a caller and what they open.

use std::collections::HashMap;

use rusqlite::Connection;

use crate::db::{self, StoreError};
use crate::domain::{InstanceTimeZone, Policy, Scope};

#[derive(Debug, Default)]
pub struct Rules {
    pub(super) policies: HashMap<Scope, Policy>,
    pub(super) timezone: InstanceTimeZone,
}

impl Rules {
    pub fn load(conn: &Connection) -> Result<Rules, StoreError> {
        Ok(Rules {
            policies: db::policies::list(conn)?.into_iter().collect(),
            timezone: db::settings::timezone(conn)?,
        })
    }

    pub fn policy(&self, scope: &Scope) -> Option<&Policy> {
        self.policies.get(scope)
    }

    pub fn timezone(&self) -> &InstanceTimeZone {
        &self.timezone
    }
}
