//! Real frames from real meters, with their published keys: the only proof
//! that the nonce and AAD order here are what meters do.
//!
//! - A Sagemcom T210-D "Smarty" in Luxembourg (system title SAGgp..., frame
//!   counter 0x0005A8E3, 0x82 length form), captured at NEXXTLAB and
//!   published with its key as the test vector of NEXXTLAB/go-smarty-reader
//!   (smarty/Decryption_test.go). Its tag fits the public Smarty AK.
//! - A Sagemcom T210-D on an Austrian grid (header "/EST5"), published with
//!   its key in rddl-network/EnergyAgent (tests/energy_decrypter_test.py),
//!   whose code decrypts without checking the tag. The tag fits neither the
//!   AK published beside it nor the Smarty one: the case of a meter whose
//!   AK the user does not have, which p1mux checks by the telegram's CRC.

use p1mux::encrypted::{
    AuthKey, Authentication, Decryptor, Diagnosis, Frame, Key, KeyNews, SMARTY_AUTH_KEY,
};

use crate::frames::*;

const SMARTY_KEY: &str = "D491470F47126332B07D1923B3504188";
const SMARTY_FRAME: [&str; 21] = [
    "db08534147677001bd5482027a300005a8e3806ee6e639274c7bc57095f872b0",
    "8dde621fb74ee81e5ebe342c93d8e73781fb2a1eb8710074a54fc57aa7d1d992",
    "36c42e2ec01a0324efc7f02e3ba2fa43196ca603838ab8322dffa83f7e83932e",
    "6007406b112b41745f38805646d53fea7a029fa79c36d9d777da8b5a03ed3ec6",
    "e485dec0c98d7d53c0bd175b228e01f466d9843777808503d630158c8236d868",
    "088eb13977bdfc474367e557136feb6d537f18304484a014b49099a63c18d430",
    "3a4c53853a0ca8c5b0e3e805bfd8425410fab522b35a8f258b57bb1e97e2489b",
    "6f37071753affbb4eebca502eea592b88085ae155bcea8f732d6b0115bb9ced7",
    "6be5b893b2a7efc8163c171e77c3d29a72b7478ed6dfe2c48bf3f9d8f895ca1c",
    "b42eaac4cb21d6eab51e77e4d6029d788427dd5bfc46bdd3e8a32dbb6f93b484",
    "2b073e9b6fe6e5dfc058b5f454aa3ef162bdf93cb1e0c452dbb2be4cb4c67d16",
    "9e2a30618fa2165441b6d3c22f1c3627e35fffcf9f1947d7a6ae942fc21e246f",
    "0efc456a7889c961c93ea089eef6d1a44056baaab352cbea7d7e206757af0d42",
    "7064b058d57235a78f8db91ce4d60a3c6babd99a61169b172f2414f565bde023",
    "9654eac77552fbcc2a2fa102d7cd003ddbeb9c1f811dbc695376336e2e9d6cfc",
    "73fcb4a29446bd7ce3170e5856766b25e82049ee5508ec1816685f1dcec23819",
    "1216dffba0647d32a1559d99640a15f24ab02172db3d564454e7a0346c099399",
    "b8770a9bdaa619c7c5230526d6b80499a0ee0cd4fc46a677af68ef4dee9e76b7",
    "8ac8a04f431db3986fcfd45ee1f10799af0b794a4103735d6dda3829173f80f1",
    "38a5301afdf1db8774f0c40e6e71264b334a943fc10552b0752f3a0d7fd80458",
    "595408f2850f17",
];

const AUSTRIA_KEY: &str = "A8C74F67ECA8EF9C55C4743FF6F4F031";
const AUSTRIA_AK_PUBLISHED: &str = "F6089912E1CC910884DFC86E9F028201";
const AUSTRIA_FRAME: [&str; 16] = [
    "db085341473500033fe28201f230000000fc1aab23652c74cf94ea17a2719952",
    "fe21f41aad4f712be354c9d274d6340ab9980692831894dcf65c73e4b96d7666",
    "0f2f0fe1b39a4ef07f8aea45cbabf11f3a6dc0dc721be1b6a4fbd204bfa14502",
    "5d83a0b3458fbb199bc4ae2144094ca7ee42ad9ac59bd477d8e9011e4d306d07",
    "8044b34acfaeb366c1668e2ae34e1b9179f63e091c960f1b77ec115d5aefac45",
    "f2b7bea96e0ba993f89a667d1b8f76593bc752dc180d65db87fc344c93b727e1",
    "75f3a7b027668b6fe1f06ce858bda9b66719d4e8a787195cf24fc63f07c7f693",
    "5993b29b69745f5a3e803f84ce310f1654ccf32bf02fd1a495c551692cf0e252",
    "7bf01891740f1a14fb67a3109755eb35eb4541f006c2517edd9b32c2c7328994",
    "40c96c4c601a32a20fc27fe3a0af1c826a17769e24a913998314c6cdee5ca7ae",
    "04de72ef185288cec40b220ab8176bb3015d5a7a7200292bd9c8462dac9a116f",
    "f13a183208bf0b122fa8cb6aa6e9fce23937ccfff50998bb62a185efb13d7f95",
    "6e4e8a902d8486e0e227c79f26e9f87283cffd9f25c602b204797a6d64f6fdf9",
    "844ddbd30b9ff5b51c41269a0ccecb46cf2b444da4d3e7aabadf9b568f3221b7",
    "7db8e5ae23def82be121a56b3adf1586794863b2de001f54b70ccccb6698faf2",
    "6c9f0237f2ddb549e9a46c2cb6d88d4acc1976b752a511f4522ae1bfca4d1d",
];

