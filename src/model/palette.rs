//! iGPT's input pipeline (Chen et al. 2020, "Generative Pretraining from
//! Pixels", §3.1): shrink the image, quantize every pixel to the nearest colour
//! of a k-means palette, and read the palette indices in raster order as a 1-D
//! token sequence. iGPT clustered RGB pixels into 512 colours (a 9-bit
//! palette); Fashion-MNIST is grey, so our palette is a handful of grey levels
//! found by the same k-means. Pure functions, no tensors.

use crate::model::rng::Rng;

/// k-means (Lloyd's algorithm, k-means++ seeding) over `points`, each `dim`
/// values long, flattened. Returns k centres of `dim` values each, sorted by
/// their first coordinate (for grey palettes: dark to light), so a palette is
/// deterministic for a given seed and input.
pub fn kmeans(points: &[f32], dim: usize, k: usize, iterations: usize, seed: u64) -> Vec<Vec<f32>> {
    assert!(
        dim > 0 && points.len().is_multiple_of(dim),
        "points must be whole rows of {dim}"
    );
    let n = points.len() / dim;
    assert!(
        k > 0 && n >= k,
        "k-means needs at least k = {k} points, got {n}"
    );
    let point = |i: usize| &points[i * dim..(i + 1) * dim];
    let mut rng = Rng::new(seed);

    // k-means++ (Arthur & Vassilvitskii 2007): each new centre is drawn with
    // probability proportional to its squared distance from the nearest centre.
    let mut centres: Vec<Vec<f32>> = vec![point(rng.below(n)).to_vec()];
    let mut nearest = vec![f32::INFINITY; n];
    while centres.len() < k {
        let last = centres.last().unwrap().clone();
        for (i, d) in nearest.iter_mut().enumerate() {
            *d = d.min(squared_distance(point(i), &last));
        }
        let total: f64 = nearest.iter().map(|&d| d as f64).sum();
        let next = if total <= 0.0 {
            // Fewer distinct points than k: repeat one (its cluster stays empty).
            rng.below(n)
        } else {
            let mut target = rng.next_f32() as f64 * total;
            let mut chosen = n - 1;
            for (i, &d) in nearest.iter().enumerate() {
                target -= d as f64;
                if target < 0.0 {
                    chosen = i;
                    break;
                }
            }
            chosen
        };
        centres.push(point(next).to_vec());
    }

    let mut assignment = vec![usize::MAX; n];
    for _ in 0..iterations {
        let mut changed = false;
        for (i, a) in assignment.iter_mut().enumerate() {
            let best = nearest_index(&centres, point(i));
            if *a != best {
                *a = best;
                changed = true;
            }
        }
        let mut sums = vec![vec![0.0f64; dim]; k];
        let mut counts = vec![0usize; k];
        for (i, &a) in assignment.iter().enumerate() {
            counts[a] += 1;
            for (s, &v) in sums[a].iter_mut().zip(point(i)) {
                *s += v as f64;
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                centres[c] = sums[c]
                    .iter()
                    .map(|s| (s / counts[c] as f64) as f32)
                    .collect();
            }
        }
        if !changed {
            break;
        }
    }
    centres.sort_by(|a, b| a[0].total_cmp(&b[0]));
    centres
}

fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn nearest_index(centres: &[Vec<f32>], p: &[f32]) -> usize {
    let mut best = 0;
    let mut best_d = f32::INFINITY;
    for (c, centre) in centres.iter().enumerate() {
        let d = squared_distance(centre, p);
        if d < best_d {
            best_d = d;
            best = c;
        }
    }
    best
}

/// A grey palette: levels in [0, 255], dark to light.
#[derive(Debug, Clone, PartialEq)]
pub struct GreyPalette {
    pub levels: Vec<f32>,
}

