//! Fused training ops with their own backward pass: RMSNorm, rotary embeddings (fused with the
//! split into heads), scaled masked softmax and SwiGLU.
//!
//! Written as a chain of candle ops, each of these is five to eight graph nodes: every node
//! allocates its output, keeps its inputs alive until the backward pass ends, and costs an
//! allocation, a zero fill and an add again in the backward pass. Fused, each is one node that
//! keeps only what its backward needs, walks its rows in parallel, and computes its gradient in
//! one pass. On the CPU (f32, and f64 for the gradient checks) the fused kernels run; elsewhere
//! (CUDA, half precision) the composite formulas do. The unit tests check that both give the
//! same values and gradients, and the model's finite-difference test (`tests/it/model.rs`, in
//! f64) checks the fused kernels end to end. [`with_composite`] forces the composite formulas,
//! for comparisons.
//!
//! candle-nn's own `rms_norm`, `softmax_last_dim` and `rope*` cannot be used for training: they
//! have no backward pass and silently stop the gradient.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, D};
use num_traits::Float;
use rayon::prelude::*;

type Result<T> = candle_core::Result<T>;

thread_local! {
    static COMPOSITE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the composite formulas instead of the fused kernels on this thread (the
/// reference the fused kernels are compared with).
pub fn with_composite<R>(f: impl FnOnce() -> R) -> R {
    let before = COMPOSITE.with(|c| c.replace(true));
    let out = f();
    COMPOSITE.with(|c| c.set(before));
    out
}

fn fused_here(x: &Tensor) -> bool {
    x.device().is_cpu()
        && matches!(x.dtype(), DType::F32 | DType::F64)
        && !COMPOSITE.with(Cell::get)
}

/// The element types the fused kernels are written for.
trait Real: Float + Send + Sync + std::iter::Sum + 'static {
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
    fn storage(v: Vec<Self>) -> CpuStorage;
    /// A constant (an epsilon, a scale) in this type.
    fn of(x: f64) -> Self {
        num_traits::cast(x).unwrap_or_else(Self::nan)
    }
    /// `e^x` as the kernels compute it: [`exp_f32`] for f32 (inlined, vectorisable), the
    /// library's for f64 (the finite-difference checks).
    fn exp_k(self) -> Self;
}

macro_rules! real {
    ($t:ty, $variant:ident, $exp:expr) => {
        impl Real for $t {
            fn slice(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn storage(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(v)
            }
            #[inline(always)]
            fn exp_k(self) -> Self {
                $exp(self)
            }
        }
    };
}

real!(f32, F32, exp_f32);
real!(f64, F64, f64::exp);

/// `e^x` in f32 without a library call, so that loops over rows vectorise: Cody-Waite range
/// reduction `x = n ln 2 + r` and Cephes' degree-6 polynomial for `e^r` (relative error
/// within 3 ulp on the normal range, checked against `f64::exp` by a test), `2^n` put into the
/// exponent bits. `x < -87.3` (a masked score, `-inf`) gives 0, `x > 88.7` gives `inf`, NaN
/// stays NaN (the training loop's non-finite check relies on it).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 · 2^23 rounds to the nearest integer with plain SSE2.
    const ROUND: f32 = 12_582_912.0;
    let c = x.clamp(-87.0, 88.0);
    let n = (c * LOG2E + ROUND) - ROUND;
    let r = c - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let er = p * r * r + r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    let y = er * scale;
    if x < -87.3 {
        0.0
    } else if x > 88.7 {
        f32::INFINITY
    } else if x.is_nan() {
        x
    } else {
        y
    }
}

fn vals<'a, T: Real>(op: &str, what: &str, s: &'a CpuStorage, l: &Layout) -> Result<&'a [T]> {
    match (T::slice(s), l.contiguous_offsets()) {
        (Some(v), Some((a, b))) => Ok(&v[a..b]),
        _ => bail!("{op}: {what} must be a contiguous tensor of the input's float type"),
    }
}

/// Calls the kernel `$k::<f32>` or `$k::<f64>` by the dtype of the first storage.
macro_rules! by_dtype {
    ($op:expr, $first:expr, $k:ident($($arg:expr),*)) => {
        match $first {
            CpuStorage::F32(_) => $k::<f32>($($arg),*),
            CpuStorage::F64(_) => $k::<f64>($($arg),*),
            _ => bail!("{}: f32 or f64 tensors only", $op),
        }
    };
}

/// Rows per parallel task: enough tasks to balance the threads, at least ~16k floats each so
/// that small tensors do not pay for the scheduling.
fn rows_per_task(rows: usize, row_len: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let min_rows = (16 * 1024 / row_len.max(1)).max(1);
    rows.div_ceil(threads * 4).max(min_rows).max(1)
}

/// `impl candle_core::$trait for $ty` (`CustomOp1`, `CustomOp2` or `CustomOp3`) with a CPU
/// forward only, plus the trailing items (a `bwd`): the trait's boilerplate written once. The
/// closure-like head names `self` and each argument's storage and layout.
macro_rules! cpu_op {
    ($trait:ident, $ty:ty, $name:expr, |$this:ident $(, $s:ident, $l:ident)+| $fwd:expr $(, $item:item)* $(,)?) => {
        impl candle_core::$trait for $ty {
            fn name(&$this) -> &'static str {
                $name
            }

            fn cpu_fwd(
                &$this,
                $($s: &candle_core::CpuStorage, $l: &candle_core::Layout,)+
            ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
                $fwd
            }

            $($item)*
        }
    };
}

