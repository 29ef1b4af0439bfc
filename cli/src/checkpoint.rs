//! The input: one safetensors file, or a sharded checkpoint (a directory, or
//! its `*.safetensors.index.json`), every shard memory-mapped, so a
//! checkpoint larger than RAM is read from the page cache as it goes and
//! never copied into the process.
//!
//! Each prunable tensor becomes a `prunemask::Layer` over the mapped bytes:
//! safetensors puts the data section at an 8-aligned offset and the mapping
//! is page-aligned, so tensors are normally aligned for their dtype and are
//! cast in place (`bytemuck`). A misaligned tensor (possible when a writer
//! puts a 2-byte tensor before a 4-byte one) is copied, and the report says
//! so.
//!
//! A model directory is more than its weights: [`Checkpoint::others`] lists
//! every other file under it (config, tokenizer, sub-folders), which
//! `--output` copies byte for byte, and [`Checkpoint::model_type`] is
//! `config.json`'s `model_type`, which says how the weights are laid out.

use std::collections::HashSet;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use memmap2::{Advice, Mmap};
use prunemask::{Layer, Scores, Shape};
use safetensors::{Dtype, SafeTensors};

use prunemask_cli::format::Index;

// Safetensors data is little endian; the in-place casts read it natively.
#[cfg(target_endian = "big")]
compile_error!("prunemask reads safetensors data in place: little-endian targets only");

/// The bytes of one shard: a file mapping, or a buffer made in memory (the
/// demo model).
enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// One safetensors file of the checkpoint.
pub struct Shard {
    /// File name, as the index names it (the file's own name for a single file).
    pub name: String,
    /// Where it was read from.
    pub path: PathBuf,
    /// Length of the header (8 + JSON): tensor offsets count from here.
    pub header_len: usize,
    bytes: Bytes,
}

impl Shard {
    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }
}

/// A copy of a misaligned tensor, in its own dtype.
enum Copy {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

/// One tensor of the checkpoint.
pub struct Tensor {
    pub name: String,
    /// Index into [`Checkpoint::shards`].
    pub shard: usize,
    pub dtype: Dtype,
    pub dims: Vec<usize>,
    /// Its bytes within the shard file (header included in the count).
    pub range: Range<usize>,
    /// A matrix stored `[in_features, out_features]` (transformers'
    /// `Conv1D`); set by the caller from `config.json` or `--transposed`.
    pub in_out: bool,
    copy: Option<Copy>,
}

impl Tensor {
    /// Whether the tensor was copied to be read as typed scores.
    pub fn copied(&self) -> bool {
        self.copy.is_some()
    }

    /// The shape a layer would have: a matrix (`[out, in]`, or `[in, out]`
    /// when [`Tensor::in_out`]), a conv1d, conv2d or conv3d weight; `None`
    /// for other ranks. Which tensors are pruned is [`crate::filter`]'s call.
    pub fn shape(&self) -> Option<Shape> {
        match *self.dims.as_slice() {
            [inputs, outputs] if self.in_out => Some(Shape::in_out(inputs, outputs)),
            ref dims => Shape::from_dims(dims),
        }
    }

    /// The stored layout, as the report names it: `out,in`, `in,out`,
    /// `O,I,K`, `O,I,H,W`, `O,I,D,H,W`.
    pub fn layout(&self) -> &'static str {
        match (self.dims.len(), self.in_out) {
            (2, true) => "in,out",
            (2, false) => "out,in",
            (3, _) => "O,I,K",
            (4, _) => "O,I,H,W",
            (5, _) => "O,I,D,H,W",
            _ => "-",
        }
    }

