//! Saving what a visitor trained: a module's parameters as a safetensors file
//! (the format PyTorch and Hugging Face read; named by module path, F32,
//! little-endian) and a loss history as CSV. Readback is async, as WebGPU needs.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

struct Collect {
    path: Vec<String>,
    tensors: Vec<(String, Vec<usize>, Tensor<1>)>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let numel: usize = shape.iter().product();
        let name = dotted_path(&self.path);
        self.tensors.push((name, shape, tensor.reshape([numel])));
    }
}

/// One tensor as exported: its dotted name, shape and values (row-major f32).
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// A parameter's name: the module path the visitor or mapper entered, dotted
/// (`blocks.0.attention.query.weight`), skipping unnamed levels.
pub fn dotted_path(path: &[String]) -> String {
    path.iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(".")
}

/// The module's float parameters and buffers, with their dotted paths.
pub async fn named_tensors<M: Module>(module: &M) -> Result<Vec<NamedTensor>, String> {
    let mut collect = Collect {
        path: Vec::new(),
        tensors: Vec::new(),
    };
    module.visit(&mut collect);
    let mut out = Vec::with_capacity(collect.tensors.len());
    for (name, shape, tensor) in collect.tensors {
        let data = tensor
            .into_data_async()
            .await
            .map_err(|e| format!("{e:?}"))?;
        out.push((
            name,
            shape,
            data.convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| format!("{e:?}"))?,
        ));
    }
    Ok(out)
}

/// Serialises named F32 tensors in the safetensors layout: an 8-byte
/// little-endian header length, a JSON header of dtype/shape/offsets, the data.
pub fn safetensors_bytes(tensors: &[NamedTensor]) -> Vec<u8> {
    safetensors_bytes_with(tensors, Precision::F32, &[])
}

/// How a checkpoint stores its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    F32,
    /// IEEE half precision: half the bytes, ~3 significant digits — enough
    /// for inference with weights of small models.
    F16,
}

/// [`safetensors_bytes`] with a choice of precision and string metadata (the
/// format's `__metadata__`, where a checkpoint keeps its config).
pub fn safetensors_bytes_with(
    tensors: &[NamedTensor],
    precision: Precision,
    metadata: &[(&str, String)],
) -> Vec<u8> {
    let (dtype, width) = match precision {
        Precision::F32 => ("F32", 4),
        Precision::F16 => ("F16", 2),
    };
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        let meta: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
            .collect();
        header.insert("__metadata__".into(), serde_json::Value::Object(meta));
    }
    let mut offset = 0usize;
    for (name, shape, values) in tensors {
        let end = offset + values.len() * width;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut json = serde_json::Value::Object(header).to_string().into_bytes();
    // Pad the header with spaces to a multiple of 8 (the format's alignment).
    while !json.len().is_multiple_of(8) {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend((json.len() as u64).to_le_bytes());
    out.extend(json);
    for (_, _, values) in tensors {
        for &v in values {
            match precision {
                Precision::F32 => out.extend(v.to_le_bytes()),
                Precision::F16 => out.extend(half::f16::from_f32(v).to_le_bytes()),
            }
        }
    }
    out
}

/// `step,loss` lines.
pub fn loss_csv(points: &[(usize, f32)]) -> String {
    let mut out = String::from("step,loss\n");
    for (step, loss) in points {
        out.push_str(&format!("{step},{loss}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::resnet::SimClrConfig;
    use crate::model::test_devices;

    #[test]
    fn safetensors_layout_matches_the_format() {
        let bytes = safetensors_bytes(&[("a.weight".into(), vec![2], vec![1.0, -2.0])]);
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        assert_eq!(header["a.weight"]["dtype"], "F32");
        assert_eq!(
            header["a.weight"]["data_offsets"],
            serde_json::json!([0, 8])
        );
        assert_eq!(
            &bytes[8 + n..],
            [1.0f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat()
        );
    }

    #[test]
    fn a_simclr_model_exports_every_parameter_by_path() {
        let device = test_devices::cpu();
        let config = SimClrConfig::new().with_width(2).with_projection_dim(4);
        let model = config.init(&device);
        let tensors = pollster::block_on(named_tensors(&model)).unwrap();
        let names: Vec<&str> = tensors.iter().map(|t| t.0.as_str()).collect();
        assert!(names.contains(&"encoder.stem.conv.weight"), "{names:?}");
        assert!(
            names.contains(&"encoder.blocks.1.shortcut.norm.running_var"),
            "{names:?}"
        );
        assert!(names.contains(&"head.output.bias"), "{names:?}");
        let total: usize = tensors.iter().map(|t| t.2.len()).sum();
        assert!(total >= model.num_params());
        assert_eq!(loss_csv(&[(1, 2.5)]), "step,loss\n1,2.5\n");
    }
}
