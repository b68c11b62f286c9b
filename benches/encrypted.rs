//! What the encrypted-frame splitter costs in front of the text framer,
//! on the real capture the framer bench uses (566 telegrams of an Iskra
//! AM550, fed in 4 KiB reads): the splitter alone on 8N1 text and on 7E1
//! read as 8N1 (parity in bit 7, where '[' is 0xDB), the framer alone and
//! behind the splitter. Then an encrypted meter: the same 566 telegrams as
//! Smarty frames, split (pass-through) and split and decrypted.
//!
//! Run: `cargo bench --bench encrypted`

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes128;
use aes_gcm::aes::cipher::consts::U12;
use aes_gcm::{AesGcm, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p1mux::encrypted::{Authentication, Decryptor, Key, Piece, Splitter};
use p1mux::framer::{Event, Framer, Parity};

const CAPTURE: &[u8] = include_bytes!("../tests/data/capture_iskra_am550_566.txt");
const TELEGRAMS: usize = 566;
const CHUNK: usize = 4096;
const KEY: [u8; 16] = [0x5A; 16];
const TITLE: [u8; 8] = *b"SAG\x19\x05\x00\x42\x17";
const SMARTY_AK: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
];

fn with_parity_bit(data: &[u8]) -> Vec<u8> {
    data.iter()
        .map(|&b| if b.count_ones() % 2 == 1 { b | 0x80 } else { b })
        .collect()
}

/// The capture's telegrams as Smarty frames, counters 1, 2, ...
fn encrypted_capture() -> Vec<u8> {
    let cipher = AesGcm::<Aes128, U12, U12>::new(&KEY.into());
    let mut aad = vec![0x30];
    aad.extend_from_slice(&SMARTY_AK);
    let mut telegrams = Vec::new();
    Framer::new(Parity::None).push(CAPTURE, |e| {
        if let Event::Telegram(t) = e {
            telegrams.push(t.bytes.to_vec());
        }
    });
    let mut out = Vec::new();
    for (i, telegram) in telegrams.iter().enumerate() {
        let counter = i as u32 + 1;
        let mut nonce = [0; 12];
        nonce[..8].copy_from_slice(&TITLE);
        nonce[8..].copy_from_slice(&counter.to_be_bytes());
        let mut sealed = telegram.clone();
        let tag = cipher
            .encrypt_inout_detached(
                &Nonce::<U12>::from(nonce),
                &aad,
                sealed.as_mut_slice().into(),
            )
            .unwrap();
        sealed.extend_from_slice(&tag);
        out.extend_from_slice(&[0xDB, 0x08]);
        out.extend_from_slice(&TITLE);
        out.push(0x82);
        out.extend_from_slice(&(5 + sealed.len() as u16).to_be_bytes());
        out.push(0x30);
        out.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(&sealed);
    }
    out
}

/// Splits `input` in reads; returns (text bytes, frames).
fn split(splitter: &mut Splitter, input: &[u8]) -> (usize, usize) {
    splitter.reset();
    let (mut text, mut frames) = (0, 0);
    for chunk in input.chunks(CHUNK) {
        splitter.push(chunk, |piece| match piece {
            Piece::Text(run) => text += black_box(run).len(),
            Piece::Frame(_) => frames += 1,
            Piece::Rejected(_) => {}
        });
    }
    (text, frames)
}

/// Telegrams the framer finds in `input`, behind the splitter or not.
fn frame(splitter: Option<&mut Splitter>, framer: &mut Framer, input: &[u8]) -> usize {
    framer.reset();
    let mut good = 0;
    let mut count = |e: Event<'_>| good += usize::from(matches!(e, Event::Telegram(_)));
    match splitter {
        None => input.chunks(CHUNK).for_each(|c| framer.push(c, &mut count)),
        Some(splitter) => {
            splitter.reset();
            for chunk in input.chunks(CHUNK) {
                splitter.push(chunk, |piece| {
                    if let Piece::Text(run) = piece {
                        framer.push(run, &mut count);
                    }
                });
            }
        }
    }
    good
}

fn text(c: &mut Criterion) {
    let bit7 = with_parity_bit(CAPTURE);
    let mut group = c.benchmark_group("split_text");
    for (name, input) in [("8n1", CAPTURE), ("7e1_parity_in_bit7", &bit7[..])] {
        let mut splitter = Splitter::new();
        assert_eq!(split(&mut splitter, input), (input.len(), 0), "{name}");
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| b.iter(|| split(&mut splitter, black_box(input))));
    }
    let (mut splitter, mut framer) = (Splitter::new(), Framer::new(Parity::None));
    assert_eq!(frame(Some(&mut splitter), &mut framer, CAPTURE), TELEGRAMS);
    group.throughput(Throughput::Bytes(CAPTURE.len() as u64));
    group.bench_function("framer_alone", |b| {
        b.iter(|| frame(None, &mut framer, black_box(CAPTURE)))
    });
    group.bench_function("splitter_then_framer", |b| {
        b.iter(|| frame(Some(&mut splitter), &mut framer, black_box(CAPTURE)))
    });
    group.finish();
}

fn encrypted(c: &mut Criterion) {
    let input = encrypted_capture();
    let mut splitter = Splitter::new();
    assert_eq!(split(&mut splitter, &input), (0, TELEGRAMS));
    let mut group = c.benchmark_group("split_encrypted");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("pass_through", |b| {
        b.iter(|| split(&mut splitter, black_box(&input)))
    });
    let decrypt_all = |splitter: &mut Splitter, framer: &mut Framer| {
        let mut decryptor = Decryptor::new(&Key::from_bytes(KEY), Authentication::Default);
        let mut good = 0;
        splitter.reset();
        for chunk in input.chunks(CHUNK) {
            splitter.push(chunk, |piece| {
                if let Piece::Frame(f) = piece
                    && let Ok(plain) = decryptor.decrypt(&f)
                {
                    framer.push(plain, |e| {
                        good += usize::from(matches!(e, Event::Telegram(_)))
                    });
                }
            });
        }
        good
    };
    let mut framer = Framer::new(Parity::None);
    assert_eq!(decrypt_all(&mut splitter, &mut framer), TELEGRAMS);
    group.bench_function("decrypted_and_framed", |b| {
        b.iter(|| decrypt_all(&mut splitter, &mut framer))
    });
    group.finish();
}

criterion_group!(benches, text, encrypted);
criterion_main!(benches);
