//! Policy history dates as published ("1/2025", "5/1/2010", "11/2011-4/2012")
//! and the versions derived from them.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A date as it appears in a policy's history table. The published text is kept
/// so the table can be shown exactly as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryDate {
    text: String,
    start: NaiveDate,
    end: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a history date: expected M/YYYY, M/D/YYYY or a range M/YYYY-M/YYYY (e.g. 1/2025, 5/1/2010, 11/2011-4/2012)")]
pub struct HistoryDateError(pub String);

fn month_year(part: &str) -> Option<(NaiveDate, NaiveDate)> {
    let fields: Vec<&str> = part.trim().split('/').collect();
    let num = |s: &str| -> Option<u32> {
        if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    match fields.as_slice() {
        [m, y] if y.len() == 4 => {
            let (m, y) = (num(m)?, num(y)? as i32);
            let start = NaiveDate::from_ymd_opt(y, m, 1)?;
            let next = if m == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(y, m + 1, 1)?
            };
            Some((start, next.pred_opt()?))
        }
        [m, d, y] if y.len() == 4 => {
            let day = NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, num(d)?)?;
            Some((day, day))
        }
        _ => None,
    }
}

impl HistoryDate {
    /// The first day the entry can refer to; versions take effect on it.
    pub fn start(&self) -> NaiveDate {
        self.start
    }

    /// The last day the entry can refer to.
    pub fn end(&self) -> NaiveDate {
        self.end
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for HistoryDate {
    type Err = HistoryDateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let err = || HistoryDateError(s.to_string());
        let (start, end) = match text.split_once('-') {
            Some((a, b)) => {
                let (start, _) = month_year(a).ok_or_else(err)?;
                let (_, end) = month_year(b).ok_or_else(err)?;
                if end < start {
                    return Err(err());
                }
                (start, end)
            }
            None => month_year(text).ok_or_else(err)?,
        };
        Ok(HistoryDate {
            text: text.to_string(),
            start,
            end,
        })
    }
}

impl fmt::Display for HistoryDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for HistoryDate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for HistoryDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn parses_published_forms() {
        let m: HistoryDate = "1/2025".parse().unwrap();
        assert_eq!((m.start(), m.end()), (d(2025, 1, 1), d(2025, 1, 31)));
        let day: HistoryDate = "5/1/2010".parse().unwrap();
        assert_eq!((day.start(), day.end()), (d(2010, 5, 1), d(2010, 5, 1)));
        let r: HistoryDate = "11/2011-4/2012".parse().unwrap();
        assert_eq!((r.start(), r.end()), (d(2011, 11, 1), d(2012, 4, 30)));
        let dec: HistoryDate = "12/2019".parse().unwrap();
        assert_eq!(dec.end(), d(2019, 12, 31));
        assert_eq!(r.as_str(), "11/2011-4/2012");
    }

    #[test]
    fn rejects_bad_dates() {
        for bad in [
            "",
            "13/2020",
            "0/2020",
            "2/30/2020",
            "1/25",
            "Jan 2020",
            "4/2012-11/2011",
            "1/2020-",
            "x/2020",
        ] {
            assert!(bad.parse::<HistoryDate>().is_err(), "{bad}");
        }
    }
}