fn unhex(lines: &[&str]) -> Vec<u8> {
    let hex: String = lines.concat();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn decryptor(key: &str, auth: Authentication) -> Decryptor {
    Decryptor::new(&Key::parse_hex(key).unwrap(), auth)
}

#[test]
fn a_real_smarty_frame_decrypts_and_its_tag_fits() {
    let bytes = unhex(&SMARTY_FRAME);
    assert_eq!(bytes.len(), 647);
    let frame = Frame::parse(&bytes).expect("a whole frame");
    assert_eq!(frame.system_title.manufacturer(), "SAG");
    assert_eq!(frame.system_title.to_string(), "SAG-677001BD54");
    assert_eq!(frame.frame_counter, 0x0005_A8E3);
    for auth in [
        Authentication::Default,
        Authentication::Given(SMARTY_AUTH_KEY),
    ] {
        let mut d = decryptor(SMARTY_KEY, auth);
        assert_eq!(d.diagnose(&frame), Diagnosis::Fits);
    }
    // Through the splitter and the text framer, split anywhere in noise.
    let stream = concat(&[&noise(3, 60), &bytes, &noise(4, 60)]);
    for at in (0..=stream.len()).step_by(7) {
        let mut d = decryptor(SMARTY_KEY, Authentication::Default);
        let out = run(&[&stream[..at], &stream[at..]], Some(&mut d));
        assert_eq!(out.frames, std::slice::from_ref(&bytes), "split at {at}");
        assert_eq!(out.rejects, [], "split at {at}");
        assert_eq!(out.telegrams.len(), 1, "split at {at}");
        let telegram = String::from_utf8(out.telegrams[0].clone()).unwrap();
        assert!(telegram.starts_with("/Lux5\\253663629_D\r\n"), "{telegram}");
        assert!(telegram.contains("\r\n0-0:1.0.0(180130102122W)\r\n"));
        assert!(telegram.contains("\r\n1-0:1.8.0(000006.695*kWh)\r\n"));
        assert!(telegram.ends_with("\r\n!CFDE\r\n"));
    }
}

#[test]
fn a_real_smarty_frame_needs_the_right_key_and_auth_key() {
    let bytes = unhex(&SMARTY_FRAME);
    let frame = Frame::parse(&bytes).unwrap();
    let wrong_ak = AuthKey::parse_hex("00112233445566778899AABBCCDDEEFE").unwrap();
    let mut d = decryptor(SMARTY_KEY, Authentication::Given(wrong_ak));
    assert_eq!(d.diagnose(&frame), Diagnosis::WrongAuthKey);
    let mut d = decryptor("D491470F47126332B07D1923B3504189", Authentication::Default);
    assert_eq!(d.diagnose(&frame), Diagnosis::WrongKey);
}

#[test]
fn a_real_austrian_frame_decrypts_and_is_checked_by_its_crc() {
    let bytes = unhex(&AUSTRIA_FRAME);
    assert_eq!(bytes.len(), 511);
    let frame = Frame::parse(&bytes).expect("a whole frame");
    assert_eq!(frame.system_title.to_string(), "SAG-3500033FE2");
    let mut d = decryptor(AUSTRIA_KEY, Authentication::Default);
    assert_eq!(d.diagnose(&frame), Diagnosis::FitsCrcOnly);
    let out = run(&[&bytes], Some(&mut d));
    assert_eq!(out.rejects, []);
    assert_eq!(out.news, [KeyNews::AuthKeyUnknown]);
    let telegram = String::from_utf8(out.telegrams[0].clone()).unwrap();
    assert!(telegram.starts_with("/EST5\\253717584_A\r\n"), "{telegram}");
    assert!(telegram.contains("\r\n1-0:1.8.0(007112944*Wh)\r\n"));
    assert!(telegram.contains("\r\n1-0:2.8.0(033153972*Wh)\r\n"));
    assert!(telegram.ends_with("\r\n!ED42\r\n"));
    // With the AK given, its tag must fit, and does not.
    let ak = AuthKey::parse_hex(AUSTRIA_AK_PUBLISHED).unwrap();
    let mut d = decryptor(AUSTRIA_KEY, Authentication::Given(ak));
    assert_eq!(d.diagnose(&frame), Diagnosis::WrongAuthKey);
}
