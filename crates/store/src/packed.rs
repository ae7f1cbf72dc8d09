//! Packed JSON documents, for the history columns (`user_ops.op_z` and `receipt_z`,
//! `wallet_calls.calls_z`, since migration 0012): the JSON text with each `"0x…"` string of an even
//! number of lowercase hex digits replaced by its bytes, then deflated with a preset dictionary of
//! the document's keys. An operation's JSON of hex text (~1,040 bytes) packs to ~330 bytes, where
//! plain deflate (migration 0011) gave ~445: hex digits carry half a byte each, and a document of
//! one or two kilobytes is too short for deflate to learn its own keys.
//!
//! Layout: one format byte ([`FORMAT_V1`]), then a raw deflate stream (RFC 1951) of the compacted
//! text, compressed with the kind's dictionary. In the compacted text, byte `0xFF` (never part of
//! UTF-8) starts a hex string: a LEB128 length `n`, then `n` bytes, standing for `"0x` ‖ 2n
//! lowercase hex digits ‖ `"`. Every other byte is the text's own, so any text round-trips exactly.
//!
//! The dictionaries are part of the stored format: rows written with [`FORMAT_V1`] need them as they
//! are. A change needs a new format byte (and the old dictionary kept for reading).

use std::cell::RefCell;
use std::fmt::Write as _;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::CodecError;

/// The first byte of every packed document: compaction and dictionaries as described above.
const FORMAT_V1: u8 = 1;

/// Starts a hex string in the compacted text (no UTF-8 text contains this byte).
const HEX_MARK: u8 = 0xff;

/// The kind of JSON document a column holds, which picks its preset dictionary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Doc {
    /// A user operation's RPC JSON (v0.7 fields).
    Op,
    /// An operation's stored outcome (`bundler::receipt::OpOutcome`).
    Receipt,
    /// A call's calls (Wallet API JSON).
    Calls,
}

impl Doc {
    /// The preset dictionary of this kind (format 1: never to be changed).
    fn dictionary(self) -> &'static [u8] {
        match self {
            Doc::Op => {
                br#"{"sender":"0x","nonce":"0x","factory":"0x","factoryData":"0x","callData":"0x","callGasLimit":"0x","verificationGasLimit":"0x","preVerificationGas":"0x","maxFeePerGas":"0x","maxPriorityFeePerGas":"0x","paymaster":"0x","paymasterVerificationGasLimit":"0x","paymasterPostOpGasLimit":"0x","paymasterData":"0x","signature":"0x"}"#
            }
            Doc::Receipt => {
                br#"{"sender":"0x","nonce":"0x","paymaster":"0x","actualGasCost":"0x","actualGasUsed":"0x","success":false,"reason":"0x","success":true,"logs":[{"address":"0x","topics":["0x","0x000000000000000000000000"],"data":"0x"}],"bundleGasUsed":"#
            }
            Doc::Calls => br#"[{"to":"0x","value":"0x","data":"0x"},{"to":"0x","data":"0x"}]"#,
        }
    }
}

/// `json` packed for a binary column (see the module's documentation).
pub(crate) fn packed(column: &str, doc: Doc, json: &str) -> Result<Vec<u8>, CodecError> {
    DEFLATE.with(|state| {
        let mut state = state.borrow_mut();
        let z = state.get_or_insert_with(|| Compress::new(PACKING_LEVEL, false));
        z.reset();
        packed_with(z, column, doc, json)
    })
}

/// Deflate's fastest level: 6 µs per operation where the default level took 15 µs, for about 5 %
/// more bytes (an operation 334 bytes instead of 319). Not part of the format: any level inflates.
const PACKING_LEVEL: Compression = Compression::new(1);

thread_local! {
    /// This thread's deflate state, reset for each document: a new one allocates and clears
    /// ~270 KB, which cost more than compressing a document of a kilobyte.
    static DEFLATE: RefCell<Option<Compress>> = const { RefCell::new(None) };
    /// This thread's inflate state, reset for each document.
    static INFLATE: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// [`packed`] with a deflate state fresh from `reset`.
fn packed_with(z: &mut Compress, column: &str, doc: Doc, json: &str) -> Result<Vec<u8>, CodecError> {
    let compact = compacted(json.as_bytes());
    let fail = |e: &dyn std::fmt::Display| CodecError::Input(format!("{column}: cannot pack: {e}"));
    z.set_dictionary(doc.dictionary()).map_err(|e| fail(&e))?;
    let mut out = Vec::with_capacity(compact.len() / 2 + 64);
    out.push(FORMAT_V1);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(256));
        }
        let consumed = usize::try_from(z.total_in()).map_err(|e| fail(&e))?;
        let rest = compact.get(consumed..).unwrap_or_default();
        match z.compress_vec(rest, &mut out, FlushCompress::Finish).map_err(|e| fail(&e))? {
            Status::StreamEnd => return Ok(out),
            Status::Ok | Status::BufError => {}
        }
    }
}

