use super::*;

#[test]
fn presets_follow_codedeploy() {
    let c = preset("Canary10Percent5Minutes").unwrap();
    assert_eq!(
        c,
        vec![
            Step {
                weight: 0.1,
                hold_secs: 300
            },
            Step {
                weight: 1.0,
                hold_secs: 0
            }
        ]
    );
    let l = preset("Linear10PercentEvery1Minute").unwrap();
    assert_eq!(l.len(), 10);
    assert_eq!(
        l[0],
        Step {
            weight: 0.1,
            hold_secs: 60
        }
    );
    assert_eq!(preset("AllAtOnce").unwrap().len(), 1);
    assert!(preset("Canary99").is_none());
    assert!(PRESETS.iter().all(|p| preset(p).is_some()));
}

#[test]
fn custom_steps_parse_and_end_at_full_traffic() {
    let s = parse_steps("10:30s,50:2m").unwrap();
    assert_eq!(
        s,
        vec![
            Step {
                weight: 0.1,
                hold_secs: 30
            },
            Step {
                weight: 0.5,
                hold_secs: 120
            },
            Step {
                weight: 1.0,
                hold_secs: 0
            }
        ]
    );
    assert!(parse_steps("50:1m,10:1m").unwrap_err().contains("rise"));
    // The decimal typed, not a division's rounding.
    assert_eq!(parse_steps("14.3:1m").unwrap()[0].weight, 0.143);
    assert!(parse_steps("170").is_err());
    assert!(parse_steps("10").unwrap_err().contains("how long to hold"));
    assert!(
        parse_steps("10:0s")
            .unwrap_err()
            .contains("how long to hold")
    );
    assert_eq!(parse_steps("10:1d,100:30m").unwrap()[0].hold_secs, 86_400);
    assert_eq!(parse_steps("10:1m,100:30m").unwrap()[1].hold_secs, 1_800);
    assert!(
        parse_steps("10:soon")
            .unwrap_err()
            .contains("not a duration")
    );
    for typo in ["1e1:5m", "inf:5m", "1.2.3:5m", ":5m"] {
        assert!(parse_steps(typo).is_err(), "{typo}");
    }
    assert!(parse_steps("0.01%:1s").unwrap_err().contains("0.1"));
    // A step under 1 without its % is a fraction mistaken for a percentage (or not): asked.
    let e = parse_steps("0.1:5m,0.5:10m").unwrap_err();
    assert!(
        e.contains("write 0.1%:5m to mean it, or 10:5m for 10%"),
        "{e}"
    );
    assert_eq!(parse_steps("0.5%:5m").unwrap()[0].weight, 0.005);
    // Below 0.1 % as written, only the reading that can run is offered.
    let e = parse_steps("0.05:5m").unwrap_err();
    assert!(e.ends_with("— 5:5m for 5%"), "{e}");
    assert_eq!(parse_steps("12.5%:90s").unwrap()[0].weight, 0.125);
    // Holds are previewed as they will run, not rounded.
    for (secs, shown) in [
        (90, "1m30s"),
        (3_599, "59m59s"),
        (3_660, "1h1m"),
        (60, "1m"),
    ] {
        assert_eq!(crate::format::span(secs), shown);
    }
}

#[test]
fn the_next_version_is_never_older_than_the_main_one() {
    let alias = |main: &str, extra: Option<(&str, f64)>| AliasInfo {
        name: "live".into(),
        function_version: main.into(),
        additional_weights: extra.map(|(v, w)| (v.to_string(), w)).into_iter().collect(),
        revision_id: None,
    };
    let published = ["1".to_string(), "2".into(), "10".into()];
    assert_eq!(next_version(&alias("2", None), &published), Ok("10".into()));
    assert_eq!(
        next_version(&alias("1", Some(("2", 0.3))), &published),
        Ok("2".into())
    );
    let e = next_version(&alias("10", None), &published).unwrap_err();
    assert!(e.contains("no version newer than v10"), "{e}");
}

