//! `/admin/users`: search, add, edit tags inline, delete, import a CSV;
//! `/admin/users/{id}`: one user's effective access and limits, their own
//! policy, their usage by model and their latest chats.

use actix_multipart::Multipart;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::Deserialize;

use super::access::AccessView;
use super::error::AdminError;
use super::format::url_encode;
use super::guard::Ctx;
use super::paths::Urls;
use super::policies::{Offer, PolicyForm};
use super::response::{AdminResponse, AdminResult, Flash};
use super::usage::{self, PeriodSelector, UsageParams, UsageTable, View};
use super::{one_page, page_window};
use crate::db::chat_logs::UserChat;
use crate::db::users::User;
use crate::db::{self, Db, StoreError};
use crate::domain::{InvalidInput, NewUser, Scope, Tags, UserId, UserInput};
use crate::gateway::Catalog;
use crate::governance::{Governor, Member, Subject};

const MAX_IMPORT_ROWS: usize = 10_000;
/// The latest chats a user's page lists.
const RECENT_CHATS: u32 = 20;

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
    urls: &'a Urls,
    q: &'a str,
    users: Vec<User>,
    page: u32,
    has_next: bool,
    total: i64,
    import: Option<Vec<ImportRow>>,
}

impl UsersPage<'_> {
    fn page_url(&self, page: u32) -> String {
        format!("{}?q={}&page={page}", self.urls.users(), url_encode(self.q))
    }
}

#[derive(Template)]
#[template(path = "_user_row.html")]
struct UserRow<'a> {
    user: &'a User,
    urls: &'a Urls,
}

#[derive(Template)]
#[template(path = "_user_edit_row.html")]
struct UserEditRow<'a> {
    user: &'a User,
    csrf: &'a str,
    urls: &'a Urls,
}

#[derive(Template)]
#[template(path = "user_edit.html")]
struct UserEditPage<'a> {
    user: &'a User,
    csrf: &'a str,
    urls: &'a Urls,
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage<'a> {
    user: &'a User,
    csrf: &'a str,
    urls: &'a Urls,
    access: AccessView,
    /// Their own policy.
    policy: PolicyForm,
    period: PeriodSelector,
    /// None when they used nothing in the period.
    usage: Option<UsageTable>,
    chats: Vec<UserChat>,
    /// Every chat of theirs, in the chat logs.
    chatlogs: String,
}

async fn users_page(
    ctx: &Ctx,
    db: &Db,
    query: ListQuery,
    import: Option<Vec<ImportRow>>,
) -> AdminResult {
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
    AdminResponse::page(
        "Users",
        &UsersPage {
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            q: &q,
            users,
            page,
            has_next,
            total,
            import,
        },
    )
}

