//! Research probe: can a per-token box QP, solved by semi-smooth Newton on its dual over the `h`
//! most probable absorbers, produce verified reject certificates for the band (the tokens below
//! `tau` that the bulk certificate leaves) fast enough for a full mask (~0.04 ms a band token)?
//!
//! `nice -n 15 cargo run --release -p basis-aware-tools --example newton_probe -- [steps]`
//! (`NEWTON_ONLY=<k>` for one step of the entropy order, `NEWTON_FULL_J=1` to rebuild the
//! Jacobian every iteration instead of updating it by the active-set changes,
//! `NEWTON_MAX_BAND=<n>` to cap the tokens probed a step, `NEWTON_RTOL` (1e-9) the |F|/|t| at
//! which a settled active set stops, `NEWTON_DIVERGE=4` the heuristic give-up |F|/|t| after three
//! iterations (default off), `NEWTON_TRACE=1` per-iteration traces of three rejects).
//!
//! Token `i`, `a_j = (b_j, 1)`, `t = q_i a_i`: a reject is `d` with `d_j` in `[-q_j, kappa q_j]`
//! over `H` (the `h` most probable tokens other than `i`) and `sum_H d_j a_j = t`. The dual
//! `phi(y) = y.t - sum_H psi_j(a_j.y)` (concave) is maximised by Newton with `d_j(y) =
//! clamp(q_j a_j.y)` and `J = sum_free q_j a_j a_j^T`; an iterate with `t.y > sum_H q_j g(a_j.y)`
//! proves the QP over `H` infeasible (the token is not rejectable over `H`).

use std::path::PathBuf;
use std::time::Instant;

use basis_aware::backends::SimplexBackend;
use basis_aware::reduction::{BandLp, BulkRejects, EachToken, HeadKeeps, Reduction, TailChunks};
use basis_aware::verify::{kept_by, rejected_by};
use basis_aware::{truncate_with, Basis, Decision, KeepCertificate, RejectCertificate, Rule, Step};
use basis_aware_tools::instance::Instance;

const HS: [usize; 3] = [250, 1000, 4000];
const MAX_ITERS: usize = 30;

/// The `HS[last] + 1` most probable tokens, rows `a_j` gathered contiguously in f64.
struct Head {
    tokens: Vec<u32>,
    /// `n` entries a row.
    a: Vec<f64>,
    q: Vec<f64>,
    kq: Vec<f64>,
    #[allow(dead_code)]
    amax: Vec<f64>,
    n: usize,
    /// Column-major copy of `a`: column `k` at `k * stride`.
    cols: Vec<f64>,
    stride: usize,
    /// `sum_{r < h} q_r a_r a_r^T` (full `n x n`), for each `h` of `HS`.
    j0: Vec<Vec<f64>>,
}

impl Head {
    fn new(step: &Step, basis: &Basis) -> Self {
        let n = basis.dim() + 1;
        let tokens = step.most_probable(HS[HS.len() - 1] + 1);
        let mut a = Vec::with_capacity(tokens.len() * n);
        let (mut q, mut kq, mut amax) = (vec![], vec![], vec![]);
        for &t in &tokens {
            let row = basis.row(t as usize).expect("row");
            let start = a.len();
            a.extend(row.iter().map(|&b| f64::from(b)));
            a.push(1.0);
            amax.push(a[start..].iter().fold(0.0f64, |m, v| m.max(v.abs())));
            let qt = step.q()[t as usize];
            q.push(qt);
            kq.push(step.kappa() * qt);
        }
        let mut head = Self {
            tokens,
            a,
            q,
            kq,
            amax,
            n,
            cols: vec![],
            stride: 0,
            j0: vec![],
        };
        let stride = head.tokens.len();
        head.cols = vec![0.0; n * stride];
        for r in 0..stride {
            for k in 0..n {
                head.cols[k * stride + r] = head.a[r * n + k];
            }
        }
        head.stride = stride;
        for &h in &HS {
            let mut j = vec![0.0; n * n];
            for r in 0..h.min(head.tokens.len()) {
                head.add_outer(&mut j, r, 1.0);
            }
            head.j0.push(j);
        }
        head
    }

