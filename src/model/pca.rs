//! Looking at learned representations: a 2-D PCA projection for the scatter
//! plot and cosine nearest neighbours for retrieval. Plain CPU code over rows
//! already read back from the device (at most a few hundred × a few hundred).

/// Projects `rows` points of dimension `dim` (row-major) onto their first two
/// principal components (power iteration with deflation on the covariance).
pub fn pca_2d(data: &[f32], rows: usize, dim: usize) -> Vec<[f32; 2]> {
    assert_eq!(data.len(), rows * dim);
    if rows == 0 {
        return Vec::new();
    }
    let mut mean = vec![0f64; dim];
    for row in data.chunks(dim) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64 / rows as f64;
        }
    }
    let centred: Vec<Vec<f64>> = data
        .chunks(dim)
        .map(|row| row.iter().zip(&mean).map(|(&v, m)| v as f64 - m).collect())
        .collect();
    let mut cov = vec![0f64; dim * dim];
    for row in &centred {
        for i in 0..dim {
            for j in 0..dim {
                cov[i * dim + j] += row[i] * row[j];
            }
        }
    }
    let mut components = Vec::new();
    for k in 0..2 {
        // Deterministic start, not orthogonal to typical leading directions.
        let mut v: Vec<f64> = (0..dim)
            .map(|i| 1.0 + ((i * 7 + k * 3) % 5) as f64 * 0.1)
            .collect();
        let mut eigenvalue = 0.0;
        for _ in 0..200 {
            let mut next = vec![0f64; dim];
            for i in 0..dim {
                next[i] = (0..dim).map(|j| cov[i * dim + j] * v[j]).sum();
            }
            let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-12 {
                break;
            }
            eigenvalue = norm;
            v = next.into_iter().map(|x| x / norm).collect();
        }
        // Deflate: remove the found direction so the next iteration finds the second.
        for i in 0..dim {
            for j in 0..dim {
                cov[i * dim + j] -= eigenvalue * v[i] * v[j];
            }
        }
        components.push(v);
    }
    centred
        .iter()
        .map(|row| {
            let p = |c: &Vec<f64>| row.iter().zip(c).map(|(a, b)| a * b).sum::<f64>() as f32;
            [p(&components[0]), p(&components[1])]
        })
        .collect()
}

/// The `k` rows most cosine-similar to row `query` (itself excluded), best first.
pub fn nearest_by_cosine(data: &[f32], dim: usize, query: usize, k: usize) -> Vec<(usize, f32)> {
    let norm = |r: &[f32]| r.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let rows: Vec<&[f32]> = data.chunks(dim).collect();
    let q = rows[query];
    let qn = norm(q);
    let mut scored: Vec<(usize, f32)> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != query)
        .map(|(i, r)| {
            (
                i,
                r.iter().zip(q).map(|(a, b)| a * b).sum::<f32>() / (norm(r) * qn),
            )
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored.truncate(k);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_on_a_line_project_onto_the_first_component() {
        // Points along (1, 2, 0) with a little spread along (0, 0, 1).
        let data: Vec<f32> = (0..5)
            .flat_map(|i| {
                let t = i as f32 - 2.0;
                [t, 2.0 * t, 0.1 * (i % 2) as f32]
            })
            .collect();
        let projected = pca_2d(&data, 5, 3);
        let along: Vec<f32> = projected.iter().map(|p| p[0].abs()).collect();
        // |first coordinate| = |t|·√5 (sign is arbitrary).
        for (i, a) in along.iter().enumerate() {
            let t = (i as f32 - 2.0).abs();
            assert!((a - t * 5f32.sqrt()).abs() < 1e-3, "{projected:?}");
        }
        assert!(projected.iter().all(|p| p[1].abs() < 0.1));
    }

    #[test]
    fn nearest_neighbours_rank_by_cosine_and_skip_the_query() {
        let data = [1.0, 0.0, 0.9, 0.1, 0.0, 1.0, -1.0, 0.0];
        let found = nearest_by_cosine(&data, 2, 0, 2);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!((found[1].1 - 0.0).abs() < 1e-6);
    }
}
