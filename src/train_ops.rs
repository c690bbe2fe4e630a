//! Fused training operations with their backward passes, for `standpoint train`
//! ([`crate::finetune`]).
//!
//! candle's autograd builds a layer from small element-wise operations: a layer norm is nine of
//! them forward and more backward, each a fresh tensor. A profile of training (Intel Xeon with
//! AMX, one thread, all six layers) put a quarter of the time in the matrix products and most
//! of the rest in those element-wise passes and their allocations. Here each step of a layer is
//! a pair of functions on f32 slices, forward and backward:
//!
//! - linear maps `x·wᵀ + b` on the `gemm` crate's kernels (the ones candle's CPU matrix product
//!   calls) or on bf16 products;
//! - layer norm over the last dimension;
//! - GELU, the exact (erf) form, with the inference kernels' erf;
//! - multi-head self-attention with its padding mask, on the fused query-key-value projection's
//!   own layout (no head split or transpose), probabilities recomputed in the backward pass;
//! - a dropout mask and the residual sum.
//!
//! [`encoder_layer`] runs a whole BERT layer from them as one candle operation, so that its
//! intermediate gradients never pass through candle's autograd (which gives each one a zeroed
//! tensor and an addition on the calling thread); [`linear`] / [`linear_in`] is one linear map as
//! a candle operation (the classifier). For the tests each step is also its own candle operation,
//! checked value by value and gradient by gradient against the same computation composed from
//! candle's differentiable primitives; the whole layer is checked against those operations
//! composed (`finetune`'s tests).

use crate::model::bf16::PackedBf16;
use crate::model::native::{kernels, Precision};
use candle_core::backprop::GradStore;
use candle_core::{CpuStorage, CustomOp3, Error, Layout, Result, Shape, Storage, Tensor, Var};
use candle_nn::{Optimizer, ParamsAdamW};
use rayon::prelude::*;

/// Runs `f` on the f32 values of a tensor, made contiguous first.
fn with_values<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    match &*storage {
        Storage::Cpu(CpuStorage::F32(v)) => {
            let (a, b) = layout
                .contiguous_offsets()
                .ok_or_else(|| Error::Msg("a contiguous tensor was not contiguous".into()))?;
            f(&v[a..b])
        }
        _ => Err(Error::Msg(
            "the fused training operations run on f32 CPU tensors".into(),
        )),
    }
}

/// The f32 values of a custom operation's argument, which must be contiguous.
fn values<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        return Err(Error::Msg(format!("{what}: f32 tensors only")));
    };
    let (a, b) = l
        .contiguous_offsets()
        .ok_or_else(|| Error::Msg(format!("{what}: the tensor must be contiguous")))?;
    Ok(&v[a..b])
}

fn last_dim(shape: &Shape, what: &str) -> Result<usize> {
    match shape.dims().last() {
        Some(&n) if n > 0 => Ok(n),
        _ => Err(Error::Msg(format!("{what}: empty last dimension"))),
    }
}

/// A copy of `x` made on the thread pool's threads, written straight into the new vector
/// (a serial `to_vec` of each activation was a measurable share of training's one-thread time).
fn par_copy(x: &[f32]) -> Vec<f32> {
    let mut y = Vec::with_capacity(x.len());
    y.par_extend(x.par_iter().copied());
    y
}

/// `m` copies of the row `b`, one after the other, written on the thread pool's threads.
fn par_repeat_rows(b: &[f32], m: usize) -> Vec<f32> {
    let n = b.len();
    let mut y = Vec::with_capacity(m * n);
    y.spare_capacity_mut()[..m * n]
        .par_chunks_mut(n.max(1) * rows_per_task(n))
        .for_each(|rows| {
            for row in rows.chunks_mut(n.max(1)) {
                for (d, &v) in row.iter_mut().zip(b) {
                    d.write(v);
                }
            }
        });
    // SAFETY: the first m · n values of the spare capacity (it holds at least that many) were
    // split into rows of n, and every row was written in full above (each chunk is a whole
    // number of rows: its length is a multiple of n, and the last one ends at m · n).
    unsafe { y.set_len(m * n) };
    y
}

/// `n` zeros, written on the thread pool's threads. Training keeps freed memory in the heap
/// ([`crate::finetune::keep_freed_memory`]), so a large `vec![0.0; n]` is a reused block that
/// the allocator clears with one `memset` on the calling thread while the other threads wait.
fn zeroed(n: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    v.par_extend(rayon::iter::repeat_n(0f32, n));
    v
}

/// Rows per rayon task for row-wise work on rows of `n` values (about 64 KiB a task).
fn rows_per_task(n: usize) -> usize {
    (16_384 / n.max(1)).max(1)
}

fn gemm_parallelism() -> gemm::Parallelism {
    let threads = rayon::current_num_threads();
    if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

/// `dst (m, n) = [dst +] lhs (m, k) · rhs (k, n)`, every matrix given by its row and column
/// strides.
struct Gemm<'a> {
    m: usize,
    n: usize,
    k: usize,
    lhs: (&'a [f32], usize, usize),
    rhs: (&'a [f32], usize, usize),
}

impl Gemm<'_> {
    /// The largest index a matrix of `rows × cols` with strides `(rs, cs)` addresses, plus one.
    fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
        if rows == 0 || cols == 0 {
            0
        } else {
            (rows - 1) * rs + (cols - 1) * cs + 1
        }
    }

    /// Writes (or, with `accumulate`, adds) the product into the row-major `dst` (m × n), on
    /// the thread pool's threads.
    fn run(&self, dst: &mut [f32], accumulate: bool) {
        self.run_into(dst, self.n, accumulate, gemm_parallelism());
    }

    /// The product into `dst` with row stride `dst_rs` (≥ n), on `parallelism`.
    fn run_into(
        &self,
        dst: &mut [f32],
        dst_rs: usize,
        accumulate: bool,
        parallelism: gemm::Parallelism,
    ) {
        let (lhs, lrs, lcs) = self.lhs;
        let (rhs, rrs, rcs) = self.rhs;
        assert!(dst_rs >= self.n);
        assert!(dst.len() >= Self::extent(self.m, self.n, dst_rs, 1));
        assert!(lhs.len() >= Self::extent(self.m, self.k, lrs, lcs));
        assert!(rhs.len() >= Self::extent(self.k, self.n, rrs, rcs));
        if self.m == 0 || self.n == 0 {
            return;
        }
        if self.k == 0 {
            if !accumulate {
                for r in 0..self.m {
                    dst[r * dst_rs..r * dst_rs + self.n].fill(0.0);
                }
            }
            return;
        }
        // SAFETY: the asserts above check that every element the sizes and strides address lies
        // inside `dst`, `lhs` and `rhs`; `dst` is borrowed mutably and does not overlap them.
        unsafe {
            gemm::gemm(
                self.m,
                self.n,
                self.k,
                dst.as_mut_ptr(),
                1,
                dst_rs as isize,
                accumulate,
                lhs.as_ptr(),
                lcs as isize,
                lrs as isize,
                rhs.as_ptr(),
                rcs as isize,
                rrs as isize,
                1.0f32,
                1.0f32,
                false,
                false,
                false,
                parallelism,
            )
        }
    }
}

/// `x · wᵀ + b`: `x` (…, k), `w` (n, k), `b` (n) → (…, n). With `bf16`, the three products
/// (forward, input gradient, weight gradient) round their operands to bfloat16 and accumulate
/// in f32 on [`PackedBf16`] (AMX tiles or AVX512-BF16 dot products where the CPU has them; on
/// other CPUs the rounded values go through the f32 product), as mixed-precision training does;
/// everything else, the weights and the optimiser included, stays f32.
struct Linear {
    bf16: bool,
}

/// `dst (m, n) += lhs (m, k) · rhs`, `rhs` packed as bf16, on the thread pool's threads.
fn bf16_product(lhs: &[f32], m: usize, rhs: &PackedBf16, dst: &mut [f32]) {
    rhs.matmul_acc(lhs, m, dst, rayon::current_num_threads());
}