/// A running rollout of f:live in default/us-east-1, at its second step of one.
pub(crate) fn sample() -> Rollout {
    Rollout {
        profile: "default".into(),
        account: None,
        region: "us-east-1".into(),
        function: "f".into(),
        alias: "live".into(),
        from: "1".into(),
        start_extra: None,
        owner: None,
        heartbeat: None,
        abort_requested: false,
        abort_previewed: None,
        last_written: None,
        production_elsewhere: false,
        to: "2".into(),
        steps: parse_steps("10:1m").unwrap(),
        guard: Guard {
            max_error_rate: Some(0.05),
            alarms: vec![],
            interval_secs: 10,
            trip_on_read_error: true,
        },
        step: 1,
        status: Status::Running,
        updated: drive::now(),
    }
}

#[test]
fn plans_are_saved_whole_and_listed_while_running() {
    let dir = std::env::temp_dir().join(format!("lops-plans-{}", std::process::id()));
    let store = RolloutStore::at(&dir);
    let mut r = sample();
    store.save(&r).unwrap();
    assert_eq!(store.running(), vec![r.clone()]);
    // Halted before it wrote its step (the last write was the one before): said so.
    let mut halted = r.clone();
    halted.steps = parse_steps("10:1m,50:1m").unwrap();
    halted.last_written = Some(Routing {
        main: "1".into(),
        extra: Some(("2".into(), 0.1)),
    });
    halted.status = Status::Halted {
        reason: "someone else changed it".into(),
    };
    assert_eq!(halted.progress(), "before step 2/3 (50% on v2)");
    halted.last_written = Some(Routing {
        main: "1".into(),
        extra: Some(("2".into(), 0.5)),
    });
    assert_eq!(halted.progress(), "step 2/3 (50% on v2)");
    r.status = Status::Done;
    store.save(&r).unwrap();
    assert!(store.running().is_empty());
    let scope = Scope::new("default", "us-east-1", crate::config::Access::default());
    assert_eq!(
        store.load(&scope, "f", "live").map(|x| x.status),
        Some(Status::Done)
    );
    let _ = std::fs::remove_dir_all(dir);
    // A second version that is not the target loses its share: the preview says so.
    r.start_extra = Some(("3".into(), 0.2));
    assert!(
        r.preview()
            .contains("; v3's 20% goes back to v1 at the first step"),
        "{}",
        r.preview()
    );
    r.start_extra = Some(("2".into(), 0.05));
    assert!(!r.preview().contains("goes back"), "{}", r.preview());
}

/// A lops stopped (SIGSTOP) while another aborted its rollout, then continued and told to stop
/// (SIGHUP): it sees the other's abort first and writes nothing, not "interrupted".
#[test]
fn a_woken_owner_asked_to_stop_leaves_a_rollout_another_took_over() {
    let dir = std::env::temp_dir().join(format!("lops-woken-{}", std::process::id()));
    let store = RolloutStore::at(&dir);
    let mine = Rollout {
        owner: Some(super::store::Owner::me()),
        heartbeat: Some(drive::now()),
        step: 0,
        ..sample()
    };
    let mut theirs = mine.clone();
    theirs.owner = Some(super::store::Owner {
        pid: 1,
        host: "elsewhere".into(),
        ..super::store::Owner::me()
    });
    theirs.status = Status::Aborted;
    store.save(&theirs).unwrap();
    super::interrupt_in(&store);
    assert!(
        matches!(drive::control(&store, &mine), drive::Control::Gone(r) if r.status == Status::Aborted),
        "taken over, whatever this process was asked"
    );
    // Still its own: the stop is obeyed.
    store.save(&mine).unwrap();
    assert!(matches!(
        drive::control(&store, &mine),
        drive::Control::Interrupted
    ));
    let _ = std::fs::remove_dir_all(dir);
}

/// A resume says where it goes on from: "at step …", or "before step …" (not "at before step")
/// for one halted before it wrote the step it is on.
#[test]
fn a_resume_preview_says_at_or_before_its_step() {
    let mut r = sample();
    r.step = 0;
    let now = r.expected_routing();
    assert!(
        r.resume_preview(&now).contains(" at step 1/2 (10% on v2)"),
        "{}",
        r.resume_preview(&now)
    );
    r.status = Status::Halted {
        reason: "someone else changed it".into(),
    };
    let text = r.resume_preview(&now);
    assert!(
        text.contains(" before step 1/2 (10% on v2)") && !text.contains("at before"),
        "{text}"
    );
}

