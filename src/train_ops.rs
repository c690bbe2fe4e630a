//! Fused training operations with their backward passes, for `standpoint train`
//! ([`crate::finetune`]).
//!
//! candle's autograd builds a layer from small element-wise operations: a layer norm is nine of
//! them forward and more backward, each a fresh tensor. A profile of training (Intel Xeon with
//! AMX, one thread, all six layers) put a quarter of the time in the matrix products and most
//! of the rest in those element-wise passes and their allocations. Each operation here is one
//! candle custom operation with a hand-written backward pass, on contiguous f32 CPU tensors:
//!
//! - [`linear`]: `x·wᵀ + b`, forward and backward on the `gemm` crate's kernels (the ones
//!   candle's CPU matrix product calls);
//! - [`layer_norm`] over the last dimension;
//! - [`gelu`], the exact (erf) form, with the inference kernels' erf;
//! - [`masked_softmax`]: `softmax(scale·s + mask)` over the last dimension.
//!
//! The tests check every value and every gradient against the same computation composed from
//! candle's differentiable primitives.

use crate::model::native::kernels;
use candle_core::backprop::GradStore;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, Error, Layout, Result, Shape, Storage, Tensor, Var,
};
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

    /// Writes (or, with `accumulate`, adds) the product into the row-major `dst` (m × n).
    fn run(&self, dst: &mut [f32], accumulate: bool) {
        let (lhs, lrs, lcs) = self.lhs;
        let (rhs, rrs, rcs) = self.rhs;
        assert!(dst.len() >= self.m * self.n);
        assert!(lhs.len() >= Self::extent(self.m, self.k, lrs, lcs));
        assert!(rhs.len() >= Self::extent(self.k, self.n, rrs, rcs));
        if self.m == 0 || self.n == 0 {
            return;
        }
        if self.k == 0 {
            if !accumulate {
                dst[..self.m * self.n].fill(0.0);
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
                self.n as isize,
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
                gemm_parallelism(),
            )
        }
    }
}

/// `x · wᵀ + b`: `x` (…, k), `w` (n, k), `b` (n) → (…, n).
struct Linear;

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
        let m = x.len() / k;
        let mut y: Vec<f32> = Vec::with_capacity(m * n);
        for _ in 0..m {
            y.extend_from_slice(b);
        }
        Gemm {
            m,
            n,
            k,
            lhs: (x, k, 1),
            rhs: (w, 1, k),
        }
        .run(&mut y, true);
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
        let m = x.elem_count() / k;
        with_values(x, |xv| {
            with_values(w, |wv| {
                with_values(dy, |g| {
                    let mut dx = vec![0f32; m * k];
                    Gemm {
                        m,
                        n: k,
                        k: n,
                        lhs: (g, n, 1),
                        rhs: (wv, k, 1),
                    }
                    .run(&mut dx, false);
                    let mut dw = vec![0f32; n * k];
                    Gemm {
                        m: n,
                        n: k,
                        k: m,
                        lhs: (g, 1, n),
                        rhs: (xv, k, 1),
                    }
                    .run(&mut dw, false);
                    let mut db = vec![0f32; n];
                    for row in g.chunks_exact(n) {
                        for (d, v) in db.iter_mut().zip(row) {
                            *d += v;
                        }
                    }
                    let dev = x.device();
                    Ok((
                        Some(Tensor::from_vec(dx, x.shape(), dev)?),
                        Some(Tensor::from_vec(dw, (n, k), dev)?),
                        Some(Tensor::from_vec(db, n, dev)?),
                    ))
                })
            })
        })
    }
}

/// `x · wᵀ + b` for `x` (…, k), `w` (n, k), `b` (n), with a fused backward pass.
pub fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op3(&w.contiguous()?, &b.contiguous()?, Linear)
}

