use super::*;
use crate::config::{Access, Tier};
use crate::ops::service::Member;
use crate::provider::dns::{DnsRecord, Health};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn settings() -> ServiceSettings {
    ServiceSettings {
        name: "checkout".into(),
        zone: "Z1".into(),
        record: "api.example.com".into(),
        kind: "CNAME".into(),
        profile: Some("prod".into()),
        regions: std::collections::BTreeMap::new(),
        functions: std::collections::BTreeMap::new(),
    }
}

fn member(id: &str, region: &str, weight: i64) -> Member {
    Member {
        region: Some(region.into()),
        record: DnsRecord {
            name: "api.example.com".into(),
            kind: "CNAME".into(),
            set_id: Some(id.into()),
            weight: Some(weight),
            failover: None,
            region: None,
            ttl: Some(60),
            values: vec![format!("x.execute-api.{region}.amazonaws.com")],
            alias: None,
            health_check: Some(format!("hc-{id}")),
            other_routing: None,
        },
        health: Health::Healthy,
    }
}

/// Two scopes: `dev` first, then `prod`, which the service names as its profile.
fn state(prod: Tier) -> State {
    let scopes = vec![
        Scope::new("dev", "us-east-1", Access::new(Tier::Change, false)),
        Scope::new("prod", "us-east-1", Access::new(prod, true)),
    ];
    let mut s = State::new(
        scopes.clone(),
        Default::default(),
        Default::default(),
        Utc::now(),
    );
    s.services = ServicePane::new(vec![settings()], &scopes, scopes.len());
    s
}

fn press(s: &mut State, c: char) -> Vec<Effect> {
    super::super::update(
        s,
        super::super::Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    )
}

fn read_in(s: &mut State) {
    let view = ServiceView {
        settings: settings(),
        members: vec![
            member("blue", "us-east-1", 100),
            member("green", "eu-west-1", 100),
        ],
    };
    super::super::update(
        s,
        super::super::Msg::Service {
            index: 0,
            result: Ok(view),
        },
    );
}

#[test]
fn the_view_reads_each_service_in_the_scope_of_its_profile_and_drains_there() {
    let mut s = state(Tier::Change);
    let effects = press(&mut s, '4');
    assert_eq!(s.view, super::super::View::Services);
    assert!(
        effects.iter().any(|e| matches!(
            e,
            Effect::ReadService {
                region: 1,
                index: 0,
                ..
            }
        )),
        "read through prod, the service's profile: {effects:?}"
    );
    read_in(&mut s);
    let rows = rows(&s);
    assert_eq!(
        rows.iter().map(|r| r.region.as_str()).collect::<Vec<_>>(),
        ["eu-west-1", "us-east-1"]
    );
    assert_eq!(rows[0].share, Some(0.5));
    // No metrics read for these regions: what they took is not made up.
    assert_eq!(rows[0].observed, None);
    press(&mut s, 'j');
    let effects = press(&mut s, 'D');
    let drain = effects.iter().find_map(|e| match e {
        Effect::Prepare { region, request } => Some((*region, request.clone())),
        _ => None,
    });
    let (region, request) = drain.expect("a request for the ops layer");
    assert_eq!(region, 1);
    assert!(matches!(
        *request,
        Request::Service { change: ServiceChange::Drain(ref r), force: false, .. } if r == "us-east-1"
    ));
}

