use chrono::{TimeDelta, TimeZone};
use crossterm::event::{KeyCode, KeyModifiers};

use super::*;
use crate::ops::{Access, OpsError, Plan, Request, Tier};
use crate::provider::{
    Alarm, AlarmState, FunctionInfo, FunctionMetrics, Inventory, MetricsSnapshot, ProviderError,
    TimeWindow, empty_series,
};
use crossterm::event::KeyEvent;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

fn info(name: &str, team: &str) -> FunctionInfo {
    FunctionInfo {
        name: name.into(),
        state: "Active".into(),
        tags: [("team".to_string(), team.to_string())].into(),
        ..Default::default()
    }
}

fn metrics(invocations: f64, errors: f64) -> FunctionMetrics {
    let mut m = FunctionMetrics::default();
    m.invocations.set(59, invocations);
    m.errors.set(59, errors);
    m
}

fn scopes() -> Vec<Scope> {
    ["us-east-1", "eu-west-1"]
        .iter()
        .map(|r| Scope::new("default", *r, Access::default()))
        .collect()
}

/// Two regions: us-east-1 with api (healthy, busy), worker (10 % errors), cron (alarm);
/// eu-west-1 with api.
fn loaded() -> State {
    let mut s = State::new(
        scopes(),
        Keymap::default(),
        ScreenOptions {
            metrics_secs: 10,
            ..Default::default()
        },
        t0(),
    );
    let alarm = Alarm {
        name: "cron-errors".into(),
        state: AlarmState::Alarm,
        reason: None,
        metric: Some("Errors".into()),
        function: Some("cron".into()),
    };
    let inv = |names: &[(&str, &str)]| Inventory {
        functions: names.iter().map(|(n, t)| info(n, t)).collect(),
        account_concurrency_limit: Some(1000),
        ..Default::default()
    };
    update(
        &mut s,
        Msg::Alarms {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(vec![alarm]),
        },
    );
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(inv(&[
                ("api", "web"),
                ("worker", "batch"),
                ("cron", "batch"),
            ])),
        },
    );
    update(
        &mut s,
        Msg::Alarms {
            region: 1,
            seq: 1,
            at: t0(),
            result: Ok(vec![]),
        },
    );
    update(
        &mut s,
        Msg::Inventory {
            region: 1,
            seq: 1,
            at: t0(),
            result: Ok(inv(&[("api", "web")])),
        },
    );
    let snap = |pairs: &[(&str, f64, f64)]| MetricsSnapshot {
        window_end: Some(TimeWindow::ending_at(t0()).end),
        functions: pairs
            .iter()
            .map(|(n, i, e)| (n.to_string(), metrics(*i, *e)))
            .collect(),
        percentiles_supported: false,
        region_totals: None,
        incomplete: None,
        numbers_missing: false,
        partly_read: Default::default(),
    };
    update(
        &mut s,
        Msg::Metrics {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(snap(&[
                ("api", 1000.0, 0.0),
                ("worker", 100.0, 10.0),
                ("cron", 5.0, 0.0),
            ])),
        },
    );
    update(
        &mut s,
        Msg::Metrics {
            region: 1,
            seq: 1,
            at: t0(),
            result: Ok(snap(&[("api", 500.0, 0.0)])),
        },
    );
    s
}

fn names(s: &State) -> Vec<String> {
    s.rows
        .iter()
        .map(|(r, f)| {
            format!(
                "{}/{}",
                s.regions[*r].scope.region, s.regions[*r].functions[*f].info.name
            )
        })
        .collect()
}

#[test]
fn a_killed_function_reads_as_unhealthy() {
    let mut f = super::FunctionEntry {
        info: info("cron", "batch"),
        metrics: None,
        partly: None,
        numbers_at: None,
        numbers_missed_at: None,
        alarm: None,
        history: Default::default(),
    };
    f.info.state = "Active".into();
    assert_eq!(super::rows::health_score(&f, MetricWindow::M5), 0);
    f.info.reserved_concurrency = Some(0);
    assert_eq!(super::rows::health_score(&f, MetricWindow::M5), 2);
}

#[test]
fn unhealthy_rows_come_first_by_default() {
    let s = loaded();
    assert_eq!(
        names(&s),
        [
            "us-east-1/cron",
            "us-east-1/worker",
            "us-east-1/api",
            "eu-west-1/api"
        ]
    );
}

#[test]
fn sort_cycles_columns_and_reverses() {
    let mut s = loaded();
    update(&mut s, key('s')); // region, A→Z
    assert_eq!(s.sort.column, Column::Region);
    assert_eq!(names(&s)[0], "eu-west-1/api");
    update(&mut s, key('s')); // function, A→Z
    assert_eq!(
        names(&s),
        [
            "eu-west-1/api",
            "us-east-1/api",
            "us-east-1/cron",
            "us-east-1/worker"
        ]
    );
    update(&mut s, key('s')); // invocations, largest first
    assert_eq!(names(&s)[0], "us-east-1/api");
    update(&mut s, key('S'));
    assert_eq!(names(&s)[0], "us-east-1/cron");
}

#[test]
fn filter_matches_name_region_and_tags_and_esc_clears_it() {
    let mut s = loaded();
    update(&mut s, key('/'));
    for c in "team=batch".chars() {
        update(&mut s, key(c));
    }
    assert_eq!(names(&s), ["us-east-1/cron", "us-east-1/worker"]);
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.input, None);
    assert_eq!(s.filter, "team=batch");
    update(&mut s, key('/'));
    for _ in 0.."team=batch".len() {
        update(&mut s, code(KeyCode::Backspace));
    }
    for c in "eu-west".chars() {
        update(&mut s, key(c));
    }
    assert_eq!(names(&s), ["eu-west-1/api"]);
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.filter, "");
    assert_eq!(s.rows.len(), 4);
    // The states the health column marks, by the words the screens use.
    if let Some(f) = s.regions[0]
        .functions
        .iter_mut()
        .find(|f| f.info.name == "worker")
    {
        f.info.reserved_concurrency = Some(0);
    }
    for (word, found) in [("alarm", "us-east-1/cron"), ("killed", "us-east-1/worker")] {
        update(&mut s, key('/'));
        for c in word.chars() {
            update(&mut s, key(c));
        }
        assert_eq!(names(&s), [found], "{word}");
        update(&mut s, code(KeyCode::Esc));
    }
}

#[test]
fn typing_in_the_filter_does_not_trigger_bindings() {
    let mut s = loaded();
    update(&mut s, key('/'));
    update(&mut s, key('q'));
    assert!(!s.quit);
    assert_eq!(s.filter, "q");
}

#[test]
fn a_value_input_opened_with_the_value_now_is_replaced_by_what_is_typed() {
    let mut s = loaded();
    update(&mut s, key('N'));
    let opened = match &s.input {
        Some(Input::Concurrency(t)) => t.clone(),
        other => panic!("no concurrency input: {other:?}"),
    };
    assert!(!opened.is_empty());
    update(&mut s, key('5'));
    update(&mut s, key('0'));
    assert_eq!(s.input, Some(Input::Concurrency("50".into())));
    // Backspace edits what is there.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('N'));
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, key('7'));
    let mut expected = opened.clone();
    expected.pop();
    expected.push('7');
    assert_eq!(s.input, Some(Input::Concurrency(expected)));
}

/// A rollout of cron's alias in region 0, running, at its first step.
fn rollout_running(s: &mut State) {
    update(
        s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(rollout("cron")),
            event: "step 1/2 applied".into(),
            running: true,
        },
    );
}

#[test]
fn control_keys_in_an_input_are_never_typed() {
    let ctrl = |c: char| Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
    let mut s = loaded();
    update(&mut s, key('/'));
    for c in "api cron".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, ctrl('a'));
    assert_eq!(s.filter, "api cron");
    update(&mut s, ctrl('w'));
    assert_eq!(s.filter, "api ");
    update(&mut s, ctrl('u'));
    assert_eq!(s.filter, "");
    // ctrl-c quits from an input too (nothing runs here to ask about).
    update(&mut s, key('x'));
    update(&mut s, ctrl('c'));
    assert!(s.quit);
}

#[test]
fn the_services_view_shows_the_badges_of_the_selected_services_scope() {
    let mut s = loaded();
    s.regions[1].scope = Scope::new("ro", "eu-west-1", Access::new(Tier::Read, true));
    let scopes: Vec<Scope> = s.regions.iter().map(|r| r.scope.clone()).collect();
    let service = crate::config::ServiceSettings {
        name: "checkout".into(),
        zone: "Z1".into(),
        record: "api.example.com".into(),
        kind: "CNAME".into(),
        profile: Some("ro".into()),
        regions: Default::default(),
        functions: Default::default(),
    };
    s.services = super::services::ServicePane::new(vec![service], &scopes, scopes.len());
    // The fleet's selected row is in the change-tier scope.
    assert_eq!(s.access().tier, Tier::Change);
    update(&mut s, key('4'));
    let access = s.access();
    assert_eq!((access.tier, access.production), (Tier::Read, true));
    // The regions view selects no function: the least any scope may do, said with MIXED.
    update(&mut s, key('2'));
    assert_eq!(s.access().tier, Tier::Read);
    assert!(s.mixed_access());
    // A batch (an undo) finishing in the services view reads the services again.
    update(&mut s, key('4'));
    s.services.reading = 0;
    let effects = undo_landed(&mut s, "checkout");
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::ReadService { .. })),
        "{effects:?}"
    );
}

/// A batch `id` of `action` on `target` in region 0 running, nothing landed yet.
fn one_item_batch(s: &mut State, id: &str, action: &str, target: &str) {
    s.batch_run = Some(super::batch::BatchRun {
        batch: crate::ops::batch::Batch {
            id: id.into(),
            action: action.into(),
            items: vec![crate::ops::batch::Item::Ready {
                source: 0,
                plan: Box::new(plan(target, false)),
            }],
        },
        landed: Vec::new(),
        marked: Vec::new(),
        scroll: 0,
    });
}

/// An undo of `target` in region 0 running, then its one target answering (refused).
fn undo_landed(s: &mut State, target: &str) -> Vec<Effect> {
    one_item_batch(s, "U1", "undo", target);
    update(
        s,
        Msg::BatchLanded {
            batch: "U1".into(),
            landed: (0, Err(OpsError::Conflict("changed".into()))),
        },
    )
}

/// A finished batch longer than the screen pages with ↑ ↓ PgUp PgDn: its last target's reason
/// is reached (it ended at "… and N more" with no key to show them).
#[test]
fn a_finished_batch_longer_than_the_screen_pages() {
    let mut s = loaded();
    let items: Vec<crate::ops::batch::Item> = (0..30)
        .map(|i| crate::ops::batch::Item::Ready {
            source: 0,
            plan: Box::new(plan(&format!("fn-{i:02}"), false)),
        })
        .collect();
    s.batch_run = Some(super::batch::BatchRun {
        batch: crate::ops::batch::Batch {
            id: "K1".into(),
            action: "kill".into(),
            items,
        },
        landed: Vec::new(),
        marked: Vec::new(),
        scroll: 0,
    });
    s.popup = Some(Popup::Batch);
    for i in 0..30 {
        update(
            &mut s,
            Msg::BatchLanded {
                batch: "K1".into(),
                landed: (i, Err(OpsError::Conflict(format!("reason {i:02}").into()))),
            },
        );
    }
    let first = screen_rows(&s, 80, 24).join("\n");
    assert!(first.contains("more below (Down or PgDn)"), "{first}");
    assert!(!first.contains("reason 29"), "{first}");
    for _ in 0..10 {
        update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE)),
        );
    }
    let last = screen_rows(&s, 80, 24).join("\n");
    assert!(last.contains("reason 29"), "{last}");
    assert!(last.contains("more above (Up or PgUp)"), "{last}");
    assert!(!last.contains("more below"), "{last}");
    assert!(matches!(s.popup, Some(Popup::Batch)), "still open");
    // Paged past the end, one Up moves at once (it took as many presses as overshot).
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)),
    );
    let up = screen_rows(&s, 80, 24).join("\n");
    assert!(up.contains("1 more below"), "{up}");
    // Back up to the top.
    for _ in 0..40 {
        update(
            &mut s,
            Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)),
        );
    }
    let top = screen_rows(&s, 80, 24).join("\n");
    assert!(
        top.contains("reason 00") && !top.contains("more above"),
        "{top}"
    );
}

/// A batch of invokes that ran says so as invoked, not changed (as the CLI's summary does).
#[test]
fn a_batch_of_invokes_is_said_as_invoked() {
    let mut s = loaded();
    one_item_batch(&mut s, "I1", "invoke", "orders");
    s.popup = Some(Popup::Batch);
    update(
        &mut s,
        Msg::BatchLanded {
            batch: "I1".into(),
            landed: (
                0,
                Ok(crate::ops::Outcome {
                    after: serde_json::json!({}),
                    invoke: Some((
                        crate::provider::InvokeOutcome {
                            status: 200,
                            function_error: None,
                            executed_version: Some("3".into()),
                            payload: br#"{"ok":true}"#.to_vec(),
                            log_tail: None,
                        },
                        None,
                    )),
                    record: None,
                }),
            ),
        },
    );
    let out = screen_rows(&s, 100, 30).join("\n");
    assert!(out.contains("done: invoked 1 of 1"), "{out}");
    // What each answered is shown, as one invoke's notice shows it.
    assert!(out.contains(r#"response {"ok":true}"#), "{out}");
}

/// A batch clears only the marks it acted on: an undo of another function leaves a mark it
/// never touched (kept from an earlier partial failure, or just made) where it is.
#[test]
fn a_batch_clears_only_the_marks_it_acted_on() {
    let mut s = loaded();
    s.marks.insert((0, "orders".into()));
    s.marks.insert((0, "users".into()));
    one_item_batch(&mut s, "U2", "undo", "orders:live");
    update(
        &mut s,
        Msg::BatchLanded {
            batch: "U2".into(),
            landed: (
                0,
                Ok(crate::ops::Outcome {
                    after: serde_json::json!({}),
                    invoke: None,
                    record: None,
                }),
            ),
        },
    );
    assert_eq!(
        s.marks.iter().cloned().collect::<Vec<_>>(),
        [(0, "users".to_string())]
    );
    // A trigger names its rule: an undo of one leaves the region's marks; a trigger batch
    // asked for the marks clears those it was asked for.
    let landed_ok = |s: &mut State, id: &str, marked: Vec<(usize, String)>| {
        s.batch_run = Some(super::batch::BatchRun {
            batch: crate::ops::batch::Batch {
                id: id.into(),
                action: if marked.is_empty() {
                    "undo"
                } else {
                    "trigger.disable"
                }
                .into(),
                items: vec![crate::ops::batch::Item::Ready {
                    source: 0,
                    plan: Box::new(plan("rule/nightly", false)),
                }],
            },
            landed: Vec::new(),
            marked,
            scroll: 0,
        });
        update(
            s,
            Msg::BatchLanded {
                batch: id.into(),
                landed: (
                    0,
                    Ok(crate::ops::Outcome {
                        after: serde_json::json!({}),
                        invoke: None,
                        record: None,
                    }),
                ),
            },
        );
    };
    landed_ok(&mut s, "U3", Vec::new());
    assert_eq!(s.marks.len(), 1, "{:?}", s.marks);
    landed_ok(&mut s, "T1", vec![(0, "users".to_string())]);
    assert!(s.marks.is_empty(), "{:?}", s.marks);
    // A trigger that failed keeps the marks of the functions it invokes, not every mark of
    // its region (the other function's trigger landed).
    let mut rule = plan("rule/nightly", false);
    rule.change = crate::ops::Change::Trigger {
        kind: crate::provider::TriggerKind::Rule,
        id: "nightly".into(),
        enabled: false,
        expected: true,
    };
    rule.after = serde_json::json!({"kind": "rule", "enabled": false,
        "targets": ["arn:aws:lambda:us-east-1:123456789012:function:users"]});
    let run = super::batch::BatchRun {
        batch: crate::ops::batch::Batch {
            id: "T2".into(),
            action: "trigger.disable".into(),
            items: vec![crate::ops::batch::Item::Ready {
                source: 0,
                plan: Box::new(rule),
            }],
        },
        landed: vec![(0, Err(OpsError::Conflict("changed".into())))],
        marked: vec![(0, "users".to_string()), (0, "orders".to_string())],
        scroll: 0,
    };
    let same = |a: usize, b: usize| a == b;
    assert!(run.keeps(&(0, "users".to_string()), &same));
    assert!(!run.keeps(&(0, "orders".to_string()), &same));
}

#[test]
fn a_function_action_in_the_regions_view_acts_on_nothing_unseen() {
    let mut s = loaded();
    // The regions and services views select no function: a function key there must not act
    // on (or open) the fleet's selection, which is not on screen.
    for (view, name) in [('2', "regions"), ('4', "services")] {
        update(&mut s, key(view));
        for k in [
            key('K'),
            key('i'),
            key(' '),
            key('b'),
            key('l'),
            code(KeyCode::Enter),
        ] {
            let pressed = format!("{k:?}");
            let effects = update(&mut s, k);
            let k = pressed;
            assert!(
                !effects
                    .iter()
                    .any(|e| !matches!(e, Effect::ReadService { .. })),
                "{name} {k}: {effects:?}"
            );
            let says = format!("{name} view selects no function");
            assert!(
                matches!(&s.popup, Some(Popup::Notice(n)) if n.contains(&says)),
                "{name} {k}: {:?}",
                s.popup
            );
            assert!(s.input.is_none() && s.marks.is_empty(), "{name} {k}");
            assert!(
                matches!(s.view, View::Regions | View::Services),
                "{name} {k}: {:?}",
                s.view
            );
            update(&mut s, code(KeyCode::Esc));
        }
        // Nor the palette's `detail`.
        for c in ":det".chars() {
            update(&mut s, key(c));
        }
        update(&mut s, code(KeyCode::Enter));
        assert!(
            matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("selects no function")),
            "{name}: {:?}",
            s.popup
        );
        assert!(
            matches!(s.view, View::Regions | View::Services),
            "{:?}",
            s.view
        );
        update(&mut s, code(KeyCode::Esc));
    }
}

#[test]
fn navigation_moves_and_clamps_and_the_cursor_follows_its_function() {
    let mut s = loaded();
    update(&mut s, code(KeyCode::Down));
    update(&mut s, key('j'));
    assert_eq!(s.selected, 2);
    update(&mut s, key('G'));
    assert_eq!(s.selected, 3);
    update(&mut s, code(KeyCode::Down));
    assert_eq!(s.selected, 3);
    update(&mut s, key('g'));
    assert_eq!(s.selected, 0);
    update(&mut s, key('j'));
    // New numbers reorder the rows; the cursor stays on us-east-1/worker.
    update(
        &mut s,
        Msg::Metrics {
            region: 0,
            seq: 2,
            at: t0(),
            result: Ok(MetricsSnapshot {
                window_end: Some(t0()),
                functions: [("api".to_string(), metrics(1.0, 1.0))].into(),
                ..Default::default()
            }),
        },
    );
    assert_eq!(
        s.selected_row().map(|(_, f)| f.info.name.clone()),
        Some("worker".into())
    );
}

/// eu-west-1's `api` goes into alarm: it sorts to the top, above us-east-1's `cron`.
fn alarm_on_eu_api(s: &mut State) {
    let alarm = Alarm {
        name: "x".into(),
        state: AlarmState::Alarm,
        reason: None,
        metric: None,
        function: Some("api".into()),
    };
    update(
        s,
        Msg::Alarms {
            region: 1,
            seq: 2,
            at: t0(),
            result: Ok(vec![alarm]),
        },
    );
}

#[test]
fn a_chosen_row_is_followed_also_from_the_top_when_rows_reorder() {
    let mut s = loaded();
    assert_eq!(s.selected, 0);
    assert_eq!(names(&s)[0], "us-east-1/cron");
    // The user picks the top row (down, then up again).
    update(&mut s, code(KeyCode::Down));
    update(&mut s, code(KeyCode::Up));
    alarm_on_eu_api(&mut s);
    assert_eq!(names(&s)[..2], ["eu-west-1/api", "us-east-1/cron"]);
    // A key now acts on the function the user chose, not on whatever moved under the cursor.
    assert_eq!(s.selected, 1);
    assert_eq!(
        s.selected_row()
            .map(|(r, f)| (r.scope.region.clone(), f.info.name.clone())),
        Some(("us-east-1".into(), "cron".into()))
    );
}

/// A key that acts on the highlighted row (here `b`, then esc) chooses it as a move does: a
/// reorder after it leaves the highlight on that function, so the next key acts on it too.
#[test]
fn acting_on_the_top_row_chooses_it() {
    let mut s = loaded();
    assert_eq!(names(&s)[0], "us-east-1/cron");
    assert!(!s.chosen);
    update(&mut s, key('b'));
    update(&mut s, code(KeyCode::Esc));
    assert!(s.chosen);
    alarm_on_eu_api(&mut s);
    assert_eq!(names(&s)[..2], ["eu-west-1/api", "us-east-1/cron"]);
    assert_eq!(
        s.selected_row()
            .map(|(r, f)| (r.scope.region.clone(), f.info.name.clone())),
        Some(("us-east-1".into(), "cron".into()))
    );
}

#[test]
fn a_resort_keeps_the_highlight_on_the_function() {
    let mut s = loaded();
    let before = s
        .selected_row()
        .map(|(r, f)| (r.scope.clone(), f.info.name.clone()));
    update(&mut s, key('s'));
    let after = s
        .selected_row()
        .map(|(r, f)| (r.scope.clone(), f.info.name.clone()));
    assert_eq!(before, after);
    update(&mut s, key('S'));
    let reversed = s
        .selected_row()
        .map(|(r, f)| (r.scope.clone(), f.info.name.clone()));
    assert_eq!(before, reversed);
}

#[test]
fn small_screen_scrolls_the_table() {
    let mut s = loaded();
    let names: Vec<String> = (0..20).map(|i| format!("fn{i:02}")).collect();
    update(
        &mut s,
        Msg::Inventory {
            region: 1,
            seq: 2,
            at: t0(),
            result: Ok(Inventory {
                functions: names.iter().map(|n| info(n, "web")).collect(),
                ..Default::default()
            }),
        },
    );
    update(&mut s, Msg::Resize(80, 15)); // the smallest screen drawn: 9 table rows
    assert_eq!(s.table_rows(), 9);
    let rows = s.rows.len();
    update(&mut s, key('G'));
    assert_eq!((s.selected, s.offset), (rows - 1, rows - 9));
    update(&mut s, key('g'));
    assert_eq!((s.selected, s.offset), (0, 0));
}

/// A rollout's line above the footer takes a table row: the selected row stays in view.
#[test]
fn the_selection_stays_in_view_when_a_rollout_line_shows() {
    let mut s = loaded();
    let names: Vec<String> = (0..20).map(|i| format!("fn{i:02}")).collect();
    update(
        &mut s,
        Msg::Inventory {
            region: 1,
            seq: 2,
            at: t0(),
            result: Ok(Inventory {
                functions: names.iter().map(|n| info(n, "web")).collect(),
                ..Default::default()
            }),
        },
    );
    update(&mut s, Msg::Resize(80, 15));
    let rows = s.table_rows();
    for _ in 0..rows - 1 {
        update(&mut s, key('j'));
    }
    let selected = s.selected;
    assert_eq!((selected, s.offset), (rows - 1, 0));
    rollout_running(&mut s);
    assert_eq!(s.table_rows(), rows - 1);
    assert_eq!(s.selected, selected);
    assert!(
        s.selected < s.offset + s.table_rows(),
        "selected {} offset {}",
        s.selected,
        s.offset
    );
}

/// Below the smallest screen only "too small" is drawn: no key acts (a confirmation opened
/// there is never seen, so never confirmed), and q still quits.
#[test]
fn a_screen_too_small_takes_no_key_but_quit() {
    let mut s = loaded();
    update(&mut s, Msg::Resize(40, 10));
    update(&mut s, key('j'));
    assert_eq!(s.selected, 0);
    update(&mut s, planned_kill("cron", Ok(plan("cron", false))));
    assert!(update(&mut s, key('y')).is_empty());
    assert!(matches!(s.popup, Some(Popup::Confirm(_))));
    // Back to a size that shows it: now seen, and `y` (only `y`: enter never confirms) acts.
    update(&mut s, Msg::Resize(80, 24));
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    assert!(
        update(&mut s, key('y'))
            .iter()
            .any(|e| matches!(e, Effect::Execute { .. }))
    );
    update(&mut s, Msg::Resize(40, 10));
    // The change sent has not answered: the first q asks (unseen here), the second quits.
    update(&mut s, key('q'));
    assert!(!s.quit);
    update(&mut s, key('q'));
    assert!(s.quit);
    // The quit key as bound: another key quits, q does not.
    let keymap = Keymap::with_overrides(&[("quit".to_string(), "ctrl-q".to_string())].into())
        .expect("keymap");
    let mut s = State::new(scopes(), keymap, ScreenOptions::default(), t0());
    update(&mut s, Msg::Resize(40, 10));
    update(&mut s, key('q'));
    assert!(!s.quit);
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
    );
    assert!(s.quit);
}

