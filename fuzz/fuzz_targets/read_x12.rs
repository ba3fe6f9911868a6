//! Fuzzes the X12 837 reader: any bytes give claims and problems, never a
//! panic, and the reader comes to an end; reading the input in small pieces
//! gives the same items as reading it at once (segment reads, the ISA and
//! the push-back do not depend on where the input's buffer ends).
#![no_main]

use std::io::{BufRead, BufReader};

use libfuzzer_sys::fuzz_target;
use medpol_x12::{Item, Reader};

fn read_all<R: BufRead>(input: R, len: usize) -> Vec<Item> {
    let mut reader = Reader::new(input);
    let mut items = Vec::new();
    while let Some(item) = reader.next_item() {
        if let Item::Problem(p) = &item {
            let _ = p.to_string();
        }
        items.push(item);
        assert!(
            items.len() <= 4 * len + 16,
            "the reader does not come to an end"
        );
    }
    assert!(reader.next_item().is_none());
    assert!(reader.bytes_read() <= len as u64);
    items
}

fuzz_target!(|data: &[u8]| {
    let whole = read_all(data, data.len());
    let capacity = 1 + data.last().map_or(0, |&b| usize::from(b % 32));
    let pieces = read_all(BufReader::with_capacity(capacity, data), data.len());
    assert_eq!(whole, pieces);
});
