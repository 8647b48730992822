//! The poller's schedule and its failure paths.

use super::*;

/// A region whose every read panics, as the SDK did on an empty endpoint URL.
struct Panicking(crate::provider::Scope);

impl RegionSource for Panicking {
    fn scope(&self) -> &crate::provider::Scope {
        &self.0
    }
    async fn inventory_with(
        &self,
        _progress: &(dyn Fn(Inventory) + Send + Sync),
    ) -> Result<Inventory, ProviderError> {
        panic!("URL was unset")
    }
    async fn extras(
        &self,
        _function: &str,
        _want: crate::provider::NotRead,
    ) -> Result<crate::provider::FunctionExtras, ProviderError> {
        panic!("URL was unset")
    }
    async fn metrics(
        &self,
        _request: &MetricsRequest,
    ) -> Result<crate::provider::MetricsSnapshot, ProviderError> {
        panic!("URL was unset")
    }
    async fn alarms(&self) -> Result<Vec<crate::provider::Alarm>, ProviderError> {
        panic!("URL was unset")
    }
    fn calls(&self) -> u64 {
        0
    }
}

#[tokio::test]
async fn a_read_that_panics_is_that_reads_error_and_the_poller_goes_on() {
    let scope = crate::provider::Scope::new(
        "default",
        "us-east-1",
        crate::config::Access::new(crate::config::Tier::Read, false),
    );
    let (tx, mut rx) = mpsc::channel(16);
    let timing = minute_timing();
    let pollers = spawn(&[Arc::new(Panicking(scope))], tx, timing);
    let mut said = (false, false);
    while said != (true, true) {
        let msg = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        match msg {
            Ok(Some(Msg::Inventory { result: Err(e), .. })) => {
                assert!(e.to_string().contains("internal error"), "{e}");
                assert!(e.to_string().contains("URL was unset"), "{e}");
                said.0 = true;
            }
            Ok(Some(Msg::Alarms { result: Err(_), .. })) => said.1 = true,
            Ok(Some(_)) => {}
            other => panic!("no error from the pollers: {}", other.is_ok()),
        }
    }
    // The loops survived their panics: `r` reads the inventory and the alarms again at once
    // (long before the alarms' own interval), and again it is said.
    pollers.refresh(false);
    let again = tokio::time::timeout(Duration::from_secs(5), async {
        let mut said = (false, false);
        while said != (true, true) {
            match rx.recv().await {
                Some(Msg::Inventory { result: Err(_), .. }) => said.0 = true,
                Some(Msg::Alarms { result: Err(_), .. }) => said.1 = true,
                _ => {}
            }
        }
    })
    .await;
    assert!(
        again.is_ok(),
        "a loop ended with its panic, or `r` left the alarms to their time"
    );
}

#[test]
fn failing_alarm_reads_are_asked_no_more_often_and_then_less() {
    let every = Duration::from_secs(30);
    assert_eq!(alarms_wait(1, every, 0, 3), every);
    assert_eq!(alarms_wait(6, every, 0, 3), Duration::from_secs(64));
    assert!(alarms_wait(60, every, 0, 3) <= every * 6);
    let healthy = alarms_wait(0, every, 2, 3);
    assert!(healthy >= every.mul_f64(0.9) && healthy <= every.mul_f64(1.1));
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let cap = Duration::from_secs(60);
    assert_eq!(backoff(1, cap), Duration::from_secs(2));
    assert_eq!(backoff(3, cap), Duration::from_secs(8));
    assert_eq!(backoff(30, cap), Duration::from_secs(60));
}

fn wanted(names: &[&str]) -> Vec<FunctionRef> {
    names
        .iter()
        .map(|n| FunctionRef {
            name: n.to_string(),
            aliases: Vec::new(),
            percentiles: true,
        })
        .collect()
}

fn names(refs: &[FunctionRef]) -> Vec<(&str, bool)> {
    refs.iter()
        .map(|f| (f.name.as_str(), f.percentiles))
        .collect()
}

