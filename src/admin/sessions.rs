//! Admin sessions: opened at sign-in, found by the cookie's id (of which the
//! database keeps only a hash), touched while in use, ended by sign-out,
//! after 2 hours idle or 12 hours after sign-in.

use sha2::{Digest, Sha256};

use super::error::AdminError;
use crate::db::{self, Db};
use crate::domain::{random_base62, AdminId, Timestamp};

pub const SESSION_COOKIE: &str = "mg_session";

/// A session unused this long ends...
const IDLE_TIMEOUT_MS: i64 = 2 * 60 * 60 * 1000;
/// ...and any session ends this long after sign-in.
const ABSOLUTE_TIMEOUT_MS: i64 = 12 * 60 * 60 * 1000;
/// `last_seen_at` is written at most this often per session.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// The signed-in admin.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub id: AdminId,
    pub email: String,
    /// The SHA-256 of the session id, to end or keep this session.
    pub session_hash: Vec<u8>,
}

/// A live session: who is signed in, and the CSRF token of their forms.
pub struct Session {
    pub admin: SignedIn,
    pub csrf: String,
}

fn hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// The live session with the cookie's `id`, kept alive; an expired one is
/// removed and is none.
pub async fn find(db: &Db, id: &str) -> Result<Option<Session>, AdminError> {
    let hash = hash(id);
    let lookup = hash.clone();
    let Some(session) = db
        .read(move |conn| db::sessions::find(conn, &lookup))
        .await?
    else {
        return Ok(None);
    };
    let now = Timestamp::now();
    let idle = now.millis() - session.last_seen_at.millis();
    let age = now.millis() - session.created_at.millis();
    if idle > IDLE_TIMEOUT_MS || age > ABSOLUTE_TIMEOUT_MS {
        let expired = hash.clone();
        db.write(move |tx| db::sessions::delete(tx, &expired))
            .await?;
        return Ok(None);
    }
    if idle > TOUCH_EVERY_MS {
        let touched = hash.clone();
        db.write(move |tx| db::sessions::touch(tx, &touched, now))
            .await?;
    }
    Ok(Some(Session {
        admin: SignedIn {
            id: session.admin_id,
            email: session.email,
            session_hash: hash,
        },
        csrf: session.csrf_token,
    }))
}

/// Opens a session for the admin (sweeping the expired ones) and returns
/// its id, for the cookie: the only place it is ever kept whole.
pub async fn start(db: &Db, admin_id: AdminId) -> Result<String, AdminError> {
    let id = random_base62(43);
    let hash = hash(&id);
    let csrf = random_base62(32);
    db.write(move |tx| {
        let now = Timestamp::now().millis();
        db::sessions::delete_expired(
            tx,
            Timestamp(now - IDLE_TIMEOUT_MS),
            Timestamp(now - ABSOLUTE_TIMEOUT_MS),
        )?;
        db::sessions::insert(tx, &hash, admin_id, &csrf)
    })
    .await?;
    Ok(id)
}

/// Ends the admin's session.
pub async fn end(db: &Db, admin: &SignedIn) -> Result<(), AdminError> {
    let hash = admin.session_hash.clone();
    db.write(move |tx| db::sessions::delete(tx, &hash)).await?;
    Ok(())
}
