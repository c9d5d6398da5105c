//! QR codes for labels: the canonical public URI of an identifier, drawn as SVG or PNG. Pure functions, so the
//! HTTP endpoint (`/api/v1/qr/{identifier}`) and `idr qr` draw the same images.

use crate::identifier::did_web::{DidWeb, DidWebError};
use crate::identifier::{IdentifierError, Parser};
use image::ImageEncoder;
use qrcode::{Color, EcLevel, QrCode};

/// Image edge in pixels. Below 64 few printers or phones resolve the modules; above 4096 is a poster, not a label.
pub const SIZES: std::ops::RangeInclusive<u32> = 64..=4096;
pub const DEFAULT_SIZE: u32 = 512;
/// Quiet zone in modules. ISO/IEC 18004 asks for 4; 0 is for layouts that supply their own white space.
pub const MARGINS: std::ops::RangeInclusive<u32> = 0..=16;
pub const DEFAULT_MARGIN: u32 = 4;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Svg,
    Png,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
        }
    }
}

/// Error-correction level: the share of the code that may be damaged or covered (a logo) and still scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Ecc {
    /// About 7 %.
    #[value(name = "L")]
    L,
    /// About 15 %.
    #[default]
    #[value(name = "M")]
    M,
    /// About 25 %.
    #[value(name = "Q")]
    Q,
    /// About 30 %.
    #[value(name = "H")]
    H,
}

impl Ecc {
    fn level(self) -> EcLevel {
        match self {
            Ecc::L => EcLevel::L,
            Ecc::M => EcLevel::M,
            Ecc::Q => EcLevel::Q,
            Ecc::H => EcLevel::H,
        }
    }
}

impl std::fmt::Display for Ecc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ecc::L => "L",
            Ecc::M => "M",
            Ecc::Q => "Q",
            Ecc::H => "H",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error(transparent)]
    Identifier(#[from] IdentifierError),
    #[error(transparent)]
    Did(#[from] DidWebError),
    /// A rendering option is out of range or unknown; `parameter` is its query/flag name.
    #[error("{parameter}: {reason}")]
    Option {
        parameter: &'static str,
        reason: String,
    },
    #[error(
        "the URI ({bytes} bytes) does not fit in a QR code with error correction {ecc}; try a lower level"
    )]
    TooLong { bytes: usize, ecc: Ecc },
    #[error("cannot encode the QR code: {0}")]
    Encode(String),
}

/// How to draw a code; `Options::default()` is an SVG of 512 pixels, margin 4, error correction M.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    pub size: u32,
    pub margin: u32,
    pub ecc: Ecc,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: Format::Svg,
            size: DEFAULT_SIZE,
            margin: DEFAULT_MARGIN,
            ecc: Ecc::M,
        }
    }
}

impl Options {
    /// Checks the ranges of `size` and `margin`.
    pub fn new(format: Format, size: u32, margin: u32, ecc: Ecc) -> Result<Options, QrError> {
        if !SIZES.contains(&size) {
            return Err(option(
                "size",
                format!(
                    "must be {}..={} pixels, not {size}",
                    SIZES.start(),
                    SIZES.end()
                ),
            ));
        }
        if !MARGINS.contains(&margin) {
            return Err(option(
                "margin",
                format!(
                    "must be {}..={} modules, not {margin}",
                    MARGINS.start(),
                    MARGINS.end()
                ),
            ));
        }
        Ok(Options {
            format,
            size,
            margin,
            ecc,
        })
    }

    /// From textual parameters (`format`, `size`, `margin`, `ecc`; `None` is the default), e.g. a query string.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> Result<Options, QrError> {
        let d = Options::default();
        let format = match param("format") {
            None => d.format,
            Some(v) => parse_enum::<Format>("format", &v)?,
        };
        let ecc = match param("ecc") {
            None => d.ecc,
            Some(v) => parse_enum::<Ecc>("ecc", &v)?,
        };
        let number = |name: &'static str, default: u32| match param(name) {
            None => Ok(default),
            Some(v) => v.trim().parse::<u32>().map_err(|_| {
                option(
                    name,
                    format!("must be a whole number, not \"{}\"", excerpt(&v)),
                )
            }),
        };
        Options::new(
            format,
            number("size", d.size)?,
            number("margin", d.margin)?,
            ecc,
        )
    }
}

fn option(parameter: &'static str, reason: String) -> QrError {
    QrError::Option { parameter, reason }
}

