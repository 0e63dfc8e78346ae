//! Reads PyTorch `pytorch_model.bin` state dicts (`torch.save` of a dict of
//! tensors), so checkpoints that ship no safetensors (Google's BERT
//! miniatures on the Hugging Face Hub, for one) load in the browser too.
//!
//! Both formats `torch.save` writes are read: the zip archive (PyTorch ≥ 1.6:
//! `<name>/data.pkl` plus one stored, uncompressed file per storage under
//! `<name>/data/`), and the legacy stream (a few pickles, then the raw
//! storages). The pickle reader runs only the opcodes a state dict uses and
//! builds plain values; it calls nothing, so a hostile file can at worst be
//! refused — unlike Python's `pickle.load`.

use std::collections::BTreeMap;

use crate::model::checkpoint::StoredTensor;

/// A value on the pickle machine's stack.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `module.name`, as GLOBAL names it.
    Global(String),
    /// A persistent id (a storage reference).
    Persistent(Box<Value>),
    /// `callable(*args)`, recorded, never run.
    Call(Box<Value>, Box<Value>),
    Mark,
}

/// True if `bytes` look like something this module reads.
pub fn is_pytorch_bin(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0x80, 0x02, 0x8a, 0x0a])
}

/// The tensors of a `torch.save`d state dict, by name, as f32.
pub fn read_state_dict(bytes: &[u8]) -> Result<BTreeMap<String, StoredTensor>, String> {
    if bytes.starts_with(b"PK\x03\x04") {
        let files = zip_entries(bytes)?;
        let (pkl_name, pkl) = files
            .iter()
            .find(|(name, _)| name.ends_with("data.pkl"))
            .ok_or("the archive has no data.pkl: not a PyTorch checkpoint")?;
        let prefix = &pkl_name[..pkl_name.len() - "data.pkl".len()];
        let (root, _) = unpickle(pkl)?;
        let storage = |key: &str| {
            let name = format!("{prefix}data/{key}");
            files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, data)| *data)
                .ok_or_else(|| format!("the archive lacks storage {name}"))
        };
        tensors(&root, &storage)
    } else if bytes.starts_with(&[0x80, 0x02, 0x8a, 0x0a]) {
        read_legacy(bytes)
    } else {
        Err(
            "not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save stream)"
                .into(),
        )
    }
}

/// The legacy format: pickles of the magic number, protocol version and
/// system info, then the state dict, then the list of storage keys; then
/// each storage as a little-endian u64 element count and its bytes.
fn read_legacy(bytes: &[u8]) -> Result<BTreeMap<String, StoredTensor>, String> {
    let mut at = 0;
    for _ in 0..3 {
        let (_, used) = unpickle(&bytes[at..])?;
        at += used;
    }
    let (root, used) = unpickle(&bytes[at..])?;
    at += used;
    let (keys, used) = unpickle(&bytes[at..])?;
    at += used;
    let Value::List(keys) = keys else {
        return Err("legacy checkpoint: the storage key list is missing".into());
    };
    // Element sizes come from the storages' types, named in the state dict.
    let mut widths: BTreeMap<String, usize> = BTreeMap::new();
    collect_storage_widths(&root, &mut widths);
    let mut storages: BTreeMap<String, &[u8]> = BTreeMap::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err("legacy checkpoint: a storage key is not a string".into());
        };
        let width = *widths.get(&key).unwrap_or(&4);
        let count = bytes
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize)
            .ok_or("legacy checkpoint: truncated")?;
        at += 8;
        let data = bytes
            .get(at..at + count * width)
            .ok_or("legacy checkpoint: truncated storage")?;
        at += count * width;
        storages.insert(key, data);
    }
    let storage = |key: &str| {
        storages
            .get(key)
            .copied()
            .ok_or_else(|| format!("legacy checkpoint lacks storage {key}"))
    };
    tensors(&root, &storage)
}

