//! A guard in front of hyper's HTTP/1 parser, so every request the HTTP layer would refuse
//! itself — a URI too long (414), headers too large or too many (431), a malformed request line
//! or header, a bad `Content-Length`/`Transfer-Encoding` (400) — is answered with the registry's
//! JSON error body instead of hyper's bodyless automatic answer.
//!
//! [`Guarded`] wraps the connection's socket. It holds back the bytes of each request head until
//! the head is complete, checks it with `httparse` (the parser hyper uses, with hyper's rules for
//! the body length) against limits below hyper's, and only then hands it to hyper; body bytes
//! are counted off by `Content-Length`, so the next head of a keep-alive connection is checked
//! too. A chunked body (or a `CONNECT`) ends the checking for that connection; the router then
//! answers it with `Connection: close`, so hyper parses nothing after it ([`closes_after`]).
//! A refused head never reaches hyper: the guard puts the [`Refusal`] in the connection's
//! [`RefusalSlot`] and hands hyper a stand-in request for [`REFUSED_PATH`] instead, which the
//! server answers from the slot with the JSON error and `Connection: close` — so the refusal
//! comes after the answers to earlier pipelined requests, in order, through hyper itself.
use axum::http::StatusCode;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest request target (path and query) the registry reads; longer is 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Longest request head (request line and headers); longer is 431.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// Most header fields in one request; more is 431.
pub const MAX_HEADERS: usize = 64;
/// Bytes of a refused request still read (and dropped) after the answer, so the answer is not
/// lost to a connection reset; at most for [`DRAIN_TIME`].
const MAX_DRAIN_BYTES: usize = 1 << 20;
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Path of the stand-in request for a refused head (answered from the [`RefusalSlot`]; without a
/// refusal there it is an unknown route like any other).
pub const REFUSED_PATH: &str = "/.pactown/refused";
const STAND_IN: &[u8] = b"GET /.pactown/refused HTTP/1.1\r\nconnection: close\r\n\r\n";

/// Where a connection's guard leaves its refusal for the server.
pub type RefusalSlot = std::sync::Arc<std::sync::Mutex<Option<Refusal>>>;

/// Takes the refusal out of `slot`, if the guard left one.
#[must_use]
pub fn take_refusal(slot: &RefusalSlot) -> Option<Refusal> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

/// A complete HTTP/1.1 error answer with the JSON error body, closing the connection.
#[must_use]
pub fn error_response(status: StatusCode, code: &str, message: &str) -> Vec<u8> {
    let body = serde_json::to_string(&super::model::ErrorBody {
        error: code.into(),
        message: message.into(),
    })
    .unwrap_or_default();
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// True when a request leaves the guard unable to find the next head (a chunked body, a
/// `CONNECT`): its answer must close the connection.
#[must_use]
pub fn closes_after(method: &axum::http::Method, headers: &axum::http::HeaderMap) -> bool {
    method == axum::http::Method::CONNECT
        || headers.contains_key(axum::http::header::TRANSFER_ENCODING)
}

/// Where the guard is in the byte stream.
#[derive(Debug)]
enum State {
    /// Reading a request head.
    Head,
    /// Passing on this many body bytes.
    Body(u64),
    /// No more checking (after a chunked body or a `CONNECT`).
    Through,
    /// A head was refused: after the stand-in request, nothing more for hyper.
    Refused,
}

/// A socket whose request heads are checked before hyper reads them.
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    state: State,
    /// The incomplete head read so far (at most [`MAX_HEAD_BYTES`] plus one read).
    head: Vec<u8>,
    /// Where the request line of `head` ends, once it has.
    line_end: Option<usize>,
    /// Checked bytes hyper has not taken yet.
    ready: Vec<u8>,
    taken: usize,
    slot: RefusalSlot,
    drained: usize,
    drain_until: Option<Pin<Box<tokio::time::Sleep>>>,
    eof: bool,
}

/// Why a head is refused: the answer's status, stable code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Status (400, 414 or 431).
    pub status: StatusCode,
    /// The `error` of the JSON body.
    pub code: &'static str,
    /// The `message` of the JSON body.
    pub message: String,
}

