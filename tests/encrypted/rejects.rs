//! Each way a frame goes wrong is rejected with its reason, and the next
//! good frame still comes through.

use p1mux::encrypted::{AuthKey, Authentication, Decryptor, Key, KeyNews, Reject};

use crate::frames::*;

/// Three frames of the sample telegrams, counters 1, 2 and 3.
fn good(counter: u32) -> (Vec<u8>, Vec<u8>) {
    let plain = SAMPLES[counter as usize % 2].to_vec();
    (frame(Form::Long2, counter, &plain), plain)
}

/// `bad` between two good frames: what each mode makes of it.
fn between(bad: &[u8]) -> (Out, Out) {
    let ((first, _), (last, _)) = (good(1), good(3));
    both(&concat(&[&first, bad, &last]))
}

fn telegrams_1_and_3() -> Vec<Vec<u8>> {
    vec![good(1).1, good(3).1]
}

#[test]
fn a_frame_under_another_key_is_auth_and_the_next_one_decrypts() {
    let bad = frame_keyed(&OTHER_KEY, Form::Long2, 2, SAMPLES[0]);
    let (plain, keyed) = between(&bad);
    assert_eq!(
        plain.frames.len(),
        3,
        "without a key it is a frame like any"
    );
    assert_eq!(keyed.rejects, [Reject::Auth]);
    assert_eq!(keyed.telegrams, telegrams_1_and_3());
    assert_eq!(keyed.news, [], "one frame is not a wrong key");
}

#[test]
fn a_wrong_key_is_news_once_and_its_fix_too() {
    let mut decryptor = Decryptor::new(&Key::from_bytes(OTHER_KEY), Authentication::Default);
    let frames: Vec<Vec<u8>> = (1..=6).map(|c| good(c).0).collect();
    let pieces: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let out = run(&pieces, Some(&mut decryptor));
    assert_eq!(out.rejects, [Reject::Auth; 6]);
    assert_eq!(out.news, [KeyNews::WrongKey]);
    assert_eq!(
        KeyNews::WrongKey.message(),
        "the key does not fit this meter: check the key from your grid operator"
    );
    // The meter is now keyed as the decryptor is (the user fixed the key
    // at the grid operator's end): frames decrypt, and that is news too.
    let fixed = frame_keyed(&OTHER_KEY, Form::Long2, 7, SAMPLES[1]);
    let out = run(&[&fixed], Some(&mut decryptor));
    assert_eq!(out.telegrams, [SAMPLES[1].to_vec()]);
    assert_eq!(out.news, [KeyNews::Fits]);
}

#[test]
fn a_flipped_tag_bit_is_auth() {
    let mut bad = good(2).0;
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let (plain, keyed) = between(&bad);
    assert_eq!(plain.frames[1], bad, "forwarded as it came without a key");
    assert_eq!(keyed.rejects, [Reject::Auth]);
    assert_eq!(keyed.telegrams, telegrams_1_and_3());
}

#[test]
fn a_flipped_ciphertext_bit_is_auth() {
    let mut bad = good(2).0;
    bad[100] ^= 0x20;
    let (_, keyed) = between(&bad);
    assert_eq!(keyed.rejects, [Reject::Auth]);
    assert_eq!(keyed.telegrams, telegrams_1_and_3());
}

#[test]
fn a_repeated_frame_counter_is_counter() {
    let (first, _) = good(1);
    let (last, _) = good(3);
    let (plain, keyed) = both(&concat(&[&first, &first, &last]));
    assert_eq!(plain.frames.len(), 3);
    assert_eq!(keyed.rejects, [Reject::Counter]);
    assert_eq!(keyed.telegrams, telegrams_1_and_3());
    // Going back is no better than standing still.
    let (_, keyed) = both(&concat(&[&good(3).0, &first, &good(4).0]));
    assert_eq!(keyed.rejects, [Reject::Counter]);
}

#[test]
fn a_new_meter_starts_the_counter_rule_afresh() {
    let other_title = *b"SAG\x19\x05\x00\x42\x99";
    let sealed = seal(
        &KEY,
        &nonce(&other_title, 1),
        &aad(0x30, &SMARTY_AK),
        SAMPLES[1],
    );
    let swapped = lay_out(&other_title, Form::Long2, 1, &sealed);
    let (_, keyed) = both(&concat(&[&good(1000).0, &swapped]));
    assert_eq!(keyed.rejects, []);
    assert_eq!(keyed.telegrams.len(), 2);
}

