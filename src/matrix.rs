//! A borrowed, row-major `rows x cols` matrix of `f32`: the shape in which inference engines hold
//! an output embedding, so callers pass their own memory without a copy.

use crate::error::{Error, Result};

/// Row-major view of a `rows x cols` matrix (row `j` is token `j`).
#[derive(Debug, Clone, Copy)]
pub struct MatrixView<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
}

impl<'a> MatrixView<'a> {
    /// Wraps `data` as `rows x cols`; fails unless `data.len() == rows * cols` and both are positive.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        if rows == 0 {
            return Err(Error::EmptyVocabulary);
        }
        if cols == 0 {
            return Err(Error::Shape("a matrix needs at least one column".into()));
        }
        let expected = rows
            .checked_mul(cols)
            .ok_or_else(|| Error::Shape(format!("{rows} x {cols} overflows")))?;
        if data.len() != expected {
            return Err(Error::Shape(format!(
                "{} values cannot form a {rows} x {cols} matrix",
                data.len()
            )));
        }
        Ok(Self { data, rows, cols })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `j` (token `j`'s vector), or `None` when `j >= rows`.
    pub fn row(&self, j: usize) -> Option<&'a [f32]> {
        let start = j.checked_mul(self.cols)?;
        self.data.get(start..start.checked_add(self.cols)?)
    }

    /// All entries, row-major.
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Fails on the first NaN or infinite entry, naming it.
    pub fn check_finite(&self, matrix: &'static str) -> Result<()> {
        match self.data.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(k) => Err(Error::NonFiniteEntry {
                matrix,
                row: k / self.cols,
                col: k % self.cols,
                value: self.data[k],
            }),
        }
    }
}
