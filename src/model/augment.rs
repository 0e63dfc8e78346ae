//! SimCLR's data augmentations (Chen et al. 2020, §3 and Appendix A): random
//! resized crop, horizontal flip, colour jitter (p = 0.8), random greyscale
//! (p = 0.2) and Gaussian blur — as batched tensor operations on the compute
//! device. Only the per-view random parameters are drawn on the CPU (a few
//! numbers per view, from a seeded [`Rng`]); the pixels never leave the device.
//!
//! Images are `[n, 3, h, w]` tensors with values in [0, 1].

use burn::tensor::module::conv2d;
use burn::tensor::ops::{
    ConvOptions, GridSampleOptions, GridSamplePaddingMode, InterpolateMode, PadMode,
};
use burn::tensor::{Tensor, TensorData};

use super::rng::Rng;

/// Which augmentations are on, and how strong. Defaults follow the paper's
/// CIFAR-10 recipe (colour strength 0.5; blur on, as for ImageNet, so every
/// augmentation of the paper can be seen).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AugmentConfig {
    /// Side of the square views the encoder sees.
    pub out_size: usize,
    pub crop: bool,
    /// Smallest crop area as a fraction of the image (paper: 0.08).
    pub crop_min_scale: f32,
    pub flip: bool,
    pub jitter: bool,
    /// Colour-jitter strength s: brightness, contrast and saturation vary by
    /// ±0.8s, hue by ±0.2s (Appendix A, `color_distortion(s)`).
    pub jitter_strength: f32,
    pub jitter_p: f32,
    pub grey: bool,
    pub grey_p: f32,
    pub blur: bool,
    pub blur_p: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            out_size: 32,
            crop: true,
            crop_min_scale: 0.08,
            flip: true,
            jitter: true,
            jitter_strength: 0.5,
            jitter_p: 0.8,
            grey: true,
            grey_p: 0.2,
            blur: true,
            blur_p: 0.5,
        }
    }
}

/// A crop in the source image, in fractions of its width and height.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CropBox {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl CropBox {
    pub const FULL: CropBox = CropBox {
        x: 0.0,
        y: 0.0,
        w: 1.0,
        h: 1.0,
    };
}

/// One view's random draws.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewParams {
    pub crop: CropBox,
    pub flip: bool,
    /// Multiplicative factors (1 = unchanged) and hue rotation in turns (0 = unchanged).
    pub brightness: f32,
    pub contrast: f32,
    pub saturation: f32,
    pub hue: f32,
    pub grey: bool,
    /// Gaussian blur σ in output pixels, `None` for no blur.
    pub blur_sigma: Option<f32>,
}

impl ViewParams {
    /// The view that leaves the image as it is (only resized).
    pub fn identity() -> Self {
        Self {
            crop: CropBox::FULL,
            flip: false,
            brightness: 1.0,
            contrast: 1.0,
            saturation: 1.0,
            hue: 0.0,
            grey: false,
            blur_sigma: None,
        }
    }
}

/// torchvision's `RandomResizedCrop.get_params`: area fraction uniform in
/// [min_scale, 1], log aspect ratio uniform in [ln 3/4, ln 4/3], up to ten
/// tries to fit, else the whole image. `aspect` is the source's width / height.
pub fn sample_crop(rng: &mut Rng, min_scale: f32, aspect: f32) -> CropBox {
    let (lo, hi) = ((3.0f32 / 4.0).ln(), (4.0f32 / 3.0).ln());
    for _ in 0..10 {
        let area = rng.uniform(min_scale, 1.0);
        let ratio = rng.uniform(lo, hi).exp();
        // Width and height as fractions of the source's, so that the crop's
        // pixel aspect ratio (w·W)/(h·H) equals `ratio`.
        let w = (area * ratio / aspect).sqrt();
        let h = (area * aspect / ratio).sqrt();
        if w <= 1.0 && h <= 1.0 {
            let x = rng.uniform(0.0, 1.0 - w);
            let y = rng.uniform(0.0, 1.0 - h);
            return CropBox { x, y, w, h };
        }
    }
    CropBox::FULL
}

