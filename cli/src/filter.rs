//! Which tensors are pruned: `--include` / `--exclude` on names, then dtype
//! and rank. Everything else is kept dense (and copied byte for byte to
//! `--output`).

use regex::Regex;

use crate::checkpoint::Tensor;

/// Why a tensor is kept dense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dense {
    /// Its name matches `--exclude`.
    Excluded,
    /// `--include` is given and its name does not match.
    NotIncluded,
    /// Not f32, f16 or bf16 (only when `--include` does not name it).
    NotFloat,
    /// Not a matrix or an OIHW conv weight (norms, biases, ...).
    Rank,
}

impl Dense {
    pub fn reason(self, tensor: &Tensor) -> String {
        match self {
            Dense::Excluded => "excluded by --exclude".into(),
            Dense::NotIncluded => "not matched by --include".into(),
            Dense::NotFloat => format!("dtype {}", tensor.dtype),
            Dense::Rank => format!("rank {}", tensor.dims.len()),
        }
    }
}

/// The name filters.
pub struct Filter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl Filter {
    pub fn new(include: Option<&str>, exclude: Option<&str>) -> Result<Filter, String> {
        let compile = |flag: &str, re: Option<&str>| {
            re.map(Regex::new)
                .transpose()
                .map_err(|e| format!("{flag}: {}", e.to_string().replace('\n', " ")))
        };
        Ok(Filter {
            include: compile("--include", include)?,
            exclude: compile("--exclude", exclude)?,
        })
    }

    /// What happens to a tensor: `Ok(None)` to prune it, `Ok(Some(why))` to
    /// keep it dense. A tensor that `--include` names explicitly but that is
    /// not float is an error: the pattern cannot apply to it. (Tensors of
    /// another rank, such as norms under a broad `--include`, are kept dense.)
    pub fn role(&self, tensor: &Tensor) -> Result<Option<Dense>, String> {
        if self
            .exclude
            .as_ref()
            .is_some_and(|re| re.is_match(&tensor.name))
        {
            return Ok(Some(Dense::Excluded));
        }
        let included = match &self.include {
            Some(re) if !re.is_match(&tensor.name) => return Ok(Some(Dense::NotIncluded)),
            Some(_) => true,
            None => false,
        };
        if !tensor.is_float() {
            if included {
                return Err(format!(
                    "is {}, not f32/f16/bf16, but --include selects it",
                    tensor.dtype
                ));
            }
            return Ok(Some(Dense::NotFloat));
        }
        if tensor.shape().is_none() {
            return Ok(Some(Dense::Rank));
        }
        Ok(None)
    }
}
