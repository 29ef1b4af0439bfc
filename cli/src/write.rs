//! The outputs, `--masks` and `--output`: safetensors files laid out before
//! any data is produced, so every tensor has a known place and can be
//! written there (`pwrite`) by whichever thread produces it, streaming,
//! never holding a whole output in memory.
//!
//! Everything is written under a temporary name beside the destination
//! (`.NAME.XXXXXX.tmp`, a file or a directory), flushed to disk (`fsync`
//! of every file and folder) and renamed at the end, then the parent
//! folder is flushed too, so after a crash the destination is either
//! complete or absent. On an error the temporaries are dropped, which
//! deletes them; on Ctrl-C or SIGTERM [`crate::interrupt`] deletes them.
//! An existing destination is refused.
//!
//! - Model directory input: `--output` is a directory with the same shard
//!   file names, the index (if any) and every other file of the input
//!   ([`Checkpoint::others`]: config, tokenizer, sub-folders) copied byte
//!   for byte; `--masks` is as for the files below.
//! - Sharded input (an index): the destination is a directory with the same
//!   shard file names and an index file of the input's name.
//! - Single-file input: the destination is one file.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use tempfile::{NamedTempFile, TempDir};

use crate::checkpoint::Checkpoint;
use crate::interrupt;
use prunemask_cli::format::{self, Index};

/// Where a tensor goes: which file, at which byte.
#[derive(Clone, Copy)]
struct Place {
    file: usize,
    offset: u64,
}

/// The temporary that becomes the destination.
enum Temp {
    File(NamedTempFile),
    Dir(TempDir),
}

/// One output being written: its files (one per input shard that has
/// something to hold) and each tensor's place in them.
pub struct Target {
    path: PathBuf,
    temp: Temp,
    /// Open files, and their final paths for messages.
    files: Vec<(File, PathBuf)>,
    /// Per tensor of the checkpoint.
    places: Vec<Option<Place>>,
}

/// Flushes a file or folder to disk.
fn sync(path: &Path) -> Result<(), String> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A file of an output: its name in a sharded output, its header, and its
/// tensors with their offsets from the file's start.
struct FileLayout {
    shard: usize,
    header: Vec<u8>,
    tensors: Vec<(usize, u64)>,
    len: u64,
}

impl Target {
    /// The pruned weights: every shard with its header unchanged (same
    /// dtypes, shapes and offsets), each tensor where it is in the input.
    pub fn weights(path: &Path, ckpt: &Checkpoint) -> Result<Target, String> {
        let layouts = ckpt
            .shards
            .iter()
            .enumerate()
            .map(|(s, shard)| FileLayout {
                shard: s,
                header: shard.bytes()[..shard.header_len].to_vec(),
                tensors: ckpt
                    .tensors
                    .iter()
                    .enumerate()
                    .filter(|(_, t)| t.shard == s)
                    .map(|(i, t)| (i, t.range.start as u64))
                    .collect(),
                len: shard.bytes().len() as u64,
            })
            .collect();
        let index = |input: &Index| input.to_json(ckpt.data_bytes());
        let as_dir = ckpt.dir.is_some() || ckpt.index.is_some();
        Target::create(path, ckpt, layouts, index, as_dir)
    }

    /// Copies the model directory's other files ([`Checkpoint::others`])
    /// into the output, byte for byte, each flushed to disk. `stop` is
    /// checked between files.
    pub fn copy_others(&self, ckpt: &Checkpoint, stop: &dyn Fn() -> bool) -> Result<(), String> {
        let (Some(dir), Temp::Dir(temp)) = (&ckpt.dir, &self.temp) else {
            return Ok(());
        };
        for rel in &ckpt.others {
            if stop() {
                break;
            }
            let to = temp.path().join(rel);
            let shown = || self.path.join(rel).display().to_string();
            std::fs::copy(dir.join(rel), &to).map_err(|e| {
                format!(
                    "{}: cannot copy to {}: {e}",
                    dir.join(rel).display(),
                    shown()
                )
            })?;
            sync(&to)?;
        }
        Ok(())
    }

