//! The `TIMESTAMP` of a `PASSWORD_VERIFIER` response.

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// `EEE MMM d HH:mm:ss 'UTC' yyyy` (Java's pattern, as Cognito documents it): English short
/// names, day of month without padding, 24-hour clock, always UTC.
const FORMAT: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short] [month repr:short] [day padding:none] [hour]:[minute]:[second] UTC [year padding:none]"
);

/// Formats `at` the way Cognito expects the `TIMESTAMP` challenge response, e.g.
/// `Tue Feb 1 03:04:05 UTC 2000`.
///
/// English weekday and month abbreviations, day of month not zero-padded, hours, minutes and
/// seconds zero-padded, the literal zone `UTC`, and the year; fractions of a second are
/// truncated (towards the past, like JavaScript's `Date`). This is the format of
/// amazon-cognito-identity-js's `DateHelper.getNowString()` and pycognito's
/// `get_cognito_formatted_timestamp`; it never depends on the process locale or time zone.
/// The same string must go into [`VerifierInput::timestamp`](super::VerifierInput::timestamp)
/// (it is signed) and into the `TIMESTAMP` response parameter.
///
/// Instants outside the years -9999..=9999 are clamped to that range.
#[must_use]
pub fn timestamp(at: SystemTime) -> String {
    let nanos: i128 = match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => i128::try_from(before.duration().as_nanos()).map_or(i128::MIN, |n| -n),
    };
    let moment = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or_else(|_| {
        if nanos < 0 {
            PrimitiveDateTime::MIN.assume_utc()
        } else {
            PrimitiveDateTime::MAX.assume_utc()
        }
    });
    // Formatting into a String only fails for components the value lacks; a UTC
    // OffsetDateTime has them all.
    moment
        .format(FORMAT)
        .expect("an OffsetDateTime has every component of the timestamp format")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn examples() {
        assert_eq!(timestamp(UNIX_EPOCH), "Thu Jan 1 00:00:00 UTC 1970");
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_millis(949_374_245_999)),
            "Tue Feb 1 03:04:05 UTC 2000"
        );
        assert_eq!(
            timestamp(UNIX_EPOCH - Duration::from_millis(1)),
            "Wed Dec 31 23:59:59 UTC 1969"
        );
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)),
            "Fri Dec 31 23:59:59 UTC 9999"
        );
    }
}
