//! SimCLR training (Chen et al. 2020, Algorithm 1), one step at a time so the
//! browser can draw between steps: sample N images, draw two augmentations of
//! each (2N views), encode them with the shared encoder and head, and take an
//! Adam step on NT-Xent. The same code trains natively in `cargo test`.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::augment::{self, AugmentConfig, ViewParams};
use super::contrastive::{cosine_similarity_matrix, nt_xent};
use super::resnet::{SimClrConfig, SimClrModel};
use super::rng::Rng;

/// What a visitor can change between steps.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimClrSettings {
    /// N images per batch (2N views).
    pub batch: usize,
    /// NT-Xent's τ (the paper's default for its CIFAR runs is 0.5).
    pub temperature: f32,
    pub learning_rate: f64,
    pub augment: AugmentConfig,
}

impl Default for SimClrSettings {
    fn default() -> Self {
        Self {
            batch: 16,
            temperature: 0.5,
            learning_rate: 1e-3,
            augment: AugmentConfig::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum TrainError {
    /// NT-Xent needs at least one negative: two images.
    TooFewImages {
        images: usize,
    },
    BatchTooLarge {
        batch: usize,
        images: usize,
    },
    /// The loss was NaN or infinite; the weights from before the step are kept.
    NonFinite {
        step: usize,
    },
    /// Reading a result back from the device failed (e.g. the GPU was lost).
    Device(String),
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::TooFewImages { images } => write!(
                f,
                "SimCLR needs at least 2 images (each image's negatives are the other images); there {}.",
                if *images == 1 { "is 1".to_string() } else { format!("are {images}") }
            ),
            TrainError::BatchTooLarge { batch, images } => write!(
                f,
                "The batch size ({batch}) is larger than the number of images ({images}); lower it to {images} or add images."
            ),
            TrainError::NonFinite { step } => write!(
                f,
                "The loss became NaN or infinite at step {step}; training stopped and the weights from step {} were kept. Try a lower learning rate or a higher τ.",
                step.saturating_sub(1)
            ),
            TrainError::Device(e) => write!(f, "The compute device failed: {e}"),
        }
    }
}

/// One step's numbers, read back from the device.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StepReport {
    pub step: usize,
    pub loss: f32,
    /// The 2N×2N cosine similarities of the batch's projections, row-major;
    /// views k and k+N are the positive pair.
    pub similarity: Vec<f32>,
    pub views: usize,
    /// Which images formed the batch.
    pub images: Vec<usize>,
}

pub struct SimClrTrainer {
    /// Training device (autodiff over the compute device).
    device: Device,
    /// All images, `[m, 3, s, s]`, on the compute device without autodiff.
    images: Tensor<4>,
    config: SimClrConfig,
    model: SimClrModel,
    optimizer: ModuleOptimizer,
    rng: Rng,
    step: usize,
    /// Views in the last step's forward pass (2N): `representations` encodes
    /// in chunks of exactly this many images, see there.
    last_views: Option<usize>,
}

/// Images per chunk in `representations` on a GPU before any training step.
const REPRESENTATION_CHUNK: usize = 64;
/// Images per chunk in `representations` on the CPU backend: one task each.
const CPU_REPRESENTATION_CHUNK: usize = 16;
/// In `step_yielding` a step's backward pass is two calls, cut after this
/// many of the encoder's blocks. After the second of four: the blocks below
/// run at full and half resolution and hold a little more of the work, and
/// on the CPU backend the first of the two calls also compiles the backward
/// functions on a run's first step.
const BACKWARD_CUT: usize = 2;

/// Reads a tensor back without blocking (WebGPU cannot read synchronously).
pub async fn read_f32<const D: usize>(x: Tensor<D>) -> Result<Vec<f32>, TrainError> {
    let data = x
        .into_data_async()
        .await
        .map_err(|e| TrainError::Device(format!("{e:?}")))?;
    data.try_to_vec::<f32>()
        .map_err(|e| TrainError::Device(format!("{e:?}")))
}

/// Whether `settings` can train on `images` images: NT-Xent needs a negative,
/// and a batch draws distinct images.
pub fn check_settings(images: usize, settings: &SimClrSettings) -> Result<(), TrainError> {
    if images < 2 {
        return Err(TrainError::TooFewImages { images });
    }
    if settings.batch > images {
        return Err(TrainError::BatchTooLarge {
            batch: settings.batch,
            images,
        });
    }
    Ok(())
}