#[test]
fn a_function_is_fetched_once_per_period_and_its_percentiles_every_five_minutes() {
    let mut fetched = Fetched::default();
    let every = percentile_periods(Duration::from_secs(60));
    assert_eq!(every, 5);
    let screen = wanted(&["a", "b"]);
    let due = fetched.due(&screen, 100, every);
    assert_eq!(names(&due), [("a", true), ("b", true)]);
    fetched.done(&due, 100);
    // The same minute: nothing to ask, however often the loop looks.
    assert!(fetched.due(&screen, 100, every).is_empty());
    // A row scrolls into view: only it.
    let more = wanted(&["a", "b", "c"]);
    let due = fetched.due(&more, 100, every);
    assert_eq!(names(&due), [("c", true)]);
    fetched.done(&due, 100);
    // The next minute: every row, without percentiles until five minutes have passed.
    let due = fetched.due(&more, 101, every);
    assert_eq!(names(&due), [("a", false), ("b", false), ("c", false)]);
    fetched.done(&due, 101);
    let due = fetched.due(&more, 105, every);
    assert_eq!(names(&due), [("a", true), ("b", true), ("c", true)]);
    fetched.done(&due, 105);
    // An alias appears (the inventory filled in): asked again at once, for its versions.
    let mut aliased = more.clone();
    aliased[0].aliases = vec![("live".into(), vec!["1".into(), "2".into()])];
    let due = fetched.due(&aliased, 105, every);
    assert_eq!(names(&due), [("a", false)]);
}

#[test]
fn an_hour_of_an_open_dashboard_asks_a_tenth_of_the_metrics_it_did() {
    // 45 visible functions, the default period (60 s), against the old 10-second refresh
    // that asked every series and every percentile each time.
    let screen: Vec<String> = (0..45).map(|i| format!("fn{i}")).collect();
    let refs = wanted(&screen.iter().map(String::as_str).collect::<Vec<_>>());
    let (series, percentiles) = (6, 6);
    let before = 360 * 45 * (series + percentiles);
    let minute = Duration::from_secs(60);
    let mut fetched = Fetched::default();
    let mut after = 0;
    for second in (0..3600).step_by(10) {
        let at = chrono::DateTime::from_timestamp(second, 0).unwrap_or_default();
        let period = period_of(at, minute);
        let due = fetched.due(&refs, period, percentile_periods(minute));
        after += due
            .iter()
            .map(|f| series + if f.percentiles { percentiles } else { 0 })
            .sum::<usize>();
        fetched.done(&due, period);
    }
    assert_eq!(after, 45 * (60 * series + 12 * percentiles));
    assert!(before >= 10 * after, "{before} before, {after} after");
}

#[test]
fn the_next_period_starts_on_the_clock_with_a_small_offset_per_region() {
    let at = chrono::DateTime::from_timestamp(1_000_000_050, 0).unwrap_or_default();
    let minute = Duration::from_secs(60);
    // 30 s into a minute: the next one begins in 30 s, plus 2 s for region 0.
    assert_eq!(next_period(at, minute, 0), Duration::from_secs(32));
    assert_eq!(next_period(at, minute, 1), Duration::from_secs(35));
    // A one-second period keeps its offset under a tenth of it.
    assert_eq!(
        next_period(at, Duration::from_secs(1), 0),
        Duration::from_millis(1100)
    );
}

#[test]
fn jitter_stays_within_ten_percent() {
    let d = Duration::from_secs(10);
    for region in 0..5 {
        for seq in 0..30 {
            let j = jitter(d, region, seq).as_secs_f64();
            assert!((9.0..=11.0).contains(&j), "{j}");
        }
    }
}

/// How a scripted region answers its `n`th metrics read (from 1).
type Answer = fn(&MetricsRequest, usize) -> Result<crate::provider::MetricsSnapshot, ProviderError>;

