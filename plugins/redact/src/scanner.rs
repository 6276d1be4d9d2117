//! The hand-written scanner that finds e-mail addresses and card numbers.
//!
//! One pass over the text, no regex engine (it would add hundreds of KiB to the
//! plugin). Both patterns start at ASCII bytes (`@`, a digit) that never occur inside
//! a multi-byte UTF-8 sequence, so every slice boundary below is a char boundary.

use std::borrow::Cow;

/// What replaces the local part of an e-mail address.
const EMAIL_MASK: &str = "***@";
/// What replaces all but the last four digits of a card number.
const CARD_MASK: &str = "****-****-****-";

/// Card numbers have 13 to 19 digits (ISO/IEC 7812).
const CARD_DIGITS: std::ops::RangeInclusive<usize> = 13..=19;

/// Masks every e-mail address and payment card number in `text`; borrows `text`
/// when there is none.
///
/// - `ada@example.com` → `***@example.com`: the domain is kept. The local part is
///   letters (any script), digits and `._%+-`; the domain needs a dot and a
///   top-level label of two or more ASCII letters.
/// - `4111 1111 1111 1111` → `****-****-****-1111`: 13 to 19 digits, optionally
///   separated by single spaces or dashes, that pass the Luhn check, with no letter,
///   digit or decimal point directly before or after. Other numbers (phone numbers,
///   dates, amounts, numbers failing Luhn) are left alone.
pub fn redact(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    // Everything before `copied` is already in `out`.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => {
                let run = digit_run(text, i);
                if run.is_card {
                    out.push_str(&text[copied..i]);
                    out.push_str(CARD_MASK);
                    out.push_str(&run.last_four);
                    copied = run.end;
                }
                // A rejected run is skipped whole: no card starts inside it.
                i = run.end;
            }
            b'@' => match email_around(text, i, copied) {
                Some((start, end)) => {
                    out.push_str(&text[copied..start]);
                    out.push_str(EMAIL_MASK);
                    out.push_str(&text[i + 1..end]);
                    copied = end;
                    i = end;
                }
                None => i += 1,
            },
            _ => i += 1,
        }
    }
    if copied == 0 {
        Cow::Borrowed(text)
    } else {
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }
}

/// A maximal run of digits separated by single spaces or dashes.
struct DigitRun {
    /// Just past the run's last digit.
    end: usize,
    /// Whether the run is a card number (length, Luhn, boundaries).
    is_card: bool,
    /// The run's last four digits.
    last_four: String,
}

/// Reads the run of digits starting at `start`, which holds a digit.
fn digit_run(text: &str, start: usize) -> DigitRun {
    let bytes = text.as_bytes();
    let mut digits: Vec<u8> = Vec::new();
    let mut i = start;
    loop {
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            digits.push(b - b'0');
            i += 1;
        }
        // One separator, then a digit, continues the run.
        let separated = matches!(bytes.get(i), Some(b' ' | b'-'))
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if !separated {
            break;
        }
        i += 1;
    }
    let end = i;
    let is_card = CARD_DIGITS.contains(&digits.len())
        && clear_before(bytes, start)
        && clear_after(bytes, end)
        && luhn(&digits);
    let last_four = digits[digits.len().saturating_sub(4)..]
        .iter()
        .map(|d| char::from(b'0' + d))
        .collect();
    DigitRun {
        end,
        is_card,
        last_four,
    }
}

/// No letter or digit directly before `start`, and no `1.` or `1,` (the run would be
/// the fraction of a decimal number).
fn clear_before(bytes: &[u8], start: usize) -> bool {
    match start.checked_sub(1).map(|i| bytes[i]) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() => false,
        Some(b'.' | b',') => !start
            .checked_sub(2)
            .is_some_and(|i| bytes[i].is_ascii_digit()),
        Some(_) => true,
    }
}

/// No letter or digit directly after `end`, and no `.5` or `,5`.
fn clear_after(bytes: &[u8], end: usize) -> bool {
    match bytes.get(end) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() => false,
        Some(b'.' | b',') => !bytes.get(end + 1).is_some_and(u8::is_ascii_digit),
        Some(_) => true,
    }
}