impl SimClrTrainer {
    /// `images` are `[m, 3, s, s]` in [0, 1] on the compute `device`.
    pub fn new(images: Tensor<4>, config: SimClrConfig, seed: u64) -> Self {
        let device = images.device().inner().autodiff();
        // Seeded initial weights: a run is reproducible from its seed.
        device.seed(seed);
        let model = config.init(&device);
        Self {
            device,
            images: images.inner(),
            config,
            model,
            optimizer: AdamConfig::new().init(),
            rng: Rng::new(seed),
            step: 0,
            last_views: None,
        }
    }

    pub fn steps_done(&self) -> usize {
        self.step
    }

    pub fn image_count(&self) -> usize {
        self.images.dims()[0]
    }

    pub fn config(&self) -> &SimClrConfig {
        &self.config
    }

    pub fn model(&self) -> &SimClrModel {
        &self.model
    }

    /// Whether `settings` can train on these images.
    pub fn check(&self, settings: &SimClrSettings) -> Result<(), TrainError> {
        check_settings(self.image_count(), settings)
    }

    /// Two augmented views of each of `indices`: `([k,3,o,o], [k,3,o,o])`.
    pub fn views_of(
        &mut self,
        indices: &[usize],
        augment: &AugmentConfig,
    ) -> (Tensor<4>, Tensor<4>) {
        let batch = self.select(indices);
        let a = augment::sample_views(&mut self.rng, augment, indices.len());
        let b = augment::sample_views(&mut self.rng, augment, indices.len());
        (
            augment::apply(batch.clone(), &a, augment.out_size),
            augment::apply(batch, &b, augment.out_size),
        )
    }

    fn select(&self, indices: &[usize]) -> Tensor<4> {
        let ids = indices.iter().map(|&i| i as i64).collect::<Vec<_>>();
        let ids = Tensor::<1, Int>::from_data(
            TensorData::new(ids, [indices.len()]),
            &self.images.device(),
        );
        self.images.clone().select(0, ids)
    }

    /// One training step. On a non-finite loss the step is undone (weights
    /// restored, optimizer moments reset) and `NonFinite` returned.
    pub async fn step(&mut self, settings: &SimClrSettings) -> Result<StepReport, TrainError> {
        self.step_yielding(settings, || async {}).await
    }

