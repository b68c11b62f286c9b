//! Every field of the frame and of the crypto is exercised: a frame built
//! with any one of them wrong (nonce order, AAD, counter, title, length
//! encoding, tag length) is not accepted, while the right one is.

use p1mux::encrypted::{AuthKey, Authentication, Decryptor, Diagnosis, Frame, Key, Reject};

use crate::frames::*;

/// Tags must fit from the first frame: no CRC fallback hides a wrong AAD.
fn strict() -> Decryptor {
    let ak = AuthKey::from_bytes(SMARTY_AK);
    Decryptor::new(&Key::from_bytes(KEY), Authentication::Given(ak))
}

/// What a strict decryptor makes of `bytes` as one frame.
fn verdict(bytes: &[u8]) -> (Diagnosis, Result<Vec<u8>, Reject>) {
    let frame = Frame::parse(bytes).expect("structurally a frame");
    let mut decryptor = strict();
    let diagnosis = decryptor.diagnose(&frame);
    (diagnosis, decryptor.decrypt(&frame).map(<[u8]>::to_vec))
}

const COUNTER: u32 = 0x0102_0304;

fn plain() -> Vec<u8> {
    medium_telegram(42)
}

#[test]
fn the_right_layout_decrypts() {
    let f = frame(Form::Long1, COUNTER, &plain());
    assert_eq!(verdict(&f), (Diagnosis::Fits, Ok(plain())));
    let parsed = Frame::parse(&f).unwrap();
    assert_eq!(parsed.frame_counter, COUNTER);
    assert_eq!(parsed.system_title.0, TITLE);
    assert_eq!(parsed.system_title.to_string(), "SAG-1905004217");
}

#[test]
fn the_nonce_is_title_then_counter() {
    let mut swapped = [0; 12];
    swapped[..4].copy_from_slice(&COUNTER.to_be_bytes());
    swapped[4..].copy_from_slice(&TITLE);
    let mut little = nonce(&TITLE, 0);
    little[8..].copy_from_slice(&COUNTER.to_le_bytes());
    for bad in [swapped, little, nonce(&TITLE, COUNTER + 1)] {
        let sealed = seal(&KEY, &bad, &aad(0x30, &SMARTY_AK), &plain());
        let f = lay_out(&TITLE, Form::Long1, COUNTER, &sealed);
        assert_eq!(
            verdict(&f),
            (Diagnosis::WrongKey, Err(Reject::Auth)),
            "{bad:02X?}"
        );
    }
}

#[test]
fn every_title_byte_is_in_the_nonce() {
    let f = frame(Form::Long1, COUNTER, &plain());
    for at in 2..10 {
        let mut bad = f.clone();
        bad[at] ^= 0x20; // keeps the manufacturer letters letters
        assert_eq!(
            verdict(&bad),
            (Diagnosis::WrongKey, Err(Reject::Auth)),
            "byte {at}"
        );
    }
}

#[test]
fn the_aad_is_the_security_byte_then_the_auth_key() {
    let reversed = [&SMARTY_AK[..], &[0x30]].concat();
    let other_ak = aad(0x30, &[0x01; 16]);
    let other_security = aad(0x20, &SMARTY_AK);
    for bad in [
        vec![0x30],
        SMARTY_AK.to_vec(),
        reversed,
        other_ak,
        other_security,
        vec![],
    ] {
        let sealed = seal(&KEY, &nonce(&TITLE, COUNTER), &bad, &plain());
        let f = lay_out(&TITLE, Form::Long1, COUNTER, &sealed);
        // The ciphertext is right, only the tag is not.
        assert_eq!(
            verdict(&f),
            (Diagnosis::WrongAuthKey, Err(Reject::Auth)),
            "{bad:02X?}"
        );
    }
}

#[test]
fn the_length_counts_exactly_what_follows_it() {
    for form in [Form::Short, Form::Long1, Form::Long2] {
        let plain = short_telegram(7);
        let f = frame(form, COUNTER, &plain);
        let at = match form {
            Form::Short => 10,
            Form::Long1 => 11,
            Form::Long2 => 12,
        };
        for delta in [-1i8, 1] {
            let mut bad = f.clone();
            bad[at] = bad[at].wrapping_add_signed(delta);
            let stream = concat(&[&bad, b"......"]);
            let out = run(&[&stream], Some(&mut strict()));
            assert_eq!(out.rejects, [Reject::Auth], "{form:?} {delta:+}");
            assert_eq!(out.telegrams, [] as [Vec<u8>; 0]);
        }
        let out = run(&[&f], Some(&mut strict()));
        assert_eq!(out.telegrams, [plain], "{form:?}");
    }
}

#[test]
fn the_tag_is_12_bytes() {
    // A 16-byte tag (GCM's full length) laid out as if it were the frame's.
    let sealed = seal(
        &KEY,
        &nonce(&TITLE, COUNTER),
        &aad(0x30, &SMARTY_AK),
        &plain(),
    );
    let cipher = AesFull::seal(&plain());
    assert_eq!(&cipher[..plain().len()], &sealed[..plain().len()]);
    let f = lay_out(&TITLE, Form::Long1, COUNTER, &cipher);
    assert_eq!(verdict(&f).1, Err(Reject::Auth));
    // And the 12 bytes are the first 12 of the 16.
    assert_eq!(&cipher[plain().len()..][..12], &sealed[plain().len()..]);
}

/// AES-128-GCM with the standard 16-byte tag.
struct AesFull;

impl AesFull {
    fn seal(plain: &[u8]) -> Vec<u8> {
        use aes_gcm::aead::{AeadInOut, KeyInit};
        let cipher = aes_gcm::Aes128Gcm::new(&KEY.into());
        let mut out = plain.to_vec();
        let n = nonce(&TITLE, COUNTER);
        let tag = cipher
            .encrypt_inout_detached(&n.into(), &aad(0x30, &SMARTY_AK), out.as_mut_slice().into())
            .unwrap();
        out.extend_from_slice(&tag);
        out
    }
}
