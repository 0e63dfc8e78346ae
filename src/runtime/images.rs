//! Turning image files into the square RGB pictures the vision demos train on.
//! Pure (no browser APIs), so the rules for bad files are tested natively.
//!
//! Decoding uses the `image` crate (PNG, JPEG, WebP, GIF's first frame); the
//! format is guessed from the bytes, not the file name, so a text file named
//! `.png` is reported as what it is.

use std::io::Cursor;

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits};

/// Side of the stored square images (views are cropped from these).
pub const STORE_SIZE: usize = 64;
/// How many images a session keeps; more are refused with a message.
pub const MAX_IMAGES: usize = 512;
/// Files above this size are refused before decoding.
pub const MAX_FILE_BYTES: usize = 40 * 1024 * 1024;
/// Images above this many pixels are refused (a decoded 12000×8000 photo would
/// need 384 MB in the tab).
pub const MAX_PIXELS: u64 = 50_000_000;

/// A square RGB picture, row-major, 3 bytes per pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct SquareImage {
    pub size: usize,
    pub rgb: Vec<u8>,
    /// The file's own width and height.
    pub original: (u32, u32),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ImageError {
    FileTooLarge { bytes: usize },
    TooManyPixels { width: u32, height: u32 },
    NotAnImage,
    Decode(String),
}

impl std::fmt::Display for ImageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageError::FileTooLarge { bytes } => write!(
                f,
                "the file is {} MB; the limit is {} MB",
                bytes / (1024 * 1024),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            ImageError::TooManyPixels { width, height } => write!(
                f,
                "the image is {width}×{height} pixels; the limit is {} megapixels",
                MAX_PIXELS / 1_000_000
            ),
            ImageError::NotAnImage => {
                write!(
                    f,
                    "not an image this demo can read (PNG, JPEG, WebP or GIF)"
                )
            }
            ImageError::Decode(e) => write!(f, "the image data is damaged: {e}"),
        }
    }
}

/// Decodes a file and centre-crops and resizes it to a `size`×`size` square.
pub fn decode_square(bytes: &[u8], size: usize) -> Result<SquareImage, ImageError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ImageError::FileTooLarge { bytes: bytes.len() });
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    if reader.format().is_none() {
        return Err(ImageError::NotAnImage);
    }
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    if width as u64 * height as u64 > MAX_PIXELS {
        return Err(ImageError::TooManyPixels { width, height });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 + (64 << 20));
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| ImageError::Decode(e.to_string()))?;
    Ok(square_of(image, size, (width, height)))
}

fn square_of(image: DynamicImage, size: usize, original: (u32, u32)) -> SquareImage {
    let (w, h) = (image.width(), image.height());
    let side = w.min(h);
    let cropped = image.crop_imm((w - side) / 2, (h - side) / 2, side, side);
    // `thumbnail` is a fast box-filter downscale for big images; a triangle
    // filter for the last step keeps small images smooth.
    let target = size as u32;
    let small = if side > 4 * target {
        cropped.thumbnail(2 * target, 2 * target)
    } else {
        cropped
    };
    let rgb = small
        .resize_exact(target, target, FilterType::Triangle)
        .to_rgb8()
        .into_raw();
    SquareImage {
        size,
        rgb,
        original,
    }
}

/// A grey `width`×`height` picture (one byte per pixel, as in MNIST) as an RGB square.
pub fn grey_square(pixels: &[u8], width: u32, height: u32, size: usize) -> SquareImage {
    let grey =
        image::GrayImage::from_raw(width, height, pixels.to_vec()).expect("width × height bytes");
    square_of(DynamicImage::ImageLuma8(grey), size, (width, height))
}

/// Images as a `[m, 3, s, s]` channel-first float array in [0, 1].
pub fn to_chw<'a>(images: impl IntoIterator<Item = &'a SquareImage>) -> Vec<f32> {
    let mut out = Vec::new();
    for image in images {
        let pixels = image.size * image.size;
        for c in 0..3 {
            out.extend((0..pixels).map(|p| image.rgb[p * 3 + c] as f32 / 255.0));
        }
    }
    out
}

/// One `[3, s, s]` channel-first image in [0, 1] as RGBA bytes for a canvas.
pub fn chw_to_rgba(values: &[f32], size: usize) -> Vec<u8> {
    let pixels = size * size;
    let mut out = Vec::with_capacity(pixels * 4);
    for p in 0..pixels {
        for c in 0..3 {
            out.push((values[c * pixels + p].clamp(0.0, 1.0) * 255.0).round() as u8);
        }
        out.push(255);
    }
    out
}

/// RGB bytes as RGBA bytes for a canvas.
pub fn rgb_to_rgba(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 100])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_png_becomes_a_centre_cropped_square() {
        let square = decode_square(&png(300, 100), 16).unwrap();
        assert_eq!(square.original, (300, 100));
        assert_eq!(square.rgb.len(), 16 * 16 * 3);
        // Centre crop: the red channel (= x) spans 100..200, so its mean is near 150.
        let mean_red = square.rgb.chunks(3).map(|p| p[0] as f32).sum::<f32>() / 256.0;
        assert!((mean_red - 150.0).abs() < 5.0, "{mean_red}");
    }

    #[test]
    fn text_named_png_is_not_an_image_and_truncated_png_is_damaged() {
        assert_eq!(
            decode_square(b"hello, I am a text file", 16),
            Err(ImageError::NotAnImage)
        );
        let mut broken = png(40, 40);
        broken.truncate(60);
        let err = decode_square(&broken, 16).unwrap_err();
        assert!(matches!(err, ImageError::Decode(_)), "{err:?}");
        assert!(ImageError::NotAnImage
            .to_string()
            .contains("PNG, JPEG, WebP or GIF"));
    }

    #[test]
    fn oversized_files_and_images_are_refused_before_decoding() {
        let big = vec![0u8; MAX_FILE_BYTES + 1];
        assert!(matches!(
            decode_square(&big, 8),
            Err(ImageError::FileTooLarge { .. })
        ));
        // A PNG header that claims 20000×20000 pixels.
        let mut header = png(1, 1);
        header[16..20].copy_from_slice(&20000u32.to_be_bytes());
        header[20..24].copy_from_slice(&20000u32.to_be_bytes());
        // Re-seal the IHDR chunk: CRC-32 (ISO 3309) of its type and data.
        let crc = !header[12..29].iter().fold(!0u32, |crc, &byte| {
            (0..8).fold(crc ^ byte as u32, |c, _| {
                if c & 1 == 1 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                }
            })
        });
        header[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            decode_square(&header, 8),
            Err(ImageError::TooManyPixels {
                width: 20000,
                height: 20000
            })
        );
    }

    #[test]
    fn a_large_image_is_downscaled() {
        let square = decode_square(&png(2000, 1500), 64).unwrap();
        assert_eq!(square.rgb.len(), 64 * 64 * 3);
    }

    #[test]
    fn grey_pictures_have_equal_channels_and_layouts_round_trip() {
        let grey = grey_square(&[0, 255, 255, 0], 2, 2, 2);
        assert!(grey.rgb.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]));
        let chw = to_chw(std::slice::from_ref(&grey));
        assert_eq!(chw.len(), 12);
        let rgba = chw_to_rgba(&chw, 2);
        assert_eq!(rgba, rgb_to_rgba(&grey.rgb));
    }
}
