//! `/admin/characters`: AI characters, listed, created, edited and deleted.
//! Forms go through the same checks as the REST API.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::render::{Ctx, Flash};
use crate::db::{self, characters::Character, Db};
use crate::domain::{CharacterId, CharacterInput, CharacterPatch, NewCharacter};
use crate::error::ApiError;
use crate::gateway::Catalog;

#[derive(Template)]
#[template(path = "characters.html")]
struct CharactersPage {
    characters: Vec<Character>,
}

#[derive(Template)]
#[template(path = "character_form.html")]
struct CharacterForm<'a> {
    heading: &'a str,
    action: String,
    submit: &'a str,
    csrf: &'a str,
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

pub async fn list(ctx: Ctx, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let characters = db.read(db::characters::list).await?;
    ctx.page("AI characters", &CharactersPage { characters })
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
) -> Result<HttpResponse, ApiError> {
    let models = model_choices(catalog, &form.default_model);
    ctx.page(
        heading,
        &CharacterForm {
            heading,
            action,
            submit,
            csrf: &ctx.csrf,
            form,
            models,
        },
    )
}

pub async fn new(ctx: Ctx, catalog: web::Data<Catalog>) -> Result<HttpResponse, ApiError> {
    form_page(
        &ctx,
        &catalog,
        "New AI character",
        "/admin/characters".to_owned(),
        "Create character",
        FormValues::default(),
    )
}

pub async fn create(
    ctx: Ctx,
    db: web::Data<Db>,
    form: web::Form<FormValues>,
) -> Result<HttpResponse, ApiError> {
    let new = NewCharacter::try_from(CharacterInput::from(form.into_inner()))?;
    let character = db.write(move |tx| db::characters::insert(tx, &new)).await?;
    Ok(ctx.done(
        "/admin/characters",
        Flash::ok(format!("Created “{}”.", character.title)),
    ))
}

async fn find(db: &Db, id: CharacterId) -> Result<Character, ApiError> {
    let missing = format!("no AI character with id {:?}", id.as_str());
    super::find_or_404(db, id.as_str().to_owned(), db::characters::get, missing).await
}

pub async fn edit(
    ctx: Ctx,
    db: web::Data<Db>,
    catalog: web::Data<Catalog>,
    id: web::Path<CharacterId>,
) -> Result<HttpResponse, ApiError> {
    let c = find(&db, id.into_inner()).await?;
    form_page(
        &ctx,
        &catalog,
        "Edit AI character",
        format!("/admin/characters/{}", c.id),
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
) -> Result<HttpResponse, ApiError> {
    let patch = CharacterPatch::try_from(CharacterInput::from(form.into_inner()))?;
    let id = id.into_inner();
    let missing = ApiError::not_found(format!("no AI character with id {:?}", id.as_str()));
    let character = db
        .write(move |tx| db::characters::update(tx, id.as_str(), &patch))
        .await?
        .ok_or(missing)?;
    Ok(ctx.done(
        "/admin/characters",
        Flash::ok(format!("Saved “{}”.", character.title)),
    ))
}

pub async fn confirm_delete(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<CharacterId>,
) -> Result<HttpResponse, ApiError> {
    let c = find(&db, id.into_inner()).await?;
    let question = format!("Delete the AI character “{}”?", c.title);
    let action = format!("/admin/characters/{}/delete", c.id);
    ctx.confirm(
        "Delete AI character",
        &question,
        &action,
        "Delete character",
        "/admin/characters",
    )
}

pub async fn delete(
    ctx: Ctx,
    db: web::Data<Db>,
    id: web::Path<CharacterId>,
) -> Result<HttpResponse, ApiError> {
    let c = find(&db, id.into_inner()).await?;
    let cid = c.id.clone();
    db.write(move |tx| db::characters::delete(tx, cid.as_str()))
        .await?;
    Ok(ctx.done(
        "/admin/characters",
        Flash::ok(format!("Deleted “{}”.", c.title)),
    ))
}