/// Layer norm over the last dimension with weight and bias.
struct LayerNorm {
    eps: f32,
}

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
        let mut y = x.to_vec();
        y.par_chunks_mut(n * rows_per_task(n))
            .for_each(|c| kernels::layer_norm_rows(c, n, w, b, self.eps));
        Ok((CpuStorage::F32(y), l1.shape().clone()))
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
                    let mut dx = vec![0f32; xv.len()];
                    let rows = rows_per_task(n);
                    // Per task: dx for its rows, and its share of the weight and bias gradients.
                    let partial: Vec<(Vec<f32>, Vec<f32>)> = dx
                        .par_chunks_mut(n * rows)
                        .zip(xv.par_chunks(n * rows))
                        .zip(g.par_chunks(n * rows))
                        .map(|((dxc, xc), gc)| {
                            let mut dw = vec![0f32; n];
                            let mut db = vec![0f32; n];
                            let mut xhat = vec![0f32; n];
                            for ((dxr, xr), gr) in dxc
                                .chunks_exact_mut(n)
                                .zip(xc.chunks_exact(n))
                                .zip(gc.chunks_exact(n))
                            {
                                let mean = xr.iter().sum::<f32>() / n as f32;
                                let var = xr.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>()
                                    / n as f32;
                                let rstd = 1.0 / (var + eps).sqrt();
                                let (mut sum_g, mut sum_gx) = (0f32, 0f32);
                                for j in 0..n {
                                    xhat[j] = (xr[j] - mean) * rstd;
                                    let gw = gr[j] * wv[j];
                                    sum_g += gw;
                                    sum_gx += gw * xhat[j];
                                    dw[j] += gr[j] * xhat[j];
                                    db[j] += gr[j];
                                }
                                let (mg, mgx) = (sum_g / n as f32, sum_gx / n as f32);
                                for j in 0..n {
                                    dxr[j] = rstd * (gr[j] * wv[j] - mg - xhat[j] * mgx);
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
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f64) -> Result<Tensor> {
    x.contiguous()?.apply_op3(
        &w.contiguous()?,
        &b.contiguous()?,
        LayerNorm { eps: eps as f32 },
    )
}

/// GELU, exact (erf) form.
struct Gelu;

/// d/dx of `x·Φ(x)`: `Φ(x) + x·φ(x)`.
fn gelu_slope(x: f32) -> f32 {
    const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
    let cdf = 0.5 * (1.0 + kernels::erf(x * std::f32::consts::FRAC_1_SQRT_2));
    cdf + x * FRAC_1_SQRT_2PI * kernels::exp(-0.5 * x * x)
}

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "standpoint-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let mut y = values(s, l, "gelu")?.to_vec();
        y.par_chunks_mut(16_384).for_each(kernels::gelu);
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        with_values(x, |xv| {
            with_values(dy, |g| {
                let mut dx = vec![0f32; xv.len()];
                dx.par_chunks_mut(16_384)
                    .zip(xv.par_chunks(16_384))
                    .zip(g.par_chunks(16_384))
                    .for_each(|((d, xc), gc)| {
                        for ((d, &x), &g) in d.iter_mut().zip(xc).zip(gc) {
                            *d = g * gelu_slope(x);
                        }
                    });
                Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
            })
        })
    }
}

/// GELU (erf form) of `x`, fused.
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

/// `softmax(scale·s + mask)` over the last dimension: `s` (b, h, q, l), `mask` (b, 1, 1, l).
struct MaskedSoftmax {
    scale: f32,
}

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "standpoint-masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let s = values(s1, l1, "softmax scores")?;
        let mask = values(s2, l2, "softmax mask")?;
        let (b, h, q, l) = l1.shape().dims4()?;
        if l2.shape().dims4()? != (b, 1, 1, l) {
            return Err(Error::Msg(format!(
                "softmax: mask {:?} does not fit scores {:?}",
                l2.shape(),
                l1.shape()
            )));
        }
        let mut y = vec![0f32; s.len()];
        // One task per (batch row, head): its q rows share the batch row's mask.
        y.par_chunks_mut(q * l)
            .zip(s.par_chunks(q * l))
            .enumerate()
            .for_each(|(i, (yc, sc))| {
                let m = &mask[(i / h) * l..(i / h + 1) * l];
                for (v, (&x, &a)) in yc.iter_mut().zip(sc.iter().zip(m.iter().cycle())) {
                    *v = self.scale * x + a;
                }
                kernels::softmax_rows(yc, l);
                flush_tiny(yc, TINY_PROBABILITY);
            });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _s: &Tensor,
        _mask: &Tensor,
        y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let l = last_dim(y.shape(), "softmax")?;
        let scale = self.scale;
        with_values(y, |yv| {
            with_values(dy, |g| {
                let mut ds = vec![0f32; yv.len()];
                let chunk = l * rows_per_task(l);
                ds.par_chunks_mut(chunk)
                    .zip(yv.par_chunks(chunk))
                    .zip(g.par_chunks(chunk))
                    .for_each(|((dc, yc), gc)| {
                        for ((dr, yr), gr) in dc
                            .chunks_exact_mut(l)
                            .zip(yc.chunks_exact(l))
                            .zip(gc.chunks_exact(l))
                        {
                            let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
                            for j in 0..l {
                                dr[j] = scale * yr[j] * (gr[j] - dot);
                            }
                            flush_tiny(dr, f32::MIN_POSITIVE);
                        }
                    });
                Ok((Some(Tensor::from_vec(ds, y.shape(), y.device())?), None))
            })
        })
    }
}

/// `softmax(scale·scores + mask)` over the last dimension, fused: `scores` (b, h, q, l), `mask`
/// (b, 1, 1, l) additive (0 for a token, a large negative number for padding). The mask gets
/// no gradient.
pub fn masked_softmax(scores: &Tensor, mask: &Tensor, scale: f64) -> Result<Tensor> {
    scores.contiguous()?.apply_op2(
        &mask.contiguous()?,
        MaskedSoftmax {
            scale: scale as f32,
        },
    )
}

/// AdamW with decoupled weight decay, the same update as `candle_nn::AdamW` (the tests check
/// it), in one pass over each parameter instead of a dozen tensor operations with a fresh
/// tensor each: the moments are plain vectors, and the new values are written back into the
/// variable's storage.
pub struct FusedAdamW {
    vars: Vec<(Var, Vec<f32>, Vec<f32>)>,
    params: ParamsAdamW,
    step: i32,
}