#[test]
fn views_switch_by_key_and_palette_and_esc_goes_back() {
    let mut s = loaded();
    update(&mut s, key('2'));
    assert_eq!(s.view, View::Regions);
    update(&mut s, key(':'));
    for c in "lo".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.view, View::Load);
    // Tabs are siblings: esc goes to the fleet, not back through every tab visited.
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.view, View::Fleet);
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(
        s.view,
        View::Detail {
            region: 0,
            function: "cron".into()
        }
    );
    // From a function's view, esc goes back to where it was opened.
    update(&mut s, key('l'));
    update(&mut s, code(KeyCode::Esc));
    assert!(matches!(s.view, View::Detail { .. }), "{:?}", s.view);
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.view, View::Fleet);
    // Marks then clear with esc after one view was visited (it walked back through views).
    update(&mut s, key(' '));
    update(&mut s, key('3'));
    update(&mut s, key('2'));
    update(&mut s, code(KeyCode::Esc));
    assert!(!s.marks.is_empty());
    update(&mut s, code(KeyCode::Esc));
    assert!(s.marks.is_empty());
}

#[test]
fn unknown_palette_command_says_what_exists() {
    let mut s = loaded();
    update(&mut s, key(':'));
    update(&mut s, key('x'));
    update(&mut s, code(KeyCode::Enter));
    match &s.popup {
        Some(Popup::Notice(text)) => {
            assert!(text.contains("unknown command 'x'") && text.contains("regions"))
        }
        other => panic!("expected a notice, got {other:?}"),
    }
    // Only esc or enter closes a notice (a key typed on into it does nothing).
    update(&mut s, key('j'));
    assert!(matches!(s.popup, Some(Popup::Notice(_))));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.popup, None);
}

#[test]
fn help_opens_and_closes_and_q_quits() {
    let mut s = loaded();
    update(&mut s, key('?'));
    assert_eq!(s.popup, Some(Popup::Help));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(s.popup, None);
    update(&mut s, key('q'));
    assert!(s.quit);
}

#[test]
fn failing_region_keeps_its_data_and_turns_stale_then_recovers() {
    let mut s = loaded();
    let later = t0() + TimeDelta::seconds(40);
    update(
        &mut s,
        Msg::Metrics {
            region: 1,
            seq: 2,
            at: later,
            result: Err(ProviderError::Timeout(2.0)),
        },
    );
    update(&mut s, Msg::Tick(later));
    let r = &s.regions[1];
    assert_eq!(r.functions.len(), 1);
    assert_eq!(
        r.health(s.now, s.stale_after_secs()),
        RegionHealth::Stale {
            age_secs: 40,
            error: Some(
                "metrics: GetMetricData timed out after 2 s — raise [timeouts] metrics_secs".into()
            )
        }
    );
    assert_eq!(s.rows.len(), 4, "stale data stays on screen");
    // Another read answering later does not make the failing numbers look young.
    let even_later = later + TimeDelta::seconds(20);
    update(
        &mut s,
        Msg::Alarms {
            region: 1,
            seq: 5,
            at: even_later,
            result: Ok(Vec::new()),
        },
    );
    assert!(
        matches!(
            s.regions[1].health(even_later, s.stale_after_secs()),
            RegionHealth::Stale { age_secs, .. } if age_secs >= 40
        ),
        "{:?}",
        s.regions[1].health(even_later, s.stale_after_secs())
    );
    update(
        &mut s,
        Msg::Metrics {
            region: 1,
            seq: 3,
            at: later,
            result: Ok(MetricsSnapshot::default()),
        },
    );
    assert_eq!(
        s.regions[1].health(later, 30),
        RegionHealth::Fresh { age_secs: 0 }
    );
}

#[test]
fn region_that_never_answered_is_unreachable_and_old_data_is_stale() {
    let mut s = State::new(scopes(), Keymap::default(), ScreenOptions::default(), t0());
    assert_eq!(s.regions[0].health(t0(), 30), RegionHealth::Loading);
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: t0(),
            result: Err(ProviderError::Service("HTTP 503".into())),
        },
    );
    assert_eq!(
        s.regions[0].health(t0(), 30),
        RegionHealth::Unreachable {
            error: "inventory: ListFunctions HTTP 503 — a failure on the service's side: try \
                    again shortly"
                .into()
        }
    );
    // Its alarms answer while the inventory still fails: partly there, not unreachable.
    update(
        &mut s,
        Msg::Alarms {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(Vec::new()),
        },
    );
    assert!(
        matches!(
            s.regions[0].health(t0(), 30),
            RegionHealth::Stale { error: Some(_), .. }
        ),
        "{:?}",
        s.regions[0].health(t0(), 30)
    );
    let s = loaded();
    assert_eq!(
        s.regions[0].health(t0() + TimeDelta::seconds(31), 30),
        RegionHealth::Stale {
            age_secs: 31,
            error: None
        }
    );
}

#[test]
fn out_of_order_results_are_dropped() {
    let mut s = loaded();
    update(
        &mut s,
        Msg::Inventory {
            region: 1,
            seq: 1,
            at: t0(),
            result: Ok(Inventory::default()),
        },
    );
    assert_eq!(
        s.regions[1].functions.len(),
        1,
        "an older inventory must not replace a newer one"
    );
}

#[test]
fn pollers_are_asked_for_visible_and_alarmed_functions_only() {
    let mut s = State::new(scopes(), Keymap::default(), ScreenOptions::default(), t0());
    let many = Inventory {
        functions: (0..40).map(|i| info(&format!("fn{i:02}"), "x")).collect(),
        account_concurrency_limit: None,
        ..Default::default()
    };
    let alarm = Alarm {
        name: "a".into(),
        state: AlarmState::Alarm,
        reason: None,
        metric: None,
        function: Some("fn39".into()),
    };
    update(
        &mut s,
        Msg::Alarms {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(vec![alarm]),
        },
    );
    let effects = update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(many),
        },
    );
    let wanted = effects
        .iter()
        .find_map(|e| match e {
            Effect::Want {
                region: 0,
                functions,
            } => Some(functions.iter().map(|f| f.name.clone()).collect::<Vec<_>>()),
            _ => None,
        })
        .unwrap_or_default();
    // 24 rows: 18 fit in the table; the alarmed fn39 sorts first and is visible.
    assert_eq!(wanted.len(), 18, "{wanted:?}");
    assert!(wanted.contains(&"fn39".to_string()));
    // The same set again sends nothing.
    let again = update(&mut s, Msg::Tick(t0()));
    assert!(again.is_empty(), "{again:?}");
    // Scrolling to the end asks for the rows now visible.
    let effects = update(&mut s, key('G'));
    assert!(
        matches!(effects.as_slice(), [Effect::Want { region: 0, .. }]),
        "{effects:?}"
    );
}

#[test]
fn refresh_key_asks_for_inventory() {
    let mut s = loaded();
    assert!(update(&mut s, key('r')).contains(&Effect::RefreshAll));
}

#[test]
fn history_keeps_invocations_per_minute() {
    let s = loaded();
    let api = &s.regions[0].functions[0];
    assert_eq!(api.history.len(), 60);
    assert_eq!(api.history.values().last(), Some(1000.0));
    let _ = empty_series();
}

/// Every scope of the dashboard gets `access` (as the session would give it).
fn set_access(s: &mut State, access: Access) {
    for r in &mut s.regions {
        r.scope.access = access;
    }
}

/// The ops layer's answer to a kill of `function` in the first region.
fn planned_kill(function: &str, result: Result<Plan, OpsError>) -> Msg {
    Msg::Planned {
        region: 0,
        request: Box::new(Request::Kill {
            function: function.into(),
        }),
        result,
    }
}

fn plan(target: &str, destructive: bool) -> Plan {
    plan_in(&scopes()[0], target, destructive)
}

fn plan_in(scope: &Scope, target: &str, destructive: bool) -> Plan {
    Plan {
        scope: scope.clone(),
        action: if destructive {
            "kill"
        } else {
            "traffic.rollback"
        },
        target: target.into(),
        needs: Tier::Change,
        destructive,
        warning: None,
        before: serde_json::json!({"reserved": null}),
        after: serde_json::json!({"reserved": 0}),
        change: crate::ops::Change::Reserve {
            function: target.into(),
            value: Some(0),
            expected: None,
        },
        undoes: None,
        reason: None,
        batch: None,
        note: None,
    }
}

fn executes(effects: &[Effect]) -> bool {
    effects.iter().any(|e| matches!(e, Effect::Execute { .. }))
}

#[test]
fn control_keys_are_never_typed_into_a_typed_name() {
    let ctrl = |c: char| Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
    let mut s = loaded();
    update(&mut s, key('K'));
    update(&mut s, planned_kill("cron", Ok(plan("cron", true))));
    for c in "abc def".chars() {
        update(&mut s, key(c));
    }
    let typed = |s: &State| match &s.popup {
        Some(Popup::Confirm(p)) => p.typed.clone(),
        other => panic!("no confirmation: {other:?}"),
    };
    update(&mut s, ctrl('w'));
    assert_eq!(typed(&s), "abc ");
    update(&mut s, ctrl('x'));
    assert_eq!(typed(&s), "abc ");
    update(&mut s, ctrl('u'));
    assert_eq!(typed(&s), "");
    assert!(!executes(&update(&mut s, ctrl('c'))));
    assert!(s.quit);
}

/// ctrl-c quits from a notice, help, a preview being read and a change's confirmation
/// (declined, nothing sent) as from an input; while a change is being written (its popup hidden
/// or not), a backup or a rollout runs, quitting (`q` too) asks first.
#[test]
fn ctrl_c_quits_from_a_popup_unless_a_write_is_in_flight() {
    let ctrl_c = || Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    for popup in [Popup::Notice("done".into()), Popup::Help] {
        let mut s = loaded();
        s.popup = Some(popup.clone());
        update(&mut s, ctrl_c());
        assert!(s.quit, "{popup:?}");
    }
    // A yes/no confirmation: declined, nothing executed, quit.
    let mut s = loaded();
    update(&mut s, key('K'));
    update(&mut s, planned_kill("cron", Ok(plan("cron", false))));
    assert!(matches!(s.popup, Some(Popup::Confirm(_))), "{:?}", s.popup);
    assert!(!executes(&update(&mut s, ctrl_c())));
    assert!(s.quit);
    // An action under way (a rollout's start, say): its write and record land first; esc
    // hides it, then quitting asks if it still runs.
    let mut s = loaded();
    s.popup = Some(Popup::Working("starting the rollout of cron:live…".into()));
    update(&mut s, ctrl_c());
    assert!(!s.quit && matches!(s.popup, Some(Popup::Working(_))));
    // A change confirmed, its result not back: asked first, also once its popup was hidden
    // (esc) and another opened, and with `q`; once it answered, quit.
    let mut s = loaded();
    update(&mut s, key('K'));
    update(&mut s, planned_kill("cron", Ok(plan("cron", false))));
    update(&mut s, Msg::Resize(80, 24));
    assert!(executes(&update(&mut s, key('y'))));
    let writing = |s: &State| matches!(&s.popup, Some(Popup::Confirm(p)) if p.lines.iter().any(|l| l.contains("quit while 1 change(s) are being written")));
    update(&mut s, ctrl_c());
    assert!(!s.quit && matches!(s.popup, Some(Popup::Working(_))));
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, ctrl_c());
    assert!(!s.quit && writing(&s), "{:?}", s.popup);
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('?'));
    update(&mut s, ctrl_c());
    assert!(!s.quit && writing(&s), "{:?}", s.popup);
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('q'));
    assert!(!s.quit && writing(&s), "{:?}", s.popup);
    update(&mut s, code(KeyCode::Esc));
    // A rollout refused meanwhile answers too: it was not one being written.
    update(
        &mut s,
        Msg::Executed {
            region: 0,
            result: Err(OpsError::Refused("alarm firing".into())),
        },
    );
    assert_eq!(s.writing, 1);
    update(
        &mut s,
        Msg::Written {
            region: 0,
            result: Err(OpsError::Invalid("gone".into())),
        },
    );
    assert_eq!(s.writing, 0);
    s.popup = None;
    // A backup running: asked too.
    s.backup = Some(actions::BackupView {
        label: "cron".into(),
        done: 1,
        total: 3,
        of_marks: false,
    });
    update(&mut s, key('q'));
    assert!(
        !s.quit
            && matches!(&s.popup, Some(Popup::Confirm(p)) if p.lines.iter().any(|l| l.contains("quit while a backup runs (cron, 1 of 3)"))),
        "{:?}",
        s.popup
    );
    // The backup ends under the question: nothing else runs, so lops quits, and says how the
    // backup ended once the terminal is back.
    update(
        &mut s,
        Msg::Backup(super::outcome::BackupEvent::Done {
            snapshots: vec![],
            failed: vec!["timed out".into()],
            remark: Vec::new(),
        }),
    );
    assert!(s.quit, "{:?}", s.popup);
    assert!(
        s.exit_notes
            .iter()
            .any(|n| n.contains("backup failed: timed out")),
        "{:?}",
        s.exit_notes
    );
    // A rollout runs: a notice closes and the quit question opens; ctrl-c there is "no".
    let mut s = loaded();
    rollout_running(&mut s);
    s.popup = Some(Popup::Notice("done".into()));
    update(&mut s, ctrl_c());
    assert!(!s.quit);
    let asks = |s: &State| matches!(&s.popup, Some(Popup::Confirm(p)) if p.lines.iter().any(|l| l.contains("quit while 1 rollout(s) run")));
    assert!(asks(&s), "{:?}", s.popup);
    update(&mut s, ctrl_c());
    assert!(!s.quit && asks(&s), "{:?}", s.popup);
    update(&mut s, key('y'));
    assert!(s.quit);
}

/// One question names everything quitting would stop (a change being written and a rollout);
/// a change's result landing under it is shown while the rollout still runs (the question is
/// asked again by the next `q`), and once nothing runs lops quits, saying the result after.
#[test]
fn the_quit_question_names_all_that_runs_and_a_result_under_it_is_not_lost() {
    let mut s = loaded();
    rollout_running(&mut s);
    s.writing = 1;
    update(&mut s, key('q'));
    let lines = match &s.popup {
        Some(Popup::Confirm(p)) => p.lines.join("\n"),
        other => panic!("{other:?}"),
    };
    assert!(
        lines.contains("1 change(s) are being written") && lines.contains("1 rollout(s) run"),
        "{lines}"
    );
    update(
        &mut s,
        Msg::Written {
            region: 0,
            result: Err(OpsError::Invalid("gone".into())),
        },
    );
    assert!(!s.quit);
    assert!(
        matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("gone")),
        "{:?}",
        s.popup
    );
    // Nothing else running: the result under the question quits, and is said after.
    let mut s = loaded();
    s.writing = 1;
    update(&mut s, key('q'));
    update(
        &mut s,
        Msg::Written {
            region: 0,
            result: Err(OpsError::Invalid("gone".into())),
        },
    );
    assert!(s.quit);
    assert!(
        s.exit_notes.iter().any(|n| n.contains("gone")),
        "{:?}",
        s.exit_notes
    );
}

