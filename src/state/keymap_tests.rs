use super::*;

fn event(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn defaults_bind_the_k9s_habits() {
    let map = Keymap::default();
    assert_eq!(map.action(&event(KeyCode::Char('q'))), Some(Action::Quit));
    assert_eq!(map.action(&event(KeyCode::Char('/'))), Some(Action::Filter));
    assert_eq!(
        map.action(&event(KeyCode::Char(':'))),
        Some(Action::Palette)
    );
    assert_eq!(map.action(&event(KeyCode::Char('?'))), Some(Action::Help));
    assert_eq!(
        map.action(&KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Some(Action::Quit)
    );
    assert_eq!(map.keys_of(Action::Quit), "q, ctrl-c");
}

#[test]
fn user_binding_replaces_the_default() {
    let overrides = BTreeMap::from([("refresh".to_string(), "f5 f6".to_string())]);
    let map = Keymap::with_overrides(&overrides).unwrap_or_default();
    assert_eq!(map.action(&event(KeyCode::F(5))), Some(Action::Refresh));
    assert_eq!(map.action(&event(KeyCode::Char('r'))), None);
    assert_eq!(map.keys_of(Action::Refresh), "f5, f6");
    // A key another action keeps by default (R: restore a region) is refused, never taken
    // from it in silence; so are control keys a terminal sends as another key.
    for bad in ["f5 R", "4", "ctrl-\\", "ctrl-1", "ctrl-]"] {
        let overrides = BTreeMap::from([("refresh".to_string(), bad.to_string())]);
        assert!(Keymap::with_overrides(&overrides).is_err(), "{bad}");
    }
}

#[test]
fn unknown_action_and_bad_key_are_explained() {
    let bad = BTreeMap::from([("explode".to_string(), "x".to_string())]);
    let err = Keymap::with_overrides(&bad).err().unwrap_or_default();
    assert!(
        err.contains("unknown action 'explode'") && err.contains("refresh"),
        "{err}"
    );
    let bad = BTreeMap::from([("quit".to_string(), "ctrl-".to_string())]);
    assert!(Keymap::with_overrides(&bad).is_err());
    let clash = BTreeMap::from([("quit".to_string(), "j".to_string())]);
    let err = Keymap::with_overrides(&clash).err().unwrap_or_default();
    assert!(err.contains("bound to both"), "{err}");
    for key in ["ctrl-m", "ctrl-i", "ctrl-[", "ctrl-Q", "y", "Y"] {
        let bad = BTreeMap::from([("quit".to_string(), key.to_string())]);
        assert!(Keymap::with_overrides(&bad).is_err(), "{key}");
    }
}

#[test]
fn the_order_of_the_lines_never_matters_and_keys_swap() {
    // kill (before refresh by name) takes r once refresh is moved.
    let moved = BTreeMap::from([
        ("kill".to_string(), "r".to_string()),
        ("refresh".to_string(), "f5".to_string()),
    ]);
    let map = Keymap::with_overrides(&moved).expect("valid");
    assert_eq!(map.action(&event(KeyCode::Char('r'))), Some(Action::Kill));
    let swapped = BTreeMap::from([
        ("refresh".to_string(), "s".to_string()),
        ("sort".to_string(), "r".to_string()),
    ]);
    let map = Keymap::with_overrides(&swapped).expect("valid");
    assert_eq!(
        map.action(&event(KeyCode::Char('s'))),
        Some(Action::Refresh)
    );
    assert_eq!(
        map.action(&event(KeyCode::Char('r'))),
        Some(Action::SortNext)
    );
}

mod renamed {
    use super::*;

    #[test]
    fn the_old_names_of_rollout_keys_still_bind() {
        assert_eq!(Action::by_name("rollout"), Some(Action::Rollout));
        assert_eq!(Action::by_name("plan"), Some(Action::Rollout));
        assert_eq!(Action::by_name("abort_plan"), Some(Action::AbortRollout));
        assert_eq!(Action::by_name("resume_plan"), Some(Action::ResumeRollout));
        assert_eq!(Action::by_name("abort_rollout"), Some(Action::AbortRollout));
    }
}
