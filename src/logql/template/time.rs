//! Go's `time.Time` as template functions see it: an instant (Unix seconds
//! and nanoseconds) plus a location, formatted and parsed with Go's
//! reference layouts (`2006-01-02 15:04:05.999999999 -0700 MST`).
//!
//! Locations: `UTC`, `Local` and fixed offsets (with an optional zone
//! abbreviation). lokistore has no time zone database: `Local` is UTC
//! (named "UTC", as on a Loki host running in UTC, which is how Loki's
//! conformance answers were recorded), and [`load_location`] knows only
//! zone names with a fixed offset (`UTC`, `GMT`, `Etc/GMT+5`, …); any other
//! name falls back to UTC, which is what Loki does for a name its tz
//! database lacks. Daylight-saving rules are therefore never applied.
//!
//! Layout elements, as in Go's `time` package:
//!
//! | element | meaning |
//! |---|---|
//! | `2006` `06` | year, two-digit year |
//! | `January` `Jan` `1` `01` | month |
//! | `Monday` `Mon` | weekday |
//! | `2` `_2` `02` | day of month |
//! | `__2` `002` | day of year |
//! | `15` `3` `03` | hour (24h, 12h) |
//! | `4` `04` `5` `05` | minute, second |
//! | `PM` `pm` | AM/PM marker |
//! | `MST` | zone abbreviation |
//! | `-0700` `-07:00` `-07` `-070000` `-07:00:00` | numeric offset |
//! | `Z0700` `Z07:00` `Z07` `Z070000` `Z07:00:00` | numeric offset, `Z` for UTC |
//! | `.000` `,000` `.999` `,999` | fractional seconds (fixed / trimmed) |
//!
//! A monotonic clock reading (Go prints ` m=+0.001` after `now`) is never
//! kept.

use std::time::{SystemTime, UNIX_EPOCH};

const NANOS: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
/// Unix seconds of Go's zero time, January 1, year 1, 00:00:00 UTC.
const ZERO_UNIX: i64 = -62_135_596_800;

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const LONG_DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// The English name of month `m` (1-12).
pub(crate) fn month_name(m: u8) -> &'static str {
    LONG_MONTHS.get(usize::from(m).wrapping_sub(1)).copied().unwrap_or("%!Month(?)")
}

/// The English name of weekday `d` (0 = Sunday).
pub(crate) fn weekday_name(d: u8) -> &'static str {
    LONG_DAYS.get(usize::from(d)).copied().unwrap_or("%!Weekday(?)")
}

/// A short zone abbreviation stored inline (names longer than 15 bytes are
/// cut; Go's parser never produces them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ZoneName {
    buf: [u8; 15],
    len: u8,
}

impl ZoneName {
    pub(crate) fn new(s: &str) -> Self {
        let mut end = s.len().min(15);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut buf = [0u8; 15];
        let bytes = s.as_bytes().get(..end).unwrap_or_default();
        if let Some(dst) = buf.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        ZoneName { buf, len: end as u8 }
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..usize::from(self.len)).unwrap_or_default()).unwrap_or("")
    }
}

/// A location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    /// `time.UTC`.
    Utc,
    /// `time.Local`, which is UTC here.
    Local,
    /// `time.FixedZone(name, offset)`.
    Fixed { name: ZoneName, offset: i32 },
}

impl Loc {
    /// The zone abbreviation and offset (seconds east of UTC).
    pub(crate) fn zone(&self) -> (&str, i32) {
        match self {
            Loc::Utc | Loc::Local => ("UTC", 0),
            Loc::Fixed { name, offset } => (name.as_str(), *offset),
        }
    }
}

/// Go's `time.LoadLocation`, limited to zones with a fixed offset; other
/// names fall back to UTC (see the module documentation).
pub(crate) fn load_location(name: &str) -> Loc {
    match name {
        "" | "UTC" => return Loc::Utc,
        "Local" => return Loc::Local,
        _ => {}
    }
    let fixed = |abbr: &str, offset: i32| Loc::Fixed { name: ZoneName::new(abbr), offset };
    match name {
        "Etc/UTC" | "Etc/UCT" | "UCT" | "Etc/Universal" | "Universal" | "Etc/Zulu" | "Zulu" => fixed("UTC", 0),
        "GMT" | "Etc/GMT" | "Etc/GMT0" | "Etc/GMT+0" | "Etc/GMT-0" | "GMT0" | "GMT+0" | "GMT-0" | "Etc/Greenwich"
        | "Greenwich" => fixed("GMT", 0),
        _ => {
            // Etc/GMT+5 is five hours *west* of Greenwich (POSIX sign).
            if let Some(rest) = name.strip_prefix("Etc/GMT")
                && let Some(sign) = rest.chars().next()
                && (sign == '+' || sign == '-')
                && let Some(digits) = rest.get(1..)
                && !digits.starts_with('0')
                && digits.len() <= 2
                && digits.bytes().all(|b| b.is_ascii_digit())
                && let Ok(h) = digits.parse::<i32>()
                && (sign == '+' && h <= 12 || sign == '-' && h <= 14)
            {
                let east = if sign == '+' { -h } else { h };
                let abbr = format!("{}{:02}", if east < 0 { '-' } else { '+' }, east.abs());
                return fixed(&abbr, east * 3600);
            }
            Loc::Utc
        }
    }
}