    /// The masks: a u8 tensor (1 = keep, 0 = prune) of the same name and
    /// shape for each pruned tensor, in the shard of its tensor; shards with
    /// none are not written.
    pub fn masks(
        path: &Path,
        ckpt: &Checkpoint,
        layers: &[usize],
        metadata: HashMap<String, String>,
    ) -> Result<Target, String> {
        let mut layouts = Vec::new();
        for s in 0..ckpt.shards.len() {
            let mine: Vec<usize> = layers
                .iter()
                .copied()
                .filter(|&t| ckpt.tensors[t].shard == s)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let layout = format::layout(mine.iter().map(|&t| {
                let tensor = &ckpt.tensors[t];
                (tensor.name.as_str(), Dtype::U8, tensor.dims.as_slice())
            }));
            let data_len = layout.last().map_or(0, |(_, i)| i.data_offsets.1) as u64;
            let starts: Vec<u64> = layout
                .iter()
                .map(|(_, i)| i.data_offsets.0 as u64)
                .collect();
            let header = format::header(layout, Some(metadata.clone()))?;
            let base = header.len() as u64;
            layouts.push(FileLayout {
                shard: s,
                len: base + data_len,
                tensors: mine
                    .into_iter()
                    .zip(starts)
                    .map(|(t, o)| (t, base + o))
                    .collect(),
                header,
            });
        }
        let bytes: u64 = layers
            .iter()
            .map(|&t| ckpt.tensors[t].dims.iter().product::<usize>() as u64)
            .sum();
        let index = |input: &Index| {
            let masks = Index {
                weight_map: layers
                    .iter()
                    .map(|&t| &ckpt.tensors[t].name)
                    .filter_map(|name| Some((name.clone(), input.weight_map.get(name)?.clone())))
                    .collect::<BTreeMap<_, _>>(),
                ..Index::default()
            };
            masks.to_json(bytes)
        };
        Target::create(path, ckpt, layouts, index, ckpt.index.is_some())
    }

