//! The tries of a call: the upstream's retry loop around one try on an
//! endpoint's channel, each try bounded by what is left of the call's
//! deadline, and what a call the loop gave up on fails with.

use std::time::{Duration, Instant};

use super::{Deadline, Failed, Prepared, TranscodeError, TranscodeTarget};
use crate::{
    transcode::codec::Outgoing,
    upstream::{CallError, GrpcChannel, Outcome, Picked, Tried, TryFailure},
};

impl TranscodeTarget {
    /// Calls the method with the upstream's retries: `once` makes one try
    /// on an endpoint's channel (the request's `grpc-timeout` set to what is
    /// left of the deadline), within the deadline. The endpoint of the
    /// answer is returned for its outcome to be reported.
    pub(in crate::transcode) async fn call_tries<T, F, Fut>(
        &self,
        prepared: Prepared,
        once: F,
    ) -> Result<(T, Picked), TranscodeError>
    where
        F: Fn(Option<GrpcChannel>, tonic::Request<Outgoing>) -> Fut,
        Fut: Future<Output = Result<T, Failed>>,
    {
        let Prepared { deadline, message, metadata, context } = prepared;
        let mut call = Some((message, metadata));
        let answered = self
            .upstream
            .call_with_retries(self.idempotent, deadline.at, context.clone(), |picked, attempt| {
                // The request is kept (cloned) only while another try may follow.
                let call = if attempt.last { call.take() } else { call.clone() };
                let channel = picked.channel();
                let once = &once;
                async move {
                    let Some((message, metadata)) = call else {
                        let error = TranscodeError::Internal("a call was tried after its last try".into());
                        return Tried::Failed(Failed {
                            error,
                            outcome: Outcome::Ignored,
                            retry: TryFailure::Final,
                        });
                    };
                    let mut request = tonic::Request::new(message);
                    *request.metadata_mut() = metadata;
                    request.set_timeout(deadline.at.saturating_duration_since(Instant::now()));
                    match self.attempt(once(channel, request), deadline).await {
                        Ok(response) => Tried::Answer(response),
                        Err(failed) => Tried::Failed(failed),
                    }
                }
            })
            .await;
        answered.map_err(|error| self.call_error(error, deadline.budget))
    }

    /// What a call the retry loop gave up on fails with.
    pub(in crate::transcode) fn call_error(
        &self,
        error: CallError<TranscodeError>,
        budget: Duration,
    ) -> TranscodeError {
        match error {
            CallError::Failed(error) => error,
            CallError::Expired => TranscodeError::DeadlineExceeded(budget),
            CallError::Unavailable(unavailable) => {
                self.failed(tonic::Status::unavailable(unavailable.to_string()), None)
            }
        }
    }

    /// One try, within the deadline.
    async fn attempt<T>(
        &self,
        once: impl Future<Output = Result<T, Failed>>,
        deadline: Deadline,
    ) -> Result<T, Failed> {
        let expired = || Failed {
            error: TranscodeError::DeadlineExceeded(deadline.budget),
            outcome: deadline.outcome,
            retry: TryFailure::Final,
        };
        match tokio::time::timeout_at(deadline.at.into(), once).await {
            Ok(Ok(response)) => Ok(response),
            // The backend gave up on the deadline it was sent.
            Ok(Err(Failed { error: TranscodeError::Upstream(failure), .. }))
                if failure.code == tonic::Code::DeadlineExceeded =>
            {
                Err(Failed {
                    error: TranscodeError::Upstream(failure),
                    outcome: deadline.outcome,
                    retry: TryFailure::Final,
                })
            }
            Ok(Err(failed)) => Err(failed),
            Err(_) => Err(expired()),
        }
    }
}