/// A calendar breakdown of an instant in its location.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    /// 1-12.
    pub(crate) month: u8,
    /// 1-31.
    pub(crate) day: u8,
    pub(crate) hour: u8,
    pub(crate) minute: u8,
    pub(crate) second: u8,
    /// 1-366.
    pub(crate) yday: u16,
    /// 0 = Sunday.
    pub(crate) weekday: u8,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day may
/// overflow the month).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year.wrapping_sub(1) } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = ((153 * mp + 2) / 5).wrapping_add(day.wrapping_sub(1));
    let doe = (yoe * 365 + yoe / 4 - yoe / 100).wrapping_add(doy);
    era.wrapping_mul(146_097).wrapping_add(doe).wrapping_sub(719_468)
}

/// (year, month, day) of a day number (days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z.wrapping_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe.wrapping_add(era.wrapping_mul(400)).wrapping_add(i64::from(m <= 2));
    (y, m as u8, d as u8)
}

pub(crate) fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `norm`: moves overflow of `lo` (in units of `base`) into `hi`.
fn norm(hi: i64, lo: i64, base: i64) -> (i64, i64) {
    let n = lo.div_euclid(base);
    (hi.wrapping_add(n), lo.rem_euclid(base))
}

/// An instant with a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GoTime {
    /// Seconds since the Unix epoch.
    pub(crate) sec: i64,
    /// Nanoseconds within the second, `0..1e9`.
    pub(crate) nsec: u32,
    pub(crate) loc: Loc,
}

impl GoTime {
    /// Go's `time.Unix(sec, nsec)` (in `Local`).
    pub(crate) fn unix(sec: i64, nsec: i64) -> Self {
        let (sec, nsec) = norm(sec, nsec, NANOS);
        GoTime { sec, nsec: nsec as u32, loc: Loc::Local }
    }

    /// Go's zero `time.Time{}`.
    pub(crate) fn zero() -> Self {
        GoTime { sec: ZERO_UNIX, nsec: 0, loc: Loc::Utc }
    }

