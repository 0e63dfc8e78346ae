//! Multi-head scaled dot-product self-attention (Vaswani et al. 2017, §3.2,
//! eq. 1: softmax(QKᵀ/√d_k) V), the one attention module of the project.
//!
//! It has separate query / key / value / output projections — the layout of
//! Hugging Face's BERT (`attention.self.{query,key,value}`,
//! `attention.output.dense`) — so one module serves a bidirectional encoder
//! (BERT, SimCSE, iGPT's masked-pixel model) and a causal decoder (iGPT's
//! next-pixel model). The causal decoder also decodes incrementally with a
//! [`KvCache`]: generating token t then costs O(t), not a full forward pass.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor, TensorData};

#[derive(Config, Debug)]
pub struct SelfAttentionConfig {
    pub d_model: usize,
    pub n_heads: usize,
    /// Dropout on the attention probabilities (BERT uses 0.1 while training).
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl SelfAttentionConfig {
    pub fn init(&self, device: &Device) -> SelfAttention {
        assert!(
            self.d_model.is_multiple_of(self.n_heads),
            "d_model {} is not a multiple of n_heads {}",
            self.d_model,
            self.n_heads
        );
        let linear = || LinearConfig::new(self.d_model, self.d_model).init(device);
        SelfAttention {
            query: linear(),
            key: linear(),
            value: linear(),
            output: linear(),
            dropout: DropoutConfig::new(self.dropout).init(),
            n_heads: self.n_heads,
        }
    }
}

/// Which keys each query may attend to.
#[derive(Debug, Clone)]
pub enum AttentionMask {
    /// Every query sees every key (BERT).
    Bidirectional,
    /// Query i sees keys j ≤ i only (GPT): the output at position i is then
    /// independent of the inputs after i.
    Causal,
    /// Bidirectional, but keys marked `true` in this [batch, keys] tensor
    /// (padding) are never attended to.
    Padding(Box<Tensor<2, burn::tensor::Bool>>),
}

#[derive(Module, Debug)]
pub struct SelfAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub output: Linear,
    dropout: Dropout,
    n_heads: usize,
}

/// Keys and values of the positions decoded so far, per layer: [batch, heads, t, d_head].
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    keys: Option<Tensor<4>>,
    values: Option<Tensor<4>>,
}

impl KvCache {
    /// How many positions are cached.
    pub fn len(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| k.dims()[2])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A large negative logit for masked keys: exp() of it underflows to 0 in f32,
/// and unlike -inf it cannot make a fully masked row NaN.
const MASKED: f32 = -1.0e9;

impl SelfAttention {
    /// x: [batch, t, d_model] → [batch, t, d_model].
    pub fn forward(&self, x: Tensor<3>, mask: &AttentionMask) -> Tensor<3> {
        self.forward_with_weights(x, mask).0
    }

    /// Also returns the attention probabilities [batch, heads, t, t] (for the
    /// attention view).
    pub fn forward_with_weights(
        &self,
        x: Tensor<3>,
        mask: &AttentionMask,
    ) -> (Tensor<3>, Tensor<4>) {
        let q = self.heads(self.query.forward(x.clone()));
        let k = self.heads(self.key.forward(x.clone()));
        let v = self.heads(self.value.forward(x));
        self.attend(q, k, v, mask, 0)
    }

    /// Incremental decoding for a causal model: `x` holds the next `t_new`
    /// positions (t_new = the prompt's length when prefilling, then 1); their
    /// keys and values are appended to `cache`, and each new query attends to
    /// every cached position and to the new ones up to itself. The result equals
    /// the matching rows of a full causal forward pass over all positions.
    pub fn forward_cached(&self, x: Tensor<3>, cache: &mut KvCache) -> Tensor<3> {
        let past = cache.len();
        let q = self.heads(self.query.forward(x.clone()));
        let k_new = self.heads(self.key.forward(x.clone()));
        let v_new = self.heads(self.value.forward(x));
        let k = match cache.keys.take() {
            Some(k) => Tensor::cat(vec![k, k_new], 2),
            None => k_new,
        };
        let v = match cache.values.take() {
            Some(v) => Tensor::cat(vec![v, v_new], 2),
            None => v_new,
        };
        cache.keys = Some(k.clone());
        cache.values = Some(v.clone());
        self.attend(q, k, v, &AttentionMask::Causal, past).0
    }

    /// [batch, t, d_model] → [batch, heads, t, d_head].
    fn heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, t, d] = x.dims();
        x.reshape([b, t, self.n_heads, d / self.n_heads])
            .swap_dims(1, 2)
    }

    /// `past`: how many keys precede the first query (for the causal mask of
    /// incremental decoding).
    fn attend(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        mask: &AttentionMask,
        past: usize,
    ) -> (Tensor<3>, Tensor<4>) {
        let [b, h, t_q, d_head] = q.dims();
        let t_k = k.dims()[2];
        let device = q.device();
        let mut scores = q.matmul(k.swap_dims(2, 3)) / (d_head as f64).sqrt();
        match mask {
            AttentionMask::Bidirectional => {}
            AttentionMask::Causal => {
                if t_q > 1 || t_k > past + 1 {
                    scores =
                        scores + causal_bias(t_q, t_k, past, &device).reshape([1, 1, t_q, t_k]);
                }
            }
            AttentionMask::Padding(padded) => {
                let bias = (**padded).clone().float() * MASKED;
                scores = scores + bias.reshape([b, 1, 1, t_k]);
            }
        }
        let weights = softmax(scores, 3);
        let out = self.dropout.forward(weights.clone()).matmul(v);
        let out = out.swap_dims(1, 2).reshape([b, t_q, h * d_head]);
        (self.output.forward(out), weights)
    }
}

