//! Loading safetensors checkpoints into burn modules by parameter path.
//!
//! A checkpoint is a map from dotted names to tensors (F32, F16 or BF16). A
//! module's parameters are named by their path (`blocks.0.attention.query.weight`,
//! as [`crate::model::export`] writes them); `rename` maps a module path to the
//! checkpoint's key, so a foreign layout (Hugging Face) loads through one table.
//! Every parameter must be found with the right shape, or the load fails with
//! a message naming what is missing — never a half-loaded model.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};

/// One tensor of a checkpoint, as f32.
#[derive(Debug, Clone)]
pub struct StoredTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A parsed safetensors file.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    pub tensors: BTreeMap<String, StoredTensor>,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CheckpointError {
    /// Not a safetensors file (or truncated).
    Format(String),
    /// Parameters the module has and the checkpoint lacks (by checkpoint key).
    Missing(Vec<String>),
    /// A tensor whose shape differs from the module's parameter.
    Shape {
        key: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Format(why) => write!(f, "not a safetensors checkpoint: {why}"),
            Self::Missing(keys) => {
                let shown: Vec<&str> = keys.iter().take(5).map(String::as_str).collect();
                write!(
                    f,
                    "the checkpoint lacks {} tensor(s) the model needs: {}",
                    keys.len(),
                    shown.join(", ")
                )?;
                if keys.len() > 5 {
                    write!(f, ", …")?;
                }
                Ok(())
            }
            Self::Shape {
                key,
                expected,
                found,
            } => {
                write!(
                    f,
                    "tensor {key} has shape {found:?}, the model expects {expected:?}"
                )
            }
        }
    }
}

impl std::error::Error for CheckpointError {}