    /// `time.Now()` (in `Local`).
    pub(crate) fn now() -> Self {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => GoTime { sec: d.as_secs() as i64, nsec: d.subsec_nanos(), loc: Loc::Local },
            Err(e) => {
                let d = e.duration();
                GoTime::unix(-(d.as_secs() as i64), -i64::from(d.subsec_nanos()))
            }
        }
    }

    /// Go's `time.Date` with normalization of out-of-range fields.
    #[expect(clippy::too_many_arguments, reason = "mirrors Go's time.Date")]
    pub(crate) fn date(year: i64, month: i64, day: i64, hour: i64, min: i64, sec: i64, nsec: i64, loc: Loc) -> Self {
        let (year, m) = norm(year, month.wrapping_sub(1), 12);
        let (sec, nsec) = norm(sec, nsec, NANOS);
        let (min, sec) = norm(min, sec, 60);
        let (hour, min) = norm(hour, min, 60);
        let (day, hour) = norm(day, hour, 24);
        let days = days_from_civil(year, m + 1, day);
        let unix = days
            .wrapping_mul(SECS_PER_DAY)
            .wrapping_add(hour * 3600 + min * 60 + sec)
            .wrapping_sub(i64::from(loc.zone().1));
        GoTime { sec: unix, nsec: nsec as u32, loc }
    }

    /// The same instant in another location (`t.In(loc)`, `t.UTC()`).
    pub(crate) fn in_loc(self, loc: Loc) -> Self {
        GoTime { loc, ..self }
    }

    /// Seconds since the epoch, shifted into the location's wall clock.
    fn local_sec(&self) -> i64 {
        self.sec.wrapping_add(i64::from(self.loc.zone().1))
    }

    pub(crate) fn civil(&self) -> Civil {
        let local = self.local_sec();
        let days = local.div_euclid(SECS_PER_DAY);
        let secs = local.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let yday = days.wrapping_sub(days_from_civil(year, 1, 1)).wrapping_add(1);
        Civil {
            year,
            month,
            day,
            hour: (secs / 3600) as u8,
            minute: (secs / 60 % 60) as u8,
            second: (secs % 60) as u8,
            yday: yday as u16,
            weekday: (days.wrapping_add(4)).rem_euclid(7) as u8,
        }
    }

    /// `t.UnixMilli()` (wrapping on overflow, like Go's arithmetic).
    pub(crate) fn unix_milli(&self) -> i64 {
        self.sec.wrapping_mul(1000).wrapping_add(i64::from(self.nsec) / 1_000_000)
    }

    pub(crate) fn unix_micro(&self) -> i64 {
        self.sec.wrapping_mul(1_000_000).wrapping_add(i64::from(self.nsec) / 1000)
    }

    pub(crate) fn unix_nano(&self) -> i64 {
        self.sec.wrapping_mul(NANOS).wrapping_add(i64::from(self.nsec))
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.sec == ZERO_UNIX && self.nsec == 0
    }

    /// Nanoseconds between two instants, saturated to the `Duration` range
    /// (`t.Sub(u)`).
    pub(crate) fn sub(&self, other: &GoTime) -> i64 {
        let d = (i128::from(self.sec) - i128::from(other.sec)) * i128::from(NANOS) + i128::from(self.nsec)
            - i128::from(other.nsec);
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// `t.Add(d)`.
    pub(crate) fn add(&self, d: i64) -> Self {
        let total = i128::from(self.nsec) + i128::from(d);
        let sec = i128::from(self.sec) + total.div_euclid(i128::from(NANOS));
        let nsec = total.rem_euclid(i128::from(NANOS));
        GoTime { sec: sec.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64, nsec: nsec as u32, loc: self.loc }
    }

    /// `t.AddDate(years, months, days)`.
    pub(crate) fn add_date(&self, years: i64, months: i64, days: i64) -> Self {
        let c = self.civil();
        GoTime::date(
            c.year.wrapping_add(years),
            i64::from(c.month).wrapping_add(months),
            i64::from(c.day).wrapping_add(days),
            i64::from(c.hour),
            i64::from(c.minute),
            i64::from(c.second),
            i64::from(self.nsec),
            self.loc,
        )
    }

    /// `t.String()`.
    pub(crate) fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// `t.Format(layout)`.
    pub(crate) fn format(&self, layout: &str) -> String {
        let c = self.civil();
        let (zone_name, offset) = self.loc.zone();
        let mut out = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, std, suffix) = next_std_chunk(rest);
            out.push_str(prefix);
            let Some(std) = std else { break };
            rest = suffix;
            match std {
                Std::Year => push_int(&mut out, (c.year.unsigned_abs() % 100) as i64, 2),
                Std::LongYear => push_int(&mut out, c.year, 4),
                Std::Month => out.push_str(month_name(c.month).get(..3).unwrap_or_default()),
                Std::LongMonth => out.push_str(month_name(c.month)),
                Std::NumMonth => push_int(&mut out, i64::from(c.month), 0),
                Std::ZeroMonth => push_int(&mut out, i64::from(c.month), 2),
                Std::WeekDay => out.push_str(weekday_name(c.weekday).get(..3).unwrap_or_default()),
                Std::LongWeekDay => out.push_str(weekday_name(c.weekday)),
                Std::Day => push_int(&mut out, i64::from(c.day), 0),
                Std::UnderDay => {
                    if c.day < 10 {
                        out.push(' ');
                    }
                    push_int(&mut out, i64::from(c.day), 0);
                }
                Std::ZeroDay => push_int(&mut out, i64::from(c.day), 2),
                Std::UnderYearDay => {
                    if c.yday < 100 {
                        out.push(' ');
                        if c.yday < 10 {
                            out.push(' ');
                        }
                    }
                    push_int(&mut out, i64::from(c.yday), 0);
                }
                Std::ZeroYearDay => push_int(&mut out, i64::from(c.yday), 3),
                Std::Hour => push_int(&mut out, i64::from(c.hour), 2),
                Std::Hour12 | Std::ZeroHour12 => {
                    let h = match c.hour % 12 {
                        0 => 12,
                        h => h,
                    };
                    push_int(&mut out, i64::from(h), if std == Std::ZeroHour12 { 2 } else { 0 });
                }
                Std::Minute => push_int(&mut out, i64::from(c.minute), 0),
                Std::ZeroMinute => push_int(&mut out, i64::from(c.minute), 2),
                Std::Second => push_int(&mut out, i64::from(c.second), 0),
                Std::ZeroSecond => push_int(&mut out, i64::from(c.second), 2),
                Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
                Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
                Std::Tz(tz) => {
                    if tz.iso && offset == 0 {
                        out.push('Z');
                        continue;
                    }
                    push_offset(&mut out, offset, tz);
                }
                Std::ZoneName => {
                    if zone_name.is_empty() {
                        let zone = offset / 60;
                        out.push(if zone < 0 { '-' } else { '+' });
                        push_int(&mut out, i64::from(zone.abs() / 60), 2);
                        push_int(&mut out, i64::from(zone.abs() % 60), 2);
                    } else {
                        out.push_str(zone_name);
                    }
                }
                Std::Frac { sep, digits, trim } => push_nanos(&mut out, self.nsec, sep, digits, trim),
            }
        }
        out
    }
}

