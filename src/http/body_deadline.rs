//! A deadline on request bodies.
//!
//! actix-http times out a request's head but never its body, so a client
//! that sends headers and then a trickle (or nothing) holds a connection
//! for as long as it likes. Every body is read through a stream with a
//! deadline: `--body-timeout` after the headers, moved on by one second for
//! every `--body-min-rate` bytes received, so a large body on a slow link
//! still arrives. A body late past its deadline fails whoever reads it, and
//! the request is answered 408 (JSON, also on the admin's routes): by the
//! API's reader itself (so CORS headers are added to it), else here.
//!
//! A response to a request whose body was not read to its end closes the
//! connection, rather than leaving actix-http draining a chunked body that
//! may never end: the request's payload is held until the response is sent,
//! and actix-http closes a connection whose unread payload is still held.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::rt::time::{sleep_until, Instant, Sleep};
use actix_web::web::Bytes;
use actix_web::{HttpMessage, ResponseError};
use futures_util::{Stream, StreamExt};

use crate::config::HttpConfig;
use crate::error::{ApiError, ErrorKind};

/// How long a body may take: `base`, plus a second for every `min_rate`
/// bytes received. Set as app data.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    base: Duration,
    min_rate: u64,
}

impl From<&HttpConfig> for BodyDeadline {
    fn from(config: &HttpConfig) -> Self {
        BodyDeadline {
            base: config.body_timeout,
            min_rate: config.body_min_rate,
        }
    }
}

impl BodyDeadline {
    fn after(&self, start: Instant, received: u64) -> Instant {
        start + self.base + Duration::from_secs(received / self.min_rate.max(1))
    }

    fn late_message(&self) -> String {
        format!(
            "the request body did not arrive in time: it may take {}s, plus 1s for every {} \
             bytes received; the connection is closed",
            self.base.as_secs_f64(),
            self.min_rate
        )
    }
}

/// The API error for a body that could not be read: 408 when it was late.
pub fn body_read_error(error: PayloadError) -> ApiError {
    match error {
        PayloadError::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            ApiError::new(ErrorKind::RequestTimeout, e.to_string())
        }
        other => ApiError::invalid(format!("could not read the request body: {other}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Reading,
    Finished,
    Late,
}

/// The request's payload behind its deadline.
struct DeadlineBody {
    payload: Rc<RefCell<Payload>>,
    state: Rc<Cell<BodyState>>,
    limits: BodyDeadline,
    start: Instant,
    received: u64,
    /// Armed the first time the body has to be waited for.
    timer: Option<Pin<Box<Sleep>>>,
}

impl Stream for DeadlineBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // Never end early: a cut body must not pass for a whole one.
        if this.state.get() == BodyState::Late {
            return Poll::Ready(Some(Err(this.late())));
        }
        // Data already here wins over a timer that fired meanwhile.
        let polled = this.payload.borrow_mut().poll_next_unpin(cx);
        match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                this.state.set(BodyState::Finished);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Pending => {
                let deadline = this.limits.after(this.start, this.received);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.state.set(BodyState::Late);
                        Poll::Ready(Some(Err(this.late())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl DeadlineBody {
    fn late(&self) -> PayloadError {
        PayloadError::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            self.limits.late_message(),
        ))
    }
}

/// A response body that keeps the request's payload alive until it is sent.
pub struct HoldingPayload {
    body: BoxBody,
    _payload: Rc<RefCell<Payload>>,
}

impl MessageBody for HoldingPayload {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

/// Middleware: puts every request body behind its deadline and answers 408
/// when it passed. A body left unread is held until the response is sent,
/// so that actix-http closes the connection if more of it is on its way.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, HoldingPayload>>, actix_web::Error> {
    let payload = req.take_payload();
    if matches!(payload, Payload::None) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let limits = req
        .app_data::<BodyDeadline>()
        .copied()
        .unwrap_or_else(|| BodyDeadline::from(&HttpConfig::default()));
    let payload = Rc::new(RefCell::new(payload));
    let state = Rc::new(Cell::new(BodyState::Reading));
    req.set_payload(Payload::Stream {
        payload: Box::pin(DeadlineBody {
            payload: payload.clone(),
            state: state.clone(),
            limits,
            start: Instant::now(),
            received: 0,
            timer: None,
        }),
    });
    let res = next.call(req).await?;
    let mut res = match state.get() {
        BodyState::Finished => return Ok(res.map_into_left_body()),
        BodyState::Reading => res.map_into_boxed_body(),
        BodyState::Late if res.status() == StatusCode::REQUEST_TIMEOUT => res.map_into_boxed_body(),
        // Whatever else the reader made of the failed body, the answer is 408.
        BodyState::Late => res.into_response(
            ApiError::new(ErrorKind::RequestTimeout, limits.late_message()).error_response(),
        ),
    };
    if state.get() == BodyState::Late {
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(res
        .map_body(|_, body| HoldingPayload {
            body,
            _payload: payload,
        })
        .map_into_right_body())
}