impl Checkpoint {
    /// Parses safetensors bytes: an 8-byte little-endian header length, a JSON
    /// header {name: {dtype, shape, data_offsets}, "__metadata__": {..}}, the data.
    /// PyTorch `pytorch_model.bin` state dicts are read too
    /// ([`crate::model::pytorch_bin`]), so one loader serves both formats.
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        run_ready(Self::parse_yielding(bytes, &mut || std::future::ready(())))
    }

    /// [`Checkpoint::parse`] that awaits `pause()` after every
    /// [`PAUSE_EVERY_BYTES`] of tensor data converted, so a page can parse
    /// a large file without holding its thread (MiniLM's 87 MB took one
    /// 58 ms stretch).
    pub async fn parse_yielding<F, Fut>(
        bytes: &[u8],
        pause: &mut F,
    ) -> Result<Self, CheckpointError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let format = |why: &str| CheckpointError::Format(why.to_string());
        if crate::model::pytorch_bin::is_pytorch_bin(bytes) {
            return crate::model::pytorch_bin::read_state_dict(bytes)
                .map(|tensors| Checkpoint {
                    tensors,
                    metadata: BTreeMap::new(),
                })
                .map_err(CheckpointError::Format);
        }
        if bytes.len() < 8 {
            return Err(format("shorter than its 8-byte header length"));
        }
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        let n = usize::try_from(n).map_err(|_| format("header length overflows"))?;
        let data_start = 8usize
            .checked_add(n)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| format("header runs past the end"))?;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..data_start])
            .map_err(|e| format(&format!("header is not JSON ({e})")))?;
        let header = header
            .as_object()
            .ok_or_else(|| format("header is not a JSON object"))?;
        let data = &bytes[data_start..];
        let mut out = Checkpoint::default();
        let mut since_pause = 0usize;
        for (name, entry) in header {
            if name == "__metadata__" {
                if let Some(meta) = entry.as_object() {
                    for (k, v) in meta {
                        if let Some(v) = v.as_str() {
                            out.metadata.insert(k.clone(), v.to_string());
                        }
                    }
                }
                continue;
            }
            let bad = |why: &str| format(&format!("{name}: {why}"));
            let dtype = entry["dtype"].as_str().ok_or_else(|| bad("no dtype"))?;
            let shape: Vec<usize> = entry["shape"]
                .as_array()
                .ok_or_else(|| bad("no shape"))?
                .iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("bad shape"))?;
            let offsets = entry["data_offsets"]
                .as_array()
                .ok_or_else(|| bad("no data_offsets"))?;
            let (begin, end) = match (
                offsets.first().and_then(|v| v.as_u64()),
                offsets.get(1).and_then(|v| v.as_u64()),
            ) {
                (Some(b), Some(e)) if b <= e && (e as usize) <= data.len() => {
                    (b as usize, e as usize)
                }
                _ => return Err(bad("data_offsets outside the file")),
            };
            let raw = &data[begin..end];
            let numel: usize = shape.iter().product();
            let width = match dtype {
                "F32" => 4,
                "F16" | "BF16" => 2,
                // Integer buffers (e.g. BERT's position_ids) are not parameters.
                "I64" | "I32" | "U8" | "BOOL" => continue,
                other => return Err(bad(&format!("unsupported dtype {other}"))),
            };
            if raw.len() != numel * width {
                return Err(bad("byte length does not match its shape"));
            }
            let values: Vec<f32> = match dtype {
                "F32" => raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
                "F16" => raw
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                _ => raw
                    .chunks_exact(2)
                    .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
            };
            out.tensors
                .insert(name.clone(), StoredTensor { shape, values });
            since_pause += raw.len();
            if since_pause >= PAUSE_EVERY_BYTES {
                since_pause = 0;
                pause().await;
            }
        }
        Ok(out)
    }

    /// Replaces every float parameter of `module` with the checkpoint tensor
    /// named `rename(module path)`. Parameters whose name maps to None keep
    /// their value (e.g. a head the checkpoint does not have).
    pub fn load_into<M: Module>(
        &self,
        module: M,
        rename: &dyn Fn(&str) -> Option<String>,
        device: &Device,
    ) -> Result<M, CheckpointError> {
        let source = |path: &str| rename(path).map(Source::same_layout);
        self.load_mapped(module, &source, device)
    }

    /// Like [`Checkpoint::load_into`], but the table also says which tensors
    /// are stored transposed (PyTorch's `nn.Linear` keeps [out, in], burn's
    /// `Linear` [in, out]).
    pub fn load_mapped<M: Module>(
        &self,
        module: M,
        source: &dyn Fn(&str) -> Option<Source>,
        device: &Device,
    ) -> Result<M, CheckpointError> {
        load_from(Store::Shared(&self.tensors), module, source, device)
    }
}

/// Tensor data converted or moved between two pauses of the yielding loaders
/// (a few milliseconds of work in wasm).
pub const PAUSE_EVERY_BYTES: usize = 8 << 20;

impl Checkpoint {
    /// [`Checkpoint::load_mapped`] for a page that must keep its thread
    /// free: the checkpoint is consumed, so each tensor moves into the module
    /// instead of being copied, and the transposes are done beforehand with
    /// a `pause()` after every [`PAUSE_EVERY_BYTES`]. What is left for the
    /// one synchronous pass over the module is handing each tensor over.
    /// Each checkpoint key may feed one parameter only (true of every table
    /// here); a second use would find it gone and report it missing.
    pub async fn into_module_yielding<M: Module, F, Fut>(
        mut self,
        module: M,
        source: &dyn Fn(&str) -> Option<Source>,
        device: &Device,
        pause: &mut F,
    ) -> Result<M, CheckpointError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut paths = ParamPaths::default();
        module.visit(&mut paths);
        // Keys transposed already (a key read twice is transposed once).
        let mut in_module_layout = BTreeSet::new();
        let mut since_pause = 0usize;
        for path in &paths.found {
            let Some(Source {
                key,
                transpose: true,
            }) = source(path)
            else {
                continue;
            };
            let Some(stored) = self.tensors.get_mut(&key) else {
                continue;
            };
            if stored.shape.len() != 2 || in_module_layout.contains(&key) {
                continue;
            }
            let [rows, cols] = [stored.shape[0], stored.shape[1]];
            stored.values = transpose(&stored.values, rows, cols);
            stored.shape = vec![cols, rows];
            since_pause += 4 * rows * cols;
            in_module_layout.insert(key);
            if since_pause >= PAUSE_EVERY_BYTES {
                since_pause = 0;
                pause().await;
            }
        }
        pause().await;
        // Every transposed 2-D tensor the module reads is in its layout now.
        load_from(Store::Owned(self.tensors), module, source, device)
    }
}

