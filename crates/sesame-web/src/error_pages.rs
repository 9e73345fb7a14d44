//! Writes the body of error responses: a French page with the request id, or under `/api/` a
//! problem document.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::error::ErrorPage;
use crate::problem::Problem;
use crate::view::{Page, Views};

pub async fn error_pages(State(views): State<Arc<Views>>, request: Request, next: Next) -> Response {
    let headers = request.headers().clone();
    let api = request.uri().path().starts_with("/api/");
    let request_id = headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let response = next.run(request).await;
    let Some(ErrorPage(status)) = response.extensions().get::<ErrorPage>().copied() else {
        return response;
    };
    if api {
        return Problem::for_status(status).into_response();
    }
    let title = match status {
        StatusCode::NOT_FOUND => "Page introuvable",
        StatusCode::METHOD_NOT_ALLOWED => "Action non autorisée",
        StatusCode::SERVICE_UNAVAILABLE => "Service momentanément surchargé",
        _ => "Erreur du service",
    };
    let page = Page::new("messages/error.html", title)
        .status(status)
        .with("code", status.as_u16())
        .with("request_id", request_id);
    let mut rendered = views.render(&headers, None, page);
    if let Some(retry) = response.headers().get(header::RETRY_AFTER) {
        rendered.headers_mut().insert(header::RETRY_AFTER, retry.clone());
    }
    rendered
}