/// Appends `v` zero-padded to `width` digits (a `-` sign first).
fn push_int(out: &mut String, v: i64, width: usize) {
    if v < 0 {
        out.push('-');
    }
    let digits = v.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

fn push_offset(out: &mut String, offset: i32, tz: TzSpec) {
    let mut zone = offset / 60;
    let mut abs = offset;
    if zone < 0 {
        out.push('-');
        zone = -zone;
        abs = -abs;
    } else {
        out.push('+');
    }
    push_int(out, i64::from(zone / 60), 2);
    if tz.colon {
        out.push(':');
    }
    if !tz.short {
        push_int(out, i64::from(zone % 60), 2);
    }
    if tz.seconds {
        if tz.colon {
            out.push(':');
        }
        push_int(out, i64::from(abs % 60), 2);
    }
}

fn push_nanos(out: &mut String, nsec: u32, sep: char, digits: usize, trim: bool) {
    if trim && (digits == 0 || nsec == 0) {
        return;
    }
    let all = format!("{nsec:09}");
    let mut frac = all.get(..digits.min(9)).unwrap_or_default();
    if trim {
        frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            return;
        }
    }
    out.push(sep);
    out.push_str(frac);
}

/// A numeric zone element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TzSpec {
    /// `Z…`: prints `Z` for UTC.
    iso: bool,
    colon: bool,
    /// Hours only (`-07`).
    short: bool,
    seconds: bool,
}

/// A layout element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz(TzSpec),
    ZoneName,
    Frac { sep: char, digits: usize, trim: bool },
}

fn starts_with_lower(s: &str) -> bool {
    s.bytes().next().is_some_and(|c| c.is_ascii_lowercase())
}

/// Go's `nextStdChunk`: the text before the first layout element, the
/// element, and the rest.
fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let b = layout.as_bytes();
    let at = |i: usize, s: &str| layout.get(i..).is_some_and(|r| r.starts_with(s));
    let split = |i: usize, n: usize, std: Std| {
        (layout.get(..i).unwrap_or_default(), Some(std), layout.get(i + n..).unwrap_or_default())
    };
    let tz = |iso, colon, short, seconds| Std::Tz(TzSpec { iso, colon, short, seconds });
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'J' if at(i, "Jan") => {
                if at(i, "January") {
                    return split(i, 7, Std::LongMonth);
                }
                if !starts_with_lower(layout.get(i + 3..).unwrap_or_default()) {
                    return split(i, 3, Std::Month);
                }
            }
            b'M' => {
                if at(i, "Mon") {
                    if at(i, "Monday") {
                        return split(i, 6, Std::LongWeekDay);
                    }
                    if !starts_with_lower(layout.get(i + 3..).unwrap_or_default()) {
                        return split(i, 3, Std::WeekDay);
                    }
                }
                if at(i, "MST") {
                    return split(i, 3, Std::ZoneName);
                }
            }
            b'0' => {
                if let Some(&d) = b.get(i + 1)
                    && (b'1'..=b'6').contains(&d)
                {
                    let std = match d {
                        b'1' => Std::ZeroMonth,
                        b'2' => Std::ZeroDay,
                        b'3' => Std::ZeroHour12,
                        b'4' => Std::ZeroMinute,
                        b'5' => Std::ZeroSecond,
                        _ => Std::Year,
                    };
                    return split(i, 2, std);
                }
                if at(i, "002") {
                    return split(i, 3, Std::ZeroYearDay);
                }
            }
            b'1' => {
                if b.get(i + 1) == Some(&b'5') {
                    return split(i, 2, Std::Hour);
                }
                return split(i, 1, Std::NumMonth);
            }
            b'2' => {
                if at(i, "2006") {
                    return split(i, 4, Std::LongYear);
                }
                return split(i, 1, Std::Day);
            }
            b'_' => {
                if b.get(i + 1) == Some(&b'2') {
                    // "_2006" is a literal "_" and a long year.
                    if at(i + 1, "2006") {
                        return split(i + 1, 4, Std::LongYear);
                    }
                    return split(i, 2, Std::UnderDay);
                }
                if at(i, "__2") {
                    return split(i, 3, Std::UnderYearDay);
                }
            }
            b'3' => return split(i, 1, Std::Hour12),
            b'4' => return split(i, 1, Std::Minute),
            b'5' => return split(i, 1, Std::Second),
            b'P' if b.get(i + 1) == Some(&b'M') => return split(i, 2, Std::PM),
            b'p' if b.get(i + 1) == Some(&b'm') => return split(i, 2, Std::Pm),
            b'-' | b'Z' => {
                let iso = c == b'Z';
                let s = |rest: &str| {
                    let mut t = String::with_capacity(rest.len() + 1);
                    t.push(char::from(c));
                    t.push_str(rest);
                    t
                };
                if at(i, &s("070000")) {
                    return split(i, 7, tz(iso, false, false, true));
                }
                if at(i, &s("07:00:00")) {
                    return split(i, 9, tz(iso, true, false, true));
                }
                if at(i, &s("0700")) {
                    return split(i, 5, tz(iso, false, false, false));
                }
                if at(i, &s("07:00")) {
                    return split(i, 6, tz(iso, true, false, false));
                }
                if at(i, &s("07")) {
                    return split(i, 3, tz(iso, false, true, false));
                }
            }
            b'.' | b',' => {
                if let Some(&d) = b.get(i + 1)
                    && (d == b'0' || d == b'9')
                {
                    let mut j = i + 1;
                    while b.get(j) == Some(&d) {
                        j += 1;
                    }
                    if !b.get(j).is_some_and(u8::is_ascii_digit) {
                        let std = Std::Frac { sep: char::from(c), digits: j - (i + 1), trim: d == b'9' };
                        return split(i, j - i, std);
                    }
                }
            }
            _ => {}
        }
    }
    (layout, None, "")
}

