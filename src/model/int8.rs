//! int8 matrix products for the dense layers (`--precision int8`).
//!
//! Weights are quantised once, symmetrically, per output channel: column `j` of `W (k, n)` is
//! `scale[j] · q[·][j]` with `q` in −127..=127 and `scale[j] = max |W[·][j]| / 127`. Activations
//! are quantised per row on the fly, asymmetrically: `x[r] ≈ lo[r] + sx[r] · a[r]` with `a` in
//! 0..=255, `lo` the row's minimum and `sx = (max − min) / 255` (GELU outputs and other skewed
//! rows keep the whole byte range), as unsigned bytes, the operand order of AVX512-VNNI's
//! `vpdpbusd` (unsigned × signed bytes, four products summed into each 32-bit lane). Then
//! `Σ x·w ≈ scale[j] · (sx · Σ a·q + lo · Σ q)`, the second sum being the column sums of `q`. The
//! integer dot products are exact (no saturation: `vpdpbusd`, not `vpdpbusds`; at most 4·255·127
//! per step and k ≤ 16,000 keeps them inside i32), and the float epilogue is the same expression
//! on every path: the AVX512-VNNI kernel, the AVX2 kernel and the portable integer loop give
//! bit-identical results, which the tests check on every CPU that has the instructions.
//!
//! On Intel CPUs with AMX-INT8 the same packed weights go through `tdpbusd` on tiles ([`super::amx`]):
//! the tile instruction reads the 64-byte groups of 16 columns × 4 rows as they are, so only the
//! depth is padded to whole tile steps (64 bytes) and the activations to whole 32-row stripes. Its
//! 32-bit sums are exact as well (no saturation) and get the same epilogue: the results are
//! bit-identical to the VNNI path's (`STANDPOINT_NO_AMX_INT8=1` turns the tiles off for int8 alone,
//! `STANDPOINT_NO_AMX=1` for both precisions). The packed weights and activations are aligned to
//! cache lines: a tile row that straddles two lines halves the loads' speed (aligning them made
//! bf16 on tiles 1.25× and int8 on tiles 1.16× faster on an Intel Xeon with AMX).
//!
//! CPUs with AVX2 but no VNNI (AMD Zen 3, older Xeons) take the AVX2 kernel: `vpmaddubsw`, AVX2's
//! byte product, saturates its 16-bit pair sums (2·255·127 does not fit), so the bytes are widened
//! to 16 bits once (the weights when packed, the activations per call) and multiplied with
//! `vpmaddwd` (pairs of 16-bit products summed into 32-bit lanes), which is exact.
//!
//! Only the dense layers run in int8; attention, softmax, LayerNorm and GELU stay f32. A layer's
//! input channels can be split into groups ([`Int8Layer::pack_grouped`]), each quantised with its
//! own per-row range and multiplied on its own: a few channels ten times larger than the rest
//! would otherwise take most of each row's byte range, and the GELU outputs of the FFN span
//! channels of very different sizes.

use aligned_vec::{avec, AVec};

