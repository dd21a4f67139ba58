//! The time forms of `logs --since/--until` (as Docker Compose takes them) and the engines'
//! RFC 3339 log timestamps, turned into Unix seconds. Pure: "now" is an argument.

/// The forms a log time may take, for error messages.
pub const ACCEPTED: &str = "a duration before now (`10s`, `5m`, `2h`, `1d`, `1h30m`), Unix \
                            seconds (`1764688000`) or an RFC 3339 time \
                            (`2026-12-02T15:04:05Z`, `2026-12-02T17:04:05.5+02:00`)";

/// A log time that is none of the [`ACCEPTED`] forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a log time: expected {ACCEPTED}")]
pub struct TimeError {
    /// The text given.
    pub text: String,
}

/// `text` as Unix seconds, a duration counting back from `now` (Unix seconds).
///
/// # Errors
/// [`TimeError`] when `text` is none of the [`ACCEPTED`] forms.
pub fn parse_time(text: &str, now: i64) -> Result<i64, TimeError> {
    let t = text.trim();
    let err = || TimeError {
        text: text.to_string(),
    };
    if t.is_empty() {
        return Err(err());
    }
    if let Some(secs) = unix_seconds(t) {
        return Ok(secs);
    }
    if let Some(d) = duration_seconds(t) {
        return now.checked_sub(d).ok_or_else(err);
    }
    parse_rfc3339(t).ok_or_else(err)
}

/// `1764688000` or `1764688000.25` (the fraction dropped).
fn unix_seconds(t: &str) -> Option<i64> {
    let (whole, frac) = t.split_once('.').unwrap_or((t, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(frac) {
        return None;
    }
    whole.parse().ok()
}

/// `10s`, `5m`, `2h`, `1d` and sums of them written together (`1h30m`), in seconds.
fn duration_seconds(t: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        let n: i64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    // a bare number is Unix seconds, handled before; a trailing number has no unit
    number.is_empty().then_some(total)
}

/// An RFC 3339 time (`2026-12-02T15:04:05Z`, with a fraction and/or a `±HH:MM` offset) as Unix
/// seconds (the fraction dropped); `None` when it is not one.
#[must_use]
pub fn parse_rfc3339(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = t.get(from..from + len)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let sep = |at: usize, ok: &[u8]| b.get(at).is_some_and(|c| ok.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = t.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = frac.get(digits..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let o = rest.get(1..)?;
            if o.len() != 5 || o.as_bytes().get(2) != Some(&b':') {
                return None;
            }
            let (h, m): (i64, i64) = (o.get(..2)?.parse().ok()?, o.get(3..)?.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::{parse_rfc3339, parse_time};

    const NOW: i64 = 1_796_223_845; // 2026-12-02T15:04:05Z

    #[test]
    fn durations_count_back_from_now() {
        for (text, secs) in [
            ("10s", 10),
            ("5m", 300),
            ("2h", 7200),
            ("1d", 86_400),
            ("1h30m", 5400),
            ("1d2h3m4s", 93_784),
            ("0s", 0),
        ] {
            assert_eq!(parse_time(text, NOW), Ok(NOW - secs), "{text}");
        }
    }

    #[test]
    fn unix_seconds_are_taken_as_they_are() {
        assert_eq!(parse_time("1764688000", NOW), Ok(1_764_688_000));
        assert_eq!(parse_time("1764688000.75", NOW), Ok(1_764_688_000));
        assert_eq!(parse_time("0", NOW), Ok(0));
    }

    #[test]
    fn rfc3339_times_with_offsets_and_fractions() {
        assert_eq!(parse_time("2026-12-02T15:04:05Z", NOW), Ok(NOW));
        assert_eq!(parse_time("2026-12-02T17:04:05+02:00", NOW), Ok(NOW));
        assert_eq!(parse_time("2026-12-02T10:34:05-04:30", NOW), Ok(NOW));
        assert_eq!(parse_time("2026-12-02T15:04:05.123456789Z", NOW), Ok(NOW));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_rfc3339("2024-12-31 23:59:59z"), Some(1_735_689_599));
        // Podman's log timestamps have whole seconds, Docker's nanoseconds
        assert_eq!(
            parse_rfc3339("2026-12-02T15:37:28.825866957Z"),
            parse_rfc3339("2026-12-02T15:37:28Z")
        );
    }

    #[test]
    fn other_text_is_refused_with_the_accepted_forms() {
        for text in [
            "",
            "yesterday",
            "10x",
            "1h30",
            "h",
            "-5m",
            "2026-12-02",
            "2026-12-02T15:04:05",
            "2026-13-02T15:04:05Z",
            "2026-02-30T15:04:05Z",
            "2026-12-02T24:00:00Z",
            "2026-12-02T15:04:05.Z",
            "2026-12-02T15:04:05+2:00",
            "99999999999999999999d",
        ] {
            let err = parse_time(text, NOW).unwrap_err();
            assert!(err.to_string().contains("RFC 3339"), "{text}: {err}");
            assert!(err.to_string().contains("1h30m"), "{text}: {err}");
        }
    }
}
