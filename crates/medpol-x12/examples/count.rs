//! Reads an 837 file and counts claims, lines and problems: the reader's
//! own speed, without screening (`cargo run --release --example count FILE`).
fn main() {
    let path = std::env::args().nth(1).expect("usage: count FILE");
    let f = std::fs::File::open(&path).expect("open");
    let started = std::time::Instant::now();
    let mut r = medpol_x12::Reader::new(std::io::BufReader::with_capacity(1 << 20, f));
    let (mut claims, mut lines, mut problems) = (0u64, 0u64, 0u64);
    while let Some(item) = r.next_item() {
        match item {
            medpol_x12::Item::Claim(c) => {
                claims += 1;
                lines += c.lines.len() as u64;
                // Done with it: its allocations serve the next claims.
                r.recycle(c);
            }
            medpol_x12::Item::Problem(_) => problems += 1,
        }
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "{claims} claims, {lines} lines, {problems} problems in {s:.2} s ({:.0} lines/s)",
        lines as f64 / s
    );
}
