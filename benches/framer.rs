//! Framer throughput on a real capture (566 telegrams from an Iskra AM550),
//! fed in 4 KiB pieces as the gateway reads them: as 8N1 text, as 7E1 read
//! by a port that ignores parity (parity in bit 7), and as 7-bit text under
//! 7E1 parity awareness.
//!
//! Run: `cargo bench --bench framer`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p1mux::framer::{Event, Framer, Parity};

const CAPTURE: &[u8] = include_bytes!("../tests/data/capture_iskra_am550_566.txt");
const TELEGRAMS: usize = 566;
/// What one read from the port typically returns in a burst.
const CHUNK: usize = 4096;

/// What a UART set to 8N1 delivers for a meter sending 7E1: the even parity
/// bit lands in bit 7.
fn with_parity_bit(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| if b.count_ones() % 2 == 1 { b | 0x80 } else { b })
        .collect()
}

/// Frames `input` in `CHUNK`-sized pieces; returns (telegrams, rejects,
/// telegram bytes) so the work cannot be optimised away.
fn frame(framer: &mut Framer, input: &[u8]) -> (usize, usize, usize) {
    framer.reset();
    let (mut good, mut bad, mut bytes) = (0, 0, 0);
    for chunk in input.chunks(CHUNK) {
        framer.push(chunk, |event| match event {
            Event::Telegram(t) => {
                good += 1;
                bytes += black_box(t.bytes).len();
            }
            Event::Rejected { .. } => bad += 1,
        });
    }
    (good, bad, bytes)
}

fn throughput(c: &mut Criterion) {
    let bit7 = with_parity_bit(CAPTURE);
    let cases: [(&str, &[u8], Parity); 3] = [
        ("8n1", CAPTURE, Parity::None),
        ("7e1_parity_in_bit7", &bit7, Parity::Even),
        ("7bit_under_even", CAPTURE, Parity::Even),
    ];
    let mut group = c.benchmark_group("framer");
    for (name, input, parity) in cases {
        let mut framer = Framer::new(parity);
        // A broken framer must not be measured as a fast one.
        let (good, bad, _) = frame(&mut framer, input);
        assert_eq!((good, bad), (TELEGRAMS, 0), "{name}: telegrams, rejects");
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| b.iter(|| frame(&mut framer, black_box(input))));
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