#[test]
fn a_read_only_profile_refuses_before_anything_is_asked_and_weights_are_checked() {
    let mut s = state(Tier::Read);
    press(&mut s, '4');
    read_in(&mut s);
    let effects = press(&mut s, 'D');
    assert!(!effects.iter().any(|e| matches!(e, Effect::Prepare { .. })));
    assert!(
        matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("--mode change")),
        "{:?}",
        s.popup
    );
    // The weight lever too: no prompt to fill in only to be refused.
    s.popup = None;
    press(&mut s, 't');
    assert_eq!(s.input, None);
    assert!(
        matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("--mode change")),
        "{:?}",
        s.popup
    );
    let mut s = state(Tier::Change);
    press(&mut s, '4');
    read_in(&mut s);
    press(&mut s, 't');
    assert_eq!(s.input, Some(Input::ServiceWeight("100".into())));
    s.input = None;
    submit_weight(&mut s, "1.7".into(), &mut Vec::new());
    assert!(
        s.input_error
            .as_deref()
            .is_some_and(|e| e.contains("'1.7' is not a weight") && !e.contains('='))
    );
    let mut effects = Vec::new();
    submit_weight(&mut s, "20".into(), &mut effects);
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Prepare { region: 1, .. }))
    );
    // Drain outside the services view says where it works.
    let mut s = state(Tier::Change);
    press(&mut s, 'D');
    assert!(matches!(&s.popup, Some(Popup::Notice(n)) if n.contains("services view")));
}

/// A service that lands above the highlighted row (read slower) leaves the highlight on
/// the service and region chosen: `D` then drains what was chosen, not the row number.
#[test]
fn the_highlight_stays_on_its_service_and_region_when_another_lands_above() {
    let mut s = state(Tier::Change);
    let pay = ServiceSettings {
        name: "pay".into(),
        ..settings()
    };
    let scopes = s.services.scopes.clone();
    s.services = ServicePane::new(vec![settings(), pay], &scopes, scopes.len());
    press(&mut s, '4');
    let land = |s: &mut State, index: usize, members: Vec<Member>| {
        let settings = s.services.services[index].clone();
        super::super::update(
            s,
            super::super::Msg::Service {
                index,
                result: Ok(ServiceView { settings, members }),
            },
        );
    };
    land(
        &mut s,
        1,
        vec![
            member("p-east", "us-east-1", 50),
            member("p-west", "us-west-2", 50),
        ],
    );
    let chosen = |s: &State| {
        let row = rows(s)[s.services.selected].clone();
        (s.services.services[row.service].name.clone(), row.region)
    };
    // Nothing chosen yet: the top row, whatever lands above it.
    let mut first = s.clone();
    land(
        &mut first,
        0,
        vec![
            member("blue", "us-east-1", 100),
            member("green", "eu-west-1", 100),
        ],
    );
    assert_eq!(first.services.selected, 0);
    assert_eq!(chosen(&first).0, "checkout");
    press(&mut s, 'j');
    assert_eq!(chosen(&s), ("pay".to_string(), "us-west-2".to_string()));
    land(
        &mut s,
        0,
        vec![
            member("blue", "us-east-1", 100),
            member("green", "eu-west-1", 100),
        ],
    );
    assert_eq!(rows(&s).len(), 4);
    assert_eq!(chosen(&s), ("pay".to_string(), "us-west-2".to_string()));
    // Gone from the new read: the nearest row, never past the end.
    land(&mut s, 1, vec![member("p-east", "us-east-1", 100)]);
    assert!(s.services.selected < rows(&s).len());
}

/// A region whose members mix a healthy check and none reads healthy, as the guard counts it
/// (it said `unknown`, which means a check that could not be read); only that is unknown.
#[test]
fn a_member_without_a_check_counts_as_healthy_beside_a_healthy_one() {
    let mut s = state(Tier::Change);
    press(&mut s, '4');
    let mut onprem = member("onprem", "us-east-1", 50);
    onprem.record.health_check = None;
    onprem.health = Health::None;
    let mut unread = member("grey", "eu-west-1", 50);
    unread.health = Health::Unread("GetHealthCheckStatus failed".into());
    let view = ServiceView {
        settings: settings(),
        members: vec![
            member("blue", "us-east-1", 100),
            onprem,
            member("green", "eu-west-1", 100),
            unread,
        ],
    };
    super::super::update(
        &mut s,
        super::super::Msg::Service {
            index: 0,
            result: Ok(view),
        },
    );
    let health: Vec<(String, &str)> = rows(&s)
        .iter()
        .map(|r| (r.region.clone(), r.health))
        .collect();
    assert_eq!(
        health,
        [
            // A check whose read failed is said as `service show` says it.
            ("eu-west-1".to_string(), "unread"),
            ("us-east-1".to_string(), "healthy")
        ]
    );
}

