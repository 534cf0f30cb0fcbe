//! Which requests can be sent a second time, after the resource server rejected their token.

use http::Request;

/// Makes the copy of a request that is sent again, with a new token, when the first answer
/// rejected the token. Called before the request is sent, so it must be cheap for requests
/// that it will not copy.
///
/// Most tower request bodies are streams that can be read once: they cannot be replayed, and
/// the rejection is returned to the caller (whose next request carries the new token).
pub trait Replay<B>: Clone + Send + Sync + 'static {
    /// A copy of `request` to send again, or `None` when it cannot be replayed.
    fn copy(&self, request: &Request<B>) -> Option<Request<B>>;
}

/// Replays requests without a body (a `GET`, a `DELETE`, …): those whose body says it is at
/// its end before it is read ([`http_body::Body::is_end_stream`]); the copy gets
/// `B::default()`, which must be an empty body (as it is for hyper's, axum's, tonic's and
/// `http-body-util`'s body types). Method, URI, version, headers and extensions are copied.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayEmpty;

impl<B: http_body::Body + Default> Replay<B> for ReplayEmpty {
    #[inline]
    fn copy(&self, request: &Request<B>) -> Option<Request<B>> {
        if !request.body().is_end_stream() {
            return None;
        }
        Some(copy_with(request, B::default()))
    }
}

/// Replays every request whose body is `Clone` (`http-body-util`'s `Full<Bytes>`, a
/// `String`, …): the body is cloned before the request is sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayClone;

impl<B: Clone> Replay<B> for ReplayClone {
    fn copy(&self, request: &Request<B>) -> Option<Request<B>> {
        Some(copy_with(request, request.body().clone()))
    }
}

/// Never replays: a rejected token is invalidated, and the rejection returned.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReplay;

impl<B> Replay<B> for NoReplay {
    #[inline]
    fn copy(&self, _request: &Request<B>) -> Option<Request<B>> {
        None
    }
}

fn copy_with<B>(request: &Request<B>, body: B) -> Request<B> {
    let mut copy = Request::new(body);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    copy
}