/// Inverse of [`packed`]; anything else is corrupt.
pub(crate) fn unpacked(column: &str, doc: Doc, bytes: &[u8]) -> Result<String, CodecError> {
    INFLATE.with(|state| {
        let mut state = state.borrow_mut();
        let z = state.get_or_insert_with(|| Decompress::new(false));
        z.reset(false);
        unpacked_with(z, column, doc, bytes)
    })
}

/// [`unpacked`] with an inflate state fresh from `reset`.
fn unpacked_with(z: &mut Decompress, column: &str, doc: Doc, bytes: &[u8]) -> Result<String, CodecError> {
    let corrupt = |what: &dyn std::fmt::Display| CodecError::Corrupt(format!("{column}: {what}"));
    let Some((&FORMAT_V1, stream)) = bytes.split_first() else {
        return Err(corrupt(&format!("unknown packing (first byte {:?})", bytes.first())));
    };
    z.set_dictionary(doc.dictionary()).map_err(|e| corrupt(&e))?;
    let mut compact = Vec::with_capacity(stream.len() * 3);
    loop {
        if compact.len() == compact.capacity() {
            compact.reserve(compact.capacity().max(256));
        }
        let (seen_in, seen_out) = (z.total_in(), z.total_out());
        let consumed = usize::try_from(seen_in).map_err(|e| corrupt(&e))?;
        let rest = stream.get(consumed..).unwrap_or_default();
        match z.decompress_vec(rest, &mut compact, FlushDecompress::Finish).map_err(|e| corrupt(&e))? {
            Status::StreamEnd => break,
            // No progress with room to write: the stream ends before its last block.
            _ if z.total_in() == seen_in && z.total_out() == seen_out && compact.len() < compact.capacity() => {
                return Err(corrupt(&"truncated deflate stream"));
            }
            Status::Ok | Status::BufError => {}
        }
    }
    if usize::try_from(z.total_in()).ok() != Some(stream.len()) {
        return Err(corrupt(&"bytes after the deflate stream"));
    }
    expanded(&compact).ok_or_else(|| corrupt(&"malformed compacted text"))
}