// Parsing.

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(u8::is_ascii_digit)
}

/// One or two digits (exactly two when `fixed`).
fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    if !is_digit(s, 0) {
        return None;
    }
    let d0 = i64::from(*s.first()? - b'0');
    if !is_digit(s, 1) {
        if fixed {
            return None;
        }
        return Some((d0, s.get(1..)?));
    }
    Some((d0 * 10 + i64::from(*s.get(1)? - b'0'), s.get(2..)?))
}

/// One to three digits (exactly three when `fixed`).
fn getnum3(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    let mut n = 0;
    let mut i = 0;
    while i < 3 && is_digit(s, i) {
        n = n * 10 + i64::from(*s.get(i)? - b'0');
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return None;
    }
    Some((n, s.get(i..)?))
}

/// Go's `atoi` for layout fields: optional sign, digits, nothing else.
fn atoi(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut x: i64 = 0;
    for &d in digits {
        x = x.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if neg { -x } else { x })
}

/// Go's `skip`: matches the literal `prefix`, where a space matches any
/// run of spaces.
fn skip<'v>(mut value: &'v [u8], mut prefix: &[u8]) -> Option<&'v [u8]> {
    while let Some(&p) = prefix.first() {
        if p == b' ' {
            if value.first().is_some_and(|&c| c != b' ') {
                return None;
            }
            while prefix.first() == Some(&b' ') {
                prefix = prefix.get(1..)?;
            }
            while value.first() == Some(&b' ') {
                value = value.get(1..)?;
            }
            continue;
        }
        if value.first() != Some(&p) {
            return None;
        }
        prefix = prefix.get(1..)?;
        value = value.get(1..)?;
    }
    Some(value)
}

/// Go's `lookup`: a case-insensitive prefix match against a name table.
fn lookup<'v>(names: &[&str], value: &'v [u8], short: bool) -> Option<(usize, &'v [u8])> {
    for (i, name) in names.iter().enumerate() {
        let name = if short { name.get(..3).unwrap_or(name) } else { name };
        if let Some(head) = value.get(..name.len())
            && head.eq_ignore_ascii_case(name.as_bytes())
        {
            return Some((i, value.get(name.len()..)?));
        }
    }
    None
}

/// Go's `parseTimeZone`: the length of a zone abbreviation at the start of
/// `value`.
fn parse_time_zone(value: &[u8]) -> Option<usize> {
    if value.len() < 3 {
        return None;
    }
    if value.starts_with(b"ChST") || value.starts_with(b"MeST") {
        return Some(4);
    }
    if value.starts_with(b"GMT") {
        let rest = value.get(3..)?;
        if rest.is_empty() {
            return Some(3);
        }
        return Some(3 + parse_signed_offset(rest));
    }
    if matches!(value.first(), Some(b'+' | b'-')) {
        let n = parse_signed_offset(value);
        return (n > 0).then_some(n);
    }
    let upper = value.iter().take(6).take_while(|c| c.is_ascii_uppercase()).count();
    match upper {
        5 if value.get(4) == Some(&b'T') => Some(5),
        4 if value.get(3) == Some(&b'T') || value.starts_with(b"WITA") => Some(4),
        3 => Some(3),
        _ => None,
    }
}

/// Go's `parseSignedOffset`: `+h` / `-hh` (hours at most 12), or 0.
fn parse_signed_offset(value: &[u8]) -> usize {
    if !matches!(value.first(), Some(b'+' | b'-')) {
        return 0;
    }
    let digits = value.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return 0;
    }
    let mut x: u64 = 0;
    for &d in value.get(1..1 + digits).unwrap_or_default() {
        x = x.saturating_mul(10).saturating_add(u64::from(d - b'0'));
    }
    if x > 12 {
        return 0;
    }
    1 + digits
}

