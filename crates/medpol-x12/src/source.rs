//! The byte source under the reader: the caller's `BufRead`, a small
//! push-back prefix, and segment reads capped in length.
//!
//! The push-back exists because an ISA can only be recognised after bytes
//! have been consumed (a new interchange may declare a terminator the
//! previous one did not use, so the segment read with the old terminator
//! can run past the ISA); those bytes are handed back and read again under
//! the new delimiters.

use std::io::{self, BufRead, Read};

/// How a segment read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// At the terminator (consumed, not in the buffer).
    Terminator,
    /// The segment ran past the cap: the buffer holds its first `cap` bytes
    /// and the rest, up to and including the terminator, was consumed.
    Oversized,
    /// At the end of the input; the buffer holds whatever came after the
    /// last terminator (possibly nothing).
    Eof,
}

pub(crate) struct Source<R> {
    input: R,
    pending: Vec<u8>,
    pending_pos: usize,
    bytes: u64,
    /// The first read error; once set, the input counts as ended.
    pub(crate) error: Option<io::Error>,
    scratch: Vec<u8>,
}

impl<R: BufRead> Source<R> {
    pub(crate) fn new(input: R) -> Self {
        Source {
            input,
            pending: Vec::new(),
            pending_pos: 0,
            bytes: 0,
            error: None,
            scratch: Vec::new(),
        }
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    fn pending_active(&self) -> bool {
        self.pending_pos < self.pending.len()
    }

    /// The next available bytes (empty at the end of the input or after an
    /// error).
    pub(crate) fn fill(&mut self) -> &[u8] {
        if self.pending_active() {
            return &self.pending[self.pending_pos..];
        }
        if self.error.is_some() {
            return &[];
        }
        // Two steps so that the borrow returned is not held across the
        // retry loop.
        loop {
            match self.input.fill_buf() {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error = Some(e);
                    return &[];
                }
            }
        }
        self.input.fill_buf().unwrap_or(&[])
    }

    pub(crate) fn consume(&mut self, n: usize) {
        if self.pending_active() {
            self.pending_pos += n;
            if self.pending_pos >= self.pending.len() {
                self.pending.clear();
                self.pending_pos = 0;
            }
        } else {
            self.input.consume(n);
        }
        self.bytes += n as u64;
    }

    pub(crate) fn next_byte(&mut self) -> Option<u8> {
        let b = *self.fill().first()?;
        self.consume(1);
        Some(b)
    }