/// The text with each `"0x` ‖ 2n lowercase hex digits ‖ `"` (n ≥ 1) replaced by the mark, n, the bytes.
fn compacted(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if let Some(digits) = hex_string_at(text, i) {
            out.push(HEX_MARK);
            let body = &text[i + 3..i + 3 + digits];
            push_leb128(&mut out, digits / 2);
            out.extend(body.chunks_exact(2).map(|pair| (nibble(pair[0]) << 4) | nibble(pair[1])));
            i += digits + 4;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

/// The number of hex digits of the `"0x…"` string starting at `i`, when it is one we compact.
fn hex_string_at(text: &[u8], i: usize) -> Option<usize> {
    let rest = text.get(i..)?.strip_prefix(b"\"0x")?;
    let digits = rest.iter().take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')).count();
    (digits > 0 && digits % 2 == 0 && rest.get(digits) == Some(&b'"')).then_some(digits)
}

/// The value of a lowercase hex digit (only called on `0-9a-f`).
fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// Inverse of [`compacted`]: `None` if a mark is malformed or the result is not UTF-8.
fn expanded(compact: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(compact.len() * 2);
    let mut i = 0;
    while i < compact.len() {
        let Some(at) = compact[i..].iter().position(|&b| b == HEX_MARK) else {
            out.push_str(std::str::from_utf8(&compact[i..]).ok()?);
            break;
        };
        out.push_str(std::str::from_utf8(&compact[i..i + at]).ok()?);
        i += at + 1;
        let (n, used) = read_leb128(compact.get(i..)?)?;
        i += used;
        let bytes = compact.get(i..i.checked_add(n)?)?;
        out.push_str("\"0x");
        for b in bytes {
            // Writing into a String cannot fail.
            let _ = write!(out, "{b:02x}");
        }
        out.push('"');
        i += n;
    }
    Some(out)
}

fn push_leb128(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let low = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// A LEB128 length and the bytes it took; `None` if truncated or beyond `usize`.
fn read_leb128(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut n = 0usize;
    for (k, &b) in bytes.iter().enumerate().take(10) {
        let part = usize::from(b & 0x7f).checked_shl(u32::try_from(7 * k).ok()?)?;
        n |= part;
        if b & 0x80 == 0 {
            return Some((n, k + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const OP: &str = r#"{"sender":"0xdb42f4e452ece6b62dc78ab3f72f248be657f954","nonce":"0x1000000000000000010","callData":"0xb61d27f6000000000000000000000000057ef64e23666f000b34ae31332854acbd1c854400000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000060000000000000000000000000000000000000000000000000000000000000000406661abd00000000000000000000000000000000000000000000000000000000","callGasLimit":"0x6314","verificationGasLimit":"0x18e86","preVerificationGas":"0xb388","maxFeePerGas":"0x3b9c920c","maxPriorityFeePerGas":"0x3b9aca00","paymaster":"0x000060ec9c94e669bc64cb7b00c894f38be9fe12","paymasterVerificationGasLimit":"0xea60","paymasterPostOpGasLimit":"0x0","paymasterData":"0x00006b161eca000000000000bbcd7110ba930c61d767211a9362897819cd847ab24bca1fd90a0df19b1c15816409a44f0afa46b043fcb12dab361032cae7c56081f1a8def938e147f42e74031c","signature":"0xff0008a8704ae7e4fcd6944ae5a58a88351b9c177db209a39cbf54f41275de2570cb0d6233c75ec7420216801924dd74cd195423af180bd2723e7f19de513b0b54081b"}"#;

    #[test]
    fn any_text_round_trips_exactly() {
        let long = format!(r#"{{"callData":"0x{}"}}"#, "ab".repeat(300)); // a length of two LEB128 bytes
        for text in [
            OP,
            "",
            "plain text, no JSON",
            r#""0x""#,                               // no digits: kept as text
            r#"{"n":"0x123"}"#,                      // odd: kept as text
            r#"{"a":"0xABCD","b":"0xabcd"}"#,        // upper case kept as text, lower case compacted
            r#"{"unterminated":"0xabcd"#,            // no closing quote
            r#"["0x00","0x0000","0xff"]"#,           // leading zeros are kept
            "{\"é\":\"0x01ÿ\",\"ĳ\":\"\u{1F600}\"}", // non-ASCII text beside a mark
            &long,
        ] {
            for doc in [Doc::Op, Doc::Receipt, Doc::Calls] {
                let z = packed("c", doc, text).unwrap();
                assert_eq!(unpacked("c", doc, &z).unwrap(), text);
            }
        }
    }

    #[test]
    fn an_operation_packs_smaller_than_plain_deflate() {
        let z = packed("op_z", Doc::Op, OP).unwrap();
        let plain = crate::codec::deflated(OP);
        assert!(z.len() * 10 < plain.len() * 8, "packed {} vs plain deflate {} bytes", z.len(), plain.len());
        assert!(compacted(OP.as_bytes()).len() < OP.len() * 2 / 3);
    }

    /// The per-thread states are reset between documents: a document packs to the same bytes as
    /// with a new state whatever was packed or unpacked before (another kind, a corrupt input), and
    /// each unpacks again.
    #[test]
    fn a_reused_state_packs_as_a_new_one() {
        let fresh = |doc: Doc, json: &str| {
            let mut z = Compress::new(PACKING_LEVEL, false);
            packed_with(&mut z, "c", doc, json).unwrap()
        };
        let calls = r#"[{"to":"0x01","value":"0x","data":"0xdeadbeef"}]"#;
        let op = packed("c", Doc::Op, OP).unwrap();
        assert_eq!(op, fresh(Doc::Op, OP));
        assert_eq!(packed("c", Doc::Calls, calls).unwrap(), fresh(Doc::Calls, calls));
        assert!(unpacked("c", Doc::Op, &op[..op.len() - 3]).is_err(), "a truncated stream leaves its state behind");
        assert_eq!(packed("c", Doc::Op, OP).unwrap(), op);
        assert_eq!(unpacked("c", Doc::Op, &op).unwrap(), OP);
        assert_eq!(unpacked("c", Doc::Calls, &packed("c", Doc::Calls, calls).unwrap()).unwrap(), calls);
    }

    #[test]
    fn refuses_what_it_did_not_write() {
        let z = packed("c", Doc::Op, OP).unwrap();
        assert!(unpacked("c", Doc::Op, &[]).is_err());
        assert!(unpacked("c", Doc::Op, &z[..z.len() - 3]).is_err(), "truncated");
        assert!(unpacked("c", Doc::Op, &[z.as_slice(), &[0]].concat()).is_err(), "trailing bytes");
        assert!(unpacked("c", Doc::Op, &crate::codec::deflated(OP)).is_err(), "plain deflate (0011)");
        let mut other = z.clone();
        other[0] = 2;
        assert!(unpacked("c", Doc::Op, &other).is_err(), "unknown format byte");
        // A mark whose length runs past the end.
        let mut raw = Compress::new(Compression::default(), false);
        raw.set_dictionary(Doc::Op.dictionary()).unwrap();
        let mut bad = vec![FORMAT_V1];
        bad.reserve(64);
        raw.compress_vec(&[HEX_MARK, 9, 1], &mut bad, FlushCompress::Finish).unwrap();
        assert!(unpacked("c", Doc::Op, &bad).is_err());
    }

    /// Rows written with format 1 stay readable: this is `[{"to":"0x01","data":"0x"}]` packed as
    /// `Doc::Calls` when format 1 was made (its deflate stream copies from the dictionary).
    /// Changing a dictionary fails here.
    #[test]
    fn format_1_is_pinned() {
        let text = r#"[{"to":"0x01","data":"0x"}]"#;
        let pinned = alloy::hex::decode(PINNED_CALLS).unwrap();
        assert_eq!(unpacked("calls_z", Doc::Calls, &pinned).unwrap(), text);
        assert!(unpacked("calls_z", Doc::Op, &pinned).map_or(true, |t| t != text), "another dictionary");
    }

    const PINNED_CALLS: &str = "018b8648fc676444150700";
}
