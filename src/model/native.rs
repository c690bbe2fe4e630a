//! A BERT encoder forward pass for the CPU, written for throughput (`--backend native`, the default
//! on CPU).
//!
//! The weights are loaded through candle (safetensors, the delta laid over the base, see
//! [`super::cross`]); on a GPU the cross-encoder runs candle-transformers' `BertModel`. On a CPU,
//! candle's per-op kernels cost what the profile showed: linear layers 77% of the time (its
//! `gemm` without the AVX-512 kernels), the exact erf GELU 16% (a scalar `erf` per element), and a
//! copy or a pass over memory for every bias, residual, mask and transpose. This module runs the
//! same arithmetic with:
//!
//! - **no padding**: the batch's real tokens are packed into one `(tokens, hidden)` matrix;
//!   attention is computed per sequence, so no position is wasted on padding or masked out;
//! - **fused dense layers**: query, key and value are one `(hidden, 3·hidden)` product; the bias
//!   (and the residual, for the output projections) is written into the destination first and the
//!   product is accumulated onto it; the weights are kept as `(in, out)` row-major, the layout
//!   the matrix product reads;
//! - **attention without copies**: each head's `Q·Kᵀ` and `P·V` read the packed `qkv` matrix
//!   through strides and write the context in place;
//! - **a vectorised GELU and softmax**: erf by Abramowitz & Stegun 7.1.26 (absolute error below
//!   1e-6 in f32) and `exp` by range reduction and a polynomial, compiled for AVX-512 / AVX2 and
//!   chosen at run time;
//! - **bf16 weights** as an option ([`Precision::Bf16`]): weights and activations rounded to
//!   bfloat16 and multiplied on Intel AMX tiles, or with AVX512-BF16 dot products, where the CPU
//!   has them (see [`super::bf16`]);
//! - **int8 weights** as an option ([`Precision::Int8`]): weights per output channel and
//!   activations per row in 8 bits, integer products on AMX tiles (`tdpbusd`) or AVX512-VNNI where the CPU has them, else on
//!   AVX2 (see [`super::int8`]); a calibration pass at load time groups each layer's input
//!   channels by size, each group with its own activation range ([`NativeBert::new`]).
//!
//! The matrix products are the `gemm` crate's (the one candle's CPU backend calls), with its
//! AVX-512 kernels enabled (`x86-v4`). A batch runs on the calling thread (or `threads` rayon
//! threads inside `gemm`); the inference loop runs several batches at once ([`crate::infer`]).

use super::bf16::PackedBf16;
use super::int8::Int8Layer;
use super::ModelError;
use candle_core::{DType, Tensor};
use std::collections::HashMap;

/// Number format of the dense layers' weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats throughout.
    #[default]
    F32,
    /// Dense weights rounded to bfloat16 (activations stay f32; products accumulate in f32).
    Bf16,
    /// Dense weights in int8 per output channel, activations quantised per row on the fly,
    /// products in exact integers (AMX tiles or AVX512-VNNI where the CPU has them, else AVX2); attention,
    /// softmax, LayerNorm and GELU stay f32.
    Int8,
}

impl Precision {
    /// The precision of the FFN's down projection when no calibration groups its input
    /// channels. Its input (GELU outputs of width 4·hidden) has the widest range, and in int8
    /// with one group it cost most of the label flips, so it then runs in bf16 where the CPU
    /// has bf16 products, else in f32.
    fn ffn_down(self) -> Precision {
        match self {
            Precision::Int8 if super::bf16::native_bf16() => Precision::Bf16,
            Precision::Int8 => Precision::F32,
            p => p,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }
}

/// Sizes of a BERT encoder.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub hidden: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub layers: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    pub vocab: usize,
    pub eps: f32,
}

impl Dims {
    /// Multiply-adds ×2 of one forward pass over sequences of these lengths: the dense layers
    /// (per token) and attention (per sequence, quadratic in its length). The embedding lookup,
    /// normalisations and activations are not counted.
    pub fn flops(&self, lens: impl IntoIterator<Item = usize>) -> f64 {
        let h = self.hidden as f64;
        let i = self.intermediate as f64;
        let per_token = 2.0 * (4.0 * h * h + 2.0 * h * i);
        let mut total = 0.0;
        for l in lens {
            let l = l as f64;
            total += l * per_token + 2.0 * 2.0 * l * l * h;
        }
        total * self.layers as f64
    }
}

enum Weights {
    /// `(in, out)` row-major.
    F32(Vec<f32>),
    Bf16(PackedBf16),
    Int8(Int8Layer),
}

/// A dense layer `y = x·W + b` with `W` of shape `(k, n)`.
struct Dense {
    w: Weights,
    bias: Vec<f32>,
    k: usize,
    n: usize,
}

impl Dense {
    /// From PyTorch-layout weights `(out, in)` (several stacked along `out`, e.g. q, k, v).
    fn new(parts: &[(&Tensor, &Tensor)]) -> Result<Dense, ModelError> {
        let mut rows: Vec<Vec<f32>> = Vec::new();
        let mut bias = Vec::new();
        for (w, b) in parts {
            rows.extend(w.to_dtype(DType::F32)?.to_vec2::<f32>()?);
            bias.extend(b.to_dtype(DType::F32)?.to_vec1::<f32>()?);
        }
        let n = rows.len();
        let k = rows.first().map_or(0, |r| r.len());
        if bias.len() != n || rows.iter().any(|r| r.len() != k) {
            return Err(ModelError::Config {
                model: "native encoder".into(),
                message: format!(
                    "dense weights of inconsistent shapes ({n} rows, {} biases)",
                    bias.len()
                ),
            });
        }
        // Transpose to (k, n) row-major.
        let mut t = vec![0f32; k * n];
        for (j, r) in rows.iter().enumerate() {
            for (i, &v) in r.iter().enumerate() {
                t[i * n + j] = v;
            }
        }
        Ok(Dense {
            w: Weights::F32(t),
            bias,
            k,
            n,
        })
    }

    /// The f32 weights in `precision`, int8 with the input channels in `groups` (see
    /// [`Int8Layer::pack_grouped`]).
    fn quantise(&mut self, precision: Precision, groups: &[Vec<usize>]) {
        let Weights::F32(t) = &self.w else { return };
        let (k, n) = (self.k, self.n);
        self.w = match precision {
            Precision::F32 => return,
            Precision::Bf16 => Weights::Bf16(PackedBf16::pack(t, k, n)),
            Precision::Int8 => Weights::Int8(Int8Layer::pack_grouped(t, k, n, groups)),
        };
    }

    /// Reorders the outputs (columns and biases): output `j` becomes the old output `perm[j]`.
    fn permute_outputs(&mut self, perm: &[usize]) {
        let Weights::F32(t) = &mut self.w else {
            unreachable!("permuted before quantising")
        };
        let n = self.n;
        for row in t.chunks_exact_mut(n) {
            let old = row.to_vec();
            for (d, &p) in row.iter_mut().zip(perm) {
                *d = old[p];
            }
        }
        self.bias = perm.iter().map(|&p| self.bias[p]).collect();
    }

    /// Reorders the inputs (weight rows): input `i` becomes the old input `perm[i]`.
    fn permute_inputs(&mut self, perm: &[usize]) {
        let Weights::F32(t) = &mut self.w else {
            unreachable!("permuted before quantising")
        };
        let n = self.n;
        *t = perm
            .iter()
            .flat_map(|&p| t[p * n..(p + 1) * n].to_vec())
            .collect();
    }

    /// `dst (m, n) = init + x (m, k) · W` where `init` is the bias, or the bias plus `residual`
    /// `(m, n)` when given; then GELU on `dst` when `gelu`. The packed paths fill and finish
    /// the output a block of rows at a time, while the block is in cache (the bias and GELU were
    /// separate passes over the whole output: 4% and 3-4% of the int8 time on Zen 4).
    fn forward(
        &self,
        x: &[f32],
        m: usize,
        residual: Option<&[f32]>,
        gelu: bool,
        dst: &mut [f32],
        threads: usize,
    ) {
        debug_assert_eq!(x.len(), m * self.k);
        debug_assert_eq!(dst.len(), m * self.n);
        let n = self.n;
        let init = |r0: usize, block: &mut [f32]| match residual {
            Some(r) => {
                let r = &r[r0 * n..r0 * n + block.len()];
                for (d, r) in block.chunks_exact_mut(n).zip(r.chunks_exact(n)) {
                    for ((d, r), b) in d.iter_mut().zip(r).zip(&self.bias) {
                        *d = r + b;
                    }
                }
            }
            None => {
                for d in block.chunks_exact_mut(n) {
                    d.copy_from_slice(&self.bias);
                }
            }
        };
        let finish = |block: &mut [f32]| {
            if gelu {
                kernels::gelu(block);
            }
        };
        match &self.w {
            Weights::F32(w) => {
                init(0, dst);
                matmul_acc(x, m, self.k, w, n, dst, threads);
                finish(dst);
            }
            Weights::Bf16(p) => p.matmul_blocks(x, m, dst, threads, &init, &finish),
            Weights::Int8(p) => p.matmul_blocks(x, m, dst, threads, &init, &finish),
        }
    }
}

/// `dst (m, n) += x (m, k) · w (k, n)`, all row-major f32, on `threads` threads.
pub(crate) fn matmul_acc(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    dst: &mut [f32],
    threads: usize,
) {
    assert!(x.len() >= m * k && w.len() >= k * n && dst.len() >= m * n);
    // SAFETY: the slices hold at least the elements the sizes and strides address (asserted).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            x.as_ptr(),
            1,
            k as isize,
            w.as_ptr(),
            1,
            n as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism(threads),
        )
    }
}

fn parallelism(threads: usize) -> gemm::Parallelism {
    if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    }
}

struct Norm {
    w: Vec<f32>,
    b: Vec<f32>,
}

