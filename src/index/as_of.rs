//! `--as-of DATE`: the world as it was at a moment. A date alone means midnight UTC at its start; the moment is
//! kept as an RFC 3339 timestamp (`2024-06-15T00:00:00Z`), which is also what uv's `--exclude-newer` is given, so
//! version listing and installs cut at the same instant whatever the machine's time zone.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in UTC, to the second.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsOf {
    /// Seconds since the Unix epoch.
    pub epoch: i64,
    /// RFC 3339, UTC (`YYYY-MM-DDTHH:MM:SSZ`).
    pub text: String,
    /// Packages installed whatever their upload time: the matrix's explicit axes, whose versions the user chose
    /// by name (`bitsandbytes = ["0.49.2"]` as of May 2024 means that release in May's world).
    pub exempt: Vec<String>,
}

impl AsOf {
    /// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` (fractions of a second and `+00:00` accepted).
    pub fn parse(text: &str) -> Result<Self, String> {
        let epoch = parse_epoch(text).ok_or_else(|| {
            format!(
                "`{text}`: expected a date (2024-06-15) or a UTC timestamp (2024-06-15T08:00:00Z)"
            )
        })?;
        Ok(Self {
            epoch,
            text: format_epoch(epoch),
            exempt: Vec::new(),
        })
    }

    /// uv's arguments: the cutoff, lifted for the exempt packages.
    pub fn uv_args(&self) -> Vec<String> {
        let mut args = vec!["--exclude-newer".to_string(), self.text.clone()];
        for package in &self.exempt {
            args.extend(["--exclude-newer-package".into(), format!("{package}=false")]);
        }
        args
    }

    /// Whether something uploaded at `time` existed at this moment.
    pub fn admits_epoch(&self, time: i64) -> bool {
        time <= self.epoch
    }

    /// Whether a file last modified at `time` existed at this moment (find-links folders: the mtime stands in for
    /// the upload time).
    pub fn admits_mtime(&self, time: SystemTime) -> bool {
        let seconds = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        self.admits_epoch(seconds)
    }
}

/// The current moment, RFC 3339 UTC: when a query axis is listed without `--as-of`.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Seconds since the epoch of a PEP 700 `upload-time` or a `--as-of` value: `YYYY-MM-DD` (midnight UTC) or an RFC
/// 3339 UTC timestamp (`Z` or `+00:00`, fractions of a second allowed; humantime's parser). A date that does not
/// exist (February 30) is none, not the day it would roll over to.
pub fn parse_epoch(text: &str) -> Option<i64> {
    let stamp = if text.contains('T') {
        text.to_string()
    } else {
        format!("{text}T00:00:00Z")
    };
    let moment = humantime::parse_rfc3339_weak(&stamp).ok()?;
    i64::try_from(moment.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()
}

fn format_epoch(epoch: i64) -> String {
    let moment = UNIX_EPOCH + std::time::Duration::from_secs(epoch.max(0) as u64);
    humantime::format_rfc3339_seconds(moment).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_parse_to_utc_moments() {
        let day = AsOf::parse("2024-06-15").unwrap();
        assert_eq!(day.text, "2024-06-15T00:00:00Z");
        assert_eq!(day.epoch, 1_718_409_600);
        let upload = parse_epoch("2024-06-15T08:30:05.123456Z").unwrap();
        assert_eq!(upload - day.epoch, 8 * 3600 + 30 * 60 + 5);
        assert_eq!(parse_epoch("1970-01-01T00:00:00+00:00"), Some(0));
        assert_eq!(
            AsOf::parse("2000-02-29").unwrap().text,
            "2000-02-29T00:00:00Z"
        );
        assert!(AsOf::parse("2024-13-01").is_err());
        assert!(
            AsOf::parse("2024-02-30").is_err(),
            "no such day: never read as March 1st"
        );
        assert!(AsOf::parse("2023-02-29").is_err());
        assert!(
            AsOf::parse("2024-06-15T08:00:00+02:00").is_err(),
            "UTC only"
        );
        assert!(AsOf::parse("June 2024").is_err());
        assert!(day.admits_epoch(day.epoch) && !day.admits_epoch(day.epoch + 1));
    }
}