#[test]
fn kill_asks_for_the_typed_name_and_runs_only_then() {
    let mut s = loaded();
    let effects = update(&mut s, key('K'));
    let prepared = effects.iter().any(|e| matches!(e, Effect::Prepare { region: 0, request } if **request == Request::Kill { function: "cron".into() }));
    assert!(prepared, "{effects:?}");
    update(&mut s, planned_kill("cron", Ok(plan("cron", true))));
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if p.confirmation == crate::ops::Confirmation::Typed("cron".into()) && p.typed.is_empty())
    );
    assert!(
        !executes(&update(&mut s, code(KeyCode::Enter))),
        "enter alone must not run a kill"
    );
    assert!(!executes(&update(&mut s, key('y'))));
    update(&mut s, code(KeyCode::Backspace));
    // A pasted name is typed; its newline does not confirm.
    assert!(!executes(&update(&mut s, Msg::Paste("cr\n".into()))));
    assert!(matches!(&s.popup, Some(Popup::Confirm(p)) if p.typed == "cr"));
    for c in "on".chars() {
        update(&mut s, key(c));
    }
    assert!(executes(&update(&mut s, code(KeyCode::Enter))));
    assert!(matches!(s.popup, Some(Popup::Working(_))));
    let effects = update(
        &mut s,
        Msg::Executed {
            region: 0,
            result: Err(OpsError::Conflict("changed".into())),
        },
    );
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("not done in ") && t.contains(": changed"))
    );
    assert!(effects.contains(&Effect::RefreshInventory));
}

#[test]
fn cancel_runs_nothing_and_confirm_runs_the_plan() {
    let mut s = loaded();
    update(&mut s, planned_kill("cron", Ok(plan("cron", false))));
    assert!(!executes(&update(&mut s, code(KeyCode::Esc))));
    assert_eq!(s.popup, None);
    update(&mut s, planned_kill("cron", Ok(plan("cron", false))));
    assert!(!executes(&update(&mut s, key('n'))));
    assert_eq!(s.popup, None);
    update(&mut s, planned_kill("cron", Ok(plan("cron", false))));
    assert!(update(&mut s, code(KeyCode::Enter)).is_empty());
    let effects = update(&mut s, key('y'));
    assert!(
        matches!(effects.as_slice(), [Effect::Execute { region: 0, plan }] if plan.target == "cron"),
        "{effects:?}"
    );
}

/// A production profile's kill of cron, its preview open (it asks for the typed name).
fn production_kill_of_cron() -> State {
    let mut s = loaded();
    set_access(&mut s, Access::new(Tier::Change, true));
    let scope = s.regions[0].scope.clone();
    update(
        &mut s,
        planned_kill("cron", Ok(plan_in(&scope, "cron", false))),
    );
    s
}

#[test]
fn production_profile_asks_for_the_typed_name_on_every_change() {
    let mut s = production_kill_of_cron();
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if matches!(p.confirmation, crate::ops::Confirmation::Typed(_)) && p.production)
    );
    assert!(!executes(&update(&mut s, key('y'))));
    // A name that is not the one asked for is said not to be (until the next key).
    assert!(!executes(&update(&mut s, code(KeyCode::Enter))));
    assert!(matches!(&s.popup, Some(Popup::Confirm(p)) if p.mismatch && p.typed == "y"));
    update(&mut s, code(KeyCode::Backspace));
    assert!(matches!(&s.popup, Some(Popup::Confirm(p)) if !p.mismatch));
    // Nor after ctrl-u or a paste: what is said wrong is the last answer given, as it stands.
    for change in [ctrl_u_key(), Msg::Paste(" cron ".into())] {
        update(&mut s, key('x'));
        assert!(!executes(&update(&mut s, code(KeyCode::Enter))));
        assert!(matches!(&s.popup, Some(Popup::Confirm(p)) if p.mismatch));
        update(&mut s, change);
        assert!(matches!(&s.popup, Some(Popup::Confirm(p)) if !p.mismatch));
    }
    // The name pasted with spaces around it is the name, as the CLI takes it.
    update(&mut s, ctrl_u_key());
    update(&mut s, Msg::Paste(" cron ".into()));
    assert!(executes(&update(&mut s, code(KeyCode::Enter))));
}

#[test]
fn a_name_pasted_after_a_refused_one_takes_its_place() {
    let mut s = production_kill_of_cron();
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if matches!(p.confirmation, crate::ops::Confirmation::Typed(_)))
    );
    for c in "crn".chars() {
        update(&mut s, key(c));
    }
    assert!(!executes(&update(&mut s, code(KeyCode::Enter))));
    update(&mut s, Msg::Paste("cron".into()));
    assert!(matches!(&s.popup, Some(Popup::Confirm(p)) if p.typed == "cron"));
    assert!(executes(&update(&mut s, code(KeyCode::Enter))));
}

fn ctrl_u_key() -> Msg {
    Msg::Key(crossterm::event::KeyEvent::new(
        KeyCode::Char('u'),
        crossterm::event::KeyModifiers::CONTROL,
    ))
}

#[test]
fn read_only_refuses_action_keys_and_hides_them() {
    let mut s = loaded();
    set_access(&mut s, Access::new(Tier::Read, false));
    let effects = update(&mut s, key('K'));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Prepare { .. })));
    assert!(matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("refused")));
    assert!(!actions::allowed(&s, Action::Kill));
    assert!(!actions::allowed(&s, Action::Invoke));
    set_access(&mut s, Access::new(Tier::Invoke, false));
    assert!(actions::allowed(&s, Action::Invoke));
    assert!(!actions::allowed(&s, Action::Shift));
}

/// Marked rows no scope may change: the kill is refused once, before anything is asked or
/// read (the CLI's refusal), not once per target in a batch of skips.
#[test]
fn a_batch_no_marked_scope_may_take_is_refused_once() {
    let mut s = loaded();
    set_access(&mut s, Access::new(Tier::Read, false));
    s.marks.insert((0, "api".into()));
    s.marks.insert((0, "worker".into()));
    s.marks.insert((1, "api".into()));
    let effects = update(&mut s, key('K'));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Prepare { .. })));
    assert!(s.input.is_none());
    let Some(Popup::Notice(t)) = &s.popup else {
        panic!("expected one refusal, got {:?}", s.popup)
    };
    assert!(
        t.starts_with("refused: kill of 3 marked functions in us-east-1, eu-west-1 changes"),
        "{t}"
    );
    assert_eq!(t.matches("this scope may only look").count(), 1, "{t}");
    // One scope that may, or scopes of different modes (each refusal named as its own mode):
    // the batch goes on, its list naming each target's reason.
    for other in [Tier::Change, Tier::Invoke] {
        update(&mut s, code(KeyCode::Esc));
        s.regions[1].scope.access = Access::new(other, false);
        update(&mut s, key('K'));
        assert!(
            !matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("marked functions in")),
            "{other:?}: {:?}",
            s.popup
        );
    }
}

/// `dev` (may change) and `prod` (`prod`) in us-east-1.
fn dev_and_prod(prod: Access) -> State {
    let scopes = vec![
        Scope::new("dev", "us-east-1", Access::new(Tier::Change, false)),
        Scope::new("prod", "us-east-1", prod),
    ];
    State::new(scopes, Keymap::default(), ScreenOptions::default(), t0())
}

/// `regions[region]`'s inventory: one function, `api`, of `account`.
fn api_listed(region: usize, seq: u64, account: &str) -> Msg {
    Msg::Inventory {
        region,
        seq,
        at: t0(),
        result: Ok(Inventory {
            functions: vec![FunctionInfo {
                arn: format!("arn:aws:lambda:us-east-1:{account}:function:api"),
                ..info("api", "web")
            }],
            ..Default::default()
        }),
    }
}

/// Two profiles of one account in one region reach the same functions: the ops layer refuses
/// a change through the one that may change when the other may only look, so the keys are not
/// offered there either (and production shows). Another account's read profile changes nothing.
#[test]
fn a_read_profile_of_the_same_account_hides_the_change_keys_of_the_other() {
    let mut s = dev_and_prod(Access::new(Tier::Read, true));
    update(&mut s, api_listed(0, 1, "111111111111"));
    update(&mut s, api_listed(1, 1, "111111111111"));
    s.selected = 0;
    let focused = s.focus().map(|(r, _)| s.regions[r].scope.profile.clone());
    assert_eq!(focused.as_deref(), Some("dev"));
    assert!(!actions::allowed(&s, Action::Shift));
    assert!(!actions::allowed(&s, Action::Invoke));
    assert!(s.access().production);
    // prod on another account: dev's own tier again.
    update(&mut s, api_listed(1, 2, "222222222222"));
    assert!(actions::allowed(&s, Action::Shift));
    assert!(!s.access().production);
    // prod's functions never listed (its inventory fails): it may be this account, as the ops
    // layer takes an account STS did not say — its rules show on dev's row (the hints offered
    // kill and invoke, which the ops layer then refused).
    let mut s = dev_and_prod(Access::new(Tier::Read, true));
    update(&mut s, api_listed(0, 1, "111111111111"));
    s.selected = 0;
    assert!(!actions::allowed(&s, Action::Kill));
    assert!(s.access().production);
}

/// The keys that open an input first (`i`, `t`) on a row whose function another profile of
/// its account on screen may only look at are refused at once, as the ops layer refuses them
/// (the input opened and the refusal came after enter; `K` was refused at once).
#[test]
fn an_input_is_not_opened_for_a_change_another_profile_of_the_account_refuses() {
    for k in ['i', 't'] {
        let mut s = dev_and_prod(Access::new(Tier::Read, false));
        update(&mut s, api_listed(0, 1, "111111111111"));
        update(&mut s, api_listed(1, 1, "111111111111"));
        s.selected = 0;
        update(&mut s, key(k));
        assert!(s.input.is_none(), "{k}: {:?}", s.input);
        match &s.popup {
            Some(Popup::Notice(t)) => assert!(
                t.contains("refused under another profile") && t.contains("prod"),
                "{k}: {t}"
            ),
            other => panic!("{k}: {other:?}"),
        }
    }
}

/// A rollout started from one profile's row runs through the strictest profile of its account
/// there: the row it was started from still reaches it with `A` (acted on where it runs), a
/// row of another account does not. A marked row acted on through it alike: its mark goes.
#[test]
fn a_rollout_run_through_another_profile_of_the_account_is_the_rows_too() {
    let mut s = dev_and_prod(Access::new(Tier::Change, true));
    update(&mut s, api_listed(0, 1, "111111111111"));
    update(&mut s, api_listed(1, 1, "111111111111"));
    let mut r = rollout("api");
    r.profile = "prod".into();
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 1,
            rollout: Box::new(r),
            event: "step 1/2 applied".into(),
            running: true,
        },
    );
    s.selected = 0;
    assert_eq!(s.focus().map(|(r, _)| r), Some(0));
    let shown = actions_of_focus(&s);
    assert_eq!(shown, Some((1, "prod".to_string())));
    let effects = update(&mut s, key('A'));
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::PreviewRollout {
                region: 1,
                abort: true,
                ..
            }
        )),
        "{effects:?} {:?}",
        s.popup
    );
    // A marked dev row whose change acted (and landed) through prod: its mark is done with.
    s.popup = None;
    s.marks.insert((0, "api".to_string()));
    s.batch_run = Some(super::batch::BatchRun {
        batch: crate::ops::batch::Batch {
            id: "B1".into(),
            action: "kill".into(),
            items: vec![crate::ops::batch::Item::Ready {
                source: 1,
                plan: Box::new(plan_in(&s.regions[1].scope.clone(), "api", true)),
            }],
        },
        landed: Vec::new(),
        marked: vec![(0, "api".to_string())],
        scroll: 0,
    });
    let outcome = crate::ops::Outcome {
        after: serde_json::json!({}),
        invoke: None,
        record: None,
    };
    let landed = |s: &mut State, result: Result<crate::ops::Outcome, OpsError>| {
        update(
            s,
            Msg::BatchLanded {
                batch: "B1".into(),
                landed: (0, result),
            },
        )
    };
    landed(&mut s, Ok(outcome));
    assert!(s.marks.is_empty(), "{:?}", s.marks);
    // prod on another account: not dev's row's rollout.
    update(&mut s, api_listed(1, 2, "222222222222"));
    assert_eq!(actions_of_focus(&s), None);
    // ...nor its batch's: dev's mark stays (its function was not acted on).
    s.marks.insert((0, "api".to_string()));
    if let Some(run) = s.batch_run.as_mut() {
        run.landed.clear();
    }
    landed(
        &mut s,
        Ok(crate::ops::Outcome {
            after: serde_json::json!({}),
            invoke: None,
            record: None,
        }),
    );
    assert_eq!(s.marks.len(), 1, "{:?}", s.marks);
}

fn actions_of_focus(s: &State) -> Option<(usize, String)> {
    crate::state::rollouts::rollout_of_focus(s).map(|v| (v.region, v.rollout.profile.clone()))
}

#[test]
fn invoke_payload_must_be_json_before_anything_is_sent() {
    let mut s = loaded();
    update(&mut s, key('i'));
    assert_eq!(s.input, Some(Input::Payload("{}".into())));
    update(&mut s, code(KeyCode::Backspace));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Prepare { .. })));
    assert!(
        s.input_error
            .as_deref()
            .unwrap_or_default()
            .contains("not valid JSON")
    );
    // A paste that mends it: what was said of the old text goes.
    update(&mut s, Msg::Paste("}".into()));
    assert_eq!(s.input_error, None);
    // A number beyond a double is said as the CLI says it, not as invalid JSON.
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    for c in ['{', '"', 'n', '"', ':', '1', 'e', '3', '0', '9', '}'] {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    let said = s.input_error.clone().unwrap_or_default();
    assert!(said.contains("too large for a double"), "{said}");
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    update(&mut s, Msg::Paste("{}".into()));
    assert_eq!(s.input_error, None);
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, key('}'));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(effects.iter().any(
        |e| matches!(e, Effect::Prepare { request, .. } if matches!(**request, Request::Invoke(_)))
    ));
    assert_eq!(s.input, None);
    // Valid JSON over Lambda's 6 MB: refused as the ops layer refuses it, the payload kept.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('i'));
    let big = format!("{{\"blob\": \"{}\"}}", "x".repeat(7 * 1024 * 1024));
    update(&mut s, Msg::Paste(big.clone()));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Prepare { .. })));
    assert_eq!(s.input, Some(Input::Payload(big)));
    assert!(
        s.input_error
            .as_deref()
            .is_some_and(|e| e.contains("6 MB for a synchronous invoke")),
        "{:?}",
        s.input_error
    );
}

/// A paste is text, never keys: its newlines neither submit the payload nor confirm, and with
/// no input open it does nothing at all.
#[test]
fn a_paste_goes_into_the_input_and_never_presses_enter() {
    let mut s = loaded();
    assert!(update(&mut s, Msg::Paste("Ky\n".into())).is_empty());
    assert_eq!((s.input.clone(), s.popup.is_none()), (None, true));
    update(&mut s, key('i'));
    // The `{}` it opened with is replaced, as by a typed key.
    let effects = update(&mut s, Msg::Paste("{\r\n  \"pasted\": 7\n}\n\n".into()));
    assert!(effects.is_empty(), "{effects:?}");
    assert_eq!(
        s.input,
        Some(Input::Payload("{\n  \"pasted\": 7\n}\n\n".into()))
    );
    assert!(s.popup.is_none());
    // A value input takes the pasted text on one line, trimmed.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('N'));
    update(&mut s, Msg::Paste(" 12\n".into()));
    assert_eq!(s.input, Some(Input::Concurrency("12".into())));
}

/// An emptied concurrency input is not "no reservation" (it would free a killed function):
/// refused with the message the CLI gives.
#[test]
fn an_empty_concurrency_is_refused_as_in_the_cli() {
    let mut s = loaded();
    update(&mut s, key('N'));
    update(
        &mut s,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(effects.is_empty(), "{effects:?}");
    assert!(
        s.input_error
            .as_deref()
            .is_some_and(|e| e.contains("no concurrency given")),
        "{:?}",
        s.input_error
    );
}

#[test]
fn duplicate_invoke_is_asked_again_with_the_typed_name() {
    let mut s = loaded();
    let mut repeat = plan("cron", false);
    repeat.warning = Some("the same payload went to cron at 10:00".to_string());
    update(&mut s, planned_kill("cron", Ok(repeat)));
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if matches!(p.confirmation, crate::ops::Confirmation::Typed(_)) && p.warning.is_some())
    );
    assert!(!executes(&update(&mut s, code(KeyCode::Enter))));
}

fn rollout(function: &str) -> crate::ops::rollout::Rollout {
    crate::ops::rollout::Rollout {
        profile: "default".into(),
        account: None,
        region: "us-east-1".into(),
        function: function.into(),
        alias: "live".into(),
        from: "1".into(),
        start_extra: None,
        to: "2".into(),
        steps: crate::ops::rollout::parse_steps("10:5m").unwrap(),
        guard: crate::ops::rollout::Guard {
            max_error_rate: Some(0.05),
            alarms: vec![],
            interval_secs: 10,
            trip_on_read_error: true,
        },
        step: 0,
        status: crate::ops::rollout::Status::Running,
        updated: "2026-11-25T10:00:00Z".into(),
        owner: None,
        heartbeat: None,
        abort_requested: false,
        abort_previewed: None,
        last_written: None,
        production_elsewhere: false,
    }
}

/// Rollouts saved by another lops are read again while the dashboard runs: one started (or
/// halted) elsewhere after it started is offered to `A` and `U`, one finished there leaves,
/// and the rollout this dashboard runs itself is never replaced by its saved copy.
/// Presses `k` (`U` or `A`) and answers the preview it asks the ops layer for, the alias read
/// as the rollout left it.
fn press_and_preview(s: &mut State, k: char) {
    let effects = update(s, key(k));
    let Some(Effect::PreviewRollout {
        region,
        rollout,
        abort,
    }) = effects
        .into_iter()
        .find(|e| matches!(e, Effect::PreviewRollout { .. }))
    else {
        panic!("{k} asked for no preview: {:?}", s.popup);
    };
    assert!(
        matches!(s.popup, Some(Popup::Working(_))),
        "nothing is asked before the read: {:?}",
        s.popup
    );
    let now = rollout.expected_routing();
    let text = if abort {
        rollout.abort_preview(&now)
    } else {
        rollout.resume_preview(&now)
    };
    update(
        s,
        Msg::RolloutPreviewed {
            region,
            rollout,
            abort,
            result: Ok((text, now)),
        },
    );
}