/// Whether the AVX512-VNNI kernel runs here.
pub fn vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static V: OnceLock<bool> = OnceLock::new();
        *V.get_or_init(|| {
            std::env::var_os("STANDPOINT_NO_VNNI").is_none()
                && std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512vnni")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the products may run on AMX tiles (`tdpbusd`): AMX-INT8 and the kernel's permission,
/// besides what the VNNI path needs (see [`super::amx::int8_available`]).
pub fn amx_int8() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        super::amx::int8_available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the AVX2 kernel runs here (AVX2 present, AVX512-VNNI absent or switched off).
pub fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static V: OnceLock<bool> = OnceLock::new();
        *V.get_or_init(|| !vnni() && avx2_present())
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU has what the AVX2 kernel is compiled with (the tests run it on every CPU that
/// does, VNNI or not).
#[cfg(target_arch = "x86_64")]
fn avx2_present() -> bool {
    std::env::var_os("STANDPOINT_NO_INT8_AVX2").is_none()
        && std::is_x86_feature_detected!("avx")
        && std::is_x86_feature_detected!("avx2")
}

/// The instruction path of the int8 products on this CPU, for `bench` and the logs.
pub fn path_name() -> &'static str {
    if amx_int8() {
        "AMX tiles (tdpbusd)"
    } else if vnni() {
        "AVX512-VNNI (vpdpbusd)"
    } else if avx2() {
        "AVX2 (bytes widened to 16 bits, vpmaddwd)"
    } else {
        "portable exact integer loop"
    }
}

/// A dense layer `(k, n)` in int8: its input channels in one or more groups, each a
/// [`PackedInt8`] with its own weight scales and per-row activation range; the groups' products
/// add up into the output.
#[derive(Debug, Clone)]
pub struct Int8Layer {
    k: usize,
    n: usize,
    parts: Vec<PackedInt8>,
}

impl Int8Layer {
    /// Quantises and packs `w` (`k × n`, row-major), all input channels in one group.
    pub fn pack(w: &[f32], k: usize, n: usize) -> Int8Layer {
        Int8Layer::pack_grouped(w, k, n, &[])
    }

    /// Quantises and packs `w` with its input channels in `groups` (together every channel
    /// once; empty: one group). Each group's activations are quantised with their own per-row
    /// range, so that channels far larger than the rest leave the rest their byte's levels.
    pub fn pack_grouped(w: &[f32], k: usize, n: usize, groups: &[Vec<usize>]) -> Int8Layer {
        assert_eq!(w.len(), k * n, "weights are k × n");
        let mut seen = vec![false; k];
        for &c in groups.iter().flatten() {
            assert!(c < k && !seen[c], "groups hold each input channel once");
            seen[c] = true;
        }
        assert!(
            groups.is_empty() || seen.iter().all(|&s| s),
            "groups hold every input channel"
        );
        let parts = if groups.len() <= 1 {
            vec![PackedInt8::pack(w, k, n)]
        } else {
            groups
                .iter()
                .filter(|g| !g.is_empty())
                .map(|g| {
                    let mut channels = g.clone();
                    channels.sort_unstable();
                    let (first, len) = (channels[0], channels.len());
                    if channels[len - 1] - first + 1 == len {
                        // A run of channels: the rows' slice, nothing to gather.
                        let mut p = PackedInt8::pack(&w[first * n..(first + len) * n], len, n);
                        p.offset = first;
                        p
                    } else if 2 * len > k {
                        // Most of the channels: the whole row, the others masked (their
                        // weight rows zero, left out of the activations' range).
                        let mut rows = vec![0f32; k * n];
                        for &c in &channels {
                            rows[c * n..(c + 1) * n].copy_from_slice(&w[c * n..(c + 1) * n]);
                        }
                        let mut p = PackedInt8::pack(&rows, k, n);
                        p.set_masked(
                            (0..k)
                                .filter(|c| channels.binary_search(c).is_err())
                                .collect(),
                        );
                        p
                    } else {
                        let rows: Vec<f32> = channels
                            .iter()
                            .flat_map(|&c| w[c * n..(c + 1) * n].iter().copied())
                            .collect();
                        let mut p = PackedInt8::pack(&rows, len, n);
                        p.channels = channels;
                        p
                    }
                })
                .collect()
        };
        Int8Layer { k, n, parts }
    }

    /// `dst (m, n) += x (m, k) · W`, the products in int8, on `threads` threads (split by rows).
    pub fn matmul_acc(&self, x: &[f32], m: usize, dst: &mut [f32], threads: usize) {
        self.matmul_blocks(x, m, dst, threads, &|_, _| {}, &|_| {});
    }

    /// `dst (m, n) = x (m, k) · W` plus what `init` puts in each block of output rows, then
    /// `finish` on the block: blocks of at most [`MC`] rows ([`MC_AMX`] on AMX), `init(first_row, block)` right
    /// before the block's products and `finish(block)` right after, while it is in cache.
    pub fn matmul_blocks(
        &self,
        x: &[f32],
        m: usize,
        dst: &mut [f32],
        threads: usize,
        init: &(dyn Fn(usize, &mut [f32]) + Sync),
        finish: &(dyn Fn(&mut [f32]) + Sync),
    ) {
        assert_eq!(x.len(), m * self.k);
        assert_eq!(dst.len(), m * self.n);
        if m == 0 || self.n == 0 {
            init(0, dst);
            finish(dst);
            return;
        }
        // Blocks of MC rows (a multiple of MR), each thread taking whole blocks; a block's
        // activations are quantised right before its products, on the thread that runs it
        // (quantising every row first, on the calling thread, took 17% of the time with groups).
        // On AMX (all parts or none: the flag depends on the CPU and n), whole stripes of 32
        // rows (48 would compute 64).
        let amx = self.parts.iter().all(|p| p.amx);
        let mc = if amx { MC_AMX } else { MC };
        let blocks = m.div_ceil(mc);
        let per = blocks.div_ceil(threads.max(1)) * mc;
        let k = self.k;
        let run = |r0: usize, d: &mut [f32]| {
            for (b, block) in d.chunks_mut(mc * self.n).enumerate() {
                let r = r0 + b * mc;
                let rows = block.len() / self.n;
                init(r, block);
                let xb = &x[r * k..(r + rows) * k];
                #[cfg(target_arch = "x86_64")]
                if amx {
                    let quantised: Vec<_> = self
                        .parts
                        .iter()
                        .map(|p| p.quantise_rows(xb, k, rows))
                        .collect();
                    let parts: Vec<_> = self
                        .parts
                        .iter()
                        .zip(&quantised)
                        .map(|(p, (a, sx))| (p, &a[..], &sx[..]))
                        .collect();
                    // SAFETY: `amx` is set only where `amx_int8()` held and the shape allows
                    // (pack), the parts share the layer's n, and quantise_rows padded each
                    // part's activations to whole stripes.
                    unsafe { PackedInt8::rows_amx(&parts, rows, block) };
                    finish(block);
                    continue;
                }
                for p in &self.parts {
                    let (a, sx) = p.quantise_rows(xb, k, rows);
                    p.rows(&a, &sx, rows, block);
                }
                finish(block);
            }
        };
        if threads > 1 && m > per {
            use rayon::prelude::*;
            dst.par_chunks_mut(per * self.n)
                .enumerate()
                .for_each(|(t, d)| run(t * per, d));
        } else {
            run(0, dst);
        }
    }
}

/// Dense weights `(k, n)` quantised to int8 per output channel, packed for `vpdpbusd`: blocks
/// of 16 columns, each `kq / 4` groups of 16 columns × 4 consecutive rows (64 bytes). One group
/// of an [`Int8Layer`]'s input channels.
#[derive(Debug, Clone)]
pub struct PackedInt8 {
    k: usize,
    n: usize,
    /// `k` rounded up to a multiple of 4.
    kq: usize,
    /// `n` rounded up to a multiple of 16 (padding columns are zero).
    np: usize,
    /// Aligned to cache lines: AMX loads a tile row of 64 bytes, which must not straddle two.
    q: AVec<i8>,
    /// `q` widened to 16 bits for the AVX2 kernel (empty where that kernel does not run): blocks
    /// of 16 columns, each `kq / 2` groups of 16 columns × 2 consecutive rows (32 values).
    q16: Vec<i16>,
    scale: Vec<f32>,
    colsum: Vec<i32>,
    /// The layer input channels that are this group's rows (ascending), gathered from each
    /// row; empty: the `k` channels from `offset` on.
    channels: Vec<usize>,
    offset: usize,
    /// Channels of that run that belong to other groups (ascending): their weight rows are
    /// zero, and the activations' range is taken without them.
    masked: Vec<usize>,
    /// `masked` as lane masks of 16 channels (bit `t` of `keep[i]`: channel `16i + t` is in
    /// the range), for the AVX-512 range; empty where nothing is masked.
    keep: Vec<u16>,
    /// Whether the products run on AMX tiles ([`amx_int8`] and the shape allows: `kq` is then
    /// a multiple of 64, the depth of one tile step, and `np` of 32).
    amx: bool,
}

/// A layer part with its quantised activations (bytes, and each row's `(sx, lo)`), as the
/// AMX product takes them.
#[cfg(target_arch = "x86_64")]
type QuantisedPart<'a> = (&'a PackedInt8, &'a [u8], &'a [(f32, f32)]);

/// Rows per micro-tile of the kernel, and column blocks of 16 per micro-tile.
const MR: usize = 6;
const NB: usize = 4;
/// Rows per block of the result: its activations (at most 1,536 bytes a row here) stay in L2
/// while every column group passes over them.
const MC: usize = 48;
/// Rows per block on AMX tiles: two stripes of 32.
const MC_AMX: usize = 64;
/// Output columns per tile block on AMX (a multiple of 32).
const AMX_CHUNK: usize = 128;

impl PackedInt8 {
    /// Quantises and packs `w` (`k × n`, row-major).
    pub fn pack(w: &[f32], k: usize, n: usize) -> PackedInt8 {
        assert_eq!(w.len(), k * n, "weights are k × n");
        let np = n.div_ceil(16) * 16;
        // On AMX the depth is padded to whole tile steps of 64 bytes (zero weights against
        // zero activations: the sums are unchanged).
        let amx = amx_int8() && np.is_multiple_of(32);
        let step = if amx { 64 } else { 4 };
        let kq = k.div_ceil(step) * step;
        let mut scale = vec![1f32; np];
        let mut colsum = vec![0i32; np];
        let mut q = avec![0i8; np * kq];
        for j in 0..n {
            let max = (0..k).map(|i| w[i * n + j].abs()).fold(0f32, f32::max);
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            scale[j] = s;
            let (jb, c) = (j / 16, j % 16);
            for i in 0..k {
                let v = (w[i * n + j] / s).round().clamp(-127.0, 127.0) as i8;
                colsum[j] += v as i32;
                q[jb * kq * 16 + (i / 4) * 64 + c * 4 + i % 4] = v;
            }
        }
        let mut p = PackedInt8 {
            k,
            n,
            kq,
            np,
            q,
            q16: Vec::new(),
            scale,
            colsum,
            channels: Vec::new(),
            offset: 0,
            masked: Vec::new(),
            keep: Vec::new(),
            amx,
        };
        if avx2() {
            p.q16 = p.widened();
        }
        p
    }

    /// `q` in the layout of the AVX2 kernel: `q16[jb·kq·16 + p·32 + c·2 + t]` is the weight of
    /// row `2p + t`, column `16·jb + c`.
    fn widened(&self) -> Vec<i16> {
        let kq = self.kq;
        let mut w = vec![0i16; self.np * kq];
        for jb in 0..self.np / 16 {
            for i in 0..kq {
                for c in 0..16 {
                    w[jb * kq * 16 + (i / 2) * 32 + c * 2 + i % 2] =
                        self.q[jb * kq * 16 + (i / 4) * 64 + c * 4 + i % 4] as i16;
                }
            }
        }
        w
    }

    /// Leaves the channels `masked` (ascending, below `k`) out of the activations' range.
    fn set_masked(&mut self, masked: Vec<usize>) {
        let k = self.k;
        let mut keep = vec![0u16; k.div_ceil(16)];
        for c in 0..k {
            if masked.binary_search(&c).is_err() {
                keep[c / 16] |= 1 << (c % 16);
            }
        }
        self.masked = masked;
        self.keep = keep;
    }

    /// Activations of `rows` rows of `x` (rows of `width` values: the layer's input, of which
    /// this group reads its `channels`) as unsigned bytes (`round((x − lo) / sx)`, ties to
    /// even; padding 0, against zero weights) and each row's `(sx, lo)`.
    fn quantise_rows(&self, x: &[f32], width: usize, rows: usize) -> (AVec<u8>, Vec<(f32, f32)>) {
        let (k, kq) = (self.k, self.kq);
        debug_assert!(self.channels.is_empty() || self.channels.len() == k);
        // AMX reads whole stripes of 32 rows: the rows past `rows` stay zero.
        let mut a = avec![0u8; if self.amx { rows.div_ceil(32) * 32 } else { rows } * kq];
        let mut sx = vec![(0f32, 0f32); rows];
        let mut gathered = vec![0f32; if self.channels.is_empty() { 0 } else { k }];
        for r in 0..rows {
            let row = &x[r * width..(r + 1) * width];
            let xr = if !self.channels.is_empty() {
                for (g, &c) in gathered.iter_mut().zip(&self.channels) {
                    *g = row[c];
                }
                &gathered[..]
            } else {
                &row[self.offset..self.offset + k]
            };
            // The masked channels widen no range: it is taken over the runs between them.
            // Their bytes (clamped to 0..=255) meet zero weights, so they add nothing.
            let (lo, hi) = if self.masked.is_empty() {
                range(xr)
            } else if vnni() {
                // SAFETY: vnni() checked AVX-512F; `keep` has a mask for every 16 of the k
                // channels of `xr`, its bits set only below k (set_masked).
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    range_keep_avx512(xr, &self.keep)
                }
                #[cfg(not(target_arch = "x86_64"))]
                unreachable!("vnni() is false off x86-64")
            } else {
                let mut from = 0;
                let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
                for &c in self.masked.iter().chain(std::iter::once(&k)) {
                    let (l, h) = range(&xr[from..c]);
                    (lo, hi) = (lo.min(l), hi.max(h));
                    from = c + 1;
                }
                (lo, hi)
            };
            // (hi > lo fails for a constant row, an empty one and NaN alike)
            if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
                // A constant row (or an empty one): x = lo exactly, every byte 0.
                sx[r] = (0.0, if lo.is_finite() { lo } else { 0.0 });
                continue;
            }
            let s = (hi - lo) / 255.0;
            sx[r] = (s, lo);
            let inv = 1.0 / s;
            let dst = &mut a[r * kq..r * kq + k];
            #[cfg(target_arch = "x86_64")]
            if vnni() {
                // SAFETY: vnni() checked AVX-512F; `dst` and `xr` both hold k elements.
                unsafe { quantise_avx512(xr, lo, inv, dst) };
                continue;
            }
            #[cfg(target_arch = "x86_64")]
            if avx2() {
                // SAFETY: avx2() checked AVX and AVX2; `dst` and `xr` both hold k elements.
                unsafe { quantise_avx2(xr, lo, inv, dst) };
                continue;
            }
            quantise_portable(xr, lo, inv, dst);
        }
        (a, sx)
    }

    /// The product on the fastest path but AMX (which [`Int8Layer::matmul_blocks`] takes for
    /// all of a layer's parts at once).
    fn rows(&self, a: &[u8], sx: &[(f32, f32)], rows: usize, dst: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if vnni() {
            // SAFETY: `vnni()` checked AVX-512F and AVX512-VNNI; `a` holds `rows` rows of `kq`
            // bytes (quantise_rows), `self.q` the np / 16 blocks of kq × 16 bytes (pack).
            unsafe { self.rows_vnni(a, sx, rows, dst) };
            return;
        }
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // SAFETY: `avx2()` checked AVX and AVX2, and `pack` built `q16` because it holds;
            // `a` holds `rows` rows of `kq` bytes.
            unsafe { self.rows_avx2(&self.q16, a, sx, rows, dst) };
            return;
        }
        self.rows_portable(a, sx, rows, dst);
    }

    /// The float epilogue shared by both paths: `scale[j] · (sx · acc + lo · Σq)`.
    #[inline(always)]
    fn finish(&self, acc: i32, (sx, lo): (f32, f32), j: usize) -> f32 {
        self.scale[j] * (sx * acc as f32 + lo * self.colsum[j] as f32)
    }

    /// The exact integer product on any CPU.
    fn rows_portable(&self, a: &[u8], sx: &[(f32, f32)], rows: usize, dst: &mut [f32]) {
        let (kq, n) = (self.kq, self.n);
        for r in 0..rows {
            let ar = &a[r * kq..(r + 1) * kq];
            for j in 0..n {
                let (jb, c) = (j / 16, j % 16);
                let block = &self.q[jb * kq * 16..(jb + 1) * kq * 16];
                let mut acc = 0i32;
                for p in 0..kq / 4 {
                    for t in 0..4 {
                        acc += ar[p * 4 + t] as i32 * block[p * 64 + c * 4 + t] as i32;
                    }
                }
                dst[r * n + j] += self.finish(acc, sx[r], j);
            }
        }
    }

    /// # Safety
    ///
    /// The CPU has AVX-512F and AVX512-VNNI; `a` holds `rows` rows of `kq` bytes.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn rows_vnni(&self, a: &[u8], sx: &[(f32, f32)], rows: usize, dst: &mut [f32]) {
        let (kq, n, np) = (self.kq, self.n, self.np);
        assert!(a.len() >= rows * kq && sx.len() >= rows && dst.len() >= rows * n);
        let blocks = np / 16;
        let mut acc = [0i32; MR * NB * 16];
        // Column groups outside, row tiles inside: a group's weights (NB·16 columns × kq bytes)
        // stay in L1 while every row tile streams past them.
        let mut jb = 0;
        while jb < blocks {
            let nb = NB.min(blocks - jb);
            let mut r = 0;
            while r < rows {
                let mr = MR.min(rows - r);
                // SAFETY: rows r..r+mr of `a` and blocks jb..jb+nb of `q` are in bounds (mr ≤
                // rows − r, nb ≤ blocks − jb), and `acc` holds MR × NB × 16 lanes; the
                // features are this function's contract.
                unsafe {
                    let ap = a.as_ptr().add(r * kq);
                    let bp = self.q.as_ptr().add(jb * kq * 16);
                    match (mr, nb) {
                        (6, 4) => tile::<6, 4>(ap, kq, bp, &mut acc),
                        (6, n) => tile_dyn::<6>(ap, kq, bp, n, &mut acc),
                        (5, n) => tile_dyn::<5>(ap, kq, bp, n, &mut acc),
                        (4, n) => tile_dyn::<4>(ap, kq, bp, n, &mut acc),
                        (3, n) => tile_dyn::<3>(ap, kq, bp, n, &mut acc),
                        (2, n) => tile_dyn::<2>(ap, kq, bp, n, &mut acc),
                        (_, n) => tile_dyn::<1>(ap, kq, bp, n, &mut acc),
                    }
                }
                for i in 0..mr {
                    for b in 0..nb {
                        let lanes = &acc[(i * NB + b) * 16..(i * NB + b + 1) * 16];
                        // SAFETY: AVX-512F is this function's contract.
                        unsafe { self.finish16(lanes, sx[r + i], jb + b, &mut dst[(r + i) * n..]) };
                    }
                }
                r += mr;
            }
            jb += nb;
        }
    }

    /// Adds the finished sums of column block `jb` (16 lanes) to `row`, a row of the result
    /// from its column 0: columns past `n` (padding) are left out.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `lanes` holds 16 sums; `row` holds at least `n` values.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn finish16(&self, lanes: &[i32], sx: (f32, f32), jb: usize, row: &mut [f32]) {
        let (j0, n) = (jb * 16, self.n);
        if j0 + 16 <= n {
            // SAFETY: columns j0..j0+16 are inside `row` (it holds n), `scale` and `colsum`
            // (np ≥ n); AVX-512F is this function's contract.
            unsafe {
                epilogue16(
                    lanes,
                    sx,
                    &self.scale[j0..j0 + 16],
                    &self.colsum[j0..j0 + 16],
                    &mut row[j0..j0 + 16],
                )
            };
        } else {
            for (c, &v) in lanes.iter().enumerate() {
                let j = j0 + c;
                if j < n {
                    row[j] += self.finish(v, sx, j);
                }
            }
        }
    }

    /// Adds a stripe chunk's finished sums to `dst` (the stripe's rows, `n` values each, from
    /// column 0): `c` holds the sums of columns `j0..j0 + width` in the tile order of
    /// [`super::amx::stripe_int8`]. Column block by column block, the block's scales and column
    /// sums are loaded once for all rows; the arithmetic is [`epilogue16`]'s, in the same order
    /// (so the results are the VNNI path's, bit for bit). Columns past `n` are left out.
    ///
    /// # Safety
    ///
    /// The CPU has AVX-512F; `c` holds at least `32 · width` sums; `width` is a multiple of 16;
    /// `j0 + width ≤ np`; `dst` holds `sx.len() ≤ 32` rows of `n`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn finish_stripe(
        &self,
        c: &[i32],
        width: usize,
        j0: usize,
        sx: &[(f32, f32)],
        dst: &mut [f32],
    ) {
        use std::arch::x86_64::*;
        let n = self.n;
        let rows = sx.len();
        assert!(
            rows <= 32
                && width.is_multiple_of(16)
                && c.len() >= 32 * width
                && j0 + width <= self.np
                && dst.len() >= rows * n
        );
        for b in 0..width / 16 {
            let jc = j0 + 16 * b;
            if jc + 16 > n {
                for (i, &s) in sx.iter().enumerate() {
                    let at = super::amx::stripe_offset(i, b);
                    for (t, &v) in c[at..at + 16].iter().enumerate() {
                        if jc + t < n {
                            dst[i * n + jc + t] += self.finish(v, s, jc + t);
                        }
                    }
                }
                continue;
            }
            // SAFETY: columns jc..jc+16 ≤ n ≤ np are inside `scale` and `colsum` and each
            // row's slice of `dst` (i < rows); `at + 16 ≤ 32 · width` is inside `c`.
            unsafe {
                let scale = _mm512_loadu_ps(self.scale.as_ptr().add(jc));
                let cs = _mm512_cvtepi32_ps(_mm512_loadu_si512(
                    self.colsum.as_ptr().add(jc) as *const __m512i
                ));
                for (i, &(s, lo)) in sx.iter().enumerate() {
                    let at = super::amx::stripe_offset(i, b);
                    let a = _mm512_cvtepi32_ps(_mm512_loadu_si512(
                        c.as_ptr().add(at) as *const __m512i
                    ));
                    // Not fused, as in epilogue16 and the portable path.
                    let inner = _mm512_add_ps(
                        _mm512_mul_ps(_mm512_set1_ps(s), a),
                        _mm512_mul_ps(_mm512_set1_ps(lo), cs),
                    );
                    let d = dst.as_mut_ptr().add(i * n + jc);
                    _mm512_storeu_ps(
                        d,
                        _mm512_add_ps(_mm512_loadu_ps(d), _mm512_mul_ps(scale, inner)),
                    );
                }
            }
        }
    }

    /// The products of a layer's parts on AMX tiles (`tdpbusd`), each part with its quantised
    /// activations: 32-row stripes of the activations (one `asm!` block per part and column
    /// chunk, see [`super::amx::stripe_int8`]), the exact sums finished as on the VNNI path.
    /// Stripe by stripe and chunk by chunk, every part adds its share to the same 32 rows ×
    /// [`AMX_CHUNK`] columns of `dst` while they are in L1, in the parts' order, so that each
    /// value gets the same additions in the same order as part after part over the whole block
    /// (the VNNI path): the results are bit-identical.
    ///
    /// # Safety
    ///
    /// [`super::amx::int8_available`] returned true; every part has `amx` set (kq a multiple of
    /// 64, np of 32) and the same `n`; each part's activations hold `rows` rows of its `kq` bytes
    /// rounded up to a multiple of 32 rows and `rows` ranges `(sx, lo)`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn rows_amx(parts: &[QuantisedPart<'_>], rows: usize, dst: &mut [f32]) {
        let Some((first, _, _)) = parts.first() else {
            return;
        };
        let (n, np) = (first.n, first.np);
        let padded = rows.div_ceil(32) * 32;
        for (p, a, sx) in parts {
            assert!(p.amx && p.n == n && a.len() >= padded * p.kq && sx.len() >= rows);
        }
        assert!(dst.len() >= rows * n);
        // The chunk's sums (32 rows × AMX_CHUNK × 4 bytes) stay in L1 between the tile stores
        // and the epilogue, and so do the chunk's rows of `dst` between the parts.
        let mut c = avec![0i32; 32 * AMX_CHUNK];
        for r in (0..padded).step_by(32) {
            for j0 in (0..np).step_by(AMX_CHUNK) {
                let width = AMX_CHUNK.min(np - j0);
                for (p, a, sx) in parts {
                    let kq = p.kq;
                    // SAFETY: tiles and AMX-INT8 are this function's contract; rows r..r+32 of
                    // `a` are inside it (r < padded, a multiple of 32, asserted above); blocks
                    // j0 / 16.. of `q` (16 · kq bytes each) up to np / 16 are inside it; `c`
                    // holds 32 · width sums; kq is a positive multiple of 64, and np, j0 and so
                    // width of 32 (`amx`, AMX_CHUNK).
                    unsafe {
                        super::amx::stripe_int8(
                            a.as_ptr().add(r * kq),
                            kq,
                            p.q.as_ptr().add(j0 * kq) as *const u8,
                            width,
                            &mut c,
                        )
                    };
                    let here = 32.min(rows - r);
                    // SAFETY: AVX-512F is this function's contract; `c` holds the chunk's 32 ×
                    // width sums; rows r..r+here of `dst` (n each) and of `sx` are inside them.
                    unsafe {
                        p.finish_stripe(
                            &c,
                            width,
                            j0,
                            &sx[r..r + here],
                            &mut dst[r * n..(r + here) * n],
                        )
                    };
                }
            }
        }
    }

    /// The AVX2 kernel: `q16` is [`PackedInt8::widened`] (passed in so that the tests can run
    /// this kernel on CPUs where `pack` did not build it).
    ///
    /// # Safety
    ///
    /// The CPU has AVX and AVX2; `q16` is `self.widened()`; `a` holds `rows` rows of `kq` bytes.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx,avx2")]
    unsafe fn rows_avx2(
        &self,
        q16: &[i16],
        a: &[u8],
        sx: &[(f32, f32)],
        rows: usize,
        dst: &mut [f32],
    ) {
        let (kq, n, np) = (self.kq, self.n, self.np);
        assert!(a.len() >= rows * kq && sx.len() >= rows && dst.len() >= rows * n);
        assert_eq!(q16.len(), np * kq, "q16 is the widened weights");
        // The activations widened to 16 bits once (kq is even, so pairs never straddle rows).
        let a16: Vec<i16> = a[..rows * kq].iter().map(|&v| v as i16).collect();
        let mut acc = [0i32; MR * 16];
        // Column blocks outside, row tiles inside: a block's weights (16 columns × kq values)
        // stay in L1/L2 while every row tile streams past them.
        for jb in 0..np / 16 {
            let j0 = jb * 16;
            let mut r = 0;
            while r < rows {
                let mr = MR.min(rows - r);
                // SAFETY: rows r..r+mr of `a16` (mr ≤ rows − r) and block jb of `q16` (jb <
                // np / 16) are in bounds, `acc` holds MR × 16 lanes; the features are this
                // function's contract.
                unsafe {
                    let ap = a16.as_ptr().add(r * kq);
                    let bp = q16.as_ptr().add(jb * kq * 16);
                    match mr {
                        6 => tile_avx2::<6>(ap, kq, bp, &mut acc),
                        5 => tile_avx2::<5>(ap, kq, bp, &mut acc),
                        4 => tile_avx2::<4>(ap, kq, bp, &mut acc),
                        3 => tile_avx2::<3>(ap, kq, bp, &mut acc),
                        2 => tile_avx2::<2>(ap, kq, bp, &mut acc),
                        _ => tile_avx2::<1>(ap, kq, bp, &mut acc),
                    }
                }
                for i in 0..mr {
                    let lanes = &acc[i * 16..(i + 1) * 16];
                    let d = &mut dst[(r + i) * n..(r + i + 1) * n];
                    for h in 0..2 {
                        let c0 = j0 + 8 * h;
                        if c0 + 8 <= n {
                            // SAFETY: columns c0..c0+8 are inside the row, `scale` and
                            // `colsum`; AVX is this function's contract.
                            unsafe {
                                epilogue8(
                                    &lanes[8 * h..8 * h + 8],
                                    sx[r + i],
                                    &self.scale[c0..c0 + 8],
                                    &self.colsum[c0..c0 + 8],
                                    &mut d[c0..c0 + 8],
                                )
                            };
                        } else {
                            for c in 0..8 {
                                if c0 + c < n {
                                    d[c0 + c] += self.finish(lanes[8 * h + c], sx[r + i], c0 + c);
                                }
                            }
                        }
                    }
                }
                r += mr;
            }
        }
    }
}

