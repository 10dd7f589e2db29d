//! A tenant's accent colour and logo: the two branding values an operator gives that end
//! up on every page of the tenant. Each has one rule here; pages, the admin API, the CLI
//! and the console all go through it, and what it returns is all a page ever renders.

use super::FieldError;

pub const KEY_ACCENT_COLOUR: &str = "field.accent_colour.invalid";
pub const KEY_ACCENT_CONTRAST: &str = "field.accent_colour.contrast";
pub const KEY_LOGO_NOT_PNG: &str = "field.logo.not_png";
pub const KEY_LOGO_SVG: &str = "field.logo.svg";
pub const KEY_LOGO_TOO_LARGE: &str = "field.logo.too_large";

/// Contrast the accent colour must reach against white (WCAG 2 AA for body text): it is
/// the background of buttons with white text and the colour of links on white.
pub const MIN_CONTRAST: f64 = 4.5;

/// Largest logo accepted, in bytes: a header logo needs far less, the image is stored in
/// the database, and the console's upload form must stay within a page form's 48 KiB.
pub const MAX_LOGO_BYTES: usize = 48 * 1024;

/// Largest logo side, in pixels.
pub const MAX_LOGO_SIDE: u32 = 1024;

/// An accent colour: `#` and six hexadecimal digits (kept in lower case), dark enough that
/// white text on it and it on white both reach [`MIN_CONTRAST`]. Nothing else (no names,
/// no `#rgb`, no `rgb()`): the value goes into a style sheet, so only a shape that cannot
/// close a declaration is ever accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccentColour(String);
super::text_type!(AccentColour);

impl AccentColour {
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let shape = value.len() == 7 && value.starts_with('#') && value[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !shape {
            return Err(FieldError::new("accent_colour", KEY_ACCENT_COLOUR, "accent_colour: # and six hexadecimal digits, e.g. #1a4f8b"));
        }
        let colour = value.to_ascii_lowercase();
        let ratio = contrast_with_white(&colour);
        if ratio < MIN_CONTRAST {
            return Err(FieldError::new(
                "accent_colour",
                KEY_ACCENT_CONTRAST,
                format!("accent_colour: contrast with white is {ratio:.2}:1, at least {MIN_CONTRAST}:1 is needed (choose a darker colour)"),
            ));
        }
        Ok(AccentColour(colour))
    }
}

