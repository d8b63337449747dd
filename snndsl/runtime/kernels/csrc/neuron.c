/* Fused multi-step IF/LIF/PLIF neurons for float32 on the CPU: one pass over memory.
 *
 * Built on first use by snndsl/runtime/kernels/native_neuron.py with the system C
 * compiler and called through ctypes, which releases the GIL, so Python threads can run
 * disjoint neuron ranges at once.
 *
 * Layout: every [T, M] array holds step t's M neurons at offset t * M. A call handles
 * the neurons [begin, end) in blocks of BLK: the block's V (or its gradient) stays in L1
 * while the time loop streams the inputs and outputs once. The inner loops run across
 * neurons and are vectorised by the compiler.
 *
 * Rounding. The forward pass evaluates the reference equations of
 * snndsl/runtime/kernels/reference.py operation for operation in float32, with FMA
 * contraction disabled (-ffp-contract=off), so spikes and V are bit-identical to the
 * step loop and to SpikingJelly. The backward pass computes the formulas of the mirror
 * path of torch_neuron.py (within 1e-6 of it, not bit for bit: exp, 1/tau).
 *
 * The saved tensor is -H, the negated charge, as the in-place aten path of
 * aten_neuron.py saves it, so each backward can consume the other's forward.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "surrogates.h"

#define BLK 4096 /* the largest block; snn_params.block picks the size per call */
#define INLINE static inline __attribute__((always_inline))

/* Charge equations (reference.charge); "decay" is tau for LIF, k = sigmoid(w) for PLIF. */
enum {
    CHARGE_IF = 0,
    CHARGE_LIF = 1,       /* H = V + (X - (V - vr)) / tau */
    CHARGE_LIF_NODI = 2,  /* H = V - (V - vr) / tau + X   (decay_input=False) */
    CHARGE_PLIF = 3,      /* H = V + (X - (V - vr)) * k */
    CHARGE_PLIF_NODI = 4, /* H = V - (V - vr) * k + X */
};
typedef struct {
    int32_t charge;    /* CHARGE_* */
    int32_t hard;      /* hard reset to vr, else soft reset (subtract v_th) */
    int32_t detach;    /* detach_reset */
    int32_t surrogate; /* SG_* */
    float v_th, vr;    /* vr = v_reset for hard reset, 0 for soft */
    float decay;       /* tau (LIF) or k (PLIF) */
    float p, q;        /* backward: dH/dX and dH/dV */
    float a, b;        /* surrogate parameters: alpha (w, c for the leaky ReLU) */
    int32_t block;     /* neurons per block, 1..BLK (measured: 1024 on one thread, 4096 on several) */
} snn_params;

static inline int64_t block_of(const snn_params *p) {
    return p->block > 0 && p->block <= BLK ? p->block : BLK;
}

INLINE float charge(const int kind, float x, float v, float vr, float decay) {
    switch (kind) {
    case CHARGE_IF: return v + x;
    case CHARGE_LIF: return v + (x - (v - vr)) / decay;
    case CHARGE_LIF_NODI: return v - (v - vr) / decay + x;
    case CHARGE_PLIF: return v + (x - (v - vr)) * decay;
    default: return v - (v - vr) * decay + x;
    }
}

/* reference.reset: hard V = S vr + (1 - S) H, soft V = H - S v_th. */
INLINE float reset(const int hard, float h, float s, float vr, float vth) {
    return hard ? s * vr + (1.0f - s) * h : h - s * vth;
}

/* reference.fire with a spiking surrogate: heaviside(H - v_th). */
INLINE float fire(float h, float vth) { return h - vth >= 0.0f ? 1.0f : 0.0f; }

/* Calls CALL(KIND, HARD) with the constants of p's (charge, reset): one specialised
 * loop per combination, by p->charge * 2 + hard. */