/// The smallest and the largest value of `x` (NaNs ignored; `(∞, −∞)` when empty or all NaN),
/// sixteen lanes at a time where AVX-512 runs the int8 kernels.
fn range(x: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if vnni() {
        // SAFETY: vnni() checked AVX-512F.
        return unsafe { range_avx512(x) };
    }
    range_portable(x)
}

fn range_portable(x: &[f32]) -> (f32, f32) {
    x.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        })
}

/// [`range_portable`] sixteen lanes at a time: `vminps(v, acc)` returns `acc` when `v` is NaN,
/// so NaNs are ignored as `f32::min` ignores them; min and max are exact, so the lane order does
/// not change the result.
///
/// # Safety
///
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn range_avx512(x: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    // Four accumulators each: one chain of dependent minima would wait on each one's latency.
    let n = x.len() / 64 * 64;
    let mut lo = [_mm512_set1_ps(f32::INFINITY); 4];
    let mut hi = [_mm512_set1_ps(f32::NEG_INFINITY); 4];
    for i in (0..n).step_by(64) {
        for j in 0..4 {
            // SAFETY: elements i+16j..i+16j+16 are inside `x` (i + 64 ≤ n ≤ len).
            let v = unsafe { _mm512_loadu_ps(x.as_ptr().add(i + 16 * j)) };
            lo[j] = _mm512_min_ps(v, lo[j]);
            hi[j] = _mm512_max_ps(v, hi[j]);
        }
    }
    // The last 0..64 elements sixteen at a time, the final part under a lane mask.
    let mut i = n;
    while i < x.len() {
        let m: __mmask16 = if x.len() - i >= 16 {
            0xffff
        } else {
            (1u16 << (x.len() - i)) - 1
        };
        // SAFETY: the lanes `m` selects, i..min(i+16, len), are inside `x`; masked-off lanes
        // are not read.
        let v = unsafe { _mm512_maskz_loadu_ps(m, x.as_ptr().add(i)) };
        lo[0] = _mm512_mask_min_ps(lo[0], m, v, lo[0]);
        hi[0] = _mm512_mask_max_ps(hi[0], m, v, hi[0]);
        i += 16;
    }
    let lo = _mm512_min_ps(_mm512_min_ps(lo[0], lo[1]), _mm512_min_ps(lo[2], lo[3]));
    let hi = _mm512_max_ps(_mm512_max_ps(hi[0], hi[1]), _mm512_max_ps(hi[2], hi[3]));
    (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi))
}