fn collect_storage_widths(v: &Value, out: &mut BTreeMap<String, usize>) {
    match v {
        Value::Persistent(id) => {
            if let Value::Tuple(parts) = &**id {
                if let (Some(Value::Global(kind)), Some(Value::Str(key))) =
                    (parts.get(1), parts.get(2))
                {
                    out.insert(key.clone(), dtype_of(kind).map_or(4, |d| d.1));
                }
            }
        }
        Value::Tuple(items) | Value::List(items) => {
            items.iter().for_each(|x| collect_storage_widths(x, out))
        }
        Value::Dict(pairs) => pairs
            .iter()
            .for_each(|(_, x)| collect_storage_widths(x, out)),
        Value::Call(f, args) => {
            collect_storage_widths(f, out);
            collect_storage_widths(args, out);
        }
        _ => {}
    }
}

#[derive(Clone, Copy)]
enum DType {
    F32,
    F16,
    BF16,
}

fn dtype_of(storage_class: &str) -> Option<(DType, usize)> {
    match storage_class.rsplit('.').next()? {
        "FloatStorage" => Some((DType::F32, 4)),
        "HalfStorage" => Some((DType::F16, 2)),
        "BFloat16Storage" => Some((DType::BF16, 2)),
        _ => None,
    }
}

/// Walks the unpickled state dict: each value must be a
/// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` call.
fn tensors<'a>(
    root: &Value,
    storage: &dyn Fn(&str) -> Result<&'a [u8], String>,
) -> Result<BTreeMap<String, StoredTensor>, String> {
    let Value::Dict(pairs) = root else {
        return Err("the checkpoint is not a dict of tensors (a whole pickled model?)".into());
    };
    let mut out = BTreeMap::new();
    for (key, value) in pairs {
        let Value::Str(name) = key else {
            return Err("a state dict key is not a string".into());
        };
        let Value::Call(f, args) = value else {
            continue; // not a tensor (e.g. a version number): nothing to load
        };
        match &**f {
            Value::Global(g) if g == "torch._utils._rebuild_tensor_v2" => {}
            _ => continue,
        }
        let Value::Tuple(args) = &**args else {
            return Err(format!("{name}: malformed tensor record"));
        };
        let bad = || format!("{name}: malformed tensor record");
        let (
            Some(Value::Persistent(id)),
            Some(Value::Int(offset)),
            Some(Value::Tuple(size)),
            Some(Value::Tuple(stride)),
        ) = (args.first(), args.get(1), args.get(2), args.get(3))
        else {
            return Err(bad());
        };
        let Value::Tuple(id) = &**id else {
            return Err(bad());
        };
        let (Some(Value::Global(class)), Some(Value::Str(storage_key))) = (id.get(1), id.get(2))
        else {
            return Err(bad());
        };
        let (dtype, width) = dtype_of(class)
            .ok_or_else(|| format!("{name}: storage type {class} is not a float type"))?;
        let ints = |t: &[Value]| -> Result<Vec<usize>, String> {
            t.iter()
                .map(|v| match v {
                    Value::Int(i) if *i >= 0 => Ok(*i as usize),
                    _ => Err(bad()),
                })
                .collect()
        };
        let shape = ints(size)?;
        let stride = ints(stride)?;
        let data = storage(storage_key)?;
        let read = |element: usize| -> Result<f32, String> {
            let at = element * width;
            let b = data
                .get(at..at + width)
                .ok_or_else(|| format!("{name}: storage {storage_key} is too short"))?;
            Ok(match dtype {
                DType::F32 => f32::from_le_bytes(b.try_into().unwrap()),
                DType::F16 => half::f16::from_le_bytes(b.try_into().unwrap()).to_f32(),
                DType::BF16 => half::bf16::from_le_bytes(b.try_into().unwrap()).to_f32(),
            })
        };
        // Gather by stride (views and transposes are stored that way).
        let count: usize = shape.iter().product();
        let mut values = Vec::with_capacity(count);
        let mut index = vec![0usize; shape.len()];
        for _ in 0..count {
            let element =
                *offset as usize + index.iter().zip(&stride).map(|(i, s)| i * s).sum::<usize>();
            values.push(read(element)?);
            for d in (0..shape.len()).rev() {
                index[d] += 1;
                if index[d] < shape[d] {
                    break;
                }
                index[d] = 0;
            }
        }
        out.insert(name.clone(), StoredTensor { shape, values });
    }
    Ok(out)
}

