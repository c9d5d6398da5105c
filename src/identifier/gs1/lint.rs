//! The content checks ("linters") the GS1 Barcode Syntax Dictionary names for AI components, one function each.
//! Which linter runs on which component is generated from the dictionary (`ai_table::Linter`); the `match` in `run`
//! is exhaustive, so a dictionary release naming a new linter does not build until it is implemented here.
//! Each function gets exactly the bytes of its component, already checked against the component's character set.

use super::ai_table::{
    CODES_ISO3166, CODES_ISO3166ALPHA2, CODES_ISO4217, CODES_MEDIATYPE, CODES_PACKAGETYPE, Linter,
};
use super::check_digit;

/// Runs one linter on one component's data.
pub(crate) fn run(linter: Linter, data: &[u8]) -> Result<(), &'static str> {
    let ok = match linter {
        Linter::Csum => check_digit::mod10_valid(data),
        Linter::Csumalpha => check_digit::alpha_pair_valid(data),
        Linter::Zero => data == b"0",
        Linter::Nozeroprefix => !(data.len() > 1 && data[0] == b'0'),
        Linter::Hasnondigit => !data.iter().all(u8::is_ascii_digit),
        Linter::Nonzero => !data.iter().all(|&b| b == b'0'),
        Linter::Gcppos1 => gcp_at(data, 0),
        Linter::Gcppos2 => gcp_at(data, 1),
        Linter::Yymmd0 => short_date(data, true),
        Linter::Yymmdd => short_date(data, false),
        Linter::Yyyymmdd => long_date(data, false),
        Linter::Hh => number(data, 2).is_some_and(|h| h <= 23),
        Linter::Mi | Linter::Ss => number(data, 2).is_some_and(|m| m <= 59),
        Linter::Hhmi => {
            data.len() == 4
                && run(Linter::Hh, &data[..2]).is_ok()
                && run(Linter::Mi, &data[2..]).is_ok()
        }
        Linter::Yesno => matches!(data, b"0" | b"1"),
        Linter::Winding => matches!(data, b"0" | b"1" | b"9"),
        Linter::Iso5218 => matches!(data, b"0" | b"1" | b"2" | b"9"),
        Linter::Hyphen => data.iter().all(|&b| b == b'-'),
        Linter::Latitude => number(data, 10).is_some_and(|v| v <= 1_800_000_000),
        Linter::Longitude => number(data, 10).is_some_and(|v| v <= 3_600_000_000),
        Linter::Iso3166 => listed(CODES_ISO3166, data),
        Linter::Iso3166999 => data == b"999" || listed(CODES_ISO3166, data),
        Linter::Iso3166alpha2 => listed(CODES_ISO3166ALPHA2, data),
        Linter::Iso4217 => listed(CODES_ISO4217, data),
        Linter::Mediatype => listed(CODES_MEDIATYPE, data),
        Linter::Packagetype => listed(CODES_PACKAGETYPE, data),
        Linter::Importeridx => {
            matches!(data, [b] if b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        }
        Linter::Pcenc => percent_sequences_ok(data),
        Linter::Pieceoftotal => piece_of_total(data),
        Linter::Posinseqslash => position_in_sequence(data),
        Linter::Iban => iban(data),
        Linter::Couponcode => coupon::north_american(data).is_some(),
        Linter::Couponposoffer => coupon::positive_offer(data).is_some(),
    };
    if ok { Ok(()) } else { Err(reason(linter)) }
}

/// The message for a value a linter refuses.
fn reason(linter: Linter) -> &'static str {
    match linter {
        Linter::Csum => "invalid check digit",
        Linter::Csumalpha => "invalid check character pair",
        Linter::Zero => "digit must be 0",
        Linter::Nozeroprefix => "must not start with 0",
        Linter::Hasnondigit => "must contain a non-digit",
        Linter::Nonzero => "must not be zero",
        Linter::Gcppos1 | Linter::Gcppos2 => "does not start with a GS1 Company Prefix",
        Linter::Yymmd0 | Linter::Yymmdd | Linter::Yyyymmdd => "is not a valid date",
        Linter::Hh | Linter::Mi | Linter::Ss | Linter::Hhmi => "is not a valid time",
        Linter::Yesno => "must be 0 or 1",
        Linter::Winding => "winding direction must be 0, 1 or 9",
        Linter::Iso5218 => "is not an ISO/IEC 5218 sex code",
        Linter::Hyphen => "must be a hyphen",
        Linter::Latitude => "latitude out of range",
        Linter::Longitude => "longitude out of range",
        Linter::Iso3166 | Linter::Iso3166999 => "is not an ISO 3166 numeric country code",
        Linter::Iso3166alpha2 => "is not an ISO 3166 alpha-2 country code",
        Linter::Iso4217 => "is not an ISO 4217 numeric currency code",
        Linter::Mediatype => "is not an AIDC media type",
        Linter::Packagetype => "is not a package type code",
        Linter::Importeridx => "is not an importer index",
        Linter::Pcenc => "contains an invalid percent sequence",
        Linter::Pieceoftotal => "is not a valid piece of total",
        Linter::Posinseqslash => "is not a valid position in sequence",
        Linter::Iban => "is not a valid IBAN",
        Linter::Couponcode | Linter::Couponposoffer => "is not a valid coupon code",
    }
}

