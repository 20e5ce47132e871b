//! The policy phases around a target: a preflight answered from the CORS
//! policy of the route it announces, and a request admitted (or refused)
//! by its route's chain before the target serves it, with the chain's
//! response headers added to whatever comes back, and its place among the
//! route's requests in flight held by the response body until that ends.
//! Both tell the observer what the policy decided.

use std::future::Future;

use http::{HeaderMap, Request, Response, StatusCode};
use tonic::Code;
use tracing::Instrument;

use crate::{
    body::{ResponseBody, full, holding},
    error::GatewayError,
    observe::{Phase, RequestContext},
    policy::{PolicyChain, cors::CorsPolicy},
};

/// Runs `serve` behind `policies`; `render` turns a refusal into the
/// response the client's protocol expects (JSON, or a gRPC status).
pub(super) async fn guarded<B, F, Fut>(
    policies: &PolicyChain,
    request: Request<B>,
    context: &RequestContext,
    serve: F,
    render: fn(GatewayError) -> Response<ResponseBody>,
) -> Response<ResponseBody>
where
    F: FnOnce(Request<B>) -> Fut,
    Fut: Future<Output = Result<Response<ResponseBody>, GatewayError>>,
{
    let (mut parts, body) = request.into_parts();
    let admission =
        match policies.admit(&mut parts, context.peer().ip(), context).instrument(policy_span()).await {
            Ok(admission) => admission,
            Err(refusal) => {
                let response = render(*refusal);
                context.observe(Phase::PolicyDecided { refused: Some(response.status()) });
                return response;
            }
        };
    context.observe(Phase::PolicyDecided { refused: None });
    let response = serve(Request::from_parts(parts, body)).await.unwrap_or_else(render);
    let (mut head, body) = response.into_parts();
    head.headers.extend(admission.response_headers);
    let body = match admission.permit {
        Some(permit) => holding(body, permit),
        None => body,
    };
    Response::from_parts(head, body)
}

/// The span of a route's policy chain (a debug span of `protogate::span`).
fn policy_span() -> tracing::Span {
    tracing::debug_span!(target: "protogate::span", "policy")
}

/// The answer to a CORS preflight with `headers`, from the policy of the
/// route it announces.
pub(super) fn preflight(
    cors: &CorsPolicy,
    headers: &HeaderMap,
    context: &RequestContext,
) -> Response<ResponseBody> {
    let answer = match cors.preflight(headers) {
        Ok(headers) => {
            let mut answer = Response::new(full(bytes::Bytes::new()));
            *answer.status_mut() = StatusCode::NO_CONTENT;
            *answer.headers_mut() = headers;
            answer
        }
        Err(refused) => GatewayError::new(StatusCode::FORBIDDEN, Code::PermissionDenied, refused.to_string())
            .into_response(),
    };
    let refused = (answer.status() != StatusCode::NO_CONTENT).then(|| answer.status());
    context.observe(Phase::PolicyDecided { refused });
    answer
}