/// The files of a zip archive, by name (stored entries only: `torch.save`
/// never compresses).
fn zip_entries(bytes: &[u8]) -> Result<Vec<(String, &[u8])>, String> {
    let u16_at = |at: usize| -> Result<usize, String> {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .ok_or_else(|| "truncated zip archive".to_string())
    };
    let u32_at = |at: usize| -> Result<u64, String> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as u64)
            .ok_or_else(|| "truncated zip archive".to_string())
    };
    let u64_at = |at: usize| -> Result<u64, String> {
        bytes
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
            .ok_or_else(|| "truncated zip archive".to_string())
    };
    // End of central directory: the last "PK\x05\x06" (a comment may follow).
    let eocd = (0..bytes.len().saturating_sub(21))
        .rev()
        .take(70_000)
        .find(|&i| bytes[i..].starts_with(b"PK\x05\x06"))
        .ok_or("no zip directory found (truncated download?)")?;
    let mut entries = u16_at(eocd + 10)? as u64;
    let mut directory = u32_at(eocd + 16)?;
    // Zip64 (archives over 4 GB, or written that way).
    if (entries == 0xffff || directory == 0xffff_ffff) && eocd >= 20 {
        let locator = eocd - 20;
        if bytes[locator..].starts_with(b"PK\x06\x07") {
            let record = u64_at(locator + 8)? as usize;
            entries = u64_at(record + 32)?;
            directory = u64_at(record + 48)?;
        }
    }
    let mut at = directory as usize;
    let mut out = Vec::with_capacity(entries as usize);
    for _ in 0..entries {
        if !bytes
            .get(at..)
            .is_some_and(|b| b.starts_with(b"PK\x01\x02"))
        {
            return Err("damaged zip directory".into());
        }
        let method = u16_at(at + 10)?;
        let mut size = u32_at(at + 20)?;
        let name_len = u16_at(at + 28)?;
        let extra_len = u16_at(at + 30)?;
        let comment_len = u16_at(at + 32)?;
        let mut local = u32_at(at + 42)?;
        let name = String::from_utf8_lossy(
            bytes
                .get(at + 46..at + 46 + name_len)
                .ok_or("truncated zip archive")?,
        )
        .into_owned();
        // Zip64 extra field: 64-bit sizes/offset for the fields set to 0xffffffff.
        let mut extra = at + 46 + name_len;
        let extra_end = extra + extra_len;
        while extra + 4 <= extra_end {
            let (id, len) = (u16_at(extra)?, u16_at(extra + 2)?);
            if id == 1 {
                let mut field = extra + 4;
                let compressed = u32_at(at + 20)?;
                if u32_at(at + 24)? == 0xffff_ffff {
                    size = u64_at(field)?;
                    field += 8;
                }
                if compressed == 0xffff_ffff {
                    size = u64_at(field)?;
                    field += 8;
                }
                if local == 0xffff_ffff {
                    local = u64_at(field)?;
                }
            }
            extra += 4 + len;
        }
        if method != 0 {
            return Err(format!(
                "{name} is compressed; PyTorch checkpoints never are"
            ));
        }
        let local = local as usize;
        if !bytes
            .get(local..)
            .is_some_and(|b| b.starts_with(b"PK\x03\x04"))
        {
            return Err("damaged zip entry".into());
        }
        let data_start = local + 30 + u16_at(local + 26)? + u16_at(local + 28)?;
        let data = bytes
            .get(data_start..data_start + size as usize)
            .ok_or("truncated zip archive (is the download complete?)")?;
        out.push((name, data));
        at += 46 + name_len + extra_len + comment_len;
    }
    Ok(out)
}