/// The first service read with these members.
fn read_as(s: &mut State, members: Vec<Member>) {
    let settings = s.services.services[0].clone();
    super::super::update(
        s,
        super::super::Msg::Service {
            index: 0,
            result: Ok(ServiceView { settings, members }),
        },
    );
}

/// `t` on a failover pair's member: refused at the key, before a weight is typed, in the core's
/// words (the CLI's `service weights` refusal).
#[test]
fn a_weight_on_a_failover_pair_is_refused_at_the_key() {
    let mut s = state(Tier::Change);
    press(&mut s, '4');
    let failover = |id: &str, region: &str, role: &str| {
        let mut m = member(id, region, 0);
        m.record.weight = None;
        m.record.failover = Some(role.into());
        m
    };
    read_as(
        &mut s,
        vec![
            failover("p", "us-east-1", "PRIMARY"),
            failover("s", "eu-west-1", "SECONDARY"),
        ],
    );
    press(&mut s, 't');
    assert!(s.input.is_none(), "{:?}", s.input);
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("routes by failover: it has no weights")),
        "{:?}",
        s.popup
    );
    // A latency record: refused at the key too (it asked for a weight, then refused it).
    s.popup = None;
    let latency = |id: &str, region: &str| {
        let mut m = member(id, region, 0);
        m.record.weight = None;
        m.record.region = Some(region.into());
        m
    };
    read_as(
        &mut s,
        vec![latency("a", "us-east-1"), latency("b", "eu-west-1")],
    );
    press(&mut s, 't');
    assert!(s.input.is_none(), "{:?}", s.input);
    assert!(
        matches!(&s.popup, Some(Popup::Notice(t)) if t.contains("lops changes weighted and failover records only")),
        "{:?}",
        s.popup
    );
}

/// An open services view reads its record sets again every 30 s (a change made elsewhere
/// shows, and a refusal is not judged against rows minutes old on screen); a failed read does
/// not make the rows newer.
#[test]
fn an_open_services_view_reads_again_and_a_failure_does_not_make_it_newer() {
    let mut s = state(Tier::Change);
    press(&mut s, '4');
    read_in(&mut s);
    let first = s.services.read_at.expect("read");
    let tick = |s: &mut State, secs: i64| {
        let at = first + chrono::TimeDelta::seconds(secs);
        super::super::update(s, super::super::Msg::Tick(at))
    };
    let reads = |effects: &[Effect]| {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::ReadService { .. }))
            .count()
    };
    assert_eq!(reads(&tick(&mut s, 10)), 0);
    assert_eq!(reads(&tick(&mut s, 31)), 1);
    assert_eq!(reads(&tick(&mut s, 33)), 0, "one read at a time");
    super::super::update(
        &mut s,
        super::super::Msg::Service {
            index: 0,
            result: Err("timed out".into()),
        },
    );
    assert_eq!(s.services.read_at, Some(first));
    // Closed: not read.
    press(&mut s, '1');
    assert_eq!(reads(&tick(&mut s, 120)), 0);
}

/// Route 53 not read for a service change's preview: the notice names the service, as the
/// CLI's does (it said "the target": a service's change has no function).
#[test]
fn a_service_change_not_read_for_its_preview_names_the_service() {
    let mut s = state(Tier::Change);
    super::super::update(
        &mut s,
        super::super::Msg::Planned {
            region: 1,
            request: Box::new(Request::Service {
                service: Box::new(settings()),
                change: ServiceChange::Drain("us-east-1".into()),
                force: false,
            }),
            result: Err(crate::ops::OpsError::Provider(
                crate::provider::ProviderError::Service("HTTP 503".into()),
            )),
        },
    );
    match &s.popup {
        Some(Popup::Notice(text)) => assert!(
            text.starts_with("service drain of checkout in prod/us-east-1: cannot read it"),
            "{text}"
        ),
        other => panic!("{other:?}"),
    }
}