#[test]
fn a_frame_cut_anywhere_is_truncated_and_the_next_one_comes_through() {
    let (first, _) = good(1);
    let (cut, _) = good(2);
    let (last, _) = good(3);
    for keep in 1..cut.len() {
        let (plain, keyed) = both(&concat(&[&first, &cut[..keep], &last]));
        let what = format!("cut after {keep} of {}", cut.len());
        // A cut within the header makes a false start (maybe with a
        // structural reason); a cut within the last 9 bytes sends the cut
        // frame out whole, its length swallowing the start of the next;
        // anywhere else it is reported as truncated.
        if keep < 14 {
            let structural = [Reject::Length, Reject::Oversize, Reject::Security];
            assert!(keyed.rejects.len() <= 1, "{what}: {:?}", keyed.rejects);
            assert!(
                keyed.rejects.iter().all(|r| structural.contains(r)),
                "{what}"
            );
        } else {
            let expected = match cut.len() - keep {
                1..=9 => Reject::Auth,
                _ => Reject::Truncated,
            };
            assert_eq!(keyed.rejects, [expected], "{what}");
        }
        assert_eq!(keyed.telegrams, telegrams_1_and_3(), "{what}");
        assert_eq!(&plain.frames[0], &first, "{what}");
        assert_eq!(plain.frames.last(), Some(&last), "{what}");
    }
}

#[test]
fn an_oversize_length_is_oversize() {
    let mut bad = good(2).0;
    bad[11..13].copy_from_slice(&0x3000u16.to_be_bytes());
    let (plain, keyed) = between(&bad);
    assert_eq!(plain.rejects, [Reject::Oversize]);
    assert_eq!(plain.frames.len(), 2);
    assert_eq!(keyed.telegrams, telegrams_1_and_3());
}

#[test]
fn a_wrong_system_title_length_is_title_length() {
    let mut bad = good(2).0;
    bad[1] = 0x09;
    let (plain, keyed) = between(&bad);
    assert_eq!(plain.rejects, [Reject::TitleLength]);
    assert_eq!(keyed.rejects, [Reject::TitleLength]);
    assert_eq!(keyed.telegrams, telegrams_1_and_3());
}

#[test]
fn another_security_byte_is_security() {
    let mut bad = good(2).0;
    bad[13] = 0x20;
    let (plain, keyed) = between(&bad);
    assert_eq!(plain.rejects, [Reject::Security]);
    assert_eq!(keyed.telegrams, telegrams_1_and_3());
}

#[test]
fn a_given_auth_key_must_fit_from_the_first_frame() {
    // The meter uses the Smarty AK; the user gave another.
    let given = AuthKey::from_bytes([0x33; 16]);
    let mut decryptor = Decryptor::new(&Key::from_bytes(KEY), Authentication::Given(given));
    let frames: Vec<Vec<u8>> = (1..=4).map(|c| good(c).0).collect();
    let pieces: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let out = run(&pieces, Some(&mut decryptor));
    assert_eq!(out.rejects, [Reject::Auth; 4]);
    assert_eq!(out.news, [KeyNews::WrongAuthKey]);
}

#[test]
fn an_unknown_auth_key_falls_back_to_the_crc_until_a_tag_fits() {
    // A meter whose AK is not the Smarty one, nor given.
    let ak = [0x5C; 16];
    let other = |counter: u32, plain: &[u8]| {
        let sealed = seal(&KEY, &nonce(&TITLE, counter), &aad(0x30, &ak), plain);
        lay_out(&TITLE, Form::Long2, counter, &sealed)
    };
    let mut damaged = other(3, SAMPLES[1]);
    damaged[200] ^= 0x04;
    let stream = concat(&[&other(1, SAMPLES[0]), &other(2, SAMPLES[1]), &damaged]);
    let out = run(&[&stream], Some(&mut decryptor()));
    assert_eq!(out.telegrams, [SAMPLES[0].to_vec(), SAMPLES[1].to_vec()]);
    assert_eq!(out.rejects, [Reject::Auth], "the CRC still catches damage");
    assert_eq!(out.news, [KeyNews::AuthKeyUnknown]);
    // Once a tag of this meter fits the AK, its tags must.
    let stream = concat(&[&good(1).0, &other(2, SAMPLES[1])]);
    let out = run(&[&stream], Some(&mut decryptor()));
    assert_eq!(out.telegrams, [good(1).1]);
    assert_eq!(out.rejects, [Reject::Auth]);
}
