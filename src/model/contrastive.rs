//! The contrastive objectives of the discriminative demos. SimCSE borrowed
//! SimCLR's loss, so one InfoNCE serves both:
//!
//! - [`info_nce`]: the general form (van den Oord et al. 2018, "Representation
//!   Learning with Contrastive Predictive Coding", eq. 4): each query must pick
//!   its positive key out of all keys, by a softmax over cosine similarities
//!   divided by a temperature τ.
//! - [`nt_xent`]: SimCLR (Chen et al. 2020, eq. 1): 2N views, each view's
//!   positive is its partner, the other 2(N−1) views are negatives, itself is
//!   excluded, and the loss is averaged over all 2N views (both orders).
//! - [`simcse_unsupervised`] / [`simcse_supervised`]: SimCSE (Gao et al. 2021,
//!   eq. 1 and eq. 5): in-batch negatives, and contradictions as hard negatives.
//! - [`alignment`] / [`uniformity`]: Wang & Isola 2020, the two properties
//!   SimCSE uses to explain what the loss does.

use burn::tensor::{activation::log_softmax, Bool, Int, Tensor, TensorData};

/// A logit low enough that `exp` of it is exactly 0 in f32, so masked entries
/// leave the softmax's denominator without producing infinities in gradients.
const MASKED_LOGIT: f32 = -1.0e9;

/// Scales every row to unit length (so dot products are cosines).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// Cosine similarity of every row of `a` with every row of `b`: `[n, m]`.
pub fn cosine_similarity_matrix(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    l2_normalize(a).matmul(l2_normalize(b).transpose())
}

/// InfoNCE: `mean_i −log( exp(s(q_i,k_p(i))/τ) / Σ_j exp(s(q_i,k_j)/τ) )`,
/// `s` the cosine similarity, `p(i) = positives[i]`, and the sum over the keys
/// `j` not marked in `excluded` (`[n, m]`, `true` = leave out; e.g. a view's
/// similarity with itself in SimCLR). Returns a one-element tensor.
pub fn info_nce(
    queries: Tensor<2>,
    keys: Tensor<2>,
    positives: &[usize],
    excluded: Option<Tensor<2, Bool>>,
    temperature: f32,
) -> Tensor<1> {
    let device = queries.device();
    let n = queries.dims()[0];
    assert_eq!(positives.len(), n, "one positive key per query");
    let mut logits = cosine_similarity_matrix(queries, keys) / temperature;
    if let Some(mask) = excluded {
        logits = logits.mask_fill(mask, MASKED_LOGIT);
    }
    let targets = Tensor::<2, Int>::from_data(
        TensorData::new(
            positives.iter().map(|&p| p as i64).collect::<Vec<_>>(),
            [n, 1],
        ),
        &device,
    );
    -log_softmax(logits, 1).gather(1, targets).mean()
}

/// SimCLR's NT-Xent over the 2N views `z_a[i]`, `z_b[i]` (projection-head
/// outputs of two augmentations of image i).
pub fn nt_xent(z_a: Tensor<2>, z_b: Tensor<2>, temperature: f32) -> Tensor<1> {
    let device = z_a.device();
    let n = z_a.dims()[0];
    let views = Tensor::cat(vec![z_a, z_b], 0);
    // View k's partner is k + N (mod 2N); the diagonal (k with itself) is excluded.
    let positives: Vec<usize> = (0..2 * n).map(|k| (k + n) % (2 * n)).collect();
    let self_pairs = !Tensor::<2, Bool>::diag_mask([2 * n, 2 * n], 0, &device);
    info_nce(
        views.clone(),
        views,
        &positives,
        Some(self_pairs),
        temperature,
    )
}

/// Unsupervised SimCSE: `h[i]` and `h_pos[i]` are the same sentence encoded
/// twice with different dropout masks; the other sentences are negatives.
pub fn simcse_unsupervised(h: Tensor<2>, h_pos: Tensor<2>, temperature: f32) -> Tensor<1> {
    let positives: Vec<usize> = (0..h.dims()[0]).collect();
    info_nce(h, h_pos, &positives, None, temperature)
}

/// Supervised SimCSE: premise `h[i]`, its entailment `h_pos[i]`, its
/// contradiction `h_neg[i]`; every entailment and contradiction of the batch
/// is in the denominator.
pub fn simcse_supervised(
    h: Tensor<2>,
    h_pos: Tensor<2>,
    h_neg: Tensor<2>,
    temperature: f32,
) -> Tensor<1> {
    let positives: Vec<usize> = (0..h.dims()[0]).collect();
    info_nce(
        h,
        Tensor::cat(vec![h_pos, h_neg], 0),
        &positives,
        None,
        temperature,
    )
}