/// Case-insensitive, listing the accepted values on failure.
fn parse_enum<T: clap::ValueEnum>(parameter: &'static str, value: &str) -> Result<T, QrError> {
    T::from_str(value.trim(), true).map_err(|_| {
        let accepted: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect();
        option(
            parameter,
            format!(
                "must be one of {}, not \"{}\"",
                accepted.join(", "),
                excerpt(value)
            ),
        )
    })
}

/// Bounds echoed input in messages.
fn excerpt(value: &str) -> String {
    value.chars().take(40).collect()
}

/// Whether a label subject is a DID rather than an identifier path.
pub fn is_did(subject: &str) -> bool {
    subject
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("did:"))
}

/// The URI a label for `subject` carries: `{root}/{public path}` for an identifier as the management API writes it
/// (`01/09520123456788/10/ABC`, `abr/abn/51824753556`), `{root}/{did}` for a did:web DID (what this resolver answers
/// for it). The identifier is validated, so a label never carries a URI that can only answer `400`.
pub fn label_uri(parser: &Parser, root: &str, subject: &str) -> Result<String, QrError> {
    let root = root.trim_end_matches('/');
    if is_did(subject) {
        // UNTP writes DIDs with a trailing slash; the resolver accepts both.
        let did = DidWeb::parse(subject.strip_suffix('/').unwrap_or(subject))?;
        return Ok(format!("{root}/{did}"));
    }
    let key = parser.parse_key(subject)?;
    Ok(key.uri_under(root))
}

/// The label URI of a GS1 identifier with the identifier compressed (GS1 Digital Link URI compression, as GS1's
/// toolkit writes it): `{root}/{segment}`, a shorter URI and so a code no larger, which this resolver (and any that
/// reads compressed URIs) answers like the uncompressed one.
pub fn compressed_label_uri(parser: &Parser, root: &str, subject: &str) -> Result<String, QrError> {
    let root = root.trim_end_matches('/');
    let refuse = |reason: String| option("compressed", reason);
    if is_did(subject) {
        return Err(refuse(
            "compression applies to GS1 Digital Link identifiers, not to DIDs".into(),
        ));
    }
    let id = parser.parse_key(subject)?;
    let Some(key) = id.as_gs1() else {
        return Err(refuse(format!(
            "compression applies to GS1 Digital Link identifiers, not to the {} scheme's",
            id.scheme().namespace
        )));
    };
    let segment = crate::identifier::gs1::compressed_path(key).ok_or_else(|| {
        refuse(format!(
            "{} has an AI that GS1 Digital Link compression cannot carry",
            key.canonical_path()
        ))
    })?;
    Ok(format!("{root}/{segment}"))
}

/// The `compressed` query parameter: absent, `true` or `false`.
pub fn compressed_param(value: Option<&str>) -> Result<bool, QrError> {
    match value.map(str::trim) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(option(
            "compressed",
            format!("must be true or false, not \"{}\"", excerpt(v)),
        )),
    }
}

/// The image bytes of a QR code carrying `uri`.
pub fn render(uri: &str, options: &Options) -> Result<Vec<u8>, QrError> {
    let code =
        QrCode::with_error_correction_level(uri.as_bytes(), options.ecc.level()).map_err(|e| {
            match e {
                qrcode::types::QrError::DataTooLong => QrError::TooLong {
                    bytes: uri.len(),
                    ecc: options.ecc,
                },
                other => QrError::Encode(other.to_string()),
            }
        })?;
    let grid = Grid::new(&code, options.margin as usize);
    match options.format {
        Format::Svg => Ok(svg(&grid, uri, options.size).into_bytes()),
        Format::Png => png(&grid, options.size),
    }
}

/// The module matrix with its quiet zone.
struct Grid {
    width: usize,
    margin: usize,
    dark: Vec<bool>,
}

impl Grid {
    fn new(code: &QrCode, margin: usize) -> Grid {
        Grid {
            width: code.width(),
            margin,
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect(),
        }
    }

    /// Modules per side, quiet zone included.
    fn total(&self) -> usize {
        self.width + 2 * self.margin
    }