/// [`range_avx512`] over the channels `keep` selects: bit `t` of `keep[i]` stands for
/// `x[16i + t]` (the masked channels of a group are left out without splitting the row into
/// runs, which took 7% of the int8 time as short scalar tails).
///
/// # Safety
///
/// The CPU has AVX-512F; `keep` holds `x.len().div_ceil(16)` masks whose set bits all address
/// elements of `x`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn range_keep_avx512(x: &[f32], keep: &[u16]) -> (f32, f32) {
    use std::arch::x86_64::*;
    debug_assert_eq!(keep.len(), x.len().div_ceil(16));
    let mut lo = [_mm512_set1_ps(f32::INFINITY); 2];
    let mut hi = [_mm512_set1_ps(f32::NEG_INFINITY); 2];
    for (i, &m) in keep.iter().enumerate() {
        // SAFETY: the caller's contract: every lane `m` selects is inside `x`; masked-off
        // lanes are not read.
        let v = unsafe { _mm512_maskz_loadu_ps(m, x.as_ptr().add(16 * i)) };
        let j = i & 1;
        lo[j] = _mm512_mask_min_ps(lo[j], m, v, lo[j]);
        hi[j] = _mm512_mask_max_ps(hi[j], m, v, hi[j]);
    }
    (
        _mm512_reduce_min_ps(_mm512_min_ps(lo[0], lo[1])),
        _mm512_reduce_max_ps(_mm512_max_ps(hi[0], hi[1])),
    )
}