/// The value of exactly `len` ASCII digits.
fn number(data: &[u8], len: usize) -> Option<u64> {
    (data.len() == len && data.iter().all(u8::is_ascii_digit))
        .then(|| data.iter().fold(0, |n, &b| n * 10 + u64::from(b - b'0')))
}

fn listed(codes: &[&str], data: &[u8]) -> bool {
    codes.binary_search_by(|c| c.as_bytes().cmp(data)).is_ok()
}

/// The shortest GS1 Company Prefix is four digits, so a GCP at `offset` means four digits there. (Whether that
/// prefix is allocated needs GS1's registry, which the syntax checks leave out.)
fn gcp_at(data: &[u8], offset: usize) -> bool {
    data.get(offset..offset + 4)
        .is_some_and(|gcp| gcp.iter().all(u8::is_ascii_digit))
}

fn days_in_month(year: u64, month: u64) -> u64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// YYYYMMDD; with `day_zero`, DD may be 00 (day not given).
fn long_date(data: &[u8], day_zero: bool) -> bool {
    let Some(year) = data.get(..4).and_then(|y| number(y, 4)) else {
        return false;
    };
    date_rest(year, &data[4..], day_zero)
}

/// YYMMDD, the century chosen with a sliding window around 2021 (as GS1's engine does: YY 72–99 are 19YY, others
/// 20YY); only leap years depend on it.
fn short_date(data: &[u8], day_zero: bool) -> bool {
    let Some(yy) = data.get(..2).and_then(|y| number(y, 2)) else {
        return false;
    };
    let year = if yy >= 72 { 1900 + yy } else { 2000 + yy };
    date_rest(year, &data[2..], day_zero)
}

fn date_rest(year: u64, mmdd: &[u8], day_zero: bool) -> bool {
    let (Some(month), Some(day)) = (
        mmdd.get(..2).and_then(|m| number(m, 2)),
        mmdd.get(2..).and_then(|d| number(d, 2)),
    ) else {
        return false;
    };
    (1..=12).contains(&month) && day <= days_in_month(year, month) && (day >= 1 || day_zero)
}

