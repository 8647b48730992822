//! `s3://BUCKET/PREFIX` locations, checked before anything is sent.

use std::fmt;

/// A bucket and a key prefix (no leading or trailing slash; may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Uri {
    pub bucket: String,
    pub key: String,
}

impl S3Uri {
    /// Whether one of the two holds the other (same bucket, one prefix inside the other, or
    /// a whole bucket): writing under one writes under the other.
    pub fn overlaps(&self, other: &S3Uri) -> bool {
        let within = |outer: &S3Uri, inner: &S3Uri| {
            outer.bucket == inner.bucket
                && (outer.key.is_empty()
                    || inner.key == outer.key
                    || inner
                        .key
                        .starts_with(&format!("{}/", outer.key.trim_end_matches('/'))))
        };
        within(self, other) || within(other, self)
    }

    /// Parses `s3://bucket[/key]`. Bucket names follow S3's rules: 3–63 characters of
    /// lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.
    pub fn parse(text: &str) -> Result<S3Uri, String> {
        let example = "e.g. s3://my-backups/lops";
        let rest = text.trim().strip_prefix("s3://").ok_or_else(|| {
            format!("'{text}' is not an S3 URI: write it as s3://BUCKET/PREFIX, {example}")
        })?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket).map_err(|why| format!("'{text}': {why} ({example})"))?;
        let key = key.trim_matches('/');
        if key.split('/').any(|part| part == "." || part == "..") {
            return Err(format!(
                "'{text}': '.' and '..' are not allowed in the key prefix"
            ));
        }
        if key.contains("//") {
            return Err(format!(
                "'{text}': the key prefix has an empty segment (//)"
            ));
        }
        if key.chars().any(char::is_control) {
            return Err(format!("'{text}': the key prefix has control characters"));
        }
        Ok(S3Uri {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The key of `rest` under this prefix.
    pub fn child(&self, rest: &str) -> String {
        let rest = rest.trim_start_matches('/');
        if self.key.is_empty() {
            rest.to_string()
        } else {
            format!("{}/{rest}", self.key)
        }
    }

    /// The key of an object `rel` below this one exactly as listed (the inverse of stripping
    /// `KEY/`): an S3 key may hold an empty segment (`exp//x`), which [`S3Uri::child`] would
    /// fold into another key.
    pub fn exact_child(&self, rel: &str) -> String {
        if self.key.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.key)
        }
    }

    /// The same bucket, another key.
    pub fn with_key(&self, key: impl Into<String>) -> S3Uri {
        S3Uri {
            bucket: self.bucket.clone(),
            key: key.into(),
        }
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.key)
        }
    }
}

fn check_bucket(bucket: &str) -> Result<(), String> {
    if bucket.is_empty() {
        return Err("no bucket name".into());
    }
    if !(3..=63).contains(&bucket.len()) {
        return Err(format!(
            "bucket name '{bucket}' must be 3 to 63 characters long"
        ));
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    if !bucket.chars().all(ok_char) {
        return Err(format!(
            "bucket name '{bucket}' may hold only lowercase letters, digits, '.' and '-'"
        ));
    }
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge_ok(bucket.chars().next()) || !edge_ok(bucket.chars().last()) {
        return Err(format!(
            "bucket name '{bucket}' must start and end with a letter or digit"
        ));
    }
    if bucket.contains("..") {
        return Err(format!("bucket name '{bucket}' has '..'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let u = S3Uri::parse("s3://my-backups/lops/prod/").unwrap();
        assert_eq!(u.bucket, "my-backups");
        assert_eq!(u.key, "lops/prod");
        assert_eq!(u.child("blobs/x"), "lops/prod/blobs/x");
        assert_eq!(u.to_string(), "s3://my-backups/lops/prod");
        let bare = S3Uri::parse("s3://my-backups").unwrap();
        assert_eq!(bare.key, "");
        assert_eq!(bare.child("/blobs"), "blobs");
    }

    #[test]
    fn refuses_what_s3_would_refuse_with_a_hint() {
        for bad in [
            "my-backups/lops",
            "https://my-backups.s3.amazonaws.com/x",
            "s3://",
            "s3:///lops",
            "s3://ab",
            "s3://My_Backups/x",
            "s3://-backups",
            "s3://a..b/x",
            "s3://bucket/a//b",
            "s3://bucket/../etc",
        ] {
            let e = S3Uri::parse(bad).unwrap_err();
            assert!(
                e.contains(bad.trim_end_matches('/')) || e.contains("s3://"),
                "{bad}: {e}"
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_round_trips(text in "\\PC{0,80}") {
            if let Ok(u) = S3Uri::parse(&text) {
                prop_assert_eq!(S3Uri::parse(&u.to_string()).unwrap(), u);
            }
        }

        #[test]
        fn valid_uris_parse(bucket in "[a-z0-9][a-z0-9-]{1,40}[a-z0-9]", key in "([a-z0-9_]{1,8}/){0,3}[a-z0-9_]{1,8}") {
            let u = S3Uri::parse(&format!("s3://{bucket}/{key}")).unwrap();
            prop_assert_eq!(u.bucket, bucket);
            prop_assert_eq!(u.key, key);
        }
    }
}