/// `dst[i] = round_ties_even((x[i] − lo) · inv)`, clamped to 0..=255.
fn quantise_portable(x: &[f32], lo: f32, inv: f32, dst: &mut [u8]) {
    for (d, &v) in dst.iter_mut().zip(x) {
        *d = ((v - lo) * inv).round_ties_even().clamp(0.0, 255.0) as u8;
    }
}

/// [`quantise_portable`] sixteen at a time: `vcvtps2dq` rounds to nearest, ties to even (the
/// default MXCSR mode), as `round_ties_even` does, so both give the same bytes.
///
/// # Safety
///
/// AVX-512F; `x` and `dst` have the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn quantise_avx512(x: &[f32], lo: f32, inv: f32, dst: &mut [u8]) {
    use std::arch::x86_64::*;
    assert_eq!(x.len(), dst.len());
    let n = x.len() / 16 * 16;
    let (vlo, vinv) = (_mm512_set1_ps(lo), _mm512_set1_ps(inv));
    let (zero, top) = (_mm512_set1_ps(0.0), _mm512_set1_ps(255.0));
    for i in (0..n).step_by(16) {
        // SAFETY: elements i..i+16 are inside both slices (i + 16 ≤ n ≤ len).
        unsafe {
            let v = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x.as_ptr().add(i)), vlo), vinv);
            let v = _mm512_min_ps(_mm512_max_ps(v, zero), top);
            let q = _mm512_cvtps_epi32(v);
            _mm_storeu_si128(
                dst.as_mut_ptr().add(i) as *mut __m128i,
                _mm512_cvtepi32_epi8(q),
            );
        }
    }
    quantise_portable(&x[n..], lo, inv, &mut dst[n..]);
}