/// A region whose metrics reads answer as `answer` says, asked in groups of `group`
/// functions; it records what each read asked.
struct Scripted {
    scope: crate::provider::Scope,
    asked: std::sync::Mutex<Vec<(usize, bool)>>,
    answer: Answer,
    group: usize,
}

impl Scripted {
    fn new(answer: Answer, group: usize) -> Arc<Self> {
        Arc::new(Scripted {
            scope: crate::provider::Scope::new(
                "default",
                "us-east-1",
                crate::config::Access::new(crate::config::Tier::Read, false),
            ),
            asked: Default::default(),
            answer,
            group,
        })
    }
}

/// Every function asked, read (empty numbers), and the totals when asked.
fn whole(request: &MetricsRequest) -> crate::provider::MetricsSnapshot {
    crate::provider::MetricsSnapshot {
        functions: request
            .functions
            .iter()
            .map(|f| (f.name.clone(), Default::default()))
            .collect(),
        region_totals: request.region_totals.then(Default::default),
        ..Default::default()
    }
}

impl RegionSource for Scripted {
    fn scope(&self) -> &crate::provider::Scope {
        &self.scope
    }
    async fn inventory_with(
        &self,
        _progress: &(dyn Fn(Inventory) + Send + Sync),
    ) -> Result<Inventory, ProviderError> {
        Ok(Inventory::default())
    }
    async fn extras(
        &self,
        _function: &str,
        _want: crate::provider::NotRead,
    ) -> Result<crate::provider::FunctionExtras, ProviderError> {
        Err(ProviderError::Service("not asked here".into()))
    }
    async fn metrics(
        &self,
        request: &MetricsRequest,
    ) -> Result<crate::provider::MetricsSnapshot, ProviderError> {
        let n = {
            let mut asked = self.asked.lock().expect("lock");
            asked.push((request.functions.len(), request.region_totals));
            asked.len()
        };
        (self.answer)(request, n)
    }
    async fn alarms(&self) -> Result<Vec<crate::provider::Alarm>, ProviderError> {
        Ok(Vec::new())
    }
    fn calls(&self) -> u64 {
        0
    }
    fn metrics_group(&self) -> usize {
        self.group
    }
}

/// A region whose last function went while its metrics read was failing: the failure is not
/// left standing for want of a function to ask again — its totals are read, and answer.
#[tokio::test(start_paused = true)]
async fn a_failed_metrics_read_is_asked_again_when_no_function_is_left() {
    // Its first read fails, the others answer.
    let source = Scripted::new(
        |request, n| match n {
            1 => Err(ProviderError::Service("CloudWatch is down".into())),
            _ => Ok(whole(request)),
        },
        usize::MAX,
    );
    let (tx, mut rx) = mpsc::channel(64);
    let timing = minute_timing();
    let pollers = spawn(std::slice::from_ref(&source), tx, timing);
    pollers.want(0, wanted(&["orders"]));
    let ok = tokio::time::timeout(Duration::from_secs(60), metrics_answer(&mut rx))
        .await
        .expect("a metrics read");
    assert!(!ok, "the first read fails");
    // The region's last function goes (its inventory came back empty).
    pollers.want(0, Vec::new());
    let ok = tokio::time::timeout(Duration::from_secs(600), metrics_answer(&mut rx))
        .await
        .expect("the metrics read asked again");
    assert!(ok);
    // The function left unread is asked again with the totals (gone, it answers empty).
    let asked = source.asked.lock().expect("lock").clone();
    assert_eq!(asked, vec![(1, true), (1, true)]);
}

/// Whether the next metrics read the pollers send answered.
async fn metrics_answer(rx: &mut mpsc::Receiver<Msg>) -> bool {
    loop {
        match rx.recv().await {
            Some(Msg::Metrics { result, .. }) => return result.is_ok(),
            Some(_) => {}
            None => panic!("the pollers ended"),
        }
    }
}

