//! A small matrix product with a known answer, run on a freshly chosen device
//! before the app trusts it. It catches adapters that initialise but compute
//! garbage, and it times the device so the header can say how fast it is.

use burn::tensor::{Device, Tensor, TensorData};

/// Side of the square matrices of the check. Big enough to dispatch a real
/// matmul kernel, small enough to finish in milliseconds on a software adapter.
pub const SELFTEST_SIZE: usize = 64;

/// Deterministic inputs of an `m×k` by `k×n` product: `a[i][j] = ((i*7 + j*3)
/// % 11) - 5`, `b` likewise with other constants. Small integers keep every
/// partial sum exact in f32 (|sum| ≤ 15k), whatever order a kernel adds in.
pub fn selftest_inputs(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..m * k)
        .map(|x| ((x / k * 7 + x % k * 3) % 11) as f32 - 5.0)
        .collect();
    let b = (0..k * n)
        .map(|x| ((x / n * 5 + x % n * 2) % 7) as f32 - 3.0)
        .collect();
    (a, b)
}

/// The product computed on the host, the reference the device must match.
pub fn reference_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for p in 0..k {
            let aip = a[i * k + p];
            for j in 0..n {
                c[i * n + j] += aip * b[p * n + j];
            }
        }
    }
    c
}

/// Products `(m, k, n)` shaped like the models' own, one for each family of
/// matmul kernel that burn's autotune picks from on WebGPU: a layer of a
/// short sentence (general), a tall matrix times a vector (the MLM head's
/// kind), a vector times a matrix. Autotune may choose a kernel the browser
/// rejected while tuning (its dropped work looks fast); these catch that
/// before the app trusts the device.
pub const MATMUL_CHECKS: [(usize, usize, usize); 3] =
    [(16, 384, 1536), (2048, 384, 1), (1, 384, 2)];

/// Why a device failed its check.
#[derive(Debug, Clone, PartialEq)]
pub enum SelftestError {
    /// The device could not run the kernel or read the result back.
    Execution(String),
    /// The device returned numbers that differ from the host's product.
    WrongResult {
        index: usize,
        expected: f32,
        got: f32,
    },
}

impl std::fmt::Display for SelftestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SelftestError::Execution(e) => write!(f, "the device could not run a matrix product: {e}"),
            SelftestError::WrongResult { index, expected, got } => write!(
                f,
                "the device computed a wrong matrix product (element {index}: expected {expected}, got {got})"
            ),
        }
    }
}

/// Runs the `n×n` check on `device`. Readback is async, so this works on
/// WebGPU in the browser where synchronous readback is impossible.
pub async fn run_selftest(device: &Device, n: usize) -> Result<(), SelftestError> {
    check_product(device, n, n, n).await
}

/// Runs every product of [`MATMUL_CHECKS`] on `device`.
pub async fn run_matmul_checks(device: &Device) -> Result<(), SelftestError> {
    for (m, k, n) in MATMUL_CHECKS {
        check_product(device, m, k, n).await.map_err(|e| match e {
            SelftestError::Execution(text) => {
                SelftestError::Execution(format!("{m}×{k} by {k}×{n}: {text}"))
            }
            wrong => wrong,
        })?;
    }
    Ok(())
}

async fn check_product(device: &Device, m: usize, k: usize, n: usize) -> Result<(), SelftestError> {
    let (a, b) = selftest_inputs(m, k, n);
    let expected = reference_matmul(&a, &b, m, k, n);
    let ta = Tensor::<2>::from_data(TensorData::new(a, [m, k]), device);
    let tb = Tensor::<2>::from_data(TensorData::new(b, [k, n]), device);
    let data = ta
        .matmul(tb)
        .into_data_async()
        .await
        .map_err(|e| SelftestError::Execution(format!("{e:?}")))?;
    let got = data
        .try_to_vec::<f32>()
        .map_err(|e| SelftestError::Execution(format!("{e:?}")))?;
    compare(&expected, &got)
}

fn compare(expected: &[f32], got: &[f32]) -> Result<(), SelftestError> {
    if expected.len() != got.len() {
        return Err(SelftestError::Execution(format!(
            "expected {} values, got {}",
            expected.len(),
            got.len()
        )));
    }
    for (index, (&e, &g)) in expected.iter().zip(got).enumerate() {
        // Inputs are small integers, so every partial sum is exact in f32;
        // a tolerance only absorbs fused multiply-add reordering.
        if (e - g).abs() > 1e-3 * e.abs().max(1.0) || g.is_nan() {
            return Err(SelftestError::WrongResult {
                index,
                expected: e,
                got: g,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_matmul_matches_hand_computed_2x2() {
        // [1 2; 3 4] x [5 6; 7 8] = [19 22; 43 50]
        let c = reference_matmul(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0], 2, 2, 2);
        assert_eq!(c, vec![19.0, 22.0, 43.0, 50.0]);
        // [1 2 3] (1×3) x [1 0; 0 1; 1 1] (3×2) = [4 5]
        let c = reference_matmul(&[1.0, 2.0, 3.0], &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0], 1, 3, 2);
        assert_eq!(c, vec![4.0, 5.0]);
    }

    #[test]
    fn selftest_inputs_have_the_asked_shapes_and_exact_sums() {
        for (m, k, n) in MATMUL_CHECKS {
            let (a, b) = selftest_inputs(m, k, n);
            assert_eq!((a.len(), b.len()), (m * k, k * n));
            // Exact in f32 (< 2^24) in any summation order.
            let bound = a.iter().map(|x| x.abs()).fold(0.0, f32::max)
                * b.iter().map(|x| x.abs()).fold(0.0, f32::max)
                * k as f32;
            assert!(bound < (1 << 24) as f32);
        }
    }

    #[test]
    fn compare_reports_the_first_wrong_element() {
        let err = compare(&[1.0, 2.0, 3.0], &[1.0, 2.5, 3.0]).unwrap_err();
        assert_eq!(
            err,
            SelftestError::WrongResult {
                index: 1,
                expected: 2.0,
                got: 2.5
            }
        );
        assert!(compare(&[1.0], &[f32::NAN]).is_err());
        assert!(compare(&[1.0, 2.0], &[1.0]).is_err());
    }

    #[test]
    fn selftest_passes_on_every_backend() {
        for (name, device) in crate::model::test_devices::all() {
            let result = pollster::block_on(run_selftest(&device, SELFTEST_SIZE));
            assert_eq!(result, Ok(()), "on {name}");
            let result = pollster::block_on(run_matmul_checks(&device));
            assert_eq!(result, Ok(()), "model-shaped products on {name}");
        }
    }
}