    /// Puts bytes back in front of what is still to be read; they will be
    /// counted again when read.
    pub(crate) fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.bytes = self.bytes.saturating_sub(bytes.len() as u64);
        // Bytes just consumed from the push-back itself: step back over
        // them rather than copying what remains (keeps hostile input linear).
        let p = self.pending_pos;
        if p >= bytes.len() && self.pending[p - bytes.len()..p] == *bytes {
            self.pending_pos -= bytes.len();
            return;
        }
        let mut v = Vec::with_capacity(bytes.len() + self.pending.len() - self.pending_pos);
        v.extend_from_slice(bytes);
        v.extend_from_slice(&self.pending[self.pending_pos..]);
        self.pending = v;
        self.pending_pos = 0;
    }

    /// Skips ASCII white space (line breaks between segments or interchanges).
    pub(crate) fn skip_whitespace(&mut self) {
        loop {
            let chunk = self.fill();
            if chunk.is_empty() {
                return;
            }
            let n = chunk
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(chunk.len());
            let whole = n == chunk.len();
            self.consume(n);
            if !whole {
                return;
            }
        }
    }

    /// Reads up to the next `term` into `buf` (cleared first), keeping at
    /// most `cap` bytes.
    pub(crate) fn read_segment(&mut self, term: u8, buf: &mut Vec<u8>, cap: usize) -> Ended {
        buf.clear();
        if self.pending_active() {
            let p = &self.pending[self.pending_pos..];
            match p.iter().position(|&b| b == term) {
                Some(i) => {
                    buf.extend_from_slice(&p[..i.min(cap + 1)]);
                    self.consume(i + 1);
                    if buf.len() > cap {
                        buf.truncate(cap);
                        return Ended::Oversized;
                    }
                    return Ended::Terminator;
                }
                None => {
                    let n = p.len();
                    buf.extend_from_slice(&p[..n.min(cap + 1)]);
                    self.consume(n);
                    if buf.len() > cap {
                        return self.skip_rest(term, buf, cap);
                    }
                }
            }
        }
        if self.error.is_some() {
            return Ended::Eof;
        }
        // Straight from the input's buffer: a word-at-a-time scan (segments
        // are a few dozen bytes, too short for memchr's set-up to pay, but
        // long enough that a byte loop shows) within what the cap still
        // allows, then one copy.
        loop {
            let room = (cap + 1).saturating_sub(buf.len());
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error = Some(e);
                    return Ended::Eof;
                }
            };
            if chunk.is_empty() {
                return Ended::Eof;
            }
            let window = &chunk[..chunk.len().min(room)];
            match find_byte(window, term) {
                Some(i) => {
                    buf.extend_from_slice(&window[..i]);
                    self.input.consume(i + 1);
                    self.bytes += i as u64 + 1;
                    if buf.len() > cap {
                        buf.truncate(cap);
                        return Ended::Oversized;
                    }
                    return Ended::Terminator;
                }
                None => {
                    let n = window.len();
                    buf.extend_from_slice(window);
                    self.input.consume(n);
                    self.bytes += n as u64;
                    if buf.len() > cap {
                        return self.skip_rest(term, buf, cap);
                    }
                }
            }
        }
    }

    /// Consumes the rest of an oversized segment (to its terminator or the
    /// end of the input) without keeping it.
    fn skip_rest(&mut self, term: u8, buf: &mut Vec<u8>, cap: usize) -> Ended {
        buf.truncate(cap);
        if self.pending_active() {
            let p = &self.pending[self.pending_pos..];
            if let Some(i) = p.iter().position(|&b| b == term) {
                self.consume(i + 1);
                return Ended::Oversized;
            }
            let n = p.len();
            self.consume(n);
        }
        loop {
            if self.error.is_some() {
                return Ended::Oversized;
            }
            self.scratch.clear();
            match (&mut self.input)
                .take(64 * 1024)
                .read_until(term, &mut self.scratch)
            {
                Ok(0) => return Ended::Oversized,
                Ok(n) => {
                    self.bytes += n as u64;
                    if self.scratch.last() == Some(&term) {
                        return Ended::Oversized;
                    }
                }
                Err(e) => {
                    self.error = Some(e);
                    return Ended::Oversized;
                }
            }
        }
    }
}

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// High bit set in each byte of `w` equal to `needle` (`pat` is `needle`
/// in every byte), and nowhere else: exact, no false positives, so hits can
/// be read off with `trailing_zeros` in order.
#[inline]
fn byte_hits(w: u64, pat: u64) -> u64 {
    let x = w ^ pat;
    !(((x & LOW7) + LOW7) | x | LOW7)
}

/// The first index of `needle` in `hay`, eight bytes at a time.
#[inline]
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    let pat = u64::from_ne_bytes([needle; 8]);
    let mut chunks = hay.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let m = byte_hits(u64::from_le_bytes(c.try_into().unwrap()), pat);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|j| i + j)
}

/// Calls `f` with each index of `needle` in `hay`, in order, eight bytes at
/// a time.
#[inline]
pub(crate) fn each_byte(hay: &[u8], needle: u8, mut f: impl FnMut(usize)) {
    let pat = u64::from_ne_bytes([needle; 8]);
    let mut chunks = hay.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let mut m = byte_hits(u64::from_le_bytes(c.try_into().unwrap()), pat);
        while m != 0 {
            f(i + (m.trailing_zeros() / 8) as usize);
            m &= m - 1;
        }
        i += 8;
    }
    for (j, &b) in chunks.remainder().iter().enumerate() {
        if b == needle {
            f(i + j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{each_byte, find_byte};

    #[test]
    fn word_scans_match_byte_scans() {
        let hay: Vec<u8> = (0..200u32)
            .map(|i| [b'*', b'a', 0x80 | b'*', b'~', 0, 0xff][(i * i % 7 % 6) as usize])
            .collect();
        for start in 0..20 {
            for end in start..hay.len() {
                let h = &hay[start..end];
                for n in [b'*', b'~', 0, 0xff, 0xaa] {
                    assert_eq!(find_byte(h, n), h.iter().position(|&b| b == n));
                    let mut got = Vec::new();
                    each_byte(h, n, |i| got.push(i));
                    let want: Vec<usize> = (0..h.len()).filter(|&i| h[i] == n).collect();
                    assert_eq!(got, want);
                }
            }
        }
    }
}