    /// Whether module (x, y) is dark, in coordinates that include the quiet zone.
    fn is_dark(&self, x: usize, y: usize) -> bool {
        let (Some(x), Some(y)) = (x.checked_sub(self.margin), y.checked_sub(self.margin)) else {
            return false;
        };
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// One SVG path of the dark modules, a rectangle per horizontal run (a third of the size of a rect per module).
    fn path(&self) -> String {
        let mut d = String::new();
        for y in 0..self.width {
            let mut x = 0;
            while x < self.width {
                let start = x;
                while x < self.width && self.dark[y * self.width + x] {
                    x += 1;
                }
                if x > start {
                    let (left, top, run) = (start + self.margin, y + self.margin, x - start);
                    d.push_str(&format!("M{left} {top}h{run}v1h-{run}z"));
                } else {
                    x += 1;
                }
            }
        }
        d
    }
}

/// A scalable SVG: one unit per module, drawn at `size` pixels. The URI is the image's accessible title.
fn svg(grid: &Grid, uri: &str, size: u32) -> String {
    let total = grid.total();
    let view_box = format!("0 0 {total} {total}");
    let markup = maud::html! {
        (maud::PreEscaped("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"))
        // maud writes `<x></x>` for every element, never HTML void tags, so the output is well-formed XML.
        svg xmlns="http://www.w3.org/2000/svg" width=(size) height=(size) viewBox=(view_box)
            shape-rendering="crispEdges" role="img" {
            title { (uri) }
            rect width=(total) height=(total) fill="#fff" {}
            path d=(grid.path()) fill="#000" {}
        }
    };
    markup.into_string()
}

/// A `size`×`size` greyscale PNG. Modules are whole pixels (blurred edges scan worse); the pixels left over when
/// `size` is not a multiple of the module count widen the quiet zone evenly.
fn png(grid: &Grid, size: u32) -> Result<Vec<u8>, QrError> {
    let total = grid.total() as u32;
    let scale = size / total;
    if scale == 0 {
        return Err(option(
            "size",
            format!("{size} pixels is too small for this code: it needs at least {total}"),
        ));
    }
    let offset = (size - scale * total) / 2;
    let pixel = |p: u32| {
        p.checked_sub(offset)
            .map(|p| (p / scale) as usize)
            .filter(|m| *m < total as usize)
    };
    let image = image::GrayImage::from_fn(size, size, |x, y| {
        let dark = matches!((pixel(x), pixel(y)), (Some(mx), Some(my)) if grid.is_dark(mx, my));
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(image.as_raw(), size, size, image::ExtendedColorType::L8)
        .map_err(|e| QrError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URI: &str = "https://id.example.com/01/09520123456788/10/ABC";

    fn options(format: Format, size: u32, margin: u32, ecc: Ecc) -> Options {
        Options::new(format, size, margin, ecc).expect("valid options")
    }

    /// Decodes a greyscale PNG with rqrr, returning the text and the symbol's version (its size class).
    fn decode_png(bytes: &[u8]) -> (String, usize) {
        let image = image::load_from_memory(bytes).expect("a PNG").to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        let (meta, text) = grids[0].decode().expect("decodes");
        (text, meta.version.0)
    }

    #[test]
    fn png_decodes_to_the_uri_at_the_requested_size() {
        for ecc in [Ecc::L, Ecc::M, Ecc::Q, Ecc::H] {
            let bytes = render(URI, &options(Format::Png, 300, 4, ecc)).unwrap();
            let image = image::load_from_memory(&bytes).unwrap();
            assert_eq!((image.width(), image.height()), (300, 300));
            assert_eq!(decode_png(&bytes).0, URI, "ecc {ecc}");
        }
    }

    #[test]
    fn higher_error_correction_needs_a_bigger_symbol() {
        let version = |ecc| decode_png(&render(URI, &options(Format::Png, 512, 4, ecc)).unwrap()).1;
        assert!(version(Ecc::H) > version(Ecc::L));
    }

    #[test]
    fn margin_zero_starts_with_the_finder_pattern() {
        let code = QrCode::with_error_correction_level(URI, EcLevel::M).unwrap();
        // A size that is a whole multiple of the module count leaves no extra white.
        let size = 8 * code.width() as u32;
        let bytes = render(URI, &options(Format::Png, size, 0, Ecc::M)).unwrap();
        let image = image::load_from_memory(&bytes).unwrap().to_luma8();
        assert_eq!(image.get_pixel(0, 0).0, [0], "top-left finder corner");
        let bytes = render(URI, &options(Format::Png, size, 4, Ecc::M)).unwrap();
        let image = image::load_from_memory(&bytes).unwrap().to_luma8();
        assert_eq!(image.get_pixel(0, 0).0, [255], "quiet zone");
    }

    #[test]
    fn svg_has_one_unit_per_module_and_the_uri_as_title() {
        let code = QrCode::with_error_correction_level(URI, EcLevel::M).unwrap();
        let total = code.width() + 2 * 3;
        let svg =
            String::from_utf8(render(URI, &options(Format::Svg, 256, 3, Ecc::M)).unwrap()).unwrap();
        assert!(svg.starts_with("<?xml"));
        assert!(svg.contains(&format!("viewBox=\"0 0 {total} {total}\"")));
        assert!(svg.contains("width=\"256\" height=\"256\""));
        assert!(svg.contains(&format!("<title>{URI}</title>")));
        assert!(!svg.contains("<rect width=\"0\""));
        // The first run starts at the quiet zone's inner corner: the top row of the finder pattern is 7 modules.
        assert!(svg.contains("d=\"M3 3h7v1h-7z"), "{svg}");
    }

    #[test]
    fn svg_escapes_the_title() {
        let svg = String::from_utf8(render("a<b&c", &Options::default()).unwrap()).unwrap();
        assert!(svg.contains("<title>a&lt;b&amp;c</title>"));
    }

    #[test]
    fn options_are_bounded_and_name_their_parameter() {
        let parameter = |e: QrError| match e {
            QrError::Option { parameter, .. } => parameter,
            other => panic!("expected an option error, got {other}"),
        };
        let bad = |f: Format, s, m| parameter(Options::new(f, s, m, Ecc::M).unwrap_err());
        assert_eq!(bad(Format::Svg, 63, 4), "size");
        assert_eq!(bad(Format::Svg, 4097, 4), "size");
        assert_eq!(bad(Format::Svg, 512, 17), "margin");
        let from = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Options::from_params(move |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
        };
        assert_eq!(from(&[]).unwrap(), Options::default());
        assert_eq!(
            from(&[
                ("format", "PNG"),
                ("ecc", "h"),
                ("size", "64"),
                ("margin", "0")
            ])
            .unwrap(),
            options(Format::Png, 64, 0, Ecc::H)
        );
        assert_eq!(parameter(from(&[("format", "gif")]).unwrap_err()), "format");
        assert_eq!(parameter(from(&[("ecc", "X")]).unwrap_err()), "ecc");
        assert_eq!(parameter(from(&[("size", "big")]).unwrap_err()), "size");
        assert_eq!(parameter(from(&[("margin", "-1")]).unwrap_err()), "margin");
        let message = from(&[("ecc", "X")]).unwrap_err().to_string();
        assert!(message.contains("L, M, Q, H"), "{message}");
    }

    #[test]
    fn a_size_too_small_for_the_code_is_refused_not_blurred() {
        let long = format!("https://id.example.com/{}", "x".repeat(400));
        let err = render(&long, &options(Format::Png, 64, 4, Ecc::M)).unwrap_err();
        assert!(
            matches!(
                err,
                QrError::Option {
                    parameter: "size",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn data_beyond_the_largest_symbol_is_an_error() {
        let huge = "x".repeat(3000);
        let err = render(&huge, &options(Format::Svg, 512, 4, Ecc::H)).unwrap_err();
        assert!(matches!(err, QrError::TooLong { ecc: Ecc::H, .. }), "{err}");
    }

    #[test]
    fn label_uris_use_the_public_path() {
        let parser = Parser::embedded().unwrap();
        let root = "https://id.example.com/";
        assert_eq!(
            label_uri(&parser, root, "01/9520123456788/10/ABC").unwrap(),
            "https://id.example.com/01/09520123456788/10/ABC",
            "GTIN-13 padded to 14 digits"
        );
        assert_eq!(
            label_uri(&parser, root, "abr/abn/51824753556").unwrap(),
            "https://id.example.com/abr/abn/51824753556"
        );
        assert_eq!(
            label_uri(&parser, root, "did:web:example.com%3A3000:user:alice/").unwrap(),
            "https://id.example.com/did:web:example.com%3A3000:user:alice"
        );
        assert!(matches!(
            label_uri(&parser, root, "01/09520123456787"),
            Err(QrError::Identifier(_))
        ));
        assert!(matches!(
            label_uri(&parser, root, "DID:web:example.com"),
            Err(QrError::Did(_))
        ));
        assert!(matches!(
            label_uri(&parser, root, "did:web:127.0.0.1"),
            Err(QrError::Did(_))
        ));
    }
}