impl Norm {
    fn new(w: &Tensor, b: &Tensor) -> Result<Norm, ModelError> {
        Ok(Norm {
            w: w.to_dtype(DType::F32)?.to_vec1()?,
            b: b.to_dtype(DType::F32)?.to_vec1()?,
        })
    }
}

struct Layer {
    qkv: Dense,
    attn_out: Dense,
    ln1: Norm,
    inter: Dense,
    out: Dense,
    ln2: Norm,
}

/// The dense layers of an encoder layer, by the activations they read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Site {
    /// Query, key and value, from the layer's input.
    Qkv = 0,
    /// The attention output projection, from the attention's context.
    AttnOut = 1,
    /// The FFN's up projection, from the first LayerNorm.
    Inter = 2,
    /// The FFN's down projection, from the GELU outputs.
    Out = 3,
}

impl Layer {
    fn dense_mut(&mut self, site: Site) -> &mut Dense {
        match site {
            Site::Qkv => &mut self.qkv,
            Site::AttnOut => &mut self.attn_out,
            Site::Inter => &mut self.inter,
            Site::Out => &mut self.out,
        }
    }
}

/// An int8 layer's input channel is an outlier when its largest calibration activation exceeds
/// this many times the median channel's.
const OUTLIER_RATIO: f32 = 2.0;
/// At most one input channel in this many is an outlier.
const MAX_OUTLIER_SHARE: usize = 64;
/// The FFN down projection's input channels (GELU outputs) other than the outliers are
/// quantised in this many groups of like size. Label flips against f32 on the six development
/// files (6,256 statements, Zen 4, the default model of the time): one group without outliers
/// 61, with the outliers in f32 37; 2, 4, 8 and 16 groups (the outliers in the largest) 41, 30,
/// 26 and 33; four groups and the outliers as a fifth 26. With the next default model (the six
/// files grown to 6,558 statements, Zen 3): 4, 8 and 16 groups 60, 52 and 45 flips, mean
/// probability error 0.00271, 0.00262 and 0.00253, and RUW dev's macro-F1 −0.88, −0.99 and
/// −0.49 against f32 (the f32 parts differ a little between CPU kinds: four groups gave −1.06
/// on Zen 4); sixteen took the same time as four in `classify` (Zen 3, alternating runs). On Zen
/// 5, 16 and 32 groups gave 51 and 57 flips (the same files).
const FFN_DOWN_GROUPS: usize = 16;

/// The outlier channels of a layer input from each channel's largest absolute activation:
/// above [`OUTLIER_RATIO`] × the median, largest first, at most one in [`MAX_OUTLIER_SHARE`].
fn outlier_channels(maxima: &[f32]) -> Vec<usize> {
    if maxima.is_empty() || maxima.iter().any(|v| !v.is_finite()) {
        return Vec::new();
    }
    let mut sorted = maxima.to_vec();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2];
    let mut out: Vec<usize> = (0..maxima.len())
        .filter(|&c| maxima[c] > OUTLIER_RATIO * median)
        .collect();
    out.sort_by(|&a, &b| maxima[b].total_cmp(&maxima[a]).then(a.cmp(&b)));
    out.truncate(maxima.len() / MAX_OUTLIER_SHARE);
    out
}

/// The channel groups of an int8 layer from its inputs' largest calibration activations: the
/// [`outlier_channels`] in a group of their own, and the rest in one group, except in the FFN
/// down projection, where the rest are split in [`FFN_DOWN_GROUPS`] groups of like size
/// (smallest first, equal counts); the attention output in one group (empty: one group).
fn channel_groups(site: Site, maxima: &[f32]) -> Vec<Vec<usize>> {
    if site == Site::AttnOut || maxima.is_empty() || maxima.iter().any(|v| !v.is_finite()) {
        return Vec::new();
    }
    let outliers = outlier_channels(maxima);
    let mut rest: Vec<usize> = (0..maxima.len())
        .filter(|c| !outliers.contains(c))
        .collect();
    let mut groups = if site == Site::Out {
        rest.sort_by(|&a, &b| maxima[a].total_cmp(&maxima[b]).then(a.cmp(&b)));
        let per = rest.len().div_ceil(FFN_DOWN_GROUPS).max(1);
        rest.chunks(per).map(<[usize]>::to_vec).collect()
    } else if outliers.is_empty() {
        return Vec::new();
    } else {
        vec![rest]
    };
    if !outliers.is_empty() {
        groups.push(outliers);
    }
    groups
}

/// One sequence of a batch: token ids and token type ids of equal length.
#[derive(Debug, Clone, Copy)]
pub struct Seq<'a> {
    pub ids: &'a [u32],
    pub types: &'a [u32],
}

/// The encoder, its weights in the layout the forward pass reads.
pub struct NativeBert {
    dims: Dims,
    precision: Precision,
    word: Vec<f32>,
    pos: Vec<f32>,
    types: Vec<f32>,
    emb_ln: Norm,
    layers: Vec<Layer>,
}