/// Another lops's rollout stepping or ending has its alias read again at once (that alias
/// only, not the fleet): the screen is not left at weights it no longer has (`t` would offer
/// them again), and an end is said — unless this dashboard resumed or aborted it itself.
#[test]
fn a_rollout_elsewhere_that_steps_or_ends_has_its_alias_read_again() {
    let mut s = loaded();
    let saved = |r: &crate::ops::rollout::Rollout| {
        Msg::SavedRollouts(vec![(0, r.clone(), "running in lops pid 7 on h".into())])
    };
    let reads = |effects: &[Effect]| -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Extras { function, want, .. } if want.aliases => Some(function.clone()),
                _ => None,
            })
            .collect()
    };
    let mut other = rollout("cron");
    assert!(reads(&update(&mut s, saved(&other))).is_empty());
    // Read again unchanged: nothing to read.
    assert!(reads(&update(&mut s, saved(&other))).is_empty());
    other.step += 1;
    let effects = update(&mut s, saved(&other));
    assert_eq!(reads(&effects), ["cron"]);
    assert!(!effects.contains(&Effect::RefreshInventory));
    assert!(s.popup.is_none());
    // Its guard rolled it back there, while another popup was open here: said once that
    // closes, as its file says it ended.
    s.popup = Some(Popup::Notice("something else".into()));
    let mut rolled_back = other.clone();
    rolled_back.status = crate::ops::rollout::Status::RolledBack {
        reason: "guard tripped: alarm cron-errors is in ALARM".into(),
    };
    let effects = update(
        &mut s,
        Msg::SavedRollouts(vec![(
            0,
            rolled_back,
            "rolled back: guard tripped: alarm cron-errors is in ALARM".into(),
        )]),
    );
    assert_eq!(reads(&effects), ["cron"]);
    assert!(s.rollouts.is_empty(), "an ended rollout is not offered");
    assert!(matches!(&s.popup, Some(Popup::Notice(t)) if t == "something else"));
    update(&mut s, code(KeyCode::Esc));
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t.starts_with("rollout cron:live in another lops: rolled back: guard tripped: alarm cron-errors is in ALARM")),
        "{:?}",
        s.popup
    );
    // One no longer saved at all: its end is said without a how.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, saved(&other));
    update(&mut s, Msg::SavedRollouts(Vec::new()));
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t.starts_with("rollout cron:live") && t.contains("ended in another lops")),
        "{:?}",
        s.popup
    );
    assert!(s.rollouts.is_empty());
    // Resumed here: it leaves the saved list (this process owns it now), no notice.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, saved(&other));
    s.rollouts[0].acted_here = true;
    update(&mut s, saved(&other));
    assert!(s.rollouts[0].acted_here, "kept across reads of the list");
    let effects = update(&mut s, Msg::SavedRollouts(Vec::new()));
    assert!(reads(&effects).is_empty());
    assert!(s.popup.is_none(), "{:?}", s.popup);
    // One started since by another lops, alive (here: process 1 of this host, beating now),
    // has written its first step: read as it joins the list, once.
    let mut started = rollout("api");
    started.owner = Some(crate::ops::rollout::Owner {
        pid: 1,
        ..crate::ops::rollout::Owner::me()
    });
    started.heartbeat = Some(chrono::Utc::now().to_rfc3339());
    assert_eq!(reads(&update(&mut s, saved(&started))), ["api"]);
    assert!(reads(&update(&mut s, saved(&started))).is_empty());
}

#[test]
fn rollouts_saved_elsewhere_are_offered_and_a_halted_one_stays() {
    let mut s = loaded();
    let mut halted = rollout("cron");
    halted.status = crate::ops::rollout::Status::Halted {
        reason: "someone else changed it".into(),
    };
    update(
        &mut s,
        Msg::SavedRollouts(vec![(
            0,
            halted.clone(),
            "halted: … — resume or abort".into(),
        )]),
    );
    assert_eq!(s.rollouts.len(), 1);
    press_and_preview(&mut s, 'U');
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if p.lines[0].starts_with("resume the rollout of cron:live")),
        "{:?}",
        s.popup
    );
    update(&mut s, code(KeyCode::Esc));
    // A rollout this dashboard runs stays; the saved list no longer has the halted one.
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(rollout("api")),
            event: "step 1/2 applied".into(),
            running: true,
        },
    );
    update(&mut s, Msg::SavedRollouts(Vec::new()));
    let left: Vec<&str> = s
        .rollouts
        .iter()
        .map(|v| v.rollout.function.as_str())
        .collect();
    assert_eq!(left, ["api"]);
    // A halted update of the one it runs keeps it offered (resume or abort), not a notice only.
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(halted),
            event: "halted".into(),
            running: false,
        },
    );
    assert_eq!(s.rollouts.len(), 2);
}

#[test]
fn interrupted_plan_offers_resume_and_abort_and_finished_plans_leave() {
    let mut s = loaded();
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(rollout("cron")),
            event: "interrupted".into(),
            running: false,
        },
    );
    assert_eq!(s.rollouts.len(), 1);
    press_and_preview(&mut s, 'U');
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if p.lines[0].starts_with("resume the rollout of cron:live")),
        "{:?}",
        s.popup
    );
    let effects = update(&mut s, key('y'));
    assert!(
        effects.contains(&Effect::ResumeRollout {
            region: 0,
            function: "cron".into(),
            alias: "live".into()
        }),
        "{effects:?}"
    );
    rollout_running(&mut s);
    assert_eq!(s.rollouts.len(), 1, "one entry per plan");
    assert!(s.popup.is_none());
    let effects = update(&mut s, key('U'));
    assert!(
        effects
            .iter()
            .all(|e| !matches!(e, Effect::ResumeRollout { .. })),
        "a running plan is not resumed twice"
    );
    // The notice closes on esc; the key does nothing else.
    update(&mut s, code(KeyCode::Esc));
    assert!(s.popup.is_none());
    press_and_preview(&mut s, 'A');
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if p.lines[0].contains("→ v1 100% (the weights it started from)")),
        "{:?}",
        s.popup
    );
    let effects = update(&mut s, key('y'));
    // With the alias as its preview showed it: the abort writes only over that.
    assert!(effects.contains(&Effect::AbortRollout {
        region: 0,
        function: "cron".into(),
        alias: "live".into(),
        previewed: Some(rollout("cron").expected_routing()),
    }));
    let mut done = rollout("cron");
    done.status = crate::ops::rollout::Status::RolledBack {
        reason: "alarm".into(),
    };
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(done),
            event: "guard tripped".into(),
            running: false,
        },
    );
    assert!(s.rollouts.is_empty());
    assert!(matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("guard tripped")));
}

#[test]
fn a_rollout_is_previewed_and_confirmed_before_it_starts() {
    let mut s = loaded();
    let r = rollout("cron");
    update(
        &mut s,
        Msg::RolloutPrepared {
            region: 0,
            result: Ok(r.clone()),
        },
    );
    let Some(Popup::Confirm(p)) = &s.popup else {
        panic!("no confirmation: {:?}", s.popup)
    };
    assert!(p.lines[0].contains("now v1 100% → v2"), "{:?}", p.lines);
    assert!(
        p.lines[1].contains("guard: error rate ≤ 5"),
        "{:?}",
        p.lines
    );
    assert!(
        !update(&mut s, key('x'))
            .iter()
            .any(|e| matches!(e, Effect::StartRollout { .. }))
    );
    let effects = update(&mut s, key('y'));
    assert!(
        effects.contains(&Effect::StartRollout {
            region: 0,
            rollout: Box::new(r.clone())
        }),
        "{effects:?}"
    );
    // Production through another profile of its account: typed, and said as production
    // (the popup's "production profile" line was missing).
    let mut elsewhere = r;
    elsewhere.production_elsewhere = true;
    update(
        &mut s,
        Msg::RolloutPrepared {
            region: 0,
            result: Ok(elsewhere),
        },
    );
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if p.production
            && matches!(p.confirmation, crate::ops::Confirmation::Typed(_))),
        "{:?}",
        s.popup
    );
}

#[test]
fn concurrency_and_pin_keys_prepare_their_requests() {
    let mut s = loaded();
    update(&mut s, key('N'));
    assert_eq!(s.input, Some(Input::Concurrency("none".into())));
    for _ in 0..4 {
        update(&mut s, code(KeyCode::Backspace));
    }
    update(&mut s, key('-'));
    update(&mut s, key('2'));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Prepare { .. })));
    assert!(
        s.input_error
            .as_deref()
            .unwrap_or_default()
            .contains("negative")
    );
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, code(KeyCode::Backspace));
    update(&mut s, key('8'));
    let effects = update(&mut s, code(KeyCode::Enter));
    let expected = Request::SetConcurrency {
        function: "cron".into(),
        value: Some(8),
    };
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Prepare { request, .. } if **request == expected)),
        "{effects:?}"
    );
    // While the preview is read a popup takes the keys (none acts underneath); esc hides it.
    assert!(matches!(&s.popup, Some(Popup::Working(_))));
    assert!(update(&mut s, key('q')).is_empty() && !s.quit);
    update(&mut s, code(KeyCode::Esc));
    // cron has no published version (so no alias to act on): pin says so, sending nothing.
    let effects = update(&mut s, key('L'));
    assert!(effects.iter().all(|e| !matches!(e, Effect::Prepare { .. })));
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("cron has no published version"))
    );
}

#[test]
fn backup_key_needs_a_location_then_runs_with_a_gauge_and_reports() {
    let mut s = loaded();
    let effects = update(&mut s, key('b'));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Backup { .. })));
    assert!(
        matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("[backup]")),
        "{:?}",
        s.popup
    );
    s.popup = None;
    let to = crate::backup::S3Uri::parse("s3://acme-backups/lops").unwrap();
    s.backup_target = Some((to.clone(), "STANDARD_IA".into()));
    update(&mut s, key('b'));
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if p.lines[0] == "back up cron @ us-east-1 to s3://acme-backups/lops (STANDARD_IA)"),
        "{:?}",
        s.popup
    );
    let effects = update(&mut s, key('y'));
    let asked = effects.iter().any(|e| {
        matches!(e, Effect::Backup { targets, to: t, storage_class }
            if targets == &vec![(0, vec!["cron".to_string()])] && *t == to && storage_class == "STANDARD_IA")
    });
    assert!(asked, "{effects:?}");
    assert!(s.backup.is_some());
    // A second press while one runs does not start another.
    let again = update(&mut s, key('b'));
    assert!(!again.iter().any(|e| matches!(e, Effect::Backup { .. })));
    s.popup = None;
    update(
        &mut s,
        Msg::Backup(actions::BackupEvent::Progress {
            done: 1,
            total: 2,
            label: "cron done".into(),
        }),
    );
    assert_eq!(s.backup.as_ref().map(|b| (b.done, b.total)), Some((1, 2)));
    update(
        &mut s,
        Msg::Backup(actions::BackupEvent::Done {
            remark: vec![],
            snapshots: vec!["s3://acme-backups/lops/snapshots/us-east-1/cron/x.json".into()],
            failed: vec![],
        }),
    );
    assert!(s.backup.is_none());
    assert!(matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("snapshots/us-east-1/cron")));
    assert!(matches!(&s.popup, Some(Popup::Notice(n)) if !n.contains("in memory")));
    // An archive class is said before it runs, as the CLI says it.
    s.popup = None;
    s.backup_target = Some((to.clone(), "DEEP_ARCHIVE".into()));
    update(&mut s, key('b'));
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if p.lines.iter().any(|l| l.starts_with("note: DEEP_ARCHIVE objects must be restored from the archive (hours)"))),
        "{:?}",
        s.popup
    );
    update(&mut s, code(KeyCode::Esc));
    s.popup = Some(Popup::Notice("backup done".into()));
    // Failed in part: the functions not backed up are marked again (a backup of marks), and
    // the notice says the same key retries them.
    s.marks.clear();
    s.backup = Some(actions::BackupView {
        label: "cron starting".into(),
        done: 0,
        total: 1,
        of_marks: true,
    });
    update(
        &mut s,
        Msg::Backup(actions::BackupEvent::Progress {
            done: 0,
            total: 1,
            label: "cron".into(),
        }),
    );
    update(
        &mut s,
        Msg::Backup(actions::BackupEvent::Done {
            remark: vec![(0, "cron".into())],
            snapshots: vec![],
            failed: vec!["cron in default/us-east-1: AccessDenied".into()],
        }),
    );
    assert_eq!(
        s.marks.iter().cloned().collect::<Vec<_>>(),
        [(0, "cron".to_string())]
    );
    assert!(
        matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("backup failed")
            && n.contains("the 1 not backed up are marked again: b retries them")),
        "{:?}",
        s.popup
    );
    // Some backed up, some not: those done are said with their snapshots, not left out.
    s.marks.clear();
    s.backup = Some(actions::BackupView {
        label: "starting".into(),
        done: 0,
        total: 2,
        of_marks: true,
    });
    update(
        &mut s,
        Msg::Backup(actions::BackupEvent::Done {
            remark: vec![(0, "cron".into())],
            snapshots: vec!["s3://acme-backups/lops/snapshots/us-east-1/api/x.json".into()],
            failed: vec!["cron in default/us-east-1: AccessDenied".into()],
        }),
    );
    assert!(
        matches!(&s.popup, Some(Popup::Notice(n)) if n.starts_with("backup done for 1 of them, not for the rest")
            && n.contains("snapshots/us-east-1/api/x.json")
            && n.contains("not backed up:\ncron in default/us-east-1: AccessDenied")
            && n.contains("the 1 not backed up are marked again")),
        "{:?}",
        s.popup
    );
    s.marks.clear();
    // One function's backup (no marks) that fails leaves no mark behind.
    update(
        &mut s,
        Msg::Backup(actions::BackupEvent::Done {
            remark: vec![(0, "cron".into())],
            snapshots: vec![],
            failed: vec!["cron in default/us-east-1: AccessDenied".into()],
        }),
    );
    assert!(s.marks.is_empty());
    // The demo's snapshots are in memory, and it says so.
    s.display.demo = true;
    update(
        &mut s,
        Msg::Backup(actions::BackupEvent::Done {
            remark: vec![],
            snapshots: vec!["s3://demo-backups/lops/snapshots/us-east-1/cron/x.json".into()],
            failed: vec![],
        }),
    );
    assert!(matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("in memory")));
}

#[test]
fn backup_is_allowed_read_only() {
    let mut s = loaded();
    set_access(&mut s, Access::new(Tier::Read, false));
    s.backup_target = Some((
        crate::backup::S3Uri::parse("s3://acme-backups/lops").unwrap(),
        "STANDARD".into(),
    ));
    update(&mut s, key('b'));
    let effects = update(&mut s, key('y'));
    assert!(effects.iter().any(|e| matches!(e, Effect::Backup { .. })));
}

#[test]
fn detail_reads_triggers_selects_with_arrows_and_p_pauses_the_selected_one() {
    use crate::provider::{Trigger, TriggerKind, Triggers};
    let mut s = loaded();
    // The first row is cron (alarm): open it.
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Triggers { region: 0, function } if function == "cron")),
        "{effects:?}"
    );
    // No second read while the first is under way.
    let effects = update(&mut s, Msg::Tick(t0()));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Triggers { .. })));
    let trigger = |kind, id: &str, enabled| Trigger {
        kind,
        id: id.into(),
        source: "x".into(),
        state: String::new(),
        enabled,
        detail: String::new(),
    };
    update(
        &mut s,
        Msg::Triggers {
            region: 0,
            function: "cron".into(),
            result: Ok(Triggers {
                function: "cron".into(),
                triggers: vec![
                    trigger(TriggerKind::Rule, "nightly", true),
                    trigger(TriggerKind::Mapping, "uuid-1", false),
                ],
                ..Default::default()
            }),
        },
    );
    update(&mut s, code(KeyCode::Down));
    update(&mut s, code(KeyCode::Down));
    assert_eq!(s.trigger_pane.as_ref().map(|p| p.selected), Some(1));
    let effects = update(&mut s, key('p'));
    let asked = effects.iter().any(|e| {
        matches!(e, Effect::Prepare { region: 0, request } if **request == Request::SetTrigger {
            kind: TriggerKind::Mapping,
            id: "uuid-1".into(),
            enabled: true,
        })
    });
    assert!(asked, "{effects:?}");
    // After an action, the triggers are read again.
    let effects = update(
        &mut s,
        Msg::Executed {
            region: 0,
            result: Err(crate::ops::OpsError::Conflict("x".into())),
        },
    );
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Triggers { .. })),
        "{effects:?}"
    );
    update(&mut s, code(KeyCode::Enter));
    // A pause that finds the trigger already as asked (someone else changed it), or cannot
    // read it, reads them again: the view never keeps showing what it was.
    let effects = update(
        &mut s,
        Msg::Planned {
            region: 0,
            request: Box::new(Request::SetTrigger {
                kind: TriggerKind::Mapping,
                id: "uuid-1".into(),
                enabled: false,
            }),
            result: Err(crate::ops::OpsError::Invalid("x".into())),
        },
    );
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Triggers { .. })),
        "{effects:?}"
    );
    update(&mut s, code(KeyCode::Enter));
    // An undo (a batch) landing reads them again: the pause it took back shows as undone.
    let effects = undo_landed(&mut s, "mapping/uuid-1");
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Triggers { .. })),
        "{effects:?}"
    );
    s.popup = None;
    // `r` in the detail view reads them again too.
    let effects = update(&mut s, key('r'));
    assert!(
        effects.iter().any(|e| matches!(e, Effect::Triggers { .. })),
        "{effects:?}"
    );
    // Leaving the detail view forgets them.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, code(KeyCode::Esc));
    assert!(s.trigger_pane.is_none());
}

#[test]
fn p_outside_the_detail_view_says_where_to_go() {
    let mut s = loaded();
    let effects = update(&mut s, key('p'));
    assert!(!effects.iter().any(|e| matches!(e, Effect::Prepare { .. })));
    assert!(matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("enter")));
}

#[test]
fn log_pane_follows_pauses_and_filters_its_own_lines() {
    let mut s = loaded();
    let effects = update(&mut s, key('l'));
    let read = effects.iter().find_map(|e| match e {
        Effect::ReadLogs {
            region: 0,
            function,
            start_ms,
            end_ms,
        } if function == "cron" => Some((*start_ms, *end_ms)),
        _ => None,
    });
    let (_, end_ms) = read.unwrap_or_else(|| panic!("no read: {effects:?}"));
    let line = |id: &str, message: &str| crate::loglines::LogLine {
        time: t0(),
        region: "us-east-1".into(),
        function: "cron".into(),
        stream: "s".into(),
        message: message.into(),
        event_id: id.into(),
        report: None,
        failure: None,
    };
    let effects = update(
        &mut s,
        Msg::LogLines {
            region: 0,
            function: "cron".into(),
            end_ms,
            result: Ok(vec![
                line("1", "START RequestId: a"),
                line("2", "boom: timeout"),
            ]),
        },
    );
    assert_eq!(s.log_pane.as_ref().map(|p| p.lines.len()), Some(2));
    // After the first read the runtime follows it (Live Tail, or polling where it is not
    // served) from where the read ended; the pane reads no more itself.
    assert!(
        effects.contains(&Effect::TailLogs {
            region: 0,
            function: "cron".into(),
            since_ms: end_ms
        }),
        "{effects:?}"
    );
    let later = t0() + chrono::TimeDelta::seconds(5);
    let effects = update(&mut s, Msg::Tick(later));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::ReadLogs { .. } | Effect::TailLogs { .. }))
    );
    // Paused, it stops following; going on, it follows again.
    let stop = Effect::StopTail {
        region: 0,
        function: "cron".into(),
    };
    assert!(update(&mut s, key(' ')).contains(&stop));
    assert!(s.log_pane.as_ref().is_some_and(|p| p.paused));
    let effects = update(&mut s, Msg::Tick(later + chrono::TimeDelta::seconds(10)));
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::ReadLogs { .. } | Effect::TailLogs { .. }))
    );
    assert!(
        update(&mut s, key(' '))
            .iter()
            .any(|e| matches!(e, Effect::TailLogs { .. }))
    );
    update(&mut s, key(' '));
    // The filter applies to the lines, not to the fleet's rows.
    let rows = s.rows.len();
    update(&mut s, key('/'));
    for c in "boom".chars() {
        update(&mut s, key(c));
    }
    update(&mut s, code(KeyCode::Enter));
    assert_eq!(s.log_pane.as_ref().map(|p| p.visible().len()), Some(1));
    assert_eq!(s.rows.len(), rows);
    assert!(s.filter.is_empty());
    // Leaving the view drops the pane and stops following (it was paused: nothing to stop),
    // after following again it stops.
    update(&mut s, key(' '));
    let effects = update(&mut s, code(KeyCode::Esc));
    assert!(s.log_pane.is_none(), "leaving the view drops the pane");
    assert!(
        effects.contains(&Effect::StopTail {
            region: 0,
            function: "cron".into()
        }),
        "{effects:?}"
    );
}