pub(crate) use cpu_op;

/// Σ a·b in eight independent lanes (vectorisable; a plain fold is not, floats being
/// non-associative).
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: T = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] = acc[i] + x[i] * y[i];
        }
    }
    acc.iter().copied().sum::<T>() + tail
}

/// `row[i] = e^(row[i] - shift)`, returning the sum (in eight lanes, so that it vectorises).
fn exp_shifted_in_place<T: Real>(row: &mut [T], shift: T) -> T {
    let mut acc = [T::zero(); 8];
    let mut chunks = row.chunks_exact_mut(8);
    for c in &mut chunks {
        for i in 0..8 {
            c[i] = (c[i] - shift).exp_k();
            acc[i] = acc[i] + c[i];
        }
    }
    let mut tail = T::zero();
    for x in chunks.into_remainder() {
        *x = (*x - shift).exp_k();
        tail = tail + *x;
    }
    acc.iter().copied().sum::<T>() + tail
}

/// `Σ e^(row[i] - shift)`, in eight lanes.
pub(crate) fn sum_exp_shifted(row: &[f32], shift: f32) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = row.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().map(|&x| exp_f32(x - shift)).sum();
    for c in chunks {
        for i in 0..8 {
            acc[i] += exp_f32(c[i] - shift);
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn sigmoid<T: Real>(x: T) -> T {
    T::one() / (T::one() + (-x).exp_k())
}

// ---------------------------------------------------------------------------------------------
// RMSNorm

/// `x / sqrt(mean(x²) + eps) * weight` over the last dimension; differentiable in both.
///
/// # Errors
/// Shape mismatch between `x`'s last dimension and `weight`.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    if fused_here(x) {
        return x.contiguous()?.apply_op2(&weight.contiguous()?, RmsNorm { eps });
    }
    rms_norm_composite(x, weight, eps)
}

/// [`rms_norm`] from differentiable candle ops (every device and dtype).
///
/// # Errors
/// Shape mismatch.
pub fn rms_norm_composite(x: &Tensor, weight: &Tensor, eps: f64) -> Result<Tensor> {
    let inv = (x.sqr()?.mean_keepdim(D::Minus1)? + eps)?.sqrt()?.recip()?;
    x.broadcast_mul(&inv)?.broadcast_mul(weight)
}

fn inv_rms<T: Real>(x: &[T], eps: T) -> T {
    T::one() / (dot(x, x) / T::of(x.len() as f64) + eps).sqrt()
}

struct RmsNorm {
    eps: f64,
}

fn rms_norm_args<'a, T: Real>(
    op: &str,
    s1: &'a CpuStorage,
    l1: &Layout,
    s2: &'a CpuStorage,
    l2: &Layout,
) -> Result<(&'a [T], &'a [T], usize)> {
    let (x, w) = (vals::<T>(op, "input", s1, l1)?, vals::<T>(op, "weight", s2, l2)?);
    let h = w.len();
    if l1.dims().last() != Some(&h) || h == 0 {
        bail!("{op}: input {:?} does not end in the weight's size {h}", l1.dims())
    }
    Ok((x, w, h))
}

fn rms_norm_fwd<T: Real>(
    op: &str,
    eps: f64,
    s1: &CpuStorage,
    l1: &Layout,
    s2: &CpuStorage,
    l2: &Layout,
) -> Result<(CpuStorage, Shape)> {
    let (x, w, h) = rms_norm_args::<T>(op, s1, l1, s2, l2)?;
    let eps = T::of(eps);
    let chunk = rows_per_task(x.len() / h, h) * h;
    let mut out = vec![T::zero(); x.len()];
    out.par_chunks_mut(chunk).zip(x.par_chunks(chunk)).for_each(|(out, x)| {
        for (o, x) in out.chunks_exact_mut(h).zip(x.chunks_exact(h)) {
            let r = inv_rms(x, eps);
            for ((o, &x), &w) in o.iter_mut().zip(x).zip(w) {
                *o = x * r * w;
            }
        }
    });
    Ok((T::storage(out), l1.shape().clone()))
}

cpu_op!(
    CustomOp2,
    RmsNorm,
    "fused-rms-norm",
    |self, s1, l1, s2, l2| by_dtype!(
        self.name(),
        s1,
        rms_norm_fwd(self.name(), self.eps, s1, l1, s2, l2)
    ),
    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let h = weight.elem_count();
        let n = x.elem_count() / h;
        let both =
            x.apply_op3_no_bwd(weight, &grad.contiguous()?, &RmsNormGrad { eps: self.eps })?;
        let dx = both.narrow(0, 0, n * h)?.reshape(x.shape())?;
        let dw = both.narrow(0, n * h, h)?.reshape(weight.shape())?;
        Ok((Some(dx), Some(dw)))
    }
);

/// `(x, weight, g)` → `[dx…, dweight…]` flat: `dx = r·(g·w − x·r²·Σ(g·w·x)/h)`,
/// `dw = Σ_rows g·x·r` with `r = 1/rms(x)`.
struct RmsNormGrad {
    eps: f64,
}

