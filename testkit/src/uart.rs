//! A UART emulator: what a real serial port would deliver to p1mux, given
//! what the meter sends and the settings p1mux has put on the port.
//!
//! A pty passes bytes through whatever the settings, so on its own it
//! cannot show what a wrong baud rate, 7E1 read as 8N1, or a signal of the
//! wrong polarity does. This models the wire bit by bit (start, data,
//! parity, stop), samples it the way a receiving UART does (16x
//! oversampling to find a start bit, then mid-bit samples at its own baud),
//! and delivers each character by Linux n_tty's rules under p1mux's termios.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::termios::{InputModes, tcgetattr};

use crate::pty::Pty;
use crate::samples::parity_bit;

/// How the meter transmits.
#[derive(Clone, Copy, Debug)]
pub struct Meter {
    pub baud: u32,
    /// 7 data bits + even parity (DSMR 2.2/3.0), else 8N1.
    pub seven_e1: bool,
    /// The line reaches the UART with the wrong polarity: the cable lacks
    /// the inverter P1's open-collector output needs.
    pub wrong_polarity: bool,
}

impl Meter {
    pub const DSMR5: Meter = Meter {
        baud: 115_200,
        seven_e1: false,
        wrong_polarity: false,
    };
    pub const DSMR22: Meter = Meter {
        baud: 9600,
        seven_e1: true,
        wrong_polarity: false,
    };
}

/// How the receiving port is set, and how its driver behaves.
#[derive(Clone, Copy, Debug)]
pub struct Receiver {
    pub baud: u32,
    /// p1mux asked for 7E1 (7 bits, even parity, INPCK).
    pub seven_e1: bool,
    /// The driver runs 8N1 whatever is asked and reports no errors (ch341
    /// before Linux 4.10).
    pub ignores_parity: bool,
}

/// Idle bit times around a transmission.
const IDLE_BITS: usize = 20;

/// The meter's line as bits at its own baud, idle included: 1 is mark
/// (idle), 0 is space.
fn wire_bits(data: &[u8], meter: Meter) -> Vec<bool> {
    let mut bits = vec![true; IDLE_BITS];
    for &byte in data {
        bits.push(false); // start
        let nbits = if meter.seven_e1 { 7 } else { 8 };
        for i in 0..nbits {
            bits.push(byte >> i & 1 == 1);
        }
        if meter.seven_e1 {
            bits.push(parity_bit(byte));
        }
        bits.push(true); // stop
    }
    bits.extend(std::iter::repeat_n(true, IDLE_BITS));
    if meter.wrong_polarity {
        for bit in &mut bits {
            *bit = !*bit;
        }
    }
    bits
}

/// What the port delivers to a reader for `data` sent by `meter`.
pub fn render(data: &[u8], meter: Meter, rx: Receiver) -> Vec<u8> {
    let bits = wire_bits(data, meter);
    let duration = bits.len() as f64 / meter.baud as f64;
    let level = |t: f64| -> bool {
        let i = (t * meter.baud as f64) as usize;
        bits.get(i).copied().unwrap_or(bits[bits.len() - 1])
    };
    let bit_time = 1.0 / rx.baud as f64;
    let step = bit_time / 16.0;
    let (data_bits, parity_bit) = if rx.seven_e1 && !rx.ignores_parity {
        (7, true)
    } else {
        (8, false)
    };

    let mut out = Vec::new();
    let mut t = 0.0;
    // Like the USB-serial chips P1 cables use, the receiver resynchronises
    // at once after a bad frame: any low sample may begin a character, so a
    // line held low yields a run of NULs.
    while t < duration {
        if level(t) {
            t += step;
            continue;
        }
        // Low at about t: confirm the start bit mid-bit.
        let t0 = t;
        if level(t0 + bit_time / 2.0) {
            t += step;
            continue; // a glitch, not a start bit
        }
        let sample = |k: f64| level(t0 + (k + 0.5) * bit_time);
        let mut value: u8 = 0;
        for i in 0..data_bits {
            if sample(1.0 + i as f64) {
                value |= 1 << i;
            }
        }
        let mut frame_bits = 1 + data_bits;
        let mut parity_error = false;
        let mut parity_level = false;
        if parity_bit {
            parity_level = sample(frame_bits as f64);
            parity_error = (value.count_ones() + u32::from(parity_level)) % 2 == 1;
            frame_bits += 1;
        }
        let stop = sample(frame_bits as f64);
        let is_break = !stop && value == 0 && !parity_level;
        if is_break {
            out.push(0); // n_tty: a break reads as NUL (IGNBRK, BRKINT, PARMRK off)
        } else if rx.ignores_parity {
            out.push(value); // no error reporting at all
        } else if (!stop || parity_error) && rx.seven_e1 {
            out.push(0); // INPCK on, IGNPAR and PARMRK off: errors read as NUL
        } else {
            out.push(value); // INPCK off: the character as received
        }
        t = t0 + (frame_bits as f64 + 0.5) * bit_time;
    }
    out
}