/// Go's `parseNanoseconds`: `value` starts with `.` or `,` then digits;
/// `n` bytes are used.
fn parse_nanoseconds(value: &[u8], n: usize) -> Option<i64> {
    if !matches!(value.first(), Some(b'.' | b',')) {
        return None;
    }
    let digits = value.get(1..n)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut ns: i64 = 0;
    for (i, &d) in digits.iter().enumerate() {
        if i == 9 {
            break;
        }
        ns = ns * 10 + i64::from(d - b'0');
    }
    for _ in digits.len().min(9)..9 {
        ns *= 10;
    }
    Some(ns)
}

/// Go's `time.ParseInLocation(layout, value, loc)` (`time.Parse` is
/// `loc = UTC` with `Local` for zone lookups). `None` for any parse error
/// (the template functions using it drop the error).
pub(crate) fn parse(layout: &str, value: &str, default_loc: Loc, local: Loc) -> Option<GoTime> {
    let mut layout = layout;
    let mut value = value.as_bytes();
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let (mut am, mut pm) = (false, false);
    let mut z: Option<Loc> = None;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name: &[u8] = &[];
    loop {
        let (prefix, std, suffix) = next_std_chunk(layout);
        value = skip(value, prefix.as_bytes())?;
        let Some(std) = std else {
            if !value.is_empty() {
                return None;
            }
            break;
        };
        layout = suffix;
        match std {
            Std::Year => {
                let p = value.get(..2)?;
                value = value.get(2..)?;
                year = atoi(p)?;
                year += if year >= 69 { 1900 } else { 2000 };
            }
            Std::LongYear => {
                if value.len() < 4 || !is_digit(value, 0) {
                    return None;
                }
                year = atoi(value.get(..4)?)?;
                value = value.get(4..)?;
            }
            Std::Month | Std::LongMonth => {
                let (m, rest) = lookup(&LONG_MONTHS, value, std == Std::Month)?;
                month = m as i64 + 1;
                value = rest;
            }
            Std::NumMonth | Std::ZeroMonth => {
                let (m, rest) = getnum(value, std == Std::ZeroMonth)?;
                if !(1..=12).contains(&m) {
                    return None;
                }
                month = m;
                value = rest;
            }
            Std::WeekDay | Std::LongWeekDay => {
                value = lookup(&LONG_DAYS, value, std == Std::WeekDay)?.1;
            }
            Std::Day | Std::UnderDay | Std::ZeroDay => {
                if std == Std::UnderDay && value.first() == Some(&b' ') {
                    value = value.get(1..)?;
                }
                let (d, rest) = getnum(value, std == Std::ZeroDay)?;
                day = d;
                value = rest;
            }
            Std::UnderYearDay | Std::ZeroYearDay => {
                for _ in 0..2 {
                    if std == Std::UnderYearDay && value.first() == Some(&b' ') {
                        value = value.get(1..)?;
                    }
                }
                let (d, rest) = getnum3(value, std == Std::ZeroYearDay)?;
                yday = d;
                value = rest;
            }
            Std::Hour => {
                let (h, rest) = getnum(value, false)?;
                if h >= 24 {
                    return None;
                }
                hour = h;
                value = rest;
            }
            Std::Hour12 | Std::ZeroHour12 => {
                let (h, rest) = getnum(value, std == Std::ZeroHour12)?;
                if h > 12 {
                    return None;
                }
                hour = h;
                value = rest;
            }
            Std::Minute | Std::ZeroMinute => {
                let (m, rest) = getnum(value, std == Std::ZeroMinute)?;
                if m >= 60 {
                    return None;
                }
                min = m;
                value = rest;
            }
            Std::Second | Std::ZeroSecond => {
                let (s, rest) = getnum(value, std == Std::ZeroSecond)?;
                if s >= 60 {
                    return None;
                }
                sec = s;
                value = rest;
                // A fractional second in the value but not in the layout.
                if value.len() >= 2 && matches!(value.first(), Some(b'.' | b',')) && is_digit(value, 1) {
                    let (_, next, _) = next_std_chunk(layout);
                    if !matches!(next, Some(Std::Frac { .. })) {
                        let mut n = 2;
                        while is_digit(value, n) {
                            n += 1;
                        }
                        nsec = parse_nanoseconds(value, n)?;
                        value = value.get(n..)?;
                    }
                }
            }
            Std::PM | Std::Pm => {
                let p = value.get(..2)?;
                value = value.get(2..)?;
                let (up, down) = if std == Std::PM { (b"PM", b"AM") } else { (b"pm", b"am") };
                if p == up {
                    pm = true;
                } else if p == down {
                    am = true;
                } else {
                    return None;
                }
            }
            Std::Tz(tz) => {
                if tz.iso && value.first() == Some(&b'Z') {
                    value = value.get(1..)?;
                    z = Some(Loc::Utc);
                    continue;
                }
                let (sign, hh, mm, ss, rest): (u8, &[u8], &[u8], &[u8], &[u8]) = if tz.colon && !tz.seconds {
                    if value.len() < 6 || value.get(3) != Some(&b':') {
                        return None;
                    }
                    (*value.first()?, value.get(1..3)?, value.get(4..6)?, b"00", value.get(6..)?)
                } else if tz.short {
                    if value.len() < 3 {
                        return None;
                    }
                    (*value.first()?, value.get(1..3)?, b"00", b"00", value.get(3..)?)
                } else if tz.colon {
                    if value.len() < 9 || value.get(3) != Some(&b':') || value.get(6) != Some(&b':') {
                        return None;
                    }
                    (*value.first()?, value.get(1..3)?, value.get(4..6)?, value.get(7..9)?, value.get(9..)?)
                } else if tz.seconds {
                    if value.len() < 7 {
                        return None;
                    }
                    (*value.first()?, value.get(1..3)?, value.get(3..5)?, value.get(5..7)?, value.get(7..)?)
                } else {
                    if value.len() < 5 {
                        return None;
                    }
                    (*value.first()?, value.get(1..3)?, value.get(3..5)?, b"00", value.get(5..)?)
                };
                let hr = getnum(hh, true)?.0;
                let mn = getnum(mm, true)?.0;
                let sc = getnum(ss, true)?.0;
                if hr > 24 || mn > 60 || sc > 60 {
                    return None;
                }
                let off = (hr * 60 + mn) * 60 + sc;
                zone_offset = Some(match sign {
                    b'+' => off,
                    b'-' => -off,
                    _ => return None,
                });
                value = rest;
            }
            Std::ZoneName => {
                if value.starts_with(b"UTC") {
                    z = Some(Loc::Utc);
                    value = value.get(3..)?;
                    continue;
                }
                let n = parse_time_zone(value)?;
                zone_name = value.get(..n)?;
                value = value.get(n..)?;
            }
            Std::Frac { digits, trim: false, .. } => {
                let n = 1 + digits;
                if value.len() < n {
                    return None;
                }
                nsec = parse_nanoseconds(value, n)?;
                value = value.get(n..)?;
            }
            Std::Frac { trim: true, .. } => {
                if value.len() < 2 || !matches!(value.first(), Some(b'.' | b',')) || !is_digit(value, 1) {
                    continue;
                }
                let mut i = 0;
                while is_digit(value, i + 1) {
                    i += 1;
                }
                nsec = parse_nanoseconds(value, 1 + i)?;
                value = value.get(1 + i..)?;
            }
        }
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let mut m = 0;
        let mut d = 0;
        let mut yd = yday;
        if is_leap(year) {
            if yd == 31 + 29 {
                m = 2;
                d = 29;
            } else if yd > 31 + 29 {
                yd -= 1;
            }
        }
        if !(1..=365).contains(&yd) {
            return None;
        }
        if m == 0 {
            const DAYS_BEFORE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
            m = (yd - 1) / 31 + 1;
            if DAYS_BEFORE.get(m as usize).is_some_and(|&b| b < yd) {
                m += 1;
            }
            d = yd - DAYS_BEFORE.get((m - 1) as usize).copied().unwrap_or(0);
        }
        if (month >= 0 && month != m) || (day >= 0 && day != d) {
            return None;
        }
        month = m;
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > days_in(month, year) {
        return None;
    }
    if let Some(z) = z {
        return Some(GoTime::date(year, month, day, hour, min, sec, nsec, z));
    }
    if let Some(off) = zone_offset {
        let t = GoTime::date(year, month, day, hour, min, sec, nsec, Loc::Utc);
        let t = GoTime { sec: t.sec.wrapping_sub(off), ..t };
        let (local_name, local_off) = local.zone();
        if i64::from(local_off) == off && (zone_name.is_empty() || local_name.as_bytes() == zone_name) {
            return Some(t.in_loc(local));
        }
        let name = ZoneName::new(std::str::from_utf8(zone_name).unwrap_or(""));
        return Some(t.in_loc(Loc::Fixed { name, offset: off as i32 }));
    }
    if !zone_name.is_empty() {
        let t = GoTime::date(year, month, day, hour, min, sec, nsec, Loc::Utc);
        let (local_name, local_off) = local.zone();
        if local_name.as_bytes() == zone_name {
            return Some(GoTime { sec: t.sec.wrapping_sub(i64::from(local_off)), ..t }.in_loc(local));
        }
        let mut offset = 0;
        if zone_name.len() > 3 && zone_name.starts_with(b"GMT") {
            offset = atoi(zone_name.get(3..).unwrap_or_default()).unwrap_or(0) * 3600;
        }
        let name = ZoneName::new(std::str::from_utf8(zone_name).unwrap_or(""));
        return Some(t.in_loc(Loc::Fixed { name, offset: offset as i32 }));
    }
    Some(GoTime::date(year, month, day, hour, min, sec, nsec, default_loc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_reference_layouts() {
        // 2009-11-10 23:04:05.123456789 UTC, a Tuesday, day 314.
        let t = GoTime { sec: 1_257_894_245, nsec: 123_456_789, loc: Loc::Utc };
        assert_eq!(t.go_string(), "2009-11-10 23:04:05.123456789 +0000 UTC");
        assert_eq!(t.format("2006-01-02T15:04:05Z07:00"), "2009-11-10T23:04:05Z");
        assert_eq!(t.format("2006-01-02T15:04:05.000Z07:00"), "2009-11-10T23:04:05.123Z");
        assert_eq!(t.format("Mon Jan _2 15:04:05 MST 2006"), "Tue Nov 10 23:04:05 UTC 2009");
        assert_eq!(t.format("Monday, January 2, 06 3:4:5 PM pm"), "Tuesday, November 10, 09 11:4:5 PM pm");
        assert_eq!(t.format("002 __2 .999 ,000000 .9"), "314 314 .123 ,123456 .1");
        assert_eq!(t.format("Janx Monx Jan. Mon."), "Janx Monx Nov. Tue.");
        assert_eq!(t.format("January is Jan"), "November is Nov");
        assert_eq!(t.format("_2006"), "_2009");
        let east = t.in_loc(Loc::Fixed { name: ZoneName::new(""), offset: 5 * 3600 + 30 * 60 });
        assert_eq!(east.format("15:04 -0700 -07:00 -07 Z07:00 MST"), "04:34 +0530 +05:30 +05 +05:30 +0530");
        assert_eq!(east.format("-070000 -07:00:00 Z070000"), "+053000 +05:30:00 +053000");
        let west = t.in_loc(load_location("Etc/GMT+2"));
        assert_eq!(west.go_string(), "2009-11-10 21:04:05.123456789 -0200 -02");
        assert_eq!(GoTime::zero().go_string(), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(GoTime::unix(0, 0).format("Mon 2006-01-02 002"), "Thu 1970-01-01 001");
        assert_eq!(GoTime::unix(-1, 0).format("2006-01-02 15:04:05"), "1969-12-31 23:59:59");
        assert_eq!(GoTime::unix(19503 * 86400, 0).go_string(), "2023-05-26 00:00:00 +0000 UTC");
    }

    #[test]
    fn parses_layouts() {
        let p = |layout: &str, value: &str| parse(layout, value, Loc::Local, Loc::Local);
        let t = p("2006-01-02", "2021-11-02").map(|t| t.sec);
        assert_eq!(t, Some(1_635_811_200));
        let t = parse("2006-01-02T15:04:05.999999999Z", "2023-03-10T01:32:40.340485723Z", Loc::Utc, Loc::Utc);
        assert_eq!(t.map(|t| t.unix_milli()), Some(1_678_411_960_340));
        assert_eq!(t.map(|t| t.unix_nano()), Some(1_678_411_960_340_485_723));
        let t = p(time_rfc3339(), "2021-11-02T10:00:00+02:00");
        assert_eq!(t.map(|t| (t.sec, t.go_string())), Some((1_635_840_000, "2021-11-02 10:00:00 +0200 +0200".into())));
        let t = p(time_rfc3339(), "2021-11-02T10:00:00Z").map(|t| t.go_string());
        assert_eq!(t.as_deref(), Some("2021-11-02 10:00:00 +0000 UTC"));
        let t = p("Jan 2 15:04:05 2006 MST", "feb 3 04:05:06 2020 PST").map(|t| t.go_string());
        assert_eq!(t.as_deref(), Some("2020-02-03 04:05:06 +0000 PST"));
        let t = p("3:04PM", "1:30AM").map(|t| t.format("15:04"));
        assert_eq!(t.as_deref(), Some("01:30"));
        let t = p("2006-01-02 15:04:05", "2021-11-02 10:00:00.25").map(|t| t.nsec);
        assert_eq!(t, Some(250_000_000));
        let t = p("2006 002", "2020 060").map(|t| t.format("01-02"));
        assert_eq!(t.as_deref(), Some("02-29"));
        assert_eq!(p("2006-01-02", "2021-02-30"), None);
        assert_eq!(p("2006-01-02", "2021-11-02x"), None);
        assert_eq!(p("2006-01-02", "21-11-02"), None);
        assert_eq!(p("15:04", "24:00"), None);
    }

    fn time_rfc3339() -> &'static str {
        "2006-01-02T15:04:05Z07:00"
    }

    #[test]
    fn dates_normalize() {
        let t = GoTime::date(2021, 13, 32, 25, 61, 61, 0, Loc::Utc);
        assert_eq!(t.format("2006-01-02 15:04:05"), "2022-02-02 02:02:01");
        let t = GoTime::date(2020, 1, 31, 0, 0, 0, 0, Loc::Utc).add_date(0, 1, 0);
        assert_eq!(t.format("2006-01-02"), "2020-03-02");
        assert_eq!(GoTime::unix(0, -1).format("2006-01-02 15:04:05.000000000"), "1969-12-31 23:59:59.999999999");
        assert_eq!(load_location("Europe/Paris"), Loc::Utc);
        assert_eq!(load_location("Local"), Loc::Local);
    }
}