fn rms_norm_bwd<T: Real>(
    op: &str,
    eps: f64,
    (s1, l1): (&CpuStorage, &Layout),
    (s2, l2): (&CpuStorage, &Layout),
    (s3, l3): (&CpuStorage, &Layout),
) -> Result<(CpuStorage, Shape)> {
    let (x, w, h) = rms_norm_args::<T>(op, s1, l1, s2, l2)?;
    let g = vals::<T>(op, "gradient", s3, l3)?;
    if g.len() != x.len() {
        bail!("{op}: gradient of {} values for an input of {}", g.len(), x.len())
    }
    let eps = T::of(eps);
    let inv_h = T::of(1.0 / h as f64);
    let mut out = vec![T::zero(); x.len() + h];
    let (dx_all, dw) = out.split_at_mut(x.len());
    let chunk = rows_per_task(x.len() / h, h) * h;
    let partial: Vec<Vec<T>> = dx_all
        .par_chunks_mut(chunk)
        .zip(x.par_chunks(chunk).zip(g.par_chunks(chunk)))
        .map(|(dx, (x, g))| {
            let mut dw = vec![T::zero(); h];
            let mut gw = vec![T::zero(); h];
            let rows = dx.chunks_exact_mut(h).zip(x.chunks_exact(h)).zip(g.chunks_exact(h));
            for ((dx, x), g) in rows {
                let r = inv_rms(x, eps);
                for ((gw, &g), &w) in gw.iter_mut().zip(g).zip(w) {
                    *gw = g * w;
                }
                let c = dot(&gw, x) * r * r * inv_h;
                for i in 0..h {
                    dx[i] = r * (gw[i] - x[i] * c);
                    dw[i] = dw[i] + g[i] * x[i] * r;
                }
            }
            dw
        })
        .collect();
    for p in partial {
        for (d, p) in dw.iter_mut().zip(p) {
            *d = *d + p;
        }
    }
    Ok((T::storage(out), Shape::from(x.len() + h)))
}

cpu_op!(CustomOp3, RmsNormGrad, "fused-rms-norm-grad", |self, s1, l1, s2, l2, s3, l3| {
    let op = self.name();
    by_dtype!(op, s1, rms_norm_bwd(op, self.eps, (s1, l1), (s2, l2), (s3, l3)))
});

// ---------------------------------------------------------------------------------------------
// Rotary embeddings

/// Splits `x` `(b, t, heads·head_dim)` (a projection's output) into heads and applies rotary
/// embeddings in Hugging Face's "rotate half" convention: the result is `(b, heads, t,
/// head_dim)`. `cos` and `sin` are `(b or 1, 1, t, head_dim)`. Differentiable in `x`.
///
/// # Errors
/// Shape mismatch.
pub fn rope_heads(x: &Tensor, cos: &Tensor, sin: &Tensor, heads: usize) -> Result<Tensor> {
    if fused_here(x) {
        let x = x.contiguous()?;
        return x.apply_op3(&cos.contiguous()?, &sin.contiguous()?, Rope { heads, grad: false });
    }
    rope_heads_composite(x, cos, sin, heads)
}

/// [`rope_heads`] from differentiable candle ops.
///
/// # Errors
/// Shape mismatch.
pub fn rope_heads_composite(
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    heads: usize,
) -> Result<Tensor> {
    let (b, t, width) = x.dims3()?;
    let hd = width / heads;
    let x = x.reshape((b, t, heads, hd))?.transpose(1, 2)?.contiguous()?;
    let x1 = x.narrow(D::Minus1, 0, hd / 2)?;
    let x2 = x.narrow(D::Minus1, hd / 2, hd / 2)?;
    let rotated = Tensor::cat(&[&x2.neg()?, &x1], D::Minus1)?;
    x.broadcast_mul(cos)? + rotated.broadcast_mul(sin)?
}

/// Forward (`grad: false`): `(b, t, h·d)` → `(b, h, t, d)`. Backward (`grad: true`): the
/// gradient `(b, h, t, d)` → `(b, t, h·d)`, the transposed rotation.
struct Rope {
    heads: usize,
    grad: bool,
}

fn rope_kernel<T: Real>(
    op: &Rope,
    (s1, l1): (&CpuStorage, &Layout),
    (s2, l2): (&CpuStorage, &Layout),
    (s3, l3): (&CpuStorage, &Layout),
) -> Result<(CpuStorage, Shape)> {
    let name = op.name();
    let x = vals::<T>(name, "input", s1, l1)?;
    let (cos, sin) = (vals::<T>(name, "cos", s2, l2)?, vals::<T>(name, "sin", s3, l3)?);
    let (cb, _, ct, d) = l2.shape().dims4()?;
    let nh = op.heads;
    let (b, t) = if op.grad {
        let (b, h, t, dd) = l1.shape().dims4()?;
        if h != nh || dd != d {
            bail!("{name}: gradient {:?} for {nh} heads of {d}", l1.dims())
        }
        (b, t)
    } else {
        let (b, t, width) = l1.shape().dims3()?;
        if width != nh * d {
            bail!("{name}: input width {width} is not {nh} heads of {d}")
        }
        (b, t)
    };
    if ct != t || (cb != 1 && cb != b) || sin.len() != cos.len() || d % 2 != 0 {
        bail!("{name}: tables {:?} for {b} sequences of {t} positions", l2.dims())
    }
    let half = d / 2;
    let table = |bi: usize, ti: usize| {
        let at = ((if cb == 1 { 0 } else { bi }) * t + ti) * d;
        (&cos[at..at + d], &sin[at..at + d])
    };
    let mut out = vec![T::zero(); x.len()];
    if op.grad {
        // out is dx (b, t, h·d); x is the gradient (b, h, t, d).
        out.par_chunks_mut(nh * d).enumerate().for_each(|(row, dx)| {
            let (bi, ti) = (row / t, row % t);
            let (c, s) = table(bi, ti);
            for (hi, dx) in dx.chunks_exact_mut(d).enumerate() {
                let g = &x[((bi * nh + hi) * t + ti) * d..][..d];
                for i in 0..half {
                    let j = i + half;
                    dx[i] = g[i] * c[i] + g[j] * s[j];
                    dx[j] = g[j] * c[j] - g[i] * s[i];
                }
            }
        });
        Ok((T::storage(out), Shape::from((b, t, nh * d))))
    } else {
        // out is (b, h, t, d); x is (b, t, h·d).
        out.par_chunks_mut(t * d).enumerate().for_each(|(block, out)| {
            let (bi, hi) = (block / nh, block % nh);
            for (ti, o) in out.chunks_exact_mut(d).enumerate() {
                let (c, s) = table(bi, ti);
                let v = &x[(bi * t + ti) * nh * d + hi * d..][..d];
                for i in 0..half {
                    let j = i + half;
                    o[i] = v[i] * c[i] - v[j] * s[i];
                    o[j] = v[j] * c[j] + v[i] * s[j];
                }
            }
        });
        Ok((T::storage(out), Shape::from((b, nh, t, d))))
    }
}