/// The transpose of the row-major `(m, n)` matrix `a`, row-major `(n, m)`: blocks of 32 of its
/// rows (32 columns of `a`) on the thread pool's threads.
fn transpose(a: &[f32], m: usize, n: usize) -> Vec<f32> {
    const B: usize = 32;
    let mut t = zeroed(m * n);
    if m == 0 || n == 0 {
        return t;
    }
    t.par_chunks_mut(B * m).enumerate().for_each(|(cb, out)| {
        let (c0, cols) = (cb * B, out.len() / m);
        for r in 0..m {
            for (c, &v) in a[r * n + c0..r * n + c0 + cols].iter().enumerate() {
                out[c * m + r] = v;
            }
        }
    });
    t
}

/// The column sums of the row-major `(m, n)` matrix `g`: fixed blocks of rows summed on the
/// thread pool's threads, then the blocks' sums added in order, so the result does not depend
/// on how the work was shared out (the same seed gives the same model).
fn column_sums(g: &[f32], n: usize) -> Vec<f32> {
    let partial: Vec<Vec<f32>> = g
        .par_chunks(n * rows_per_task(n).max(64))
        .map(|block| {
            let mut s = vec![0f32; n];
            for row in block.chunks_exact(n) {
                for (d, v) in s.iter_mut().zip(row) {
                    *d += v;
                }
            }
            s
        })
        .collect();
    let mut sum = vec![0f32; n];
    for p in partial {
        for (d, v) in sum.iter_mut().zip(p) {
            *d += v;
        }
    }
    sum
}

/// `x · wᵀ + b` on slices: `x` rows of `k`, `w` (n, k), `b` (n) → rows of `n`.
fn linear_forward(x: &[f32], w: &[f32], b: &[f32], k: usize, n: usize, bf16: bool) -> Vec<f32> {
    let m = x.len() / k;
    let mut y = par_repeat_rows(b, m);
    if bf16 {
        bf16_product(x, m, &PackedBf16::pack_strided(w, k, n, 1, k), &mut y);
    } else {
        Gemm {
            m,
            n,
            k,
            lhs: (x, k, 1),
            rhs: (w, 1, k),
        }
        .run(&mut y, true);
    }
    y
}

/// The backward pass of [`linear_forward`] for the output gradient `g` (rows of `n`): the
/// input's gradient (empty unless `need_dx`), the weight's `(n, k)` and the bias's.
fn linear_backward(
    x: &[f32],
    w: &[f32],
    g: &[f32],
    k: usize,
    n: usize,
    need_dx: bool,
    bf16: bool,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let m = x.len() / k;
    let mut dx = zeroed(if need_dx { m * k } else { 0 });
    let mut dw = zeroed(n * k);
    if bf16 {
        if need_dx {
            bf16_product(g, m, &PackedBf16::pack(w, n, k), &mut dx);
        }
        bf16_product(&transpose(g, m, n), n, &PackedBf16::pack(x, m, k), &mut dw);
    } else {
        if need_dx {
            Gemm {
                m,
                n: k,
                k: n,
                lhs: (g, n, 1),
                rhs: (w, k, 1),
            }
            .run(&mut dx, false);
        }
        Gemm {
            m: n,
            n: k,
            k: m,
            lhs: (g, 1, n),
            rhs: (x, k, 1),
        }
        .run(&mut dw, false);
    }
    (dx, dw, column_sums(g, n))
}

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "standpoint-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = values(s1, l1, "linear x")?;
        let w = values(s2, l2, "linear w")?;
        let b = values(s3, l3, "linear b")?;
        let (n, k) = l2.shape().dims2()?;
        if last_dim(l1.shape(), "linear x")? != k || b.len() != n {
            return Err(Error::Msg(format!(
                "linear: x {:?}, w {:?}, b {:?} do not fit",
                l1.shape(),
                l2.shape(),
                l3.shape()
            )));
        }
        let y = linear_forward(x, w, b, k, n, self.bf16);
        let mut dims = l1.shape().dims().to_vec();
        *dims.last_mut().expect("x has a last dimension") = n;
        Ok((CpuStorage::F32(y), Shape::from(dims)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, k) = w.dims2()?;
        // The input's gradient only where something upstream is trained: not for the first
        // trained layer, whose input comes from the frozen part (a product and a sum saved).
        let need_dx = x.track_op();
        with_values(x, |xv| {
            with_values(w, |wv| {
                with_values(dy, |g| {
                    let (dx, dw, db) = linear_backward(xv, wv, g, k, n, need_dx, self.bf16);
                    let dev = x.device();
                    let dx = if need_dx {
                        Some(Tensor::from_vec(dx, x.shape(), dev)?)
                    } else {
                        None
                    };
                    Ok((
                        dx,
                        Some(Tensor::from_vec(dw, (n, k), dev)?),
                        Some(Tensor::from_vec(db, n, dev)?),
                    ))
                })
            })
        })
    }
}

/// `x · wᵀ + b` for `x` (…, k), `w` (n, k), `b` (n), with a fused backward pass, its products
/// in f32.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    linear_in(x, w, b, Precision::F32)
}

/// [`linear`] with its three products in `precision`: f32, or bf16 operands with f32
/// accumulation. Int8 is an inference format and is refused.
pub fn linear_in(x: &Tensor, w: &Tensor, b: &Tensor, precision: Precision) -> Result<Tensor> {
    let bf16 = match precision {
        Precision::F32 => false,
        Precision::Bf16 => true,
        Precision::Int8 => {
            return Err(Error::Msg(
                "training runs in f32 or bf16, not int8 (an inference format)".into(),
            ))
        }
    };
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, Linear { bf16 })
}

/// `y ⊙ mask + res`: a sublayer's output after dropout, added to the residual stream, in one
/// parallel pass each way instead of candle's multiplication and addition (and their backward
/// passes), which run on one thread.
#[cfg(test)]
struct DropoutAdd {
    /// Per value 0 or 1/(1 − p); `None` without dropout.
    mask: Option<Vec<f32>>,
}

/// `y ⊙ mask + res` on slices of one length (`y + res` without a mask).
fn dropout_add_forward(y: &[f32], res: &[f32], mask: Option<&[f32]>) -> Vec<f32> {
    let mut out = zeroed(y.len());
    out.par_chunks_mut(16_384).enumerate().for_each(|(c, o)| {
        let at = c * 16_384;
        let (yc, rc) = (&y[at..at + o.len()], &res[at..at + o.len()]);
        match mask {
            Some(mask) => {
                let mc = &mask[at..at + o.len()];
                for (((o, &y), &m), &r) in o.iter_mut().zip(yc).zip(mc).zip(rc) {
                    *o = y * m + r;
                }
            }
            None => {
                for ((o, &y), &r) in o.iter_mut().zip(yc).zip(rc) {
                    *o = y + r;
                }
            }
        }
    });
    out
}

/// `g ⊙ mask`.
fn times_mask(g: &[f32], mask: &[f32]) -> Vec<f32> {
    let mut d = zeroed(g.len());
    d.par_chunks_mut(16_384)
        .zip(g.par_chunks(16_384))
        .zip(mask.par_chunks(16_384))
        .for_each(|((d, g), m)| {
            for ((d, &g), &m) in d.iter_mut().zip(g).zip(m) {
                *d = g * m;
            }
        });
    d
}

#[cfg(test)]
impl candle_core::CustomOp2 for DropoutAdd {
    fn name(&self) -> &'static str {
        "standpoint-dropout-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = values(s1, l1, "dropout-add y")?;
        let res = values(s2, l2, "dropout-add residual")?;
        if l1.shape() != l2.shape() || self.mask.as_ref().is_some_and(|m| m.len() != y.len()) {
            return Err(Error::Msg(format!(
                "dropout-add: y {:?} and residual {:?} (or the mask) differ",
                l1.shape(),
                l2.shape()
            )));
        }
        let out = dropout_add_forward(y, res, self.mask.as_deref());
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        y: &Tensor,
        _res: &Tensor,
        _out: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dy = match &self.mask {
            None => g.clone(),
            Some(mask) => with_values(g, |gv| {
                Tensor::from_vec(times_mask(gv, mask), y.shape(), y.device())
            })?,
        };
        Ok((Some(dy), Some(g.clone())))
    }
}

