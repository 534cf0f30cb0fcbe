//! [`printable`]: text a server sent, made safe to quote in an error, a log line or a terminal.

/// `text` cut to `max` characters (with `…` when cut), with every control character (C0, DEL,
/// C1: escape sequences, bell, carriage return, line feed), the line and paragraph separators
/// (U+2028, U+2029), the byte-order mark (U+FEFF) and every bidirectional-text control (U+061C,
/// U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: the "Trojan Source" characters,
/// CVE-2021-42574) replaced by a space, so that what a server sent cannot rewrite the terminal
/// it is printed on, forge log lines or reorder what is shown.
///
/// The flows quote token endpoints' and Cognito's error texts through it; `usize::MAX` keeps
/// the whole text.
///
/// ```
/// assert_eq!(
///     en_auth_core::printable("bad\u{1b}[2J scope\u{202e}", usize::MAX),
///     "bad [2J scope "
/// );
/// assert_eq!(en_auth_core::printable("abcdef", 3), "abc…");
/// ```
pub fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if unsafe_to_print(c) { ' ' } else { c })
        .collect();
    if max < usize::MAX && text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A control character, or a bidirectional-text control.
fn unsafe_to_print(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_become_spaces() {
        let hostile = "a\u{7}b\u{1b}]0;t\u{9c}c\r\nd\u{202e}e\u{2066}f\u{200f}g\u{61c}h\u{7f}i\u{2028}j\u{feff}";
        assert_eq!(printable(hostile, usize::MAX), "a b ]0;t c  d e f g h i j ");
        assert_eq!(
            printable("plain text, é ü ✓", usize::MAX),
            "plain text, é ü ✓"
        );
        assert_eq!(printable("12345", 5), "12345");
        assert_eq!(printable("123456", 5), "12345…");
    }
}