cpu_op!(
    CustomOp3,
    Rope,
    if self.grad { "fused-rope-grad" } else { "fused-rope" },
    |self, s1, l1, s2, l2, s3, l3| by_dtype!(
        self.name(),
        s1,
        rope_kernel(self, (s1, l1), (s2, l2), (s3, l3))
    ),
    fn bwd(
        &self,
        _x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let back = Rope { heads: self.heads, grad: true };
        let dx = grad.contiguous()?.apply_op3_no_bwd(cos, sin, &back)?;
        Ok((Some(dx), None, None))
    }
);

// ---------------------------------------------------------------------------------------------
// Scaled, masked softmax

/// `softmax(scores · scale + mask)` over the last dimension. `scores` is `(b, a, r, s)`: `a·r`
/// rows of `s` keys per sequence, row `k` of a sequence belonging to query position `k mod t`;
/// `mask` is additive, `(b or 1, t, s)` (grouped-query attention stacks the query heads that
/// share a key/value head along `r = heads_per_group·t`). Differentiable in `scores`.
///
/// # Errors
/// Shape mismatch.
pub fn masked_softmax(scores: &Tensor, mask: &Tensor, scale: f64) -> Result<Tensor> {
    if fused_here(scores) {
        let mask = mask.to_dtype(scores.dtype())?.contiguous()?;
        return scores.contiguous()?.apply_op2(&mask, MaskedSoftmax { scale });
    }
    masked_softmax_composite(scores, mask, scale)
}

/// [`masked_softmax`] from differentiable candle ops.
///
/// # Errors
/// Shape mismatch.
pub fn masked_softmax_composite(scores: &Tensor, mask: &Tensor, scale: f64) -> Result<Tensor> {
    let (b, a, r, s) = scores.dims4()?;
    let (m, t, _) = mask.dims3()?;
    let x = (scores * scale)?.reshape((b, a, r / t, t, s))?;
    let x = x.broadcast_add(&mask.reshape((m, 1, 1, t, s))?)?;
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    let sum = e.sum_keepdim(D::Minus1)?;
    e.broadcast_div(&sum)?.reshape((b, a, r, s))
}

struct MaskedSoftmax {
    scale: f64,
}

fn softmax_fwd<T: Real>(
    op: &str,
    scale: f64,
    (s1, l1): (&CpuStorage, &Layout),
    (s2, l2): (&CpuStorage, &Layout),
) -> Result<(CpuStorage, Shape)> {
    let (x, mask) = (vals::<T>(op, "scores", s1, l1)?, vals::<T>(op, "mask", s2, l2)?);
    let (b, a, r, s) = l1.shape().dims4()?;
    let (m, t, ms) = l2.shape().dims3()?;
    if ms != s || t == 0 || r % t != 0 || (m != 1 && m != b) {
        bail!("{op}: mask {:?} does not fit scores {:?}", l2.dims(), l1.dims())
    }
    let scale = T::of(scale);
    let per_seq = a * r;
    let chunk = rows_per_task(x.len() / s.max(1), s) * s;
    let mut out = vec![T::zero(); x.len()];
    out.par_chunks_mut(chunk).zip(x.par_chunks(chunk)).enumerate().for_each(|(c, (out, x))| {
        let first = c * chunk / s;
        for (k, (o, x)) in out.chunks_exact_mut(s).zip(x.chunks_exact(s)).enumerate() {
            let row = first + k;
            let (bi, ti) = (row / per_seq, row % per_seq % t);
            let mrow = &mask[((if m == 1 { 0 } else { bi }) * t + ti) * s..][..s];
            let mut max = T::neg_infinity();
            for ((o, &x), &mv) in o.iter_mut().zip(x).zip(mrow) {
                *o = x * scale + mv;
                max = max.max(*o);
            }
            let sum = exp_shifted_in_place(o, max);
            let inv = T::one() / sum;
            for o in o.iter_mut() {
                *o = *o * inv;
            }
        }
    });
    Ok((T::storage(out), l1.shape().clone()))
}