/// `y ⊙ mask + res` with its backward pass; `mask` holds one factor per value of `y` (0 or
/// 1/(1 − p) for inverted dropout), `None` for none.
#[cfg(test)]
pub fn dropout_add(y: &Tensor, res: &Tensor, mask: Option<Vec<f32>>) -> Result<Tensor> {
    y.contiguous()?
        .apply_op2(&res.contiguous()?, DropoutAdd { mask })
}

/// Layer norm over the last dimension with weight and bias.
#[cfg(test)]
struct LayerNorm {
    eps: f32,
}

/// Layer norm of each row of `n` values of `x`.
fn layer_norm_forward(x: &[f32], n: usize, w: &[f32], b: &[f32], eps: f32) -> Vec<f32> {
    let mut y = par_copy(x);
    y.par_chunks_mut(n * rows_per_task(n))
        .for_each(|c| kernels::layer_norm_rows(c, n, w, b, eps));
    y
}

/// The backward pass of [`layer_norm_forward`] for the output gradient `g`: the input's, the
/// weight's and the bias's gradients. Each task's share of the weight and bias gradients is
/// summed in task order, so the result does not depend on the threads.
fn layer_norm_backward(
    xv: &[f32],
    wv: &[f32],
    g: &[f32],
    n: usize,
    eps: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut dx = zeroed(xv.len());
    let rows = rows_per_task(n);
    let partial: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(n * rows)
        .zip(xv.par_chunks(n * rows))
        .zip(g.par_chunks(n * rows))
        .map(|((dxc, xc), gc)| {
            // Element-wise passes and sums of 16 lanes ([`kernels::sum`]), which vectorise; one
            // pass with running scalar sums does not.
            let nf = n as f32;
            let mut dw = vec![0f32; n];
            let mut db = vec![0f32; n];
            let mut xhat = vec![0f32; n];
            let mut gw = vec![0f32; n];
            let mut tmp = vec![0f32; n];
            for ((dxr, xr), gr) in dxc
                .chunks_exact_mut(n)
                .zip(xc.chunks_exact(n))
                .zip(gc.chunks_exact(n))
            {
                let mean = kernels::sum(xr) / nf;
                for ((c, t), &v) in xhat.iter_mut().zip(tmp.iter_mut()).zip(xr) {
                    *c = v - mean;
                    *t = *c * *c;
                }
                let rstd = 1.0 / (kernels::sum(&tmp) / nf + eps).sqrt();
                for ((((c, q), t), &g), &w) in xhat
                    .iter_mut()
                    .zip(gw.iter_mut())
                    .zip(tmp.iter_mut())
                    .zip(gr)
                    .zip(wv)
                {
                    *c *= rstd;
                    *q = g * w;
                    *t = *q * *c;
                }
                let (mg, mgx) = (kernels::sum(&gw) / nf, kernels::sum(&tmp) / nf);
                for ((((d, dwj), dbj), &c), (&g, &q)) in dxr
                    .iter_mut()
                    .zip(dw.iter_mut())
                    .zip(db.iter_mut())
                    .zip(&xhat)
                    .zip(gr.iter().zip(&gw))
                {
                    *dwj += g * c;
                    *dbj += g;
                    *d = rstd * (q - mg - c * mgx);
                }
            }
            (dw, db)
        })
        .collect();
    let mut dw = vec![0f32; n];
    let mut db = vec![0f32; n];
    for (pw, pb) in &partial {
        for j in 0..n {
            dw[j] += pw[j];
            db[j] += pb[j];
        }
    }
    (dx, dw, db)
}

#[cfg(test)]
impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "standpoint-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = values(s1, l1, "layer norm x")?;
        let w = values(s2, l2, "layer norm weight")?;
        let b = values(s3, l3, "layer norm bias")?;
        let n = last_dim(l1.shape(), "layer norm")?;
        if w.len() != n || b.len() != n {
            return Err(Error::Msg("layer norm: weight or bias size differs".into()));
        }
        Ok((
            CpuStorage::F32(layer_norm_forward(x, n, w, b, self.eps)),
            l1.shape().clone(),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let n = last_dim(x.shape(), "layer norm")?;
        let eps = self.eps;
        with_values(x, |xv| {
            with_values(w, |wv| {
                with_values(dy, |g| {
                    let (dx, dw, db) = layer_norm_backward(xv, wv, g, n, eps);
                    let dev = x.device();
                    Ok((
                        Some(Tensor::from_vec(dx, x.shape(), dev)?),
                        Some(Tensor::from_vec(dw, n, dev)?),
                        Some(Tensor::from_vec(db, n, dev)?),
                    ))
                })
            })
        })
    }
}

/// Layer norm over the last dimension of `x`, with weight `w` and bias `b`, fused.
#[cfg(test)]
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &w.contiguous()?,
        &b.contiguous()?,
        LayerNorm { eps: eps as f32 },
    )
}

/// GELU (erf form) of every value, on the pool's threads: each block of 4,096 values is
/// copied to the stack, transformed there and written out once, while it is in cache, into
/// memory never zeroed. Against a copy of the whole input and a second pass over it: 0.84 ms
/// against 1.07 ms for 1,430 × 1,536 values, 2.37 against 2.90 ms for 4,096 × 1,536 (medians of
/// 7, two threads, Intel Xeon with AMX; the same values).
fn gelu_forward(x: &[f32]) -> Vec<f32> {
    const B: usize = 4_096;
    let n = x.len();
    let mut y = Vec::with_capacity(n);
    y.spare_capacity_mut()[..n]
        .par_chunks_mut(4 * B)
        .zip(x.par_chunks(4 * B))
        .for_each(|(dst, src)| {
            let mut buf = [0f32; B];
            for (d, s) in dst.chunks_mut(B).zip(src.chunks(B)) {
                let buf = &mut buf[..s.len()];
                buf.copy_from_slice(s);
                kernels::gelu(buf);
                for (d, &v) in d.iter_mut().zip(buf.iter()) {
                    d.write(v);
                }
            }
        });
    // SAFETY: the first n values of the spare capacity (it holds at least n) were split into
    // chunks matching `x`'s chunks value for value, and every value was written above.
    unsafe { y.set_len(n) };
    y
}

/// The backward pass of [`gelu_forward`] at `x` for the output gradient `g`.
fn gelu_backward(x: &[f32], g: &[f32]) -> Vec<f32> {
    let mut dx = zeroed(x.len());
    dx.par_chunks_mut(16_384)
        .zip(x.par_chunks(16_384))
        .zip(g.par_chunks(16_384))
        .for_each(|((d, xc), gc)| kernels::gelu_backward(d, xc, gc));
    dx
}

/// GELU, exact (erf) form.
#[cfg(test)]
struct Gelu;

#[cfg(test)]
impl candle_core::CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "standpoint-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let y = gelu_forward(values(s, l, "gelu")?);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        with_values(x, |xv| {
            with_values(dy, |g| {
                let dx = gelu_backward(xv, g);
                Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
            })
        })
    }
}

/// GELU (erf form) of `x`, fused.
#[cfg(test)]
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Gelu)
}

/// Probabilities below this are set to 0. The inference kernels' `exp` gives e^−87 ≈ 1.6e-38
/// rather than 0 for a masked position, and products of such values with gradients are
/// subnormal numbers, on which every later matrix product runs many times slower (measured: a
/// quarter of the attention gradients subnormal, training 3.3× slower). A row's largest
/// probability is at least 1/l, so anything below 1e-30 is far below f32 resolution against it.
const TINY_PROBABILITY: f32 = 1e-30;