    /// `step`, with `between` awaited after the snapshot of the weights, after
    /// the augmented views, after the forward pass, after the loss, after
    /// each of the backward pass's two halves, and between Adam's steps on
    /// the two halves: seven pauses.
    ///
    /// Why: a whole step was one task on the page's thread, which no input
    /// or paint could interrupt. On the browser's CPU backend, where each op
    /// runs when it is called, up to 60 ms (the bench's
    /// `simclr_train_step_b32` longest task). On WebGPU, where ops only queue
    /// work, 58–152 ms of cubecl's kernel launches and Adam's map over the
    /// module, 33–43 ms of it Adam's (scripts/profile_training.mjs --backend
    /// webgpu, 2026-11-30). The pieces are this small because a run's first
    /// step runs each function for the first time, which is slower (the
    /// browser compiles wasm code when it is first called): on the CPU the
    /// forward pass and the loss together were one 55–78 ms task there, the
    /// whole backward pass one of 66 ms, and the snapshot (which first
    /// creates the lazy weights) 27 ms of the views' task.
    ///
    /// The backward pass is cut after the encoder's `BACKWARD_CUT` blocks:
    /// the blocks above see a detached copy of the feature maps there, so
    /// `loss.backward()` stops at it, and the blocks below get their
    /// gradients from a second backward pass of `Σ lower ⊙ ∂loss/∂copy`, whose
    /// gradient is the chain rule's.
    pub async fn step_yielding<F, Fut>(
        &mut self,
        settings: &SimClrSettings,
        between: F,
    ) -> Result<StepReport, TrainError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        self.step_with(settings, true, between).await
    }

    /// A step; `split`: with the pauses and the two-part backward pass and
    /// Adam step of `step_yielding`, else whole (the tests compare the two
    /// forms).
    async fn step_with<F, Fut>(
        &mut self,
        settings: &SimClrSettings,
        split: bool,
        mut between: F,
    ) -> Result<StepReport, TrainError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        self.check(settings)?;
        let mut pause = || {
            let wait = split.then(&mut between);
            async move {
                if let Some(wait) = wait {
                    wait.await;
                }
            }
        };
        // Snapshot before the forward pass, which updates the batch-norm running
        // statistics in place; `valid()` copies them (a `clone` would share them).
        // On a run's first step this also creates every weight (they are lazy).
        let before = self.model.valid();
        pause().await;
        let n = settings.batch;
        let chosen = self.rng.choose_distinct(self.image_count(), n);
        let (a, b) = self.views_of(&chosen, &settings.augment);
        pause().await;
        let plain_views = Tensor::cat(vec![a, b], 0);
        let views = plain_views.clone().autodiff();
        let encoder = &self.model.encoder;
        let cut = if split {
            BACKWARD_CUT
        } else {
            encoder.block_count()
        };
        let lower = encoder.lower(views, cut);
        // Where the backward pass is cut: a leaf the first call stops at.
        let (above, cut_at) = if split {
            let copy = lower.clone().detach().require_grad();
            (copy.clone(), Some((lower, copy)))
        } else {
            (lower, None)
        };
        let z = self.model.head.forward(encoder.upper(above, cut));
        pause().await;
        let loss = nt_xent(
            z.clone().narrow(0, 0, n),
            z.clone().narrow(0, n, n),
            settings.temperature,
        );
        let z = z.detach().inner();
        let similarity = cosine_similarity_matrix(z.clone(), z);
        pause().await;
        let upper = loss.backward();
        let below = cut_at.and_then(|(lower, copy)| Some((lower, copy.grad(&upper)?)));
        let mut grads = vec![GradientsParams::from_grads(upper, &self.model)];
        pause().await;
        if let Some((lower, g)) = below {
            let below = (lower * Tensor::from_inner(g)).sum().backward();
            grads.push(GradientsParams::from_grads(below, &self.model));
            pause().await;
        }
        // One Adam step per half (Kingma & Ba 2015, Algorithm 1): its moments
        // and step count are per parameter, and a parameter without a
        // gradient is left as it is, so two steps on disjoint halves are the
        // one step of the whole gradient.
        let halves = grads.len();
        for (i, half) in grads.into_iter().enumerate() {
            self.model = self
                .optimizer
                .step(settings.learning_rate, self.model.clone(), half);
            if i + 1 < halves {
                pause().await;
            }
        }
        if self.last_views != Some(2 * n) && !self.runs_on_cpu() {
            // The map after a run (`representations`) runs the encoder in
            // evaluation mode on chunks of this many images. On WebGPU that
            // forward pass meets convolution problems the training step has
            // not tuned (batch norm with running statistics leaves its
            // output laid out differently, it seems), and burn autotunes
            // them on first use: an 89–148 ms task at the end of a run. One
            // evaluation forward here, queued and never read, tunes them
            // during the run's first step, which compiles and tunes anyway.
            pause().await;
            drop(self.model.valid().encoder.forward(plain_views));
        }
        self.step += 1;
        self.last_views = Some(2 * n);

        let loss = read_f32(loss.inner()).await?[0];
        if !loss.is_finite() {
            self.model = before.train();
            self.optimizer = AdamConfig::new().init();
            self.step -= 1;
            return Err(TrainError::NonFinite {
                step: self.step + 1,
            });
        }
        let similarity = read_f32(similarity).await?;
        Ok(StepReport {
            step: self.step,
            loss,
            similarity,
            views: 2 * n,
            images: chosen,
        })
    }

    /// The representation h of every image (un-augmented, resized to the
    /// training size), `[m, d]` row-major — for the PCA plot and retrieval.
    pub async fn representations(&self, out_size: usize) -> Result<Vec<f32>, TrainError> {
        self.representations_yielding(out_size, || async {}).await
    }

    /// `representations`, with `between` awaited before each chunk of images.
    ///
    /// On a GPU every chunk has the same number of images as the last
    /// training step had views, the last one filled up by wrapping around to
    /// the first images (their rows are dropped). Why: on WebGPU burn
    /// autotunes each new problem size, compiling every candidate kernel on
    /// the main thread (1.6 s in one task on SwiftShader for a leftover chunk
    /// of 10 images, profiled with `pretext::ui::simclr::embed` on the stack);
    /// the training step's sizes are tuned already. Evaluation mode: each
    /// image's row depends on that image only, so the filling changes nothing.
    ///
    /// The CPU backend compiles nothing, so there chunks are small and never
    /// filled: the map after a run of 32 images was one 66–80 ms task on the
    /// page's thread (a 64-image forward, half of it filling), in the same
    /// task as the run's end (`make bench`, `simclr_train_step_b32`).
    pub async fn representations_yielding<F, Fut>(
        &self,
        out_size: usize,
        between: F,
    ) -> Result<Vec<f32>, TrainError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let (chunk, fill) = self.representation_chunks();
        self.representations_in_chunks(out_size, chunk, fill, between)
            .await
    }

    /// Images per chunk of `representations`, and whether the last chunk is
    /// filled up to that size (see there).
    fn representation_chunks(&self) -> (usize, bool) {
        if self.runs_on_cpu() {
            (CPU_REPRESENTATION_CHUNK, false)
        } else {
            (self.last_views.unwrap_or(REPRESENTATION_CHUNK).max(1), true)
        }
    }

    async fn representations_in_chunks<F, Fut>(
        &self,
        out_size: usize,
        chunk: usize,
        fill: bool,
        mut between: F,
    ) -> Result<Vec<f32>, TrainError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let encoder = self.model.valid().encoder;
        let m = self.image_count();
        let dim = self.config.representation_dim();
        let mut out = Vec::with_capacity(m * dim);
        for start in (0..m).step_by(chunk) {
            between().await;
            let real = chunk.min(m - start);
            let size = if fill { chunk } else { real };
            let indices: Vec<usize> = (start..start + size).map(|i| i % m).collect();
            let identity = vec![ViewParams::identity(); size];
            let h = encoder.forward(augment::apply(self.select(&indices), &identity, out_size));
            let rows = read_f32(h).await?;
            out.extend_from_slice(&rows[..real * dim]);
        }
        Ok(out)
    }

    /// Whether this trainer computes on the CPU backend, where each op runs
    /// when it is called (a GPU backend only queues work).
    fn runs_on_cpu(&self) -> bool {
        self.images.device() == crate::model::cpu_device()
    }

    /// The training device (for building inputs in tests).
    pub fn device(&self) -> &Device {
        &self.device
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_devices;

    /// Batches of `batch` images, views of `out_size` pixels, the rest default.
    fn settings(batch: usize, out_size: usize) -> SimClrSettings {
        SimClrSettings {
            batch,
            augment: AugmentConfig {
                out_size,
                ..AugmentConfig::default()
            },
            ..SimClrSettings::default()
        }
    }

    /// Eight distinct synthetic images: stripes and blobs of different colours.
    fn synthetic_images(device: &Device, size: usize) -> Tensor<4> {
        let mut values = Vec::with_capacity(8 * 3 * size * size);
        for i in 0..8 {
            let colour = [(i & 1) as f32, ((i >> 1) & 1) as f32, ((i >> 2) & 1) as f32];
            for (c, &level) in colour.iter().enumerate() {
                for y in 0..size {
                    for x in 0..size {
                        let stripe = ((x + y * (i % 3)) / (2 + i % 4)) % 2 == 0;
                        values.push(if stripe {
                            level
                        } else {
                            0.5 * (1.0 - level) + 0.1 * c as f32
                        });
                    }
                }
            }
        }
        Tensor::from_data(TensorData::new(values, [8, 3, size, size]), device)
    }

    #[test]
    fn a_few_steps_on_a_fixed_batch_reduce_the_loss() {
        for (name, device) in test_devices::all() {
            let images = synthetic_images(&device, 24);
            let mut trainer = SimClrTrainer::new(
                images,
                SimClrConfig::new().with_width(4).with_projection_dim(16),
                1,
            );
            let settings = SimClrSettings {
                learning_rate: 3e-3,
                ..settings(8, 16)
            };
            let mut losses = Vec::new();
            for _ in 0..12 {
                let report = pollster::block_on(trainer.step(&settings)).unwrap();
                assert_eq!(report.similarity.len(), 16 * 16);
                assert!(
                    (report.similarity[0] - 1.0).abs() < 1e-4,
                    "{name}: a view is its own cosine 1"
                );
                losses.push(report.loss);
            }
            let first = losses[..3].iter().sum::<f32>() / 3.0;
            let last = losses[9..].iter().sum::<f32>() / 3.0;
            assert!(last < first, "{name}: loss did not fall: {losses:?}");
            let h = pollster::block_on(trainer.representations(16)).unwrap();
            assert_eq!(h.len(), 8 * 32);
            assert!(h.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn a_split_step_pauses_seven_times_and_trains_as_a_whole_step() {
        for (name, device) in test_devices::all() {
            let settings = settings(4, 16);
            let config = SimClrConfig::new().with_width(4).with_projection_dim(16);
            let mut split = SimClrTrainer::new(synthetic_images(&device, 24), config.clone(), 5);
            // The same weights in both, copied (`valid` reads, and so
            // initialises, every weight): a second trainer from the same seed
            // would share the device's seeded stream with tests running
            // alongside, and draw other weights.
            let mut whole = SimClrTrainer::new(synthetic_images(&device, 24), config, 5);
            whole.model = split.model.valid().train();
            let before = pollster::block_on(whole.representations(16)).unwrap();
            let mut pauses = 0;
            let paused = pollster::block_on(split.step_with(&settings, true, || {
                pauses += 1;
                async {}
            }))
            .unwrap();
            let report = pollster::block_on(whole.step_with(&settings, false, || async {
                panic!("a whole step does not pause")
            }))
            .unwrap();
            // A GPU backend's first step also pauses before the evaluation
            // forward pass that tunes the map's kernels.
            let tuning = usize::from(!split.runs_on_cpu());
            assert_eq!(
                pauses,
                7 + tuning,
                "{name}: after the snapshot, the views, the forward pass, the loss, each half of the backward pass and Adam's first half"
            );
            assert_eq!(
                paused.images, report.images,
                "{name}: same batch from the seed"
            );
            assert!(
                (paused.loss - report.loss).abs() <= 1e-5 * report.loss.abs().max(1.0),
                "{name}: {} vs {}",
                paused.loss,
                report.loss
            );
            assert_eq!(split.steps_done(), 1, "{name}");
            // The update too: the two-part backward pass gave every block
            // the gradient of the one-part pass, and Adam's two steps updated
            // each weight once, so both models map alike.
            let after_split = pollster::block_on(split.representations(16)).unwrap();
            let after_whole = pollster::block_on(whole.representations(16)).unwrap();
            let diff = after_split
                .iter()
                .zip(&after_whole)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(diff < 1e-4, "{name}: representations differ by {diff}");
            // And the step moved them far more than that: the check above
            // is not vacuous.
            let moved = before
                .iter()
                .zip(&after_whole)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                moved > 1e-2,
                "{name}: the step moved the map by {moved} only"
            );
        }
    }

    #[test]
    fn a_yielding_step_pauses_on_every_backend() {
        for (name, device) in test_devices::all() {
            let mut trainer = SimClrTrainer::new(
                synthetic_images(&device, 8),
                SimClrConfig::new().with_width(2).with_projection_dim(8),
                1,
            );
            let tuning = usize::from(!trainer.runs_on_cpu());
            let mut step = || {
                let mut pauses = 0;
                pollster::block_on(trainer.step_yielding(&settings(2, 8), || {
                    pauses += 1;
                    async {}
                }))
                .unwrap();
                pauses
            };
            let (first, second) = (step(), step());
            // A GPU backend only queues work, but queuing a whole step was
            // one long task on WebGPU too. Its first step at a batch size
            // also queues the evaluation forward pass that tunes the map's
            // kernels, after a pause of its own; later steps do not.
            assert_eq!((first, second), (7 + tuning, 7), "{name}");
        }
    }

    #[test]
    fn too_few_images_and_too_large_a_batch_are_refused_with_a_reason() {
        let device = test_devices::cpu();
        let one = SimClrTrainer::new(
            synthetic_images(&device, 8).narrow(0, 0, 1),
            SimClrConfig::new().with_width(2),
            0,
        );
        let err = one.check(&SimClrSettings::default()).unwrap_err();
        assert_eq!(err, TrainError::TooFewImages { images: 1 });
        assert!(err.to_string().contains("at least 2 images"));
        let eight = SimClrTrainer::new(
            synthetic_images(&device, 8),
            SimClrConfig::new().with_width(2),
            0,
        );
        let err = eight
            .check(&SimClrSettings {
                batch: 9,
                ..SimClrSettings::default()
            })
            .unwrap_err();
        assert_eq!(
            err,
            TrainError::BatchTooLarge {
                batch: 9,
                images: 8
            }
        );
    }

    #[test]
    fn a_nan_loss_stops_and_keeps_the_previous_weights() {
        let device = test_devices::cpu();
        let mut images = synthetic_images(&device, 8);
        let mut trainer = SimClrTrainer::new(images.clone(), SimClrConfig::new().with_width(2), 0);
        let settings = settings(4, 8);
        pollster::block_on(trainer.step(&settings)).unwrap();
        let before = pollster::block_on(trainer.representations(8)).unwrap();
        // Poison the data: every view becomes NaN, so the loss does too.
        images = images.mul_scalar(f32::NAN);
        trainer.images = images;
        let err = pollster::block_on(trainer.step(&settings)).unwrap_err();
        assert_eq!(err, TrainError::NonFinite { step: 2 });
        assert_eq!(trainer.steps_done(), 1);
        trainer.images = synthetic_images(&device, 8);
        let after = pollster::block_on(trainer.representations(8)).unwrap();
        assert_eq!(before, after, "weights restored");
    }

    #[test]
    fn representations_do_not_depend_on_the_chunk_size_or_its_filling() {
        let device = test_devices::cpu();
        let mut trainer = SimClrTrainer::new(
            synthetic_images(&device, 8),
            SimClrConfig::new().with_width(2),
            0,
        );
        let settings = settings(3, 8);
        pollster::block_on(trainer.step(&settings)).unwrap();
        let dim = trainer.config().representation_dim();
        let chunks = |chunk, fill| {
            let mut pauses = 0;
            let rows =
                pollster::block_on(trainer.representations_in_chunks(8, chunk, fill, || {
                    pauses += 1;
                    async {}
                }))
                .unwrap();
            assert_eq!(rows.len(), 8 * dim);
            (rows, pauses)
        };
        // All 8 in one chunk; chunks of 6 (a step's views) as a GPU runs
        // them: 6 + 2 real and 4 filled; chunks of 3 as the CPU runs them.
        let (whole, one) = chunks(8, true);
        let (filled, two) = chunks(6, true);
        let (tight, three) = chunks(3, false);
        assert_eq!((one, two, three), (1, 2, 3), "a pause before each chunk");
        for (i, ((a, b), c)) in whole.iter().zip(&filled).zip(&tight).enumerate() {
            assert!(
                (a - b).abs() < 1e-5 && (a - c).abs() < 1e-5,
                "image {}, feature {}: {a} vs {b} vs {c}",
                i / dim,
                i % dim
            );
        }
        // The images differ, so a row taken from the wrong image would show.
        assert!(filled[..dim]
            .iter()
            .zip(&filled[7 * dim..])
            .any(|(a, b)| (a - b).abs() > 1e-4));
        // Which chunks each device gets: the step's 6 views on a GPU.
        assert_eq!(
            trainer.representation_chunks(),
            (CPU_REPRESENTATION_CHUNK, false)
        );
        for (name, device) in test_devices::all()
            .into_iter()
            .filter(|(_, d)| *d != crate::model::cpu_device())
        {
            let mut gpu = SimClrTrainer::new(
                synthetic_images(&device, 8),
                SimClrConfig::new().with_width(2),
                0,
            );
            assert_eq!(
                gpu.representation_chunks(),
                (REPRESENTATION_CHUNK, true),
                "{name}"
            );
            pollster::block_on(gpu.step(&settings)).unwrap();
            assert_eq!(gpu.representation_chunks(), (6, true), "{name}");
        }
    }

    /// Not a test: steps/s of a few model sizes on the CPU backend, to choose
    /// the browser's defaults. `cargo test --lib simclr_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn simclr_speed() {
        let device = test_devices::cpu();
        for (width, size, batch) in [
            (4, 16, 8),
            (8, 24, 16),
            (8, 32, 16),
            (16, 32, 16),
            (8, 32, 32),
        ] {
            let mut values = Vec::new();
            let mut rng = Rng::new(0);
            for _ in 0..batch * 3 * 48 * 48 {
                values.push(rng.next_f32());
            }
            let images = Tensor::from_data(TensorData::new(values, [batch, 3, 48, 48]), &device);
            let mut trainer = SimClrTrainer::new(images, SimClrConfig::new().with_width(width), 0);
            let settings = SimClrSettings {
                batch,
                augment: AugmentConfig {
                    out_size: size,
                    ..AugmentConfig::default()
                },
                ..SimClrSettings::default()
            };
            pollster::block_on(trainer.step(&settings)).unwrap();
            let t0 = std::time::Instant::now();
            for _ in 0..3 {
                pollster::block_on(trainer.step(&settings)).unwrap();
            }
            eprintln!(
                "width {width} size {size} batch {batch}: {:.0} ms/step",
                t0.elapsed().as_secs_f64() * 1000.0 / 3.0
            );
        }
    }
}