/// A demo function whose `live` alias splits its traffic, with its region and that routing.
async fn split_alias() -> (crate::provider::sim::SimRegion, String, Routing) {
    use crate::provider::RegionActions;
    use crate::provider::function::FunctionReads;
    let clock = crate::provider::sim::SimClock::fixed(chrono::Utc::now());
    for region in crate::provider::sim::demo_regions(7, &clock, crate::config::Access::default()) {
        for f in region.function_names().await.unwrap_or_default() {
            if let Ok(a) = region.alias(&f, "live").await
                && !a.additional_weights.is_empty()
            {
                return (region, f, Routing::of(&a));
            }
        }
    }
    panic!("the demo fleet has a split alias");
}

/// A store and audit log in a fresh directory, a demo function whose `live` alias splits its
/// traffic, and a rollout of it (`sample`'s) from its main version to its second, last written
/// as the alias is, as `edit` leaves it, saved.
struct Split {
    dir: std::path::PathBuf,
    store: RolloutStore,
    audit: crate::ops::audit::AuditLog,
    region: crate::provider::sim::SimRegion,
    f: String,
    split: Routing,
    rollout: Rollout,
}

async fn saved_split(name: &str, edit: impl FnOnce(&mut Rollout)) -> Split {
    use crate::provider::RegionSource;
    let dir = std::env::temp_dir().join(format!("lops-{name}-{}", std::process::id()));
    let store = RolloutStore::at(&dir);
    let audit = crate::ops::audit::AuditLog::at(dir.join("audit.jsonl"));
    let (region, f, split) = split_alias().await;
    let (to, _) = split.extra.clone().expect("split");
    let mut rollout = Rollout {
        region: region.scope().region.clone(),
        function: f.clone(),
        from: split.main.clone(),
        to,
        last_written: Some(split.clone()),
        ..sample()
    };
    edit(&mut rollout);
    store.save(&rollout).unwrap();
    Split {
        dir,
        store,
        audit,
        region,
        f,
        split,
        rollout,
    }
}

