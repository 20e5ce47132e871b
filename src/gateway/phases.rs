//! The policy phases around a target: a preflight answered from the CORS
//! policy of the route it announces, and a request admitted (or refused)
//! by its route's chain before the target serves it, with the chain's
//! response headers added to whatever comes back.

use std::future::Future;

use http::{Request, Response, StatusCode};
use tonic::Code;

use crate::{
    body::{ResponseBody, full},
    error::GatewayError,
    policy::{PolicyChain, cors},
    router::normalize_path,
    runtime::Runtime,
};

/// Runs `serve` behind `policies`; `render` turns a refusal into the
/// response the client's protocol expects (JSON, or a gRPC status).
pub(super) async fn guarded<B, F, Fut>(
    policies: &PolicyChain,
    request: Request<B>,
    serve: F,
    render: fn(GatewayError) -> Response<ResponseBody>,
) -> Response<ResponseBody>
where
    F: FnOnce(Request<B>) -> Fut,
    Fut: Future<Output = Result<Response<ResponseBody>, GatewayError>>,
{
    let (mut parts, body) = request.into_parts();
    let admission = match policies.admit(&mut parts).await {
        Ok(admission) => admission,
        Err(refusal) => return render(*refusal),
    };
    let mut response = serve(Request::from_parts(parts, body)).await.unwrap_or_else(render);
    response.headers_mut().extend(admission.response_headers);
    response
}

/// The answer to a CORS preflight, from the policy of the route whose
/// method it announces; `None` when that route has no CORS policy (the
/// request is then routed like any other).
pub(super) fn preflight<B>(runtime: &Runtime, request: &Request<B>) -> Option<Response<ResponseBody>> {
    let method = cors::announced_method(request.headers())?;
    let path = request.uri().path();
    let policies = match runtime.router().lookup(&method, path) {
        Ok(found) => found.value.policies.clone(),
        Err(_) => {
            let normalised = normalize_path(path)?;
            let host = request.headers().get(http::header::HOST).and_then(|v| v.to_str().ok());
            runtime.prefixes().lookup(host, &method, &normalised)?.policies.clone()
        }
    };
    let cors = policies.cors()?;
    Some(match cors.preflight(request.headers()) {
        Ok(headers) => {
            let mut answer = Response::new(full(bytes::Bytes::new()));
            *answer.status_mut() = StatusCode::NO_CONTENT;
            *answer.headers_mut() = headers;
            answer
        }
        Err(refused) => GatewayError::new(StatusCode::FORBIDDEN, Code::PermissionDenied, refused.to_string())
            .into_response(),
    })
}