#[test]
fn alarms_answering_do_not_hide_failing_metrics() {
    let mut s = loaded();
    let later = t0() + chrono::TimeDelta::seconds(20);
    update(
        &mut s,
        Msg::Metrics {
            region: 0,
            seq: 2,
            at: later,
            result: Err(ProviderError::Service("HTTP 503 from the server".into())),
        },
    );
    update(
        &mut s,
        Msg::Alarms {
            region: 0,
            seq: 2,
            at: later,
            result: Ok(vec![]),
        },
    );
    assert!(
        matches!(
            s.regions[0].health(later, 30),
            crate::state::RegionHealth::Stale { error: Some(_), .. }
        ),
        "{:?}",
        s.regions[0].health(later, 30)
    );
    // Metrics answering again clears it.
    update(
        &mut s,
        Msg::Metrics {
            region: 0,
            seq: 3,
            at: later,
            result: Ok(MetricsSnapshot::default()),
        },
    );
    assert!(matches!(
        s.regions[0].health(later, 30),
        crate::state::RegionHealth::Fresh { .. }
    ));
}

#[test]
fn a_region_whose_every_read_keeps_failing_escalates_to_unreachable_and_comes_back() {
    let mut s = loaded();
    let fail = |s: &mut State, seq: u64| {
        let e = ProviderError::Timeout(10.0);
        update(
            s,
            Msg::Inventory {
                region: 1,
                seq,
                at: t0(),
                result: Err(e.clone()),
            },
        );
        update(
            s,
            Msg::Metrics {
                region: 1,
                seq,
                at: t0(),
                result: Err(e.clone()),
            },
        );
        update(
            s,
            Msg::Alarms {
                region: 1,
                seq,
                at: t0(),
                result: Err(e),
            },
        );
    };
    fail(&mut s, 2);
    let h = s.regions[1].health(t0(), 30);
    assert!(
        matches!(h, RegionHealth::Stale { error: Some(_), .. }),
        "{h:?}"
    );
    assert_eq!(
        s.regions[1].failing_reads(),
        ["inventory", "metrics", "alarms"]
    );
    assert_eq!(s.regions[1].functions.len(), 1, "its data stays");
    fail(&mut s, 3);
    fail(&mut s, 4);
    let h = s.regions[1].health(t0(), 30);
    assert!(
        matches!(&h, RegionHealth::Unreachable { error } if error.contains("raise [timeouts] metrics_secs")),
        "{h:?}"
    );
    // One read answering again: no longer unreachable, still naming what fails.
    update(
        &mut s,
        Msg::Inventory {
            region: 1,
            seq: 5,
            at: t0(),
            result: Ok(Inventory::default()),
        },
    );
    let h = s.regions[1].health(t0(), 30);
    assert!(
        matches!(h, RegionHealth::Stale { error: Some(_), .. }),
        "{h:?}"
    );
    assert_eq!(s.regions[1].failing_reads(), ["metrics", "alarms"]);
}

#[test]
fn every_change_in_a_production_scope_asks_for_the_typed_name() {
    let mut s = loaded();
    set_access(&mut s, Access::new(Tier::Change, true));
    let scope = s.regions[0].scope.clone();
    let typed = |s: &State| {
        matches!(&s.popup, Some(Popup::Confirm(p))
            if matches!(p.confirmation, crate::ops::Confirmation::Typed(_)) && p.production)
    };
    // Every ops plan the keys prepare (invoke, shift, promote, roll back, pin, concurrency,
    // kill, revive, trigger) reaches the popup the same way.
    for action in [
        "invoke",
        "traffic.set",
        "traffic.promote",
        "traffic.rollback",
        "traffic.pin",
        "concurrency.set",
        "kill",
        "revive",
        "trigger.disable",
    ] {
        let mut p = plan_in(&scope, "cron", false);
        p.action = action;
        update(&mut s, planned_kill("cron", Ok(p)));
        assert!(typed(&s), "{action}: {:?}", s.popup);
        assert!(!executes(&update(&mut s, key('y'))), "{action}: y ran it");
        s.popup = None;
    }
    // A rollout (C), a resume or abort, and a backup (b).
    update(
        &mut s,
        Msg::RolloutPrepared {
            region: 0,
            result: Ok(rollout("cron")),
        },
    );
    assert!(typed(&s), "rollout: {:?}", s.popup);
    s.popup = None;
    s.backup_target = Some((
        crate::backup::S3Uri::parse("s3://acme-backups/lops").unwrap(),
        "STANDARD".into(),
    ));
    update(&mut s, key('b'));
    assert!(typed(&s), "backup: {:?}", s.popup);
    s.popup = None;
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(rollout("cron")),
            event: "interrupted".into(),
            running: false,
        },
    );
    for k in ['U', 'A'] {
        press_and_preview(&mut s, k);
        assert!(typed(&s), "{k}: {:?}", s.popup);
        s.popup = None;
    }
}

#[test]
fn a_region_is_loading_until_its_inventory_answers_and_rows_land_page_by_page() {
    let mut s = State::new(scopes(), Keymap::default(), ScreenOptions::default(), t0());
    // Alarms answering alone do not make a region fresh.
    update(
        &mut s,
        Msg::Alarms {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(Vec::new()),
        },
    );
    assert_eq!(s.regions[0].health(t0(), 30), RegionHealth::Loading);
    // A first page: its rows show, the region says how far it has come, still loading.
    let page = |names: &[&str], progress: Option<crate::provider::InventoryProgress>| Inventory {
        functions: names.iter().map(|n| info(n, "t")).collect(),
        progress,
        ..Default::default()
    };
    let listing = crate::provider::InventoryProgress::default();
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(page(&["a", "b"], Some(listing))),
        },
    );
    assert_eq!(s.regions[0].functions.len(), 2);
    assert_eq!(s.regions[0].progress_label().as_deref(), Some("2 listed"));
    assert_eq!(s.regions[0].health(t0(), 30), RegionHealth::Loading);
    let filling = crate::provider::InventoryProgress {
        listed: true,
        read: 1,
    };
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(page(&["a", "b", "c"], Some(filling))),
        },
    );
    assert_eq!(s.regions[0].functions.len(), 3);
    assert_eq!(s.regions[0].progress_label().as_deref(), Some("1/3 read"));
    // The whole read: fresh, no progress; a late partial of the same read changes nothing.
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(page(&["a", "b", "c"], None)),
        },
    );
    assert_eq!(
        s.regions[0].health(t0(), 30),
        RegionHealth::Fresh { age_secs: 0 }
    );
    assert_eq!(s.regions[0].progress_label(), None);
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(page(&["a"], Some(listing))),
        },
    );
    assert_eq!(s.regions[0].functions.len(), 3);
    // A later read fills in behind the rows shown: its partial snapshots leave them be.
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 2,
            at: t0(),
            result: Ok(page(&["a"], Some(listing))),
        },
    );
    assert_eq!(s.regions[0].functions.len(), 3);
    assert_eq!(s.regions[0].progress_label().as_deref(), Some("1 listed"));
}

#[test]
fn what_the_detail_view_read_on_demand_survives_the_next_inventory() {
    let mut s = loaded();
    let name = s.regions[0].functions[0].info.name.clone();
    update(
        &mut s,
        Msg::Extras {
            region: 0,
            function: name.clone(),
            result: Ok(crate::provider::FunctionExtras {
                aliases: Some(Vec::new()),
                provisioned: Some(vec![crate::provider::ProvisionedConcurrency {
                    qualifier: "live".into(),
                    requested: Some(5),
                    allocated: Some(5),
                    status: Some("READY".into()),
                }]),
            }),
        },
    );
    let mut unread = info(&name, "t");
    unread.not_read.provisioned = true;
    unread.not_read.aliases = true;
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 9,
            at: t0(),
            result: Ok(Inventory {
                functions: vec![unread],
                ..Default::default()
            }),
        },
    );
    let f = s.regions[0].function(&name).expect("still listed");
    assert!(!f.info.not_read.provisioned && !f.info.not_read.aliases);
    assert_eq!(f.info.provisioned.len(), 1);
}

#[test]
fn a_listing_that_stops_short_keeps_the_rows_it_did_not_reach() {
    let mut s = loaded();
    let before: Vec<String> = s.regions[1]
        .functions
        .iter()
        .map(|f| f.info.name.clone())
        .collect();
    assert!(!before.is_empty());
    update(
        &mut s,
        Msg::Inventory {
            region: 1,
            seq: 9,
            at: t0(),
            result: Ok(Inventory {
                functions: Vec::new(),
                incomplete: Some("inventory: ListFunctions throttled".into()),
                ..Default::default()
            }),
        },
    );
    let after: Vec<String> = s.regions[1]
        .functions
        .iter()
        .map(|f| f.info.name.clone())
        .collect();
    assert_eq!(after, before);
    // Said as it is shown: the rows kept are said to be as last read.
    assert!(
        s.regions[1]
            .failing()
            .iter()
            .any(|e| e.contains("ListFunctions throttled")
                && e.contains(&format!("and {} others as last read", before.len()))),
        "{:?}",
        s.regions[1].failing()
    );
}

// ---- marks and batches ----

/// `loaded()` with an alias `live` (v1 90 % / v2 10 %) on api in both regions and on worker.
fn with_aliases() -> State {
    let mut s = loaded();
    for region in &mut s.regions {
        for f in &mut region.functions {
            if f.info.name == "cron" {
                continue;
            }
            f.info.versions = vec!["1".into(), "2".into()];
            f.info.aliases = vec![crate::provider::AliasInfo {
                name: "live".into(),
                function_version: "1".into(),
                additional_weights: vec![("2".into(), 0.1)],
                revision_id: None,
            }];
        }
    }
    s
}

fn select(s: &mut State, region: usize, name: &str) {
    let at = s
        .rows
        .iter()
        .position(|(r, f)| *r == region && s.regions[*r].functions[*f].info.name == name)
        .expect("row");
    s.selected = at;
    s.chosen = true;
}

fn batch_targets(effects: &[Effect]) -> Vec<crate::ops::batch::Target> {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::PrepareBatch { targets } => Some(targets.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn space_marks_rows_that_follow_their_function_and_esc_clears_them() {
    let mut s = with_aliases();
    select(&mut s, 0, "api");
    update(&mut s, key(' '));
    select(&mut s, 1, "api");
    update(&mut s, key(' '));
    let both = vec![(0, "api".to_string()), (1, "api".to_string())];
    assert_eq!(batch::marked(&s), both);
    // A re-sort and a refresh move rows; the marks stay on the same functions.
    update(&mut s, key('s'));
    update(&mut s, key('S'));
    assert_eq!(batch::marked(&s), both);
    // Space on a marked row unmarks it.
    select(&mut s, 1, "api");
    update(&mut s, key(' '));
    assert_eq!(batch::marked(&s), vec![(0, "api".to_string())]);
    update(&mut s, code(KeyCode::Esc));
    assert!(s.marks.is_empty());
}

/// A marked function that a whole listing no longer has is gone, and so is its mark: one made
/// later under its name was never marked.
#[test]
fn a_mark_goes_with_its_function() {
    let mut s = with_aliases();
    select(&mut s, 0, "cron");
    update(&mut s, key(' '));
    let listed = |s: &mut State, seq: u64, names: &[(&str, &str)]| {
        update(
            s,
            Msg::Inventory {
                region: 0,
                seq,
                at: t0(),
                result: Ok(Inventory {
                    functions: names.iter().map(|(n, t)| info(n, t)).collect(),
                    account_concurrency_limit: Some(1000),
                    ..Default::default()
                }),
            },
        );
    };
    listed(&mut s, 2, &[("api", "web"), ("worker", "batch")]);
    assert!(s.marks.is_empty(), "{:?}", s.marks);
    listed(
        &mut s,
        3,
        &[("api", "web"), ("worker", "batch"), ("cron", "batch")],
    );
    assert!(batch::marked(&s).is_empty());
}

/// A filter that hides the chosen function (matching nothing, or others) and is then cleared
/// puts the highlight back on it: a key never acts on a row the user did not choose.
#[test]
fn the_highlight_comes_back_to_the_chosen_function_after_a_filter_hid_it() {
    let mut s = with_aliases();
    select(&mut s, 0, "worker");
    for filter in ["zzz", "cron"] {
        s.filter = filter.into();
        s.rebuild_rows();
        s.filter.clear();
        s.rebuild_rows();
        let (r, f) = s.selected_row().expect("a row");
        assert_eq!(
            (r.scope.region.as_str(), f.info.name.as_str()),
            (s.regions[0].scope.region.as_str(), "worker"),
            "after filter {filter}"
        );
    }
    // Through the keys, with a filter that keeps it and one that hides it.
    for filter in ["work", "zzz"] {
        update(&mut s, key('/'));
        for c in filter.chars() {
            update(&mut s, key(c));
        }
        update(&mut s, code(KeyCode::Enter));
        update(&mut s, code(KeyCode::Esc));
        assert_eq!(
            s.selected_row().map(|(_, f)| f.info.name.clone()),
            Some("worker".to_string()),
            "after /{filter} and esc"
        );
    }
    // Moved meanwhile: the row moved to is the choice.
    s.filter = "cron".into();
    s.rebuild_rows();
    update(&mut s, key('j'));
    let moved = s.selected_row().map(|(_, f)| f.info.name.clone());
    s.filter.clear();
    s.rebuild_rows();
    assert_eq!(s.selected_row().map(|(_, f)| f.info.name.clone()), moved);
    // Acted on under a filter that hid the choice (without moving): the row acted on is the
    // choice now — the next key acts on it, not on the one chosen before the filter.
    select(&mut s, 0, "worker");
    s.filter = "cron".into();
    s.rebuild_rows();
    let acted = s.selected_row().map(|(_, f)| f.info.name.clone());
    assert_ne!(acted.as_deref(), Some("worker"));
    update(&mut s, key('b'));
    update(&mut s, code(KeyCode::Esc));
    s.filter.clear();
    s.rebuild_rows();
    assert_eq!(s.selected_row().map(|(_, f)| f.info.name.clone()), acted);
    // `*` marks every row shown, none in particular: the choice the filter hid stands.
    select(&mut s, 0, "worker");
    s.filter = "cron".into();
    s.rebuild_rows();
    update(&mut s, key('*'));
    s.filter.clear();
    s.rebuild_rows();
    assert_eq!(
        s.selected_row().map(|(_, f)| f.info.name.clone()),
        Some("worker".to_string())
    );
}

#[test]
fn star_marks_every_row_the_filter_shows_and_again_unmarks_them() {
    let mut s = with_aliases();
    s.filter = "team=batch".into();
    s.rebuild_rows();
    update(&mut s, key('*'));
    assert_eq!(
        batch::marked(&s),
        vec![(0, "cron".to_string()), (0, "worker".to_string())]
    );
    update(&mut s, key('*'));
    assert!(s.marks.is_empty());
}

#[test]
fn space_in_the_log_pane_pauses_and_does_not_mark() {
    let mut s = with_aliases();
    select(&mut s, 0, "api");
    update(&mut s, key('l'));
    assert!(matches!(s.view, View::Logs { .. }));
    update(&mut s, key(' '));
    assert!(s.marks.is_empty());
    assert!(s.log_pane.as_ref().is_some_and(|p| p.paused));
    // `*` there marks nothing (it marked the whole fleet behind the pane, for the next
    // action key); `s` and `w` leave the fleet's sort and window: each said.
    let (sort, window) = (s.sort, s.window);
    for k in ['*', 's', 'w'] {
        s.popup = None;
        update(&mut s, key(k));
        assert!(
            matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("the fleet's")),
            "{k}: {:?}",
            s.popup
        );
    }
    assert!(s.marks.is_empty());
    assert_eq!((s.sort, s.window), (sort, window));
}

#[test]
fn an_action_key_with_marks_asks_for_one_batch_over_every_marked_function() {
    let mut s = with_aliases();
    for (region, name) in [(0, "api"), (1, "api"), (0, "cron")] {
        select(&mut s, region, name);
        update(&mut s, key(' '));
    }
    let targets = batch_targets(&update(&mut s, key('B')));
    use crate::ops::batch::Target;
    let rollback = |function: &str| Request::Rollback {
        function: function.into(),
        alias: "live".into(),
    };
    assert_eq!(targets.len(), 3, "{targets:?}");
    assert!(targets.contains(&Target::Ask(0, rollback("api"))));
    assert!(targets.contains(&Target::Ask(1, rollback("api"))));
    // cron has no published version: listed as skipped, with why, and nothing is asked of it.
    assert!(
        targets.iter().any(|t| matches!(t, Target::Skip(0, name, e) if name == "cron" && e.to_string().contains("no published version"))),
        "{targets:?}"
    );
}

#[test]
fn a_function_without_an_alias_is_said_the_same_on_its_row_and_on_the_marks() {
    let mut s = with_aliases();
    // worker has versions but no alias; cron has no published version, its aliases unread
    // (they could only point at $LATEST).
    for f in &mut s.regions[0].functions {
        match f.info.name.as_str() {
            "worker" => f.info.aliases.clear(),
            "cron" => f.info.not_read.aliases = true,
            _ => {}
        }
    }
    let mut on_rows = Vec::new();
    for name in ["worker", "cron"] {
        select(&mut s, 0, name);
        let effects = update(&mut s, key('L'));
        assert!(effects.iter().all(|e| !matches!(e, Effect::Prepare { .. })));
        let Some(Popup::Notice(said)) = s.popup.take() else {
            panic!("{:?}", s.popup)
        };
        on_rows.push(said);
    }
    for name in ["worker", "cron"] {
        select(&mut s, 0, name);
        update(&mut s, key(' '));
    }
    assert_eq!(on_rows[0], "worker has no alias");
    assert!(
        on_rows[1].starts_with("cron has no published version"),
        "{}",
        on_rows[1]
    );
    use crate::ops::batch::Target;
    let targets = batch_targets(&update(&mut s, key('L')));
    for (name, row) in ["worker", "cron"].iter().zip(&on_rows) {
        let why = targets
            .iter()
            .find_map(|t| match t {
                Target::Skip(0, n, e) if n == name => Some(e.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name} not skipped: {targets:?}"));
        let row_why = row.strip_prefix(&format!("{name} ")).unwrap();
        assert!(why.ends_with(row_why), "{why} / {row}");
    }
}

#[test]
fn a_weight_typed_with_marks_goes_to_each_aliases_second_version() {
    let mut s = with_aliases();
    for (region, name) in [(0, "api"), (0, "worker")] {
        select(&mut s, region, name);
        update(&mut s, key(' '));
    }
    update(&mut s, key('t'));
    assert!(matches!(s.input, Some(Input::Weight(_))));
    // Bad weight: kept, with the reason, nothing asked.
    s.input = Some(Input::Weight("1.7".into()));
    let effects = update(&mut s, code(KeyCode::Enter));
    assert!(batch_targets(&effects).is_empty());
    assert!(
        s.input_error
            .as_deref()
            .is_some_and(|e| e.contains("out of range"))
    );
    // Typed as the screens show shares: the same weight.
    s.input = Some(Input::Weight("25%".into()));
    let targets = batch_targets(&update(&mut s, code(KeyCode::Enter)));
    assert_eq!(
        targets,
        vec![
            crate::ops::batch::Target::Ask(
                0,
                Request::SetWeight {
                    function: "api".into(),
                    alias: "live".into(),
                    version: "2".into(),
                    weight: 0.25
                }
            ),
            crate::ops::batch::Target::Ask(
                0,
                Request::SetWeight {
                    function: "worker".into(),
                    alias: "live".into(),
                    version: "2".into(),
                    weight: 0.25
                }
            ),
        ]
    );
}

fn rollback_plan(scope: &Scope, function: &str) -> Plan {
    let alias = crate::provider::AliasInfo {
        name: "live".into(),
        function_version: "1".into(),
        additional_weights: vec![("2".into(), 0.1)],
        revision_id: None,
    };
    Plan {
        scope: scope.clone(),
        action: "traffic.rollback",
        target: format!("{function}:live"),
        needs: Tier::Change,
        destructive: false,
        warning: None,
        before: crate::ops::describe::alias_state(&alias),
        after: serde_json::json!({"function_version": "1", "weights": {}}),
        change: crate::ops::Change::Route {
            function: function.into(),
            alias: "live".into(),
            main: "1".into(),
            extra: None,
            expected: alias,
        },
        undoes: None,
        reason: None,
        batch: Some("B1".into()),
        note: None,
    }
}

/// The incident path: the function selected, `B`, `tab` (every region), `y` — three keys.
#[test]
fn rollback_in_every_region_is_three_keys_from_the_selected_function() {
    let mut s = with_aliases();
    select(&mut s, 0, "api");
    let mut keys = 0;
    keys += 1;
    let effects = update(&mut s, key('B'));
    let Some(Effect::Prepare { request, .. }) = effects
        .iter()
        .find(|e| matches!(e, Effect::Prepare { .. }))
        .cloned()
    else {
        panic!("no prepare: {effects:?}");
    };
    let mut one = rollback_plan(&scopes()[0], "api");
    one.batch = None;
    update(
        &mut s,
        Msg::Planned {
            region: 0,
            request: request.clone(),
            result: Ok(one),
        },
    );
    keys += 1;
    let targets = batch_targets(&update(&mut s, code(KeyCode::Tab)));
    assert_eq!(
        targets,
        vec![
            crate::ops::batch::Target::Ask(0, (*request).clone()),
            crate::ops::batch::Target::Ask(1, (*request).clone()),
        ]
    );
    let batch = crate::ops::batch::Batch {
        id: "B1".into(),
        action: "traffic.rollback".into(),
        items: scopes()
            .iter()
            .enumerate()
            .map(|(i, sc)| crate::ops::batch::Item::Ready {
                source: i,
                plan: Box::new(rollback_plan(sc, "api")),
            })
            .collect(),
    };
    update(&mut s, Msg::BatchPrepared(Ok(batch.clone())));
    let Some(Popup::Confirm(p)) = &s.popup else {
        panic!("no confirmation: {:?}", s.popup);
    };
    assert_eq!(p.confirmation, crate::ops::Confirmation::Yes);
    assert_eq!(p.lines[0], "traffic rollback: 2 changes in 2 scopes");
    assert!(
        p.lines
            .iter()
            .any(|l| l == "api:live in eu-west-1: v1 90% / v2 10% → v1 100%"),
        "{:?}",
        p.lines
    );
    keys += 1;
    let effects = update(&mut s, key('y'));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::ExecuteBatch { batch: b } if **b == batch))
    );
    assert_eq!(keys, 3);
    assert!(matches!(s.popup, Some(Popup::Batch)));
    // Running: enter does not close it; esc hides it, and it comes back when all landed.
    update(&mut s, code(KeyCode::Enter));
    assert!(matches!(s.popup, Some(Popup::Batch)));
    update(&mut s, code(KeyCode::Esc));
    assert!(s.popup.is_none());
    let ok = |region: usize| crate::ops::Outcome {
        after: serde_json::json!({"function_version": "1", "weights": {}}),
        invoke: None,
        record: Some(crate::ops::audit::Record {
            id: format!("r{region}"),
            time: String::new(),
            who: String::new(),
            profile: "default".into(),
            region: scopes()[region].region.clone(),
            action: "traffic.rollback".into(),
            target: "api:live".into(),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
            result: "ok".into(),
            undoes: None,
            reason: None,
            asked: None,
            ended: None,
            payload_sha256: None,
            batch: Some("B1".into()),
            destructive: false,
            typed: false,
        }),
    };
    // A result of another batch is not this one's.
    update(
        &mut s,
        Msg::BatchLanded {
            batch: "OTHER".into(),
            landed: (0, Ok(ok(0))),
        },
    );
    assert!(s.batch_run.as_ref().is_some_and(|r| r.landed.is_empty()));
    // Quitting while it runs asks first.
    update(&mut s, key('q'));
    assert!(
        !s.quit
            && matches!(&s.popup, Some(Popup::Confirm(p)) if p.lines[0].contains("quit while a batch runs")
                && p.lines[1].contains("stays recorded as started, its outcome not known"))
    );
    update(&mut s, code(KeyCode::Esc));
    // An undo waits for the batch.
    assert!(
        !update(&mut s, key('u'))
            .iter()
            .any(|e| matches!(e, Effect::Undo { anywhere: true, .. }))
    );
    update(&mut s, code(KeyCode::Esc));
    let first = update(
        &mut s,
        Msg::BatchLanded {
            batch: "B1".into(),
            landed: (1, Ok(ok(1))),
        },
    );
    assert!(!first.contains(&Effect::RefreshInventory));
    // The alias written shows at once.
    let eu = s.regions[1].function("api").expect("api");
    assert!(eu.info.aliases[0].additional_weights.is_empty());
    let failed = Err(OpsError::Provider(ProviderError::Service(
        "HTTP 503".into(),
    )));
    let last = update(
        &mut s,
        Msg::BatchLanded {
            batch: "B1".into(),
            landed: (0, failed),
        },
    );
    assert!(last.contains(&Effect::RefreshInventory));
    assert!(matches!(s.popup, Some(Popup::Batch)));
    let run = s.batch_run.as_ref().expect("run");
    let summary = run.batch.summary(&run.landed);
    assert_eq!(summary.changed, vec!["api:live in eu-west-1".to_string()]);
    assert_eq!(
        summary.failed,
        vec!["api:live in us-east-1: HTTP 503".to_string()]
    );
    // `u` in the finished batch's popup undoes that batch (its records), or nothing: not
    // whatever is last by then (another lops may have undone it meanwhile).
    let mut undone = s.clone();
    let asked = update(&mut undone, key('u'));
    assert!(
        asked.iter().any(|e| matches!(
            e,
            Effect::Undo { only: Some(ids), .. }
                if ids == &vec!["r1".to_string(), "batch:B1".to_string()]
        )),
        "{asked:?}"
    );
    update(&mut s, code(KeyCode::Esc));
    assert!(s.popup.is_none());
}