impl Refusal {
    fn bad(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    fn uri_too_long() -> Self {
        Self {
            status: StatusCode::URI_TOO_LONG,
            code: "uri_too_long",
            message: format!(
                "the request target is longer than {MAX_URI_BYTES} bytes; registry paths are short"
            ),
        }
    }

    fn head_too_large(message: String) -> Self {
        Self {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            code: "headers_too_large",
            message,
        }
    }
}

impl<S> Guarded<S> {
    /// Guards `inner`; a refusal is left in `slot`.
    pub fn new(inner: S, slot: RefusalSlot) -> Self {
        Self {
            inner,
            state: State::Head,
            head: Vec::new(),
            line_end: None,
            ready: Vec::new(),
            taken: 0,
            slot,
            drained: 0,
            drain_until: None,
            eof: false,
        }
    }

    /// Takes freshly read bytes through the state machine.
    fn feed(&mut self, input: &[u8]) {
        let mut bytes = input.to_vec();
        let mut pos = 0;
        while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
            match self.state {
                State::Refused => return,
                State::Through => {
                    self.ready.extend_from_slice(rest);
                    return;
                }
                State::Body(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                    self.ready
                        .extend_from_slice(rest.get(..n).unwrap_or_default());
                    pos += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Body(left)
                    };
                }
                State::Head => {
                    // empty lines before a request line are ignored (as httparse and hyper
                    // do), so a blank line below always ends a head
                    let rest = if self.head.is_empty() {
                        let skip = rest.iter().take_while(|b| matches!(b, b'\r' | b'\n'));
                        rest.get(skip.count()..).unwrap_or_default()
                    } else {
                        rest
                    };
                    let had = self.head.len();
                    self.head.extend_from_slice(rest);
                    pos = bytes.len();
                    if self.line_end.is_none() {
                        self.line_end = rest.iter().position(|&b| b == b'\n').map(|i| had + i);
                    }
                    // parse only when the request line just ended or a blank line came (the
                    // end of the head), so a head trickled in is parsed at most twice
                    let window = self.head.get(had.saturating_sub(3)..).unwrap_or_default();
                    let blank = window.windows(2).any(|w| w == b"\n\n")
                        || window.windows(3).any(|w| w == b"\n\r\n");
                    let line_done = self.line_end.is_some_and(|end| end >= had);
                    match self.check_head(blank || line_done) {
                        Ok(Some((len, next))) => {
                            let after = self.head.split_off(len);
                            self.ready.append(&mut self.head);
                            self.line_end = None;
                            self.state = next;
                            bytes = after;
                            pos = 0;
                        }
                        Ok(None) => {}
                        Err(refusal) => {
                            self.head.clear();
                            *self
                                .slot
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(refusal);
                            self.ready.extend_from_slice(STAND_IN);
                            self.state = State::Refused;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// The length of a complete, acceptable head and the state after it; `None` while it is
    /// incomplete and within the limits.
    fn check_head(&self, parse: bool) -> Result<Option<(usize, State)>, Refusal> {
        let head = &self.head;
        // a request line longer than the longest target plus method and version
        let line = self.line_end.unwrap_or(head.len());
        if line > MAX_URI_BYTES + 64 {
            return Err(Refusal::uri_too_long());
        }
        if !parse {
            return self.too_large();
        }
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut fields);
        let len = match req.parse(head) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return self.too_large(),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Refusal::head_too_large(format!(
                    "more than {MAX_HEADERS} header fields"
                )))
            }
            Err(e) => {
                return Err(Refusal::bad(format!(
                    "malformed HTTP request ({e}); send an HTTP/1.1 request"
                )))
            }
        };
        if len > MAX_HEAD_BYTES {
            return Err(Refusal::head_too_large(format!(
                "the request head is {len} bytes; at most {MAX_HEAD_BYTES} are read"
            )));
        }
        let path = req.path.unwrap_or("");
        if path.len() > MAX_URI_BYTES {
            return Err(Refusal::uri_too_long());
        }
        if axum::http::Uri::try_from(path).is_err() {
            return Err(Refusal::bad("the request target is not a valid URI"));
        }
        let http11 = req.version == Some(1);
        let mut length: Option<u64> = None;
        let mut chunked = None;
        for field in req.headers.iter() {
            if field.name.eq_ignore_ascii_case("transfer-encoding") {
                if !http11 {
                    return Err(Refusal::bad("HTTP/1.0 cannot have Transfer-Encoding"));
                }
                let last = field.value.rsplit(|&b| b == b',').next().unwrap_or(b"");
                chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if field.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(field.value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| Refusal::bad("Content-Length is not a number"))?;
                if length.is_some_and(|prev| prev != n) {
                    return Err(Refusal::bad("two different Content-Length headers"));
                }
                length = Some(n);
            }
        }
        let next = match chunked {
            Some(true) => State::Through,
            Some(false) => {
                return Err(Refusal::bad(
                    "Transfer-Encoding must end with chunked in a request",
                ))
            }
            None if req.method == Some("CONNECT") => State::Through,
            None => match length {
                Some(n) if n > 0 => State::Body(n),
                _ => State::Head,
            },
        };
        Ok(Some((len, next)))
    }