/// Runs the pickle opcodes a `torch.save`d state dict uses (protocols 2–4);
/// returns the result and the bytes consumed.
fn unpickle(bytes: &[u8]) -> Result<(Value, usize), String> {
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: BTreeMap<u64, Value> = BTreeMap::new();
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], String> {
        let out = bytes
            .get(*at..*at + n)
            .ok_or_else(|| "truncated pickle".to_string())?;
        *at += n;
        Ok(out)
    };
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64);
    let pop = |stack: &mut Vec<Value>| {
        stack
            .pop()
            .ok_or_else(|| "pickle stack underflow".to_string())
    };
    let pop_mark = |stack: &mut Vec<Value>| -> Result<Vec<Value>, String> {
        let mark = stack
            .iter()
            .rposition(|v| *v == Value::Mark)
            .ok_or("pickle MARK missing")?;
        let items = stack.split_off(mark + 1);
        stack.pop();
        Ok(items)
    };
    let line = |at: &mut usize| -> Result<String, String> {
        let end = bytes[*at..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("truncated pickle")?;
        let s = String::from_utf8_lossy(&bytes[*at..*at + end]).into_owned();
        *at += end + 1;
        Ok(s)
    };
    loop {
        let op = *take(&mut at, 1)?.first().unwrap();
        match op {
            0x80 => {
                take(&mut at, 1)?; // PROTO
            }
            0x95 => {
                take(&mut at, 8)?; // FRAME
            }
            b'.' => return Ok((pop(&mut stack)?, at)), // STOP
            b'}' => stack.push(Value::Dict(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b')' => stack.push(Value::Tuple(Vec::new())),
            b'(' => stack.push(Value::Mark),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'K' => {
                let v = take(&mut at, 1)?[0] as i64;
                stack.push(Value::Int(v));
            }
            b'M' => {
                let v = le(take(&mut at, 2)?) as i64;
                stack.push(Value::Int(v));
            }
            b'J' => {
                let v = i32::from_le_bytes(take(&mut at, 4)?.try_into().unwrap()) as i64;
                stack.push(Value::Int(v));
            }
            0x8a => {
                // LONG1: little-endian two's complement of n bytes.
                let n = take(&mut at, 1)?[0] as usize;
                let b = take(&mut at, n)?;
                let mut v = le(b) as i64;
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(Value::Int(v));
            }
            b'G' => {
                let v = f64::from_be_bytes(take(&mut at, 8)?.try_into().unwrap());
                stack.push(Value::Float(v));
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'X' => le(take(&mut at, 4)?) as usize,
                    0x8c => take(&mut at, 1)?[0] as usize,
                    _ => le(take(&mut at, 8)?) as usize,
                };
                let s = String::from_utf8_lossy(take(&mut at, n)?).into_owned();
                stack.push(Value::Str(s));
            }
            b'B' | b'C' | 0x8e => {
                let n = match op {
                    b'B' => le(take(&mut at, 4)?) as usize,
                    b'C' => take(&mut at, 1)?[0] as usize,
                    _ => le(take(&mut at, 8)?) as usize,
                };
                take(&mut at, n)?;
                stack.push(Value::None); // bytes: unused by state dicts
            }
            b'c' => {
                let module = line(&mut at)?;
                let name = line(&mut at)?;
                stack.push(Value::Global(format!("{module}.{name}")));
            }
            0x93 => {
                // STACK_GLOBAL
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => stack.push(Value::Global(format!("{m}.{n}"))),
                    _ => return Err("malformed STACK_GLOBAL".into()),
                }
            }
            b'q' => {
                let k = take(&mut at, 1)?[0] as u64;
                memo.insert(k, stack.last().cloned().ok_or("empty stack")?);
            }
            b'r' => {
                let k = le(take(&mut at, 4)?);
                memo.insert(k, stack.last().cloned().ok_or("empty stack")?);
            }
            0x94 => {
                let k = memo.len() as u64; // MEMOIZE
                memo.insert(k, stack.last().cloned().ok_or("empty stack")?);
            }
            b'h' | b'j' => {
                let k = if op == b'h' {
                    take(&mut at, 1)?[0] as u64
                } else {
                    le(take(&mut at, 4)?)
                };
                stack.push(memo.get(&k).cloned().ok_or("pickle memo miss")?);
            }
            b't' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err("pickle stack underflow".into());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'l' => {
                let items = pop_mark(&mut stack)?;
                stack.push(Value::List(items));
            }
            b'a' => {
                let v = pop(&mut stack)?;
                if let Some(Value::List(l)) = stack.last_mut() {
                    l.push(v);
                }
            }
            b'e' => {
                let items = pop_mark(&mut stack)?;
                if let Some(Value::List(l)) = stack.last_mut() {
                    l.extend(items);
                }
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                if let Some(Value::Dict(d)) = stack.last_mut() {
                    d.push((k, v));
                }
            }
            b'u' => {
                let items = pop_mark(&mut stack)?;
                if let Some(Value::Dict(d)) = stack.last_mut() {
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        d.push((k, v));
                    }
                }
            }
            b'Q' => {
                let id = pop(&mut stack)?;
                stack.push(Value::Persistent(Box::new(id)));
            }
            b'R' | 0x81 => {
                // REDUCE / NEWOBJ: recorded, not run. An OrderedDict() is a dict.
                let args = pop(&mut stack)?;
                let f = pop(&mut stack)?;
                match &f {
                    Value::Global(g) if g == "collections.OrderedDict" => {
                        stack.push(Value::Dict(Vec::new()))
                    }
                    _ => stack.push(Value::Call(Box::new(f), Box::new(args))),
                }
            }
            b'b' => {
                pop(&mut stack)?; // BUILD: state (e.g. a tensor's hooks) is ignored
            }
            other => return Err(format!("unsupported pickle opcode 0x{other:02x}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::checkpoint::Checkpoint;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/bert/tiny-a");

    fn reference() -> Checkpoint {
        Checkpoint::parse(&std::fs::read(format!("{DIR}/model.safetensors")).unwrap()).unwrap()
    }

    fn assert_same(got: &BTreeMap<String, StoredTensor>, want: &Checkpoint) {
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.tensors.keys().collect::<Vec<_>>()
        );
        for (name, t) in &want.tensors {
            assert_eq!(got[name].shape, t.shape, "{name}");
            assert_eq!(got[name].values, t.values, "{name}");
        }
    }

    #[test]
    fn a_zip_state_dict_reads_the_same_tensors_as_its_safetensors() {
        // tests/golden/bert/tiny-a/pytorch_model.bin: torch.save of the same
        // state dict as model.safetensors (scripts/bert_golden.py).
        let bytes = std::fs::read(format!("{DIR}/pytorch_model.bin")).unwrap();
        assert!(is_pytorch_bin(&bytes));
        assert_same(&read_state_dict(&bytes).unwrap(), &reference());
    }

    #[test]
    fn a_legacy_state_dict_reads_the_same_tensors() {
        let bytes = std::fs::read(format!("{DIR}/pytorch_model.legacy.bin")).unwrap();
        assert!(is_pytorch_bin(&bytes));
        assert_same(&read_state_dict(&bytes).unwrap(), &reference());
    }

    #[test]
    fn damaged_files_are_refused_with_a_message() {
        let bytes = std::fs::read(format!("{DIR}/pytorch_model.bin")).unwrap();
        let cut = &bytes[..bytes.len() / 2];
        assert!(read_state_dict(cut).is_err());
        assert!(read_state_dict(b"not a checkpoint").is_err());
    }
}