/// Draws the parameters of `n` views.
pub fn sample_views(rng: &mut Rng, config: &AugmentConfig, n: usize) -> Vec<ViewParams> {
    (0..n)
        .map(|_| {
            let mut view = ViewParams::identity();
            if config.crop {
                view.crop = sample_crop(rng, config.crop_min_scale, 1.0);
            }
            if config.flip {
                view.flip = rng.chance(0.5);
            }
            if config.jitter && rng.chance(config.jitter_p) {
                let s = config.jitter_strength;
                let spread = |rng: &mut Rng, by: f32| rng.uniform((1.0 - by).max(0.0), 1.0 + by);
                view.brightness = spread(rng, 0.8 * s);
                view.contrast = spread(rng, 0.8 * s);
                view.saturation = spread(rng, 0.8 * s);
                view.hue = rng.uniform(-0.2 * s, 0.2 * s).clamp(-0.5, 0.5);
            }
            if config.grey {
                view.grey = rng.chance(config.grey_p);
            }
            if config.blur && rng.chance(config.blur_p) {
                // σ ∈ [0.1, 2.0] pixels, kernel 10% of the image side (Appendix A).
                view.blur_sigma = Some(rng.uniform(0.1, 2.0));
            }
            view
        })
        .collect()
}

/// Luma weights (ITU-R BT.601), as torchvision's `rgb_to_grayscale`.
const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

fn grey_of(x: Tensor<4>) -> Tensor<4> {
    let [n, _, h, w] = x.dims();
    let weights = Tensor::<1>::from_floats(LUMA, &x.device()).reshape([1, 3, 1, 1]);
    (x * weights).sum_dim(1).reshape([n, 1, h, w])
}

fn per_view(values: Vec<f32>, device: &burn::tensor::Device) -> Tensor<4> {
    let n = values.len();
    Tensor::<1>::from_data(TensorData::new(values, [n]), device).reshape([n, 1, 1, 1])
}

/// Applies each view's parameters to the image of the same index:
/// `images` is `[n, 3, h, w]`, the result `[n, 3, out, out]`.
pub fn apply(images: Tensor<4>, views: &[ViewParams], out_size: usize) -> Tensor<4> {
    let [n, channels, _, _] = images.dims();
    assert_eq!(channels, 3, "RGB images");
    assert_eq!(views.len(), n, "one set of view parameters per image");
    let device = images.device();

    // 1. Crop, flip and resize in one bilinear resampling: output pixel (i, j)
    //    reads the source at the crop's matching point. grid_sample's grid is in
    //    [-1, 1] with -1 the left edge of the first pixel (align_corners = false).
    let centres: Vec<f32> = (0..out_size)
        .map(|k| (k as f32 + 0.5) / out_size as f32)
        .collect();
    let mut base = Vec::with_capacity(out_size * out_size * 2);
    for &v in &centres {
        for &u in &centres {
            base.extend([u, v]);
        }
    }
    let base = Tensor::<4>::from_data(TensorData::new(base, [1, out_size, out_size, 2]), &device);
    let (mut scale, mut offset) = (Vec::with_capacity(2 * n), Vec::with_capacity(2 * n));
    for view in views {
        let c = view.crop;
        if view.flip {
            scale.extend([-2.0 * c.w, 2.0 * c.h]);
            offset.extend([2.0 * (c.x + c.w) - 1.0, 2.0 * c.y - 1.0]);
        } else {
            scale.extend([2.0 * c.w, 2.0 * c.h]);
            offset.extend([2.0 * c.x - 1.0, 2.0 * c.y - 1.0]);
        }
    }
    let scale = Tensor::<4>::from_data(TensorData::new(scale, [n, 1, 1, 2]), &device);
    let offset = Tensor::<4>::from_data(TensorData::new(offset, [n, 1, 1, 2]), &device);
    let grid = base * scale + offset;
    let options = GridSampleOptions::new(InterpolateMode::Bilinear)
        .with_padding_mode(GridSamplePaddingMode::Border);
    let mut x = images.grid_sample_2d(grid, options);

    // 2. Colour jitter, in torchvision's ColorJitter order (fixed here):
    //    brightness, contrast, saturation, hue; clamped to [0, 1] after each.
    let brightness = per_view(views.iter().map(|v| v.brightness).collect(), &device);
    x = (x * brightness).clamp(0.0, 1.0);
    let contrast = per_view(views.iter().map(|v| v.contrast).collect(), &device);
    let mean_grey = grey_of(x.clone()).mean_dim(2).mean_dim(3);
    x = ((x - mean_grey.clone()) * contrast + mean_grey).clamp(0.0, 1.0);
    let saturation = per_view(views.iter().map(|v| v.saturation).collect(), &device);
    let grey = grey_of(x.clone());
    x = ((x - grey.clone()) * saturation + grey).clamp(0.0, 1.0);
    if views.iter().any(|v| v.hue != 0.0) {
        x = rotate_hue(x, views).clamp(0.0, 1.0);
    }

    // 3. Random greyscale: all three channels become the luma.
    let grey_mask = per_view(views.iter().map(|v| v.grey as u8 as f32).collect(), &device);
    let grey = grey_of(x.clone());
    x = x.clone() * (grey_mask.clone().neg() + 1.0) + grey * grey_mask;

    // 4. Gaussian blur.
    if views.iter().any(|v| v.blur_sigma.is_some()) {
        x = gaussian_blur(x, views);
    }
    x
}