/// `dst[c] += scale[c] · (sx · acc[c] + lo · colsum[c])` for 16 columns: the float expression of
/// [`PackedInt8::finish`], lane by lane (the same operations in the same order, so the result is
/// bit-identical to the portable path).
///
/// # Safety
///
/// AVX-512F; every slice holds 16 elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn epilogue16(
    acc: &[i32],
    (sx, lo): (f32, f32),
    scale: &[f32],
    colsum: &[i32],
    dst: &mut [f32],
) {
    use std::arch::x86_64::*;
    assert!(acc.len() == 16 && scale.len() == 16 && colsum.len() == 16 && dst.len() == 16);
    // SAFETY: each slice holds 16 elements (asserted), read and written unaligned.
    unsafe {
        let a = _mm512_cvtepi32_ps(_mm512_loadu_si512(acc.as_ptr() as *const __m512i));
        let cs = _mm512_cvtepi32_ps(_mm512_loadu_si512(colsum.as_ptr() as *const __m512i));
        // Not fused: the portable path rounds after each multiplication and the addition.
        let inner = _mm512_add_ps(
            _mm512_mul_ps(_mm512_set1_ps(sx), a),
            _mm512_mul_ps(_mm512_set1_ps(lo), cs),
        );
        let v = _mm512_mul_ps(_mm512_loadu_ps(scale.as_ptr()), inner);
        let d = _mm512_loadu_ps(dst.as_ptr());
        _mm512_storeu_ps(dst.as_mut_ptr(), _mm512_add_ps(d, v));
    }
}

/// `acc[(i·NB + b)·16 + c] = Σ_p Σ_t a[i][4p+t] · q_block(b)[p][c][t]` for `R` rows and `N`
/// column blocks.
///
/// # Safety
///
/// AVX-512F and AVX512-VNNI; `a` addresses `R` rows of `kq` bytes; `b` `N` consecutive blocks of
/// `kq × 16` bytes; `kq` is a multiple of 4.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn tile<const R: usize, const N: usize>(
    a: *const u8,
    kq: usize,
    b: *const i8,
    acc_out: &mut [i32; MR * NB * 16],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_si512(); N]; R];
    for p in 0..kq / 4 {
        let mut bv = [_mm512_setzero_si512(); N];
        for (j, v) in bv.iter_mut().enumerate() {
            // SAFETY: block j, group p: 64 bytes inside the N blocks of kq × 16 bytes.
            *v = unsafe { _mm512_loadu_si512(b.add(j * kq * 16 + p * 64) as *const __m512i) };
        }
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: bytes 4p..4p+4 of row i, inside its kq bytes (read unaligned).
            let four = unsafe { (a.add(i * kq + p * 4) as *const i32).read_unaligned() };
            let av = _mm512_set1_epi32(four);
            for (acc, bv) in row.iter_mut().zip(&bv) {
                *acc = _mm512_dpbusd_epi32(*acc, av, *bv);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            // SAFETY: lanes (i·NB + j)·16 .. +16 are inside acc_out (i < R ≤ MR, j < N ≤ NB).
            unsafe {
                _mm512_storeu_si512(
                    acc_out.as_mut_ptr().add((i * NB + j) * 16) as *mut __m512i,
                    *v,
                )
            };
        }
    }
}

/// [`tile`] for `n` (1..=NB) column blocks chosen at run time.
///
/// # Safety
///
/// As [`tile`], with `n` blocks.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn tile_dyn<const R: usize>(
    a: *const u8,
    kq: usize,
    b: *const i8,
    n: usize,
    acc: &mut [i32; MR * NB * 16],
) {
    // SAFETY: the caller's contract, with exactly n blocks.
    unsafe {
        match n {
            4 => tile::<R, 4>(a, kq, b, acc),
            3 => tile::<R, 3>(a, kq, b, acc),
            2 => tile::<R, 2>(a, kq, b, acc),
            _ => tile::<R, 1>(a, kq, b, acc),
        }
    }
}

/// [`quantise_portable`] eight at a time (`vcvtps2dq` rounds ties to even, as
/// `round_ties_even` does).
///
/// # Safety
///
/// AVX and AVX2; `x` and `dst` have the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2")]
unsafe fn quantise_avx2(x: &[f32], lo: f32, inv: f32, dst: &mut [u8]) {
    use std::arch::x86_64::*;
    assert_eq!(x.len(), dst.len());
    let n = x.len() / 8 * 8;
    let (vlo, vinv) = (_mm256_set1_ps(lo), _mm256_set1_ps(inv));
    let (zero, top) = (_mm256_set1_ps(0.0), _mm256_set1_ps(255.0));
    for i in (0..n).step_by(8) {
        // SAFETY: elements i..i+8 are inside both slices (i + 8 ≤ n ≤ len).
        unsafe {
            let v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x.as_ptr().add(i)), vlo), vinv);
            let v = _mm256_min_ps(_mm256_max_ps(v, zero), top);
            let q = _mm256_cvtps_epi32(v);
            // 0..=255 in every lane, so the saturating packs are exact.
            let w = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
            _mm_storel_epi64(
                dst.as_mut_ptr().add(i) as *mut __m128i,
                _mm_packus_epi16(w, w),
            );
        }
    }
    quantise_portable(&x[n..], lo, inv, &mut dst[n..]);
}

/// [`epilogue16`] for 8 columns with AVX (the same operations in the same order).
///
/// # Safety
///
/// AVX; every slice holds 8 elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn epilogue8(
    acc: &[i32],
    (sx, lo): (f32, f32),
    scale: &[f32],
    colsum: &[i32],
    dst: &mut [f32],
) {
    use std::arch::x86_64::*;
    assert!(acc.len() == 8 && scale.len() == 8 && colsum.len() == 8 && dst.len() == 8);
    // SAFETY: each slice holds 8 elements (asserted), read and written unaligned.
    unsafe {
        let a = _mm256_cvtepi32_ps(_mm256_loadu_si256(acc.as_ptr() as *const __m256i));
        let cs = _mm256_cvtepi32_ps(_mm256_loadu_si256(colsum.as_ptr() as *const __m256i));
        // Not fused, as in the portable path.
        let inner = _mm256_add_ps(
            _mm256_mul_ps(_mm256_set1_ps(sx), a),
            _mm256_mul_ps(_mm256_set1_ps(lo), cs),
        );
        let v = _mm256_mul_ps(_mm256_loadu_ps(scale.as_ptr()), inner);
        let d = _mm256_loadu_ps(dst.as_ptr());
        _mm256_storeu_ps(dst.as_mut_ptr(), _mm256_add_ps(d, v));
    }
}