#[test]
fn a_typed_confirmation_takes_tab_and_not_the_action_key_as_widening() {
    let mut s = with_aliases();
    for r in &mut s.regions {
        r.scope.access.production = true;
    }
    select(&mut s, 0, "api");
    let request = Box::new(Request::Rollback {
        function: "api".into(),
        alias: "live".into(),
    });
    let mut one = rollback_plan(&s.regions[0].scope, "api");
    one.batch = None;
    update(
        &mut s,
        Msg::Planned {
            region: 0,
            request,
            result: Ok(one),
        },
    );
    // `B` is typed into the name, not taken as "again".
    assert!(batch_targets(&update(&mut s, key('B'))).is_empty());
    assert!(matches!(&s.popup, Some(Popup::Confirm(p)) if p.typed == "B"));
    assert_eq!(batch_targets(&update(&mut s, code(KeyCode::Tab))).len(), 2);
}

#[test]
fn tab_widens_an_invoke_to_every_region_with_the_function() {
    let mut s = with_aliases();
    select(&mut s, 0, "api");
    let request = Box::new(Request::Invoke(crate::provider::InvokeRequest {
        function: "api".into(),
        qualifier: None,
        payload: b"{}".to_vec(),
        asynchronous: false,
        wait_secs: None,
    }));
    let mut one = plan_in(&s.regions[0].scope, "api", false);
    one.batch = None;
    update(
        &mut s,
        Msg::Planned {
            region: 0,
            request,
            result: Ok(one),
        },
    );
    // Marks made before (and a batch of them previewed earlier) are not what it acts on.
    s.marks.insert((0, "api".into()));
    s.marks.insert((1, "api".into()));
    s.batch_of_marks = true;
    let targets = batch_targets(&update(&mut s, code(KeyCode::Tab)));
    assert_eq!(targets.len(), 2, "{targets:?}");
    // Confirmed and run: the marks stay, also on the function it invoked (they were cleared).
    let items: Vec<crate::ops::batch::Item> = (0..2)
        .map(|r| crate::ops::batch::Item::Ready {
            source: r,
            plan: Box::new(plan_in(&s.regions[r].scope, "api", false)),
        })
        .collect();
    update(
        &mut s,
        Msg::BatchPrepared(Ok(crate::ops::batch::Batch {
            id: "W1".into(),
            action: "invoke".into(),
            items,
        })),
    );
    update(&mut s, key('y'));
    assert!(matches!(s.popup, Some(Popup::Batch)), "{:?}", s.popup);
    for r in 0..2 {
        update(
            &mut s,
            Msg::BatchLanded {
                batch: "W1".into(),
                landed: (
                    r,
                    Ok(crate::ops::Outcome {
                        after: serde_json::json!({}),
                        invoke: None,
                        record: None,
                    }),
                ),
            },
        );
    }
    assert_eq!(s.marks.len(), 2, "{:?}", s.marks);
}

/// `tab` asks every region whose functions were not read whole too (the core reads it fresh
/// and skips it in its words when the function is not there): it left out a region whose
/// inventory failed, and the preview read as "everywhere".
#[test]
fn tab_asks_a_region_whose_functions_were_not_read_too() {
    let mut s = with_aliases();
    s.regions[1].functions.clear();
    s.rebuild_rows();
    select(&mut s, 0, "api");
    let request = Box::new(Request::Invoke(crate::provider::InvokeRequest {
        function: "api".into(),
        qualifier: None,
        payload: b"{}".to_vec(),
        asynchronous: false,
        wait_secs: None,
    }));
    let planned = |s: &mut State| {
        let mut one = plan_in(&s.regions[0].scope, "api", false);
        one.batch = None;
        update(
            s,
            Msg::Planned {
                region: 0,
                request: request.clone(),
                result: Ok(one),
            },
        );
    };
    // Read whole without it: nowhere else to ask (tab does not widen).
    assert!(s.regions[1].functions_known());
    planned(&mut s);
    assert!(batch_targets(&update(&mut s, code(KeyCode::Tab))).is_empty());
    // Its inventory failing: asked.
    let now = s.now;
    s.regions[1].reads[0].error = Some(("timed out".into(), now));
    assert!(!s.regions[1].functions_known());
    s.popup = None;
    planned(&mut s);
    let targets = batch_targets(&update(&mut s, code(KeyCode::Tab)));
    assert_eq!(targets.len(), 2, "{targets:?}");
}

#[test]
fn u_asks_the_runtime_for_the_undo_of_the_last_action() {
    let mut s = with_aliases();
    let effects = update(&mut s, key('u'));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Undo { anywhere: true, .. })),
        "{effects:?}"
    );
    update(
        &mut s,
        Msg::BatchPrepared(Err(
            "nothing to undo: no reversible action is recorded".into()
        )),
    );
    assert!(matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("nothing to undo")));
}

#[test]
fn nothing_to_do_here_still_widens_to_every_region_with_tab() {
    let mut s = with_aliases();
    select(&mut s, 0, "api");
    let request = Box::new(Request::Rollback {
        function: "api".into(),
        alias: "live".into(),
    });
    let mut here = rollback_plan(&scopes()[0], "api");
    here.batch = None;
    here.change = crate::ops::Change::Nothing;
    update(
        &mut s,
        Msg::Planned {
            region: 0,
            request: request.clone(),
            result: Ok(here.clone()),
        },
    );
    // `y` does not "run" nothing: it closes.
    let effects = update(&mut s, key('y'));
    assert!(!executes(&effects) && s.popup.is_none(), "{effects:?}");
    update(
        &mut s,
        Msg::Planned {
            region: 0,
            request,
            result: Ok(here),
        },
    );
    assert_eq!(batch_targets(&update(&mut s, code(KeyCode::Tab))).len(), 2);
}

/// The keys that answer a confirmation answer it whatever the keymap binds them to (`y`
/// confirms, `n` and esc cancel; never "the action key again", which widens), and alt with a
/// key — a fast esc then that key — cancels.
#[test]
fn y_n_and_esc_answer_a_confirmation_whatever_they_are_bound_to() {
    let planned = |s: &mut State| {
        update(s, planned_kill("cron", Ok(plan("cron", false))));
    };
    // y is never an action's (pressed twice it would confirm what it opened); n may be.
    let y = std::collections::BTreeMap::from([("kill".to_string(), "y".to_string())]);
    assert!(Keymap::with_overrides(&y).is_err());
    let mut s = loaded();
    let overrides = std::collections::BTreeMap::from([("kill".to_string(), "n".to_string())]);
    s.keymap = Keymap::with_overrides(&overrides).expect("keymap");
    planned(&mut s);
    let effects = update(&mut s, key('n'));
    assert!(!executes(&effects), "{effects:?}");
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::PrepareBatch { .. })),
        "n widened: {effects:?}"
    );
    assert_eq!(s.popup, None);
    let mut s = loaded();
    planned(&mut s);
    let alt_y = Msg::Key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::ALT));
    assert!(!executes(&update(&mut s, alt_y)));
    assert_eq!(s.popup, None, "alt-y (esc then y) cancels");
}

/// A detail view whose on-demand reads failed reads them again a while later, by itself: it
/// does not keep saying "not read" once the region answers again.
#[test]
fn a_failed_detail_read_is_made_again_after_a_while() {
    let mut s = loaded();
    s.now = t0();
    let opened = update(&mut s, code(KeyCode::Enter));
    let reads = |effects: &[Effect]| {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Extras { .. } | Effect::Triggers { .. }))
            .count()
    };
    assert_eq!(reads(&opened), 2, "{opened:?}");
    let (region, function) = match &s.view {
        View::Detail { region, function } => (*region, function.clone()),
        other => panic!("not in detail: {other:?}"),
    };
    let timed_out = || ProviderError::Timeout(10.0);
    update(
        &mut s,
        Msg::Extras {
            region,
            function: function.clone(),
            result: Err(timed_out()),
        },
    );
    update(
        &mut s,
        Msg::Triggers {
            region,
            function,
            result: Err(timed_out()),
        },
    );
    let early = update(&mut s, Msg::Tick(t0() + chrono::Duration::seconds(10)));
    assert_eq!(reads(&early), 0, "{early:?}");
    let later = update(&mut s, Msg::Tick(t0() + chrono::Duration::seconds(31)));
    assert_eq!(reads(&later), 2, "{later:?}");
    // Once, not at every tick while the reads are out.
    let next = update(&mut s, Msg::Tick(t0() + chrono::Duration::seconds(32)));
    assert_eq!(reads(&next), 0, "{next:?}");
}

/// A preview whose read fails on AWS's side names the action, its target and the scope: a
/// notice saying only "timed out after 2.0s" did not say of what.
#[test]
fn a_failed_preview_read_names_what_it_was_for() {
    let mut s = loaded();
    update(
        &mut s,
        planned_kill(
            "cron",
            Err(crate::ops::OpsError::Provider(ProviderError::Timeout(2.0))),
        ),
    );
    let Some(Popup::Notice(text)) = &s.popup else {
        panic!("no notice: {:?}", s.popup);
    };
    let scope = s.regions[0].scope.to_string();
    assert!(
        text.starts_with(&format!(
            "kill of cron in {scope}: cannot read it for the preview"
        )) && text.ends_with(
            "timed out after 2.0s — raise [timeouts] operation_secs (a try gets operation_secs \
             / max_attempts)"
        ),
        "{text}"
    );
}

/// A value input over marked rows opens with the value they all share now, as one row's does
/// (it opened with "none" over four functions reserved at 200), and empty when they differ.
#[test]
fn a_value_input_over_marks_opens_with_the_value_they_share() {
    let mut s = loaded();
    for f in s.regions[0].functions.iter_mut().take(2) {
        f.info.reserved_concurrency = Some(200);
    }
    s.rebuild_rows();
    let names: Vec<String> = s.regions[0]
        .functions
        .iter()
        .take(2)
        .map(|f| f.info.name.clone())
        .collect();
    for name in &names {
        s.marks.insert((0, name.clone()));
    }
    update(&mut s, key('N'));
    assert_eq!(s.input, Some(Input::Concurrency("200".into())));
    update(&mut s, code(KeyCode::Esc));
    s.regions[0].functions[1].info.reserved_concurrency = Some(5);
    for name in &names {
        s.marks.insert((0, name.clone()));
    }
    update(&mut s, key('N'));
    assert_eq!(s.input, Some(Input::Concurrency(String::new())));
}

/// The weight input over marks follows the same rule: what they all share, else empty (it
/// opened at 0.1 over aliases at 20% and 10%, a value none of them had).
#[test]
fn a_weight_input_over_marks_with_different_weights_opens_empty() {
    let mut s = with_aliases();
    for (region, name) in [(0, "api"), (0, "worker")] {
        select(&mut s, region, name);
        update(&mut s, key(' '));
    }
    update(&mut s, key('t'));
    assert_eq!(s.input, Some(Input::Weight("0.1".into())), "both at 10%");
    update(&mut s, code(KeyCode::Esc));
    for f in &mut s.regions[0].functions {
        if f.info.name == "worker" {
            f.info.aliases[0].additional_weights = vec![("2".into(), 0.2)];
        }
    }
    for name in ["api", "worker"] {
        s.marks.insert((0, name.into()));
    }
    update(&mut s, key('t'));
    assert_eq!(s.input, Some(Input::Weight(String::new())));
}

/// `t`, `P`, `B` and `L` on an alias a rollout moves say so at once (with `A`), instead of
/// after a weight is typed: the ops layer would refuse the change anyway.
#[test]
fn alias_keys_under_a_running_rollout_say_so_before_anything_is_typed() {
    let mut s = loaded();
    let cron = s.regions[0]
        .functions
        .iter_mut()
        .find(|f| f.info.name == "cron")
        .expect("cron");
    cron.info.versions = vec!["1".into(), "2".into()];
    cron.info.aliases = vec![crate::provider::AliasInfo {
        name: "live".into(),
        function_version: "1".into(),
        additional_weights: vec![("2".into(), 0.1)],
        revision_id: None,
    }];
    rollout_running(&mut s);
    for k in ['t', 'P', 'B', 'L'] {
        let effects = update(&mut s, key(k));
        assert!(s.input.is_none(), "{k}: {:?}", s.input);
        assert!(
            !effects.iter().any(|e| matches!(e, Effect::Prepare { .. })),
            "{k}: {effects:?}"
        );
        assert!(
            matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("cron:live is moved by its rollout") && t.contains("A aborts it")),
            "{k}: {:?}",
            s.popup
        );
        s.popup = None;
    }
}

/// `U` and `A` ask the ops layer to read the alias (the inventory's copy may be minutes old):
/// a read that fails is said, naming what was asked, and nothing is offered to confirm.
#[test]
fn a_rollout_preview_whose_alias_cannot_be_read_asks_nothing() {
    let mut s = loaded();
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(rollout("cron")),
            event: "interrupted".into(),
            running: false,
        },
    );
    let effects = update(&mut s, key('A'));
    let Some(Effect::PreviewRollout { rollout, abort, .. }) = effects.into_iter().next() else {
        panic!("no preview asked: {:?}", s.popup);
    };
    assert!(abort);
    update(
        &mut s,
        Msg::RolloutPreviewed {
            region: 0,
            rollout,
            abort,
            result: Err(crate::ops::OpsError::Provider(
                crate::provider::ProviderError::Throttled("slow down".into()),
            )),
        },
    );
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("abort the rollout of cron:live: cannot read its alias for the preview: throttled by AWS: slow down")),
        "{:?}",
        s.popup
    );
}