/// Metrics every minute, the inventory every five, alarms every thirty seconds.
fn minute_timing() -> Timing {
    Timing {
        metrics: Duration::from_secs(60),
        inventory: Duration::from_secs(300),
        alarms: Duration::from_secs(30),
        deadline: Duration::from_secs(5),
        min_gap: Duration::from_secs(2),
    }
}

/// A round asked in groups: what an earlier group left out is carried by the later groups'
/// answers, so the region's metrics read is said to have answered in part until the next
/// round (a later group answering whole made it look whole).
#[tokio::test(start_paused = true)]
async fn what_a_group_left_out_is_said_until_the_round_ends() {
    // Asked a function at a time: the first function's split is not read, the others' answer
    // whole.
    let source = Scripted::new(
        |request, _| {
            let first = request.functions.iter().any(|f| f.name == "a");
            Ok(crate::provider::MetricsSnapshot {
                incomplete: first.then(|| "the alias split of 1 of 1 functions not read".into()),
                ..whole(request)
            })
        },
        1,
    );
    let (tx, mut rx) = mpsc::channel(64);
    let pollers = spawn(std::slice::from_ref(&source), tx, minute_timing());
    pollers.want(0, wanted(&["a", "b"]));
    let mut said = Vec::new();
    while said.len() < 2 {
        let msg = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("a message");
        if let Some(Msg::Metrics { result: Ok(s), .. }) = msg
            && !s.functions.is_empty()
        {
            said.push(s.incomplete);
        }
    }
    assert_eq!(
        said,
        vec![Some("the alias split of 1 of 1 functions not read".to_string()); 2]
    );
}

/// A function whose numbers a read failed to bring is said unread by every later answer until
/// it is read — asked again even once off screen: the next round's groups that answer whole
/// (another function's) do not make the region's numbers look whole again (the dashboard showed the region fresh over numbers
/// minutes old, and its age from the last group that answered).
#[tokio::test(start_paused = true)]
async fn a_function_left_unread_is_said_by_later_rounds_until_it_is_read() {
    // b's reads fail until a has been read in three rounds.
    static A_READ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let source = Scripted::new(
        |request, _| {
            use std::sync::atomic::Ordering::SeqCst;
            let has = |name: &str| request.functions.iter().any(|f| f.name == name);
            if has("a") {
                A_READ.fetch_add(1, SeqCst);
            }
            match has("b") && A_READ.load(SeqCst) < 3 {
                true => Err(ProviderError::Timeout(5.0)),
                false => Ok(whole(request)),
            }
        },
        1,
    );
    let (tx, mut rx) = mpsc::channel(64);
    let pollers = spawn(std::slice::from_ref(&source), tx, minute_timing());
    pollers.want(0, wanted(&["a", "b"]));
    let (mut b_failed, mut a_since) = (false, Vec::new());
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(3600), rx.recv())
            .await
            .expect("a message");
        match msg {
            Some(Msg::Metrics { result: Err(_), .. }) => {
                b_failed = true;
                // b scrolls out of view: it is asked again all the same, and said until read.
                pollers.want(0, wanted(&["a"]));
                // `r`: a round that asks both again (a first) without waiting for the minute.
                pollers.refresh(true);
            }
            Some(Msg::Metrics { result: Ok(s), .. }) if s.functions.contains_key("b") => break,
            Some(Msg::Metrics { result: Ok(s), .. })
                if b_failed && s.functions.contains_key("a") =>
            {
                a_since.push((s.numbers_missing, s.incomplete))
            }
            _ => {}
        }
    }
    assert!(
        !a_since.is_empty(),
        "no later round read a before b answered"
    );
    for (missing, why) in a_since {
        assert!(missing);
        let why = why.unwrap_or_default();
        assert!(
            why.contains("the numbers of 1 function not read since")
                && why.contains("GetMetricData timed out"),
            "{why}"
        );
    }
}
