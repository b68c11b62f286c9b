//! The UART emulator used by the detection tests, checked against the facts
//! in DSMR's reference: what each wrong setting does to the bytes.

mod common;

use common::uart::{Meter, Receiver, render};
use common::{SAMPLES, with_parity_bit};
use p1mux::framer::{Event, Framer, Parity};

fn rx(baud: u32, seven_e1: bool) -> Receiver {
    Receiver {
        baud,
        seven_e1,
        ignores_parity: false,
    }
}

fn valid_telegrams(bytes: &[u8], parity: Parity) -> usize {
    let mut n = 0;
    Framer::new(parity).push(bytes, |e| n += usize::from(matches!(e, Event::Telegram(_))));
    n
}

#[test]
fn matching_settings_deliver_the_bytes_exactly() {
    let dsmr5 = SAMPLES[5];
    assert_eq!(render(dsmr5, Meter::DSMR5, rx(115_200, false)), dsmr5);
    let dsmr22 = SAMPLES[0];
    assert_eq!(render(dsmr22, Meter::DSMR22, rx(9600, true)), dsmr22);
}

#[test]
fn seven_e1_read_as_8n1_puts_parity_in_bit_7() {
    let dsmr22 = SAMPLES[0];
    let got = render(dsmr22, Meter::DSMR22, rx(9600, false));
    assert_eq!(got[0], 0xAF, "'/' arrives as 0xAF");
    assert_eq!(got, with_parity_bit(dsmr22));
    // A driver that ignores a 7E1 request delivers the same.
    let ignoring = Receiver {
        baud: 9600,
        seven_e1: true,
        ignores_parity: true,
    };
    assert_eq!(render(dsmr22, Meter::DSMR22, ignoring), got);
}

#[test]
fn eight_n1_read_as_7e1_flags_parity_errors_as_nul() {
    let dsmr5 = SAMPLES[5];
    let got = render(dsmr5, Meter::DSMR5, rx(115_200, true));
    assert_eq!(got.len(), dsmr5.len());
    let nul = got.iter().filter(|&&b| b == 0).count() * 100 / got.len();
    assert!((25..=60).contains(&nul), "{nul}% NUL");
    // The rest is the data.
    for (g, d) in got.iter().zip(dsmr5) {
        assert!(*g == 0 || g == d);
    }
    assert_eq!(valid_telegrams(&got, Parity::Even), 0);
}

#[test]
fn fast_data_read_slowly_is_a_few_random_bytes() {
    let dsmr5 = SAMPLES[5];
    let got = render(dsmr5, Meter::DSMR5, rx(9600, false));
    let ratio = dsmr5.len() as f64 / got.len() as f64;
    assert!((6.0..=20.0).contains(&ratio), "1/{ratio:.1} of the bytes");
    assert_eq!(valid_telegrams(&got, Parity::None), 0);
}

#[test]
fn slow_data_read_fast_is_many_bytes_mostly_nul_and_high() {
    let dsmr22 = SAMPLES[0];
    let got = render(dsmr22, Meter::DSMR22, rx(115_200, false));
    let ratio = got.len() as f64 / dsmr22.len() as f64;
    assert!((4.0..=13.0).contains(&ratio), "{ratio:.1}x the bytes");
    let nul_or_high = got.iter().filter(|&&b| b == 0 || b >= 0x80).count();
    assert!(nul_or_high * 2 > got.len(), "mostly 0x00 and high bytes");
    assert_eq!(valid_telegrams(&got, Parity::Even), 0);
}

#[test]
fn wrong_polarity_never_decodes() {
    for (meter, name) in [(Meter::DSMR5, "DSMR 5"), (Meter::DSMR22, "DSMR 2.2")] {
        let meter = Meter {
            wrong_polarity: true,
            ..meter
        };
        for baud in [115_200, 9600] {
            for seven_e1 in [false, true] {
                let got = render(
                    SAMPLES[if meter.seven_e1 { 0 } else { 5 }],
                    meter,
                    rx(baud, seven_e1),
                );
                assert!(
                    !got.is_empty(),
                    "{name} at {baud}: an inverted line still gives bytes"
                );
                for parity in [Parity::None, Parity::Even] {
                    assert_eq!(
                        valid_telegrams(&got, parity),
                        0,
                        "{name} at {baud} 7e1={seven_e1}"
                    );
                }
            }
        }
    }
}