    /// Number of elements.
    pub fn elements(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether prunemask reads this dtype.
    pub fn is_float(&self) -> bool {
        matches!(self.dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16)
    }

    /// Bytes per element.
    pub fn element_size(&self) -> usize {
        self.dtype.bitsize() / 8
    }
}

/// A checkpoint: its shards and all their tensors, shard by shard in file
/// order, and each shard's tensors in offset order (the order they are
/// written back in).
pub struct Checkpoint {
    /// What was opened (a file, a directory, an index), for messages.
    pub source: PathBuf,
    /// For a sharded checkpoint: the index's file name and contents.
    pub index: Option<(String, Index)>,
    /// For a model directory given as the input: the directory.
    pub dir: Option<PathBuf>,
    /// Every file under [`Checkpoint::dir`] that is not a shard or the
    /// index, as paths relative to it, sorted (sub-folders included,
    /// symbolic links followed, as a Hugging Face cache snapshot has them).
    pub others: Vec<PathBuf>,
    /// Top-level folders of [`Checkpoint::dir`] that are not part of the
    /// model and are not copied: [`NOT_MODEL`].
    pub not_copied: Vec<PathBuf>,
    /// `model_type` from the `config.json` beside the weights, if any.
    pub model_type: Option<String>,
    pub shards: Vec<Shard>,
    pub tensors: Vec<Tensor>,
    /// Every tensor name, to refuse a name found twice.
    names: HashSet<String>,
}

impl Checkpoint {
    /// Opens a safetensors file, a directory holding an index and its shards
    /// (or a single safetensors file), or an index file.
    pub fn open(path: &Path) -> Result<Checkpoint, String> {
        let shown = path.display();
        let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
        if meta.is_dir() {
            let (indexes, files) = list_dir(path)?;
            let mut ckpt = match (indexes.as_slice(), files.as_slice()) {
                ([index], _) => Checkpoint::open_index(&path.join(index))?,
                ([], [file]) => Checkpoint::open_file(&path.join(file))?,
                _ => {
                    return Err(format!(
                        "{shown}: expected one *.safetensors.index.json, or one *.safetensors \
                         file without an index (found {} and {})",
                        indexes.len(),
                        files.len()
                    ))
                }
            };
            let mut mine: HashSet<PathBuf> = (ckpt.shards.iter())
                .map(|s| PathBuf::from(&s.name))
                .collect();
            if let Some((index, _)) = &ckpt.index {
                mine.insert(PathBuf::from(index));
            }
            let (mut others, mut not_copied) = (Vec::new(), Vec::new());
            walk(path, Path::new(""), &mut others, &mut not_copied)?;
            others.retain(|p| !mine.contains(p));
            others.sort();
            not_copied.sort();
            ckpt.not_copied = not_copied;
            ckpt.source = path.to_path_buf();
            ckpt.dir = Some(path.to_path_buf());
            ckpt.others = others;
            return Ok(ckpt);
        }
        if path.extension().is_some_and(|e| e == "json") {
            Checkpoint::open_index(path)
        } else {
            Checkpoint::open_file(path)
        }
    }

    fn open_file(path: &Path) -> Result<Checkpoint, String> {
        let mut ckpt = Checkpoint::empty(path);
        ckpt.add_shard(file_name(path), path, Bytes::Mapped(map(path)?))?;
        ckpt.model_type = model_type(path)?;
        Ok(ckpt)
    }

    fn open_index(path: &Path) -> Result<Checkpoint, String> {
        let shown = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
        let index: Index = serde_json::from_str(&text)
            .map_err(|e| format!("{shown}: not a checkpoint index: {e}"))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let shard_names = index.shard_names();
        let mut ckpt = Checkpoint::empty(path);
        for name in &shard_names {
            let shard_path = dir.join(name);
            let bytes = map(&shard_path).map_err(|e| {
                // Name a tensor the missing shard should hold.
                let tensor = index
                    .weight_map
                    .iter()
                    .find(|(_, f)| *f == name)
                    .map(|(t, _)| t);
                format!(
                    "{e} (shard of tensor `{}` in {shown})",
                    tensor.map_or("?", |t| t)
                )
            })?;
            ckpt.add_shard(name.clone(), &shard_path, Bytes::Mapped(bytes))?;
        }
        let present: HashSet<(&str, &str)> = (ckpt.tensors.iter())
            .map(|t| (t.name.as_str(), ckpt.shards[t.shard].name.as_str()))
            .collect();
        for (tensor, shard) in &index.weight_map {
            if !present.contains(&(tensor.as_str(), shard.as_str())) {
                return Err(format!(
                    "{}: tensor `{tensor}` is listed in {shown} but not in the file",
                    dir.join(shard).display()
                ));
            }
        }
        ckpt.index = Some((file_name(path), index));
        ckpt.model_type = model_type(path)?;
        Ok(ckpt)
    }