/// `acc[i·16 + c] = Σ_p Σ_t a[i][2p+t] · q16_block[p][c][t]` for `R` rows and one block of 16
/// columns, with `vpmaddwd` (exact: |a·q| ≤ 255·127, a pair's sum fits 32 bits, and k ≤
/// 16,000 keeps the running sums inside i32).
///
/// # Safety
///
/// AVX2; `a` addresses `R` rows of `kq` 16-bit values; `b` one block of `kq × 16` values; `kq`
/// is even.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,avx2")]
unsafe fn tile_avx2<const R: usize>(
    a: *const i16,
    kq: usize,
    b: *const i16,
    acc_out: &mut [i32; MR * 16],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    for p in 0..kq / 2 {
        // SAFETY: group p of the block: 32 values (64 bytes) inside its kq × 16.
        let (b0, b1) = unsafe {
            (
                _mm256_loadu_si256(b.add(p * 32) as *const __m256i),
                _mm256_loadu_si256(b.add(p * 32 + 16) as *const __m256i),
            )
        };
        for (i, row) in acc.iter_mut().enumerate() {
            // SAFETY: values 2p, 2p+1 of row i, inside its kq values (read unaligned).
            let pair = unsafe { (a.add(i * kq + p * 2) as *const i32).read_unaligned() };
            let av = _mm256_set1_epi32(pair);
            row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(av, b0));
            row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(av, b1));
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (h, v) in row.iter().enumerate() {
            // SAFETY: lanes i·16 + 8h .. +8 are inside acc_out (i < R ≤ MR, h < 2).
            unsafe {
                _mm256_storeu_si256(acc_out.as_mut_ptr().add(i * 16 + 8 * h) as *mut __m256i, *v)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::test_operands as data;

    /// The VNNI and AVX2 kernels and the portable integer loop agree bit for bit (every shape class: row
    /// and column tails, k not a multiple of 4), and both are close to the f32 product.
    #[test]
    fn every_integer_path_agrees_exactly_and_approximates_f32() {
        for &(m, k, n) in &[
            (1, 4, 16),
            (5, 7, 20),
            (9, 384, 64),
            (13, 33, 100),
            (32, 384, 1536),
            // three stripes of 32 rows, the last one short; k not a multiple of 64
            (70, 130, 64),
        ] {
            let (w, x) = data(m, k, n);
            let layer = Int8Layer::pack(&w, k, n);
            let p = &layer.parts[0];
            let (a, sx) = p.quantise_rows(&x, k, m);
            let mut portable = vec![0.5f32; m * n];
            p.rows_portable(&a, &sx, m, &mut portable);
            // Against f32: the error of int8 per-channel / per-row quantisation.
            for r in 0..m {
                for j in 0..n {
                    let exact: f32 = (0..k).map(|i| x[r * k + i] * w[i * n + j]).sum::<f32>() + 0.5;
                    let bound = 0.02 * (k as f32).sqrt() * 1.3 * 1.25 + 1e-3;
                    assert!(
                        (portable[r * n + j] - exact).abs() < bound,
                        "m{m} k{k} n{n} [{r},{j}]: {} vs {exact}",
                        portable[r * n + j]
                    );
                }
            }
            #[cfg(target_arch = "x86_64")]
            if p.amx {
                let mut fast = vec![0.5f32; m * n];
                // SAFETY: `amx` is set only where amx_int8() held; quantise_rows padded `a`
                // to whole stripes.
                unsafe { PackedInt8::rows_amx(&[(p, &a, &sx)], m, &mut fast) };
                assert_eq!(fast, portable, "AMX: m{m} k{k} n{n}");
            }
            #[cfg(target_arch = "x86_64")]
            if vnni() {
                let mut fast = vec![0.5f32; m * n];
                // SAFETY: vnni() checked the features; `a` holds m rows of kq bytes.
                unsafe { p.rows_vnni(&a, &sx, m, &mut fast) };
                assert_eq!(fast, portable, "m{m} k{k} n{n}");
                // And through the public entry point, on two threads.
                let mut both = vec![0.5f32; m * n];
                layer.matmul_acc(&x, m, &mut both, 2);
                assert_eq!(both, portable, "m{m} k{k} n{n}, 2 threads");
            }
            #[cfg(target_arch = "x86_64")]
            if avx2_present() {
                let mut fast = vec![0.5f32; m * n];
                // SAFETY: avx2_present() checked AVX and AVX2; q16 is the widened weights; `a`
                // holds m rows of kq bytes.
                unsafe { p.rows_avx2(&p.widened(), &a, &sx, m, &mut fast) };
                assert_eq!(fast, portable, "AVX2: m{m} k{k} n{n}");
                if avx2() {
                    let mut both = vec![0.5f32; m * n];
                    layer.matmul_acc(&x, m, &mut both, 2);
                    assert_eq!(both, portable, "AVX2: m{m} k{k} n{n}, 2 threads");
                }
            }
        }
        if !amx_int8() {
            crate::model::report_skipped(
                "int8::product on AMX tiles: no AMX-INT8 (or no permission) on this CPU",
            );
        }
        if !vnni() {
            crate::model::report_skipped(
                "int8::product on AVX512-VNNI: not on this CPU (the AVX2 and portable integer paths ran where present)",
            );
        }
        #[cfg(target_arch = "x86_64")]
        if !avx2_present() {
            crate::model::report_skipped(
                "int8::product on AVX2: not on this CPU (the portable integer path ran)",
            );
        }
    }

    /// With a few input channels ten times larger than the rest (as a LayerNorm's outputs in
    /// MiniLM have), quantising them as a group of their own makes the product closer to the f32
    /// one, on every path alike; each group's bytes span its own channels' range.
    #[test]
    fn channel_groups_cut_the_error_of_large_channels() {
        // (70 rows: three AMX stripes, the last one short; 160 columns: two AMX column chunks)
        let (m, k, n) = (70, 384, 160);
        let (w, mut x) = data(m, k, n);
        let big = [7usize, 99, 223];
        for r in 0..m {
            for &c in &big {
                x[r * k + c] *= 12.0;
            }
        }
        let exact: Vec<f32> = (0..m * n)
            .map(|i| (0..k).map(|c| x[(i / n) * k + c] * w[c * n + i % n]).sum())
            .collect();
        let err = |p: &Int8Layer| {
            let mut out = vec![0f32; m * n];
            p.matmul_acc(&x, m, &mut out, 1);
            let mean = out
                .iter()
                .zip(&exact)
                .map(|(a, b)| (a - b).abs())
                .sum::<f32>();
            (mean / (m * n) as f32, out)
        };
        let (plain, _) = err(&Int8Layer::pack(&w, k, n));
        let rest: Vec<usize> = (0..k).filter(|c| !big.contains(c)).collect();
        let layer = Int8Layer::pack_grouped(&w, k, n, &[vec![223, 7, 99], rest.clone()]);
        assert_eq!(layer.parts.len(), 2);
        assert_eq!(layer.parts[0].channels, big);
        let (split, out) = err(&layer);
        assert!(
            split < plain / 3.0,
            "mean error {split} with the large channels as a group, {plain} without"
        );
        // Every integer path gives the same bits with groups too: the portable loop per group,
        // summed, is the fast path's result.
        let mut portable = vec![0f32; m * n];
        for p in &layer.parts {
            let (a, sx) = p.quantise_rows(&x, k, m);
            p.rows_portable(&a, &sx, m, &mut portable);
            // Each group's range is its own channels' range (the large ones gathered, the
            // rest read as the whole row with the large ones masked).
            let members: Vec<usize> = if p.channels.is_empty() {
                (p.offset..p.offset + p.k)
                    .filter(|c| !p.masked.contains(c))
                    .collect()
            } else {
                p.channels.clone()
            };
            assert_eq!(members.len(), if p.channels.is_empty() { k - 3 } else { 3 });
            for (r, &(_, lo)) in sx.iter().enumerate() {
                let want = members
                    .iter()
                    .map(|&c| x[r * k + c])
                    .fold(f32::INFINITY, f32::min);
                assert_eq!(lo, want, "row {r}");
            }
        }
        assert_eq!(out, portable);
        // On two threads, the same bits.
        let mut two = vec![0f32; m * n];
        layer.matmul_acc(&x, m, &mut two, 2);
        assert_eq!(two, out);
    }

    /// Groups must hold every input channel exactly once.
    #[test]
    #[should_panic(expected = "groups hold each input channel once")]
    fn a_channel_in_two_groups_is_refused() {
        let w = vec![0.5f32; 8 * 16];
        Int8Layer::pack_grouped(&w, 8, 16, &[vec![0, 1, 2, 3], vec![3, 4, 5, 6, 7]]);
    }

    /// Extreme values: every activation byte 255 against weights of ±127 in long rows, where
    /// `vpmaddubsw` would saturate; the AVX2 kernel (16-bit products) stays exact.
    #[test]
    fn avx2_kernel_is_exact_at_the_extremes() {
        #[cfg(target_arch = "x86_64")]
        {
            if !avx2_present() {
                crate::model::report_skipped("int8 AVX2 extremes: no AVX2 on this CPU");
                return;
            }
            let (m, k, n) = (7, 1536, 48);
            // Columns alternate all +max and all −max weights; rows alternate min and max.
            let w: Vec<f32> = (0..k * n)
                .map(|i| if (i % n) % 2 == 0 { 1.0 } else { -1.0 })
                .collect();
            // Even rows: −3 once, then +3 (bytes 0, then 255 throughout); odd rows alternate.
            let x: Vec<f32> = (0..m * k)
                .map(|i| match ((i / k) % 2, i % k) {
                    (0, 0) => -3.0,
                    (0, _) => 3.0,
                    _ => -3.0 + (i % 2) as f32 * 6.0,
                })
                .collect();
            let p = PackedInt8::pack(&w, k, n);
            let (a, sx) = p.quantise_rows(&x, k, m);
            let mut portable = vec![0f32; m * n];
            p.rows_portable(&a, &sx, m, &mut portable);
            let mut fast = vec![0f32; m * n];
            // SAFETY: AVX and AVX2 checked; q16 is the widened weights; `a` holds m rows.
            unsafe { p.rows_avx2(&p.widened(), &a, &sx, m, &mut fast) };
            assert_eq!(fast, portable);
            // AMX's tdpbusd sums without saturation too (the public entry takes it where
            // it runs, else VNNI, which the test above checks).
            if vnni() {
                let mut public = vec![0f32; m * n];
                Int8Layer::pack(&w, k, n).matmul_acc(&x, m, &mut public, 1);
                assert_eq!(public, portable, "{}", path_name());
            }
            // Every value sits on its row's minimum or maximum and every weight on ±max, so
            // the quantised product equals the f32 one up to float rounding.
            for r in 0..m {
                for j in 0..n {
                    let exact: f32 = (0..k).map(|i| x[r * k + i] * w[i * n + j]).sum();
                    let got = portable[r * n + j];
                    assert!(
                        (got - exact).abs() < 1e-3 * k as f32,
                        "[{r},{j}] {got} vs {exact}"
                    );
                }
            }
        }
    }

    /// The AVX-512 quantisation gives the same bytes as the portable one, ties included.
    #[test]
    fn activation_quantisation_paths_agree() {
        let x: Vec<f32> = (0..103).map(|i| (i as f32 - 51.0) * 0.5).collect();
        let (lo, inv) = (-25.5, 255.0 / 51.0);
        let mut portable = vec![0u8; x.len()];
        quantise_portable(&x, lo, inv, &mut portable);
        assert_eq!((portable[0], portable[102]), (0, 255));
        // exact ties: 0.5, 1.5 and 2.5 at lo = 0, inv = 1 round to even; out of range clamps
        let ties = [
            0.5f32, 1.5, 2.5, 254.5, -3.0, 300.0, 0.0, 3.49, 3.51, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5,
            13.5,
        ];
        let mut pt = vec![0u8; 16];
        quantise_portable(&ties, 0.0, 1.0, &mut pt);
        assert_eq!(&pt[..6], &[0, 2, 2, 254, 0, 255]);
        #[cfg(target_arch = "x86_64")]
        if vnni() {
            let mut fast = vec![0u8; x.len()];
            // SAFETY: vnni() checked AVX-512F; equal lengths.
            unsafe { quantise_avx512(&x, lo, inv, &mut fast) };
            assert_eq!(fast, portable);
            let mut ft = vec![0u8; 16];
            // SAFETY: as above.
            unsafe { quantise_avx512(&ties, 0.0, 1.0, &mut ft) };
            assert_eq!(ft, pt);
        }
        #[cfg(target_arch = "x86_64")]
        if avx2_present() {
            let mut fast = vec![0u8; x.len()];
            // SAFETY: avx2_present() checked AVX and AVX2; equal lengths.
            unsafe { quantise_avx2(&x, lo, inv, &mut fast) };
            assert_eq!(fast, portable);
            let mut ft = vec![0u8; 16];
            // SAFETY: as above.
            unsafe { quantise_avx2(&ties, 0.0, 1.0, &mut ft) };
            assert_eq!(ft, pt);
        } else {
            crate::model::report_skipped("int8 quantisation on AVX2: no AVX2 on this CPU");
        }
    }

    /// The AVX-512 ranges (whole rows with any tail, and rows with channels masked out) equal
    /// the portable fold, NaNs ignored alike.
    #[test]
    fn ranges_with_tails_and_masks_agree_with_the_portable_fold() {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            let mut state = 0x9e37_79b9_7f4a_7c15u64;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            for len in 0..200 {
                let mut x: Vec<f32> = (0..len)
                    .map(|_| (next() % 20_001) as f32 / 100.0 - 100.0)
                    .collect();
                if len % 7 == 3 {
                    x[len / 2] = f32::NAN;
                }
                // SAFETY: AVX-512F was detected above.
                let fast = unsafe { range_avx512(&x) };
                assert_eq!(fast, range_portable(&x), "len {len}");
                // Every channel masked, none, and a random share.
                for share in [0u64, 100, 30] {
                    let masked: Vec<usize> = (0..len).filter(|_| next() % 100 < share).collect();
                    let mut keep = vec![0u16; len.div_ceil(16)];
                    let mut kept = Vec::new();
                    for (c, &v) in x.iter().enumerate() {
                        if masked.binary_search(&c).is_err() {
                            keep[c / 16] |= 1 << (c % 16);
                            kept.push(v);
                        }
                    }
                    // SAFETY: AVX-512F; `keep` has a mask per 16 elements of `x`, bits below len.
                    let fast = unsafe { range_keep_avx512(&x, &keep) };
                    assert_eq!(fast, range_portable(&kept), "len {len}, share {share}");
                }
            }
        } else {
            crate::model::report_skipped("int8 AVX-512 ranges: no AVX-512F on this CPU");
        }
        #[cfg(not(target_arch = "x86_64"))]
        crate::model::report_skipped("int8 AVX-512 ranges: not an x86-64 CPU");
    }

    #[test]
    fn zero_rows_and_columns_quantise_to_zero() {
        let (k, n) = (8, 16);
        let w = vec![0f32; k * n];
        let p = Int8Layer::pack(&w, k, n);
        let x = vec![0f32; 2 * k];
        let mut dst = vec![1f32; 2 * n];
        p.matmul_acc(&x, 2, &mut dst, 1);
        assert!(dst.iter().all(|&v| v == 1.0));
    }

    /// `matmul_blocks` fills and finishes every output row exactly once, with the right row
    /// numbers, on one and two threads, and its products are `matmul_acc`'s.
    #[test]
    fn blocks_are_initialised_and_finished_once_each() {
        let (m, k, n) = (2 * MC + 5, 40, 48);
        let (w, x) = data(m, k, n);
        let odd: Vec<usize> = (0..k).filter(|c| c % 2 == 1).collect();
        let even: Vec<usize> = (0..k).filter(|c| c % 2 == 0).collect();
        // Gathered (odd), masked (most), and runs of channels.
        let most: Vec<usize> = (0..k).filter(|c| c % 8 != 3).collect();
        let few: Vec<usize> = (0..k).filter(|c| c % 8 == 3).collect();
        for p in [
            Int8Layer::pack(&w, k, n),
            Int8Layer::pack_grouped(&w, k, n, &[odd, even]),
            Int8Layer::pack_grouped(&w, k, n, &[most, few]),
            Int8Layer::pack_grouped(&w, k, n, &[(0..13).collect(), (13..k).collect()]),
        ] {
            crate::model::check_blocks(
                &x,
                m,
                n,
                &|x, m, dst, threads| p.matmul_acc(x, m, dst, threads),
                &|x, m, dst, threads, init, finish| {
                    p.matmul_blocks(x, m, dst, threads, init, finish)
                },
            );
        }
    }
}