/// At 80 columns the rollout line keeps its keys and cuts its event between words, marked: a
/// pid cut by a digit read as another process, and `A abort` fell off the line.
#[test]
fn the_rollout_line_keeps_its_keys_and_cuts_its_event_whole() {
    let mut s = loaded();
    update(&mut s, Msg::Resize(80, 24));
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(rollout("cron")),
            event: "interrupted: resume or abort it with lops traffic resume live --fn cron \
                    --region us-east-1 --profile default (lops pid 1465812 gone)"
                .into(),
            running: false,
        },
    );
    let line = screen_rows(&s, 80, 24)
        .into_iter()
        .find(|l| l.contains("rollout cron:live"))
        .expect("a rollout line");
    assert!(line.trim_end().ends_with("U resume · A abort"), "{line}");
    assert!(line.contains(" … "), "{line}");
    assert!(
        !line.contains("146581 ") && !line.contains("1465812"),
        "{line}"
    );
}

/// A halted rollout says so before its step and its reason, which give way at 80 columns: the
/// word was cut off with them, and the line read as a rollout still running.
#[test]
fn the_rollout_line_says_halted_before_what_is_cut() {
    let mut s = loaded();
    update(&mut s, Msg::Resize(80, 24));
    let mut halted = rollout("payments-api");
    halted.status = crate::ops::rollout::Status::Halted {
        reason: "guard tripped".into(),
    };
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(halted),
            event: "halted: guard tripped: the guard could not read its signals (GetMetricData \
                    timed out after 10 s) and the rollback could not be written either"
                .into(),
            running: false,
        },
    );
    // Its notice read and closed: the line under the table stays.
    s.popup = None;
    let line = screen_rows(&s, 80, 24)
        .into_iter()
        .find(|l| l.starts_with(" rollout payments-api:live"))
        .expect("a rollout line");
    let after_bar = line
        .split("rollout payments-api:live @ us-east-1")
        .nth(1)
        .unwrap_or_default();
    assert!(after_bar.starts_with(" ░░░░░░░░░░ halted "), "{line}");
    assert_eq!(line.matches("halted").count(), 1, "{line}");
    assert!(line.trim_end().ends_with("U resume · A abort"), "{line}");
}

/// A long function name gives way on the rollout line (cut in its middle): its state and keys
/// stay at 80 columns (`halted` and the keys went off the line).
#[test]
fn the_rollout_line_cuts_a_long_name_before_its_state() {
    let mut s = loaded();
    update(&mut s, Msg::Resize(80, 24));
    let name = "payments-settlement-reconciler-primary-with-a-long-suffix";
    let mut halted = rollout(name);
    halted.status = crate::ops::rollout::Status::Halted {
        reason: "guard tripped".into(),
    };
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(halted),
            event: "halted: guard tripped".into(),
            running: false,
        },
    );
    s.popup = None;
    let line = screen_rows(&s, 80, 24)
        .into_iter()
        .find(|l| l.starts_with(" rollout payments-"))
        .expect("a rollout line");
    assert!(line.contains("…"), "{line}");
    assert!(line.contains("fix:live @ us-east-1"), "{line}");
    assert!(line.contains(" halted"), "{line}");
    assert!(line.trim_end().ends_with("U resume · A abort"), "{line}");
}

/// Two rollouts: the line shows the selected row's (the one `A` and `U` act on), names its
/// region, and counts the other where it is never cut (it showed the first, the count cut off).
#[test]
fn the_rollout_line_shows_the_selected_rows_rollout_and_its_region() {
    let mut s = loaded();
    update(&mut s, Msg::Resize(80, 24));
    for f in ["api", "worker"] {
        update(
            &mut s,
            Msg::RolloutUpdate {
                region: 0,
                rollout: Box::new(rollout(f)),
                event: "step 1/2 (10% on v2) applied · running in lops pid 4388 on a-long-host"
                    .into(),
                running: true,
            },
        );
    }
    select(&mut s, 0, "worker");
    let line = screen_rows(&s, 80, 24)
        .into_iter()
        .find(|l| l.starts_with(" rollout "))
        .expect("a rollout line");
    assert!(
        line.starts_with(" rollout worker:live @ us-east-1 (+1 more) "),
        "{line}"
    );
    assert!(line.trim_end().ends_with("A abort"), "{line}");
}

/// A preview answered after another was asked is not shown (its confirmation would stand where
/// the one awaited is expected: a `y` meant for that one could answer it); the last one asked
/// is, and never over a confirmation already open.
#[test]
fn only_the_last_preview_asked_is_shown_and_never_over_an_open_confirmation() {
    let mut s = loaded();
    let answer = |ticket: u64, function: &str| Msg::Preview {
        ticket,
        msg: Box::new(planned_kill(function, Ok(plan(function, true)))),
    };
    assert!(update(&mut s, key('K')).iter().any(Effect::is_preview));
    // Hidden while it is read, then asked again (another preview: the second ticket).
    update(&mut s, code(KeyCode::Esc));
    assert!(s.popup.is_none());
    assert!(update(&mut s, key('K')).iter().any(Effect::is_preview));
    assert!(matches!(s.popup, Some(Popup::Working(_))), "{:?}", s.popup);
    // The first answer lands late: dropped, the popup still waits for the second.
    update(&mut s, answer(1, "first"));
    assert!(matches!(s.popup, Some(Popup::Working(_))), "{:?}", s.popup);
    update(&mut s, answer(2, "cron"));
    let target = |s: &State| match &s.popup {
        Some(Popup::Confirm(p)) => p.lines.join("\n"),
        other => panic!("no confirmation: {other:?}"),
    };
    assert!(target(&s).contains("cron"), "{}", target(&s));
    // An answer to a preview asked while this confirmation is open does not replace it.
    s.previews += 1;
    update(&mut s, answer(3, "first"));
    assert!(!target(&s).contains("first"), "{}", target(&s));
    // A notice that opened while the preview was read (its wait hidden) is not lost under the
    // confirmation: it shows once the confirmation closes.
    update(&mut s, code(KeyCode::Esc));
    assert!(update(&mut s, key('K')).iter().any(Effect::is_preview));
    update(&mut s, code(KeyCode::Esc));
    s.popup = Some(Popup::Notice(
        "rollout api:live in us-east-1 rolled back".into(),
    ));
    update(&mut s, answer(4, "cron"));
    assert!(target(&s).contains("cron"), "{}", target(&s));
    update(&mut s, code(KeyCode::Esc));
    assert!(
        matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("rolled back")),
        "{:?}",
        s.popup
    );
}

/// A batch's wait ("previewing … on N marked functions…") is a wait, not a notice: its
/// answer replaces it, and it is never shown again after the confirmation.
#[test]
fn a_batch_wait_is_replaced_by_its_answer_and_not_queued() {
    let mut s = loaded();
    select(&mut s, 0, "cron");
    update(&mut s, key(' '));
    select(&mut s, 0, "api");
    update(&mut s, key(' '));
    let effects = update(&mut s, key('K'));
    assert!(effects.iter().any(Effect::is_preview), "{effects:?}");
    assert!(
        matches!(&s.popup, Some(Popup::Working(w)) if w.contains("marked")),
        "{:?}",
        s.popup
    );
    let ticket = s.previews;
    update(
        &mut s,
        Msg::Preview {
            ticket,
            msg: Box::new(Msg::BatchPrepared(Err("nothing to kill".into()))),
        },
    );
    assert!(
        matches!(&s.popup, Some(Popup::Notice(n)) if n == "nothing to kill"),
        "{:?}",
        s.popup
    );
    update(&mut s, code(KeyCode::Esc));
    assert!(s.popup.is_none() && s.notices.is_empty(), "{:?}", s.popup);
}

/// `tab` (or `b` again) in a backup's confirmation widens it to every region with the function,
/// as the help says of every confirmation.
#[test]
fn tab_widens_a_backup_to_every_region_with_the_function() {
    let mut s = loaded();
    let to = crate::backup::S3Uri::parse("s3://acme-backups/lops").unwrap();
    s.backup_target = Some((to, "STANDARD".into()));
    select(&mut s, 0, "cron");
    update(&mut s, key('b'));
    // Only in us-east-1: nothing to widen to, and no hint offers it.
    assert!(matches!(&s.popup, Some(Popup::Confirm(p)) if !super::widens(&s, p)));
    update(&mut s, code(KeyCode::Esc));
    select(&mut s, 0, "api");
    update(&mut s, key('b'));
    assert!(matches!(&s.popup, Some(Popup::Confirm(p)) if super::widens(&s, p)));
    update(&mut s, code(KeyCode::Tab));
    let lines = match &s.popup {
        Some(Popup::Confirm(p)) => p.lines.join("\n"),
        other => panic!("no confirmation: {other:?}"),
    };
    assert!(
        lines.contains("api @ us-east-1") && lines.contains("api @ eu-west-1"),
        "{lines}"
    );
    let effects = update(&mut s, key('y'));
    let asked = effects.iter().any(|e| {
        matches!(e, Effect::Backup { targets, .. }
            if targets == &vec![(0, vec!["api".to_string()]), (1, vec!["api".to_string()])])
    });
    assert!(asked, "{effects:?}");
}

/// In a backup's typed confirmation (production), `b` is a letter of the name, not a widening.
#[test]
fn a_typed_backup_confirmation_takes_the_letter_b() {
    let mut s = loaded();
    set_access(&mut s, Access::new(Tier::Change, true));
    let to = crate::backup::S3Uri::parse("s3://acme-backups/lops").unwrap();
    s.backup_target = Some((to, "STANDARD".into()));
    select(&mut s, 0, "api");
    update(&mut s, key('b'));
    let typed = |s: &State| match &s.popup {
        Some(Popup::Confirm(p)) => (p.typed.clone(), p.lines.len()),
        other => panic!("no confirmation: {other:?}"),
    };
    if !matches!(&s.popup, Some(Popup::Confirm(p)) if matches!(p.confirmation, crate::ops::Confirmation::Typed(_)))
    {
        panic!("a production backup asks for the name: {:?}", s.popup);
    }
    update(&mut s, key('b'));
    assert_eq!(typed(&s), ("b".to_string(), 1));
}

/// A kill with nothing to do here (offered for tab, the function being elsewhere too) does not
/// warn that it stops the function.
#[test]
fn a_kill_with_nothing_to_do_here_warns_of_nothing() {
    let mut s = loaded();
    let mut nothing = plan("api", true);
    nothing.action = "kill";
    nothing.change = crate::ops::Change::Nothing;
    update(&mut s, planned_kill("api", Ok(nothing)));
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(p)) if p.warning.is_none()),
        "{:?}",
        s.popup
    );
}

/// The notice the dashboard shows for an invoke that came back as `out`.
fn invoked(out: crate::provider::InvokeOutcome) -> String {
    let mut s = loaded();
    let outcome = crate::ops::Outcome {
        after: serde_json::Value::Null,
        invoke: Some((out, None)),
        record: None,
    };
    update(
        &mut s,
        Msg::Executed {
            region: 0,
            result: Ok(outcome),
        },
    );
    match s.popup {
        Some(Popup::Notice(text)) => text,
        other => panic!("{other:?}"),
    }
}

/// What a function answered reaches the dashboard as text, as `lops invoke` prints it: its
/// escape sequences removed whole (not their tails), a line break shown, not obeyed.
#[test]
fn an_invoke_response_is_shown_as_text_never_as_commands() {
    let text = invoked(crate::provider::InvokeOutcome {
        status: 200,
        payload: b"\x1b]0;PWNED\x07\x1b[2Jplain \x1b[31mRED\x1b[0m\nnext\t\xff".to_vec(),
        ..Default::default()
    });
    let response = text
        .lines()
        .find(|l| l.starts_with("response "))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(response, "response plain RED⏎next �");
}

/// A resume confirmed here is this dashboard's to report (not "ended in another lops").
#[test]
fn a_resume_confirmed_here_is_reported_here() {
    let mut s = loaded();
    let saved = Msg::SavedRollouts(vec![(
        0,
        rollout("cron"),
        "interrupted: resume or abort".into(),
    )]);
    update(&mut s, saved);
    press_and_preview(&mut s, 'U');
    assert!(matches!(&s.popup, Some(Popup::Confirm(_))), "{:?}", s.popup);
    let effects = update(&mut s, key('y'));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::ResumeRollout { .. }))
    );
    assert!(s.rollouts.iter().all(|v| v.acted_here));
}

/// `i` invokes the selected row only: with marks, its prompt says the marks are not invoked
/// (it said nothing, and an engineer could think the marked functions were called too).
#[test]
fn the_invoke_prompt_says_marks_are_not_invoked() {
    let mut s = with_aliases();
    select(&mut s, 0, "api");
    update(&mut s, key('i'));
    let alone = super::actions::input_prompt(&s, s.input.as_ref().expect("payload input"));
    assert!(!alone.contains("marked"), "{alone}");
    update(&mut s, code(KeyCode::Esc));
    for name in ["api", "worker"] {
        select(&mut s, 0, name);
        update(&mut s, key(' '));
    }
    update(&mut s, key('i'));
    let prompt = super::actions::input_prompt(&s, s.input.as_ref().expect("payload input"));
    assert!(
        prompt.starts_with(" invoke ") && prompt.contains("this row only, not the 2 marked"),
        "{prompt}"
    );
    // A rollout (`C`) too acts on one alias: its prompt says so.
    update(&mut s, code(KeyCode::Esc));
    select(&mut s, 0, "api");
    update(&mut s, key('C'));
    if let Some(input @ Input::Preset(_)) = s.input.as_ref() {
        let prompt = super::actions::input_prompt(&s, input);
        assert!(
            prompt.contains("this row only, not the 2 marked"),
            "{prompt}"
        );
    } else {
        panic!(
            "expected the preset input, got {:?} / {:?}",
            s.input, s.popup
        );
    }
}

/// Marks a filter hides are acted on with the others: the confirmation says how many are
/// hidden (it counted them in its headline only).
#[test]
fn a_batch_confirmation_says_which_marks_the_filter_hides() {
    let mut s = with_aliases();
    for name in ["api", "worker"] {
        select(&mut s, 0, name);
        update(&mut s, key(' '));
    }
    s.filter = "api".into();
    s.rebuild_rows();
    let batch = crate::ops::batch::Batch {
        id: "B9".into(),
        action: "traffic.rollback".into(),
        items: ["api", "worker"]
            .iter()
            .map(|f| crate::ops::batch::Item::Ready {
                source: 0,
                plan: Box::new(rollback_plan(&scopes()[0], f)),
            })
            .collect(),
    };
    update(&mut s, Msg::BatchPrepared(Ok(batch)));
    let Some(Popup::Confirm(p)) = &s.popup else {
        panic!("no confirmation: {:?}", s.popup);
    };
    assert_eq!(
        p.lines[1], "1 of the marked functions are hidden by the filter 'api', and are targets too",
        "{:?}",
        p.lines
    );
}

/// A function with several aliases: its traffic keys act on the first on a published version
/// (an alias on $LATEST has nothing to shift), `a` picks the next and says which, the detail
/// marks it, and marks act on the same choice — a copy without the chosen alias is skipped,
/// never acted on through another alias.
#[test]
fn a_chooses_the_alias_the_traffic_keys_act_on() {
    let alias = |name: &str, version: &str| crate::provider::AliasInfo {
        name: name.into(),
        function_version: version.into(),
        additional_weights: Vec::new(),
        revision_id: None,
    };
    let mut s = with_aliases();
    for f in &mut s.regions[0].functions {
        if f.info.name == "api" {
            f.info.aliases.insert(0, alias("latest", "$LATEST"));
            f.info.aliases.push(alias("beta", "1"));
        }
    }
    let promoted = |effects: &[Effect]| {
        effects.iter().find_map(|e| match e {
            Effect::Prepare { request, .. } => match &**request {
                Request::Promote { alias, .. } => Some(alias.clone()),
                _ => None,
            },
            _ => None,
        })
    };
    select(&mut s, 0, "api");
    assert_eq!(promoted(&update(&mut s, key('P'))), Some("live".into()));
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('a'));
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("now act on api:beta (3 of 3: latest, live, beta)")
            && t.starts_with("t P B L C A U now act on")),
        "{:?}",
        s.popup
    );
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(promoted(&update(&mut s, key('P'))), Some("beta".into()));
    update(&mut s, code(KeyCode::Esc));
    // In the other region api has no beta: said, nothing asked there.
    select(&mut s, 1, "api");
    let effects = update(&mut s, key('P'));
    assert_eq!(promoted(&effects), None);
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("api has no alias 'beta' here")),
        "{:?}",
        s.popup
    );
    update(&mut s, code(KeyCode::Esc));
    // Marks: the same choice in every copy — the one whose last read lacks it is asked of the
    // core with it all the same (read fresh there: created since, it is found; missing, the
    // core skips it), never through another alias.
    update(&mut s, key(' '));
    select(&mut s, 0, "api");
    update(&mut s, key(' '));
    let targets = batch_targets(&update(&mut s, key('P')));
    assert_eq!(targets.len(), 2, "{targets:?}");
    assert!(
        targets.iter().all(|t| matches!(t, crate::ops::batch::Target::Ask(_, Request::Promote { alias, .. }) if alias == "beta")),
        "{targets:?}"
    );
    // A weight needs the version this copy's alias runs: not known without it, said.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, key('t'));
    for c in "0.1".chars() {
        update(&mut s, key(c));
    }
    let targets = batch_targets(&update(&mut s, code(KeyCode::Enter)));
    assert!(
        targets.iter().any(|t| matches!(t, crate::ops::batch::Target::Skip(1, _, e) if e.to_string().contains("was not there at the last read"))),
        "{targets:?}"
    );
    // Once round, back to the first.
    update(&mut s, code(KeyCode::Esc));
    update(&mut s, code(KeyCode::Esc));
    select(&mut s, 0, "api");
    update(&mut s, key('a'));
    assert_eq!(
        s.alias_choice.get("api").map(String::as_str),
        Some("latest")
    );
}

/// A rollout this dashboard was asked to resume but could not drive (another lops runs it) is
/// said whole in a notice, not only on its line above the footer (cut at 80 columns).
#[test]
fn a_rollout_not_driven_here_is_said_in_a_notice() {
    let mut s = loaded();
    let r = rollout("cron");
    update(
        &mut s,
        Msg::RolloutUpdate {
            region: 0,
            rollout: Box::new(r),
            event: format!(
                "{}refused: the rollout of cron:live is running in lops pid 4388 on h",
                crate::state::NOT_DRIVEN
            ),
            running: false,
        },
    );
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t == "rollout cron:live @ us-east-1: not driven here: refused: the rollout of cron:live is running in lops pid 4388 on h"),
        "{:?}",
        s.popup
    );
    assert_eq!(s.rollouts.len(), 1, "still offered to A and U");
}

/// A function that failed is said first as such (it ran: not lops failing), with the end of
/// its log tail, as `lops invoke` prints it.
#[test]
fn an_invoke_whose_function_failed_says_so_with_its_log_tail() {
    let tail = "START RequestId: r1\n[ERROR] KeyError: 'order'\nTraceback ...\nEND RequestId: r1\n";
    let text = invoked(crate::provider::InvokeOutcome {
        status: 200,
        function_error: Some("Unhandled".into()),
        payload: b"{\"errorMessage\": \"'order'\"}".to_vec(),
        log_tail: Some(tail.into()),
        ..Default::default()
    });
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.ends_with("the function failed (Unhandled)")),
        "{text}"
    );
    assert!(
        text.contains("log tail:\n") && text.contains("[ERROR] KeyError: 'order'"),
        "{text}"
    );
    // A tail of blank lines is not announced with nothing under it.
    let text = invoked(crate::provider::InvokeOutcome {
        status: 200,
        function_error: Some("Unhandled".into()),
        payload: b"{}".to_vec(),
        log_tail: Some("\n  \n".into()),
        ..Default::default()
    });
    assert!(!text.contains("log tail"), "{text}");
}

