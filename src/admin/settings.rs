//! `/admin/settings`: chat recording, the admins, your own password.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::password;
use super::render::{Ctx, Flash};
use super::AdminState;
use crate::db::{self, admins::Admin, admins::Removed, Db, StoreError};
use crate::domain::Email;
use crate::error::ApiError;
use crate::gateway::Catalog;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage<'a> {
    csrf: &'a str,
    me: i64,
    record_chats: bool,
    admins: Vec<Admin>,
}

pub async fn show(ctx: Ctx, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let me = ctx.admin()?.id;
    let (record_chats, admins) = db
        .read(|conn| {
            Ok::<_, StoreError>((
                db::settings::get_bool(conn, db::settings::RECORD_CHATS, true)?,
                db::admins::list(conn)?,
            ))
        })
        .await?;
    ctx.page(
        "Settings",
        &SettingsPage {
            csrf: &ctx.csrf,
            me,
            record_chats,
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
    catalog: web::Data<Catalog>,
    form: web::Form<RecordingForm>,
) -> Result<HttpResponse, ApiError> {
    let on = form.record.is_some();
    db.write(move |tx| db::settings::set_bool(tx, db::settings::RECORD_CHATS, on))
        .await?;
    // The gateway reads the switch from memory: tell it now.
    catalog.reload().await?;
    let message = if on {
        "Chats are recorded from now on."
    } else {
        "Chats are no longer recorded."
    };
    Ok(ctx.done("/admin/settings", Flash::ok(message)))
}

/// Checks a new password and its repetition, and hashes it.
async fn new_password_hash(
    state: &AdminState,
    password: &str,
    confirm: &str,
) -> Result<String, ApiError> {
    password::check_new_pair(password, confirm)?;
    state.hashing.hash(password).await
}

#[derive(Deserialize)]
pub struct NewAdminForm {
    email: String,
    password: String,
    confirm: String,
}

pub async fn add_admin(
    ctx: Ctx,
    state: web::Data<AdminState>,
    db: web::Data<Db>,
    form: web::Form<NewAdminForm>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&form.email)?;
    let hash = new_password_hash(&state, &form.password, &form.confirm).await?;
    let shown = email.to_string();
    db.write(move |tx| db::admins::insert(tx, &email, &hash))
        .await?;
    Ok(ctx.done(
        "/admin/settings",
        Flash::ok(format!("{shown} is now an admin.")),
    ))
}

fn parse_admin_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::invalid_field(
            "id",
            format!("admin id must be a positive integer, got {raw:?}"),
        )
    })
}

pub async fn confirm_remove_admin(
    ctx: Ctx,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_admin_id(&id)?;
    let action = format!("/admin/settings/admins/{id}/delete");
    ctx.confirm(
        "Remove admin",
        "Remove this admin? They are signed out at once.",
        &action,
        "Remove admin",
        "/admin/settings",
    )
}

pub async fn remove_admin(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_admin_id(&id)?;
    match db.write(move |tx| db::admins::delete(tx, id)).await? {
        Removed::Now if id == ctx.admin()?.id => Ok(ctx.done(
            "/admin/login",
            Flash::ok("You removed yourself as an admin."),
        )),
        Removed::Now => Ok(ctx.done("/admin/settings", Flash::ok("Admin removed."))),
        Removed::NoSuchAdmin => Err(ApiError::not_found(format!("no admin with id {id}"))),
        Removed::LastOne => Err(ApiError::conflict(
            "this is the last admin: add another before removing this one",
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
) -> Result<HttpResponse, ApiError> {
    let me = ctx.admin()?.clone();
    let stored = db
        .read(move |conn| db::admins::password_hash(conn, me.id))
        .await?;
    if !state.hashing.verify(&form.current, stored).await? {
        return Err(ApiError::invalid_field(
            "current",
            "the current password is wrong",
        ));
    }
    let hash = new_password_hash(&state, &form.password, &form.confirm).await?;
    db.write(move |tx| {
        db::admins::set_password(tx, me.id, &hash)?;
        // Anyone else signed in with the old password is signed out.
        db::sessions::delete_others(tx, me.id, &me.session_hash)
    })
    .await?;
    Ok(ctx.done(
        "/admin/settings",
        Flash::ok("Password changed; your other sessions were signed out."),
    ))
}
