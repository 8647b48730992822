//! Tests of `change.rs`: a service change planned, guarded and described.
use super::*;

#[test]
fn weights_parse_or_say_how_to_write_them() {
    assert_eq!(
        parse_weights("us-east-1=0, eu-west-1=100").unwrap(),
        [("us-east-1".into(), 0), ("eu-west-1".into(), 100)]
    );
    for bad in [
        "us-east-1",
        "us-east-1=1.7",
        "us-east-1=-1",
        "us-east-1=256",
        "=x",
    ] {
        let e = parse_weights(bad).unwrap_err().to_string();
        assert!(
            e.contains("0 to 255") || e.contains("out of range"),
            "{bad}: {e}"
        );
    }
    let e = parse_weights("=5").unwrap_err().to_string();
    assert!(e.contains("REGION=WEIGHT"), "{e}");
    let e = parse_weights("us-east-1=10,us-east-1=20")
        .unwrap_err()
        .to_string();
    assert!(e.contains("us-east-1 is given twice"), "{e}");
    // A sign is not read as a weight: `+5` may mean "5 more" (it set 5).
    for signed in ["us-east-1=+5", "us-east-1=-0"] {
        let e = parse_weights(signed).unwrap_err().to_string();
        assert!(e.contains("has a sign"), "{signed}: {e}");
    }
    assert!(
        parse_weight("+5")
            .unwrap_err()
            .to_string()
            .contains("has a sign")
    );
    assert_eq!(parse_weight(" 007 ").unwrap(), 7);
    // An empty pair is a typo, refused as the region lists refuse it.
    for empty in ["us-east-1=1,", "a=5,,b=5", ","] {
        let e = parse_weights(empty).unwrap_err().to_string();
        assert!(e.contains("an empty pair"), "{empty}: {e}");
    }
}