#define DISPATCH_CHARGE_RESET(CALL)                                                        \
    switch (p->charge * 2 + (p->hard != 0)) {                                              \
    case 0: CALL(CHARGE_IF, 0); break;                                                     \
    case 1: CALL(CHARGE_IF, 1); break;                                                     \
    case 2: CALL(CHARGE_LIF, 0); break;                                                    \
    case 3: CALL(CHARGE_LIF, 1); break;                                                    \
    case 4: CALL(CHARGE_LIF_NODI, 0); break;                                               \
    case 5: CALL(CHARGE_LIF_NODI, 1); break;                                               \
    case 6: CALL(CHARGE_PLIF, 0); break;                                                   \
    case 7: CALL(CHARGE_PLIF, 1); break;                                                   \
    case 8: CALL(CHARGE_PLIF_NODI, 0); break;                                              \
    case 9: CALL(CHARGE_PLIF_NODI, 1); break;                                              \
    }

INLINE void forward_impl(const snn_params *p, int64_t nT, int64_t M, int64_t begin,
                         int64_t end, const float *x, int64_t x_tstride, const float *v0, float v_fill,
                         float *spikes, float *nh, float *v_out, int store_v_seq,
                         const int KIND, const int HARD) {
    const float vth = p->v_th, vr = p->vr, decay = p->decay;
    float v[BLK];
    const int64_t blk = block_of(p);
    for (int64_t b0 = begin; b0 < end; b0 += blk) {
        const int64_t n = end - b0 < blk ? end - b0 : blk;
        if (v0)
            memcpy(v, v0 + b0, n * sizeof(float));
        else
            for (int64_t i = 0; i < n; i++) v[i] = v_fill;
        for (int64_t t = 0; t < nT; t++) {
            const float *xt = x + t * x_tstride + b0;
            float *st = spikes + t * M + b0, *ht = nh ? nh + t * M + b0 : NULL;
            for (int64_t i = 0; i < n; i++) {
                const float h = charge(KIND, xt[i], v[i], vr, decay);
                const float s = fire(h, vth);
                st[i] = s;
                if (nh) ht[i] = -h; /* loop-invariant: the compiler unswitches it */
                v[i] = reset(HARD, h, s, vr, vth);
            }
            if (store_v_seq) memcpy(v_out + t * M + b0, v, n * sizeof(float));
        }
        if (!store_v_seq) memcpy(v_out + b0, v, n * sizeof(float));
    }
}

/* Spikes, -H (unless nh is NULL) and V (the last, or every step's with store_v_seq) of
 * neurons [begin, end). Step t of the input is at x + t * x_tstride: M, or 0 for one input
 * broadcast over T. */
void snn_forward(const snn_params *p, int64_t nT, int64_t M, int64_t begin, int64_t end,
                 const float *x, int64_t x_tstride, const float *v0, float v_fill, float *spikes,
                 float *nh, float *v_out, int32_t store_v_seq) {
#define FORWARD(KIND, HARD)                                                                \
    forward_impl(p, nT, M, begin, end, x, x_tstride, v0, v_fill, spikes, nh, v_out,        \
                 store_v_seq, KIND, HARD)
    DISPATCH_CHARGE_RESET(FORWARD)
#undef FORWARD
}

/* sg[i] = g'(H - v_th) for one block and step (surrogates.h, runtime/surrogate.py). */
static void surrogate_grad(const snn_params *p, const float *nh, float *sg, int64_t n) {
    const float vth = p->v_th, a = p->a, b = p->b;
    SNN_SURROGATE_LOOP(float, f32, p->surrogate, n, -nh[i] - vth, sg[i], a, b)
}

/* -H of one block for every step, recomputed from X and V[init] exactly as the forward
 * computed it (same operations): hbuf[t * n + i]. */
INLINE void recompute_impl(const snn_params *p, int64_t nT, int64_t n, const float *x,
                           int64_t x_tstride, const float *v0, float v_fill, float *hbuf,
                           const int KIND, const int HARD) {
    const float vth = p->v_th, vr = p->vr, decay = p->decay;
    float v[BLK];
    if (v0)
        memcpy(v, v0, n * sizeof(float));
    else
        for (int64_t i = 0; i < n; i++) v[i] = v_fill;
    for (int64_t t = 0; t < nT; t++) {
        const float *xt = x + t * x_tstride;
        float *ht = hbuf + t * n;
        for (int64_t i = 0; i < n; i++) {
            const float h = charge(KIND, xt[i], v[i], vr, decay);
            ht[i] = -h;
            v[i] = reset(HARD, h, fire(h, vth), vr, vth);
        }
    }
}