    /// A checkpoint made in memory: one safetensors file's bytes.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Checkpoint, String> {
        let mut ckpt = Checkpoint::empty(Path::new(name));
        ckpt.add_shard(name.to_string(), Path::new(name), Bytes::Owned(bytes))?;
        Ok(ckpt)
    }

    fn empty(source: &Path) -> Checkpoint {
        Checkpoint {
            source: source.to_path_buf(),
            index: None,
            dir: None,
            others: Vec::new(),
            not_copied: Vec::new(),
            model_type: None,
            shards: Vec::new(),
            tensors: Vec::new(),
            names: HashSet::new(),
        }
    }

    /// Parses a shard's header with the `safetensors` crate (which checks
    /// that the offsets cover the file exactly: a truncated file fails here)
    /// and appends its tensors in offset order.
    fn add_shard(&mut self, name: String, path: &Path, bytes: Bytes) -> Result<(), String> {
        let shown = path.display();
        let (n, metadata) = SafeTensors::read_metadata(bytes.as_slice())
            .map_err(|e| format!("{shown}: not a valid safetensors file: {e}"))?;
        let header_len = 8 + n;
        let shard = self.shards.len();
        for tensor_name in metadata.offset_keys() {
            if !self.names.insert(tensor_name.clone()) {
                return Err(format!("{shown}: tensor `{tensor_name}` is in two shards"));
            }
            let info = metadata
                .info(&tensor_name)
                .ok_or_else(|| format!("{shown}: tensor `{tensor_name}` has no entry"))?;
            let (start, end) = info.data_offsets;
            self.tensors.push(Tensor {
                name: tensor_name,
                shard,
                dtype: info.dtype,
                dims: info.shape.clone(),
                range: header_len + start..header_len + end,
                in_out: false,
                copy: None,
            });
        }
        self.shards.push(Shard {
            name,
            path: path.to_path_buf(),
            header_len,
            bytes,
        });
        Ok(())
    }

    /// The raw bytes of tensor `t`.
    pub fn bytes(&self, t: usize) -> &[u8] {
        let tensor = &self.tensors[t];
        &self.shards[tensor.shard].bytes()[tensor.range.clone()]
    }

    /// Where tensor `t` lives, for messages: `file: tensor `name``.
    pub fn locate(&self, t: usize) -> String {
        let tensor = &self.tensors[t];
        format!(
            "{}: tensor `{}`",
            self.shards[tensor.shard].path.display(),
            tensor.name
        )
    }

    /// Makes float tensor `t` readable as typed scores: aligned data is read
    /// in place; misaligned data is copied once (true when it was).
    pub fn align(&mut self, t: usize) -> bool {
        if self.typed(t).is_some() || !self.tensors[t].is_float() {
            return false;
        }
        let raw = self.bytes(t);
        let copy = match self.tensors[t].dtype {
            Dtype::F32 => Copy::F32(bytemuck::pod_collect_to_vec(raw)),
            Dtype::F16 => Copy::F16(bytemuck::pod_collect_to_vec(raw)),
            _ => Copy::Bf16(bytemuck::pod_collect_to_vec(raw)),
        };
        self.tensors[t].copy = Some(copy);
        true
    }

