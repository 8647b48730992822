//! Tests of a batch's preview lines: changes first, skips of one reason said once.
use super::*;
use serde_json::json;

fn plan(target: &str, change: Change) -> Plan {
    Plan {
        scope: crate::provider::Scope::new(
            "default",
            "us-east-1",
            crate::config::Access::default(),
        ),
        action: "concurrency",
        target: target.into(),
        needs: crate::ops::Tier::Change,
        destructive: false,
        warning: None,
        before: json!({"reserved": 5}),
        after: json!({"reserved": 9}),
        change,
        undoes: None,
        reason: None,
        batch: None,
        note: None,
    }
}

/// Among many targets already as asked, the few changes come first (they were in name order,
/// a page at a time, before `y` acted); a read-only profile's many skips are one line.
#[test]
fn a_batch_lists_its_changes_first_and_one_reasons_skips_once() {
    let ro = crate::provider::Scope::new("ro", "us-east-1", crate::config::Access::default());
    let tier = || OpsError::Refused("this scope may only read: set the profile's mode".into());
    let mut items = vec![Item::Ready {
        source: 0,
        plan: Box::new(plan("a-same", Change::Nothing)),
    }];
    items.push(Item::Ready {
        source: 0,
        plan: Box::new(plan(
            "b-change",
            Change::Reserve {
                function: "b-change".into(),
                value: Some(9),
                expected: Some(5),
            },
        )),
    });
    for t in ["c-ro", "d-ro"] {
        items.push(Item::Skipped {
            source: 1,
            scope: ro.clone(),
            target: t.into(),
            error: tier(),
        });
    }
    let batch = Batch {
        id: "B1".into(),
        action: "concurrency".into(),
        items,
    };
    let lines = batch.lines();
    assert!(lines[1].starts_with("b-change in "), "{lines:?}");
    assert!(
        lines[2].starts_with("a-same in ") && lines[2].contains("already"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[3].starts_with("skip c-ro, d-ro in ro/us-east-1: tier — this scope may only read"),
        "{lines:?}"
    );
}

/// The same note on every change of a batch (the account's unreserved pool not read) is said
/// once under the headline, not on each target (four targets a page before `y`); notes that
/// differ stay with their targets.
#[test]
fn a_note_every_change_shares_is_said_once() {
    let reserve = |t: &str, note: &str| {
        let mut p = plan(
            t,
            Change::Reserve {
                function: t.into(),
                value: Some(9),
                expected: Some(5),
            },
        );
        p.note = Some(note.into());
        Item::Ready {
            source: 0,
            plan: Box::new(p),
        }
    };
    let batch = |items| Batch {
        id: "B2".into(),
        action: "concurrency".into(),
        items,
    };
    let shared = "not checked against what the account leaves unreserved";
    let lines = batch(vec![reserve("a", shared), reserve("b", shared)]).lines();
    assert_eq!(
        lines[1],
        format!("for each of the 2: {shared}"),
        "{lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains(shared)).count(),
        1,
        "{lines:#?}"
    );
    let lines = batch(vec![reserve("a", shared), reserve("b", "another")]).lines();
    assert_eq!(
        lines.iter().filter(|l| l.contains(shared)).count(),
        1,
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("b in") && l.contains("(another)")),
        "{lines:#?}"
    );
}