pub async fn list(ctx: Ctx, db: web::Data<Db>, query: web::Query<ListQuery>) -> AdminResult {
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

pub async fn create(ctx: Ctx, db: web::Data<Db>, form: web::Form<NewUserForm>) -> AdminResult {
    let NewUser { email, tags } = form.into_inner().try_into()?;
    let user = db
        .write(move |tx| db::users::insert(tx, &email, &tags))
        .await?;
    Ok(AdminResponse::redirect(
        ctx.urls.users(),
        Flash::ok(format!("Added {}.", user.email)),
    ))
}

fn no_such_user(id: UserId) -> AdminError {
    AdminError::NotFound(format!("no user with id {id}"))
}

async fn find(db: &Db, id: UserId) -> Result<User, AdminError> {
    db.read(move |conn| db::users::get(conn, id))
        .await?
        .ok_or_else(|| no_such_user(id))
}

/// A user's page: what they may use and where their limits stand, their
/// own policy (`sent`: the form just refused), and their usage by model
/// over the period asked (from the rollups, by their email) with their
/// latest chats.
pub async fn user_page(
    ctx: &Ctx,
    db: &Db,
    catalog: &Catalog,
    governor: &Governor,
    id: UserId,
    params: &UsageParams,
    sent: Option<PolicyForm>,
) -> AdminResult {
    let view = View::asked(params)?;
    let page = ctx.urls.user(id);
    let here = page.clone();
    let found = db
        .read(move |conn| {
            let Some(user) = db::users::get(conn, id)? else {
                return Ok(None);
            };
            let usage = usage::user_table(conn, &user.email, &view, here)?;
            let chats = db::chat_logs::recent_of_user(conn, id, RECENT_CHATS)?;
            let policy = db::policies::get(conn, &Scope::User(id))?;
            Ok::<_, StoreError>(Some((user, usage, chats, policy)))
        })
        .await?;
    let (user, usage, chats, stored) = found.ok_or_else(|| no_such_user(id))?;
    let effective = governor.effective(&Subject {
        user: Some(Member {
            id,
            tags: user.tags.as_slice().to_vec(),
        }),
        key: None,
    });
    let offer = Offer::load(db, catalog).await?;
    let policy = PolicyForm::shown(Scope::User(id), stored.as_ref(), &offer, sent);
    AdminResponse::page_with(
        policy.status(),
        &user.email,
        &UserPage {
            chatlogs: format!("{}?user={}", ctx.urls.chatlogs(), url_encode(&user.email)),
            user: &user,
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            access: AccessView::new("them", effective, &offer, &ctx.urls),
            policy,
            period: view.selector(page),
            usage,
            chats,
        },
    )
}

pub async fn show(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    governor: web::Data<Governor>,
    id: web::Path<UserId>,
    params: web::Query<UsageParams>,
) -> AdminResult {
    user_page(
        &ctx,
        &db,
        &catalog,
        &governor,
        id.into_inner(),
        &params,
        None,
    )
    .await
}

/// The row as shown, to cancel an inline edit.
pub async fn row(ctx: Ctx, db: web::Data<Db>, id: web::Path<UserId>) -> AdminResult {
    let user = find(&db, id.into_inner()).await?;
    let unchanged = AdminResponse::redirect(ctx.urls.users(), Flash::ok("Nothing changed."));
    AdminResponse::swap(
        &UserRow {
            user: &user,
            urls: &ctx.urls,
        },
        unchanged,
    )
}

pub async fn edit(ctx: Ctx, db: web::Data<Db>, id: web::Path<UserId>) -> AdminResult {
    let user = find(&db, id.into_inner()).await?;
    let page = AdminResponse::page(
        "Edit tags",
        &UserEditPage {
            user: &user,
            csrf: &ctx.csrf,
            urls: &ctx.urls,
        },
    )?;
    AdminResponse::swap(
        &UserEditRow {
            user: &user,
            csrf: &ctx.csrf,
            urls: &ctx.urls,
        },
        page,
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
) -> AdminResult {
    let id = id.into_inner();
    let tags = Tags::parse(&tag_list(&form.tags))?;
    let user = db
        .write(move |tx| db::users::set_tags(tx, id, &tags))
        .await?
        .ok_or_else(|| no_such_user(id))?;
    let flash = Flash::ok(format!("Saved the tags of {}.", user.email));
    let row = UserRow {
        user: &user,
        urls: &ctx.urls,
    };
    let saved = AdminResponse::redirect(ctx.urls.users(), flash.clone());
    Ok(AdminResponse::swap(&row, saved)?.with_flash(flash))
}

pub async fn confirm_delete(ctx: Ctx, db: web::Data<Db>, id: web::Path<UserId>) -> AdminResult {
    let user = find(&db, id.into_inner()).await?;
    let question = format!(
        "Delete the user {}? Their chat logs stay, without the user.",
        user.email
    );
    AdminResponse::confirm(
        &ctx,
        "Delete user",
        &question,
        &ctx.urls.user_delete(user.id),
        "Delete user",
        &ctx.urls.users(),
    )
}

pub async fn delete(ctx: Ctx, db: web::Data<Db>, id: web::Path<UserId>) -> AdminResult {
    let user = find(&db, id.into_inner()).await?;
    let uid = user.id;
    db.write(move |tx| db::users::delete(tx, uid)).await?;
    Ok(AdminResponse::redirect(
        ctx.urls.users(),
        Flash::ok(format!("Deleted {}.", user.email)),
    ))
}

/// Lines pasted into a plain form.
#[derive(Deserialize)]
struct PastedForm {
    #[serde(default)]
    csv: String,
}

/// The CSV to import: a chosen file (`file`) or lines pasted (`csv`), from
/// the page's multipart form, or pasted lines from a plain form.
pub struct ImportForm {
    csv: String,
}

impl FromRequest for ImportForm {
    type Error = AdminError;
    type Future = LocalBoxFuture<'static, Result<ImportForm, AdminError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.content_type() != "multipart/form-data" {
            let form = web::Form::<PastedForm>::from_request(req, payload);
            return Box::pin(async move {
                let form = form.await.map_err(AdminError::from_extractor)?;
                Ok(ImportForm {
                    csv: form.into_inner().csv,
                })
            });
        }
        let form = Multipart::new(req.headers(), payload.take());
        Box::pin(read_multipart(form))
    }
}

/// Reads the page's form, at most `FORM_LIMIT` bytes in all.
async fn read_multipart(mut form: Multipart) -> Result<ImportForm, AdminError> {
    let mut left = super::FORM_LIMIT;
    let (mut pasted, mut file) = (String::new(), String::new());
    while let Some(field) = form.next().await {
        let mut field = field?;
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field
            .bytes(left)
            .await
            .map_err(|_| AdminError::TooLarge(super::FORM_LIMIT))??;
        left -= bytes.len();
        match name.as_str() {
            "csv" => pasted = utf8_text("csv", &bytes)?,
            "file" => file = utf8_text("file", &bytes)?,
            _ => {}
        }
    }
    match (pasted.trim().is_empty(), file.trim().is_empty()) {
        (false, false) => Err(AdminError::invalid(
            "csv",
            "choose a file or paste lines, not both",
        )),
        (true, false) => Ok(ImportForm { csv: file }),
        _ => Ok(ImportForm { csv: pasted }),
    }
}

/// A field's bytes as text, without the byte order mark that spreadsheets
/// put before a CSV.
fn utf8_text(field: &str, bytes: &[u8]) -> Result<String, AdminError> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        AdminError::invalid(
            field,
            format!("`{field}` must be UTF-8 text (save the CSV as UTF-8)"),
        )
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text).to_owned())
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

fn import_all(tx: &rusqlite::Transaction, text: &str) -> Result<Vec<ImportRow>, AdminError> {
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
            return Err(AdminError::invalid(
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

pub async fn import(ctx: Ctx, db: web::Data<Db>, form: ImportForm) -> AdminResult {
    let text = form.csv;
    if text.trim().is_empty() {
        return Err(AdminError::invalid(
            "csv",
            "paste CSV lines (email,tags) or choose a .csv file to import",
        ));
    }
    let rows = db.write(move |tx| import_all(tx, &text)).await?;
    users_page(&ctx, &db, ListQuery::default(), Some(rows)).await
}
