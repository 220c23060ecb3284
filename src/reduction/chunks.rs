//! Bulk rejection of the tail (METHOD.md, "Shared rejections"): one point with `p_j = 0` on a
//! whole chunk of tokens rejects them all, so the tens of thousands of deep-tail tokens of a real
//! step cost tens of LPs instead of one each. A chunk whose point cannot be found is split in two
//! until single tokens remain, which go back to the per-token solve; nothing is ever decided from
//! a failure.

use super::{Reduction, Workspace};
use crate::backend::BackendError;

/// Largest mass of a chunk, as a fraction of `tau`. No set heavier than `tau` can be zeroed (the
/// other tokens can absorb at most `kappa (1 - q(Z))`), and close to it the absorbing tokens'
/// headroom is nearly used up. Measured on a Gaussian step (V = 8192, top-20 SVD basis, eta =
/// 9e-4): 0.5 of `tau` split often (880 chunk solves, 2.6 s in all), 0.25 less (523, 2.2 s),
/// 0.1 left more singles (400 and 879 single solves, 2.4 s).
pub const CHUNK_MASS: f64 = 0.25;

/// Chunked rejection of the pending tokens, least probable first; what no chunk takes is left
/// to the next reduction. Without set solves in the backend it leaves everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct TailChunks;

impl Reduction for TailChunks {
    fn name(&self) -> &'static str {
        "tail-chunks"
    }

    fn reduce(&mut self, work: &mut Workspace<'_, '_>, pending: &[u32]) {
        let step = work.step();
        let q = step.q();
        let limit = CHUNK_MASS * step.tau();
        let mut ascending: Vec<u32> = pending
            .iter()
            .copied()
            .filter(|&t| !work.is_settled(t))
            .collect();
        ascending
            .sort_unstable_by(|&a, &b| q[a as usize].total_cmp(&q[b as usize]).then(a.cmp(&b)));
        let mut chunks: Vec<Vec<u32>> = Vec::new();
        let mut mass = f64::INFINITY;
        for &t in &ascending {
            if mass + q[t as usize] > limit {
                chunks.push(Vec::new());
                mass = 0.0;
            }
            mass += q[t as usize];
            chunks.last_mut().expect("a chunk was opened").push(t);
        }
        // Least probable chunks first: they are the likeliest to go in one solve. Each popped
        // set is in ascending `q`, so its halves split the light tokens from the heavy ones.
        chunks.reverse();
        while let Some(set) = chunks.pop() {
            if work.out_of_time() {
                return;
            }
            let set: Vec<u32> = set.into_iter().filter(|&t| !work.is_settled(t)).collect();
            if set.len() <= 1 {
                continue;
            }
            let mut by_id = set.clone();
            by_id.sort_unstable();
            match work.solve_set(&by_id) {
                Ok(true) => {}
                Err(BackendError::Unsupported(_)) => return,
                Ok(false) | Err(_) => {
                    let (light, heavy) = set.split_at(set.len() / 2);
                    chunks.push(heavy.to_vec());
                    chunks.push(light.to_vec());
                }
            }
        }
    }

    fn fresh(&self) -> Option<Box<dyn Reduction + Send>> {
        Some(Box::new(*self))
    }
}
