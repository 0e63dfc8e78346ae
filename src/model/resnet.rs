//! SimCLR's network (Chen et al. 2020, §2.1): a shared encoder f(·) — here a
//! small ResNet (He et al. 2016) with one basic block per stage — whose
//! pooled output h is the representation, and a projection head g(·), a
//! 2-layer MLP, whose output z is what the contrastive loss sees. After
//! pretraining g is thrown away and h is used (the paper's §4.2 finding that h
//! holds more information than z).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::module::adaptive_avg_pool2d;
use burn::tensor::{Device, Tensor};

#[derive(Config, Debug, PartialEq)]
pub struct SimClrConfig {
    /// Channels of the first stage; the four stages have w, 2w, 4w, 8w, so the
    /// representation h has 8w dimensions.
    #[config(default = 16)]
    pub width: usize,
    /// Output size of the projection head (the paper uses 128).
    #[config(default = 64)]
    pub projection_dim: usize,
}

impl SimClrConfig {
    pub fn representation_dim(&self) -> usize {
        8 * self.width
    }

    pub fn init(&self, device: &Device) -> SimClrModel {
        let w = self.width;
        let stem = ConvBn::new(3, w, 1, device);
        let blocks = vec![
            BasicBlock::new(w, w, 1, device),
            BasicBlock::new(w, 2 * w, 2, device),
            BasicBlock::new(2 * w, 4 * w, 2, device),
            BasicBlock::new(4 * w, 8 * w, 2, device),
        ];
        let d = self.representation_dim();
        SimClrModel {
            encoder: ResNetEncoder { stem, blocks },
            head: ProjectionHead {
                hidden: LinearConfig::new(d, d).init(device),
                output: LinearConfig::new(d, self.projection_dim).init(device),
            },
        }
    }
}

/// 3×3 convolution (no bias: the batch norm has one) followed by batch norm.
#[derive(Module, Debug)]
pub struct ConvBn {
    conv: Conv2d,
    norm: BatchNorm,
}

impl ConvBn {
    fn new(channels_in: usize, channels_out: usize, stride: usize, device: &Device) -> Self {
        Self::with_kernel(channels_in, channels_out, stride, 3, device)
    }

    fn with_kernel(
        channels_in: usize,
        channels_out: usize,
        stride: usize,
        kernel: usize,
        device: &Device,
    ) -> Self {
        let pad = kernel / 2;
        Self {
            conv: Conv2dConfig::new([channels_in, channels_out], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .init(device),
            norm: BatchNormConfig::new(channels_out).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.norm.forward(self.conv.forward(x))
    }
}

/// ResNet's basic block: two 3×3 conv-BN layers and an identity shortcut (a
/// strided 1×1 conv-BN where the shape changes).
#[derive(Module, Debug)]
pub struct BasicBlock {
    first: ConvBn,
    second: ConvBn,
    shortcut: Option<ConvBn>,
}

impl BasicBlock {
    fn new(channels_in: usize, channels_out: usize, stride: usize, device: &Device) -> Self {
        let shortcut = (stride != 1 || channels_in != channels_out)
            .then(|| ConvBn::with_kernel(channels_in, channels_out, stride, 1, device));
        Self {
            first: ConvBn::new(channels_in, channels_out, stride, device),
            second: ConvBn::new(channels_out, channels_out, 1, device),
            shortcut,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let residual = match &self.shortcut {
            Some(shortcut) => shortcut.forward(x.clone()),
            None => x.clone(),
        };
        let y = self.second.forward(relu(self.first.forward(x)));
        relu(y + residual)
    }
}

#[derive(Module, Debug)]
pub struct ResNetEncoder {
    stem: ConvBn,
    blocks: Vec<BasicBlock>,
}

impl ResNetEncoder {
    /// `[n, 3, s, s]` images → `[n, 8w]` representations h (global average pool).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.upper(self.lower(images, self.blocks.len()), self.blocks.len())
    }

    /// How many residual blocks follow the stem (the largest `cut`).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// The stem and the blocks before `cut`: images → feature maps.
    pub fn lower(&self, images: Tensor<4>, cut: usize) -> Tensor<4> {
        let x = relu(self.stem.forward(images));
        self.blocks[..cut]
            .iter()
            .fold(x, |x, block| block.forward(x))
    }

    /// The blocks from `cut` on, then the global average pool: `lower`'s
    /// feature maps → h.
    pub fn upper(&self, x: Tensor<4>, cut: usize) -> Tensor<2> {
        let x = self.blocks[cut..]
            .iter()
            .fold(x, |x, block| block.forward(x));
        let [n, c, _, _] = x.dims();
        adaptive_avg_pool2d(x, [1, 1]).reshape([n, c])
    }
}

/// g(h) = W₂ ReLU(W₁ h) (paper eq. in §2.1).
#[derive(Module, Debug)]
pub struct ProjectionHead {
    hidden: Linear,
    output: Linear,
}

impl ProjectionHead {
    pub fn forward(&self, h: Tensor<2>) -> Tensor<2> {
        self.output.forward(relu(self.hidden.forward(h)))
    }
}

#[derive(Module, Debug)]
pub struct SimClrModel {
    pub encoder: ResNetEncoder,
    pub head: ProjectionHead,
}

impl SimClrModel {
    /// Representations h and projections z of a batch of views.
    pub fn forward(&self, views: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let h = self.encoder.forward(views);
        let z = self.head.forward(h.clone());
        (h, z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_devices;
    use burn::tensor::TensorData;

    #[test]
    fn shapes_of_representation_and_projection() {
        for (name, device) in test_devices::all() {
            let config = SimClrConfig::new().with_width(4).with_projection_dim(8);
            let model = config.init(&device);
            let x = Tensor::<4>::from_data(
                TensorData::new(vec![0.5f32; 3 * 3 * 16 * 16], [3, 3, 16, 16]),
                &device,
            );
            let (h, z) = model.forward(x);
            assert_eq!(h.dims(), [3, 32], "{name}");
            assert_eq!(z.dims(), [3, 8], "{name}");
        }
    }
}