/// One pass of the loader over `module`: every parameter replaced from
/// `store`, or an error naming what is missing or misshapen.
fn load_from<M: Module>(
    store: Store<'_>,
    module: M,
    source: &dyn Fn(&str) -> Option<Source>,
    device: &Device,
) -> Result<M, CheckpointError> {
    let mut loader = Loader {
        store,
        source,
        device: device.clone(),
        path: Vec::new(),
        missing: Vec::new(),
        shape_error: None,
    };
    let module = module.map(&mut loader);
    if let Some(e) = loader.shape_error {
        return Err(e);
    }
    if !loader.missing.is_empty() {
        return Err(CheckpointError::Missing(loader.missing));
    }
    Ok(module)
}

/// Runs a future that never waits (the loaders with a pause that is ready at
/// once) to its end: the synchronous loaders and the yielding ones are one
/// implementation.
pub fn run_ready<T>(future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut context) {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => unreachable!("run_ready was given a future that waits"),
    }
}

/// The dotted paths of a module's float parameters, without touching their
/// values (a lazy parameter stays uninitialised).
#[derive(Default)]
struct ParamPaths {
    path: Vec<String>,
    found: Vec<String>,
}

impl ModuleVisitor for ParamPaths {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
        self.found
            .push(crate::model::export::dotted_path(&self.path));
    }
}

/// Where the loader takes tensors from.
enum Store<'a> {
    /// A checkpoint that stays whole: tensors are copied out, transposed
    /// where the table says so.
    Shared(&'a BTreeMap<String, StoredTensor>),
    /// A consumed checkpoint already in the module's layout
    /// ([`Checkpoint::into_module_yielding`] transposed it): tensors move out.
    Owned(BTreeMap<String, StoredTensor>),
}

impl Store<'_> {
    /// The tensor stored under `key`, as (shape, values) in the module's
    /// layout.
    fn take(&mut self, key: &str, transposed: bool) -> Option<(Vec<usize>, Vec<f32>)> {
        match self {
            Store::Shared(tensors) => {
                let stored = tensors.get(key)?;
                Some(if transposed && stored.shape.len() == 2 {
                    let [rows, cols] = [stored.shape[0], stored.shape[1]];
                    (vec![cols, rows], transpose(&stored.values, rows, cols))
                } else {
                    (stored.shape.clone(), stored.values.clone())
                })
            }
            Store::Owned(tensors) => {
                let stored = tensors.remove(key)?;
                Some((stored.shape, stored.values))
            }
        }
    }
}

/// Where one module parameter is stored in a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub key: String,
    /// Stored as the transpose of the module's 2-D parameter.
    pub transpose: bool,
}

impl Source {
    pub fn same_layout(key: String) -> Self {
        Source {
            key,
            transpose: false,
        }
    }

    pub fn transposed(key: String) -> Self {
        Source {
            key,
            transpose: true,
        }
    }
}

struct Loader<'a> {
    store: Store<'a>,
    source: &'a dyn Fn(&str) -> Option<Source>,
    device: Device,
    path: Vec<String>,
    missing: Vec<String>,
    shape_error: Option<CheckpointError>,
}

