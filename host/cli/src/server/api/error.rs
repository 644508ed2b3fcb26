//! How a failed admin request answers: a status by the error's kind and
//! class, and `{"error": message, "class": "user" | "external" | "internal"}`.

use axum::{
    Json,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

use ingot_core::ErrorClass;
use ingot_registry::RegistryError;

use crate::{Error, tenancy::TenantError};

/// A failed admin request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

/// The JSON of a failed request.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error: String,
    class: &'static str,
}

impl ApiError {
    /// `404` with `message`.
    pub fn not_found(message: String) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            body: ErrorBody {
                error: message,
                class: "user",
            },
        }
    }

    /// `413` with `message`: a body past its bound.
    pub fn too_large(message: String) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            body: ErrorBody {
                error: message,
                class: "user",
            },
        }
    }

    /// `400` with `message`: a request the API cannot act on as sent.
    pub fn bad_request(message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody {
                error: message,
                class: "user",
            },
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let class = e.class();
        let status = match &e {
            Error::Tenant(TenantError::NoToken { .. }) => StatusCode::UNAUTHORIZED,
            Error::Tenant(_) => StatusCode::FORBIDDEN,
            Error::Registry(RegistryError::UnknownStage { .. }) => StatusCode::NOT_FOUND,
            // A module that fails its checks, a restore refused: the
            // request was understood, its content is refused.
            _ if class == ErrorClass::User => StatusCode::UNPROCESSABLE_ENTITY,
            _ if class == ErrorClass::External => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "admin request failed");
        }
        Self {
            status,
            body: ErrorBody {
                error: e.to_string(),
                class: match class {
                    ErrorClass::User => "user",
                    ErrorClass::External => "external",
                    ErrorClass::Internal => "internal",
                },
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