/// Alignment (Wang & Isola 2020, α = 2): `E ||f(x) − f(x⁺)||²` over positive
/// pairs of unit vectors. Lower is better.
pub fn alignment(x: Tensor<2>, x_pos: Tensor<2>) -> Tensor<1> {
    (l2_normalize(x) - l2_normalize(x_pos))
        .powi_scalar(2)
        .sum_dim(1)
        .mean()
}

/// Uniformity (Wang & Isola 2020, t = 2): `log E exp(−2 ||f(x) − f(y)||²)`
/// over distinct pairs. Lower is better (spread over the sphere).
pub fn uniformity(x: Tensor<2>) -> Tensor<1> {
    let device = x.device();
    let n = x.dims()[0];
    assert!(n >= 2, "uniformity needs at least two embeddings");
    // For unit vectors ||a − b||² = 2 − 2 a·b.
    let squared_distance = (cosine_similarity_matrix(x.clone(), x) * -2.0) + 2.0;
    let kernel = (squared_distance * -2.0).exp();
    let off_diagonal = Tensor::<2, Bool>::diag_mask([n, n], 0, &device);
    let pairs = (n * (n - 1)) as f32;
    (kernel.mask_fill(!off_diagonal, 0.0).sum() / pairs).log()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_devices;
    use burn::tensor::Device;

    /// Absolute tolerance for O(1) values: f32 on the CPU, and 10× that on a
    /// GPU, whose kernels reorder sums.
    fn tolerance(device: &str) -> f32 {
        if device == "wgpu" {
            1e-5
        } else {
            1e-6
        }
    }

    fn matrix(rows: &[&[f32]], device: &Device) -> Tensor<2> {
        let d = rows[0].len();
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), d]), device)
    }

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_data().try_to_vec::<f32>().unwrap()[0]
    }

    #[test]
    fn nt_xent_matches_the_hand_computed_value() {
        // Views a1=[1,0], a2=[0,1], b1=[1,0], b2=[0,1], τ=1. For a1 the other
        // views have cosines a2:0, b1:1 (positive), b2:0, so its loss is
        // −log(e/(e+2)) = log(1 + 2/e); all four views are alike.
        let expected = (1.0 + 2.0 / std::f32::consts::E).ln();
        for (name, d) in test_devices::all() {
            let z_a = matrix(&[&[1.0, 0.0], &[0.0, 1.0]], &d);
            let z_b = matrix(&[&[1.0, 0.0], &[0.0, 1.0]], &d);
            let got = scalar(nt_xent(z_a, z_b, 1.0));
            assert!(
                (got - expected).abs() < tolerance(name),
                "{name}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn nt_xent_is_symmetric_in_the_views_and_log_2n_minus_1_for_identical_embeddings() {
        for (name, d) in test_devices::all() {
            let a = matrix(
                &[&[1.0, 2.0, 0.5], &[-1.0, 0.3, 2.0], &[0.2, -0.7, 1.0]],
                &d,
            );
            let b = matrix(
                &[&[0.9, 2.2, 0.1], &[-0.5, 0.1, 1.0], &[1.0, 1.0, -1.0]],
                &d,
            );
            let ab = scalar(nt_xent(a.clone(), b.clone(), 0.5));
            let ba = scalar(nt_xent(b, a, 0.5));
            assert!((ab - ba).abs() < tolerance(name), "{name}: {ab} vs {ba}");
            // All 2N views equal: every logit is 1/τ, so each view's loss is
            // −log(1/(2N−1)) = log(2N−1) whatever τ is.
            let row: &[f32] = &[0.3, -0.4, 1.0];
            let same = matrix(&[row; 4], &d);
            let got = scalar(nt_xent(same.clone(), same, 0.1));
            assert!(
                (got - 7f32.ln()).abs() < tolerance(name),
                "{name}: {got} vs ln 7"
            );
        }
    }

    #[test]
    fn nt_xent_matches_a_loop_implementation_of_simclr_eq_1() {
        let n = 3;
        let dim = 4;
        let raw: Vec<f32> = (0..2 * n * dim)
            .map(|k| ((k * 37 % 17) as f32 - 8.0) / 5.0)
            .collect();
        let rows: Vec<Vec<f64>> = raw
            .chunks(dim)
            .map(|r| r.iter().map(|&v| v as f64).collect())
            .collect();
        let tau = 0.5f64;
        let cos = |a: &[f64], b: &[f64]| {
            let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
            let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
            dot / (na * nb)
        };
        // ℓ(i,j) = −log exp(s_ij/τ) / Σ_{k≠i} exp(s_ik/τ); L = 1/2N Σ_k [ℓ(2k−1,2k) + ℓ(2k,2k−1)].
        let mut total = 0.0;
        for i in 0..2 * n {
            let j = (i + n) % (2 * n);
            let denom: f64 = (0..2 * n)
                .filter(|&k| k != i)
                .map(|k| (cos(&rows[i], &rows[k]) / tau).exp())
                .sum();
            total += -((cos(&rows[i], &rows[j]) / tau).exp() / denom).ln();
        }
        let expected = total / (2 * n) as f64;
        for (name, d) in test_devices::all() {
            let z = Tensor::<2>::from_data(TensorData::new(raw.clone(), [2 * n, dim]), &d);
            let z_a = z.clone().slice([0..n, 0..dim]);
            let z_b = z.slice([n..2 * n, 0..dim]);
            let got = scalar(nt_xent(z_a, z_b, tau as f32)) as f64;
            assert!(
                (got - expected).abs() < 1e-5,
                "{name}: got {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn supervised_simcse_counts_the_hard_negative() {
        // One premise [1,0], entailment [1,0], contradiction [0,1], τ=1:
        // −log(e/(e+1)) = log(1 + 1/e).
        let expected = (1.0 + 1.0 / std::f32::consts::E).ln();
        for (name, d) in test_devices::all() {
            let loss = simcse_supervised(
                matrix(&[&[1.0, 0.0]], &d),
                matrix(&[&[1.0, 0.0]], &d),
                matrix(&[&[0.0, 1.0]], &d),
                1.0,
            );
            let got = scalar(loss);
            assert!(
                (got - expected).abs() < tolerance(name),
                "{name}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn unsupervised_simcse_is_lower_for_matching_pairs_than_for_swapped_ones() {
        let d = test_devices::cpu();
        let h = matrix(&[&[1.0, 0.1], &[0.1, 1.0]], &d);
        let matched = scalar(simcse_unsupervised(
            h.clone(),
            matrix(&[&[0.9, 0.0], &[0.0, 0.9]], &d),
            0.05,
        ));
        let swapped = scalar(simcse_unsupervised(
            h,
            matrix(&[&[0.0, 0.9], &[0.9, 0.0]], &d),
            0.05,
        ));
        assert!(
            matched < 0.01 && swapped > 10.0,
            "matched {matched}, swapped {swapped}"
        );
    }

    #[test]
    fn alignment_and_uniformity_match_hand_computed_values() {
        for (name, d) in test_devices::all() {
            // ||[1,0]−[0,1]||² = 2 and 0 for the second pair: mean 1.
            let align = alignment(
                matrix(&[&[1.0, 0.0], &[0.0, 1.0]], &d),
                matrix(&[&[0.0, 1.0], &[0.0, 3.0]], &d),
            );
            assert!((scalar(align) - 1.0).abs() < tolerance(name), "{name}");
            // Two antipodal points: ||a−b||² = 4, log exp(−8) = −8.
            let uniform = uniformity(matrix(&[&[2.0, 0.0], &[-1.0, 0.0]], &d));
            assert!((scalar(uniform) + 8.0).abs() < 1e-4, "{name}");
        }
    }

    #[test]
    fn a_gradient_step_on_nt_xent_lowers_it_without_nans() {
        for (name, device) in test_devices::all() {
            gradient_step_lowers_nt_xent(name, device.autodiff());
        }
    }

    fn gradient_step_lowers_nt_xent(name: &str, d: Device) {
        let z_a =
            matrix(&[&[1.0, 0.2, 0.0], &[0.3, 1.0, 0.1], &[0.0, 0.4, 1.0]], &d).require_grad();
        let z_b = matrix(&[&[0.2, 1.0, 0.0], &[1.0, 0.1, 0.3], &[0.1, 0.0, 1.0]], &d);
        let loss = nt_xent(z_a.clone(), z_b.clone(), 0.5);
        let before = scalar(loss.clone());
        let grads = loss.backward();
        let grad = z_a.grad(&grads).expect("z_a is tracked");
        let values = grad.clone().into_data().try_to_vec::<f32>().unwrap();
        assert!(
            values.iter().all(|v| v.is_finite()) && values.iter().any(|v| *v != 0.0),
            "{name}: {values:?}"
        );
        let stepped = z_a.inner() - grad * 0.5;
        let after = scalar(nt_xent(stepped, z_b.inner(), 0.5));
        assert!(after < before, "{name}: loss went from {before} to {after}");
    }
}
