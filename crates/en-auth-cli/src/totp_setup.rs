//! `MFA_SETUP` on the terminal: the new authenticator-app secret shown as a QR code (its
//! `otpauth://` URI, drawn with Unicode half blocks), then the app's first code asked for.

use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use secrecy::{ExposeSecret, SecretString};

/// The QR code of `uri` as lines of Unicode half blocks (two modules a character), light
/// modules drawn dark so that it reads on a dark terminal, with its quiet zone. `None` if the
/// URI is too long for a QR code.
pub fn qr_code(uri: &SecretString) -> Option<String> {
    let code = QrCode::new(uri.expose_secret().as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_becomes_a_square_of_half_blocks() {
        let uri = SecretString::from(
            "otpauth://totp/AWSCognito:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=AWSCognito",
        );
        let qr = qr_code(&uri).unwrap();
        let lines: Vec<&str> = qr.lines().collect();
        let width = lines[0].chars().count();
        // Two modules a line: about half as many lines as columns, all of one width.
        assert!(
            lines.len() * 2 >= width && lines.len() * 2 <= width + 2,
            "{qr}"
        );
        assert!(lines.iter().all(|l| l.chars().count() == width));
        assert!(qr
            .chars()
            .all(|c| " \u{2580}\u{2584}\u{2588}\n".contains(c)));
        assert!(!qr.contains("JBSWY3DP"), "the secret is drawn, not written");
    }
}
