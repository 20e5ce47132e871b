//! HTTP/2 written by hand (RFC 9113): the frame encoder (a 9-byte header
//! and the payload), an HPACK header block of literal fields without
//! indexing, and a frame reader, for tests that send what no HTTP/2
//! library would send (floods, resets, endless header blocks) or backends
//! that answer so.

use std::{io, time::Duration};

use tokio::{io::AsyncReadExt, net::tcp::OwnedReadHalf};

/// What a client sends first.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub const DATA: u8 = 0x0;
pub const HEADERS: u8 = 0x1;
pub const RST_STREAM: u8 = 0x3;
pub const SETTINGS: u8 = 0x4;
pub const PING: u8 = 0x6;
pub const GOAWAY: u8 = 0x7;
pub const CONTINUATION: u8 = 0x9;
pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
/// The error code `REFUSED_STREAM`.
pub const REFUSED_STREAM: u32 = 0x7;
/// The error code `CANCEL`.
pub const CANCEL: u32 = 0x8;
/// The error code `ENHANCE_YOUR_CALM`.
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One frame: the 9-byte header (length, type, flags, stream id), then `payload`.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).expect("a frame under 16 MiB").to_be_bytes();
    assert_eq!(length[0], 0, "a frame's length has 24 bits");
    let mut frame = vec![length[1], length[2], length[3], kind, flags];
    frame.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// An HPACK literal field without indexing, with a new name, no Huffman coding.
pub fn literal(block: &mut Vec<u8>, name: &str, value: &[u8]) {
    block.push(0);
    integer(block, name.len());
    block.extend_from_slice(name.as_bytes());
    integer(block, value.len());
    block.extend_from_slice(value);
}

/// An HPACK integer with a 7-bit prefix (the string length of a literal).
fn integer(block: &mut Vec<u8>, mut value: usize) {
    if value < 127 {
        block.push(value as u8);
        return;
    }
    block.push(127);
    value -= 127;
    while value >= 128 {
        block.push((value % 128) as u8 | 0x80);
        value /= 128;
    }
    block.push(value as u8);
}

/// The header block of `GET path` at `authority`, over `http`.
pub fn get_block(path: &str, authority: &str) -> Vec<u8> {
    request_block("GET", path, authority, &[])
}

/// The header block of `method path` at `authority`, over `http`, with
/// `headers` after the pseudo-headers.
pub fn request_block(method: &str, path: &str, authority: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    let pseudo = [(":method", method), (":scheme", "http"), (":path", path), (":authority", authority)];
    for (name, value) in pseudo.iter().chain(headers) {
        literal(&mut block, name, value.as_bytes());
    }
    block
}

/// A `RST_STREAM` of `stream` with `code`.
pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// One frame as read: its type, flags, stream id and payload.
#[derive(Debug)]
pub struct ReadFrame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl ReadFrame {
    /// A `GOAWAY`'s error code.
    pub fn goaway_code(&self) -> Option<u32> {
        let code = self.payload.get(4..8)?;
        (self.kind == GOAWAY).then(|| u32::from_be_bytes([code[0], code[1], code[2], code[3]]))
    }
}

/// How the server ended a connection, as the client read it.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// A `GOAWAY` with this code.
    GoAway(u32),
    /// The connection closed (or was reset) without one.
    Closed,
}

/// The next frame on `reader` (`Ok(None)`: the connection ended), within `timeout`.
pub async fn read_frame(reader: &mut OwnedReadHalf, timeout: Duration) -> io::Result<Option<ReadFrame>> {
    let read = async {
        let mut head = [0u8; 9];
        if let Err(error) = reader.read_exact(&mut head).await {
            return match error.kind() {
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => Ok(None),
                _ => Err(error),
            };
        }
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; length];
        match reader.read_exact(&mut payload).await {
            Ok(_) => Ok(Some(ReadFrame { kind: head[3], flags: head[4], stream, payload })),
            Err(error) if error.kind() == io::ErrorKind::ConnectionReset => Ok(None),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(error) => Err(error),
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no frame"))?
}

/// Reads frames until the server says `GOAWAY` or closes; calls `seen`
/// with each other frame. A gap of `quiet` without a frame is a `TimedOut` error.
pub async fn until_ended(
    reader: &mut OwnedReadHalf,
    quiet: Duration,
    mut seen: impl FnMut(&ReadFrame),
) -> io::Result<Ending> {
    loop {
        match read_frame(reader, quiet).await? {
            None => return Ok(Ending::Closed),
            Some(frame) => match frame.goaway_code() {
                Some(code) => return Ok(Ending::GoAway(code)),
                None => seen(&frame),
            },
        }
    }
}