/// Sets every value whose magnitude is below `tiny` to 0.
fn flush_tiny(x: &mut [f32], tiny: f32) {
    for v in x {
        if v.abs() < tiny {
            *v = 0.0;
        }
    }
}

/// Multi-head self-attention on the fused projection's own layout: `qkv` (b·l, 3H), each row
/// the token's query, key and value side by side (one product with the three weight matrices
/// stacked), the heads side by side within each; `mask` the additive mask per batch row (b·l
/// values: 0 for a token, a large negative number for padding) → the context (b·l, H). Every
/// head's products read and write its column block in place (strided matrix products), so
/// nothing is split, transposed or copied; the backward pass writes the three gradients into one
/// (b·l, 3H) tensor, so the projection's backward pass is one product with no sums of partial
/// gradients, and it recomputes the probabilities instead of keeping them.
struct Attention {
    b: usize,
    l: usize,
    heads: usize,
    scale: f32,
    mask: Vec<f32>,
}

impl Attention {
    /// The context (rows, H) of `qkv` (rows, 3H); `width` is H.
    fn forward(&self, qkv: &[f32], width: usize) -> Vec<f32> {
        let stride = 3 * width;
        let rows = qkv.len() / stride;
        let (l, hd) = (self.l, width / self.heads);
        let mut ctx = zeroed(rows * width);
        ctx.par_chunks_mut(l * width)
            .enumerate()
            .for_each(|(bi, out)| {
                for h in 0..self.heads {
                    let p = self.probabilities(qkv, width, h, bi);
                    Gemm {
                        m: l,
                        n: hd,
                        k: l,
                        lhs: (&p, l, 1),
                        rhs: (&qkv[bi * l * stride + 2 * width + h * hd..], stride, 1),
                    }
                    .run_into(
                        &mut out[h * hd..],
                        width,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            });
        ctx
    }

    /// The gradient (rows, 3H) of `qkv` for the context's gradient `g` (rows, H).
    fn backward(&self, qkv: &[f32], g: &[f32], width: usize) -> Vec<f32> {
        let stride = 3 * width;
        let rows = qkv.len() / stride;
        let (l, hd) = (self.l, width / self.heads);
        let mut dqkv = zeroed(rows * stride);
        dqkv.par_chunks_mut(l * stride)
            .enumerate()
            .for_each(|(bi, d)| {
                let none = gemm::Parallelism::None;
                for h in 0..self.heads {
                    let at = bi * l * stride + h * hd; // this head's query in `qkv`
                    let gat = bi * l * width + h * hd; // its context in `g`
                    let p = self.probabilities(qkv, width, h, bi);
                    // dV = Pᵀ · dctx
                    Gemm {
                        m: l,
                        n: hd,
                        k: l,
                        lhs: (&p, 1, l),
                        rhs: (&g[gat..], width, 1),
                    }
                    .run_into(
                        &mut d[2 * width + h * hd..],
                        stride,
                        false,
                        none,
                    );
                    // dP = dctx · Vᵀ, then dS = scale · P ⊙ (dP − rowsum(dP ⊙ P))
                    let mut ds = vec![0f32; l * l];
                    Gemm {
                        m: l,
                        n: l,
                        k: hd,
                        lhs: (&g[gat..], width, 1),
                        rhs: (&qkv[at + 2 * width..], 1, stride),
                    }
                    .run_into(&mut ds, l, false, none);
                    for (dr, pr) in ds.chunks_exact_mut(l).zip(p.chunks_exact(l)) {
                        let dot: f32 = dr.iter().zip(pr).map(|(a, b)| a * b).sum();
                        for (d, &pv) in dr.iter_mut().zip(pr) {
                            *d = self.scale * pv * (*d - dot);
                        }
                        flush_tiny(dr, f32::MIN_POSITIVE);
                    }
                    // dQ = dS · K, dK = dSᵀ · Q
                    Gemm {
                        m: l,
                        n: hd,
                        k: l,
                        lhs: (&ds, l, 1),
                        rhs: (&qkv[at + width..], stride, 1),
                    }
                    .run_into(&mut d[h * hd..], stride, false, none);
                    Gemm {
                        m: l,
                        n: hd,
                        k: l,
                        lhs: (&ds, 1, l),
                        rhs: (&qkv[at..], stride, 1),
                    }
                    .run_into(&mut d[width + h * hd..], stride, false, none);
                }
            });
        dqkv
    }

    /// The probabilities of head `h` of batch row `bi`: softmax(scale·Q Kᵀ + mask), (l × l).
    /// `width` is H; the rows of `qkv` are 3H long.
    fn probabilities(&self, qkv: &[f32], width: usize, h: usize, bi: usize) -> Vec<f32> {
        let (l, hd, stride) = (self.l, width / self.heads, 3 * width);
        let base = bi * l * stride + h * hd;
        let mut p = vec![0f32; l * l];
        Gemm {
            m: l,
            n: l,
            k: hd,
            lhs: (&qkv[base..], stride, 1),
            rhs: (&qkv[base + width..], 1, stride),
        }
        .run_into(&mut p, l, false, gemm::Parallelism::None);
        let mask = &self.mask[bi * l..(bi + 1) * l];
        for row in p.chunks_exact_mut(l) {
            for (v, &m) in row.iter_mut().zip(mask) {
                *v = self.scale * *v + m;
            }
        }
        kernels::softmax_rows(&mut p, l);
        flush_tiny(&mut p, TINY_PROBABILITY);
        p
    }
}

#[cfg(test)]
impl candle_core::CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "standpoint-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let qkv = values(s, layout, "attention qkv")?;
        let (rows, stride) = layout.shape().dims2()?;
        let width = stride / 3;
        if rows != self.b * self.l
            || stride % 3 != 0
            || width % self.heads != 0
            || self.mask.len() != rows
        {
            return Err(Error::Msg(format!(
                "attention: qkv {:?} does not fit {} rows of {} tokens, {} heads",
                layout.shape(),
                self.b,
                self.l,
                self.heads
            )));
        }
        let ctx = self.forward(qkv, width);
        Ok((CpuStorage::F32(ctx), Shape::from((rows, width))))
    }

    fn bwd(&self, qkv: &Tensor, _res: &Tensor, dctx: &Tensor) -> Result<Option<Tensor>> {
        let (rows, stride) = qkv.dims2()?;
        let dqkv = with_values(qkv, |qkv| {
            with_values(dctx, |g| Ok(self.backward(qkv, g, stride / 3)))
        })?;
        Ok(Some(Tensor::from_vec(dqkv, (rows, stride), qkv.device())?))
    }
}

/// Multi-head self-attention, fused: `qkv` (b·l, 3H), each row a token's query, key and value
/// side by side as one product with the stacked weights gives them, `mask` (b, l) of 0/1 (1 for a
/// token), `heads` heads of H / heads values, scores scaled by `scale`. Returns the context
/// (b·l, H), heads side by side.
#[cfg(test)]
pub fn attention_qkv(qkv: &Tensor, mask: &Tensor, heads: usize, scale: f64) -> Result<Tensor> {
    let (b, l) = mask.dims2()?;
    let mask = additive_mask(mask)?;
    qkv.contiguous()?.apply_op1(Attention {
        b,
        l,
        heads,
        scale: scale as f32,
        mask,
    })
}

/// [`attention_qkv`] with the query, key and value given apart, each (b·l, H).
#[cfg(test)]
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &Tensor,
    heads: usize,
    scale: f64,
) -> Result<Tensor> {
    attention_qkv(&Tensor::cat(&[q, k, v], 1)?, mask, heads, scale)
}

/// The additive attention mask of a (b, l) 0/1 mask (1 for a token): 0 for a token, −10⁹ for
/// padding, b·l values.
fn additive_mask(mask: &Tensor) -> Result<Vec<f32>> {
    Ok(mask
        .to_dtype(candle_core::DType::F32)?
        .flatten_all()?
        .to_vec1::<f32>()?
        .into_iter()
        .map(|m| if m > 0.5 { 0.0 } else { -1e9 })
        .collect())
}

