//! Linear probes (iGPT §3.4; Alain & Bengio 2016): freeze a network, take its
//! features, fit a linear classifier on them, and report its test accuracy —
//! how linearly separable the classes are in that representation.
//!
//! The classifier is closed-form ridge regression on one-hot targets
//! (W = (XᵀX + λI)⁻¹ XᵀY on standardised features, argmax to classify), with λ
//! picked on a held-out slice of the training set. Pure f64 arithmetic: no
//! tensors, no iterations, the same answer on every backend.

/// A fitted probe.
#[derive(Debug, Clone)]
pub struct RidgeProbe {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// (dim + 1) × classes, the last row the bias.
    weights: Vec<f64>,
    classes: usize,
    pub lambda: f64,
}

/// The ridge strengths tried (relative to the number of training rows).
const LAMBDAS: [f64; 5] = [1e-3, 1e-2, 1e-1, 1.0, 10.0];

impl RidgeProbe {
    /// Fits on `features` (rows of `dim`) with `labels` in 0..classes, choosing
    /// λ on the last fifth of the rows, then refitting on all of them.
    pub fn fit(features: &[f32], dim: usize, labels: &[usize], classes: usize) -> Self {
        let n = labels.len();
        assert_eq!(features.len(), n * dim);
        let fit_rows = (n * 4 / 5).max(1);
        let mut best = (f64::NEG_INFINITY, LAMBDAS[0]);
        if n >= 10 {
            for &lambda in &LAMBDAS {
                let probe = Self::fit_with(
                    &features[..fit_rows * dim],
                    dim,
                    &labels[..fit_rows],
                    classes,
                    lambda,
                );
                let accuracy = probe.accuracy(&features[fit_rows * dim..], &labels[fit_rows..]);
                if accuracy > best.0 {
                    best = (accuracy, lambda);
                }
            }
        }
        Self::fit_with(features, dim, labels, classes, best.1)
    }

    /// Fits with a given λ (scaled by the row count).
    pub fn fit_with(
        features: &[f32],
        dim: usize,
        labels: &[usize],
        classes: usize,
        lambda: f64,
    ) -> Self {
        let n = labels.len();
        let mut mean = vec![0.0f64; dim];
        let mut scale = vec![0.0f64; dim];
        for row in features.chunks_exact(dim) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x as f64 / n as f64;
            }
        }
        for row in features.chunks_exact(dim) {
            for ((s, &x), m) in scale.iter_mut().zip(row).zip(&mean) {
                *s += (x as f64 - m).powi(2) / n as f64;
            }
        }
        for s in &mut scale {
            *s = if *s > 1e-12 { 1.0 / s.sqrt() } else { 0.0 };
        }
        // Augmented design rows [x̂, 1]; A = XᵀX + λ n I (bias unpenalised), B = XᵀY.
        let p = dim + 1;
        let mut a = vec![0.0f64; p * p];
        let mut b = vec![0.0f64; p * classes];
        let mut x = vec![0.0f64; p];
        for (row, &label) in features.chunks_exact(dim).zip(labels) {
            for (j, &v) in row.iter().enumerate() {
                x[j] = (v as f64 - mean[j]) * scale[j];
            }
            x[dim] = 1.0;
            for i in 0..p {
                if x[i] == 0.0 {
                    continue;
                }
                for j in 0..p {
                    a[i * p + j] += x[i] * x[j];
                }
                b[i * classes + label] += x[i];
            }
        }
        for i in 0..dim {
            a[i * p + i] += lambda * n as f64;
        }
        a[dim * p + dim] += 1e-9;
        let weights = solve_spd(&mut a, p, &b, classes);
        Self {
            mean,
            scale,
            weights,
            classes,
            lambda,
        }
    }

    /// Class scores of one feature row.
    pub fn scores(&self, row: &[f32]) -> Vec<f64> {
        let dim = self.mean.len();
        let mut out = self.weights[dim * self.classes..].to_vec();
        for (j, &v) in row.iter().enumerate().take(dim) {
            let x = (v as f64 - self.mean[j]) * self.scale[j];
            if x != 0.0 {
                for (o, w) in out
                    .iter_mut()
                    .zip(&self.weights[j * self.classes..(j + 1) * self.classes])
                {
                    *o += x * w;
                }
            }
        }
        out
    }

    pub fn predict(&self, row: &[f32]) -> usize {
        let scores = self.scores(row);
        (0..self.classes)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap_or(0)
    }

    /// Fraction of rows classified correctly.
    pub fn accuracy(&self, features: &[f32], labels: &[usize]) -> f64 {
        let dim = self.mean.len();
        if labels.is_empty() {
            return 0.0;
        }
        let correct = features
            .chunks_exact(dim)
            .zip(labels)
            .filter(|(row, &label)| self.predict(row) == label)
            .count();
        correct as f64 / labels.len() as f64
    }
}

/// Solves A X = B for symmetric positive definite A (p×p, overwritten by its
/// Cholesky factor) and B (p×m).
fn solve_spd(a: &mut [f64], p: usize, b: &[f64], m: usize) -> Vec<f64> {
    // A = L Lᵀ, L stored in the lower triangle.
    for j in 0..p {
        let mut d = a[j * p + j];
        for k in 0..j {
            d -= a[j * p + k] * a[j * p + k];
        }
        let d = d.max(1e-12).sqrt();
        a[j * p + j] = d;
        for i in (j + 1)..p {
            let mut s = a[i * p + j];
            for k in 0..j {
                s -= a[i * p + k] * a[j * p + k];
            }
            a[i * p + j] = s / d;
        }
    }
    let mut x = b.to_vec();
    for c in 0..m {
        // L y = b, then Lᵀ x = y.
        for i in 0..p {
            let mut s = x[i * m + c];
            for k in 0..i {
                s -= a[i * p + k] * x[k * m + c];
            }
            x[i * m + c] = s / a[i * p + i];
        }
        for i in (0..p).rev() {
            let mut s = x[i * m + c];
            for k in (i + 1)..p {
                s -= a[k * p + i] * x[k * m + c];
            }
            x[i * m + c] = s / a[i * p + i];
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rng::Rng;

    #[test]
    fn solves_a_small_system_exactly() {
        // [[4, 2], [2, 3]] x = [[2], [5]] → x = [-0.5, 2].
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let x = solve_spd(&mut a, 2, &[2.0, 5.0], 1);
        assert!(
            (x[0] + 0.5).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12,
            "{x:?}"
        );
    }

    #[test]
    fn separates_linearly_separable_classes_and_not_noise() {
        let mut rng = Rng::new(3);
        let (mut features, mut labels) = (Vec::new(), Vec::new());
        for i in 0..300 {
            let class = i % 3;
            // Class is encoded in feature 0 and 1; feature 2 is noise.
            features.extend([
                class as f32 + rng.uniform(-0.3, 0.3),
                (class == 1) as u8 as f32 + rng.uniform(-0.3, 0.3),
                rng.uniform(-5.0, 5.0),
            ]);
            labels.push(class);
        }
        let probe = RidgeProbe::fit(&features[..600], 3, &labels[..200], 3);
        assert!(probe.accuracy(&features[600..], &labels[200..]) > 0.95);
        // Labels unrelated to the features: about chance.
        let shuffled: Vec<usize> = (0..300).map(|_| rng.below(3)).collect();
        let noise = RidgeProbe::fit(&features[..600], 3, &shuffled[..200], 3);
        assert!(noise.accuracy(&features[600..], &shuffled[200..]) < 0.55);
    }
}