/// The lops running a rollout halts for a reason of its own (its function killed, its guard's
/// rollback failed) while an abort confirmed on a preview waits for it: the abort takes the
/// rollout over and returns the alias — it was refused as "changed since the preview" (exit 4)
/// although the alias was as previewed, leaving traffic on the new version.
#[tokio::test]
async fn an_abort_takes_over_a_rollout_its_owner_halted_for_another_reason() {
    use crate::provider::RegionActions;
    let Split {
        dir,
        store,
        audit,
        region,
        f,
        split,
        rollout: r,
    } = saved_split("halted", |r| {
        r.owner = Some(super::store::Owner::me());
        r.heartbeat = Some(drive::now());
    })
    .await;
    // The owner: once asked, it halts for its own reason instead of rolling back.
    let owner = {
        let (store, r) = (store.clone(), r.clone());
        tokio::spawn(async move {
            loop {
                if let Some(mut saved) = store.reload(&r)
                    && saved.abort_requested
                {
                    saved.status = Status::Halted {
                        reason: format!("{} was killed (reserved concurrency 0)", r.function),
                    };
                    store.save(&saved).unwrap();
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    let done = abort(
        &region,
        &store,
        &f,
        "live",
        Some(&audit),
        std::time::Duration::from_secs(10),
        Some(&split),
    )
    .await;
    owner.await.unwrap();
    let done = done.expect("taken over and rolled back");
    assert_eq!(done.rollout.status, Status::Aborted);
    assert!(!done.by_owner, "{}", done.describe());
    let now = Routing::of(&region.alias(&f, "live").await.unwrap());
    assert_eq!(
        now,
        Routing {
            main: split.main.clone(),
            extra: None
        }
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Two aborts asked of one running rollout on previews that differ (the alias changed between
/// them): its owner compares with the first, so the second is refused at once, nothing written
/// by it — it was carried out (or refused) on a preview it was never confirmed on.
#[tokio::test]
async fn a_second_abort_asked_on_another_preview_is_refused() {
    use crate::provider::RegionActions;
    let mut first = None;
    let Split {
        dir,
        store,
        audit,
        region,
        f,
        split,
        rollout: r,
    } = saved_split("twoasks", |r| {
        let asked = Routing {
            main: r.from.clone(),
            extra: Some((r.to.clone(), 0.3)),
        };
        r.owner = Some(super::store::Owner::me());
        r.heartbeat = Some(drive::now());
        r.abort_requested = true;
        r.abort_previewed = Some(asked.clone());
        first = Some(asked);
    })
    .await;
    let first = first.expect("asked");
    let refused = abort(
        &region,
        &store,
        &f,
        "live",
        Some(&audit),
        std::time::Duration::from_secs(10),
        Some(&split),
    )
    .await
    .expect_err("refused");
    let text = refused.to_string();
    assert!(
        matches!(refused, crate::ops::OpsError::Conflict(_))
            && text.contains(&first.describe())
            && text.contains("Nothing was written by this abort"),
        "{text}"
    );
    // Still the owner's to carry out on the first preview; the alias untouched.
    assert_eq!(
        store.reload(&r).and_then(|s| s.abort_previewed),
        Some(first)
    );
    assert_eq!(Routing::of(&region.alias(&f, "live").await.unwrap()), split);
    let _ = std::fs::remove_dir_all(dir);
}

/// An abort confirmed while the rollout ran, whose guard rolled it back before the `y`: what
/// was asked is done, said as such with the alias now (it was "no running rollout", exit 2).
#[tokio::test]
async fn an_abort_after_the_guard_rolled_back_says_so() {
    let Split {
        dir,
        store,
        audit,
        region,
        f,
        split,
        ..
    } = saved_split("guardfirst", |r| {
        r.status = Status::RolledBack {
            reason: "guard tripped: error rate 9%".into(),
        };
    })
    .await;
    let done = abort(
        &region,
        &store,
        &f,
        "live",
        Some(&audit),
        std::time::Duration::from_secs(1),
        Some(&split),
    )
    .await
    .expect("said as done");
    assert!(
        done.describe()
            .contains("its guard had rolled it back: guard tripped"),
        "{}",
        done.describe()
    );
    assert_eq!(done.now, split);
    let _ = std::fs::remove_dir_all(dir);
}

/// Two starts of one alias under two profile names of one account: the second is refused as
/// it is saved (both started when they began at once, each having looked before the other
/// saved); another account's alias of the same name is its own.
#[test]
fn a_start_under_another_profile_of_the_account_is_refused_as_it_is_saved() {
    let dir = std::env::temp_dir().join(format!("lops-twostarts-{}", std::process::id()));
    let store = RolloutStore::at(&dir);
    let mut first = sample();
    first.account = Some("111111111111".into());
    store.create(&first).expect("the first starts");
    let mut second = sample();
    second.profile = "ops".into();
    second.account = first.account.clone();
    let refused = store.create(&second).expect_err("the same alias");
    assert_eq!(refused.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(
        refused.to_string().contains("under profile default"),
        "{refused}"
    );
    let mut elsewhere = second.clone();
    elsewhere.profile = "other".into();
    elsewhere.account = Some("222222222222".into());
    store.create(&elsewhere).expect("another account's alias");
    let _ = std::fs::remove_dir_all(dir);
}

/// A rollout started with the typed name another profile of its account asked (production)
/// writes its steps' records as typed, as one under that profile's own does (they said typed
/// false: the audit read as if no one had typed anything).
#[tokio::test]
async fn a_rollouts_write_asked_typed_through_another_profile_is_recorded_typed() {
    let Split {
        dir,
        audit,
        region,
        f,
        split,
        ..
    } = saved_split("typedstep", |_| {}).await;
    let (to, _) = split.extra.clone().expect("split");
    for (elsewhere, weight) in [(false, 0.3), (true, 0.4)] {
        let request = crate::ops::Request::SetWeight {
            function: f.clone(),
            alias: "live".into(),
            version: to.clone(),
            weight,
        };
        drive::act_over(
            &region,
            Some(&audit),
            request,
            None,
            "rollout".into(),
            elsewhere,
        )
        .await
        .expect("written");
        let (records, _) = audit.read().expect("audit");
        let last = records.last().expect("a record");
        assert_eq!(last.typed, elsewhere, "{last:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