/// The parameters of one encoder layer in the order of [`encoder_layer_params`]: (offset,
/// length) of the stacked query-key-value weight (3H, H) and bias, the attention output's weight
/// and bias, its layer norm's weight and bias, the intermediate weight (I, H) and bias, the output
/// weight (H, I) and bias, and its layer norm's weight and bias.
fn layer_slots(h: usize, i: usize) -> [(usize, usize); 12] {
    let lens = [3 * h * h, 3 * h, h * h, h, h, h, i * h, i, h * i, h, h, h];
    let mut slots = [(0, 0); 12];
    let mut at = 0;
    for (slot, len) in slots.iter_mut().zip(lens) {
        *slot = (at, len);
        at += len;
    }
    slots
}

/// Which of BERT's 16 layer parameters comes where in [`encoder_layer_params`]' flat tensor.
pub const FLAT_ORDER: [usize; 16] = [0, 2, 4, 1, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// One layer's 16 parameters, in BERT's order (query weight and bias, key, value, attention
/// output dense, its LayerNorm, intermediate dense, output dense, its LayerNorm), as the one flat
/// tensor [`encoder_layer`] takes: query, key and value weights stacked, then their biases, then
/// the rest in order. Differentiable: the flat gradient flows back to each parameter.
pub fn encoder_layer_params(p: &[&Tensor]) -> Result<Tensor> {
    if p.len() != 16 {
        return Err(Error::Msg(format!(
            "an encoder layer has 16 parameters, not {}",
            p.len()
        )));
    }
    let flat = FLAT_ORDER
        .iter()
        .map(|&i| p[i].flatten_all())
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&flat, 0)
}

/// What [`EncoderLayer`]'s forward pass keeps for its backward pass (the input comes back as
/// the operation's argument).
struct Saved {
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    s1: Vec<f32>,
    a: Vec<f32>,
    f: Vec<f32>,
    gf: Vec<f32>,
    s2: Vec<f32>,
}

/// A whole BERT encoder layer as one candle operation on the input `x` (b·l rows of H) and the
/// layer's flat parameters ([`encoder_layer_params`]):
///
/// ```text
/// qkv = x·Wqkvᵀ + bqkv          ctx = attention(qkv)
/// s1  = (ctx·Woᵀ + bo) ⊙ m1 + x  a   = LN1(s1)
/// f   = a·W1ᵀ + b1              gf  = GELU(f)
/// s2  = (gf·W2ᵀ + b2) ⊙ m2 + a   out = LN2(s2)
/// ```
///
/// with the dropout masks `m1`, `m2`. The same functions as the separate operations
/// ([`linear`], [`attention_qkv`], [`dropout_add`], [`layer_norm`], [`gelu`]) compute each step,
/// and the tests check that the two give the same values and gradients. As one operation, the
/// layer's intermediate gradients never enter candle's autograd, which gives every gradient a
/// zeroed tensor and an addition on the calling thread while the pool waits (in a profile of
/// bf16 training on AMD EPYC Zen 4, the largest serial part left); the backward pass adds the two
/// gradients of each residual input itself, on the pool's threads.
struct EncoderLayer {
    attention: Attention,
    hidden: usize,
    inter: usize,
    eps: f32,
    bf16: bool,
    dropout: [Option<Vec<f32>>; 2],
    need_dx: bool,
    saved: std::sync::Mutex<Option<Saved>>,
    /// Where the parameters' gradient goes instead of candle's gradient store, if anywhere.
    sink: Option<GradSink>,
}

/// A layer's parameter gradient kept outside candle's autograd: [`EncoderLayer`]'s backward pass
/// adds the flat gradient here (the first one is moved in), and [`FusedAdamW`] takes it. candle
/// would give the parameters' gradient a zeroed tensor and an addition, and split it back into
/// the 16 parameters with a copy each, all on the calling thread while the pool waits.
pub type GradSink = std::sync::Arc<std::sync::Mutex<Option<Vec<f32>>>>;

/// The sink's contents, locked.
fn lock_sink(sink: &GradSink) -> Result<std::sync::MutexGuard<'_, Option<Vec<f32>>>> {
    sink.lock()
        .map_err(|_| Error::Msg("gradient sink: a poisoned lock".into()))
}

/// Adds `g` into the sink: moved in when the sink is empty, added on the pool's threads when not.
fn sink_add(sink: &GradSink, g: Vec<f32>) -> Result<()> {
    let mut acc = lock_sink(sink)?;
    match acc.as_mut() {
        Some(a) if a.len() == g.len() => add_into(a, &g),
        Some(a) => {
            return Err(Error::Msg(format!(
                "gradient sink: {} values, a gradient of {}",
                a.len(),
                g.len()
            )))
        }
        None => *acc = Some(g),
    }
    Ok(())
}

/// `a += b`, on the pool's threads.
fn add_into(a: &mut [f32], b: &[f32]) {
    a.par_chunks_mut(16_384)
        .zip(b.par_chunks(16_384))
        .for_each(|(a, b)| {
            for (a, b) in a.iter_mut().zip(b) {
                *a += b;
            }
        });
}

