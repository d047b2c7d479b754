//! `/admin/settings`: chat recording, the instance's time zone, the
//! admins, your own password.

use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::guard::Ctx;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult, Flash};
use super::AdminState;
use crate::db::{self, admins::Admin, admins::Removed, Db, StoreError};
use crate::domain::{AdminId, Email, InstanceTimeZone, InvalidInput, NewPassword, Retention};
use crate::gateway::Gateway;
use crate::governance::Governor;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage<'a> {
    csrf: &'a str,
    urls: &'a Urls,
    me: AdminId,
    record_chats: bool,
    record_conversations: bool,
    retention: Retention,
    /// Whether purged logs give their space back yet (else from the next
    /// start).
    gives_pages_back: bool,
    timezone: InstanceTimeZone,
    admins: Vec<Admin>,
}

/// How chats are recorded and kept, as stored.
struct Recording {
    chats: bool,
    conversations: bool,
    retention: Retention,
    gives_pages_back: bool,
    timezone: InstanceTimeZone,
}

pub async fn show(ctx: Ctx, db: web::Data<Db>) -> AdminResult {
    let me = ctx.admin()?.id;
    let (recording, admins) = db
        .read(|conn| {
            let recording = Recording {
                chats: db::settings::get_bool(conn, db::settings::RECORD_CHATS, true)?,
                conversations: db::settings::get_bool(
                    conn,
                    db::settings::RECORD_CONVERSATIONS,
                    true,
                )?,
                retention: db::settings::retention(conn)?,
                gives_pages_back: db::gives_pages_back(conn)?,
                timezone: db::settings::timezone(conn)?,
            };
            Ok::<_, StoreError>((recording, db::admins::list(conn)?))
        })
        .await?;
    AdminResponse::page(
        "Settings",
        &SettingsPage {
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            me,
            record_chats: recording.chats,
            record_conversations: recording.conversations,
            retention: recording.retention,
            gives_pages_back: recording.gives_pages_back,
            timezone: recording.timezone,
            admins,
        },
    )
}

#[derive(Deserialize)]
pub struct RecordingForm {
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    record: Option<String>,
}

pub async fn set_recording(
    ctx: Ctx,
    db: web::Data<Db>,
    gateway: web::Data<Gateway>,
    form: web::Form<RecordingForm>,
) -> AdminResult {
    let on = form.record.is_some();
    db.write(move |tx| db::settings::set_bool(tx, db::settings::RECORD_CHATS, on))
        .await?;
    // The gateway reads the switch from memory: tell it now.
    gateway.recording.reload().await?;
    let message = if on {
        "Chats are recorded from now on."
    } else {
        "Chats are no longer recorded."
    };
    Ok(AdminResponse::redirect(
        ctx.urls.settings(),
        Flash::ok(message),
    ))
}

#[derive(Deserialize)]
pub struct ChatLogsForm {
    /// A checkbox: present ("on") when ticked.
    #[serde(default)]
    conversations: Option<String>,
    /// Days; empty or 0 keeps chat logs forever.
    #[serde(default)]
    retention_days: String,
}

pub async fn set_chat_logs(
    ctx: Ctx,
    db: web::Data<Db>,
    gateway: web::Data<Gateway>,
    form: web::Form<ChatLogsForm>,
) -> AdminResult {
    let retention = Retention::parse("retention_days", &form.retention_days)?;
    let conversations = form.conversations.is_some();
    db.write(move |tx| {
        db::settings::set_bool(tx, db::settings::RECORD_CONVERSATIONS, conversations)?;
        db::settings::set(
            tx,
            db::settings::CHATLOG_RETENTION_DAYS,
            &retention.to_string(),
        )
    })
    .await?;
    // The gateway reads the switch from memory, the purge from the store.
    gateway.recording.reload().await?;
    gateway.chat_log_upkeep.wake();
    let recorded = if conversations {
        "Chat logs keep the conversation"
    } else {
        "Chat logs keep no conversation, only who, when, which model and what it used"
    };
    let kept = match retention.days() {
        Some(days) => format!("and are deleted after {days} days."),
        None => "and are kept forever.".to_owned(),
    };
    Ok(AdminResponse::redirect(
        ctx.urls.settings(),
        Flash::ok(format!("{recorded}, {kept}")),
    ))
}

