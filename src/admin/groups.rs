//! `/admin/groups`: every tag in use (and every tag with a policy but no
//! member yet) with its members and policy, and the policy for everyone;
//! `/admin/groups/{tag}`: one tag's members and its policy form.

use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::guard::Ctx;
use super::paths::Urls;
use super::policies::{summary, Offer, PolicyForm};
use super::response::{AdminResponse, AdminResult};
use super::{one_page, page_window};
use crate::db::users::{User, UserFilter};
use crate::db::{self, Db, StoreError};
use crate::domain::{tag, Scope};
use crate::gateway::Catalog;

/// A tag as the list shows it.
pub struct GroupRow {
    tag: String,
    members: i64,
    has_policy: bool,
    summary: String,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage<'a> {
    csrf: &'a str,
    urls: &'a Urls,
    everyone: String,
    policy: PolicyForm,
    groups: Vec<GroupRow>,
}

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage<'a> {
    csrf: &'a str,
    urls: &'a Urls,
    tag: &'a str,
    members: i64,
    summary: String,
    users: Vec<User>,
    page: u32,
    has_next: bool,
    policy: PolicyForm,
}

impl GroupPage<'_> {
    fn page_url(&self, page: u32) -> String {
        format!("{}?page={page}", self.urls.group(self.tag))
    }
}

/// The Groups page; `sent` is the policy form for everyone just refused.
pub async fn groups_page(
    ctx: &Ctx,
    db: &Db,
    catalog: &Catalog,
    sent: Option<PolicyForm>,
) -> AdminResult {
    let offer = Offer::load(db, catalog).await?;
    let (tags, everyone) = db
        .read(|conn| {
            Ok::<_, StoreError>((
                db::policies::tag_groups(conn)?,
                db::policies::get(conn, &Scope::Everyone)?,
            ))
        })
        .await?;
    let groups = tags
        .into_iter()
        .map(|group| GroupRow {
            has_policy: group.policy.is_some(),
            summary: summary(group.policy.as_ref(), &offer),
            tag: group.name,
            members: group.members,
        })
        .collect();
    let policy = PolicyForm::shown(Scope::Everyone, everyone.as_ref(), &offer, sent);
    let status = policy.status();
    AdminResponse::page_with(
        status,
        "Groups",
        &GroupsPage {
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            everyone: summary(everyone.as_ref(), &offer),
            policy,
            groups,
        },
    )
}

pub async fn list(ctx: Ctx, db: web::Data<Db>, catalog: web::Data<Catalog>) -> AdminResult {
    groups_page(&ctx, &db, &catalog, None).await
}

/// A tag's page at `page` of its members; `sent` is its policy form just
/// refused.
pub async fn group_page(
    ctx: &Ctx,
    db: &Db,
    catalog: &Catalog,
    name: String,
    page: u32,
    sent: Option<PolicyForm>,
) -> AdminResult {
    let offer = Offer::load(db, catalog).await?;
    let (limit, offset) = page_window(page);
    let scope = Scope::Tag(name.clone());
    let key = scope.clone();
    let tagged = name.clone();
    let (users, members, stored) = db
        .read(move |conn| {
            let filter = UserFilter {
                tag: Some(tagged.clone()),
                limit: Some(limit),
                offset,
                ..UserFilter::default()
            };
            Ok::<_, StoreError>((
                db::users::list(conn, &filter)?,
                db::users::count_tagged(conn, &tagged)?,
                db::policies::get(conn, &key)?,
            ))
        })
        .await?;
    let (users, has_next) = one_page(users);
    let policy = PolicyForm::shown(scope, stored.as_ref(), &offer, sent);
    let status = policy.status();
    AdminResponse::page_with(
        status,
        &format!("Group {name}"),
        &GroupPage {
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            tag: &name,
            members,
            summary: summary(stored.as_ref(), &offer),
            users,
            page,
            has_next,
            policy,
        },
    )
}

#[derive(Deserialize)]
pub struct GroupQuery {
    #[serde(default)]
    page: Option<u32>,
}

pub async fn show(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    name: web::Path<String>,
    query: web::Query<GroupQuery>,
) -> AdminResult {
    // Any tag has a page, members or not: that is where a tag gets its
    // policy before anyone carries it.
    let name = tag("tag", &name)?;
    let page = query.page.unwrap_or(1).max(1);
    group_page(&ctx, &db, &catalog, name, page, None).await
}
