//! Region names lops accepts, so a typo is caught before any request is sent.

/// Public AWS regions, China and GovCloud included (2026). A region AWS opens later can be
/// allowed with `extra_regions` in the config file.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Checks a region name; the error says what was wrong and what would be right.
pub fn check_region(name: &str, extra: &[String]) -> Result<(), String> {
    if KNOWN_REGIONS.contains(&name) || extra.iter().any(|e| e == name) {
        return Ok(());
    }
    let near = closest(name);
    let hint = match near {
        Some(n) => format!(" Did you mean '{n}'?"),
        None => String::new(),
    };
    Err(format!(
        "unknown region '{name}'.{hint} Regions look like 'us-east-1'; if AWS opened this one \
         recently, add it to `extra_regions` in the config file."
    ))
}

fn closest(name: &str) -> Option<&'static str> {
    let name = name.trim().to_ascii_lowercase();
    KNOWN_REGIONS
        .iter()
        .map(|r| (edit_distance(&name, r), *r))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, r)| r)
}

/// Whether two names are one slip apart: case, two neighbours swapped (`Prod`, `prdo` for
/// `prod`), or one character more, less or other (`prid`, `prodd`, `prod-`). Asked only of a
/// lops section that names no AWS profile, where such a near miss leaves the profile it was
/// meant for without its rules; a refusal then costs one empty section to say "not meant".
pub fn names_close(a: &str, b: &str) -> bool {
    if a == b {
        return false;
    }
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let swapped = x.len() == y.len() && {
        let diff: Vec<usize> = (0..x.len()).filter(|i| x[*i] != y[*i]).collect();
        matches!(diff[..], [i, j] if j == i + 1 && x[i] == y[j] && x[j] == y[i])
    };
    // Two letters and one other are a different name, not a slip (`qa` and `qb`).
    let one_edit =
        x.len().min(y.len()) >= 3 && edit_distance(&a.to_lowercase(), &b.to_lowercase()) == 1;
    a.eq_ignore_ascii_case(b) || swapped || one_edit
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_one_slip_apart() {
        for (a, b) in [
            ("Prod", "prod"),
            ("prdo", "prod"),
            ("PROD", "prod"),
            ("prid", "prod"),
            ("prd", "prod"),
            ("prodd", "prod"),
            ("prod-", "prod"),
            ("Prid", "prod"),
        ] {
            assert!(names_close(a, b), "{a} {b}");
        }
        for (a, b) in [
            ("prod", "prod"),
            ("prod-eu", "prod-us"),
            ("qa", "qb"),
            ("dev", "prod"),
            ("staging", "prod"),
        ] {
            assert!(!names_close(a, b), "{a} {b}");
        }
    }

    #[test]
    fn uppercase_region_gets_its_lowercase_name() {
        let err = check_region("US-EAST-1", &[]).err().unwrap_or_default();
        assert!(err.contains("Did you mean 'us-east-1'?"), "{err}");
    }

    #[test]
    fn typo_gets_a_suggestion() {
        let err = check_region("us-esat-1", &[]).err().unwrap_or_default();
        assert!(err.contains("unknown region 'us-esat-1'"), "{err}");
        assert!(err.contains("Did you mean 'us-east-1'?"), "{err}");
    }

    #[test]
    fn extra_regions_are_allowed() {
        assert!(check_region("xx-new-1", &["xx-new-1".to_string()]).is_ok());
        assert!(check_region("eu-west-1", &[]).is_ok());
    }
}