#[derive(Deserialize)]
pub struct TimeZoneForm {
    #[serde(default)]
    timezone: String,
}

pub async fn set_timezone(
    ctx: Ctx,
    db: web::Data<Db>,
    governor: web::Data<Governor>,
    form: web::Form<TimeZoneForm>,
) -> AdminResult {
    let zone = InstanceTimeZone::parse("timezone", &form.timezone)?;
    let name = zone.name().to_owned();
    db.write(move |tx| db::settings::set(tx, db::settings::TIMEZONE, &name))
        .await?;
    // Limits read the zone from memory: their windows move now.
    governor.reload().await?;
    Ok(AdminResponse::redirect(
        ctx.urls.settings(),
        Flash::ok(format!(
            "Day, week and month limits now follow the calendar of {zone}."
        )),
    ))
}

/// The form that adds an admin, here and (the first one) at setup.
#[derive(Deserialize)]
pub struct NewAdminForm {
    pub email: String,
    password: String,
    confirm: String,
}

/// A checked new admin.
pub struct NewAdmin {
    pub email: Email,
    pub password: NewPassword,
}

impl TryFrom<&NewAdminForm> for NewAdmin {
    type Error = InvalidInput;

    fn try_from(form: &NewAdminForm) -> Result<NewAdmin, InvalidInput> {
        Ok(NewAdmin {
            email: Email::parse(&form.email)?,
            password: NewPassword::confirmed(&form.password, &form.confirm)?,
        })
    }
}

pub async fn add_admin(
    ctx: Ctx,
    state: web::Data<AdminState>,
    db: web::Data<Db>,
    form: web::Form<NewAdminForm>,
) -> AdminResult {
    let NewAdmin { email, password } = NewAdmin::try_from(&*form)?;
    let hash = state.hashing.hash(password.as_str()).await?;
    let shown = email.to_string();
    db.write(move |tx| db::admins::insert(tx, &email, &hash))
        .await?;
    Ok(AdminResponse::redirect(
        ctx.urls.settings(),
        Flash::ok(format!("{shown} is now an admin.")),
    ))
}

pub async fn confirm_remove_admin(ctx: Ctx, id: web::Path<AdminId>) -> AdminResult {
    let id = id.into_inner();
    AdminResponse::confirm(
        &ctx,
        "Remove admin",
        "Remove this admin? They are signed out at once.",
        &ctx.urls.admin_delete(id),
        "Remove admin",
        &ctx.urls.settings(),
    )
}

pub async fn remove_admin(ctx: Ctx, db: web::Data<Db>, id: web::Path<AdminId>) -> AdminResult {
    let id = id.into_inner();
    match db.write(move |tx| db::admins::delete(tx, id)).await? {
        Removed::Now if id == ctx.admin()?.id => Ok(AdminResponse::SignedOut {
            flash: Flash::ok("You removed yourself as an admin."),
        }),
        Removed::Now => Ok(AdminResponse::redirect(
            ctx.urls.settings(),
            Flash::ok("Admin removed."),
        )),
        Removed::NoSuchAdmin => Err(AdminError::NotFound(format!("no admin with id {id}"))),
        Removed::LastOne => Err(AdminError::Conflict(
            "this is the last admin: add another before removing this one".to_owned(),
        )),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    password: String,
    confirm: String,
}

pub async fn change_password(
    ctx: Ctx,
    state: web::Data<AdminState>,
    db: web::Data<Db>,
    form: web::Form<PasswordForm>,
) -> AdminResult {
    let me = ctx.admin()?.clone();
    let stored = db
        .read(move |conn| db::admins::password_hash(conn, me.id))
        .await?;
    if !state.hashing.verify(&form.current, stored).await? {
        return Err(AdminError::invalid(
            "current",
            "the current password is wrong",
        ));
    }
    let password = NewPassword::confirmed(&form.password, &form.confirm)?;
    let hash = state.hashing.hash(password.as_str()).await?;
    db.write(move |tx| {
        db::admins::set_password(tx, me.id, &hash)?;
        // Anyone else signed in with the old password is signed out.
        db::sessions::delete_others(tx, me.id, &me.session_hash)
    })
    .await?;
    Ok(AdminResponse::redirect(
        ctx.urls.settings(),
        Flash::ok("Password changed; your other sessions were signed out."),
    ))
}