    /// The scores of tensor `t` read in place, or from its copy; `None` when
    /// it is not a float tensor or is misaligned and not yet copied.
    fn typed(&self, t: usize) -> Option<Scores<'_>> {
        if let Some(copy) = &self.tensors[t].copy {
            return Some(match copy {
                Copy::F32(v) => Scores::F32(v),
                Copy::F16(v) => Scores::F16(v),
                Copy::Bf16(v) => Scores::Bf16(v),
            });
        }
        let raw = self.bytes(t);
        match self.tensors[t].dtype {
            Dtype::F32 => bytemuck::try_cast_slice(raw).ok().map(Scores::F32),
            Dtype::F16 => bytemuck::try_cast_slice(raw).ok().map(Scores::F16),
            Dtype::BF16 => bytemuck::try_cast_slice(raw).ok().map(Scores::Bf16),
            _ => None,
        }
    }

    /// Tensor `t` as a layer (after [`Checkpoint::align`]); `None` if it is
    /// not a float tensor of rank 2 or 4.
    pub fn layer(&self, t: usize) -> Option<Layer<'_>> {
        Some(Layer::new(self.typed(t)?, self.tensors[t].shape()?))
    }

    /// Tells the kernel the maps are read front to back (several times, by
    /// the selection's passes): read ahead, and drop pages behind first when
    /// memory is short.
    pub fn advise_sequential(&self) {
        for shard in &self.shards {
            if let Bytes::Mapped(m) = &shard.bytes {
                // Advice only: a kernel that refuses it reads the same bytes.
                let _ = m.advise(Advice::Sequential);
            }
        }
    }

    /// Asks the kernel to start reading tensor `t` now, without waiting:
    /// the masks phase asks a tensor ahead, so the disk reads while the
    /// threads compute.
    pub fn prefetch(&self, t: usize) {
        let tensor = &self.tensors[t];
        if let Bytes::Mapped(m) = &self.shards[tensor.shard].bytes {
            // Advice only, as above.
            let _ = m.advise_range(Advice::WillNeed, tensor.range.start, tensor.range.len());
        }
    }

    /// Bytes of tensor data over all shards.
    pub fn data_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.range.len() as u64).sum()
    }
}

/// Maps a file read-only.
fn map(path: &Path) -> Result<Mmap, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: the map is read-only and lives as long as the `Checkpoint`.
    // Nothing in this process writes the input files (outputs are new files,
    // and a path that exists is refused), and a checkpoint is not expected to
    // be modified by another process while it is being pruned; if it were
    // truncated meanwhile, reads past its new end would fault (SIGBUS).
    unsafe { Mmap::map(&file) }.map_err(|e| format!("{}: {e}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `model_type` of the `config.json` beside `weights` (a file in the model
/// directory), if there is one; an error if it is there but unreadable,
/// since it decides how weights are laid out.
fn model_type(weights: &Path) -> Result<Option<String>, String> {
    let config = match weights.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("config.json"),
        _ => PathBuf::from("config.json"),
    };
    let text = match std::fs::read_to_string(&config) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", config.display())),
    };
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a JSON config: {e}", config.display()))?;
    if !json.is_object() {
        return Err(format!("{}: not a JSON object", config.display()));
    }
    Ok(json
        .get("model_type")
        .and_then(|t| t.as_str())
        .map(str::to_string))
}

/// Top-level folders of a model directory that are not the model: a git
/// clone's history (which holds the dense weights again) and
/// `huggingface_hub`'s download records (hashes of the original files).
pub const NOT_MODEL: [&str; 2] = [".git", ".cache"];

/// Appends every file under `root/rel` to `out` (paths relative to `root`),
/// following symbolic links; the [`NOT_MODEL`] folders go to `skipped`.
fn walk(
    root: &Path,
    rel: &Path,
    out: &mut Vec<PathBuf>,
    skipped: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let dir = root.join(rel);
    let failed = |e: std::io::Error| format!("{}: {e}", dir.display());
    for entry in std::fs::read_dir(&dir).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        let top = rel.as_os_str().is_empty();
        let rel = rel.join(entry.file_name());
        if top && NOT_MODEL.iter().any(|n| entry.file_name() == *n) {
            skipped.push(rel);
            continue;
        }
        let meta = std::fs::metadata(root.join(&rel))
            .map_err(|e| format!("{}: {e}", root.join(&rel).display()))?;
        if meta.is_dir() {
            walk(root, &rel, out, skipped)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

/// The index files and the safetensors files of a directory, sorted.
fn list_dir(dir: &Path) -> Result<(Vec<String>, Vec<String>), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (mut indexes, mut files) = (Vec::new(), Vec::new());
    for entry in entries {
        let name = entry
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".safetensors.index.json") {
            indexes.push(name);
        } else if name.ends_with(".safetensors") {
            files.push(name);
        }
    }
    indexes.sort();
    files.sort();
    Ok((indexes, files))
}