impl candle_core::CustomOp2 for EncoderLayer {
    fn name(&self) -> &'static str {
        "standpoint-encoder-layer"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = values(s1, l1, "encoder layer x")?;
        let p = values(s2, l2, "encoder layer parameters")?;
        let (h, i) = (self.hidden, self.inter);
        let slots = layer_slots(h, i);
        let rows = self.attention.b * self.attention.l;
        let total = slots[11].0 + slots[11].1;
        let masks_fit = self.dropout.iter().flatten().all(|m| m.len() == rows * h);
        if x.len() != rows * h
            || p.len() != total
            || self.attention.mask.len() != rows
            || !masks_fit
        {
            return Err(Error::Msg(format!(
                "encoder layer: x {:?}, parameters {:?} or a dropout mask do not fit {rows} rows \
                 of {h} with an intermediate size of {i}",
                l1.shape(),
                l2.shape()
            )));
        }
        let w = |k: usize| &p[slots[k].0..slots[k].0 + slots[k].1];
        let qkv = linear_forward(x, w(0), w(1), h, 3 * h, self.bf16);
        let ctx = self.attention.forward(&qkv, h);
        let y1 = linear_forward(&ctx, w(2), w(3), h, h, self.bf16);
        let s1 = dropout_add_forward(&y1, x, self.dropout[0].as_deref());
        drop(y1);
        let a = layer_norm_forward(&s1, h, w(4), w(5), self.eps);
        let f = linear_forward(&a, w(6), w(7), h, i, self.bf16);
        let gf = gelu_forward(&f);
        let y2 = linear_forward(&gf, w(8), w(9), i, h, self.bf16);
        let s2 = dropout_add_forward(&y2, &a, self.dropout[1].as_deref());
        drop(y2);
        let out = layer_norm_forward(&s2, h, w(10), w(11), self.eps);
        *self
            .saved
            .lock()
            .map_err(|_| Error::Msg("encoder layer: a poisoned lock".into()))? = Some(Saved {
            qkv,
            ctx,
            s1,
            a,
            f,
            gf,
            s2,
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        params: &Tensor,
        _out: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let saved = self
            .saved
            .lock()
            .map_err(|_| Error::Msg("encoder layer: a poisoned lock".into()))?
            .take()
            .ok_or_else(|| {
                Error::Msg("encoder layer: a second backward pass, or one without forward".into())
            })?;
        let (h, i) = (self.hidden, self.inter);
        let slots = layer_slots(h, i);
        let bf16 = self.bf16;
        let (dx, dp) = with_values(x, |x| {
            with_values(params, |p| {
                with_values(g, |g| {
                    let w = |k: usize| &p[slots[k].0..slots[k].0 + slots[k].1];
                    let mut dp = zeroed(p.len());
                    let mut put = |k: usize, v: &[f32]| {
                        dp[slots[k].0..slots[k].0 + slots[k].1].copy_from_slice(v)
                    };
                    // out = LN2(s2), s2 = y2 ⊙ m2 + a
                    let (ds2, dw, db) = layer_norm_backward(&saved.s2, w(10), g, h, self.eps);
                    put(10, &dw);
                    put(11, &db);
                    let dy2 = match &self.dropout[1] {
                        Some(m) => times_mask(&ds2, m),
                        None => ds2.clone(),
                    };
                    let mut da = ds2;
                    // y2 = gf·W2ᵀ + b2, gf = GELU(f)
                    let (dgf, dw, db) = linear_backward(&saved.gf, w(8), &dy2, i, h, true, bf16);
                    drop(dy2);
                    put(8, &dw);
                    put(9, &db);
                    let df = gelu_backward(&saved.f, &dgf);
                    drop(dgf);
                    // f = a·W1ᵀ + b1
                    let (da2, dw, db) = linear_backward(&saved.a, w(6), &df, h, i, true, bf16);
                    drop(df);
                    put(6, &dw);
                    put(7, &db);
                    add_into(&mut da, &da2);
                    drop(da2);
                    // a = LN1(s1), s1 = y1 ⊙ m1 + x
                    let (ds1, dw, db) = layer_norm_backward(&saved.s1, w(4), &da, h, self.eps);
                    drop(da);
                    put(4, &dw);
                    put(5, &db);
                    let dy1 = match &self.dropout[0] {
                        Some(m) => times_mask(&ds1, m),
                        None => ds1.clone(),
                    };
                    // y1 = ctx·Woᵀ + bo
                    let (dctx, dw, db) = linear_backward(&saved.ctx, w(2), &dy1, h, h, true, bf16);
                    drop(dy1);
                    put(2, &dw);
                    put(3, &db);
                    let dqkv = self.attention.backward(&saved.qkv, &dctx, h);
                    drop(dctx);
                    // qkv = x·Wqkvᵀ + bqkv
                    let (dx2, dw, db) =
                        linear_backward(x, w(0), &dqkv, h, 3 * h, self.need_dx, bf16);
                    put(0, &dw);
                    put(1, &db);
                    let dx = if self.need_dx {
                        let mut dx = ds1;
                        add_into(&mut dx, &dx2);
                        Some(dx)
                    } else {
                        None
                    };
                    Ok((dx, dp))
                })
            })
        })?;
        let dev = x.device();
        let dx = match dx {
            Some(dx) => Some(Tensor::from_vec(dx, x.shape(), dev)?),
            None => None,
        };
        match &self.sink {
            Some(sink) => {
                sink_add(sink, dp)?;
                Ok((dx, None))
            }
            None => Ok((dx, Some(Tensor::from_vec(dp, params.shape(), dev)?))),
        }
    }
}

/// A BERT encoder layer, fused ([`EncoderLayer`]): `x` (b, l, H), `params` the flat parameters
/// of [`encoder_layer_params`], `mask` (b, l) of 0/1 (1 for a token), `heads` attention heads,
/// `eps` the layer norms' epsilon, `intermediate` the feed-forward size, the products in
/// `precision`, and the dropout masks after the attention output and the feed-forward output
/// (each b·l·H factors, or `None`). With a `sink`, the parameters' gradient is added there
/// ([`GradSink`]) instead of entering candle's gradient store.
#[allow(clippy::too_many_arguments)]
pub fn encoder_layer(
    x: &Tensor,
    params: &Tensor,
    mask: &Tensor,
    heads: usize,
    intermediate: usize,
    eps: f64,
    precision: Precision,
    dropout: [Option<Vec<f32>>; 2],
    sink: Option<GradSink>,
) -> Result<Tensor> {
    let bf16 = match precision {
        Precision::F32 => false,
        Precision::Bf16 => true,
        Precision::Int8 => {
            return Err(Error::Msg(
                "training runs in f32 or bf16, not int8 (an inference format)".into(),
            ))
        }
    };
    let (b, l, h) = x.dims3()?;
    if h % heads != 0 {
        return Err(Error::Msg(format!(
            "{h} values do not split into {heads} heads"
        )));
    }
    let op = EncoderLayer {
        attention: Attention {
            b,
            l,
            heads,
            scale: (1.0 / ((h / heads) as f64).sqrt()) as f32,
            mask: additive_mask(mask)?,
        },
        hidden: h,
        inter: intermediate,
        eps: eps as f32,
        bf16,
        dropout,
        need_dx: x.track_op(),
        saved: std::sync::Mutex::new(None),
        sink,
    };
    x.contiguous()?.apply_op2(&params.contiguous()?, op)
}

/// A variable, its first and second moments, and its gradient sink if it has one.
type AdamSlot = (Var, Vec<f32>, Vec<f32>, Option<GradSink>);

/// AdamW with decoupled weight decay, the same update as `candle_nn::AdamW` (the tests check
/// it), in one pass over each parameter instead of a dozen tensor operations with a fresh
/// tensor each: the moments are plain vectors, and the new values are written back into the
/// variable's storage.
pub struct FusedAdamW {
    /// Each variable with its two moments and, for a layer's flat parameters, its gradient sink.
    vars: Vec<AdamSlot>,
    params: ParamsAdamW,
    step: i32,
    /// The factor on gradients taken from a sink (a sum over accumulated batches).
    sink_scale: f32,
}

impl FusedAdamW {
    /// AdamW over variables whose gradients come from sinks ([`GradSink`]), not from the
    /// gradient store that [`Optimizer::step`] is given.
    pub fn with_sinks(vars: Vec<(Var, GradSink)>, params: ParamsAdamW) -> Self {
        let vars = vars
            .into_iter()
            .map(|(v, sink)| {
                let n = v.elem_count();
                (v, vec![0f32; n], vec![0f32; n], Some(sink))
            })
            .collect();
        FusedAdamW {
            vars,
            params,
            step: 0,
            sink_scale: 1.0,
        }
    }

    /// The factor on the next step's sink gradients: 1/n after n accumulated batches.
    pub fn set_sink_scale(&mut self, scale: f32) {
        self.sink_scale = scale;
    }
}

impl Optimizer for FusedAdamW {
    type Config = ParamsAdamW;

    fn new(vars: Vec<Var>, params: ParamsAdamW) -> Result<Self> {
        let vars = vars
            .into_iter()
            .map(|v| {
                let n = v.elem_count();
                (v, vec![0f32; n], vec![0f32; n], None)
            })
            .collect();
        Ok(FusedAdamW {
            vars,
            params,
            step: 0,
            sink_scale: 1.0,
        })
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr;
    }