static void recompute(const snn_params *p, int64_t nT, int64_t n, const float *x,
                      int64_t x_tstride, const float *v0, float v_fill, float *hbuf) {
#define RECOMPUTE(KIND, HARD) recompute_impl(p, nT, n, x, x_tstride, v0, v_fill, hbuf, KIND, HARD)
    DISPATCH_CHARGE_RESET(RECOMPUTE)
#undef RECOMPUTE
}

INLINE void backward_impl(const snn_params *p, int64_t nT, int64_t M, int64_t begin,
                          int64_t end, const float *nh, const float *gs, const float *gv,
                          int32_t store_v_seq, const float *x, int64_t x_tstride,
                          const float *xr, int64_t xr_tstride, float *hbuf,
                          const float *v0, float v_fill, float *gx, float *gv0, double *gk,
                          const int HARD, const int DETACH, const int PLIF) {
    const float vth = p->v_th, vr = p->vr, dx = p->p, dv = p->q;
    float g[BLK], sg[BLK], gh[BLK], acc[BLK];
    double gk_sum = 0.0;
    const int64_t blk = block_of(p);
    for (int64_t b0 = begin; b0 < end; b0 += blk) {
        const int64_t n = end - b0 < blk ? end - b0 : blk;
        if (!nh) /* -H of this block from the input, into hbuf (stays in cache) */
            recompute(p, nT, n, xr + b0, xr_tstride, v0 ? v0 + b0 : NULL, v_fill, hbuf);
        for (int64_t i = 0; i < n; i++) g[i] = gv && !store_v_seq ? gv[b0 + i] : 0.0f;
        for (int64_t i = 0; i < n; i++) acc[i] = 0.0f;
        for (int64_t t = nT - 1; t >= 0; t--) {
            const float *ht = nh ? nh + t * M + b0 : hbuf + t * n;
            const float *gst = gs ? gs + t * M + b0 : NULL;
            float *gxt = gx + t * M + b0;
            if (gv && store_v_seq)
                for (int64_t i = 0; i < n; i++) g[i] += gv[t * M + b0 + i];
            surrogate_grad(p, ht, sg, n);
            for (int64_t i = 0; i < n; i++) {
                const float h = -ht[i], s = fire(h, vth);
                float dv_dh;
                if (HARD)
                    dv_dh = DETACH ? 1.0f - s : (1.0f - s) + (vr - h) * sg[i];
                else
                    dv_dh = DETACH ? 1.0f : 1.0f - vth * sg[i];
                float grad_h = g[i] * dv_dh;
                if (gst) grad_h += gst[i] * sg[i];
                gxt[i] = grad_h * dx;
                g[i] = grad_h * dv;
                if (PLIF) gh[i] = grad_h;
            }
            if (PLIF) { /* grad_k += grad_H dH/dk; dH/dk = [X] - (V[t-1] - vr) */
                const float *xt = x ? x + t * x_tstride + b0 : NULL;
                const float *hp = t == 0 ? NULL : nh ? nh + (t - 1) * M + b0 : hbuf + (t - 1) * n;
                for (int64_t i = 0; i < n; i++) {
                    float vp;
                    if (hp) {
                        const float hh = -hp[i];
                        vp = reset(HARD, hh, fire(hh, vth), vr, vth);
                    } else {
                        vp = v0 ? v0[b0 + i] : v_fill;
                    }
                    acc[i] += gh[i] * (xt ? xt[i] - (vp - vr) : -(vp - vr));
                }
            }
        }
        if (gv0) memcpy(gv0 + b0, g, n * sizeof(float));
        if (PLIF)
            for (int64_t i = 0; i < n; i++) gk_sum += (double)acc[i];
    }
    if (gk) *gk = gk_sum;
}