/// The settings p1mux has put on the pty behind `fd`, as the emulator sees
/// them: the speed (termios2) and whether it asked for 7E1 (INPCK; a pty
/// forces CS8).
pub fn receiver_of(fd: impl AsFd, ignores_parity: bool) -> Receiver {
    let t = tcgetattr(fd).expect("tcgetattr on the pty");
    Receiver {
        baud: t.input_speed(),
        seven_e1: t.input_modes.contains(InputModes::INPCK),
        ignores_parity,
    }
}

/// A meter on the far side of a pty: sends `telegrams` in turn every
/// `interval`, each rendered for the settings p1mux has on the port at
/// that moment. Stops when dropped.
pub struct SimulatedMeter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SimulatedMeter {
    pub fn start(
        pty: &Pty,
        meter: Meter,
        ignores_parity: bool,
        telegrams: Vec<Vec<u8>>,
        interval: Duration,
    ) -> SimulatedMeter {
        // try_clone duplicates with close-on-exec, like the original.
        let mut master = pty.master.try_clone().expect("dup pty master");
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
            for telegram in telegrams.iter().cycle() {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                let rx = receiver_of(&master, ignores_parity);
                let bytes = render(telegram, meter, rx);
                // A real UART decodes each character with the settings of
                // the moment: once p1mux switches, no more bytes rendered for
                // the old settings may arrive. The rest of this telegram is
                // lost to the switch, as it would be on the wire.
                for piece in bytes.chunks(64) {
                    let now = receiver_of(&master, ignores_parity);
                    if (now.baud, now.seven_e1) != (rx.baud, rx.seven_e1) {
                        break;
                    }
                    if std::io::Write::write_all(&mut master, piece).is_err() {
                        return;
                    }
                }
                // Sleep in slices so that a drop stops the meter promptly.
                let mut left = interval;
                while !left.is_zero() && !stop2.load(Ordering::Relaxed) {
                    let nap = left.min(Duration::from_millis(50));
                    std::thread::sleep(nap);
                    left -= nap;
                }
            }
        });
        SimulatedMeter {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SimulatedMeter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{SAMPLES, with_parity_bit};
    use rustix::termios::{OptionalActions, tcsetattr};
    use std::io::Read;

    #[test]
    fn receiver_of_reads_what_the_port_is_set_to() {
        let pty = Pty::open();
        let mut t = tcgetattr(&pty.master).unwrap();
        t.set_speed(9600).unwrap();
        t.input_modes |= InputModes::INPCK;
        tcsetattr(&pty.master, OptionalActions::Now, &t).unwrap();
        let rx = receiver_of(&pty.master, false);
        assert_eq!((rx.baud, rx.seven_e1), (9600, true));
    }

    #[test]
    fn a_simulated_meter_delivers_through_the_pty() {
        let pty = Pty::open();
        let mut t = tcgetattr(&pty.master).unwrap();
        t.set_speed(9600).unwrap(); // 8N1 at the meter's speed: parity in bit 7
        tcsetattr(&pty.master, OptionalActions::Now, &t).unwrap();
        let mut port = std::fs::File::open(&pty.slave_path).unwrap();
        let sample = SAMPLES[0];
        let _meter = SimulatedMeter::start(
            &pty,
            Meter::DSMR22,
            false,
            vec![sample.to_vec()],
            Duration::from_secs(60),
        );
        let mut got = vec![0; sample.len()];
        port.read_exact(&mut got).unwrap();
        assert_eq!(got, with_parity_bit(sample));
    }
}