    /// One update of every variable that has a gradient (in `grads`, or in its sink, which is
    /// emptied); the others are left as they are.
    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let p = &self.params;
        let (b1, b2) = (p.beta1 as f32, p.beta2 as f32);
        let scale_m = (1.0 / (1.0 - p.beta1.powi(self.step))) as f32;
        let scale_v = (1.0 / (1.0 - p.beta2.powi(self.step))) as f32;
        let decay = (1.0 - p.lr * p.weight_decay) as f32;
        let (lr, eps) = (p.lr as f32, p.eps as f32);
        // The new values are written once, into fresh memory, in plain loops over chunks. The
        // same loop writing into a zeroed buffer, and a safe `par_extend` over four zipped
        // iterators, were slower: the latter 21.57 s against 21.27 s for issue 14's bf16 job
        // (medians of 4 alternating runs, Intel Xeon with AMX, the same model).
        let update = |theta: &[f32], g: &[f32], gs: f32, m: &mut [f32], v: &mut [f32]| {
            let n = theta.len();
            if g.len() != n || m.len() != n || v.len() != n {
                return Err(Error::Msg(format!(
                    "AdamW: {n} parameters, a gradient of {} and moments of {} and {}",
                    g.len(),
                    m.len(),
                    v.len()
                )));
            }
            let mut out = Vec::with_capacity(n);
            out.spare_capacity_mut()[..n]
                .par_chunks_mut(16_384)
                .zip(theta.par_chunks(16_384))
                .zip(g.par_chunks(16_384))
                .zip(m.par_chunks_mut(16_384))
                .zip(v.par_chunks_mut(16_384))
                .for_each(|((((o, t), g), m), v)| {
                    for i in 0..o.len() {
                        let g = g[i] * gs;
                        m[i] = m[i] * b1 + g * (1.0 - b1);
                        v[i] = v[i] * b2 + g * g * (1.0 - b2);
                        let step = (m[i] * scale_m) / ((v[i] * scale_v).sqrt() + eps);
                        o[i].write(t[i] * decay - step * lr);
                    }
                });
            // SAFETY: the first n values of the spare capacity (it holds at least n) were split
            // into chunks that cover them all; `theta`, `g`, `m` and `v` have n values each
            // (checked above), so every chunk of `out` is matched by one of each and every value
            // of every chunk was written above.
            unsafe { out.set_len(n) };
            Ok(out)
        };
        for (var, m, v, sink) in &mut self.vars {
            let next = match sink {
                Some(sink) => {
                    let Some(g) = lock_sink(sink)?.take() else {
                        continue;
                    };
                    with_values(var.as_tensor(), |theta| {
                        update(theta, &g, self.sink_scale, m, v)
                    })?
                }
                None => {
                    let Some(g) = grads.get(var.as_tensor()) else {
                        continue;
                    };
                    with_values(var.as_tensor(), |theta| {
                        with_values(g, |g| update(theta, g, 1.0, m, v))
                    })?
                }
            };
            var.set(&Tensor::from_vec(next, var.shape(), var.device())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use candle_core::{Device, D};

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = crate::train::Rng(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.uniform() * 4.0 - 2.0).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    pub(crate) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Values and the gradients of every argument of `fused` and `reference`, both applied to
    /// the same variables; the loss is a weighted sum of the output, so that every gradient
    /// element differs.
    fn compare(
        args: &[Tensor],
        fused: impl Fn(&[Tensor]) -> Result<Tensor>,
        reference: impl Fn(&[Tensor]) -> Result<Tensor>,
        value_tol: f32,
        grad_tol: f32,
    ) {
        let vars: Vec<Var> = args.iter().map(|t| Var::from_tensor(t).unwrap()).collect();
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let a = fused(&ts).unwrap();
        let b = reference(&ts).unwrap();
        assert_eq!(a.dims(), b.dims());
        let d = max_diff(&a, &b);
        assert!(d <= value_tol, "values differ by {d}");
        let weights = random(a.dims(), 99);
        let ga = (&a * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gb = (&b * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for (i, t) in ts.iter().enumerate() {
            match (ga.get(t), gb.get(t)) {
                (Some(x), Some(y)) => {
                    let d = max_diff(x, y);
                    assert!(d <= grad_tol, "gradient of argument {i} differs by {d}");
                }
                (None, None) => {}
                (x, y) => panic!(
                    "argument {i}: fused gradient {}, reference {}",
                    x.is_some(),
                    y.is_some()
                ),
            }
        }
    }

    #[test]
    fn dropout_add_matches_primitives() {
        let mask: Vec<f32> = (0..24)
            .map(|i| if i % 3 == 0 { 0.0 } else { 1.5 })
            .collect();
        let m = Tensor::from_vec(mask.clone(), (4, 6), &Device::Cpu).unwrap();
        compare(
            &[random(&[4, 6], 51), random(&[4, 6], 52)],
            |t| dropout_add(&t[0], &t[1], Some(mask.clone())),
            |t| (&t[0] * &m)? + &t[1],
            1e-6,
            1e-6,
        );
        compare(
            &[random(&[4, 6], 53), random(&[4, 6], 54)],
            |t| dropout_add(&t[0], &t[1], None),
            |t| &t[0] + &t[1],
            1e-6,
            1e-6,
        );
    }

    /// The input's gradient is left out where the input is not trained (the first trained
    /// layer's input comes from the frozen part); the weights' gradients are the same.
    #[test]
    fn linear_skips_the_gradient_of_an_untrained_input() {
        let x = random(&[5, 8], 61);
        let w = Var::from_tensor(&random(&[3, 8], 62)).unwrap();
        let b = Var::from_tensor(&random(&[3], 63)).unwrap();
        let weights = random(&[5, 3], 64);
        let grads = (linear(&x, w.as_tensor(), b.as_tensor()).unwrap() * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(grads.get(&x).is_none(), "a gradient for an untracked input");
        let xv = Var::from_tensor(&x).unwrap();
        let reference = (xv
            .as_tensor()
            .matmul(&w.as_tensor().t().unwrap())
            .unwrap()
            .broadcast_add(b.as_tensor())
            .unwrap()
            * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for v in [&w, &b] {
            let d = max_diff(
                grads.get(v.as_tensor()).unwrap(),
                reference.get(v.as_tensor()).unwrap(),
            );
            assert!(d < 1e-5, "weight gradient differs by {d}");
        }
    }

    #[test]
    fn linear_matches_matmul_and_add() {
        compare(
            &[random(&[2, 5, 7], 1), random(&[3, 7], 2), random(&[3], 3)],
            |t| linear(&t[0], &t[1], &t[2]),
            |t| t[0].broadcast_matmul(&t[1].t()?)?.broadcast_add(&t[2]),
            1e-5,
            1e-4,
        );
    }

    /// The bf16 linear map: the forward product and both gradients equal f64 sums over the
    /// bf16-rounded operands (the gradient `g` of `sum(y ⊙ g)` rounded too), to f32 summation
    /// error. Widths that are multiples of 32 run on AMX where the CPU has it (else on
    /// AVX512-BF16, else on the portable path); 24 is never a multiple of 16 and runs on the
    /// portable path everywhere.
    #[test]
    fn bf16_linear_is_the_product_of_rounded_operands() {
        use crate::model::bf16::{from_bf16, to_bf16};
        for &(m, k, n) in &[(70usize, 64usize, 96usize), (33, 40, 24), (5, 32, 32)] {
            let x = Var::from_tensor(&random(&[m, k], 11)).unwrap();
            let w = Var::from_tensor(&random(&[n, k], 12)).unwrap();
            let b = Var::from_tensor(&random(&[n], 13)).unwrap();
            let g = random(&[m, n], 14);
            let y =
                linear_in(x.as_tensor(), w.as_tensor(), b.as_tensor(), Precision::Bf16).unwrap();
            let grads = (&y * &g).unwrap().sum_all().unwrap().backward().unwrap();
            let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let (xv, wv, bv, gv) = (v(x.as_tensor()), v(w.as_tensor()), v(b.as_tensor()), v(&g));
            // Every path rounds both operands (the portable one, without AVX512-BF16 or for
            // widths that are not a multiple of 16, rounded only the packed one until a Zen 3
            // showed int8 losing F1 there).
            let r = |a: f32| from_bf16(to_bf16(a)) as f64;
            let check = |got: &[f32], want: &dyn Fn(usize) -> f64, what: &str| {
                for (i, &g) in got.iter().enumerate() {
                    let want = want(i);
                    assert!(
                        (g as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "m{m} k{k} n{n} {what}[{i}]: {g} vs {want}"
                    );
                }
            };
            // y = r(x)·r(w)ᵀ + b; the forward's "weights" are w.
            check(
                &v(&y),
                &|i| {
                    let (row, col) = (i / n, i % n);
                    bv[col] as f64
                        + (0..k)
                            .map(|j| r(xv[row * k + j]) * r(wv[col * k + j]))
                            .sum::<f64>()
                },
                "y",
            );
            // dx = r(g)·r(w); the backward's "weights" are w.
            check(
                &v(grads.get(x.as_tensor()).unwrap()),
                &|i| {
                    let (row, col) = (i / k, i % k);
                    (0..n)
                        .map(|j| r(gv[row * n + j]) * r(wv[j * k + col]))
                        .sum()
                },
                "dx",
            );
            // dW = r(g)ᵀ·r(x); here x plays the weights' part.
            check(
                &v(grads.get(w.as_tensor()).unwrap()),
                &|i| {
                    let (row, col) = (i / k, i % k);
                    (0..m)
                        .map(|j| r(gv[j * n + row]) * r(xv[j * k + col]))
                        .sum()
                },
                "dw",
            );
            check(
                &v(grads.get(b.as_tensor()).unwrap()),
                &|i| (0..m).map(|j| gv[j * n + i] as f64).sum(),
                "db",
            );
        }
        if !crate::model::bf16::amx_in_use() {
            crate::model::report_skipped("train_ops::bf16_linear on AMX tiles: no AMX here");
        }
        if !crate::model::bf16::native_bf16() {
            crate::model::report_skipped(
                "train_ops::bf16_linear on AVX512-BF16: not on this CPU (the portable path ran)",
            );
        }
    }

    #[test]
    fn training_refuses_int8() {
        let (x, w, b) = (random(&[2, 4], 1), random(&[3, 4], 2), random(&[3], 3));
        let err = linear_in(&x, &w, &b, Precision::Int8)
            .unwrap_err()
            .to_string();
        assert!(err.contains("int8"), "{err}");
    }

    #[test]
    fn layer_norm_matches_primitives() {
        let eps = 1e-12;
        compare(
            &[random(&[4, 3, 40], 4), random(&[40], 5), random(&[40], 6)],
            |t| layer_norm(&t[0], &t[1], &t[2], eps),
            |t| {
                let mean = t[0].mean_keepdim(D::Minus1)?;
                let xc = t[0].broadcast_sub(&mean)?;
                let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
                xc.broadcast_div(&(var + eps)?.sqrt()?)?
                    .broadcast_mul(&t[1])?
                    .broadcast_add(&t[2])
            },
            1e-5,
            1e-4,
        );
    }

    #[test]
    fn gelu_matches_candle() {
        compare(
            &[random(&[3, 50], 7)],
            |t| gelu(&t[0]),
            |t| t[0].gelu_erf(),
            1e-6,
            1e-5,
        );
    }

    /// Regression: masked positions came out of the softmax as e^−87-sized probabilities
    /// instead of 0, and their gradients as subnormal numbers, which made every later matrix
    /// product of the backward pass several times slower.
    #[test]
    fn attention_ignores_padding_exactly_and_has_no_subnormal_gradients() {
        let mask = Tensor::from_vec(vec![1u32, 1, 0, 0], (1, 4), &Device::Cpu).unwrap();
        let q = Var::from_tensor(&random(&[4, 6], 11)).unwrap();
        let k = Var::from_tensor(&random(&[4, 6], 12)).unwrap();
        let v = random(&[4, 6], 13);
        let ctx = attention(q.as_tensor(), k.as_tensor(), &v, &mask, 2, 0.125).unwrap();
        // The padded tokens' values weigh exactly nothing in the real tokens' context.
        let loud = Tensor::cat(
            &[
                v.narrow(0, 0, 2).unwrap(),
                (v.narrow(0, 2, 2).unwrap() * 1e6).unwrap(),
            ],
            0,
        )
        .unwrap();
        let ctx2 = attention(q.as_tensor(), k.as_tensor(), &loud, &mask, 2, 0.125).unwrap();
        assert_eq!(
            ctx.narrow(0, 0, 2)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            ctx2.narrow(0, 0, 2)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        );
        let g = (&ctx * &random(&[4, 6], 14))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for t in [q.as_tensor(), k.as_tensor()] {
            let gv: Vec<f32> = g.get(t).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            assert!(gv.iter().all(|x| !x.is_subnormal()), "{gv:?}");
        }
        // No gradient reaches the padded keys from the real queries.
        let gk: Vec<f32> = g
            .get(k.as_tensor())
            .unwrap()
            .narrow(0, 2, 2)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(gk.iter().all(|&x| x == 0.0), "{gk:?}");
    }

    /// The fused AdamW gives candle's AdamW's values, and the same update from a gradient
    /// sink holding the sum of two batches' gradients scaled by 1/2.
    #[test]
    fn fused_adamw_matches_candle_adamw() {
        let params = ParamsAdamW {
            lr: 1e-2,
            weight_decay: 0.01,
            ..ParamsAdamW::default()
        };
        let a = Var::from_tensor(&random(&[5, 7], 21)).unwrap();
        let b = Var::from_tensor(&random(&[5, 7], 21)).unwrap();
        // `c` takes its gradient from a sink, as a sum over two batches scaled by 1/2.
        let c = Var::from_tensor(&random(&[5, 7], 21)).unwrap();
        let mut fused = FusedAdamW::new(vec![a.clone()], params.clone()).unwrap();
        let sink = GradSink::default();
        let mut from_sink = FusedAdamW::with_sinks(vec![(c.clone(), sink.clone())], params.clone());
        from_sink.set_sink_scale(0.5);
        let mut reference = candle_nn::AdamW::new(vec![b.clone()], params).unwrap();
        for step in 0..4u64 {
            let w = random(&[5, 7], 30 + step);
            let ga = (a.as_tensor() * &w)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let gb = (b.as_tensor() * &w)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            fused.set_learning_rate(1e-2 / (step + 1) as f64);
            reference.set_learning_rate(1e-2 / (step + 1) as f64);
            let g: Vec<f32> = ga
                .get(a.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            sink_add(&sink, g.clone()).unwrap();
            sink_add(&sink, g).unwrap();
            from_sink.set_learning_rate(1e-2 / (step + 1) as f64);
            fused.step(&ga).unwrap();
            reference.step(&gb).unwrap();
            // The sink's gradient is taken, not the store's (which has none for `c`).
            from_sink.step(&ga).unwrap();
            assert!(sink.lock().unwrap().is_none(), "the step empties the sink");
            let d = max_diff(a.as_tensor(), b.as_tensor());
            assert!(d < 1e-6, "step {step}: parameters differ by {d}");
            assert_eq!(
                max_diff(a.as_tensor(), c.as_tensor()),
                0.0,
                "step {step}: sink and store differ"
            );
        }
        assert!(
            max_diff(a.as_tensor(), &random(&[5, 7], 21)) > 1e-3,
            "nothing moved"
        );
    }

    #[test]
    fn attention_matches_primitives() {
        // Two batch rows of 5 tokens, the second with its last two padded; 3 heads of 4 values.
        let (b, l, heads, hd) = (2, 5, 3, 4);
        let mask =
            Tensor::from_vec(vec![1u32, 1, 1, 1, 1, 1, 1, 1, 0, 0], (b, l), &Device::Cpu).unwrap();
        let add = ((mask
            .to_dtype(candle_core::DType::F32)
            .unwrap()
            .ones_like()
            .unwrap()
            - mask.to_dtype(candle_core::DType::F32).unwrap())
        .unwrap()
            * -1e9)
            .unwrap()
            .reshape((b, 1, 1, l))
            .unwrap();
        let scale = 0.5;
        let split = |t: &Tensor| -> Result<Tensor> {
            t.reshape((b, l, heads, hd))?.transpose(1, 2)?.contiguous()
        };
        compare(
            &[
                random(&[b * l, heads * hd], 41),
                random(&[b * l, heads * hd], 42),
                random(&[b * l, heads * hd], 43),
            ],
            |t| attention(&t[0], &t[1], &t[2], &mask, heads, scale),
            |t| {
                let (q, k, v) = (split(&t[0])?, split(&t[1])?, split(&t[2])?);
                let s = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&add)?;
                let p = candle_nn::ops::softmax(&s, D::Minus1)?;
                p.matmul(&v)?
                    .transpose(1, 2)?
                    .contiguous()?
                    .reshape((b * l, heads * hd))
            },
            1e-5,
            1e-4,
        );
    }
}
