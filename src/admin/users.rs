//! `/admin/users`: search, add, edit tags inline, delete, import a CSV.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::format::url_encode;
use super::render::{html, Ctx, Flash};
use super::{one_page, page_window};
use crate::db::{self, users::User, Db, StoreError};
use crate::domain::{InvalidInput, NewUser, Tags, UserId, UserInput};
use crate::error::ApiError;

const MAX_IMPORT_ROWS: usize = 10_000;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<u32>,
}

/// One line of a CSV import and what became of it.
pub struct ImportRow {
    line: u64,
    email: String,
    outcome: &'static str,
    ok: bool,
    detail: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage<'a> {
    csrf: &'a str,
    q: &'a str,
    users: Vec<User>,
    page: u32,
    has_next: bool,
    total: i64,
    import: Option<Vec<ImportRow>>,
}

impl UsersPage<'_> {
    fn page_url(&self, page: u32) -> String {
        format!("/admin/users?q={}&page={page}", url_encode(self.q))
    }
}

#[derive(Template)]
#[template(path = "_user_row.html")]
struct UserRow<'a> {
    user: &'a User,
}

#[derive(Template)]
#[template(path = "_user_edit_row.html")]
struct UserEditRow<'a> {
    user: &'a User,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "user_edit.html")]
struct UserEditPage<'a> {
    user: &'a User,
    csrf: &'a str,
}

async fn users_page(
    ctx: &Ctx,
    db: &Db,
    query: ListQuery,
    import: Option<Vec<ImportRow>>,
) -> Result<HttpResponse, ApiError> {
    let q = query.q.trim().to_owned();
    let page = query.page.unwrap_or(1).max(1);
    let search = (!q.is_empty()).then(|| q.clone());
    let (limit, offset) = page_window(page);
    let (users, total) = db
        .read(move |conn| {
            let users = db::users::search(conn, search.as_deref(), limit, offset)?;
            Ok::<_, StoreError>((users, db::users::count(conn)?))
        })
        .await?;
    let (users, has_next) = one_page(users);
    ctx.page(
        "Users",
        &UsersPage {
            csrf: &ctx.csrf,
            q: &q,
            users,
            page,
            has_next,
            total,
            import,
        },
    )
}

pub async fn list(
    ctx: Ctx,
    db: web::Data<Db>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    users_page(&ctx, &db, query.into_inner(), None).await
}

