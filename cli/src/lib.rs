//! Parts of the `prunemask` command-line tool that its dev tools share
//! (`examples/make_checkpoint.rs` writes checkpoints with [`mod@format`]).
//! Not a stable API: the tool is the binary, the library is `prunemask`.

pub mod format;