    fn row(&self, r: usize) -> &[f64] {
        &self.a[r * self.n..(r + 1) * self.n]
    }

    /// `J += sign q_r a_r a_r^T` (upper triangle only).
    #[inline]
    fn add_outer(&self, j: &mut [f64], r: usize, sign: f64) {
        let n = self.n;
        let a = self.row(r);
        let w = sign * self.q[r];
        for k in 0..n {
            let wk = w * a[k];
            let jk = &mut j[k * n..k * n + n];
            for l in k..n {
                jk[l] += wk * a[l];
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// `|F|` small: a candidate point.
    Converged,
    /// An iterate separates `t` from the zonotope over `H`.
    Infeasible,
    /// `|F| > NEWTON_DIVERGE |t|` after 3 iterations (heuristic).
    Diverged,
    /// Neither within `MAX_ITERS` (or no progress).
    Stalled,
}

struct Solve {
    verdict: Verdict,
    iters: usize,
    passes: usize,
    /// Rows of the head used (the absorbers `H`).
    rows: Vec<usize>,
    d: Vec<f64>,
    y: Vec<f64>,
}

/// In-place Cholesky of the upper triangle of `m` (`n x n`), then the solve `m x = b` into `b`.
fn cholesky_solve(m: &mut [f64], n: usize, b: &mut [f64]) -> bool {
    // Upper factor U with m = U^T U, stored in the upper triangle.
    for k in 0..n {
        let mut dkk = m[k * n + k];
        for p in 0..k {
            dkk -= m[p * n + k] * m[p * n + k];
        }
        // NaN fails too.
        if dkk.is_nan() || dkk <= 0.0 {
            return false;
        }
        let ukk = dkk.sqrt();
        m[k * n + k] = ukk;
        for l in k + 1..n {
            let mut v = m[k * n + l];
            for p in 0..k {
                v -= m[p * n + k] * m[p * n + l];
            }
            m[k * n + l] = v / ukk;
        }
    }
    // U^T z = b
    for k in 0..n {
        let mut v = b[k];
        for p in 0..k {
            v -= m[p * n + k] * b[p];
        }
        b[k] = v / m[k * n + k];
    }
    // U x = z
    for k in (0..n).rev() {
        let mut v = b[k];
        for l in k + 1..n {
            v -= m[k * n + l] * b[l];
        }
        b[k] = v / m[k * n + k];
    }
    true
}

fn norm_inf(v: &[f64]) -> f64 {
    v.iter().fold(0.0f64, |m, x| m.max(x.abs()))
}

fn tracing() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("NEWTON_TRACE").is_some())
}

fn diverge() -> f64 {
    static T: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *T.get_or_init(|| {
        std::env::var("NEWTON_DIVERGE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::INFINITY)
    })
}

fn rtol() -> f64 {
    static T: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *T.get_or_init(|| {
        std::env::var("NEWTON_RTOL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1e-9)
    })
}

fn newton(head: &Head, which: usize, i: u32, qi: f64, ai: &[f64], full_j: bool) -> Solve {
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        // SAFETY: the features were just detected.
        unsafe { newton_avx2(head, which, i, qi, ai, full_j) }
    } else {
        newton_body(head, which, i, qi, ai, full_j)
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn newton_avx2(
    head: &Head,
    which: usize,
    i: u32,
    qi: f64,
    ai: &[f64],
    full_j: bool,
) -> Solve {
    newton_body(head, which, i, qi, ai, full_j)
}

/// `out[r] = sum_k y_k col_k[r]` over `r < len`.
#[inline(always)]
fn times_y(head: &Head, len: usize, y: &[f64], out: &mut [f64]) {
    let out = &mut out[..len];
    out.iter_mut().for_each(|v| *v = 0.0);
    for (k, &yk) in y.iter().enumerate() {
        let col = &head.cols[k * head.stride..k * head.stride + len];
        for (o, &c) in out.iter_mut().zip(col) {
            *o = c.mul_add(yk, *o);
        }
    }
}

/// `f_k = sum_r col_k[r] d[r] - t_k`, four lanes of accumulators.
#[inline(always)]
fn times_d(head: &Head, len: usize, d: &[f64], t: &[f64], f: &mut [f64]) {
    let d = &d[..len];
    for (k, fk) in f.iter_mut().enumerate() {
        let col = &head.cols[k * head.stride..k * head.stride + len];
        let mut acc = [0.0f64; 8];
        let mut cc = col.chunks_exact(8);
        let mut dc = d.chunks_exact(8);
        for (c, x) in (&mut cc).zip(&mut dc) {
            for l in 0..8 {
                acc[l] = c[l].mul_add(x[l], acc[l]);
            }
        }
        let mut tail = 0.0;
        for (c, x) in cc.remainder().iter().zip(dc.remainder()) {
            tail = c.mul_add(*x, tail);
        }
        *fk = acc.iter().sum::<f64>() + tail - t[k];
    }
}

/// `d_j(s_j)`, the status and `phi`'s `psi` sum and the support `sum q_j g(s_j)`.
#[inline(always)]
fn clamp_all(
    head: &Head,
    len: usize,
    excl: Option<usize>,
    s: &[f64],
    d: &mut [f64],
    st: &mut [i8],
) -> (f64, f64) {
    let mut psi = 0.0;
    let mut support = 0.0;
    for r in 0..len {
        let (qj, kqj, sj) = (head.q[r], head.kq[r], s[r]);
        let u = qj * sj;
        let (dj, sr) = if u <= -qj {
            psi += -qj * sj - 0.5 * qj;
            support += -qj * sj;
            (-qj, -1)
        } else if u >= kqj {
            psi += kqj * sj - 0.5 * kqj * kqj / qj;
            support += kqj * sj;
            (kqj, 1)
        } else {
            psi += 0.5 * u * sj;
            support += if sj > 0.0 { kqj * sj } else { -qj * sj };
            (u, 0)
        };
        d[r] = dj;
        st[r] = sr;
    }
    if let Some(e) = excl {
        let (qj, kqj, sj) = (head.q[e], head.kq[e], s[e]);
        let u = qj * sj;
        psi -= if u <= -qj {
            -qj * sj - 0.5 * qj
        } else if u >= kqj {
            kqj * sj - 0.5 * kqj * kqj / qj
        } else {
            0.5 * u * sj
        };
        support -= if sj > 0.0 { kqj * sj } else { -qj * sj };
        d[e] = 0.0;
        st[e] = 2;
    }
    (psi, support)
}

/// `phi`'s `psi` sum at `s + alpha sd` (no stores).
#[inline(always)]
fn psi_at(head: &Head, len: usize, excl: Option<usize>, s: &[f64], sd: &[f64], alpha: f64) -> f64 {
    let mut psi = 0.0;
    for r in 0..len {
        let (qj, kqj) = (head.q[r], head.kq[r]);
        let sj = alpha.mul_add(sd[r], s[r]);
        let u = qj * sj;
        let v = if u <= -qj {
            -qj * sj - 0.5 * qj
        } else if u >= kqj {
            kqj * sj - 0.5 * kqj * kqj / qj
        } else {
            0.5 * u * sj
        };
        psi += if Some(r) == excl { 0.0 } else { v };
    }
    psi
}

#[inline(always)]
fn newton_body(head: &Head, which: usize, i: u32, qi: f64, ai: &[f64], full_j: bool) -> Solve {
    let n = head.n;
    let h = HS[which];
    let total = head.tokens.len();
    let pos_i = head.tokens[..(h + 1).min(total)]
        .iter()
        .position(|&t| t == i);
    // Rows 0..len, minus `excl` (token i itself).
    let len = (h + usize::from(pos_i.is_some_and(|p| p < h))).min(total);
    let excl = pos_i.filter(|&p| p < len);
    let t: Vec<f64> = ai.iter().map(|&a| qi * a).collect();
    let tnorm = norm_inf(&t).max(1e-300);
    // J at y = 0 (every absorber free): the precomputed prefix, corrected for `i`.
    let mut jcur = head.j0[which].clone();
    if let Some(p) = excl {
        head.add_outer(&mut jcur, p, -1.0);
        if h < total {
            head.add_outer(&mut jcur, h, 1.0);
        }
    }
    let mut s = vec![0.0; len];
    let mut sd = vec![0.0; len];
    let mut d = vec![0.0; len];
    let mut st = vec![0i8; len];
    let mut jst = vec![0i8; len];
    if let Some(e) = excl {
        jst[e] = 2;
    }
    let mut f = vec![0.0; n];
    let mut y = vec![0.0; n];
    let (mut psi, mut support) = clamp_all(head, len, excl, &s, &mut d, &mut st);
    times_d(head, len, &d, &t, &mut f);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, z)| x * z).sum::<f64>();
    let mut phi = dot(&y, &t) - psi;
    let mut jm = vec![0.0; n * n];
    let mut dy = vec![0.0; n];
    let mut verdict = Verdict::Stalled;
    let mut iters = 0;
    let mut passes = 1;
    let mut settled = false;
    let mut fscale_hint = 0.0f64;
    while iters < MAX_ITERS {
        let fnorm = norm_inf(&f);
        if fnorm <= (1e-15 * tnorm).max(4.0 * f64::EPSILON * fscale_hint)
            || (fnorm <= rtol() * tnorm && settled)
        {
            verdict = Verdict::Converged;
            break;
        }
        if dot(&y, &t) > support * (1.0 + 1e-12) + 1e-300 {
            verdict = Verdict::Infeasible;
            break;
        }
        iters += 1;
        if full_j {
            jcur.iter_mut().for_each(|v| *v = 0.0);
            for (r, _) in st[..len].iter().enumerate().filter(|(_, &s)| s == 0) {
                head.add_outer(&mut jcur, r, 1.0);
            }
        } else {
            for r in 0..len {
                let (was, now) = (jst[r], st[r]);
                if was != now {
                    if was == 0 {
                        head.add_outer(&mut jcur, r, -1.0);
                    } else if now == 0 {
                        head.add_outer(&mut jcur, r, 1.0);
                    }
                    jst[r] = now;
                }
            }
        }
        let trace: f64 = (0..n).map(|k| jcur[k * n + k]).sum();
        let mut solved = false;
        for ridge in [1e-12, 1e-8] {
            jm.copy_from_slice(&jcur);
            for k in 0..n {
                jm[k * n + k] += ridge * trace.abs() / n as f64 + 1e-300;
            }
            dy.iter_mut().zip(&f).for_each(|(v, &fk)| *v = -fk);
            if cholesky_solve(&mut jm, n, &mut dy) {
                solved = true;
                break;
            }
        }
        if !solved {
            break;
        }
        times_y(head, len, &dy, &mut sd);
        passes += 1;
        // The direction itself may separate t from the zonotope over H (a recession direction).
        let mut dsupport = 0.0;
        for (r, &v) in sd[..len].iter().enumerate() {
            if Some(r) != excl {
                dsupport += if v > 0.0 {
                    head.kq[r] * v
                } else {
                    -head.q[r] * v
                };
            }
        }
        let tdy = dot(&dy, &t);
        if tdy > dsupport * (1.0 + 1e-12) + 1e-300 {
            y.copy_from_slice(&dy);
            verdict = Verdict::Infeasible;
            break;
        }
        let slope = -dot(&f, &dy);
        let ty = dot(&y, &t);
        let mut alpha = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            let phi_new = ty + alpha * tdy - psi_at(head, len, excl, &s, &sd, alpha);
            if phi_new >= phi + 1e-4 * alpha * slope || (alpha == 1.0 && fnorm <= 1e-6 * tnorm) {
                accepted = true;
                break;
            }
            alpha *= 0.5;
        }
        if !accepted {
            break;
        }
        for k in 0..n {
            y[k] = alpha.mul_add(dy[k], y[k]);
        }
        for r in 0..len {
            s[r] = alpha.mul_add(sd[r], s[r]);
        }
        let old = st.clone();
        (psi, support) = clamp_all(head, len, excl, &s, &mut d, &mut st);
        times_d(head, len, &d, &t, &mut f);
        passes += 1;
        phi = dot(&y, &t) - psi;
        settled = old == st;
        fscale_hint = d.iter().map(|v| v.abs()).sum::<f64>();
        if tracing() {
            eprintln!(
                "      it {iters}: |F|/|t| {:.3e} alpha {alpha:.3e} phi {phi:.6e} settled {settled} |y| {:.3e}",
                norm_inf(&f) / tnorm,
                norm_inf(&y)
            );
        }
        if !y.iter().all(|v| v.is_finite()) || norm_inf(&y) > 1e200 {
            break;
        }
        // Heuristic divergence test (only costs misses: a reject is verified anyway): on
        // problems infeasible over H, |F| grows with |y| instead of falling.
        if iters >= 3 && norm_inf(&f) > diverge() * tnorm {
            verdict = Verdict::Diverged;
            break;
        }
    }
    let rows: Vec<usize> = (0..len).filter(|&r| Some(r) != excl).collect();
    let d = rows.iter().map(|&r| d[r]).collect();
    Solve {
        verdict,
        iters,
        passes,
        rows,
        d,
        y,
    }
}

fn certificate(head: &Head, solve: &Solve, i: u32, qi: f64) -> RejectCertificate {
    let mut changes: Vec<(u32, f64)> = solve
        .rows
        .iter()
        .zip(&solve.d)
        .filter(|(_, &d)| d != 0.0)
        .map(|(&r, &d)| (head.tokens[r], d))
        .collect();
    changes.push((i, -qi));
    changes.sort_unstable_by_key(|c| c.0);
    RejectCertificate { changes }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let picks: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(4);
    let full_j = std::env::var_os("NEWTON_FULL_J").is_some();
    let max_band: usize = std::env::var("NEWTON_MAX_BAND")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX);
    let home = std::env::var_os("HOME").map(PathBuf::from).expect("HOME");
    let dir = home.join(".cache/basis-aware/steps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("steps dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("prompt"))
        })
        .collect();
    files.sort();
    let mut all = Vec::new();
    for file in &files {
        let instance = Instance::load(file).expect("instance");
        for k in 0..instance.steps {
            let logits = instance.step_logits(k).expect("step").to_vec();
            let q = basis_aware::softmax(&logits).expect("finite");
            let entropy: f64 = q.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
            all.push((entropy, logits));
        }
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (basis, _) = Basis::load(dir.join("svd20.safetensors")).expect("svd basis");
    let only: Option<usize> = std::env::var("NEWTON_ONLY")
        .ok()
        .and_then(|v| v.parse().ok());
    eprintln!(
        "{} steps; J {}",
        all.len(),
        if full_j { "rebuilt" } else { "updated" }
    );
    for p in 0..picks {
        let at = if picks == 1 {
            0
        } else {
            p * (all.len() - 1) / (picks - 1)
        };
        let at = only.unwrap_or(at);
        let (entropy, logits) = &all[at];
        let rule = Rule::Eta(9e-4);
        let step = Step::new(logits, &rule).expect("step");
        let mut band = BandLp::default();
        let start = Instant::now();
        let mask = {
            let mut pipeline: Vec<Box<dyn Reduction + '_>> = vec![
                Box::new(BulkRejects::default()),
                Box::new(&mut band),
                Box::new(HeadKeeps),
                Box::new(TailChunks),
                Box::new(EachToken),
            ];
            truncate_with(
                logits,
                &basis,
                &rule,
                Some(&mut SimplexBackend::default()),
                &mut pipeline,
            )
            .expect("mask")
        };
        let mask_ms = start.elapsed().as_secs_f64() * 1e3;
        let below = step.below_threshold();
        let band_tokens: Vec<u32> = below
            .iter()
            .copied()
            .filter(|&t| {
                !matches!(
                    mask.outcomes[t as usize],
                    Decision::BulkReject | Decision::ZeroMassReject
                )
            })
            .collect();
        let rejects: Vec<u32> = band_tokens
            .iter()
            .copied()
            .filter(|&t| mask.outcomes[t as usize].is_reject())
            .take(max_band)
            .collect();
        let keeps: Vec<u32> = band_tokens
            .iter()
            .copied()
            .filter(|&t| mask.outcomes[t as usize].is_keep())
            .take(max_band)
            .collect();
        let undecided = band_tokens
            .iter()
            .filter(|&&t| mask.outcomes[t as usize].is_undecided())
            .count();
        let t0 = Instant::now();
        let head = Head::new(&step, &basis);
        let head_ms = t0.elapsed().as_secs_f64() * 1e3;
        eprintln!(
            "step {at} H {entropy:.2} tau {:.3e}: below tau {} band {} (pipeline: reject {} keep {} undecided {}) | mask {:.1} ms | head setup {:.2} ms",
            step.tau(),
            below.len(),
            band_tokens.len(),
            rejects.len(),
            keeps.len(),
            undecided,
            mask_ms,
            head_ms
        );
        let q = step.q();
        // Rejects.
        let mut at_h = [0usize; 3];
        let mut verdicts = [[0usize; 4]; 3]; // [h][Converged, Infeasible, Diverged, Stalled]
        let mut verify_fail = [0usize; 3];
        let mut gave_up = 0usize;
        let mut zeroed_keeps = 0usize;
        let mut covered = std::collections::HashSet::new();
        let mut already = 0usize;
        let mut total_ms = 0.0f64;
        let (mut it_first, mut it_ok, mut t_ex, mut t_in, mut t_first) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut free_frac = vec![];
        let mut pass_first = vec![];
        let mut t_verify = vec![];
        for (ri, &i) in rejects.iter().enumerate() {
            if tracing() {
                if ri >= 3 {
                    break;
                }
                eprintln!("    trace reject {i} q {:.3e}", q[i as usize]);
            }
            if covered.contains(&i) {
                already += 1;
            }
            let qi = q[i as usize];
            let ai = column_of(&basis, i);
            let start = Instant::now();
            let mut solve_time = 0.0;
            let mut ok = false;
            for w in 0..HS.len() {
                let s0 = Instant::now();
                let solve = newton(&head, w, i, qi, &ai, full_j);
                let cert = certificate(&head, &solve, i, qi);
                let se = s0.elapsed().as_secs_f64();
                solve_time += se;
                if w == 0 {
                    it_first.push(solve.iters as f64);
                    pass_first.push(solve.passes as f64);
                    t_first.push(se * 1e3);
                }
                verdicts[w][match solve.verdict {
                    Verdict::Converged => 0,
                    Verdict::Infeasible => 1,
                    Verdict::Diverged => 2,
                    Verdict::Stalled => 3,
                }] += 1;
                if solve.verdict != Verdict::Converged {
                    continue;
                }
                free_frac.push(
                    solve
                        .d
                        .iter()
                        .zip(&solve.rows)
                        .filter(|(&d, &r)| d != -head.q[r] && d != head.kq[r])
                        .count() as f64
                        / solve.rows.len() as f64,
                );
                let v0 = Instant::now();
                let zeroed = rejected_by(&step, &basis, &cert);
                t_verify.push(v0.elapsed().as_secs_f64() * 1e3);
                let verified = zeroed.as_ref().is_ok_and(|z| z.contains(&i));
                if let Ok(z) = &zeroed {
                    if verified {
                        covered.extend(z.iter().copied());
                    }
                    zeroed_keeps += z
                        .iter()
                        .filter(|&&t| mask.outcomes[t as usize].is_keep())
                        .count();
                }
                if !verified {
                    verify_fail[w] += 1;
                    continue;
                }
                at_h[w] += 1;
                it_ok.push(solve.iters as f64);
                t_ex.push(solve_time * 1e3);
                ok = true;
                break;
            }
            total_ms += start.elapsed().as_secs_f64() * 1e3;
            if ok {
                t_in.push(start.elapsed().as_secs_f64() * 1e3);
            } else {
                gave_up += 1;
            }
        }
        eprintln!(
            "  rejects {}: verified at h=250 {} / h=1000 {} / h=4000 {} | fallback LP {} | verify failures {:?} | pipeline keeps zeroed by a verified point (bug) {}",
            rejects.len(),
            at_h[0],
            at_h[1],
            at_h[2],
            gave_up,
            verify_fail,
            zeroed_keeps
        );
        eprintln!(
            "    verdicts [conv, infeas(sep), diverged, stall] per h: {:?} | free absorbers at the point: median {:.2} | band rejects already zeroed by an earlier verified point (solve skippable) {}",
            verdicts,
            pct(&mut free_frac, 0.5),
            already
        );
        eprintln!(
            "    iters (h=250 tries) median {} p90 {} passes median {} p90 {} | iters at success median {} p90 {}",
            pct(&mut it_first, 0.5),
            pct(&mut it_first, 0.9),
            pct(&mut pass_first, 0.5),
            pct(&mut pass_first, 0.9),
            pct(&mut it_ok, 0.5),
            pct(&mut it_ok, 0.9)
        );
        eprintln!(
            "    mean ms over all band rejects (every try, verify, give-ups) {:.4} | verify ms median {:.4} p90 {:.4} | ms/token (h=250 solve) median {:.4} p90 {:.4} | successes, all tries, without verify median {:.4} p90 {:.4}, with verify median {:.4} p90 {:.4}",
            total_ms / rejects.len().max(1) as f64,
            pct(&mut t_verify, 0.5),
            pct(&mut t_verify, 0.9),
            pct(&mut t_first, 0.5),
            pct(&mut t_first, 0.9),
            pct(&mut t_ex, 0.5),
            pct(&mut t_ex, 0.9),
            pct(&mut t_in, 0.5),
            pct(&mut t_in, 0.9)
        );
        // Keeps: how fast Newton finds "not rejectable over H".
        let mut kverdict = [0usize; 4];
        let mut bugs = 0usize;
        let mut full_keeps = 0usize;
        let (mut kit, mut kt, mut kpass) = (vec![], vec![], vec![]);
        for &i in &keeps {
            let qi = q[i as usize];
            let ai = column_of(&basis, i);
            let s0 = Instant::now();
            let solve = newton(&head, 0, i, qi, &ai, full_j);
            let se = s0.elapsed().as_secs_f64();
            kit.push(solve.iters as f64);
            kpass.push(solve.passes as f64);
            kt.push(se * 1e3);
            match solve.verdict {
                Verdict::Converged => {
                    kverdict[0] += 1;
                    let cert = certificate(&head, &solve, i, qi);
                    if rejected_by(&step, &basis, &cert).is_ok_and(|z| z.contains(&i)) {
                        bugs += 1;
                    }
                }
                Verdict::Infeasible => {
                    kverdict[1] += 1;
                    let cert = KeepCertificate { y: solve.y.clone() };
                    if kept_by(&step, &basis, &cert).is_ok_and(|k| k.contains(&i)) {
                        full_keeps += 1;
                    }
                }
                Verdict::Diverged => kverdict[2] += 1,
                Verdict::Stalled => kverdict[3] += 1,
            }
        }
        eprintln!(
            "  keeps {} (h=250): [conv, infeas(sep), diverged, stall] {:?} | VERIFIED REJECTS OF KEEPS (bug) {} | separating y is a full-vocab keep cert {}",
            keeps.len(),
            kverdict,
            bugs,
            full_keeps
        );
        eprintln!(
            "    iters median {} p90 {} passes median {} p90 {} | ms/token mean {:.4} median {:.4} p90 {:.4}",
            pct(&mut kit, 0.5),
            pct(&mut kit, 0.9),
            pct(&mut kpass, 0.5),
            pct(&mut kpass, 0.9),
            kt.iter().sum::<f64>() / kt.len().max(1) as f64,
            pct(&mut kt, 0.5),
            pct(&mut kt, 0.9)
        );
        if only.is_some() {
            break;
        }
    }
}

/// Token `i`'s column `a_i = (b_i, 1)` in f64.
fn column_of(basis: &Basis, i: u32) -> Vec<f64> {
    let mut a: Vec<f64> = basis
        .row(i as usize)
        .expect("a token of the vocabulary")
        .iter()
        .map(|&b| f64::from(b))
        .collect();
    a.push(1.0);
    a
}
