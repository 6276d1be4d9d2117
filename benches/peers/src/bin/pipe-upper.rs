//! The pipe-IPC peer: a child process that reads length-prefixed frames (a `u32`
//! little-endian length, then that many bytes) from stdin and writes each one back,
//! ASCII-uppercased and framed the same way, on stdout. It exits at end of input.

use std::io::{self, BufReader, BufWriter, ErrorKind, Read, Write};

fn main() -> io::Result<()> {
    let mut input = BufReader::with_capacity(128 << 10, io::stdin().lock());
    let mut output = BufWriter::with_capacity(128 << 10, io::stdout().lock());
    let mut frame = Vec::new();
    loop {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = u32::from_le_bytes(len) as usize;
        frame.resize(len, 0);
        input.read_exact(&mut frame)?;
        frame.make_ascii_uppercase();
        output.write_all(&(len as u32).to_le_bytes())?;
        output.write_all(&frame)?;
        output.flush()?;
    }
}