    /// An incomplete head over the size limit is refused.
    fn too_large(&self) -> Result<Option<(usize, State)>, Refusal> {
        if self.head.len() > MAX_HEAD_BYTES {
            Err(Refusal::head_too_large(format!(
                "the request head is over {MAX_HEAD_BYTES} bytes"
            )))
        } else {
            Ok(None)
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if let Some(waiting) = this.ready.get(this.taken..).filter(|w| !w.is_empty()) {
                let n = waiting.len().min(buf.remaining());
                buf.put_slice(waiting.get(..n).unwrap_or_default());
                this.taken += n;
                if this.taken == this.ready.len() {
                    this.ready.clear();
                    this.taken = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if matches!(this.state, State::Refused) {
                // the stand-in asked to close: hyper reads only to see whether the client left,
                // which no longer matters (and an end of input now would drop the answer)
                return Poll::Pending;
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            if matches!(this.state, State::Through) {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut scratch = [0u8; 8192];
            let mut got = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut got))?;
            if got.filled().is_empty() {
                // the client closed; an unfinished head is dropped (nobody is left to answer)
                this.eof = true;
                continue;
            }
            this.feed(got.filled());
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !matches!(this.state, State::Refused) {
            return Pin::new(&mut this.inner).poll_shutdown(cx);
        }
        ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
        // read (and drop) what the client still sends for a moment, so closing with unread
        // data does not reset the connection before the client has read the answer
        let deadline = this
            .drain_until
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(DRAIN_TIME)));
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Ok(()));
        }
        while this.drained < MAX_DRAIN_BYTES {
            let mut scratch = [0u8; 8192];
            let mut got = ReadBuf::new(&mut scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut got))?;
            if got.filled().is_empty() {
                break;
            }
            this.drained += got.filled().len();
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8]) -> (Vec<u8>, Option<StatusCode>) {
        let slot = RefusalSlot::default();
        let mut g = Guarded::new((), slot.clone());
        for chunk in input.chunks(7) {
            g.feed(chunk);
        }
        let status = take_refusal(&slot).map(|r| r.status);
        let mut ready = g.ready;
        if status.is_some() {
            assert!(ready.ends_with(STAND_IN));
            ready.truncate(ready.len() - STAND_IN.len());
        }
        (ready, status)
    }

    #[test]
    fn pipelined_requests_pass_whole() {
        let two = b"POST /v1/publish HTTP/1.1\r\ncontent-length: 5\r\n\r\nGET /xGET /health HTTP/1.1\r\n\r\n";
        let (out, refused) = run(two);
        assert_eq!(out, two.to_vec());
        assert_eq!(refused, None);
    }

    #[test]
    fn refusals() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_BYTES + 100));
        assert_eq!(run(long.as_bytes()).1, Some(StatusCode::URI_TOO_LONG));
        let big = format!(
            "GET / HTTP/1.1\r\nx: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_BYTES)
        );
        assert_eq!(
            run(big.as_bytes()).1,
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("h{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            run(many.as_bytes()).1,
            Some(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        for bad in [
            &b"HELLO WORLD\r\n\r\n"[..],
            b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n",
            b"GET / HTTP/1.1\r\ncontent-length: 1x\r\n\r\n",
            b"GET / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            b"POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\n",
            b"GET / HTTP/1.1\r\nbad header\r\n\r\n",
        ] {
            assert_eq!(run(bad).1, Some(StatusCode::BAD_REQUEST), "{bad:?}");
        }
        // the good request before a bad one still goes to hyper
        let (out, refused) = run(b"GET /health HTTP/1.1\r\n\r\nNOPE\r\n\r\n");
        assert_eq!(out, b"GET /health HTTP/1.1\r\n\r\n".to_vec());
        assert_eq!(refused, Some(StatusCode::BAD_REQUEST));
    }
}