/* grad_X (and grad_V[init], grad_k for PLIF) of neurons [begin, end); gs, gv may be NULL.
 * -H comes from nh (saved by the forward) or, when nh is NULL, is recomputed from the
 * input xr (step t at xr + t * xr_tstride). x is the input for PLIF's grad_k with
 * decay_input (else NULL); v0 the initial V or NULL. Returns 0, or 1 when out of memory. */
int32_t snn_backward(const snn_params *p, int64_t nT, int64_t M, int64_t begin, int64_t end,
                     const float *nh, const float *gs, const float *gv, int32_t store_v_seq,
                     const float *x, int64_t x_tstride, const float *xr, int64_t xr_tstride,
                     const float *v0, float v_fill, float *gx, float *gv0, double *gk) {
    float *hbuf = NULL;
    if (!nh) {
        hbuf = malloc((size_t)nT * (size_t)block_of(p) * sizeof(float));
        if (!hbuf) return 1;
    }
#define BACKWARD(HARD, DETACH, PLIF)                                                       \
    backward_impl(p, nT, M, begin, end, nh, gs, gv, store_v_seq, x, x_tstride, xr,         \
                  xr_tstride, hbuf, v0, v_fill, gx, gv0, gk, HARD, DETACH, PLIF)
    const int plif = p->charge == CHARGE_PLIF || p->charge == CHARGE_PLIF_NODI;
    switch (plif * 4 + (p->hard != 0) * 2 + (p->detach != 0)) {
    case 0: BACKWARD(0, 0, 0); break;
    case 1: BACKWARD(0, 1, 0); break;
    case 2: BACKWARD(1, 0, 0); break;
    case 3: BACKWARD(1, 1, 0); break;
    case 4: BACKWARD(0, 0, 1); break;
    case 5: BACKWARD(0, 1, 1); break;
    case 6: BACKWARD(1, 0, 1); break;
    case 7: BACKWARD(1, 1, 1); break;
    }
#undef BACKWARD
    free(hbuf);
    return 0;
}

/* -- parallel entry points --------------------------------------------------------------
 * Built with -fopenmp, these split the neurons over `threads` OpenMP threads. The library
 * then links libgomp.so.1, which resolves to the libgomp PyTorch has already loaded, so
 * the kernel shares PyTorch's own thread pool instead of competing with it. */
#ifdef _OPENMP
#include <omp.h>
#endif

int32_t snn_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

static int64_t chunk_of(int64_t M, int32_t threads) {
    int64_t per = (M + threads - 1) / threads;
    return (per + 63) / 64 * 64;
}

void snn_forward_parallel(const snn_params *p, int64_t nT, int64_t M, int32_t threads,
                          const float *x, int64_t x_tstride, const float *v0, float v_fill,
                          float *spikes, float *nh, float *v_out, int32_t store_v_seq) {
    const int64_t per = chunk_of(M, threads);
    const int64_t chunks = (M + per - 1) / per;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t b1 = (c + 1) * per < M ? (c + 1) * per : M;
        snn_forward(p, nT, M, c * per, b1, x, x_tstride, v0, v_fill, spikes, nh, v_out,
                    store_v_seq);
    }
}

/* gk_parts: one double per chunk (at least `threads` of them), summed by the caller. */
int32_t snn_backward_parallel(const snn_params *p, int64_t nT, int64_t M, int32_t threads,
                              const float *nh, const float *gs, const float *gv,
                              int32_t store_v_seq, const float *x, int64_t x_tstride,
                              const float *xr, int64_t xr_tstride, const float *v0,
                              float v_fill, float *gx, float *gv0, double *gk_parts) {
    const int64_t per = chunk_of(M, threads);
    const int64_t chunks = (M + per - 1) / per;
    int32_t status = 0;
#pragma omp parallel for num_threads(threads) schedule(static, 1) reduction(|:status)
    for (int64_t c = 0; c < chunks; c++) {
        const int64_t b1 = (c + 1) * per < M ? (c + 1) * per : M;
        status |= snn_backward(p, nT, M, c * per, b1, nh, gs, gv, store_v_seq, x, x_tstride, xr,
                               xr_tstride, v0, v_fill, gx, gv0, gk_parts ? gk_parts + c : NULL);
    }
    return status;
}
