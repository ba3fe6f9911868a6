//! Nothing panics and `next_item` always comes to an end, with the same
//! items however the input is cut into reads: arbitrary bytes, X12-looking
//! noise, and a valid file with segments dropped, duplicated, swapped,
//! changed or cut short.

use std::io::BufReader;

use medpol_x12::{Item, Reader};
use proptest::prelude::*;

const VALID: &str = "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*^*00501*000000001*0*P*:~
GS*HC*S*R*20240101*1200*1*X*005010X222A1~
ST*837*0001*005010X222A1~
BHT*0019*00*1*20240101*1200*CH~
HL*1**20*1~
NM1*85*2*BILLING*****XX*1~
HL*2*1*22*1~
SBR*P*18*GRP******HM~
NM1*IL*1*DOE*JANE****MI*M1~
NM1*PR*2*ACME*****PI*1~
HL*3*2*23*0~
CLM*A*10***11:B:1~
REF*G1*PA1~
HI*ABK:J449*BK:4019~
SBR*S*01*******CI~
NM1*PR*2*OTHER*****PI*2~
LX*1~
SV1*HC:99213:25*10*UN*1*22**1~
DTP*472*RD8*20240101-20240102~
LX*2~
SV1*HC>99214*10*UN*1~
DTP*472*D8*20240101~
CLM*B*10***11>B>1~
HI*ABK>J449~
LX*1~
SV1*HC>99215*10*UN*1~
SE*25*0001~
ST*837*0002*005010X223A2~
HL*1**20*1~
HL*2*1*22*0~
SBR*P*18*GRP******HM~
NM1*PR*2*ACME*****PI*1~
CLM*C*10***13:A:1~
DTP*434*D8*20240101~
HI*ABK:I10~
LX*1~
SV2*0450*HC:99284*10*UN*1~
SE*11*0002~
GE*2*1~
IEA*1*000000001~
";

/// Reads everything, failing (not hanging) if the reader does not end.
fn read_all<R: std::io::BufRead>(input: R, len: usize) -> Vec<Item> {
    let mut r = Reader::new(input);
    let limit = 4 * len + 16;
    let mut items = Vec::new();
    while let Some(item) = r.next_item() {
        if let Item::Problem(p) = &item {
            let _ = p.to_string();
        }
        items.push(item);
        assert!(items.len() <= limit, "more items than the input could hold");
    }
    assert!(r.next_item().is_none());
    assert!(r.bytes_read() <= len as u64);
    items
}

/// Reads in pieces of `cap` bytes and at once: the same items either way.
fn drain(input: &[u8], cap: usize) {
    let pieces = read_all(BufReader::with_capacity(cap, input), input.len());
    let whole = read_all(input, input.len());
    assert_eq!(pieces, whole);
}

fn segments() -> Vec<String> {
    VALID.split_inclusive('\n').map(str::to_string).collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Drop(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Truncate(usize),
    Flip(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0..64usize).prop_map(Edit::Drop),
        (0..64usize).prop_map(Edit::Duplicate),
        (0..64usize, 0..64usize).prop_map(|(a, b)| Edit::Swap(a, b)),
        (0..4000usize).prop_map(Edit::Truncate),
        (0..4000usize, any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
    ]
}

fn apply(edits: &[Edit]) -> Vec<u8> {
    let mut segs = segments();
    let mut cut = None;
    let mut flips = Vec::new();
    for e in edits {
        let n = segs.len();
        match *e {
            Edit::Drop(i) if n > 0 => {
                segs.remove(i % n);
            }
            Edit::Duplicate(i) if n > 0 => {
                let s = segs[i % n].clone();
                segs.insert(i % n, s);
            }
            Edit::Swap(a, b) if n > 0 => segs.swap(a % n, b % n),
            Edit::Truncate(at) => cut = Some(at),
            Edit::Flip(i, b) => flips.push((i, b)),
            _ => {}
        }
    }
    let mut bytes = segs.concat().into_bytes();
    for (i, b) in flips {
        if !bytes.is_empty() {
            let k = i % bytes.len();
            bytes[k] = b;
        }
    }
    if let Some(at) = cut {
        bytes.truncate(at.min(bytes.len()));
    }
    bytes
}

/// Bytes made of X12 pieces, so that the reader gets past the ISA often.
fn x12ish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&VALID[..107]),
        Just("ISA*"),
        Just("GS*HC*1*2*3*4*1*X*005010X222A1~"),
        Just("ST*837*1*005010X223A2~"),
        Just("SE*2*1~"),
        Just("GE*1*1~"),
        Just("IEA*1*1~"),
        Just("HL*1**20*1~"),
        Just("HL*2*1*22*0~"),
        Just("HL*3*2*23*0~"),
        Just("SBR*P*18*G******CI~"),
        Just("NM1*PR*2*P*****PI*1~"),
        Just("CLM*X*1***11:B:1~"),
        Just("CLM**1***11>B>1~"),
        Just("HI*ABK:J449*BK*ABF~"),
        Just("LX*1~"),
        Just("LX*~"),
        Just("SV1*HC:99213*1*UN*1~"),
        Just("SV1*ER>1~"),
        Just("SV2*0450*HC^1~"),
        Just("DTP*472*RD8*20240101-20231231~"),
        Just("DTP*434*D8*20240230~"),
        Just("*"),
        Just(":"),
        Just(">"),
        Just("~"),
        Just("\n"),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..3000), cap in 1..300usize) {
        drain(&bytes, cap);
    }

    #[test]
    fn x12_like_noise(bytes in x12ish(), cap in 1..300usize) {
        drain(&bytes, cap);
    }

    #[test]
    fn mutated_valid_file(edits in prop::collection::vec(edit(), 0..6), cap in 1..300usize) {
        let bytes = apply(&edits);
        drain(&bytes, cap);
    }
}

#[test]
fn the_valid_file_is_valid() {
    let mut r = Reader::new(VALID.as_bytes());
    let items: Vec<Item> = std::iter::from_fn(|| r.next_item()).collect();
    let claims: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Item::Claim(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(claims.len(), 3);
    assert_eq!(claims.iter().map(|c| c.lines.len()).sum::<usize>(), 4);
    // Only the ICD-9 code and the component separator are worth a warning.
    let errors: Vec<_> = items
        .iter()
        .filter(|i| matches!(i, Item::Problem(p) if p.severity == medpol_x12::Severity::Error))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_huge_segment_without_terminator_is_not_held() {
    // 8 MiB after a valid header, no terminator: read in bounded pieces.
    let mut bytes = VALID.as_bytes()[..VALID.find("SE*25").unwrap()].to_vec();
    bytes.extend(std::iter::repeat_n(b'A', 8 << 20));
    let mut r = Reader::new(BufReader::new(&bytes[..]));
    let mut n = 0;
    while r.next_item().is_some() {
        n += 1;
    }
    assert!(n >= 2);
}

#[test]
fn every_prefix_of_the_valid_file() {
    let bytes = VALID.as_bytes();
    for end in 0..=bytes.len() {
        drain(&bytes[..end], 64);
    }
}