impl NativeBert {
    /// From BERT weights named as in `transformers` (`embeddings.…`, `encoder.layer.N.…`, with or
    /// without a `bert.` prefix).
    ///
    /// `calibration` is read only for int8, to group each layer's input channels by size (see
    /// `quantise`); without it every layer has one group and the FFN down projection stays bf16
    /// (or f32).
    pub fn new(
        weights: &HashMap<String, Tensor>,
        dims: Dims,
        precision: Precision,
        calibration: &[Seq<'_>],
    ) -> Result<NativeBert, ModelError> {
        let get = |name: &str| -> Result<&Tensor, ModelError> {
            weights
                .get(name)
                .or_else(|| weights.get(&format!("bert.{name}")))
                .ok_or_else(|| ModelError::Config {
                    model: "native encoder".into(),
                    message: format!("the weights have no tensor {name}"),
                })
        };
        let flat = |name: &str, rows: usize| -> Result<Vec<f32>, ModelError> {
            let t = get(name)?.to_dtype(DType::F32)?;
            let v = t.flatten_all()?.to_vec1::<f32>()?;
            if v.len() != rows * dims.hidden {
                return Err(ModelError::Config {
                    model: "native encoder".into(),
                    message: format!(
                        "{name} has shape {:?}, expected ({rows}, {})",
                        t.dims(),
                        dims.hidden
                    ),
                });
            }
            Ok(v)
        };
        if dims.heads == 0 || !dims.hidden.is_multiple_of(dims.heads) {
            return Err(ModelError::Config {
                model: "native encoder".into(),
                message: format!(
                    "hidden size {} is not a multiple of {} heads",
                    dims.hidden, dims.heads
                ),
            });
        }
        let mut layers = Vec::with_capacity(dims.layers);
        for i in 0..dims.layers {
            let p = |s: &str| format!("encoder.layer.{i}.{s}");
            let wb = |s: &str| -> Result<(&Tensor, &Tensor), ModelError> {
                Ok((
                    get(&p(&format!("{s}.weight")))?,
                    get(&p(&format!("{s}.bias")))?,
                ))
            };
            layers.push(Layer {
                qkv: Dense::new(&[
                    wb("attention.self.query")?,
                    wb("attention.self.key")?,
                    wb("attention.self.value")?,
                ])?,
                attn_out: Dense::new(&[wb("attention.output.dense")?])?,
                ln1: Norm::new(
                    get(&p("attention.output.LayerNorm.weight"))?,
                    get(&p("attention.output.LayerNorm.bias"))?,
                )?,
                inter: Dense::new(&[wb("intermediate.dense")?])?,
                out: Dense::new(&[wb("output.dense")?])?,
                ln2: Norm::new(
                    get(&p("output.LayerNorm.weight"))?,
                    get(&p("output.LayerNorm.bias"))?,
                )?,
            });
        }
        let mut bert = NativeBert {
            dims,
            precision: Precision::F32,
            word: flat("embeddings.word_embeddings.weight", dims.vocab)?,
            pos: flat("embeddings.position_embeddings.weight", dims.max_positions)?,
            types: flat("embeddings.token_type_embeddings.weight", dims.type_vocab)?,
            emb_ln: Norm::new(
                get("embeddings.LayerNorm.weight")?,
                get("embeddings.LayerNorm.bias")?,
            )?,
            layers,
        };
        bert.quantise(precision, calibration)?;
        Ok(bert)
    }

    /// Puts the dense layers' f32 weights into `precision`. For int8, first runs `calibration`
    /// through the f32 encoder and groups each int8 layer's input channels by their largest
    /// activation ([`channel_groups`]): in MiniLM a handful of LayerNorm output channels reach
    /// ten times the others, and the GELU outputs span channels of very different sizes; per-row
    /// int8 ranges fitted to the largest leave the rest a fraction of the byte's levels. Without
    /// calibration, the FFN down projection stays bf16 (or f32).
    fn quantise(
        &mut self,
        precision: Precision,
        calibration: &[Seq<'_>],
    ) -> Result<(), ModelError> {
        // The FFN down projection first: it may reorder the up projection's outputs.
        let sites = [Site::Out, Site::Qkv, Site::AttnOut, Site::Inter];
        let mut maxima: Vec<[Vec<f32>; 4]> = Vec::new();
        if precision == Precision::Int8 && !calibration.is_empty() {
            maxima = self
                .layers
                .iter()
                .map(|l| [&l.qkv, &l.attn_out, &l.inter, &l.out].map(|d| vec![0f32; d.k]))
                .collect();
            self.forward(
                calibration,
                rayon::current_num_threads(),
                &mut |layer, site, x| {
                    let m = &mut maxima[layer][site as usize];
                    for r in x.chunks_exact(m.len()) {
                        for (m, v) in m.iter_mut().zip(r) {
                            *m = m.max(v.abs());
                        }
                    }
                },
            )?;
        }
        for (i, layer) in self.layers.iter_mut().enumerate() {
            for site in sites {
                let mut groups = maxima
                    .get(i)
                    .map_or_else(Vec::new, |m| channel_groups(site, &m[site as usize]));
                if site == Site::Out && groups.len() > 1 {
                    // The FFN's inner channels in group order: the up projection writes them so
                    // (GELU acts on each alone), and each group of the down projection reads a
                    // run of them instead of gathering its channels from every row.
                    let perm: Vec<usize> = groups.iter().flatten().copied().collect();
                    layer.inter.permute_outputs(&perm);
                    layer.out.permute_inputs(&perm);
                    let mut start = 0;
                    for g in &mut groups {
                        *g = (start..start + g.len()).collect();
                        start += g.len();
                    }
                }
                let p = if site == Site::Out && maxima.is_empty() {
                    precision.ffn_down()
                } else {
                    precision
                };
                layer.dense_mut(site).quantise(p, &groups);
            }
        }
        self.precision = precision;
        Ok(())
    }

    pub fn dims(&self) -> Dims {
        self.dims
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The mean of the last hidden states of each sequence: `(seqs, hidden)` row-major.
    /// `threads` > 1 lets the matrix products use that many rayon threads.
    pub fn mean_pooled(&self, seqs: &[Seq<'_>], threads: usize) -> Result<Vec<f32>, ModelError> {
        let h = self.dims.hidden;
        let x = self.hidden_states(seqs, threads)?;
        let mut out = vec![0f32; seqs.len() * h];
        let mut row = 0;
        for (s, o) in seqs.iter().zip(out.chunks_exact_mut(h)) {
            let l = s.ids.len();
            for r in x[row * h..(row + l) * h].chunks_exact(h) {
                for (o, v) in o.iter_mut().zip(r) {
                    *o += v;
                }
            }
            let inv = 1.0 / l.max(1) as f32;
            for o in o.iter_mut() {
                *o *= inv;
            }
            row += l;
        }
        Ok(out)
    }

    /// The last hidden states of all tokens of all sequences, packed: `(Σ lens, hidden)`.
    ///
    /// With prepacked weights (bf16, int8) the sequences go through the layers a few hundred
    /// tokens at a time, so that the activations between the products stay in the core's L2
    /// cache; every row's result is the same either way, since each row is computed on its own.
    /// (int8, batches of 32 on AMD EPYC Zen 4: 128 tokens a thread 1.11× the whole batch at
    /// once, 64 and 192 no better, 512 1.05×; bf16: 256 tokens about 1.03×. f32 goes through
    /// `gemm`, which packs the weights again on each call, and stays whole.)
    pub fn hidden_states(&self, seqs: &[Seq<'_>], threads: usize) -> Result<Vec<f32>, ModelError> {
        let per_thread = match self.precision {
            Precision::F32 => return self.forward(seqs, threads, &mut |_, _, _| {}),
            Precision::Bf16 => 256,
            Precision::Int8 => 128,
        };
        let budget = per_thread * threads.max(1);
        let total: usize = seqs.iter().map(|s| s.ids.len()).sum();
        let mut out = Vec::with_capacity(total * self.dims.hidden);
        let mut from = 0;
        while from < seqs.len() {
            let mut to = from + 1;
            let mut tokens = seqs[from].ids.len();
            while to < seqs.len() && tokens + seqs[to].ids.len() <= budget {
                tokens += seqs[to].ids.len();
                to += 1;
            }
            out.extend(self.forward(&seqs[from..to], threads, &mut |_, _, _| {})?);
            from = to;
        }
        Ok(out)
    }

    /// [`NativeBert::hidden_states`], showing `observe(layer, site, x)` the input `x` of each
    /// dense layer.
    fn forward(
        &self,
        seqs: &[Seq<'_>],
        threads: usize,
        observe: &mut dyn FnMut(usize, Site, &[f32]),
    ) -> Result<Vec<f32>, ModelError> {
        let d = self.dims;
        let h = d.hidden;
        let mut total = 0;
        for s in seqs {
            if s.ids.len() != s.types.len() || s.ids.len() > d.max_positions {
                return Err(ModelError::Config {
                    model: "native encoder".into(),
                    message: format!(
                        "a sequence of {} tokens and {} type ids (at most {} positions)",
                        s.ids.len(),
                        s.types.len(),
                        d.max_positions
                    ),
                });
            }
            total += s.ids.len();
        }
        // Embeddings.
        let mut x = vec![0f32; total * h];
        let mut row = 0;
        for s in seqs {
            for (p, (&id, &ty)) in s.ids.iter().zip(s.types).enumerate() {
                let (id, ty) = (id as usize, ty as usize);
                if id >= d.vocab || ty >= d.type_vocab {
                    return Err(ModelError::Config {
                        model: "native encoder".into(),
                        message: format!("token id {id} or type {ty} out of range"),
                    });
                }
                let dst = &mut x[row * h..(row + 1) * h];
                let (w, ps, t) = (
                    &self.word[id * h..(id + 1) * h],
                    &self.pos[p * h..(p + 1) * h],
                    &self.types[ty * h..(ty + 1) * h],
                );
                for j in 0..h {
                    dst[j] = w[j] + ps[j] + t[j];
                }
                row += 1;
            }
        }
        kernels::layer_norm_rows(&mut x, h, &self.emb_ln.w, &self.emb_ln.b, d.eps);

        let lens: Vec<usize> = seqs.iter().map(|s| s.ids.len()).collect();
        let mut qkv = vec![0f32; total * 3 * h];
        let mut ctx = vec![0f32; total * h];
        let mut tmp = vec![0f32; total * h];
        let mut inter = vec![0f32; total * d.intermediate];
        let longest = lens.iter().copied().max().unwrap_or(0);
        // (only the `gemm` path of the attention uses score rows)
        let mut scores = if kernels::attention_head_available() {
            Vec::new()
        } else {
            vec![0f32; longest * longest.div_ceil(16) * 16]
        };
        for (i, layer) in self.layers.iter().enumerate() {
            observe(i, Site::Qkv, &x);
            layer.qkv.forward(&x, total, None, false, &mut qkv, threads);
            self.attention(&qkv, &lens, &mut ctx, &mut scores);
            observe(i, Site::AttnOut, &ctx);
            layer
                .attn_out
                .forward(&ctx, total, Some(&x), false, &mut tmp, threads);
            kernels::layer_norm_rows(&mut tmp, h, &layer.ln1.w, &layer.ln1.b, d.eps);
            std::mem::swap(&mut x, &mut tmp);
            // (Chunks of 64 rows, to keep the intermediate activations in cache, measured
            // slower: gemm packs the weights again for every chunk, 3% → 13% of the time.)
            observe(i, Site::Inter, &x);
            layer
                .inter
                .forward(&x, total, None, true, &mut inter, threads);
            observe(i, Site::Out, &inter);
            layer
                .out
                .forward(&inter, total, Some(&x), false, &mut tmp, threads);
            kernels::layer_norm_rows(&mut tmp, h, &layer.ln2.w, &layer.ln2.b, d.eps);
            std::mem::swap(&mut x, &mut tmp);
        }
        Ok(x)
    }

    /// Self-attention of each sequence, each head: `ctx = softmax(Q·Kᵀ/√d)·V`, read from and
    /// written to the packed matrices through strides.
    fn attention(&self, qkv: &[f32], lens: &[usize], ctx: &mut [f32], scores: &mut [f32]) {
        let h = self.dims.hidden;
        let nh = self.dims.heads;
        if kernels::attention_head_available() {
            let hd = h / nh;
            let scale = 1.0 / (hd as f32).sqrt();
            let mut buf = Vec::new();
            let mut start = 0;
            for &l in lens {
                for head in 0..nh {
                    let at = start * 3 * h + head * hd;
                    kernels::attention_head(
                        qkv,
                        (at, at + h, at + 2 * h),
                        3 * h,
                        l,
                        hd,
                        scale,
                        &mut ctx[start * h + head * hd..],
                        h,
                        &mut buf,
                    );
                }
                start += l;
            }
            return;
        }
        attention_gemm(qkv, lens, h, nh, ctx, scores);
    }
}

/// Self-attention through `gemm` and [`kernels::softmax_rows`] (where
/// [`kernels::attention_head`] does not run), for `lens` sequences packed in `qkv`.
fn attention_gemm(
    qkv: &[f32],
    lens: &[usize],
    h: usize,
    nh: usize,
    ctx: &mut [f32],
    scores: &mut [f32],
) {
    let hd = h / nh;
    let scale = 1.0 / (hd as f32).sqrt();
    let row = 3 * h;
    let mut start = 0;
    for &l in lens {
        if l == 0 {
            continue;
        }
        // Score rows padded to a multiple of 16 columns, the padding at -inf (probability
        // 0), so that the softmax runs on whole vectors.
        let ld = l.div_ceil(16) * 16;
        let s = &mut scores[..l * ld];
        for head in 0..nh {
            // (The softmax of the previous head overwrote the padding.)
            for row in s.chunks_exact_mut(ld) {
                row[l..].fill(f32::NEG_INFINITY);
            }
            let q = qkv[start * row + head * hd..].as_ptr();
            let k = qkv[start * row + h + head * hd..].as_ptr();
            let v = qkv[start * row + 2 * h + head * hd..].as_ptr();
            unsafe {
                // SAFETY: q, k, v address l rows of hd columns with row stride 3h inside qkv
                // (rows start..start+l); s is l rows of ld ≥ l; the destination is l rows of hd columns
                // of ctx with row stride h.
                // S (l, l) = scale · Q (l, hd) · Kᵀ (hd, l)
                gemm::gemm(
                    l,
                    l,
                    hd,
                    s.as_mut_ptr(),
                    1,
                    ld as isize,
                    false,
                    q,
                    1,
                    row as isize,
                    k,
                    row as isize,
                    1,
                    0.0f32,
                    scale,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
                kernels::softmax_rows(s, ld);
                // ctx (l, hd) = P (l, l) · V (l, hd)
                gemm::gemm(
                    l,
                    hd,
                    l,
                    ctx[start * h + head * hd..].as_mut_ptr(),
                    1,
                    h as isize,
                    false,
                    s.as_ptr(),
                    1,
                    ld as isize,
                    v,
                    1,
                    row as isize,
                    0.0f32,
                    1.0f32,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                );
            }
        }
        start += l;
    }
}

/// Element-wise kernels, compiled for AVX-512 and AVX2+FMA next to the baseline, chosen once at
/// run time. The loops are plain Rust that the compiler vectorises for the enabled features.
pub mod kernels {
    use std::sync::OnceLock;

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Level {
        Base,
        #[cfg(target_arch = "x86_64")]
        Avx2,
        #[cfg(target_arch = "x86_64")]
        Avx512,
    }

    /// The instruction set the element-wise kernels run on here (for `bench`).
    pub fn level_name() -> &'static str {
        match level() {
            Level::Base => "baseline x86-64/portable",
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => "AVX2+FMA",
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => "AVX-512 (F, VL) with AVX2+FMA",
        }
    }

    fn level() -> Level {
        static L: OnceLock<Level> = OnceLock::new();
        *L.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                // Exactly the features the AVX-512 kernels are compiled with (`v4` below).
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vl")
                    && std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
                {
                    return Level::Avx512;
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    return Level::Avx2;
                }
            }
            Level::Base
        })
    }

    macro_rules! dispatch {
        ($name:ident, $generic:ident, ($($arg:ident : $ty:ty),*)) => {
            pub fn $name($($arg: $ty),*) {
                #[cfg(target_arch = "x86_64")]
                {
                    /// # Safety
                    ///
                    /// The CPU has AVX-512F, AVX-512VL, AVX2 and FMA.
                    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                    unsafe fn v4($($arg: $ty),*) { $generic($($arg),*) }
                    /// # Safety
                    ///
                    /// The CPU has AVX2 and FMA.
                    #[target_feature(enable = "avx2,fma")]
                    unsafe fn v3($($arg: $ty),*) { $generic($($arg),*) }
                    match level() {
                        // SAFETY: `level` found every feature `v4` is compiled with.
                        Level::Avx512 => return unsafe { v4($($arg),*) },
                        // SAFETY: `level` found AVX2 and FMA, what `v3` is compiled with.
                        Level::Avx2 => return unsafe { v3($($arg),*) },
                        Level::Base => {}
                    }
                }
                $generic($($arg),*)
            }
        };
    }

    /// GELU with the exact (erf) form, in place.
    pub fn gelu(x: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            match level() {
                // SAFETY: AVX-512F was detected on this CPU.
                Level::Avx512 => return unsafe { gelu_avx512(x) },
                // SAFETY: AVX2 and FMA were detected on this CPU.
                Level::Avx2 => return unsafe { gelu_avx2(x) },
                Level::Base => {}
            }
        }
        gelu_generic(x)
    }

    /// [`exp`] on 16 lanes (arguments ≤ 88; below −87 it gives e^−87 ≈ 1.6e-38).
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn exp512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
        use std::arch::x86_64::*;
        let c = |v: f32| _mm512_set1_ps(v);
        let e = _mm512_min_ps(_mm512_max_ps(x, c(-87.0)), c(88.0));
        let k = _mm512_roundscale_ps::<0x08>(_mm512_mul_ps(e, c(std::f32::consts::LOG2_E)));
        let r = _mm512_fnmadd_ps(k, c(0.693_359_4), e);
        let r = _mm512_fnmadd_ps(k, c(-2.121_944_4e-4), r);
        let mut q = c(1.0 / 720.0);
        for k in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            q = _mm512_fmadd_ps(q, r, c(k));
        }
        _mm512_scalef_ps(q, k)
    }