/// At 80x24 a failed invoke with a long answer and a long log tail keeps the tail's last line
/// (its error) and the headline: the middle gives way (the end was cut, the error with it).
#[test]
fn a_failed_invokes_notice_keeps_the_end_of_its_log_tail_at_80x24() {
    let mut tail: String = (0..30)
        .map(|i| format!("line {i} {}\n", "x".repeat(60)))
        .collect();
    tail.push_str("FINAL: KeyError boom\nEND RequestId: r1\n");
    let mut s = loaded();
    update(
        &mut s,
        Msg::Executed {
            region: 0,
            result: Ok(crate::ops::Outcome {
                after: serde_json::Value::Null,
                invoke: Some((
                    crate::provider::InvokeOutcome {
                        status: 200,
                        function_error: Some("Unhandled".into()),
                        payload: "y".repeat(590).into_bytes(),
                        log_tail: Some(tail),
                        ..Default::default()
                    },
                    None,
                )),
                record: None,
            }),
        },
    );
    let screen = screen_rows(&s, 80, 24).join("\n");
    assert!(
        screen.contains("the function failed (Unhandled)"),
        "{screen}"
    );
    assert!(screen.contains("FINAL: KeyError boom"), "{screen}");
    assert!(screen.contains("more line here"), "{screen}");
    assert!(screen.contains("enter"), "{screen}");
}

/// Rollouts on two aliases of one function: `A` and `U` act on the one its traffic keys act on
/// (`a` picks it), never on whichever comes first.
#[test]
fn abort_and_resume_act_on_the_chosen_aliases_rollout() {
    let mut s = with_aliases();
    for f in &mut s.regions[0].functions {
        if f.info.name == "api" {
            let mut beta = f.info.aliases[0].clone();
            beta.name = "beta".into();
            f.info.aliases.push(beta);
        }
    }
    let live = rollout("api");
    let mut beta = rollout("api");
    beta.alias = "beta".into();
    update(
        &mut s,
        Msg::SavedRollouts(vec![
            (0, beta, "interrupted: resume or abort".into()),
            (0, live, "interrupted: resume or abort".into()),
        ]),
    );
    select(&mut s, 0, "api");
    let previewed = |s: &mut State| {
        let effects = update(s, key('A'));
        let target = effects.iter().find_map(|e| match e {
            Effect::PreviewRollout { rollout, .. } => Some(rollout.target()),
            _ => None,
        });
        update(s, code(KeyCode::Esc));
        target
    };
    // The rollout line shows the one the keys act on.
    let line = |s: &State| {
        screen_rows(s, 100, 30)
            .into_iter()
            .find(|l| l.starts_with(" rollout "))
            .unwrap_or_default()
    };
    assert_eq!(previewed(&mut s), Some("api:live".into()));
    assert!(line(&s).starts_with(" rollout api:live "), "{}", line(&s));
    update(&mut s, key('a'));
    update(&mut s, code(KeyCode::Esc));
    assert_eq!(previewed(&mut s), Some("api:beta".into()));
    assert!(line(&s).starts_with(" rollout api:beta "), "{}", line(&s));
}

/// The help lists the services view and its levers only where a service is configured (the
/// header leaves its tab out alike).
#[test]
fn help_lists_the_services_keys_only_with_a_service() {
    let mut s = loaded();
    let has = |s: &State, what: &str| {
        super::help::help_entries(s)
            .iter()
            .any(|(_, d)| d.contains(what))
    };
    assert!(!has(&s, "Route 53 weights") && !has(&s, "drain the selected region"));
    assert!(has(&s, "invoke"));
    s.services.services.push(crate::config::ServiceSettings {
        name: "checkout".into(),
        zone: "Z1".into(),
        record: "api.example.com".into(),
        kind: "CNAME".into(),
        profile: None,
        regions: Default::default(),
        functions: Default::default(),
    });
    assert!(has(&s, "Route 53 weights") && has(&s, "drain the selected region"));
}

/// A rollout's event closes its own wait, never another (a batch's preview being read): keys
/// typed ahead must not act on the screen underneath.
#[test]
fn a_rollout_event_closes_only_its_own_wait() {
    let mut s = loaded();
    let event = |s: &mut State| {
        update(
            s,
            Msg::RolloutUpdate {
                region: 0,
                rollout: Box::new(rollout("cron")),
                event: "step 1/2 applied".into(),
                running: true,
            },
        );
    };
    s.popup = Some(Popup::Working(
        "previewing kill on 3 marked function(s)…".into(),
    ));
    event(&mut s);
    assert!(
        matches!(&s.popup, Some(Popup::Working(t)) if t.contains("previewing kill")),
        "{:?}",
        s.popup
    );
    s.popup = Some(Popup::Working(
        "rollout cron:live @ default/us-east-1: now v1 100%".into(),
    ));
    event(&mut s);
    assert!(s.popup.is_none(), "{:?}", s.popup);
}

/// An invoke in a batch whose function failed is marked failed on its row (✗, as the summary
/// counts it and the CLI says it), not ✓ with the error after it — also without colour.
#[test]
fn a_failed_invoke_in_a_batch_is_marked_failed() {
    let mut s = loaded();
    let batch = crate::ops::batch::Batch {
        id: "B1".into(),
        action: "invoke".into(),
        items: scopes()
            .iter()
            .enumerate()
            .map(|(i, sc)| crate::ops::batch::Item::Ready {
                source: i,
                plan: Box::new(rollback_plan(sc, "api")),
            })
            .collect(),
    };
    update(&mut s, Msg::BatchPrepared(Ok(batch)));
    update(&mut s, key('y'));
    for (i, error) in [(0, None), (1, Some("Handled"))] {
        let outcome = crate::ops::Outcome {
            after: serde_json::Value::Null,
            invoke: Some((
                crate::provider::InvokeOutcome {
                    status: 200,
                    function_error: error.map(str::to_string),
                    ..Default::default()
                },
                None,
            )),
            record: None,
        };
        update(
            &mut s,
            Msg::BatchLanded {
                batch: "B1".into(),
                landed: (i, Ok(outcome)),
            },
        );
    }
    let rows = screen_rows(&s, 100, 30);
    let row = |region: &str| {
        rows.iter()
            .find(|l| l.contains(&format!("in {region}:")))
            .cloned()
            .unwrap_or_else(|| panic!("no {region} row: {rows:#?}"))
    };
    let (good, bad) = (row(&scopes()[0].region), row(&scopes()[1].region));
    assert!(good.contains("✓ ") && !good.contains('✗'), "{good}");
    assert!(bad.contains("✗ ") && !bad.contains('✓'), "{bad}");
}

/// A read that never answered (metrics timing out from the start) keeps its region's age
/// growing while other reads answer: it was shown as a few seconds old, starting again at each
/// answer of the alarms.
#[test]
fn a_read_that_never_answered_is_as_old_as_its_failing() {
    let mut s = State::new(scopes(), Keymap::default(), ScreenOptions::default(), t0());
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: t0(),
            result: Ok(Inventory {
                functions: vec![info("api", "web")],
                ..Default::default()
            }),
        },
    );
    update(
        &mut s,
        Msg::Metrics {
            region: 0,
            seq: 1,
            at: t0() + TimeDelta::seconds(10),
            result: Err(ProviderError::Timeout(60.0)),
        },
    );
    let later = t0() + TimeDelta::seconds(200);
    update(
        &mut s,
        Msg::Alarms {
            region: 0,
            seq: 7,
            at: later,
            result: Ok(Vec::new()),
        },
    );
    match s.regions[0].health(later, s.stale_after_secs()) {
        RegionHealth::Stale { age_secs, .. } => assert!(age_secs >= 190, "{age_secs}"),
        other => panic!("{other:?}"),
    }
}

/// The dashboard drawn at `width` x `height` without colour, row by row.
fn screen_rows(s: &State, width: u16, height: u16) -> Vec<String> {
    let theme = crate::ui::theme::Theme {
        color: false,
        ascii: false,
    };
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(width, height))
        .expect("terminal");
    terminal
        .draw(|frame| crate::ui::render(s, &theme, frame))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

/// GetFunction (and ListAliases) failing in a later read: what the earlier one returned is not
/// shown as what is there now — not read, as `lops status` says it (the row kept the old
/// reservation with no `?r`, the detail view said "no tags").
#[test]
fn a_details_read_that_fails_later_leaves_them_not_read() {
    let mut s = loaded();
    let listed = |seq: u64, info: FunctionInfo| Msg::Inventory {
        region: 0,
        seq,
        at: t0(),
        result: Ok(Inventory {
            functions: vec![info],
            ..Default::default()
        }),
    };
    let mut read = info("api", "web");
    read.reserved_concurrency = Some(25);
    update(&mut s, listed(2, read));
    let mut failed = FunctionInfo {
        name: "api".into(),
        state: "Active".into(),
        detail_error: Some(
            "details: GetFunction access denied; aliases: ListAliases HTTP 503".into(),
        ),
        ..Default::default()
    };
    failed.not_read.details = true;
    failed.not_read.aliases = true;
    update(&mut s, listed(3, failed));
    let f = &s.regions[0].functions[0].info;
    assert!(f.not_read.details && f.not_read.aliases, "{f:?}");
    assert_eq!(f.reserved_concurrency, None);
    assert!(f.tags.is_empty());
    // A listing still filling in (no failure) keeps what was read before.
    let mut again = info("api", "web");
    again.reserved_concurrency = Some(25);
    update(&mut s, listed(4, again));
    let mut filling = FunctionInfo {
        name: "api".into(),
        state: "Active".into(),
        ..Default::default()
    };
    filling.not_read.details = true;
    update(&mut s, listed(5, filling));
    let f = &s.regions[0].functions[0].info;
    assert_eq!(f.reserved_concurrency, Some(25));
}

/// A metrics read that read no number, only an alias's split: the read failed, and the age
/// said is that of the numbers shown (read 5 minutes before), not of the split just read
/// (it said "stale 2s" over numbers minutes old).
#[test]
fn a_metrics_read_of_only_the_split_does_not_make_old_numbers_look_young() {
    let mut s = loaded();
    let whole = |seq, at| Msg::Metrics {
        region: 0,
        seq,
        at,
        result: Ok(MetricsSnapshot {
            functions: [("api".to_string(), metrics(1.0, 0.0))].into(),
            ..Default::default()
        }),
    };
    update(&mut s, whole(2, t0()));
    let later = t0() + chrono::TimeDelta::minutes(5);
    update(
        &mut s,
        Msg::Metrics {
            region: 0,
            seq: 3,
            at: later,
            result: Ok(MetricsSnapshot {
                partly_read: [("api".to_string(), metrics(0.0, 0.0))].into(),
                incomplete: Some(
                    "1 of 1 functions' numbers missing: GetMetricData HTTP 503".into(),
                ),
                numbers_missing: true,
                ..Default::default()
            }),
        },
    );
    let r = &s.regions[0];
    assert!(r.read_failing(Read::Metrics));
    assert_eq!(r.reads[1].last_ok, Some(t0()), "{:?}", r.reads);
    match r.health(later, 30) {
        crate::state::RegionHealth::Stale { age_secs, .. } => assert_eq!(age_secs, 300),
        other => panic!("{other:?}"),
    }
}

/// A metrics read that answered in part: some numbers not read leaves the region's rows in
/// doubt (their last numbers, stale), as `lops status` calls it partial; only an alias's split
/// or the percentiles not read is said in the regions view, the numbers read fresh.
#[test]
fn a_partial_metrics_read_is_stale_only_when_numbers_are_missing() {
    for (numbers_missing, in_doubt) in [(true, true), (false, false)] {
        let mut s = loaded();
        update(
            &mut s,
            Msg::Metrics {
                region: 0,
                seq: 2,
                at: t0(),
                result: Ok(MetricsSnapshot {
                    functions: [("api".to_string(), metrics(1.0, 0.0))].into(),
                    incomplete: Some("some of it not read".into()),
                    numbers_missing,
                    ..Default::default()
                }),
            },
        );
        let r = &s.regions[0];
        assert_eq!(r.read_failing(Read::Metrics), in_doubt, "{numbers_missing}");
        assert_eq!(r.metrics_partial.is_some(), !in_doubt, "{numbers_missing}");
    }
}

/// Two long names that differ only at their end are told apart in the detail view at 80x24:
/// its title bar and its box title cut them in the middle (both showed the same start only).
#[test]
fn the_detail_view_tells_apart_long_names_that_differ_at_their_end() {
    let mut s = loaded();
    let names = [
        "customer-notifications-dispatcher-v2-primary",
        "customer-notifications-dispatcher-v2-replica",
    ];
    update(
        &mut s,
        Msg::Inventory {
            region: 0,
            seq: 2,
            at: t0(),
            result: Ok(Inventory {
                functions: names.iter().map(|n| info(n, "web")).collect(),
                account_concurrency_limit: Some(1000),
                ..Default::default()
            }),
        },
    );
    for (name, end) in names.iter().zip(["v2-primary", "v2-replica"]) {
        s.view = View::Detail {
            region: 0,
            function: (*name).into(),
        };
        let rows = screen_rows(&s, 80, 24);
        let bar = rows[0].matches(end).count();
        let title = rows[1].matches(end).count();
        assert_eq!((bar, title), (1, 1), "{}", rows.join("\n"));
    }
}

/// A metrics read that read some functions' numbers and not others' (a group that answered
/// while another's failed): the numbers kept are as old as the last read that had them all,
/// and the age says so — the functions that answered do not make them look young (it said
/// "stale 3s" over numbers minutes old).
#[test]
fn a_metrics_read_missing_some_numbers_keeps_the_age_of_the_last_whole_one() {
    let mut s = loaded();
    update(
        &mut s,
        Msg::Metrics {
            region: 0,
            seq: 2,
            at: t0(),
            result: Ok(MetricsSnapshot {
                functions: [
                    ("api".to_string(), metrics(1.0, 0.0)),
                    ("worker".to_string(), metrics(1.0, 0.0)),
                ]
                .into(),
                ..Default::default()
            }),
        },
    );
    for (seq, minutes) in [(3, 2), (4, 3)] {
        let later = t0() + chrono::TimeDelta::minutes(minutes);
        update(
            &mut s,
            Msg::Metrics {
                region: 0,
                seq,
                at: later,
                result: Ok(MetricsSnapshot {
                    functions: [("api".to_string(), metrics(2.0, 0.0))].into(),
                    incomplete: Some("the numbers of 1 function not read since 12:00:30Z".into()),
                    numbers_missing: true,
                    ..Default::default()
                }),
            },
        );
        match s.regions[0].health(later, 30) {
            crate::state::RegionHealth::Stale { age_secs, .. } => {
                assert_eq!(age_secs, 60 * minutes as u64)
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A split read while the numbers fail, before any number was read, is kept apart (`partly`):
/// a later read whose split fails too says it as last read (not fresh), and the first read
/// with numbers but no split keeps it as last read (it dropped it).
#[test]
fn a_split_read_alone_is_said_as_last_read_until_read_again() {
    let mut s = loaded();
    // No number of it read yet.
    for f in &mut s.regions[0].functions {
        f.metrics = None;
    }
    let split = |n: f64| {
        let mut m = FunctionMetrics::default();
        let mut v = crate::provider::VersionInvocations {
            alias: "live".into(),
            version: "2".into(),
            invocations: crate::provider::empty_series(),
        };
        v.invocations.set(59, n);
        m.alias_versions = vec![v];
        m
    };
    let partial = |seq, m: FunctionMetrics| Msg::Metrics {
        region: 0,
        seq,
        at: t0(),
        result: Ok(MetricsSnapshot {
            partly_read: [("api".to_string(), m)].into(),
            incomplete: Some("1 of 1 functions' numbers missing: HTTP 503".into()),
            numbers_missing: true,
            ..Default::default()
        }),
    };
    update(&mut s, partial(2, split(7.0)));
    let api = |s: &State| s.regions[0].function("api").cloned().expect("api");
    assert!(api(&s).metrics.is_none());
    let kept = api(&s).split_read().cloned().expect("the split read");
    assert!(!kept.split_unread);
    assert_eq!(kept.alias_versions.len(), 1);
    // Its split not read this time (only the percentiles answered): said as last read.
    let mut unread = FunctionMetrics {
        split_unread: true,
        ..Default::default()
    };
    unread.percentiles.insert(
        MetricWindow::M5,
        crate::provider::Percentiles {
            p50: Some(1.0),
            p99: Some(2.0),
        },
    );
    update(&mut s, partial(3, unread));
    let said = api(&s).split_read().cloned().expect("still shown");
    assert!(
        said.split_unread && said.alias_versions.len() == 1,
        "{said:?}"
    );
    // Numbers at last, the split's request failing: the split last read stays.
    let mut numbers = metrics(5.0, 0.0);
    numbers.split_unread = true;
    update(
        &mut s,
        Msg::Metrics {
            region: 0,
            seq: 4,
            at: t0(),
            result: Ok(MetricsSnapshot {
                functions: [("api".to_string(), numbers)].into(),
                ..Default::default()
            }),
        },
    );
    let f = api(&s);
    let m = f.metrics.as_ref().expect("numbers read");
    assert!(m.split_unread && m.alias_versions.len() == 1, "{m:?}");
    assert!(f.partly.is_none());
}

/// A metrics read that left some functions' numbers out: those it read are current (their
/// rows and detail not in doubt), the others' are not — every row of the region was `▲` and
/// every detail view said "as last read (stale)", the function read a moment ago included.
#[test]
fn a_function_read_while_others_were_not_is_current() {
    let mut s = loaded();
    let later = t0() + chrono::TimeDelta::minutes(1);
    update(
        &mut s,
        Msg::Metrics {
            region: 0,
            seq: 5,
            at: later,
            result: Ok(MetricsSnapshot {
                functions: [("api".to_string(), metrics(3.0, 0.0))].into(),
                incomplete: Some("the numbers of 2 functions not read: GetMetricData".into()),
                numbers_missing: true,
                ..Default::default()
            }),
        },
    );
    let r = &s.regions[0];
    assert!(r.read_failing(Read::Metrics));
    let current = |name: &str| r.numbers_current(r.function(name).expect("listed"));
    assert!(current("api"));
    assert!(!current("worker") && !current("cron"));
    // Another read failing too (the alarms): no row is vouched for.
    let mut s2 = s.clone();
    s2.regions[0].reads[Read::Alarms as usize].error = Some(("alarms: x".into(), later));
    let r2 = &s2.regions[0];
    assert!(!r2.numbers_current(r2.function("api").expect("listed")));
    // The next read fails whole (or leaves api out): api's numbers are not vouched for any
    // more, though read after the failure began.
    for result in [
        Err(crate::provider::ProviderError::Timeout(8.0)),
        Ok(MetricsSnapshot {
            functions: [("worker".to_string(), metrics(3.0, 0.0))].into(),
            incomplete: Some("the numbers of 2 functions not read".into()),
            numbers_missing: true,
            ..Default::default()
        }),
    ] {
        let mut s3 = s.clone();
        let seq = s3.regions[0].metrics_seq + 1;
        update(
            &mut s3,
            Msg::Metrics {
                region: 0,
                seq,
                at: later + chrono::TimeDelta::minutes(1),
                result,
            },
        );
        let r3 = &s3.regions[0];
        assert!(!r3.numbers_current(r3.function("api").expect("listed")));
    }
}