/// WCAG 2 contrast ratio of `#rrggbb` against white.
fn contrast_with_white(colour: &str) -> f64 {
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(&colour[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if v <= 0.03928 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    1.05 / (luminance + 0.05)
}

/// A logo: a PNG (checked by its signature and its first chunk, not by a name or a
/// declared type) of at most [`MAX_LOGO_BYTES`] and [`MAX_LOGO_SIDE`] pixels a side.
///
/// SVG is refused: it is a document that can carry scripts and links, and a logo is shown
/// on the login page; a PNG is inert. JPEG and others are not needed for a header logo.
/// Mamori serves the accepted bytes itself, as `image/png` with `nosniff` and a sandbox
/// CSP, so the login page fetches nothing from a third party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo(Vec<u8>);

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

impl Logo {
    pub fn parse(bytes: &[u8]) -> Result<Self, FieldError> {
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(too_large(format!("logo: {} bytes, at most {MAX_LOGO_BYTES}", bytes.len())));
        }
        let text_start = bytes.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &bytes[i..]);
        if text_start.is_some_and(|t| t.starts_with(b"<") || t.starts_with(b"\xef\xbb\xbf<")) {
            return Err(FieldError::new("logo", KEY_LOGO_SVG, "logo: SVG and other markup is refused (it can carry scripts); give a PNG"));
        }
        // Signature, then IHDR first with its fixed length of 13 (PNG spec 11.2.2).
        let header_ok = bytes.len() >= 33 && bytes[..8] == PNG_SIGNATURE && bytes[8..12] == [0, 0, 0, 13] && &bytes[12..16] == b"IHDR";
        if !header_ok {
            return Err(FieldError::new("logo", KEY_LOGO_NOT_PNG, "logo: not a PNG image"));
        }
        let side = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let (width, height) = (side(16), side(20));
        if width == 0 || height == 0 {
            return Err(FieldError::new("logo", KEY_LOGO_NOT_PNG, "logo: not a PNG image"));
        }
        if width > MAX_LOGO_SIDE || height > MAX_LOGO_SIDE {
            return Err(too_large(format!("logo: {width}×{height} pixels, at most {MAX_LOGO_SIDE} a side")));
        }
        // The header alone proves little: the whole image must decode (every chunk's CRC,
        // the pixel data within a bound of memory) and end at IEND, with nothing after it
        // that another reader could take for another format.
        if !ends_at_iend(bytes) || !decodes(bytes) {
            return Err(FieldError::new("logo", KEY_LOGO_NOT_PNG, "logo: not a complete, readable PNG image"));
        }
        Ok(Logo(bytes.to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// Walks the chunks (length, type, data, CRC) from the signature: the last one is IEND
/// and ends the file exactly.
fn ends_at_iend(bytes: &[u8]) -> bool {
    let mut at = PNG_SIGNATURE.len();
    while let Some(head) = bytes.get(at..at + 8) {
        let length = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let Some(next) = at.checked_add(12).and_then(|n| n.checked_add(length)) else { return false };
        if next > bytes.len() {
            return false;
        }
        if &head[4..8] == b"IEND" {
            return next == bytes.len();
        }
        at = next;
    }
    false
}

/// The image decodes in full, within a memory bound fit for the largest logo (1024 × 1024
/// pixels of 16-bit RGBA is 8 MiB), so a small file that inflates to gigabytes is refused.
fn decodes(bytes: &[u8]) -> bool {
    let limits = png::Limits { bytes: 16 * 1024 * 1024 };
    let Ok(mut reader) = png::Decoder::new_with_limits(std::io::Cursor::new(bytes), limits).read_info() else { return false };
    let Some(size) = reader.output_buffer_size() else { return false };
    let mut pixels = vec![0; size];
    reader.next_frame(&mut pixels).is_ok() && reader.finish().is_ok()
}

fn too_large(detail: String) -> FieldError {
    FieldError::new("logo", KEY_LOGO_TOO_LARGE, detail)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 1×1 PNG (signature, IHDR, IDAT, IEND with their CRCs).
    pub(crate) const TINY_PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63,
        0x90, 0xf2, 0xef, 0xfe, 0x0f, 0x00, 0x03, 0x6f, 0x01, 0xf4, 0x16, 0x5a, 0x5d, 0x69, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
        0xae, 0x42, 0x60, 0x82,
    ];

    #[test]
    fn an_accent_colour_is_six_hex_digits_dark_enough_for_white_text() {
        assert_eq!(AccentColour::parse("#1A4F8B").map(AccentColour::into_string), Ok("#1a4f8b".to_owned()));
        assert!(AccentColour::parse("#000000").is_ok());
        // Pure blue passes AA with white (8.6:1); the default link blue too.
        assert!(AccentColour::parse("#0000ff").is_ok());
        // Hostile or merely other shapes: never into a style sheet.
        for value in [
            "red;}body{display:none",
            "#1a4f8b;}body{display:none",
            "red",
            "#fff",
            "#1a4f8",
            "#1a4f8b0",
            "1a4f8b",
            "#gg0000",
            "",
            " #1a4f8b",
            "rgb(0,0,0)",
            "#1a4f8b\n",
        ] {
            assert_eq!(AccentColour::parse(value).map_err(|e| e.key), Err(KEY_ACCENT_COLOUR), "{value:?}");
        }
        // The right shape, too light: white text on it would not be readable.
        for value in ["#ffffff", "#ffff00", "#ff8800", "#87ceeb", "#777777"] {
            assert_eq!(AccentColour::parse(value).map_err(|e| e.key), Err(KEY_ACCENT_CONTRAST), "{value:?}");
        }
        // Just either side of 4.5:1 (#767676 is 4.54:1, #777777 4.48:1).
        assert!(AccentColour::parse("#767676").is_ok());
    }

    #[test]
    fn a_logo_is_a_small_png_by_its_bytes_not_its_name() {
        let logo = Logo::parse(TINY_PNG).expect("a real PNG");
        assert_eq!(logo.as_bytes(), TINY_PNG);
        let key = |bytes: &[u8]| Logo::parse(bytes).map(|_| ()).map_err(|e| e.key);
        // SVG with a script, with or without an XML declaration, BOM or leading space.
        assert_eq!(key(b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"), Err(KEY_LOGO_SVG));
        assert_eq!(key(b"\n  <?xml version=\"1.0\"?><svg onload=\"alert(1)\"/>"), Err(KEY_LOGO_SVG));
        assert_eq!(key(b"\xef\xbb\xbf<svg/>"), Err(KEY_LOGO_SVG));
        // Wrong magic bytes: a GIF, a JPEG, HTML after a PNG-looking start, a truncated PNG.
        assert_eq!(key(b"GIF89a\x01\x00\x01\x00\x00\x00\x00"), Err(KEY_LOGO_NOT_PNG));
        assert_eq!(key(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10, b'J', b'F', b'I', b'F']), Err(KEY_LOGO_NOT_PNG));
        assert_eq!(key(&TINY_PNG[..20]), Err(KEY_LOGO_NOT_PNG));
        let mut not_ihdr = TINY_PNG.to_vec();
        not_ihdr[12..16].copy_from_slice(b"tEXt");
        assert_eq!(key(&not_ihdr), Err(KEY_LOGO_NOT_PNG));
        assert_eq!(key(b""), Err(KEY_LOGO_NOT_PNG));
        // Oversized: in bytes, and in pixels with few bytes.
        let mut big = TINY_PNG.to_vec();
        big.resize(MAX_LOGO_BYTES + 1, 0);
        assert_eq!(key(&big), Err(KEY_LOGO_TOO_LARGE));
        let mut wide = TINY_PNG.to_vec();
        wide[16..20].copy_from_slice(&(MAX_LOGO_SIDE + 1).to_be_bytes());
        assert_eq!(key(&wide), Err(KEY_LOGO_TOO_LARGE));
        // A large but honest logo: 1024 × 1024, a text chunk (harmless: served as image/png).
        let honest = encoded(MAX_LOGO_SIDE, MAX_LOGO_SIDE, Some("<script>alert(1)</script>"));
        assert!(honest.len() <= MAX_LOGO_BYTES, "{}", honest.len());
        assert!(Logo::parse(&honest).is_ok());
    }

    /// A grey PNG made by the `png` crate, with a tEXt chunk when given.
    fn encoded(width: u32, height: u32, text: Option<&str>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        if let Some(text) = text {
            encoder.add_text_chunk("Comment".into(), text.into()).expect("text chunk");
        }
        let mut writer = encoder.write_header().expect("header");
        writer.write_image_data(&vec![0x80; (width * height) as usize]).expect("pixels");
        writer.finish().expect("IEND");
        out
    }

    #[test]
    fn a_logo_must_decode_in_full_and_end_at_iend() {
        let key = |bytes: &[u8]| Logo::parse(bytes).map(|_| ()).map_err(|e| e.key);
        assert_eq!(key(TINY_PNG), Ok(()));
        // A broken CRC in the image data.
        let mut crc = TINY_PNG.to_vec();
        crc[55] ^= 0xff;
        assert_eq!(key(&crc), Err(KEY_LOGO_NOT_PNG));
        // A polyglot: HTML after IEND; and a file cut before IEND.
        let mut polyglot = TINY_PNG.to_vec();
        polyglot.extend_from_slice(b"<html><script>alert(1)</script></html>");
        assert_eq!(key(&polyglot), Err(KEY_LOGO_NOT_PNG));
        assert_eq!(key(&TINY_PNG[..TINY_PNG.len() - 12]), Err(KEY_LOGO_NOT_PNG));
        assert_eq!(key(&TINY_PNG[..60]), Err(KEY_LOGO_NOT_PNG));
        // A chunk length that points past the end (or overflows) is refused, not trusted.
        let mut lying = TINY_PNG.to_vec();
        lying[33..37].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(key(&lying), Err(KEY_LOGO_NOT_PNG));
    }
}
