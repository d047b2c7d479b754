//! `/admin/characters`: AI characters, listed, created, edited and deleted.
//! Forms go through the same checks as the REST API.

use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::error::AdminError;
use super::guard::Ctx;
use super::paths::Urls;
use super::response::{AdminResponse, AdminResult, Flash};
use crate::db::{self, characters::Character, Db};
use crate::domain::{CharacterId, CharacterInput, CharacterPatch, NewCharacter};
use crate::gateway::Catalog;

#[derive(Template)]
#[template(path = "characters.html")]
struct CharactersPage<'a> {
    characters: Vec<Character>,
    urls: &'a Urls,
}

#[derive(Template)]
#[template(path = "character_form.html")]
struct CharacterForm<'a> {
    heading: &'a str,
    action: String,
    submit: &'a str,
    csrf: &'a str,
    urls: &'a Urls,
    form: FormValues,
    models: Vec<String>,
}

#[derive(Deserialize, Default)]
pub struct FormValues {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    instruction: String,
    #[serde(default)]
    default_model: String,
}

/// The form sends every field, as typed: the same rules as the API's then
/// apply (an empty default model is none).
impl From<FormValues> for CharacterInput {
    fn from(form: FormValues) -> CharacterInput {
        CharacterInput {
            title: Some(form.title),
            description: Some(Some(form.description)),
            instruction: Some(form.instruction),
            default_model: Some(Some(form.default_model)),
        }
    }
}

pub async fn list(ctx: Ctx, db: web::Data<Db>) -> AdminResult {
    let characters = db.read(db::characters::list).await?;
    AdminResponse::page(
        "AI characters",
        &CharactersPage {
            characters,
            urls: &ctx.urls,
        },
    )
}

/// The catalog's enabled models, plus `current` if it is not among them.
fn model_choices(catalog: &Catalog, current: &str) -> Vec<String> {
    let mut models: Vec<String> = catalog
        .snapshot()
        .listing()
        .into_iter()
        .map(|m| m.id)
        .collect();
    if !current.is_empty() && !models.iter().any(|m| m == current) {
        models.insert(0, current.to_owned());
    }
    models
}

fn form_page(
    ctx: &Ctx,
    catalog: &Catalog,
    heading: &str,
    action: String,
    submit: &str,
    form: FormValues,
) -> AdminResult {
    let models = model_choices(catalog, &form.default_model);
    AdminResponse::page(
        heading,
        &CharacterForm {
            heading,
            action,
            submit,
            csrf: &ctx.csrf,
            urls: &ctx.urls,
            form,
            models,
        },
    )
}

pub async fn new(ctx: Ctx, catalog: web::Data<Catalog>) -> AdminResult {
    form_page(
        &ctx,
        &catalog,
        "New AI character",
        ctx.urls.characters(),
        "Create character",
        FormValues::default(),
    )
}

pub async fn create(ctx: Ctx, db: web::Data<Db>, form: web::Form<FormValues>) -> AdminResult {
    let new = NewCharacter::try_from(CharacterInput::from(form.into_inner()))?;
    let character = db.write(move |tx| db::characters::insert(tx, &new)).await?;
    Ok(AdminResponse::redirect(
        ctx.urls.characters(),
        Flash::ok(format!("Created “{}”.", character.title)),
    ))
}

async fn find(db: &Db, id: CharacterId) -> Result<Character, AdminError> {
    let missing = format!("no AI character with id {:?}", id.as_str());
    super::find_or_404(db, id.as_str().to_owned(), db::characters::get, missing).await
}

pub async fn edit(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    id: web::Path<CharacterId>,
) -> AdminResult {
    let c = find(&db, id.into_inner()).await?;
    form_page(
        &ctx,
        &catalog,
        "Edit AI character",
        ctx.urls.character(&c.id),
        "Save changes",
        FormValues {
            title: c.title,
            description: c.description,
            instruction: c.instruction,
            default_model: c.default_model.unwrap_or_default(),
        },
    )
}

pub async fn update(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<CharacterId>,
    form: web::Form<FormValues>,
) -> AdminResult {
    let patch = CharacterPatch::try_from(CharacterInput::from(form.into_inner()))?;
    let id = id.into_inner();
    let missing = AdminError::NotFound(format!("no AI character with id {:?}", id.as_str()));
    let character = db
        .write(move |tx| db::characters::update(tx, id.as_str(), &patch))
        .await?
        .ok_or(missing)?;
    Ok(AdminResponse::redirect(
        ctx.urls.characters(),
        Flash::ok(format!("Saved “{}”.", character.title)),
    ))
}

pub async fn confirm_delete(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<CharacterId>,
) -> AdminResult {
    let c = find(&db, id.into_inner()).await?;
    let question = format!("Delete the AI character “{}”?", c.title);
    AdminResponse::confirm(
        &ctx,
        "Delete AI character",
        &question,
        &ctx.urls.character_delete(&c.id),
        "Delete character",
        &ctx.urls.characters(),
    )
}

pub async fn delete(ctx: Ctx, db: web::Data<Db>, id: web::Path<CharacterId>) -> AdminResult {
    let c = find(&db, id.into_inner()).await?;
    let cid = c.id.clone();
    db.write(move |tx| db::characters::delete(tx, cid.as_str()))
        .await?;
    Ok(AdminResponse::redirect(
        ctx.urls.characters(),
        Flash::ok(format!("Deleted “{}”.", c.title)),
    ))
}