/// The Luhn checksum of card numbers: from the right, double every second digit
/// (subtracting 9 above 9), and the sum must end in 0.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The byte range (start of the local part, end of the domain) of an e-mail address
/// whose `@` is at `at`, not reaching before `floor`.
fn email_around(text: &str, at: usize, floor: usize) -> Option<(usize, usize)> {
    // Local part: back from the `@` over letters, digits and `._%+-`.
    let before = &text[floor..at];
    let taken: usize = before
        .chars()
        .rev()
        .take_while(|&c| c.is_alphanumeric() || "._%+-".contains(c))
        .map(char::len_utf8)
        .sum();
    let local = before[before.len() - taken..].trim_start_matches('.');
    if local.is_empty() || !local.chars().any(char::is_alphanumeric) {
        return None;
    }
    let start = at - local.len();

    // Domain: forward over ASCII letters, digits, `-` and `.`; a trailing `.` or `-`
    // is punctuation after the address, not part of it.
    let rest = &text[at + 1..];
    let scanned = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
        .count();
    let domain = rest[..scanned].trim_end_matches(['.', '-']);
    valid_domain(domain).then(|| (start, at + 1 + domain.len()))
}

/// At least two non-empty labels that do not start or end with `-`; the last one
/// (the top-level domain) is two or more letters.
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let Some(top) = labels.last() else {
        return false;
    };
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && top.len() >= 2
        && top.bytes().all(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(text: &str) -> String {
        redact(text).into_owned()
    }

    #[test]
    fn emails_keep_their_domain() {
        assert_eq!(r("ada@example.com"), "***@example.com");
        assert_eq!(
            r("write to first.last+tag@mail.example.co.uk today"),
            "write to ***@mail.example.co.uk today"
        );
        assert_eq!(r("<ada_l@ex-ample.org>"), "<***@ex-ample.org>");
    }

    #[test]
    fn email_followed_by_punctuation() {
        assert_eq!(r("mail ada@example.com."), "mail ***@example.com.");
        assert_eq!(r("(ada@example.com), ok"), "(***@example.com), ok");
        assert_eq!(r("ada@example.com- bob"), "***@example.com- bob");
    }

    #[test]
    fn not_emails() {
        for text in [
            "@example.com",
            "ada@",
            "ada@localhost",
            "ada@example.c",
            "ada@10.0.0.1",
            "ada@-example.com",
            "ada@example..com",
            "a @ b.com",
            "...@example.com",
            "price @ 5.00",
            "@@",
        ] {
            assert_eq!(r(text), text, "{text}");
        }
    }

    #[test]
    fn unicode_around_and_inside_emails() {
        assert_eq!(
            r("Café ☕: josé@example.com → ok"),
            "Café ☕: ***@example.com → ok"
        );
        assert_eq!(r("«ada@example.com»"), "«***@example.com»");
        assert_eq!(r("名前：ada@example.jp です"), "名前：***@example.jp です");
    }

    #[test]
    fn card_numbers_keep_the_last_four_digits() {
        assert_eq!(r("4111111111111111"), "****-****-****-1111");
        assert_eq!(
            r("card 4111 1111 1111 1111 ok"),
            "card ****-****-****-1111 ok"
        );
        assert_eq!(r("5500-0000-0000-0004"), "****-****-****-0004");
        // 15-digit American Express, 13-digit Visa, 19 digits.
        assert_eq!(r("3782 822463 10005"), "****-****-****-0005");
        assert_eq!(r("4222222222222"), "****-****-****-2222");
        assert_eq!(r("6011 0009 9013 9424 009"), "****-****-****-4009");
    }

    #[test]
    fn numbers_failing_luhn_or_length_stay() {
        for text in [
            "4111 1111 1111 1112",     // Luhn fails
            "1234567890123",           // Luhn fails
            "411111111111",            // 12 digits
            "41111111111111111111111", // 23 digits
            "4111  1111 1111 1111",    // double space splits the run
            "4111--1111-1111-1111",    // double dash too
        ] {
            assert_eq!(r(text), text, "{text}");
        }
    }

    #[test]
    fn phone_numbers_dates_and_amounts_stay() {
        for text in [
            "call +1 555-123-4567 or +44 20 7946 0958",
            "on 2024-01-15 at 10:30",
            "order 2024-0001-0002-0003",
            "total 1234.56 EUR, pi 3.14159265358979323",
            "id A4111111111111111 and 4111111111111111x",
        ] {
            assert_eq!(r(text), text, "{text}");
        }
    }

    #[test]
    fn several_matches_in_one_text() {
        assert_eq!(
            r(
                "ada@example.com paid with 4111 1111 1111 1111, bob@example.org with 5500000000000004."
            ),
            "***@example.com paid with ****-****-****-1111, ***@example.org with ****-****-****-0004."
        );
    }

    #[test]
    fn unicode_around_cards() {
        assert_eq!(r("№4111-1111-1111-1111 — €"), "№****-****-****-1111 — €");
    }

    #[test]
    fn text_without_matches_is_borrowed() {
        assert!(matches!(redact("nothing here, 123"), Cow::Borrowed(_)));
        assert!(matches!(redact(""), Cow::Borrowed(_)));
    }

    #[test]
    fn luhn_checksum() {
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    }
}
