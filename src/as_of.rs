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
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    format_epoch(epoch)
}

/// Seconds since the epoch of a PEP 700 `upload-time` or a `--as-of` value.
pub fn parse_epoch(text: &str) -> Option<i64> {
    let number = |s: &str| -> Option<i64> {
        s.chars()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (date, time) = match text.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let (y, m, d) = (
        number(parts.next()?)?,
        number(parts.next()?)?,
        number(parts.next()?)?,
    );
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let seconds = match time {
        None => 0,
        Some(t) => {
            let t = t.strip_suffix('Z').or_else(|| t.strip_suffix("+00:00"))?;
            let t = t.split('.').next()?;
            let mut hms = t.split(':');
            let (h, mi, s) = (
                number(hms.next()?)?,
                number(hms.next()?)?,
                number(hms.next()?)?,
            );
            if hms.next().is_some() || h > 23 || mi > 59 || s > 60 {
                return None;
            }
            h * 3600 + mi * 60 + s
        }
    };
    Some(days_from_civil(y, m, d) * 86_400 + seconds)
}

fn format_epoch(epoch: i64) -> String {
    let (days, seconds) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
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
        assert!(AsOf::parse("June 2024").is_err());
        assert!(day.admits_epoch(day.epoch) && !day.admits_epoch(day.epoch + 1));
    }
}