    /// Creates the temporary files with their headers, sized to their final
    /// length (one file, or a directory of shards when `as_dir`); the index
    /// of a sharded output is written now too.
    fn create(
        path: &Path,
        ckpt: &Checkpoint,
        layouts: Vec<FileLayout>,
        index_json: impl Fn(&Index) -> Result<String, String>,
        as_dir: bool,
    ) -> Result<Target, String> {
        let shown = path.display();
        if path.symlink_metadata().is_ok() {
            return Err(format!("{shown}: already exists"));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let prefix = format!(
            ".{}.",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        let cannot = |e: std::io::Error| format!("{shown}: cannot write beside it: {e}");
        let mut files = Vec::new();
        let mut places = vec![None; ckpt.tensors.len()];
        // As a new file or directory would be (umask applies), not tempfile's 0600.
        let mode = if as_dir { 0o777 } else { 0o666 };
        builder.permissions(std::fs::Permissions::from_mode(mode));
        let temp = if as_dir {
            let temp = builder.tempdir_in(parent).map_err(cannot)?;
            interrupt::register(temp.path());
            for file_layout in &layouts {
                let name = &ckpt.shards[file_layout.shard].name;
                let file = File::create_new(temp.path().join(name)).map_err(cannot)?;
                files.push((file, path.join(name)));
            }
            if let Some((index_name, index)) = &ckpt.index {
                let json = index_json(index)?;
                std::fs::write(temp.path().join(index_name), json).map_err(cannot)?;
            }
            // The folders of the other files, now: copying then never
            // creates a folder, so it cannot recreate a temporary that
            // Ctrl-C deleted.
            for rel in &ckpt.others {
                if let Some(dir) = rel.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(temp.path().join(dir)).map_err(cannot)?;
                }
            }
            Temp::Dir(temp)
        } else {
            let temp = builder.tempfile_in(parent).map_err(cannot)?;
            interrupt::register(temp.path());
            let file = temp.as_file().try_clone().map_err(cannot)?;
            files.push((file, path.to_path_buf()));
            Temp::File(temp)
        };
        for (f, file_layout) in layouts.iter().enumerate() {
            let (file, name) = &files[f];
            let failed = |e: std::io::Error| format!("{}: {e}", name.display());
            file.set_len(file_layout.len).map_err(failed)?;
            file.write_all_at(&file_layout.header, 0).map_err(failed)?;
            for &(t, offset) in &file_layout.tensors {
                places[t] = Some(Place { file: f, offset });
            }
        }
        Ok(Target {
            path: path.to_path_buf(),
            temp,
            files,
            places,
        })
    }

    /// Writes `bytes` at byte `at` of tensor `t`'s data.
    pub fn write(&self, t: usize, at: usize, bytes: &[u8], tensor: &str) -> Result<(), String> {
        let place = self.places[t].ok_or_else(|| format!("tensor `{tensor}` has no place"))?;
        let (file, name) = &self.files[place.file];
        file.write_all_at(bytes, place.offset + at as u64)
            .map_err(|e| format!("{}: tensor `{tensor}`: {e}", name.display()))
    }

    /// Flushes every file and folder of the output to disk (before the
    /// interrupt lock is taken: a flush can take long, and Ctrl-C meanwhile
    /// still deletes the temporaries).
    fn flush(&self) -> Result<(), String> {
        let shown = self.path.display().to_string();
        for (file, name) in &self.files {
            file.sync_all()
                .map_err(|e| format!("{}: {e}", name.display()))?;
        }
        if let Temp::Dir(temp) = &self.temp {
            // Index, copied files and folders: every folder's entries.
            let mut dirs = vec![temp.path().to_path_buf()];
            while let Some(dir) = dirs.pop() {
                for entry in std::fs::read_dir(&dir).map_err(|e| format!("{shown}: {e}"))? {
                    let path = entry.map_err(|e| format!("{shown}: {e}"))?.path();
                    if path.is_dir() {
                        dirs.push(path);
                    } else if path.extension().is_some_and(|e| e == "json") {
                        sync(&path)?;
                    }
                }
                sync(&dir)?;
            }
        }
        Ok(())
    }

    /// Gives the flushed temporary its final name (the caller holds
    /// [`interrupt::hold`]). Returns the path.
    fn finish(self, held: &mut Vec<PathBuf>) -> Result<PathBuf, String> {
        let shown = self.path.display().to_string();
        let temp_path = match &self.temp {
            Temp::File(temp) => temp.path().to_path_buf(),
            Temp::Dir(temp) => temp.path().to_path_buf(),
        };
        match self.temp {
            Temp::File(temp) => {
                temp.persist_noclobber(&self.path)
                    .map_err(|e| format!("{shown}: {}", e.error))?;
            }
            Temp::Dir(temp) => {
                if self.path.symlink_metadata().is_ok() {
                    return Err(format!("{shown}: already exists"));
                }
                let kept = temp.keep();
                if let Err(e) = std::fs::rename(&kept, &self.path) {
                    let _ = std::fs::remove_dir_all(&kept);
                    held.retain(|p| *p != temp_path);
                    return Err(format!("{shown}: {e}"));
                }
            }
        }
        held.retain(|p| *p != temp_path);
        // The rename itself, on disk. Best effort: the output is complete
        // and in place, and some file systems refuse to flush a folder.
        let parent = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let _ = sync(parent);
        Ok(self.path)
    }
}

/// Both outputs; dropping this without [`Outputs::finish`] deletes them.
#[derive(Default)]
pub struct Outputs {
    pub masks: Option<Target>,
    pub weights: Option<Target>,
}

impl Outputs {
    pub fn is_empty(&self) -> bool {
        self.masks.is_none() && self.weights.is_none()
    }

    /// Renames both outputs into place; if the second fails, the first is
    /// removed again, so an error leaves neither. A Ctrl-C meanwhile waits
    /// until both are in place.
    pub fn finish(self) -> Result<(), String> {
        for target in [&self.masks, &self.weights].into_iter().flatten() {
            target.flush()?;
        }
        let mut held = interrupt::hold();
        let first = (self.masks).map(|t| t.finish(&mut held)).transpose()?;
        if let Err(e) = (self.weights).map(|t| t.finish(&mut held)).transpose() {
            if let Some(done) = first {
                let _ = std::fs::remove_file(&done).or_else(|_| std::fs::remove_dir_all(&done));
            }
            return Err(e);
        }
        interrupt::written();
        Ok(())
    }
}