/// Hue rotation as a rotation of the chroma plane in YIQ space — the linear
/// approximation of an HSV hue shift (as in `tf.image.adjust_hue`'s fast path),
/// one 3×3 matrix per view applied as one batched matmul.
fn rotate_hue(x: Tensor<4>, views: &[ViewParams]) -> Tensor<4> {
    const RGB_TO_YIQ: [[f32; 3]; 3] = [
        [0.299, 0.587, 0.114],
        [0.596, -0.274, -0.322],
        [0.211, -0.523, 0.312],
    ];
    const YIQ_TO_RGB: [[f32; 3]; 3] = [
        [1.0, 0.956, 0.621],
        [1.0, -0.272, -0.647],
        [1.0, -1.106, 1.703],
    ];
    let [n, c, h, w] = x.dims();
    let mut matrices: Vec<f32> = Vec::with_capacity(n * 9);
    for view in views {
        let (sin, cos) = (view.hue * std::f32::consts::TAU).sin_cos();
        let rotation = [[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]];
        let m = matmul3(YIQ_TO_RGB, matmul3(rotation, RGB_TO_YIQ));
        matrices.extend(m.iter().flatten().copied());
    }
    let m = Tensor::<3>::from_data(TensorData::new(matrices, [n, 3, 3]), &x.device());
    m.matmul(x.reshape([n, c, h * w])).reshape([n, c, h, w])
}