cpu_op!(
    CustomOp2,
    MaskedSoftmax,
    "fused-masked-softmax",
    |self, s1, l1, s2, l2| by_dtype!(
        self.name(),
        s1,
        softmax_fwd(self.name(), self.scale, (s1, l1), (s2, l2))
    ),
    fn bwd(
        &self,
        _scores: &Tensor,
        _mask: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let ds = res.apply_op2_no_bwd(&grad.contiguous()?, &SoftmaxGrad { scale: self.scale })?;
        Ok((Some(ds), None))
    }
);

/// `(p, g)` → `scale · p ⊙ (g − Σ g⊙p)` row by row.
struct SoftmaxGrad {
    scale: f64,
}

fn softmax_bwd<T: Real>(
    op: &str,
    scale: f64,
    (s1, l1): (&CpuStorage, &Layout),
    (s2, l2): (&CpuStorage, &Layout),
) -> Result<(CpuStorage, Shape)> {
    let (p, g) = (vals::<T>(op, "probabilities", s1, l1)?, vals::<T>(op, "gradient", s2, l2)?);
    let s = l1.dims().last().copied().unwrap_or(1).max(1);
    if p.len() != g.len() {
        bail!("{op}: gradient of {} values for {}", g.len(), p.len())
    }
    let scale = T::of(scale);
    let chunk = rows_per_task(p.len() / s, s) * s;
    let mut out = vec![T::zero(); p.len()];
    out.par_chunks_mut(chunk).zip(p.par_chunks(chunk).zip(g.par_chunks(chunk))).for_each(
        |(out, (p, g))| {
            let rows = out.chunks_exact_mut(s).zip(p.chunks_exact(s)).zip(g.chunks_exact(s));
            for ((o, p), g) in rows {
                let dotp = dot(p, g);
                for ((o, &p), &g) in o.iter_mut().zip(p).zip(g) {
                    *o = scale * p * (g - dotp);
                }
            }
        },
    );
    Ok((T::storage(out), l1.shape().clone()))
}

cpu_op!(CustomOp2, SoftmaxGrad, "fused-masked-softmax-grad", |self, s1, l1, s2, l2| by_dtype!(
    self.name(),
    s1,
    softmax_bwd(self.name(), self.scale, (s1, l1), (s2, l2))
));

// ---------------------------------------------------------------------------------------------
// SwiGLU

/// `silu(gate) · up`, differentiable in both.
///
/// # Errors
/// Shape mismatch.
pub fn swiglu(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    if fused_here(gate) {
        return gate.contiguous()?.apply_op2(&up.contiguous()?, SwiGlu);
    }
    swiglu_composite(gate, up)
}

/// [`swiglu`] from differentiable candle ops.
///
/// # Errors
/// Shape mismatch.
pub fn swiglu_composite(gate: &Tensor, up: &Tensor) -> Result<Tensor> {
    gate.silu()? * up
}