impl Optimizer for FusedAdamW {
    type Config = ParamsAdamW;

    fn new(vars: Vec<Var>, params: ParamsAdamW) -> Result<Self> {
        let vars = vars
            .into_iter()
            .map(|v| {
                let n = v.elem_count();
                (v, vec![0f32; n], vec![0f32; n])
            })
            .collect();
        Ok(FusedAdamW {
            vars,
            params,
            step: 0,
        })
    }

    fn learning_rate(&self) -> f64 {
        self.params.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr;
    }

    fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let p = &self.params;
        let (b1, b2) = (p.beta1 as f32, p.beta2 as f32);
        let scale_m = (1.0 / (1.0 - p.beta1.powi(self.step))) as f32;
        let scale_v = (1.0 / (1.0 - p.beta2.powi(self.step))) as f32;
        let decay = (1.0 - p.lr * p.weight_decay) as f32;
        let (lr, eps) = (p.lr as f32, p.eps as f32);
        for (var, m, v) in &mut self.vars {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let next = with_values(var.as_tensor(), |theta| {
                with_values(g, |g| {
                    let mut out = vec![0f32; theta.len()];
                    out.par_chunks_mut(16_384)
                        .zip(theta.par_chunks(16_384))
                        .zip(g.par_chunks(16_384))
                        .zip(m.par_chunks_mut(16_384))
                        .zip(v.par_chunks_mut(16_384))
                        .for_each(|((((o, t), g), m), v)| {
                            for i in 0..o.len() {
                                m[i] = m[i] * b1 + g[i] * (1.0 - b1);
                                v[i] = v[i] * b2 + g[i] * g[i] * (1.0 - b2);
                                let step = (m[i] * scale_m) / ((v[i] * scale_v).sqrt() + eps);
                                o[i] = t[i] * decay - step * lr;
                            }
                        });
                    Ok(out)
                })
            })?;
            var.set(&Tensor::from_vec(next, var.shape(), var.device())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, D};

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = crate::train::Rng(seed);
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| rng.uniform() * 4.0 - 2.0).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
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
    fn linear_matches_matmul_and_add() {
        compare(
            &[random(&[2, 5, 7], 1), random(&[3, 7], 2), random(&[3], 3)],
            |t| linear(&t[0], &t[1], &t[2]),
            |t| t[0].broadcast_matmul(&t[1].t()?)?.broadcast_add(&t[2]),
            1e-5,
            1e-4,
        );
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

    #[test]
    fn masked_softmax_matches_primitives() {
        // Two batch rows, the second with its last two positions padded.
        let mask = Tensor::from_vec(
            vec![0f32, 0., 0., 0., 0., 0., 0., 0., -1e9, -1e9],
            (2, 1, 1, 5),
            &Device::Cpu,
        )
        .unwrap();
        let scale = 0.125;
        compare(
            &[random(&[2, 3, 4, 5], 8)],
            |t| masked_softmax(&t[0], &mask, scale),
            |t| candle_nn::ops::softmax(&(&t[0] * scale)?.broadcast_add(&mask)?, D::Minus1),
            1e-6,
            1e-5,
        );
    }

    /// Regression: masked positions came out as e^−87-sized probabilities instead of 0, and
    /// their gradients as subnormal numbers, which made every later matrix product of the
    /// backward pass several times slower.
    #[test]
    fn masked_softmax_gives_exact_zeros_and_no_subnormal_gradients() {
        let mask =
            Tensor::from_vec(vec![0f32, 0., -1e9, -1e9], (1, 1, 1, 4), &Device::Cpu).unwrap();
        let s = Var::from_tensor(&random(&[1, 2, 3, 4], 11)).unwrap();
        let y = masked_softmax(s.as_tensor(), &mask, 0.125).unwrap();
        let yv: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        for row in yv.chunks(4) {
            assert_eq!(&row[2..], &[0.0, 0.0], "masked positions: {row:?}");
            assert!((row[0] + row[1] - 1.0).abs() < 1e-6);
        }
        let g = (&y * &random(&[1, 2, 3, 4], 12))
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let gv: Vec<f32> = g
            .get(s.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(gv.iter().all(|v| !v.is_subnormal()), "{gv:?}");
        assert!(gv.chunks(4).all(|r| r[2] == 0.0 && r[3] == 0.0));
    }

    #[test]
    fn fused_adamw_matches_candle_adamw() {
        let params = ParamsAdamW {
            lr: 1e-2,
            weight_decay: 0.01,
            ..ParamsAdamW::default()
        };
        let a = Var::from_tensor(&random(&[5, 7], 21)).unwrap();
        let b = Var::from_tensor(&random(&[5, 7], 21)).unwrap();
        let mut fused = FusedAdamW::new(vec![a.clone()], params.clone()).unwrap();
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
            fused.step(&ga).unwrap();
            reference.step(&gb).unwrap();
            let d = max_diff(a.as_tensor(), b.as_tensor());
            assert!(d < 1e-6, "step {step}: parameters differ by {d}");
        }
        assert!(
            max_diff(a.as_tensor(), &random(&[5, 7], 21)) > 1e-3,
            "nothing moved"
        );
    }
}