/// Additive bias [t_q, t_k]: 0 where query i (absolute position past + i) may
/// see key j (j ≤ past + i), a large negative number elsewhere.
fn causal_bias(t_q: usize, t_k: usize, past: usize, device: &Device) -> Tensor<2> {
    let mut bias = vec![0.0f32; t_q * t_k];
    for i in 0..t_q {
        for j in (past + i + 1)..t_k {
            bias[i * t_k + j] = MASKED;
        }
    }
    Tensor::from_data(TensorData::new(bias, [t_q, t_k]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_devices::{self, max_abs_diff};
    use burn::tensor::Distribution;

    #[test]
    fn causal_output_at_t_ignores_later_inputs() {
        for (name, device) in test_devices::all() {
            device.seed(3);
            let attention = SelfAttentionConfig::new(16, 4).init(&device);
            let x = Tensor::<3>::random([2, 6, 16], Distribution::Normal(0.0, 1.0), &device);
            // Change only positions 4 and 5.
            let later = Tensor::<3>::random([2, 2, 16], Distribution::Normal(0.0, 1.0), &device);
            let y = Tensor::cat(vec![x.clone().narrow(1, 0, 4), later], 1);
            let out_x = attention.forward(x, &AttentionMask::Causal);
            let out_y = attention.forward(y, &AttentionMask::Causal);
            let early = max_abs_diff(out_x.clone().narrow(1, 0, 4), out_y.clone().narrow(1, 0, 4));
            assert!(early < 1e-5, "{name}: positions 0..4 changed by {early}");
            let late = max_abs_diff(out_x.narrow(1, 4, 2), out_y.narrow(1, 4, 2));
            assert!(late > 1e-3, "{name}: positions 4..6 should change ({late})");
        }
    }

    #[test]
    fn bidirectional_output_sees_both_sides() {
        let device = test_devices::cpu();
        device.seed(4);
        let attention = SelfAttentionConfig::new(8, 2).init(&device);
        let x = Tensor::<3>::random([1, 5, 8], Distribution::Normal(0.0, 1.0), &device);
        let changed_last = Tensor::cat(
            vec![
                x.clone().narrow(1, 0, 4),
                Tensor::random([1, 1, 8], Distribution::Normal(0.0, 1.0), &device),
            ],
            1,
        );
        let a = attention.forward(x, &AttentionMask::Bidirectional);
        let b = attention.forward(changed_last, &AttentionMask::Bidirectional);
        // Position 0 sees position 4 when there is no causal mask.
        assert!(max_abs_diff(a.narrow(1, 0, 1), b.narrow(1, 0, 1)) > 1e-4);
    }

    #[test]
    fn padded_keys_are_ignored() {
        let device = test_devices::cpu();
        device.seed(5);
        let attention = SelfAttentionConfig::new(8, 2).init(&device);
        let x = Tensor::<3>::random([1, 3, 8], Distribution::Normal(0.0, 1.0), &device);
        let padded = Tensor::cat(
            vec![
                x.clone(),
                Tensor::random([1, 2, 8], Distribution::Normal(0.0, 1.0), &device),
            ],
            1,
        );
        let mask = Tensor::<2, burn::tensor::Bool>::from_data(
            TensorData::new(vec![false, false, false, true, true], [1, 5]),
            &device,
        );
        let alone = attention.forward(x, &AttentionMask::Bidirectional);
        let with_padding = attention
            .forward(padded, &AttentionMask::Padding(Box::new(mask)))
            .narrow(1, 0, 3);
        assert!(max_abs_diff(alone, with_padding) < 1e-5);
    }

    #[test]
    fn cached_decoding_equals_the_full_causal_pass() {
        for (name, device) in test_devices::all() {
            device.seed(6);
            let attention = SelfAttentionConfig::new(16, 4).init(&device);
            let x = Tensor::<3>::random([2, 7, 16], Distribution::Normal(0.0, 1.0), &device);
            let full = attention.forward(x.clone(), &AttentionMask::Causal);
            let mut cache = KvCache::default();
            // Prefill 3 positions, then one at a time.
            let mut parts = vec![attention.forward_cached(x.clone().narrow(1, 0, 3), &mut cache)];
            for t in 3..7 {
                parts.push(attention.forward_cached(x.clone().narrow(1, t, 1), &mut cache));
            }
            assert_eq!(cache.len(), 7);
            let diff = max_abs_diff(full, Tensor::cat(parts, 1));
            assert!(diff < 1e-4, "{name}: cached decoding differs by {diff}");
        }
    }
}
