//! A hostile gRPC backend written frame by frame (no HTTP/2 library would
//! send what it sends): it answers every call on an HTTP/2 connection with
//! a reply header and a trailer whose values hold CR/LF followed by what
//! would be a header of its own, then a default message. For proving that
//! such bytes never reach a client as a header.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::h2_frames::{ACK, DATA, END_HEADERS, END_STREAM, HEADERS, PREFACE, SETTINGS, frame, literal};

/// Starts the backend on 127.0.0.1:0.
pub async fn start_crlf_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    addr
}

async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let mut preface = [0u8; PREFACE.len()];
    stream.read_exact(&mut preface).await?;
    stream.write_all(&frame(SETTINGS, 0, 0, &[])).await?;
    loop {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await?;
        let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (kind, flags) = (head[3], head[4]);
        let id = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await?;
        match kind {
            SETTINGS if flags & ACK == 0 => stream.write_all(&frame(SETTINGS, ACK, 0, &[])).await?,
            DATA | HEADERS if flags & END_STREAM != 0 => reply(&mut stream, id).await?,
            _ => {}
        }
    }
}

/// A reply head with an injected line, an empty message, trailers likewise.
async fn reply(stream: &mut TcpStream, id: u32) -> std::io::Result<()> {
    let mut head = vec![0x88]; // :status 200, from the static table
    literal(&mut head, "content-type", b"application/grpc");
    literal(&mut head, "x-evil", b"a\r\nx-injected: header");
    stream.write_all(&frame(HEADERS, END_HEADERS, id, &head)).await?;
    stream.write_all(&frame(DATA, 0, id, &[0, 0, 0, 0, 0])).await?;
    let mut trailers = Vec::new();
    literal(&mut trailers, "grpc-status", b"0");
    literal(&mut trailers, "x-evil-trailer", b"b\r\nx-injected-trailer: yes");
    stream.write_all(&frame(HEADERS, END_HEADERS | END_STREAM, id, &trailers)).await
}