/// Every `%` is followed by two hexadecimal digits.
fn percent_sequences_ok(data: &[u8]) -> bool {
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'%' {
            match data.get(i + 1..i + 3) {
                Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// PPTT: an even number of digits, piece and total of equal width, neither zero, piece not above total.
fn piece_of_total(data: &[u8]) -> bool {
    if data.is_empty() || data.len() % 2 != 0 || !data.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (piece, total) = data.split_at(data.len() / 2);
    let zero = |d: &[u8]| d.iter().all(|&b| b == b'0');
    !zero(piece) && !zero(total) && piece <= total
}

/// `<pos>/<end>`: two digit runs without leading zeros, pos not above end.
fn position_in_sequence(data: &[u8]) -> bool {
    let Some(slash) = data.iter().position(|&b| b == b'/') else {
        return false;
    };
    let (pos, end) = (&data[..slash], &data[slash + 1..]);
    let digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    if !digits(pos) || !digits(end) || pos[0] == b'0' || end[0] == b'0' {
        return false;
    }
    // no leading zeros, so the longer number is the larger
    pos.len() < end.len() || (pos.len() == end.len() && pos <= end)
}

/// ISO 13616: a listed alpha-2 country, 11 to 34 characters of digits and capitals, mod 97 == 1 with the first
/// four characters moved to the end and letters counted as 10..35.
fn iban(data: &[u8]) -> bool {
    if data.len() < 4
        || !listed(CODES_ISO3166ALPHA2, &data[..2])
        || !(11..=34).contains(&data.len())
    {
        return false;
    }
    let mut rem = 0u32;
    for &b in data[4..].iter().chain(&data[..4]) {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = (rem * if value < 10 { 10 } else { 100 } + value) % 97;
    }
    rem == 1
}

/// The two North American coupon formats: a cursor over the digits, each field read in turn. `None` = refused.
mod coupon {
    struct Fields<'a> {
        rest: &'a [u8],
    }

    impl<'a> Fields<'a> {
        fn new(data: &'a [u8]) -> Option<Self> {
            data.iter()
                .all(u8::is_ascii_digit)
                .then_some(Self { rest: data })
        }

        fn digit(&mut self) -> Option<u8> {
            let (&d, rest) = self.rest.split_first()?;
            self.rest = rest;
            Some(d - b'0')
        }

        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            (self.rest.len() >= n).then(|| {
                let (taken, rest) = self.rest.split_at(n);
                self.rest = rest;
                taken
            })
        }

        /// An optional field, announced by its indicator digit.
        fn opens(&mut self, indicator: u8) -> bool {
            let open = self.rest.first() == Some(&(b'0' + indicator));
            if open {
                self.rest = &self.rest[1..];
            }
            open
        }

        /// A GS1 Company Prefix preceded by its length indicator (`vli` + 6 digits).
        fn gcp(&mut self, max_vli: u8) -> Option<()> {
            let vli = self.digit().filter(|&v| v <= max_vli)?;
            super::gcp_at(self.take(usize::from(vli) + 6)?, 0).then_some(())
        }

        /// A value preceded by its length indicator (1 to 5 digits).
        fn counted(&mut self) -> Option<()> {
            let vli = self.digit().filter(|v| (1..=5).contains(v))?;
            self.take(usize::from(vli)).map(drop)
        }

        /// Purchase requirement: counted value, code 0-4 or 9, then a 3-digit family code.
        fn requirement(&mut self) -> Option<()> {
            self.counted()?;
            self.digit().filter(|&c| c <= 4 || c == 9)?;
            self.take(3).map(drop)
        }

        /// An additional purchase's GCP: `9` for none, else as `gcp`.
        fn optional_gcp(&mut self) -> Option<()> {
            if self.rest.first() == Some(&b'9') {
                self.rest = &self.rest[1..];
                return Some(());
            }
            self.gcp(6)
        }

        fn date(&mut self) -> Option<&'a [u8]> {
            let date = self.take(6)?;
            super::short_date(date, false).then_some(date)
        }
    }

    /// AI (8110), North American Coupon Code.
    pub(super) fn north_american(data: &[u8]) -> Option<()> {
        let mut f = Fields::new(data)?;
        f.gcp(6)?;
        f.take(6)?; // offer code
        f.counted()?; // save value
        f.requirement()?;
        if f.opens(1) {
            f.digit().filter(|&c| c <= 3)?; // additional purchase rules
            f.requirement()?;
            f.optional_gcp()?;
        }
        if f.opens(2) {
            f.requirement()?;
            f.optional_gcp()?;
        }
        let expiry = if f.opens(3) { Some(f.date()?) } else { None };
        if f.opens(4) {
            let start = f.date()?;
            if expiry.is_some_and(|e| start > e) {
                return None;
            }
        }
        if f.opens(5) {
            let vli = f.digit()?;
            f.take(usize::from(vli) + 6)?;
        }
        if f.opens(6) {
            let vli = f.digit().filter(|v| (1..=7).contains(v))?;
            super::gcp_at(f.take(usize::from(vli) + 6)?, 0).then_some(())?;
        }
        if f.opens(9) {
            f.digit().filter(|c| matches!(c, 0..=2 | 5 | 6))?; // save value code
            f.digit().filter(|&c| c <= 2)?; // applies to item
            f.digit()?; // store coupon flag
            f.digit().filter(|&c| c <= 1)?; // don't multiply flag
        }
        f.rest.is_empty().then_some(())
    }

    /// AI (8112), positive offer file coupon.
    pub(super) fn positive_offer(data: &[u8]) -> Option<()> {
        let mut f = Fields::new(data)?;
        f.digit().filter(|&c| c <= 1)?; // format code
        let vli = f.digit().filter(|&v| v <= 6)?;
        f.take(usize::from(vli) + 6)?; // funder ID
        f.take(6)?; // offer code
        let vli = f.digit()?;
        f.take(usize::from(vli) + 6)?; // serial number
        f.rest.is_empty().then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ai_table::LINTERS;
    use super::*;

    /// Every linter refuses something and accepts something; the pairs below are written from the linters'
    /// definitions (dates from the calendar, codes from the ISO lists, IBANs from ISO 13616's examples).
    const CASES: &[(&str, &str, &str)] = &[
        // (linter, accepted, refused)
        (
            "couponcode",
            "012345612345611110123",
            "012345612345611110124X",
        ),
        (
            "couponposoffer",
            "001234561234560123456",
            "0012345612345601234567",
        ),
        ("csum", "09520123456788", "09520123456787"),
        (
            "csumalpha",
            "1987654Ad4X4bL5ttr2310c2K",
            "1987654Ad4X4bL5ttr2310cXK",
        ),
        ("gcppos1", "0614", "061A"),
        ("gcppos2", "10614", "1061"),
        ("hasnondigit", "12A", "123"),
        ("hh", "23", "24"),
        ("hhmi", "2359", "2360"),
        ("hyphen", "-", "+"),
        ("iban", "GB98MIDL07009312345678", "GB98MIDL07009312345679"),
        ("importeridx", "_", "."),
        ("iso3166", "826", "999"),
        ("iso3166999", "999", "998"),
        ("iso3166alpha2", "GB", "UK"),
        ("iso4217", "978", "977X"),
        ("iso5218", "9", "3"),
        ("latitude", "1800000000", "1800000001"),
        ("longitude", "3600000000", "3600000001"),
        ("mediatype", "80", "11"),
        ("mi", "59", "60"),
        ("nonzero", "0001", "0000"),
        ("nozeroprefix", "0", "01"),
        ("packagetype", "RB1", "RB4"),
        ("pcenc", "A%20B", "A%2"),
        ("pieceoftotal", "0203", "0302"),
        ("posinseqslash", "9/10", "10/9"),
        ("ss", "00", "61"),
        ("winding", "9", "2"),
        ("yesno", "1", "2"),
        ("yymmd0", "200600", "201332"),
        ("yymmdd", "240229", "230229"),
        ("yyyymmdd", "20000229", "21000229"),
        ("zero", "0", "1"),
    ];

    #[test]
    fn every_linter_accepts_and_refuses() {
        for &(linter, name) in LINTERS {
            let (_, good, bad) = CASES
                .iter()
                .find(|c| c.0 == name)
                .unwrap_or_else(|| panic!("no case for linter {name}"));
            assert_eq!(run(linter, good.as_bytes()), Ok(()), "{name} {good}");
            assert!(run(linter, bad.as_bytes()).is_err(), "{name} {bad}");
        }
        assert_eq!(CASES.len(), LINTERS.len());
    }

    #[test]
    fn dates() {
        let d0 = |s: &str| short_date(s.as_bytes(), true);
        let d = |s: &str| short_date(s.as_bytes(), false);
        assert!(d0("200600") && !d("200600"));
        assert!(d("000229") && d("960229") && !d("210229") && !d("200230"));
        assert!(!d("201310") && !d("200010") && !d("200431") && d("200430"));
        assert!(!d("20043") && !d("2004301"));
        assert!(long_date(b"20240229", false) && !long_date(b"19000229", false));
    }

    #[test]
    fn sequences_and_pieces() {
        for ok in ["1/1", "9/10", "100/100", "998/999"] {
            assert!(position_in_sequence(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", "/", "1/", "/1", "0/1", "1/0", "01/2", "1//2", "2/1", "101/100", "x/y",
        ] {
            assert!(!position_in_sequence(bad.as_bytes()), "{bad}");
        }
        for ok in ["11", "0103", "998999"] {
            assert!(piece_of_total(ok.as_bytes()), "{ok}");
        }
        for bad in ["", "1", "01", "10", "0000", "21", "100099"] {
            assert!(!piece_of_total(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn ibans() {
        for ok in [
            "FR7630006000011234567890189",
            "DE91100000000123456789",
            "BE71096123456769",
        ] {
            assert!(iban(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "BE71096123456760",
            "XX361234567890",
            "BE71",
            "LC14BOSLxx3456789012345678901230",
        ] {
            assert!(!iban(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn coupons() {
        let nacc = |s: &str| coupon::north_american(s.as_bytes()).is_some();
        assert!(nacc("012345612345611110123"));
        // optional fields: 3 (expiry) then 4 (start, not after expiry)
        assert!(nacc("0123456123456111101233201231"));
        assert!(nacc("01234561234561111012332012314201201"));
        assert!(!nacc("01234561234561111012332012314201231x"));
        assert!(!nacc("01234561234561111012332012014201231"));
        assert!(!nacc("71234567890123"));
        let pos = |s: &str| coupon::positive_offer(s.as_bytes()).is_some();
        assert!(pos("061234567890121234569123456789012345"));
        assert!(!pos("201234561234560123456") && !pos("0012345612345601234567"));
    }
}