fn gate_up<'a, T: Real>(
    op: &str,
    (s1, l1): (&'a CpuStorage, &Layout),
    (s2, l2): (&'a CpuStorage, &Layout),
) -> Result<(&'a [T], &'a [T])> {
    let (a, b) = (vals::<T>(op, "gate", s1, l1)?, vals::<T>(op, "up", s2, l2)?);
    if l1.dims() != l2.dims() {
        bail!("{op}: gate {:?} and up {:?} differ", l1.dims(), l2.dims())
    }
    Ok((a, b))
}

struct SwiGlu;

fn swiglu_fwd<T: Real>(
    op: &str,
    a: (&CpuStorage, &Layout),
    b: (&CpuStorage, &Layout),
) -> Result<(CpuStorage, Shape)> {
    let (g, u) = gate_up::<T>(op, a, b)?;
    let chunk = rows_per_task(g.len(), 1);
    let mut out = vec![T::zero(); g.len()];
    out.par_chunks_mut(chunk).zip(g.par_chunks(chunk).zip(u.par_chunks(chunk))).for_each(
        |(out, (g, u))| {
            for ((o, &g), &u) in out.iter_mut().zip(g).zip(u) {
                *o = g * sigmoid(g) * u;
            }
        },
    );
    Ok((T::storage(out), a.1.shape().clone()))
}

cpu_op!(
    CustomOp2,
    SwiGlu,
    "fused-swiglu",
    |self, s1, l1, s2, l2| by_dtype!(self.name(), s1, swiglu_fwd(self.name(), (s1, l1), (s2, l2))),
    fn bwd(
        &self,
        gate: &Tensor,
        up: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let n = gate.elem_count();
        let both = gate.apply_op3_no_bwd(up, &grad.contiguous()?, &SwiGluGrad)?;
        let dg = both.narrow(0, 0, n)?.reshape(gate.shape())?;
        let du = both.narrow(0, n, n)?.reshape(up.shape())?;
        Ok((Some(dg), Some(du)))
    }
);

/// `(gate, up, g)` → `[dgate…, dup…]`: `dgate = g·up·σ(x)(1 + x(1 − σ(x)))`, `dup = g·silu(x)`.
struct SwiGluGrad;

fn swiglu_bwd<T: Real>(
    op: &str,
    a: (&CpuStorage, &Layout),
    b: (&CpuStorage, &Layout),
    (s3, l3): (&CpuStorage, &Layout),
) -> Result<(CpuStorage, Shape)> {
    let (x, u) = gate_up::<T>(op, a, b)?;
    let g = vals::<T>(op, "gradient", s3, l3)?;
    let n = x.len();
    if g.len() != n {
        bail!("{op}: gradient of {} values for {n}", g.len())
    }
    let mut out = vec![T::zero(); 2 * n];
    let (dg, du) = out.split_at_mut(n);
    let chunk = rows_per_task(n, 1);
    dg.par_chunks_mut(chunk)
        .zip(du.par_chunks_mut(chunk))
        .zip(x.par_chunks(chunk).zip(u.par_chunks(chunk)).zip(g.par_chunks(chunk)))
        .for_each(|((dg, du), ((x, u), g))| {
            for i in 0..x.len() {
                let s = sigmoid(x[i]);
                dg[i] = g[i] * u[i] * s * (T::one() + x[i] * (T::one() - s));
                du[i] = g[i] * x[i] * s;
            }
        });
    Ok((T::storage(out), Shape::from(2 * n)))
}

cpu_op!(CustomOp3, SwiGluGrad, "fused-swiglu-grad", |self, s1, l1, s2, l2, s3, l3| by_dtype!(
    self.name(),
    s1,
    swiglu_bwd(self.name(), (s1, l1), (s2, l2), (s3, l3))
));

// ---------------------------------------------------------------------------------------------
// Linear

/// Where a [`Linear`]'s weight gradient accumulates once captured (see
/// [`Linear::capture_weight_grad`]): `(out, in)` f32, in the weight's own layout.
#[derive(Debug, Default)]
pub struct GradSlot {
    enabled: AtomicBool,
    grad: Mutex<Option<Vec<f32>>>,
}

impl GradSlot {
    /// The accumulated gradient, leaving the slot empty (the next backward starts from zero).
    pub fn take(&self) -> Option<Vec<f32>> {
        self.grad.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }
}

/// A dense layer `x · weightᵀ + bias` with the Hugging Face `(out, in)` weight layout.
///
/// On the CPU its backward pass writes the weight gradient in the weight's own layout (candle's
/// matmul backward produces the transpose, which the gradient store then adds, strided, into a
/// zero-filled buffer). Once captured, the weight gradient bypasses the gradient store
/// altogether: each backward pass accumulates `gᵀ·x` straight into the [`GradSlot`] (a gemm
/// with `dst += …`), micro-batch after micro-batch, and the optimizer takes it from there.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
    slot: Arc<GradSlot>,
}

impl Linear {
    /// A layer over `weight` `(out, in)` and an optional `bias` `(out,)`.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Self {
        Self { weight, bias, slot: Arc::default() }
    }

    /// The weight `(out, in)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// From now on, backward passes through this layer accumulate the weight's gradient into
    /// the returned slot instead of the gradient store (CPU, f32; elsewhere the store still
    /// gets it). The caller must read the slot: [`GradSlot::take`].
    pub fn capture_weight_grad(&self) -> Arc<GradSlot> {
        self.slot.enabled.store(true, Ordering::Relaxed);
        Arc::clone(&self.slot)
    }

    /// `x` `(…, in)` → `(…, out)`.
    ///
    /// # Errors
    /// Shape mismatch.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = if fused_here(x) {
            let dims = x.dims().to_vec();
            let k = dims.last().copied().unwrap_or(1);
            let x2 = x.contiguous()?.reshape((x.elem_count() / k.max(1), k))?;
            let y =
                x2.apply_op2(&self.weight.contiguous()?, LinearOp { slot: self.slot.clone() })?;
            let mut out_dims = dims;
            if let Some(last) = out_dims.last_mut() {
                *last = self.weight.dim(0)?;
            }
            y.reshape(out_dims)?
        } else {
            candle_nn::Module::forward(&candle_nn::Linear::new(self.weight.clone(), None), x)?
        };
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// Loads a [`Linear`] from `vb`: `weight` `(out_dim, in_dim)` and, with `bias`, `bias`
/// `(out_dim,)` (Hugging Face names and layout).
///
/// # Errors
/// A tensor is missing or has the wrong shape.
pub fn linear(
    in_dim: usize,
    out_dim: usize,
    bias: bool,
    vb: candle_nn::VarBuilder,
) -> Result<Linear> {
    let weight = vb.get((out_dim, in_dim), "weight")?;
    let bias = if bias { Some(vb.get(out_dim, "bias")?) } else { None };
    Ok(Linear::new(weight, bias))
}

struct LinearOp {
    slot: Arc<GradSlot>,
}

fn threads() -> gemm::Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => gemm::Parallelism::None,
        n => gemm::Parallelism::Rayon(n),
    }
}

/// `x` `(n, k)` · `w` `(o, k)`ᵀ → `(n, o)`, both row-major.
fn linear_fwd<T: Real>(
    op: &str,
    (s1, l1): (&CpuStorage, &Layout),
    (s2, l2): (&CpuStorage, &Layout),
) -> Result<(CpuStorage, Shape)> {
    let (x, w) = (vals::<T>(op, "input", s1, l1)?, vals::<T>(op, "weight", s2, l2)?);
    let (n, k) = l1.shape().dims2()?;
    let (o, wk) = l2.shape().dims2()?;
    if wk != k {
        bail!("{op}: input {:?} against weight {:?}", l1.dims(), l2.dims())
    }
    let mut y = vec![T::zero(); n * o];
    if n > 0 && o > 0 {
        // SAFETY: the pointers cover n·k, o·k and n·o elements with the strides given
        // (row-major x and y; w read as its transpose: element (i, j) of wᵀ is w[j·k + i]).
        unsafe {
            gemm::gemm(
                n,
                o,
                k,
                y.as_mut_ptr(),
                1,
                o as isize,
                false,
                x.as_ptr(),
                1,
                k as isize,
                w.as_ptr(),
                k as isize,
                1,
                T::zero(),
                T::one(),
                false,
                false,
                false,
                threads(),
            );
        }
    }
    Ok((T::storage(y), Shape::from((n, o))))
}

