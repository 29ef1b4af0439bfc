//! The two file formats of a checkpoint, on the writing side: a safetensors
//! header for a file we lay out ourselves, and the sharded checkpoint's index
//! (`model.safetensors.index.json`). Reading headers is the `safetensors`
//! crate's job (`SafeTensors::read_metadata`).
//!
//! Shared by the `prunemask` binary and `examples/make_checkpoint.rs`.

use std::collections::{BTreeMap, HashMap};

use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::Dtype;
use serde::{Deserialize, Serialize};

/// Tensors laid out one after the other, in the order given: each one's
/// `data_offsets` start where the previous one ends.
pub fn layout<'a>(
    tensors: impl IntoIterator<Item = (&'a str, Dtype, &'a [usize])>,
) -> Vec<(String, TensorInfo)> {
    let mut offset = 0;
    tensors
        .into_iter()
        .map(|(name, dtype, shape)| {
            let bytes = shape.iter().product::<usize>() * dtype.bitsize() / 8;
            let info = TensorInfo {
                dtype,
                shape: shape.to_vec(),
                data_offsets: (offset, offset + bytes),
            };
            offset += bytes;
            (name.to_string(), info)
        })
        .collect()
}

/// The bytes a safetensors file starts with: the header length (u64, little
/// endian) and the JSON header, padded with spaces to a multiple of 8 bytes
/// so the data that follows starts 8-aligned, as the `safetensors` crate
/// writes it. The data section is `header.len()..`.
pub fn header(
    tensors: Vec<(String, TensorInfo)>,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, String> {
    // `Metadata::new` checks that the offsets follow each other.
    let metadata = Metadata::new(metadata, tensors).map_err(|e| e.to_string())?;
    // The metadata entries sorted by key (a `HashMap` serialises in a
    // random order), so the same masks give the same bytes.
    let mut value = serde_json::to_value(&metadata).map_err(|e| e.to_string())?;
    if let Some(serde_json::Value::Object(entries)) = value.get_mut("__metadata__") {
        let sorted: BTreeMap<String, serde_json::Value> =
            std::mem::take(entries).into_iter().collect();
        entries.extend(sorted);
    }
    let mut json = serde_json::to_vec(&value).map_err(|e| e.to_string())?;
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&json);
    Ok(out)
}

/// The index of a sharded checkpoint: which shard file holds each tensor.
/// Fields we do not use are kept as they are.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Index {
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub weight_map: BTreeMap<String, String>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Index {
    /// The shard file names, sorted (`model-00001-of-0000N...` first).
    pub fn shard_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.weight_map.values().cloned().collect();
        names.sort();
        names.dedup();
        names
    }

    /// The index as JSON, with `metadata.total_size` set to `total_size`
    /// (the bytes of tensor data over all shards, as Hugging Face writes it).
    pub fn to_json(&self, total_size: u64) -> Result<String, String> {
        let mut index = Index {
            metadata: self.metadata.clone(),
            weight_map: self.weight_map.clone(),
            other: self.other.clone(),
        };
        index
            .metadata
            .insert("total_size".into(), serde_json::Value::from(total_size));
        serde_json::to_string_pretty(&index).map_err(|e| e.to_string())
    }
}