    /// Softmax of each row of `n` values with AVX-512 intrinsics, the last `n % 16` values of
    /// each row under a lane mask (attention rows are as long as the batch's longest pair, rarely
    /// a multiple of 16; in training their portable softmax and GELU's took a tenth of the time).
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `n` > 0.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn softmax_avx512(x: &mut [f32], n: usize) {
        // SAFETY: AVX-512F (this function's contract); each row has `n` values: the full 16-lane
        // loads and stores at `p + i` have i + 16 ≤ full ≤ n, and the masked ones at `p + full`
        // touch only the lanes of `tail`, the n − full < 16 values left in the row.
        unsafe {
            use std::arch::x86_64::*;
            let full = n / 16 * 16;
            let tail: __mmask16 = ((1u32 << (n - full)) - 1) as __mmask16;
            let neg_inf = _mm512_set1_ps(f32::NEG_INFINITY);
            for r in x.chunks_exact_mut(n) {
                let p = r.as_mut_ptr();
                let mut m = _mm512_mask_loadu_ps(neg_inf, tail, p.add(full));
                for i in (0..full).step_by(16) {
                    m = _mm512_max_ps(m, _mm512_loadu_ps(p.add(i)));
                }
                let m = _mm512_set1_ps(_mm512_reduce_max_ps(m));
                let mut s = _mm512_setzero_ps();
                for i in (0..full).step_by(16) {
                    let e = exp512(_mm512_sub_ps(_mm512_loadu_ps(p.add(i)), m));
                    s = _mm512_add_ps(s, e);
                    _mm512_storeu_ps(p.add(i), e);
                }
                let e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, p.add(full)), m));
                s = _mm512_mask_add_ps(s, tail, s, e);
                _mm512_mask_storeu_ps(p.add(full), tail, e);
                let inv = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(s));
                for i in (0..full).step_by(16) {
                    _mm512_storeu_ps(p.add(i), _mm512_mul_ps(_mm512_loadu_ps(p.add(i)), inv));
                }
                let t = _mm512_maskz_loadu_ps(tail, p.add(full));
                _mm512_mask_storeu_ps(p.add(full), tail, _mm512_mul_ps(t, inv));
            }
        }
    }

    /// erf(x/√2) on 16 lanes, with e^(−x²/2) (the exponential its formula takes, which is also
    /// the standard normal density's up to 1/√(2π)): the formulas of [`erf`] and [`exp`], with
    /// fused multiply-adds, the reciprocal from `vrcp14ps` and one Newton step.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn erf_scaled512(
        u: std::arch::x86_64::__m512,
    ) -> (std::arch::x86_64::__m512, std::arch::x86_64::__m512) {
        use std::arch::x86_64::*;
        let c = |v: f32| _mm512_set1_ps(v);
        let z = _mm512_mul_ps(u, c(std::f32::consts::FRAC_1_SQRT_2));
        let a = _mm512_abs_ps(z);
        let d = _mm512_fmadd_ps(c(P), a, c(1.0));
        let r = _mm512_rcp14_ps(d);
        let t = _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, c(2.0)));
        let mut poly = c(A[4]);
        for &k in A[..4].iter().rev() {
            poly = _mm512_fmadd_ps(poly, t, c(k));
        }
        poly = _mm512_mul_ps(poly, t);
        // e^(−a²) = e^(−x²/2)
        // SAFETY: AVX-512F (this function's contract).
        let ex = unsafe { exp512(_mm512_mul_ps(_mm512_sub_ps(c(0.0), a), a)) };
        let erf_abs = _mm512_fnmadd_ps(poly, ex, c(1.0));
        let erf = _mm512_castsi512_ps(_mm512_or_si512(
            _mm512_castps_si512(erf_abs),
            _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32(i32::MIN)),
        ));
        (erf, ex)
    }

    /// [`gelu`] written with AVX-512 intrinsics (see [`erf_scaled512`]). The last `len % 16`
    /// values take the portable path.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn gelu_avx512(x: &mut [f32]) {
        // SAFETY: AVX-512F (this function's contract); i + 16 ≤ n ≤ x.len(), so each 16-lane load and store stays inside `x`.
        unsafe {
            use std::arch::x86_64::*;
            let c = |v: f32| _mm512_set1_ps(v);
            let n = x.len() / 16 * 16;
            for i in (0..n).step_by(16) {
                let p = x.as_mut_ptr().add(i);
                let u = _mm512_loadu_ps(p);
                let (erf, _) = erf_scaled512(u);
                let y = _mm512_mul_ps(_mm512_mul_ps(u, c(0.5)), _mm512_add_ps(c(1.0), erf));
                _mm512_storeu_ps(p, y);
            }
            gelu_generic(&mut x[n..]);
        }
    }

    /// GELU's backward pass: `dx = g · GELU′(x)`, GELU′(x) = Φ(x) + x·φ(x), element by element.
    pub fn gelu_backward(dx: &mut [f32], x: &[f32], g: &[f32]) {
        assert!(dx.len() == x.len() && g.len() == x.len());
        #[cfg(target_arch = "x86_64")]
        match level() {
            // SAFETY: AVX-512F was detected on this CPU; the three slices have one length.
            Level::Avx512 => return unsafe { gelu_backward_avx512(dx, x, g) },
            // SAFETY: AVX2 and FMA were detected on this CPU; the slices have one length.
            Level::Avx2 => return unsafe { gelu_backward_avx2(dx, x, g) },
            Level::Base => {}
        }
        gelu_backward_generic(dx, x, g)
    }

    /// `1/√(2π)`, the standard normal density at 0.
    const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

    fn gelu_backward_generic(dx: &mut [f32], x: &[f32], g: &[f32]) {
        for ((d, &x), &g) in dx.iter_mut().zip(x).zip(g) {
            let cdf = 0.5 * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
            *d = g * (cdf + x * FRAC_1_SQRT_2PI * exp(-0.5 * x * x));
        }
    }

    /// [`gelu_backward`] with AVX-512 intrinsics: one exponential serves both erf and the
    /// density (see [`erf_scaled512`]). The last `len % 16` values take the portable path.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `dx`, `x` and `g` have one length.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn gelu_backward_avx512(dx: &mut [f32], x: &[f32], g: &[f32]) {
        // SAFETY: AVX-512F (this function's contract); i + 16 ≤ n ≤ the common length, so each
        // 16-lane load and store stays inside its slice.
        unsafe {
            use std::arch::x86_64::*;
            let c = |v: f32| _mm512_set1_ps(v);
            let n = x.len() / 16 * 16;
            for i in (0..n).step_by(16) {
                let u = _mm512_loadu_ps(x.as_ptr().add(i));
                let (erf, ex) = erf_scaled512(u);
                let cdf = _mm512_mul_ps(c(0.5), _mm512_add_ps(c(1.0), erf));
                let slope = _mm512_fmadd_ps(_mm512_mul_ps(u, c(FRAC_1_SQRT_2PI)), ex, cdf);
                let d = _mm512_mul_ps(_mm512_loadu_ps(g.as_ptr().add(i)), slope);
                _mm512_storeu_ps(dx.as_mut_ptr().add(i), d);
            }
            gelu_backward_generic(&mut dx[n..], &x[n..], &g[n..]);
        }
    }

    /// For the tests: GELU's backward pass by each implementation, `None` where this CPU cannot
    /// run it.
    #[cfg(test)]
    pub(crate) fn gelu_backward_each(
        x: &[f32],
        g: &[f32],
    ) -> Vec<(&'static str, Option<Vec<f32>>)> {
        let mut generic = vec![0f32; x.len()];
        gelu_backward_generic(&mut generic, x, g);
        #[cfg(target_arch = "x86_64")]
        let avx512 = (level() == Level::Avx512).then(|| {
            let mut d = vec![0f32; x.len()];
            // SAFETY: `level` found AVX-512F on this CPU; the slices have one length.
            unsafe { gelu_backward_avx512(&mut d, x, g) };
            d
        });
        #[cfg(not(target_arch = "x86_64"))]
        let avx512 = None;
        #[cfg(target_arch = "x86_64")]
        let avx2 = (level() != Level::Base).then(|| {
            let mut d = vec![0f32; x.len()];
            // SAFETY: `level` found AVX2 and FMA on this CPU (Avx512 implies them); the slices
            // have one length.
            unsafe { gelu_backward_avx2(&mut d, x, g) };
            d
        });
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = None;
        let mut dispatched = vec![0f32; x.len()];
        gelu_backward(&mut dispatched, x, g);
        vec![
            ("portable", Some(generic)),
            ("avx512", avx512),
            ("avx2", avx2),
            ("dispatched", Some(dispatched)),
        ]
    }

    /// [`exp`] on 8 lanes with AVX2 and FMA (arguments ≤ 88; below −87 it gives e^−87): as
    /// [`exp512`], with 2^k built from the exponent bits (k + 127 stays in 1..=254).
    ///
    /// # Safety
    ///
    /// The CPU has AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn exp256(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        let c = |v: f32| _mm256_set1_ps(v);
        let e = _mm256_min_ps(_mm256_max_ps(x, c(-87.0)), c(88.0));
        let k = _mm256_round_ps::<0x08>(_mm256_mul_ps(e, c(std::f32::consts::LOG2_E)));
        let r = _mm256_fnmadd_ps(k, c(0.693_359_4), e);
        let r = _mm256_fnmadd_ps(k, c(-2.121_944_4e-4), r);
        let mut q = c(1.0 / 720.0);
        for k in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
            q = _mm256_fmadd_ps(q, r, c(k));
        }
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(k),
            _mm256_set1_epi32(127),
        ));
        _mm256_mul_ps(q, _mm256_castsi256_ps(bits))
    }

    /// Softmax of each row of `n` values, `n` a multiple of 8, with AVX2 intrinsics.
    ///
    /// # Safety
    ///
    /// The CPU has AVX2 and FMA; `n` is a multiple of 8.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn softmax_avx2(x: &mut [f32], n: usize) {
        use std::arch::x86_64::*;
        /// The sum or maximum of 8 lanes.
        #[target_feature(enable = "avx2,fma")]
        fn reduce(v: __m256, f: unsafe fn(__m128, __m128) -> __m128) -> f32 {
            // SAFETY: SSE is part of x86-64 and AVX is implied by AVX2 (this function's
            // features); `f` is `_mm_add_ps` or `_mm_max_ps`, plain SSE.
            unsafe {
                let h = f(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
                let h = f(h, _mm_movehl_ps(h, h));
                let h = f(h, _mm_shuffle_ps::<0b01>(h, h));
                _mm_cvtss_f32(h)
            }
        }
        // SAFETY: AVX2 and FMA (this function's contract); each row has `n` values, `n` a
        // multiple of 8, so every 8-lane load and store at `p + i`, i < n, stays inside the row.
        unsafe {
            for r in x.chunks_exact_mut(n) {
                let p = r.as_mut_ptr();
                let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
                for i in (0..n).step_by(8) {
                    m = _mm256_max_ps(m, _mm256_loadu_ps(p.add(i)));
                }
                let m = _mm256_set1_ps(reduce(m, _mm_max_ps));
                let mut s = _mm256_setzero_ps();
                for i in (0..n).step_by(8) {
                    let e = exp256(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), m));
                    s = _mm256_add_ps(s, e);
                    _mm256_storeu_ps(p.add(i), e);
                }
                let inv = _mm256_set1_ps(1.0 / reduce(s, _mm_add_ps));
                for i in (0..n).step_by(8) {
                    _mm256_storeu_ps(p.add(i), _mm256_mul_ps(_mm256_loadu_ps(p.add(i)), inv));
                }
            }
        }
    }

    /// `erf(u/√2)` and `e^(−u²/2)` on 8 lanes with AVX2 and FMA, as [`erf_scaled512`]: the
    /// reciprocal from `vrcpps` and two Newton steps (`vrcpps` has 12 bits where `vrcp14ps`
    /// has 14), 2^k from the exponent bits ([`exp256`]).
    ///
    /// # Safety
    ///
    /// The CPU has AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn erf_scaled256(
        u: std::arch::x86_64::__m256,
    ) -> (std::arch::x86_64::__m256, std::arch::x86_64::__m256) {
        use std::arch::x86_64::*;
        let c = |v: f32| _mm256_set1_ps(v);
        let sign = c(-0.0);
        let z = _mm256_mul_ps(u, c(std::f32::consts::FRAC_1_SQRT_2));
        let a = _mm256_andnot_ps(sign, z);
        let d = _mm256_fmadd_ps(c(P), a, c(1.0));
        let r = _mm256_rcp_ps(d);
        let r = _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, c(2.0)));
        let t = _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, c(2.0)));
        let mut poly = c(A[4]);
        for &k in A[..4].iter().rev() {
            poly = _mm256_fmadd_ps(poly, t, c(k));
        }
        poly = _mm256_mul_ps(poly, t);
        // e^(−a²) = e^(−x²/2)
        // SAFETY: AVX2 and FMA (this function's contract).
        let ex = unsafe { exp256(_mm256_mul_ps(_mm256_sub_ps(c(0.0), a), a)) };
        let erf_abs = _mm256_fnmadd_ps(poly, ex, c(1.0));
        (_mm256_or_ps(erf_abs, _mm256_and_ps(z, sign)), ex)
    }

    /// [`gelu_avx512`] with AVX2 and FMA, 8 lanes at a time (see [`erf_scaled256`]). The last
    /// `len % 8` values take the portable path.
    ///
    /// # Safety
    ///
    /// The CPU has AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gelu_avx2(x: &mut [f32]) {
        // SAFETY: AVX2 and FMA (this function's contract); i + 8 ≤ n ≤ x.len(), so each 8-lane
        // load and store stays inside `x`.
        unsafe {
            use std::arch::x86_64::*;
            let c = |v: f32| _mm256_set1_ps(v);
            let n = x.len() / 8 * 8;
            for i in (0..n).step_by(8) {
                let p = x.as_mut_ptr().add(i);
                let u = _mm256_loadu_ps(p);
                let (erf, _) = erf_scaled256(u);
                let y = _mm256_mul_ps(_mm256_mul_ps(u, c(0.5)), _mm256_add_ps(c(1.0), erf));
                _mm256_storeu_ps(p, y);
            }
            gelu_generic(&mut x[n..]);
        }
    }

    /// [`gelu_backward`] with AVX2 and FMA: one exponential serves both erf and the density
    /// (see [`erf_scaled256`]); on Zen 3 the portable loop took 5% of `train`'s time. The last
    /// `len % 8` values take the portable path.
    ///
    /// # Safety
    ///
    /// The CPU has AVX2 and FMA; `dx`, `x` and `g` have one length.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn gelu_backward_avx2(dx: &mut [f32], x: &[f32], g: &[f32]) {
        assert!(dx.len() == x.len() && g.len() == x.len());
        // SAFETY: AVX2 and FMA (this function's contract); i + 8 ≤ n ≤ the common length
        // (asserted), so each 8-lane load and store stays inside its slice.
        unsafe {
            use std::arch::x86_64::*;
            let c = |v: f32| _mm256_set1_ps(v);
            let n = x.len() / 8 * 8;
            for i in (0..n).step_by(8) {
                let u = _mm256_loadu_ps(x.as_ptr().add(i));
                let (erf, ex) = erf_scaled256(u);
                let cdf = _mm256_mul_ps(c(0.5), _mm256_add_ps(c(1.0), erf));
                let slope = _mm256_fmadd_ps(_mm256_mul_ps(u, c(FRAC_1_SQRT_2PI)), ex, cdf);
                let d = _mm256_mul_ps(_mm256_loadu_ps(g.as_ptr().add(i)), slope);
                _mm256_storeu_ps(dx.as_mut_ptr().add(i), d);
            }
            gelu_backward_generic(&mut dx[n..], &x[n..], &g[n..]);
        }
    }

    /// Transposes the 16 × 16 matrix whose rows are `t` in registers (lane `c` of `t[r]`
    /// becomes lane `r` of `t[c]`): pairs of rows interleaved, then pairs of pairs, then 128-bit
    /// quarters twice.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn transpose16(t: &mut [std::arch::x86_64::__m512; 16]) {
        use std::arch::x86_64::*;
        let mut a = [_mm512_setzero_ps(); 16];
        for i in 0..8 {
            a[2 * i] = _mm512_unpacklo_ps(t[2 * i], t[2 * i + 1]);
            a[2 * i + 1] = _mm512_unpackhi_ps(t[2 * i], t[2 * i + 1]);
        }
        let mut b = [_mm512_setzero_ps(); 16];
        for i in 0..4 {
            let (x0, x1, y0, y1) = (a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]);
            b[4 * i] = _mm512_shuffle_ps::<0x44>(x0, y0);
            b[4 * i + 1] = _mm512_shuffle_ps::<0xEE>(x0, y0);
            b[4 * i + 2] = _mm512_shuffle_ps::<0x44>(x1, y1);
            b[4 * i + 3] = _mm512_shuffle_ps::<0xEE>(x1, y1);
        }
        // b[4i + k] holds, in each 128-bit quarter q, column 4q + k of rows 4i..4i + 4.
        let mut c = [_mm512_setzero_ps(); 16];
        for i in 0..2 {
            for k in 0..4 {
                let (x, y) = (b[8 * i + k], b[8 * i + 4 + k]);
                c[8 * i + k] = _mm512_shuffle_f32x4::<0x88>(x, y);
                c[8 * i + 4 + k] = _mm512_shuffle_f32x4::<0xDD>(x, y);
            }
        }
        for k in 0..8 {
            t[k] = _mm512_shuffle_f32x4::<0x88>(c[k], c[8 + k]);
            t[8 + k] = _mm512_shuffle_f32x4::<0xDD>(c[k], c[8 + k]);
        }
    }

    /// [`transpose16`] for the tests.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F.
    #[cfg(all(test, target_arch = "x86_64"))]
    pub(super) unsafe fn transpose16_for_tests(t: &mut [std::arch::x86_64::__m512; 16]) {
        // SAFETY: the caller's contract.
        unsafe { transpose16(t) }
    }

    /// Whether [`attention_head`] runs here (AVX-512; elsewhere the caller multiplies through
    /// `gemm` and [`softmax_rows`]).
    pub fn attention_head_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            level() == Level::Avx512
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// One head's self-attention over one sequence of `l` rows, `ctx = softmax(scale·Q·Kᵀ)·V`:
    /// `q`, `k` and `v` are the head's `hd` columns of rows of stride `rs` in one buffer, `ctx`
    /// rows of stride `cs`. Sixteen query rows at a time, one per lane: each key's scores are
    /// one vector, so the softmax's maximum and sum are lane-wise (no per-row horizontal
    /// reduction) and nothing is packed or padded (through `gemm`, these small products and the
    /// row-wise softmax took 17% of the int8 time). `buf` is scratch.
    ///
    /// # Panics
    ///
    /// Where [`attention_head_available`] is false, or the slices are too short.
    #[allow(clippy::too_many_arguments)]
    pub fn attention_head(
        qkv: &[f32],
        (q, k, v): (usize, usize, usize),
        rs: usize,
        l: usize,
        hd: usize,
        scale: f32,
        ctx: &mut [f32],
        cs: usize,
        buf: &mut Vec<f32>,
    ) {
        assert!(attention_head_available(), "attention_head needs AVX-512");
        if l == 0 {
            return;
        }
        let last = (l - 1) * rs + hd;
        assert!(q + last <= qkv.len() && k + last <= qkv.len() && v + last <= qkv.len());
        assert!(ctx.len() >= (l - 1) * cs + hd);
        // (every element the kernel reads it writes first, so the scratch is not cleared)
        if buf.len() < 16 * (hd + l) {
            buf.resize(16 * (hd + l), 0.0);
        }
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX-512F was detected (asserted above); the asserts bound every row this reads
        // and writes; `buf` holds 16·(hd + l) floats.
        unsafe {
            attention_head_avx512(
                qkv,
                (q, k, v),
                rs,
                l,
                hd,
                scale,
                ctx,
                cs,
                &mut buf[..16 * (hd + l)],
            )
        }
    }

    /// [`attention_head`] with AVX-512 intrinsics.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; rows `0..l` at offsets `q`, `k`, `v` (stride `rs`, `hd` columns)
    /// are inside `qkv`, rows `0..l` of `ctx` (stride `cs`, `hd` columns) inside `ctx`, and
    /// `buf` holds `16·(hd + l)` floats.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn attention_head_avx512(
        qkv: &[f32],
        (q, k, v): (usize, usize, usize),
        rs: usize,
        l: usize,
        hd: usize,
        scale: f32,
        ctx: &mut [f32],
        cs: usize,
        buf: &mut [f32],
    ) {
        use std::arch::x86_64::*;
        let (qt, st) = buf.split_at_mut(16 * hd);
        let base = qkv.as_ptr();
        for i0 in (0..l).step_by(16) {
            let rows = (l - i0).min(16);
            // Q of these rows, transposed (lane r of vector d: row i0 + r, column d), scaled, in
            // tiles of 16 columns: the rows loaded as vectors (the columns past hd masked off,
            // the rows past the sequence zero and never written back), transposed in registers.
            for c0 in (0..hd).step_by(16) {
                let w = (hd - c0).min(16);
                let cols: __mmask16 = if w == 16 { 0xffff } else { (1u16 << w) - 1 };
                let mut t = [_mm512_setzero_ps(); 16];
                for (r, v) in t.iter_mut().enumerate().take(rows) {
                    // SAFETY: row i0 + r < l, columns c0..c0 + w ≤ hd of the head's Q, inside
                    // `qkv` (the caller's contract); masked-off lanes are not read.
                    *v = unsafe { _mm512_maskz_loadu_ps(cols, base.add(q + (i0 + r) * rs + c0)) };
                }
                // SAFETY: AVX-512F (this function's contract).
                unsafe { transpose16(&mut t) };
                for (c, v) in t.iter().enumerate().take(w) {
                    // SAFETY: vector c0 + c < hd of `qt`, which holds hd vectors of 16.
                    unsafe {
                        _mm512_storeu_ps(
                            qt.as_mut_ptr().add(16 * (c0 + c)),
                            _mm512_mul_ps(*v, _mm512_set1_ps(scale)),
                        )
                    };
                }
            }
            // SAFETY: AVX-512F (this function's contract); `qt` holds hd vectors of 16 and `st`
            // l vectors of 16 (the 16-lane loads and stores at 16·d and 16·j); the key and
            // value reads are elements (j, d) with j < l, d < hd of rows inside `qkv`; the
            // masked stores write columns c0..c0 + w ≤ hd of rows i0 + r < l of `ctx`, inside
            // it (the caller's contract).
            unsafe {
                let qp = qt.as_ptr();
                let sp = st.as_mut_ptr();
                // Scores: vector j holds key j's score for each of the 16 rows; eight keys at
                // a time, so that eight independent chains of multiply-adds are in flight.
                let mut m = _mm512_set1_ps(f32::NEG_INFINITY);
                let mut j = 0;
                while j + 8 <= l {
                    let mut acc = [_mm512_setzero_ps(); 8];
                    for d in 0..hd {
                        let qd = _mm512_loadu_ps(qp.add(16 * d));
                        for (t, a) in acc.iter_mut().enumerate() {
                            let kv = _mm512_set1_ps(*base.add(k + (j + t) * rs + d));
                            *a = _mm512_fmadd_ps(qd, kv, *a);
                        }
                    }
                    for (t, a) in acc.iter().enumerate() {
                        _mm512_storeu_ps(sp.add(16 * (j + t)), *a);
                        m = _mm512_max_ps(m, *a);
                    }
                    j += 8;
                }
                while j < l {
                    let mut a = _mm512_setzero_ps();
                    for d in 0..hd {
                        let kv = _mm512_set1_ps(*base.add(k + j * rs + d));
                        a = _mm512_fmadd_ps(_mm512_loadu_ps(qp.add(16 * d)), kv, a);
                    }
                    _mm512_storeu_ps(sp.add(16 * j), a);
                    m = _mm512_max_ps(m, a);
                    j += 1;
                }
                // Softmax over the keys, lane by lane.
                let mut sum = _mm512_setzero_ps();
                for j in 0..l {
                    let e = exp512(_mm512_sub_ps(_mm512_loadu_ps(sp.add(16 * j)), m));
                    sum = _mm512_add_ps(sum, e);
                    _mm512_storeu_ps(sp.add(16 * j), e);
                }
                let inv = _mm512_div_ps(_mm512_set1_ps(1.0), sum);
                // ctx = P · V, eight columns at a time (then one at a time), into `qt` (Q is no
                // longer needed), then transposed back to rows in tiles of 16 columns.
                let ct = qt.as_mut_ptr();
                let mut d = 0;
                while d + 8 <= hd {
                    let mut acc = [_mm512_setzero_ps(); 8];
                    for j in 0..l {
                        let pj = _mm512_loadu_ps(sp.add(16 * j));
                        for (t, a) in acc.iter_mut().enumerate() {
                            let vv = _mm512_set1_ps(*base.add(v + j * rs + d + t));
                            *a = _mm512_fmadd_ps(pj, vv, *a);
                        }
                    }
                    for (t, a) in acc.iter().enumerate() {
                        _mm512_storeu_ps(ct.add(16 * (d + t)), _mm512_mul_ps(*a, inv));
                    }
                    d += 8;
                }
                while d < hd {
                    let mut a = _mm512_setzero_ps();
                    for j in 0..l {
                        let vv = _mm512_set1_ps(*base.add(v + j * rs + d));
                        a = _mm512_fmadd_ps(_mm512_loadu_ps(sp.add(16 * j)), vv, a);
                    }
                    _mm512_storeu_ps(ct.add(16 * d), _mm512_mul_ps(a, inv));
                    d += 1;
                }
                for c0 in (0..hd).step_by(16) {
                    let w = (hd - c0).min(16);
                    let cols: __mmask16 = if w == 16 { 0xffff } else { (1u16 << w) - 1 };
                    let mut t = [_mm512_setzero_ps(); 16];
                    for (c, v) in t.iter_mut().enumerate().take(w) {
                        *v = _mm512_loadu_ps(ct.add(16 * (c0 + c)));
                    }
                    transpose16(&mut t);
                    for (r, v) in t.iter().enumerate().take(rows) {
                        _mm512_mask_storeu_ps(ctx.as_mut_ptr().add((i0 + r) * cs + c0), cols, *v);
                    }
                }
            }
        }
    }

    /// Softmax of each row of `n` values, in place.
    pub fn softmax_rows(x: &mut [f32], n: usize) {
        #[cfg(target_arch = "x86_64")]
        if n > 0 && level() == Level::Avx512 {
            // SAFETY: AVX-512F was detected on this CPU; n > 0.
            return unsafe { softmax_avx512(x, n) };
        }
        #[cfg(target_arch = "x86_64")]
        if n.is_multiple_of(8) && level() != Level::Base {
            // SAFETY: AVX2 and FMA were detected on this CPU (Avx512 implies them).
            return unsafe { softmax_avx2(x, n) };
        }
        softmax_generic(x, n)
    }

    /// For the tests: GELU by each implementation (the hand-written AVX-512 one and the portable
    /// one), `None` where this CPU cannot run it.
    #[cfg(test)]
    pub(crate) fn gelu_each(x: &[f32]) -> Vec<(&'static str, Option<Vec<f32>>)> {
        let mut generic = x.to_vec();
        gelu_generic(&mut generic);
        #[cfg(target_arch = "x86_64")]
        let avx512 = (level() == Level::Avx512).then(|| {
            let mut y = x.to_vec();
            // SAFETY: `level` found AVX-512F (with VL, AVX2, FMA) on this CPU.
            unsafe { gelu_avx512(&mut y) };
            y
        });
        #[cfg(not(target_arch = "x86_64"))]
        let avx512 = None;
        #[cfg(target_arch = "x86_64")]
        let avx2 = (level() != Level::Base).then(|| {
            let mut y = x.to_vec();
            // SAFETY: `level` found AVX2 and FMA on this CPU (Avx512 implies them).
            unsafe { gelu_avx2(&mut y) };
            y
        });
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = None;
        vec![
            ("portable", Some(generic)),
            ("avx512", avx512),
            ("avx2", avx2),
        ]
    }

    /// For the tests: softmax rows by each implementation, `None` where this CPU cannot run it
    /// (the AVX2 one needs `n` a multiple of 8).
    #[cfg(test)]
    pub(crate) fn softmax_each(x: &[f32], n: usize) -> Vec<(&'static str, Option<Vec<f32>>)> {
        let mut generic = x.to_vec();
        softmax_generic(&mut generic, n);
        #[cfg(target_arch = "x86_64")]
        let avx512 = (level() == Level::Avx512 && n > 0).then(|| {
            let mut y = x.to_vec();
            // SAFETY: `level` found AVX-512F on this CPU, and n > 0.
            unsafe { softmax_avx512(&mut y, n) };
            y
        });
        #[cfg(not(target_arch = "x86_64"))]
        let avx512 = None;
        #[cfg(target_arch = "x86_64")]
        let avx2 = (level() != Level::Base && n.is_multiple_of(8)).then(|| {
            let mut y = x.to_vec();
            // SAFETY: `level` found AVX2 and FMA on this CPU, and n is a multiple of 8.
            unsafe { softmax_avx2(&mut y, n) };
            y
        });
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = None;
        vec![
            ("portable", Some(generic)),
            ("avx512", avx512),
            ("avx2", avx2),
        ]
    }
    dispatch!(
        layer_norm_rows,
        layer_norm_generic,
        (x: &mut [f32], n: usize, w: &[f32], b: &[f32], eps: f32)
    );
    /// Abramowitz & Stegun 7.1.26: erf(x) ≈ 1 − (a₁t + … + a₅t⁵)·e^(−x²), t = 1/(1 + P·|x|).
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [
        0.254_829_6,
        -0.284_496_74,
        1.421_413_7,
        -1.453_152,
        1.061_405_4,
    ];

    /// `e^x` for x ≤ 0 (and moderately positive x): x = k·ln 2 + r with |r| ≤ ln 2 / 2, e^r by a
    /// degree-6 Taylor polynomial (relative error below 2e-7 on that interval), 2^k from the
    /// exponent bits. Arguments below -87 give 0.
    #[inline(always)]
    pub fn exp(x: f32) -> f32 {
        const LOG2E: f32 = std::f32::consts::LOG2_E;
        // ln 2 split so that k·LN2_HI is exact (LN2_HI has 9 significant bits).
        const LN2_HI: f32 = 0.693_359_4;
        const LN2_LO: f32 = -2.121_944_4e-4;
        let x = x.clamp(-87.0, 88.0);
        // floor(v) without `floorf`: where the caller is compiled for baseline x86-64 (SSE2 has
        // no rounding instruction) `.floor()` is a libm call per value, 3% of a training
        // profile. |v| < 128, so truncating through i32 is exact; step down for negative
        // non-integers. The same value as `.floor()`.
        let v = x * LOG2E + 0.5;
        let t = v as i32 as f32;
        let k = if t > v { t - 1.0 } else { t };
        let r = x - k * LN2_HI - k * LN2_LO;
        let p = 1.0
            + r * (1.0
                + r * (0.5
                    + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
        let scale = f32::from_bits((((k as i32) + 127) as u32) << 23);
        p * scale
    }

    /// erf by Abramowitz & Stegun 7.1.26: 1 − (a₁t + … + a₅t⁵)·e^(−x²), t = 1/(1 + p·|x|);
    /// absolute error below 1.5e-7 in exact arithmetic, below 1e-6 in f32.
    #[inline(always)]
    pub fn erf(x: f32) -> f32 {
        let a = x.abs();
        let t = 1.0 / (1.0 + P * a);
        let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
        let y = 1.0 - poly * exp(-a * a);
        y.copysign(x)
    }

    #[inline(always)]
    fn gelu_generic(x: &mut [f32]) {
        const R: f32 = std::f32::consts::FRAC_1_SQRT_2;
        for v in x.iter_mut() {
            let u = *v;
            *v = 0.5 * u * (1.0 + erf(u * R));
        }
    }

    /// Sum with 16 independent accumulators, so that it vectorises without reordering changes
    /// between builds.
    #[inline(always)]
    pub(crate) fn sum(x: &[f32]) -> f32 {
        let mut acc = [0f32; 16];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for i in 0..16 {
                acc[i] += c[i];
            }
        }
        let mut s: f32 = acc.iter().sum();
        for v in chunks.remainder() {
            s += v;
        }
        s
    }

    /// Maximum with 16 independent lanes (vectorises).
    #[inline(always)]
    fn max(x: &[f32]) -> f32 {
        let mut acc = [f32::NEG_INFINITY; 16];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for i in 0..16 {
                acc[i] = acc[i].max(c[i]);
            }
        }
        let mut m = acc.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for &v in chunks.remainder() {
            m = m.max(v);
        }
        m
    }

    #[inline(always)]
    fn softmax_generic(x: &mut [f32], n: usize) {
        for r in x.chunks_exact_mut(n) {
            let m = max(r);
            for v in r.iter_mut() {
                *v = exp(*v - m);
            }
            let inv = 1.0 / sum(r);
            for v in r.iter_mut() {
                *v *= inv;
            }
        }
    }

    #[inline(always)]
    fn layer_norm_generic(x: &mut [f32], n: usize, w: &[f32], b: &[f32], eps: f32) {
        let inv_n = 1.0 / n as f32;
        let mut sq = vec![0f32; n];
        for r in x.chunks_exact_mut(n) {
            let mean = sum(r) * inv_n;
            for (s, v) in sq.iter_mut().zip(r.iter()) {
                *s = (v - mean) * (v - mean);
            }
            let var = sum(&sq) * inv_n;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, w), b) in r.iter_mut().zip(w).zip(b) {
                *v = (*v - mean) * inv * w + b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::kernels;

    /// erf from its Maclaurin series (converges fast for |x| ≤ 3), in f64.
    fn erf_series(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_and_exp_are_accurate() {
        let mut worst_erf = 0f64;
        let mut worst_exp = 0f64;
        for i in -3000..=3000 {
            let x = i as f64 / 1000.0;
            worst_erf = worst_erf.max((kernels::erf(x as f32) as f64 - erf_series(x)).abs());
            let y = (x * 10.0 - 30.0) as f32; // [-60, 0]
            let e = kernels::exp(y) as f64;
            let want = (y as f64).exp();
            worst_exp = worst_exp.max(((e - want) / want).abs());
        }
        // 1.5e-7 in exact arithmetic; f32 rounding adds a few 1e-7.
        assert!(worst_erf < 1e-6, "erf error {worst_erf}");
        assert!(worst_exp < 5e-7, "exp relative error {worst_exp}");
        assert!(kernels::exp(-200.0) < 1e-37);
        assert_eq!(kernels::erf(10.0), 1.0);
        assert_eq!(kernels::erf(-10.0), -1.0);
    }

    use crate::model::report_skipped as skipped;

    /// GELU by each implementation the CPU runs, and the dispatched one (AVX-512 with a
    /// portable tail where it exists), against 0.5·x·(1 + erf(x/√2)) in f64; softmax likewise.
    #[test]
    fn every_gelu_and_softmax_implementation_agrees_where_the_cpu_runs_it() {
        let xs: Vec<f32> = (-4000..=4000).map(|i| i as f32 / 500.0).collect();
        let mut dispatched = xs.clone();
        kernels::gelu(&mut dispatched);
        let mut each = kernels::gelu_each(&xs);
        each.push(("dispatched", Some(dispatched)));
        for (name, y) in each {
            let Some(y) = y else {
                skipped(&format!("native::gelu {name}: not on this CPU"));
                continue;
            };
            for (x, y) in xs.iter().zip(&y) {
                let x64 = *x as f64;
                // (the series is exact to double precision for |x| ≤ 5; beyond, GELU is x⁺ to
                // within 3e-7 · |x|)
                let want = if x64.abs() > 5.0 {
                    x64.max(0.0)
                } else {
                    0.5 * x64 * (1.0 + erf_series(x64 / std::f64::consts::SQRT_2))
                };
                assert!(
                    (*y as f64 - want).abs() < 2e-6 * (1.0 + x64.abs()),
                    "{name}: gelu({x}) = {y}, want {want}"
                );
            }
        }
        // GELU's derivative, Φ(x) + x·φ(x), times a gradient that varies in sign and size.
        let g: Vec<f32> = xs.iter().map(|x| 1.5 - (x * 3.7).sin()).collect();
        for (name, d) in kernels::gelu_backward_each(&xs, &g) {
            let Some(d) = d else {
                skipped(&format!("native::gelu_backward {name}: not on this CPU"));
                continue;
            };
            for ((x, g), d) in xs.iter().zip(&g).zip(&d) {
                let x64 = *x as f64;
                // (beyond |x| = 5 the series loses precision, and Φ is 0 or 1 within 3e-7)
                let cdf = if x64.abs() > 5.0 {
                    if x64 > 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                } else {
                    0.5 * (1.0 + erf_series(x64 / std::f64::consts::SQRT_2))
                };
                let pdf = (-0.5 * x64 * x64).exp() / (2.0 * std::f64::consts::PI).sqrt();
                let want = *g as f64 * (cdf + x64 * pdf);
                assert!(
                    (*d as f64 - want).abs() < 2e-6 * (1.0 + want.abs()),
                    "{name}: gelu'({x}) · {g} = {d}, want {want}"
                );
            }
        }
        // Rows of 48 (whole vectors), 7 (a masked tail only) and 37 (both), two of each.
        for n in [48, 7, 37] {
            let rows: Vec<f32> = (0..2 * n)
                .map(|i| ((i * 7919) % 23) as f32 * 0.37 - 4.0)
                .collect();
            for (name, p) in kernels::softmax_each(&rows, n) {
                let Some(p) = p else {
                    skipped(&format!(
                        "native::softmax {name} (rows of {n}): not on this CPU, or not for rows \
                         of this length"
                    ));
                    continue;
                };
                for (r, row) in rows.chunks(n).enumerate() {
                    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                    let z: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
                    for (i, v) in row.iter().enumerate() {
                        let got = p[r * n + i] as f64;
                        let want = (*v as f64 - m).exp() / z;
                        assert!(
                            (got - want).abs() < 1e-6,
                            "{name} (rows of {n}) [{r},{i}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn sixteen_by_sixteen_transpose() {
        if !std::is_x86_feature_detected!("avx512f") {
            crate::model::report_skipped("AVX-512 transpose: no AVX-512F on this CPU");
            return;
        }
        let m: Vec<f32> = (0..256).map(|i| i as f32).collect();
        let mut out = vec![0f32; 256];
        // SAFETY: AVX-512F was detected; 16 loads and stores of 16 lanes inside 256 floats.
        unsafe {
            use std::arch::x86_64::*;
            let mut t = [_mm512_setzero_ps(); 16];
            for (r, v) in t.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(m.as_ptr().add(16 * r));
            }
            kernels::transpose16_for_tests(&mut t);
            for (r, v) in t.iter().enumerate() {
                _mm512_storeu_ps(out.as_mut_ptr().add(16 * r), *v);
            }
        }
        for r in 0..16 {
            for c in 0..16 {
                assert_eq!(out[16 * r + c], m[16 * c + r], "({r}, {c})");
            }
        }
    }

    /// The AVX-512 attention (sixteen query rows a lane each) gives what the `gemm` path gives,
    /// for sequences shorter and longer than 16 and heads whose width is and is not a multiple
    /// of 8, packed after one another as the forward pass packs them.
    #[test]
    fn attention_kernel_matches_the_gemm_path() {
        if !kernels::attention_head_available() {
            crate::model::report_skipped("AVX-512 attention: no AVX-512 on this CPU");
            return;
        }
        for &(h, nh) in &[(48usize, 3usize), (40, 4), (384, 12)] {
            let lens = [1usize, 5, 16, 17, 33, 70];
            let total: usize = lens.iter().sum();
            let qkv: Vec<f32> = (0..total * 3 * h)
                .map(|i| ((i * 7919 + 13) % 2003) as f32 / 400.0 - 2.5)
                .collect();
            let longest = 70usize;
            let mut scores = vec![0f32; longest * longest.div_ceil(16) * 16];
            let mut want = vec![0f32; total * h];
            super::attention_gemm(&qkv, &lens, h, nh, &mut want, &mut scores);
            let hd = h / nh;
            let mut got = vec![f32::NAN; total * h];
            let mut buf = Vec::new();
            let mut start = 0;
            for &l in &lens {
                for head in 0..nh {
                    let at = start * 3 * h + head * hd;
                    kernels::attention_head(
                        &qkv,
                        (at, at + h, at + 2 * h),
                        3 * h,
                        l,
                        hd,
                        1.0 / (hd as f32).sqrt(),
                        &mut got[start * h + head * hd..],
                        h,
                        &mut buf,
                    );
                }
                start += l;
            }
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() < 2e-5, "h {h}, value {i}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn softmax_and_layer_norm_match_the_definitions() {
        let mut x: Vec<f32> = (0..37)
            .map(|i| ((i * 7919) % 23) as f32 * 0.37 - 4.0)
            .collect();
        let orig = x.clone();
        kernels::softmax_rows(&mut x, 37);
        let m = orig.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let z: f64 = orig.iter().map(|&v| (v as f64 - m).exp()).sum();
        for (p, v) in x.iter().zip(&orig) {
            assert!((*p as f64 - (*v as f64 - m).exp() / z).abs() < 1e-6);
        }
        // Rows of 48 (the AVX-512 path where the CPU has it), padded with -inf as attention
        // pads them: the padding gets probability 0.
        let mut rows: Vec<f32> = (0..96)
            .map(|i| {
                if i % 48 >= 37 {
                    f32::NEG_INFINITY
                } else {
                    orig[i % 48]
                }
            })
            .collect();
        kernels::softmax_rows(&mut rows, 48);
        for (i, p) in rows.iter().enumerate() {
            let want = if i % 48 >= 37 {
                0.0
            } else {
                (orig[i % 48] as f64 - m).exp() / z
            };
            assert!((*p as f64 - want).abs() < 1e-6, "{i}: {p} vs {want}");
        }
        let mut y = orig.clone();
        let w: Vec<f32> = (0..37).map(|i| 1.0 + i as f32 * 0.01).collect();
        let b: Vec<f32> = (0..37).map(|i| i as f32 * -0.02).collect();
        kernels::layer_norm_rows(&mut y, 37, &w, &b, 1e-12);
        let mean: f64 = orig.iter().map(|&v| v as f64).sum::<f64>() / 37.0;
        let var: f64 = orig.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / 37.0;
        for i in 0..37 {
            let want = (orig[i] as f64 - mean) / var.sqrt() * w[i] as f64 + b[i] as f64;
            assert!((y[i] as f64 - want).abs() < 1e-5, "{i}: {} vs {want}", y[i]);
        }
    }

    #[test]
    fn channel_groups_follow_the_site() {
        use super::{channel_groups, Site, FFN_DOWN_GROUPS};
        // FFN down: FFN_DOWN_GROUPS groups of like size, smallest first, equal counts (the
        // last takes the remainder); the outlier (one in 64 at most) one more.
        let mut m: Vec<f32> = (0..128)
            .map(|c| 1.0 + ((c * 37) % 128) as f32 / 128.0)
            .collect();
        m[77] = 50.0;
        let g = channel_groups(Site::Out, &m);
        let per = 127usize.div_ceil(FFN_DOWN_GROUPS);
        let want: Vec<usize> = (0..127)
            .step_by(per)
            .map(|start| per.min(127 - start))
            .collect();
        assert_eq!(g.len(), want.len() + 1);
        assert_eq!(g[want.len()], vec![77]);
        assert_eq!(
            g[..want.len()].iter().map(Vec::len).collect::<Vec<_>>(),
            want
        );
        for w in g[..want.len()].windows(2) {
            let top = w[0].iter().map(|&c| m[c]).fold(0.0, f32::max);
            assert!(w[1].iter().all(|&c| m[c] > top), "groups ordered by size");
        }
        // LayerNorm outputs: the outliers and the rest; none without outliers.
        let mut m = vec![1.0f32; 128];
        m[9] = 9.0;
        assert_eq!(
            channel_groups(Site::Qkv, &m),
            vec![(0..128).filter(|&c| c != 9).collect(), vec![9]]
        );
        assert!(channel_groups(Site::Inter, &[1.0; 128]).is_empty());
        // The attention output: one group; no calibration or a NaN: one group.
        assert!(channel_groups(Site::AttnOut, &m).is_empty());
        assert!(channel_groups(Site::Out, &[]).is_empty());
        m[3] = f32::NAN;
        assert!(channel_groups(Site::Out, &m).is_empty());
    }

    #[test]
    fn outlier_channels_are_the_few_far_above_the_median() {
        let mut m = vec![1.0f32; 128];
        m[5] = 2.5;
        m[9] = 9.0;
        m[70] = 2.0; // exactly twice the median: not above
        m[100] = 30.0;
        assert_eq!(super::outlier_channels(&m), vec![100, 9]); // largest first, at most 128 / 64
        m[100] = f32::NAN;
        assert!(super::outlier_channels(&m).is_empty());
        assert!(super::outlier_channels(&[]).is_empty());
        assert!(super::outlier_channels(&[1.0; 64]).is_empty());
    }

    #[test]
    fn flop_count() {
        let d = super::Dims {
            hidden: 4,
            heads: 2,
            intermediate: 8,
            layers: 1,
            max_positions: 16,
            type_vocab: 2,
            vocab: 10,
            eps: 1e-12,
        };
        // Per token 2·(4·16 + 2·32) = 256; attention 4·l²·h = 4·9·4 = 144 for l = 3.
        assert_eq!(d.flops([3]), 3.0 * 256.0 + 144.0);
    }
}
