//! `HEAD` wherever `GET` is served.
//!
//! Routes are declared for `GET` only; a `HEAD` request is routed as the
//! `GET` it mirrors. The connection's codec remembers that the request was a
//! `HEAD` and sends the headers without the body.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}