cpu_op!(
    CustomOp2,
    LinearOp,
    "linear",
    |self, s1, l1, s2, l2| by_dtype!(self.name(), s1, linear_fwd(self.name(), (s1, l1), (s2, l2))),
    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let g = grad.contiguous()?;
        let dx = g.matmul(w)?;
        if self.slot.enabled.load(Ordering::Relaxed) && g.dtype() == DType::F32 {
            accumulate_weight_grad(&self.slot, &g, x)?;
            return Ok((Some(dx), None));
        }
        // gᵀ·x is (out, in), the weight's own layout: no transpose for the store to add.
        Ok((Some(dx), Some(g.t()?.matmul(x)?)))
    }
);

/// `slot += gᵀ · x` for `g` `(n, o)` and `x` `(n, k)`, f32, contiguous.
fn accumulate_weight_grad(slot: &GradSlot, g: &Tensor, x: &Tensor) -> Result<()> {
    let (n, o) = g.dims2()?;
    let k = x.dim(1)?;
    let x = x.contiguous()?;
    let (gs, gl) = g.storage_and_layout();
    let (xs, xl) = x.storage_and_layout();
    let (candle_core::Storage::Cpu(gs), candle_core::Storage::Cpu(xs)) = (&*gs, &*xs) else {
        bail!("linear: captured weight gradients need CPU tensors")
    };
    let gv = vals::<f32>("linear", "gradient", gs, gl)?;
    let xv = vals::<f32>("linear", "input", xs, xl)?;
    let mut guard = slot.grad.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let read_dst = guard.is_some();
    let dst = guard.get_or_insert_with(|| vec![0f32; o * k]);
    if dst.len() != o * k {
        bail!("linear: gradient slot of {} values for a ({o}, {k}) weight", dst.len())
    }
    // SAFETY: dst is o·k row-major; gᵀ element (i, r) is g[r·o + i]; x element (r, j) is
    // x[r·k + j]; every index stays inside the slices checked above.
    unsafe {
        gemm::gemm(
            o,
            k,
            n,
            dst.as_mut_ptr(),
            1,
            k as isize,
            read_dst,
            gv.as_ptr(),
            o as isize,
            1,
            xv.as_ptr(),
            1,
            k as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            threads(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    /// Deterministic values in about [-2, 2].
    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| (((i + seed) * 7919 + seed * 31) % 401) as f32 / 100.0 - 2.0).collect()
    }

    #[test]
    fn exp_f32_matches_the_library_exp() {
        let mut worst = 0f64;
        for i in 0..=2_000_000 {
            let x = -87.0 + 175.0 * i as f32 / 2_000_000.0;
            let (got, want) = (exp_f32(x) as f64, (x as f64).exp());
            worst = worst.max((got - want).abs() / want);
        }
        assert!(worst < 3.0 * f32::EPSILON as f64, "worst relative error {worst:e}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-1e4), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
        let row = [0.5f32, -1.0, 2.0, -3.5, 0.0, 1.25, -0.75, 3.0, 1.5, -2.0, 0.25];
        let want: f32 = row.iter().map(|&x| (x - 3.0).exp()).sum();
        assert!((sum_exp_shifted(&row, 3.0) - want).abs() < 1e-6 * want);
    }

    fn close(a: &Tensor, b: &Tensor, tol: f32, what: &str) {
        let (a, b) = (
            a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            b.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}[{i}]: fused {x} vs composite {y}"
            );
        }
    }

    /// Runs `f` on fresh variables built from `inputs`, with a fixed random-looking upstream
    /// gradient, and returns the output and every input's gradient.
    fn run(
        inputs: &[(Vec<f32>, Vec<usize>)],
        f: &dyn Fn(&[Tensor]) -> Tensor,
    ) -> (Tensor, Vec<Tensor>) {
        let dev = Device::Cpu;
        let vars: Vec<Var> = inputs
            .iter()
            .map(|(v, s)| Var::from_vec(v.clone(), s.as_slice(), &dev).unwrap())
            .collect();
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let out = f(&ts);
        let up = Tensor::from_vec(values(out.elem_count(), 3), out.shape(), &dev).unwrap();
        let grads = (&out * &up).unwrap().sum_all().unwrap().backward().unwrap();
        let gs = vars.iter().map(|v| grads.get(v.as_tensor()).unwrap().clone()).collect();
        (out, gs)
    }

    fn compare(
        inputs: &[(Vec<f32>, Vec<usize>)],
        fused: &dyn Fn(&[Tensor]) -> Tensor,
        composite: &dyn Fn(&[Tensor]) -> Tensor,
        what: &str,
    ) {
        let (fo, fg) = run(inputs, fused);
        let (co, cg) = run(inputs, composite);
        assert_eq!(fo.dims(), co.dims(), "{what}: shapes");
        close(&fo, &co, 1e-5, what);
        for (i, (a, b)) in fg.iter().zip(&cg).enumerate() {
            assert_eq!(a.dims(), b.dims(), "{what}: gradient {i} shape");
            close(a, b, 1e-4, &format!("{what} gradient {i}"));
        }
    }

    #[test]
    fn rms_norm_matches_the_composite_formula() {
        let inputs = [(values(3 * 5 * 24, 1), vec![3, 5, 24]), (values(24, 2), vec![24])];
        compare(
            &inputs,
            &|t| rms_norm(&t[0], &t[1], 1e-5).unwrap(),
            &|t| rms_norm_composite(&t[0], &t[1], 1e-5).unwrap(),
            "rms_norm",
        );
    }

    fn tables(b: usize, t: usize, d: usize) -> (Vec<f32>, Vec<f32>) {
        // Halves repeated as rope_tables makes them, positions differing per sequence.
        let mut cos = Vec::new();
        let mut sin = Vec::new();
        for bi in 0..b {
            for ti in 0..t {
                for i in 0..d {
                    let angle = (bi * 3 + ti) as f32 / (1.0 + (i % (d / 2)) as f32);
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        (cos, sin)
    }

    #[test]
    fn rope_matches_the_composite_formula_with_shared_and_per_sequence_tables() {
        let (b, t, h, d) = (2, 5, 3, 8);
        for cb in [1, b] {
            let (cos, sin) = tables(cb, t, d);
            let dev = Device::Cpu;
            let cos = Tensor::from_vec(cos, (cb, 1, t, d), &dev).unwrap();
            let sin = Tensor::from_vec(sin, (cb, 1, t, d), &dev).unwrap();
            compare(
                &[(values(b * t * h * d, 4), vec![b, t, h * d])],
                &|x| rope_heads(&x[0], &cos, &sin, h).unwrap(),
                &|x| rope_heads_composite(&x[0], &cos, &sin, h).unwrap(),
                "rope",
            );
        }
    }

    #[test]
    fn masked_softmax_matches_the_composite_formula() {
        let dev = Device::Cpu;
        let (b, kv, rep, t) = (2, 3, 2, 4);
        let causal = crate::models::llama::causal_mask(t, 0, &dev).unwrap();
        let padded: Vec<f32> =
            (0..b * t * t)
                .map(|i| {
                    if i % t > (i / t) % t || (i / (t * t) == 1 && i % t == 0) {
                        -1e9
                    } else {
                        0.0
                    }
                })
                .collect();
        let padded = Tensor::from_vec(padded, (b, t, t), &dev).unwrap();
        for mask in [causal, padded] {
            compare(
                &[(values(b * kv * rep * t * t, 5), vec![b, kv, rep * t, t])],
                &|x| masked_softmax(&x[0], &mask, 0.35).unwrap(),
                &|x| masked_softmax_composite(&x[0], &mask, 0.35).unwrap(),
                "masked_softmax",
            );
        }
    }

    #[test]
    fn swiglu_matches_the_composite_formula() {
        let inputs = [(values(4 * 33, 6), vec![4, 33]), (values(4 * 33, 7), vec![4, 33])];
        compare(
            &inputs,
            &|t| swiglu(&t[0], &t[1]).unwrap(),
            &|t| swiglu_composite(&t[0], &t[1]).unwrap(),
            "swiglu",
        );
    }

    #[test]
    fn linear_matches_the_composite_formula_and_captures_weight_gradients() {
        let inputs = [
            (values(2 * 3 * 7, 8), vec![2, 3, 7]),
            (values(5 * 7, 9), vec![5, 7]),
            (values(5, 10), vec![5]),
        ];
        let layer = |t: &[Tensor]| Linear::new(t[1].clone(), Some(t[2].clone()));
        compare(
            &inputs,
            &|t| layer(t).forward(&t[0]).unwrap(),
            &|t| with_composite(|| layer(t).forward(&t[0]).unwrap()),
            "linear",
        );
        // Captured: the store gets no weight gradient, the slot gets the same values, summed
        // over two backward passes.
        let (_, expected) = run(&inputs, &|t| layer(t).forward(&t[0]).unwrap());
        let dev = Device::Cpu;
        let vars: Vec<Var> = inputs
            .iter()
            .map(|(v, s)| Var::from_vec(v.clone(), s.as_slice(), &dev).unwrap())
            .collect();
        let lin = Linear::new(vars[1].as_tensor().clone(), Some(vars[2].as_tensor().clone()));
        let slot = lin.capture_weight_grad();
        for _ in 0..2 {
            let out = lin.forward(vars[0].as_tensor()).unwrap();
            let up = Tensor::from_vec(values(out.elem_count(), 3), out.shape(), &dev).unwrap();
            let grads = (&out * &up).unwrap().sum_all().unwrap().backward().unwrap();
            assert!(grads.get(vars[1].as_tensor()).is_none(), "weight gradient in the store");
            close(grads.get(vars[0].as_tensor()).unwrap(), &expected[0], 1e-4, "input gradient");
        }
        let twice = Tensor::from_vec(slot.take().unwrap(), (5, 7), &dev).unwrap();
        close(&twice, &(&expected[1] * 2.0).unwrap(), 1e-4, "captured weight gradient");
        assert!(slot.take().is_none(), "taking empties the slot");
    }
}