impl ModuleMapper for Loader<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = crate::model::export::dotted_path(&self.path);
        let Some(Source {
            key,
            transpose: transposed,
        }) = (self.source)(&path)
        else {
            return param;
        };
        let Some((shape, values)) = self.store.take(&key, transposed) else {
            self.missing.push(key);
            return param;
        };
        let expected = param.lazy_shape().to_vec();
        if shape != expected {
            self.shape_error.get_or_insert(CheckpointError::Shape {
                key,
                expected,
                found: shape,
            });
            return param;
        }
        let id = param.id;
        let tensor = Tensor::<D>::from_data(TensorData::new(values, shape), &self.device);
        param.transform_for_load(tensor, id)
    }
}

/// The transpose of a row-major rows×cols matrix (row-major cols×rows).
pub fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = values[r * cols + c];
        }
    }
    t
}

/// The identity table: module paths are the checkpoint's keys (the project's
/// own checkpoints, written by [`crate::model::export`]).
pub fn same_names(path: &str) -> Option<String> {
    Some(path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::export::{named_tensors, safetensors_bytes_with, Precision};
    use crate::model::igpt::tiny_config;
    use crate::model::test_devices;
    use burn::tensor::Int;

    #[test]
    fn a_saved_model_loads_back_identically_in_f32_and_closely_in_f16() {
        let device = test_devices::cpu();
        device.seed(1);
        let trained = tiny_config(true).init(&device);
        let tensors = pollster::block_on(named_tensors(&trained)).unwrap();
        let inputs = Tensor::<2, Int>::from_data(
            TensorData::new((0..16).map(|i| i % 5).collect::<Vec<i64>>(), [1, 16]),
            &device,
        );
        let want = trained.forward(inputs.clone());
        for (precision, tolerance) in [(Precision::F32, 0.0), (Precision::F16, 2e-2)] {
            let bytes = safetensors_bytes_with(&tensors, precision, &[("note", "hi".into())]);
            let checkpoint = Checkpoint::parse(&bytes).unwrap();
            assert_eq!(checkpoint.metadata["note"], "hi");
            device.seed(2);
            let fresh = tiny_config(true).init(&device);
            let loaded = checkpoint.load_into(fresh, &same_names, &device).unwrap();
            let diff: f32 = (loaded.forward(inputs.clone()) - want.clone())
                .abs()
                .max()
                .into_scalar();
            assert!(diff <= tolerance, "{precision:?}: {diff}");
        }
    }

    #[test]
    fn missing_and_misshapen_tensors_are_reported_not_half_loaded() {
        let device = test_devices::cpu();
        let model = tiny_config(true).init(&device);
        let mut tensors = pollster::block_on(named_tensors(&model)).unwrap();
        tensors.retain(|t| t.0 != "head.weight");
        let checkpoint =
            Checkpoint::parse(&safetensors_bytes_with(&tensors, Precision::F32, &[])).unwrap();
        match checkpoint.load_into(tiny_config(true).init(&device), &same_names, &device) {
            Err(CheckpointError::Missing(keys)) => {
                assert_eq!(keys, vec!["head.weight".to_string()])
            }
            other => panic!("{other:?}"),
        }
        let bigger = tiny_config(true).with_d_model(32).init(&device);
        let err = Checkpoint::parse(&safetensors_bytes_with(
            &pollster::block_on(named_tensors(&bigger)).unwrap(),
            Precision::F32,
            &[],
        ))
        .unwrap()
        .load_into(tiny_config(true).init(&device), &same_names, &device)
        .unwrap_err();
        assert!(matches!(err, CheckpointError::Shape { .. }), "{err}");
    }

    #[test]
    fn garbage_is_a_format_error() {
        for bytes in [&b""[..], b"abc", &[255u8; 16], b"\x04\0\0\0\0\0\0\0nope"] {
            assert!(
                matches!(Checkpoint::parse(bytes), Err(CheckpointError::Format(_))),
                "{bytes:?}"
            );
        }
    }
}