impl GreyPalette {
    /// k grey levels by k-means over the given pixel values.
    pub fn fit(pixels: &[u8], k: usize, seed: u64) -> Self {
        let points: Vec<f32> = pixels.iter().map(|&p| p as f32).collect();
        let levels = kmeans(&points, 1, k, 100, seed)
            .into_iter()
            .map(|c| c[0])
            .collect();
        Self { levels }
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Palette index of each pixel (the nearest level).
    pub fn quantize(&self, pixels: &[u8]) -> Vec<u8> {
        // The levels are sorted, so the nearest one is decided by the midpoints.
        let midpoints: Vec<f32> = self
            .levels
            .windows(2)
            .map(|w| (w[0] + w[1]) / 2.0)
            .collect();
        pixels
            .iter()
            .map(|&p| midpoints.iter().take_while(|&&m| p as f32 > m).count() as u8)
            .collect()
    }

    /// Grey value of each palette index.
    pub fn dequantize(&self, tokens: &[u8]) -> Vec<u8> {
        tokens
            .iter()
            .map(|&t| self.levels[t as usize].round().clamp(0.0, 255.0) as u8)
            .collect()
    }
}

/// Shrinks a square grey image `side`×`side` by an integer `factor`, each output
/// pixel the mean of its factor×factor block (28×28 Fashion-MNIST → 14×14).
pub fn downsample(pixels: &[u8], side: usize, factor: usize) -> Vec<u8> {
    assert_eq!(pixels.len(), side * side);
    assert!(side.is_multiple_of(factor));
    let out_side = side / factor;
    let mut out = Vec::with_capacity(out_side * out_side);
    for y in 0..out_side {
        for x in 0..out_side {
            let mut sum = 0u32;
            for dy in 0..factor {
                for dx in 0..factor {
                    sum += pixels[(y * factor + dy) * side + x * factor + dx] as u32;
                }
            }
            let n = (factor * factor) as u32;
            out.push(((sum + n / 2) / n) as u8);
        }
    }
    out
}

/// Mean squared error of quantizing `pixels` with `palette`, in grey levels² —
/// with the palette's bits per pixel, the trade-off the palette size is chosen by.
pub fn quantization_mse(palette: &GreyPalette, pixels: &[u8]) -> f32 {
    let back = palette.dequantize(&palette.quantize(pixels));
    let sum: f64 = pixels
        .iter()
        .zip(&back)
        .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
        .sum();
    (sum / pixels.len().max(1) as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmeans_finds_the_three_clusters_of_a_toy_set() {
        let mut points = Vec::new();
        for (i, centre) in [10.0f32, 100.0, 200.0].iter().enumerate() {
            for j in 0..20 {
                points.push(centre + (j as f32 - 9.5) * 0.5 + i as f32 * 0.0);
            }
        }
        let centres = kmeans(&points, 1, 3, 50, 1);
        let got: Vec<f32> = centres.iter().map(|c| c[0]).collect();
        for (g, want) in got.iter().zip([10.0, 100.0, 200.0]) {
            assert!((g - want).abs() < 1e-3, "{got:?}");
        }
    }

    #[test]
    fn kmeans_works_in_two_dimensions() {
        let points = [0.0, 0.0, 0.0, 1.0, 10.0, 10.0, 10.0, 11.0];
        let centres = kmeans(&points, 2, 2, 20, 7);
        assert_eq!(centres, vec![vec![0.0, 0.5], vec![10.0, 10.5]]);
    }

    #[test]
    fn quantize_then_dequantize_is_the_nearest_level_and_a_fixed_point() {
        let palette = GreyPalette {
            levels: vec![0.0, 100.0, 255.0],
        };
        let pixels = [0u8, 49, 51, 100, 177, 178, 255];
        let tokens = palette.quantize(&pixels);
        assert_eq!(tokens, vec![0, 0, 1, 1, 1, 2, 2]);
        let back = palette.dequantize(&tokens);
        assert_eq!(back, vec![0, 0, 100, 100, 100, 255, 255]);
        // A quantized image survives another round trip unchanged.
        assert_eq!(palette.dequantize(&palette.quantize(&back)), back);
        assert_eq!(palette.quantize(&back), tokens);
    }

    #[test]
    fn a_fitted_palette_is_sorted_and_more_levels_quantize_better() {
        let pixels: Vec<u8> = (0..=255u8).chain(std::iter::repeat_n(0, 300)).collect();
        let p4 = GreyPalette::fit(&pixels, 4, 1);
        let p8 = GreyPalette::fit(&pixels, 8, 1);
        assert!(p8.levels.windows(2).all(|w| w[0] < w[1]), "{:?}", p8.levels);
        assert!(
            p8.levels[0] < 1.0,
            "the background black is a level of its own: {:?}",
            p8.levels
        );
        assert!(quantization_mse(&p8, &pixels) < quantization_mse(&p4, &pixels));
    }

    #[test]
    fn downsample_averages_blocks() {
        let pixels = [0u8, 2, 10, 10, 4, 6, 10, 10, 0, 0, 255, 255, 0, 1, 255, 255];
        assert_eq!(downsample(&pixels, 4, 2), vec![3, 10, 0, 255]);
    }
}