fn matmul3(a: [[f32; 3]; 3], b: [[f32; 3]; 3]) -> [[f32; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

/// Normalised 1-D Gaussian taps of odd length `size` (σ ≤ 0 gives the identity).
pub fn gaussian_taps(sigma: f32, size: usize) -> Vec<f32> {
    let centre = (size / 2) as f32;
    if sigma <= 0.0 {
        return (0..size)
            .map(|i| (i as f32 == centre) as u8 as f32)
            .collect();
    }
    let taps: Vec<f32> = (0..size)
        .map(|i| (-(i as f32 - centre).powi(2) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = taps.iter().sum();
    taps.into_iter().map(|t| t / sum).collect()
}

/// Separable Gaussian blur with each view's σ: the n·3 channels become the
/// groups of one grouped convolution, so all views blur in two conv calls.
/// Kernel size: the odd number nearest 10% of the side, at least 3.
fn gaussian_blur(x: Tensor<4>, views: &[ViewParams]) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let size = ((h as f32 * 0.1).round() as usize / 2 * 2 + 1).max(3);
    let radius = size / 2;
    let mut taps = Vec::with_capacity(n * c * size);
    for view in views {
        let one = gaussian_taps(view.blur_sigma.unwrap_or(0.0), size);
        for _ in 0..c {
            taps.extend_from_slice(&one);
        }
    }
    let device = x.device();
    let vertical =
        Tensor::<4>::from_data(TensorData::new(taps.clone(), [n * c, 1, size, 1]), &device);
    let horizontal = Tensor::<4>::from_data(TensorData::new(taps, [n * c, 1, 1, size]), &device);
    let groups = n * c;
    let options = |_: ()| ConvOptions::new([1, 1], [0, 0], [1, 1], groups);
    let x = x
        .reshape([1, groups, h, w])
        .pad((0, 0, radius, radius), PadMode::Edge);
    let x = conv2d(x, vertical, None, options(()));
    let x = x.pad((radius, radius, 0, 0), PadMode::Edge);
    conv2d(x, horizontal, None, options(())).reshape([n, c, h, w])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_devices;

    fn read(x: Tensor<4>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap()
    }

    fn random_images(n: usize, size: usize, seed: u64, device: &burn::tensor::Device) -> Tensor<4> {
        let mut rng = Rng::new(seed);
        let values: Vec<f32> = (0..n * 3 * size * size).map(|_| rng.next_f32()).collect();
        Tensor::from_data(TensorData::new(values, [n, 3, size, size]), device)
    }

    #[test]
    fn crops_stay_inside_the_image_within_the_scale_and_aspect_range() {
        let mut rng = Rng::new(1);
        for aspect in [1.0, 0.5, 2.0] {
            for _ in 0..2000 {
                let c = sample_crop(&mut rng, 0.08, aspect);
                assert!(
                    c.x >= 0.0 && c.y >= 0.0 && c.x + c.w <= 1.0 + 1e-6 && c.y + c.h <= 1.0 + 1e-6,
                    "{c:?}"
                );
                let area = c.w * c.h;
                assert!((0.08 - 1e-5..=1.0 + 1e-5).contains(&area), "{c:?}");
                if c != CropBox::FULL {
                    let ratio = c.w * aspect / c.h;
                    assert!(
                        (0.75 - 1e-4..=4.0 / 3.0 + 1e-4).contains(&ratio),
                        "{c:?} {ratio}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_identity_view_at_the_same_size_returns_the_image() {
        for (name, device) in test_devices::all() {
            let images = random_images(2, 8, 2, &device);
            let out = apply(
                images.clone(),
                &[ViewParams::identity(), ViewParams::identity()],
                8,
            );
            for (a, b) in read(images).iter().zip(read(out)) {
                assert!((a - b).abs() < 1e-5, "{name}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn flipping_twice_is_the_identity_and_flipping_once_mirrors() {
        for (name, device) in test_devices::all() {
            let images = random_images(1, 6, 3, &device);
            let flip = ViewParams {
                flip: true,
                ..ViewParams::identity()
            };
            let once = apply(images.clone(), std::slice::from_ref(&flip), 6);
            let twice = apply(once.clone(), std::slice::from_ref(&flip), 6);
            let (src, once, twice) = (read(images), read(once), read(twice));
            for (a, b) in src.iter().zip(&twice) {
                assert!((a - b).abs() < 1e-5, "{name}: {a} vs {b}");
            }
            // Row-major [c, y, x]: pixel x of the mirror is pixel 5 − x of the source.
            for c in 0..3 {
                for y in 0..6 {
                    for x in 0..6 {
                        let (i, j) = (c * 36 + y * 6 + x, c * 36 + y * 6 + (5 - x));
                        assert!((once[i] - src[j]).abs() < 1e-5, "{name}");
                    }
                }
            }
        }
    }

    #[test]
    fn greyscale_makes_the_three_channels_equal_to_the_luma() {
        for (name, device) in test_devices::all() {
            let images = random_images(1, 4, 4, &device);
            let grey = ViewParams {
                grey: true,
                ..ViewParams::identity()
            };
            let src = read(images.clone());
            let out = read(apply(images, &[grey], 4));
            for p in 0..16 {
                let luma = LUMA[0] * src[p] + LUMA[1] * src[16 + p] + LUMA[2] * src[32 + p];
                for c in 0..3 {
                    assert!((out[c * 16 + p] - luma).abs() < 1e-5, "{name}");
                }
            }
        }
    }

    #[test]
    fn every_augmentation_at_full_strength_keeps_values_in_range() {
        let config = AugmentConfig {
            jitter_strength: 1.0,
            jitter_p: 1.0,
            blur_p: 1.0,
            out_size: 16,
            ..AugmentConfig::default()
        };
        for (name, device) in test_devices::all() {
            let mut rng = Rng::new(5);
            let views = sample_views(&mut rng, &config, 6);
            assert!(views
                .iter()
                .all(|v| v.blur_sigma.is_some() && v.brightness != 1.0));
            let out = read(apply(random_images(6, 24, 6, &device), &views, 16));
            assert_eq!(out.len(), 6 * 3 * 16 * 16);
            assert!(
                out.iter()
                    .all(|v| v.is_finite() && (-1e-6..=1.0 + 1e-6).contains(v)),
                "{name}"
            );
        }
    }

    #[test]
    fn hue_rotation_by_zero_is_identity_and_keeps_grey_grey() {
        let device = test_devices::cpu();
        // A grey pixel has no chroma: any hue rotation leaves it unchanged.
        let grey =
            Tensor::<4>::from_data(TensorData::new(vec![0.4f32; 3 * 4], [1, 3, 2, 2]), &device);
        let turned = ViewParams {
            hue: 0.25,
            ..ViewParams::identity()
        };
        for v in read(rotate_hue(grey, &[turned])) {
            assert!((v - 0.4).abs() < 2e-3, "{v}");
        }
        let m = matmul3(
            [
                [1.0, 0.956, 0.621],
                [1.0, -0.272, -0.647],
                [1.0, -1.106, 1.703],
            ],
            [
                [0.299, 0.587, 0.114],
                [0.596, -0.274, -0.322],
                [0.211, -0.523, 0.312],
            ],
        );
        for (i, row) in m.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                assert!(
                    (v - (i == j) as u8 as f32).abs() < 5e-3,
                    "YIQ round trip {m:?}"
                );
            }
        }
    }

    #[test]
    fn blur_keeps_a_constant_image_constant_and_smooths_an_impulse() {
        let taps = gaussian_taps(1.0, 5);
        assert!((taps.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(gaussian_taps(0.0, 3), vec![0.0, 1.0, 0.0]);
        for (name, device) in test_devices::all() {
            let flat = Tensor::<4>::from_data(
                TensorData::new(vec![0.7f32; 3 * 100], [1, 3, 10, 10]),
                &device,
            );
            let blurred = ViewParams {
                blur_sigma: Some(1.0),
                ..ViewParams::identity()
            };
            for v in read(gaussian_blur(flat, std::slice::from_ref(&blurred))) {
                assert!((v - 0.7).abs() < 1e-5, "{name}");
            }
            let mut impulse = vec![0.0f32; 3 * 100];
            impulse[55] = 1.0;
            let x = Tensor::<4>::from_data(TensorData::new(impulse, [1, 3, 10, 10]), &device);
            let out = read(gaussian_blur(x, &[blurred]));
            assert!(
                out[55] < 1.0 && out[55] > 0.2 && out[54] > 0.0 && out[65] > 0.0,
                "{name}"
            );
            assert!(
                (out.iter().sum::<f32>() - 1.0).abs() < 1e-4,
                "{name}: blur keeps the mass"
            );
        }
    }
}