/// Tags as typed in a form: separated by commas (or semicolons).
fn tag_list(raw: &str) -> Vec<String> {
    raw.split([',', ';'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A user as the add form (or a CSV line) has it.
#[derive(Deserialize)]
pub struct NewUserForm {
    email: String,
    #[serde(default)]
    tags: String,
}

/// Read as the API reads a new user, so both apply the same rules.
impl TryFrom<NewUserForm> for NewUser {
    type Error = InvalidInput;

    fn try_from(form: NewUserForm) -> Result<NewUser, InvalidInput> {
        NewUser::try_from(UserInput {
            email: Some(form.email),
            tags: Some(tag_list(&form.tags)),
        })
    }
}

pub async fn create(
    ctx: Ctx,
    db: web::Data<Db>,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, ApiError> {
    let NewUser { email, tags } = form.into_inner().try_into()?;
    let user = db
        .write(move |tx| db::users::insert(tx, &email, &tags))
        .await?;
    Ok(ctx.done("/admin/users", Flash::ok(format!("Added {}.", user.email))))
}

async fn find(db: &Db, id: UserId) -> Result<User, ApiError> {
    db.read(move |conn| db::users::get(conn, id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))
}

/// The row as shown, to cancel an inline edit.
pub async fn row(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let user = find(&db, id.into_inner()).await?;
    if !ctx.hx {
        return Ok(ctx.done("/admin/users", Flash::ok("Nothing changed.")));
    }
    html(&UserRow { user: &user })
}

pub async fn edit(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let user = find(&db, id.into_inner()).await?;
    if ctx.hx {
        return html(&UserEditRow {
            user: &user,
            csrf: &ctx.csrf,
        });
    }
    ctx.page(
        "Edit tags",
        &UserEditPage {
            user: &user,
            csrf: &ctx.csrf,
        },
    )
}

#[derive(Deserialize)]
pub struct TagsForm {
    #[serde(default)]
    tags: String,
}

pub async fn set_tags(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<UserId>,
    form: web::Form<TagsForm>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let tags = Tags::parse(&tag_list(&form.tags))?;
    let user = db
        .write(move |tx| db::users::set_tags(tx, id, &tags))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))?;
    let flash = Flash::ok(format!("Saved the tags of {}.", user.email));
    if ctx.hx {
        return ctx.fragment(&UserRow { user: &user }, flash);
    }
    Ok(ctx.done("/admin/users", flash))
}

pub async fn confirm_delete(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let user = find(&db, id.into_inner()).await?;
    let question = format!(
        "Delete the user {}? Their chat logs stay, without the user.",
        user.email
    );
    let action = format!("/admin/users/{}/delete", user.id);
    ctx.confirm(
        "Delete user",
        &question,
        &action,
        "Delete user",
        "/admin/users",
    )
}

pub async fn delete(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let user = find(&db, id.into_inner()).await?;
    let uid = user.id;
    db.write(move |tx| db::users::delete(tx, uid)).await?;
    Ok(ctx.done(
        "/admin/users",
        Flash::ok(format!("Deleted {}.", user.email)),
    ))
}

#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csv: String,
}

/// One CSV record: the email, then tags (in one column separated by `;`,
/// or in further columns).
fn import_record(record: &csv::StringRecord) -> Result<NewUser, InvalidInput> {
    let rest: Vec<&str> = record.iter().skip(1).collect();
    NewUser::try_from(NewUserForm {
        email: record.get(0).unwrap_or("").to_owned(),
        tags: rest.join(";"),
    })
}

fn import_all(tx: &rusqlite::Transaction, text: &str) -> Result<Vec<ImportRow>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for result in reader.records() {
        let line = result
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map_or(rows.len() as u64 + 1, |p| p.line());
        let record = match result {
            Ok(record) => record,
            Err(e) => {
                rows.push(ImportRow {
                    line,
                    email: String::new(),
                    outcome: "invalid",
                    ok: false,
                    detail: format!("not valid CSV: {e}"),
                });
                continue;
            }
        };
        let first = record.get(0).unwrap_or("");
        let blank = record.iter().all(str::is_empty);
        if blank || (line == 1 && first.eq_ignore_ascii_case("email")) {
            continue;
        }
        if rows.len() == MAX_IMPORT_ROWS {
            return Err(ApiError::invalid_field(
                "csv",
                format!("import at most {MAX_IMPORT_ROWS} rows at a time"),
            ));
        }
        let (outcome, ok, detail) = match import_record(&record) {
            Err(invalid) => ("invalid", false, invalid.message),
            Ok(NewUser { email, tags }) => match db::users::insert(tx, &email, &tags) {
                Ok(_) => ("added", true, String::new()),
                Err(StoreError::Conflict(_)) => ("already there", true, String::new()),
                Err(e) => return Err(e.into()),
            },
        };
        rows.push(ImportRow {
            line,
            email: first.to_owned(),
            outcome,
            ok,
            detail,
        });
    }
    Ok(rows)
}

pub async fn import(
    ctx: Ctx,
    db: web::Data<Db>,
    form: web::Form<ImportForm>,
) -> Result<HttpResponse, ApiError> {
    let text = form.into_inner().csv;
    if text.trim().is_empty() {
        return Err(ApiError::invalid_field(
            "csv",
            "paste CSV lines (email,tags) or choose a .csv file to import",
        ));
    }
    let rows = db.write(move |tx| import_all(tx, &text)).await?;
    users_page(&ctx, &db, ListQuery::default(), Some(rows)).await
}
