/* The surrogate derivatives g'(x) of the spiking surrogates, for float and double: the one
 * place the C kernels generated from neuron programs (snndsl/codegen/neuron_c.py) take
 * them from.
 *
 * The formulas are runtime/surrogate.py's derivatives (SpikingJelly 2.0.0's), numbered
 * as runtime/surrogate.KERNEL_IDS. "a" is the first shape parameter (alpha, or w for the leaky ReLU), "b" the
 * second (c for the leaky ReLU). Float's exp is a polynomial the compiler vectorises
 * (about 1 ulp); double's is libm's.
 *
 * SNN_SURROGATE_LOOP(T, SUF, ID, N, XEXPR, OUT, A, B) runs the loop
 *     for (i = 0; i < N; i++) OUT = g'(XEXPR)
 * with the switch on ID outside the loop, so each loop vectorises; XEXPR and OUT are
 * expressions of the loop index i.
 */
#ifndef SNNDSL_SURROGATES_H
#define SNNDSL_SURROGATES_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SNN_INLINE static inline __attribute__((always_inline))

enum {
    SG_SIGMOID = 0,
    SG_ATAN = 1,
    SG_PIECEWISE_QUADRATIC = 2,
    SG_PIECEWISE_EXP = 3,
    SG_SOFT_SIGN = 4,
    SG_ERF = 5,
    SG_SUPER_SPIKE = 6,
    SG_PIECEWISE_LEAKY_RELU = 7,
    SG_RECT = 8,
};

/* a * b + c, fused where the target has FMA: the kernels are built with
 * -ffp-contract=off (the forward evaluates the equations op for op), but the backward's
 * exp polynomial need not round each step, and fused it is 8 operations shorter (one
 * rounding instead of two: as accurate or more). Without FMA, fmaf would be a libm call. */
#ifdef __FMA__
#define SNN_MADD_F32(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define SNN_MADD_F32(a, b, c) ((a) * (b) + (c))
#endif

/* exp that the compiler can vectorise: Cephes' expf polynomial, about 1 ulp. (The
 * clamps as conditionals, not fmaxf/fminf: those NaN rules keep gcc from vectorising.) */
SNN_INLINE float exp_f32(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float n = __builtin_rintf(x * 1.44269504088896341f);
    float r = SNN_MADD_F32(n, -0.693359375f, x);
    r = SNN_MADD_F32(n, 2.12194440e-4f, r);
    float p = 1.9875691500e-4f;
    p = SNN_MADD_F32(p, r, 1.3981999507e-3f);
    p = SNN_MADD_F32(p, r, 8.3334519073e-3f);
    p = SNN_MADD_F32(p, r, 4.1665795894e-2f);
    p = SNN_MADD_F32(p, r, 1.6666665459e-1f);
    p = SNN_MADD_F32(p, r, 5.0000001201e-1f);
    p = SNN_MADD_F32(p, r * r, r) + 1.0f;
    const int32_t bits = ((int32_t)n + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

SNN_INLINE double exp_f64(double x) { return exp(x); }

/* One scalar function per surrogate and type: snn_sg_<name>_<SUF>(x, a, b). */
#define SNN_DEFINE_SURROGATES(T, SUF)                                                      \
    SNN_INLINE T snn_sg_sigmoid_##SUF(T x, T a, T b) {                                    \
        (void)b;                                                                           \
        const T s = (T)1 / ((T)1 + exp_##SUF(-(x * a)));                                   \
        return ((T)1 - s) * s * a;                                                         \
    }                                                                                      \
    SNN_INLINE T snn_sg_atan_##SUF(T x, T a, T b) {                                       \
        (void)b;                                                                           \
        const T c = (T)M_PI * (a / (T)2);                                                  \
        return (a / (T)2) / ((T)1 + (c * x) * (c * x));                                    \
    }                                                                                      \
    SNN_INLINE T snn_sg_piecewise_quadratic_##SUF(T x, T a, T b) {                        \
        (void)b;                                                                           \
        const T ab = x < 0 ? -x : x;                                                       \
        return ab > (T)1 / a ? (T)0 : -(a * a) * ab + a;                                   \
    }                                                                                      \
    SNN_INLINE T snn_sg_piecewise_exp_##SUF(T x, T a, T b) {                              \
        (void)b;                                                                           \
        const T ab = x < 0 ? -x : x;                                                       \
        return a / (T)2 * exp_##SUF(-a * ab);                                              \
    }                                                                                      \
    SNN_INLINE T snn_sg_soft_sign_##SUF(T x, T a, T b) {                                  \
        (void)b;                                                                           \
        const T ab = x < 0 ? -x : x;                                                       \
        return (T)1 / ((T)2 * a * (((T)1 / a + ab) * ((T)1 / a + ab)));                    \
    }                                                                                      \
    SNN_INLINE T snn_sg_erf_##SUF(T x, T a, T b) {                                        \
        (void)b;                                                                           \
        return exp_##SUF(-((x * a) * (x * a))) * (a / (T)1.7724538509055160273);           \
    }                                                                                      \
    SNN_INLINE T snn_sg_super_spike_##SUF(T x, T a, T b) {                                \
        (void)b;                                                                           \
        const T ab = x < 0 ? -x : x;                                                       \
        return a / ((ab + (T)1) * (ab + (T)1));                                            \
    }                                                                                      \
    SNN_INLINE T snn_sg_piecewise_leaky_relu_##SUF(T x, T a, T b) {                       \
        const T ab = x < 0 ? -x : x;                                                       \
        return ab < a ? (T)1 / ((T)2 * a) : b;                                             \
    }                                                                                      \
    SNN_INLINE T snn_sg_rect_##SUF(T x, T a, T b) {                                       \
        (void)b;                                                                           \
        const T ab = x < 0 ? -x : x;                                                       \
        return ab < (T)(0.5 / (double)a) ? a : (T)0;                                       \
    }

SNN_DEFINE_SURROGATES(float, f32)
SNN_DEFINE_SURROGATES(double, f64)

#define SNN_SG_CASE(NAME, T, SUF, N, XEXPR, OUT, A, B)                                      \
    for (int64_t i = 0; i < (N); i++) {                                                    \
        const T x_ = (XEXPR);                                                              \
        OUT = snn_sg_##NAME##_##SUF(x_, (A), (B));                                         \
    }                                                                                      \
    break

#define SNN_SURROGATE_LOOP(T, SUF, ID, N, XEXPR, OUT, A, B)                                 \
    switch (ID) {                                                                          \
    case SG_SIGMOID: SNN_SG_CASE(sigmoid, T, SUF, N, XEXPR, OUT, A, B);                     \
    case SG_ATAN: SNN_SG_CASE(atan, T, SUF, N, XEXPR, OUT, A, B);                           \
    case SG_PIECEWISE_QUADRATIC: SNN_SG_CASE(piecewise_quadratic, T, SUF, N, XEXPR, OUT, A, B); \
    case SG_PIECEWISE_EXP: SNN_SG_CASE(piecewise_exp, T, SUF, N, XEXPR, OUT, A, B);         \
    case SG_SOFT_SIGN: SNN_SG_CASE(soft_sign, T, SUF, N, XEXPR, OUT, A, B);                 \
    case SG_ERF: SNN_SG_CASE(erf, T, SUF, N, XEXPR, OUT, A, B);                             \
    case SG_SUPER_SPIKE: SNN_SG_CASE(super_spike, T, SUF, N, XEXPR, OUT, A, B);             \
    case SG_PIECEWISE_LEAKY_RELU: SNN_SG_CASE(piecewise_leaky_relu, T, SUF, N, XEXPR, OUT, A, B); \
    case SG_RECT: SNN_SG_CASE(rect, T, SUF, N, XEXPR, OUT, A, B);                           \
    default: SNN_SG_CASE(sigmoid, T, SUF, N, XEXPR, OUT, A, B);                             \
    }

/* Prefetch the N elements at P (one per cache line) into L2. The generated backward
 * reads one row of a block per step (a few KiB, a page apart from the next step's);
 * prefetched one row ahead (and the next pass's first row at the end of a pass), its
 * loads overlap the arithmetic: about 20 % off the backward at [16, 262144] float32 on one
 * thread (bench/README.md, "Generated neurons"). The forward prefetches the next step's
 * rows of x and of the output: 5-7 % off the raw Izhikevich forward on one thread. */
#define SNN_PREFETCH_ROW(P, N)                                                             \
    do {                                                                                   \
        const char *p_ = (const char *)(P), *e_ = (const char *)((P) + (N));               \
        for (; p_ < e_; p_ += 64) __builtin_prefetch(p_, 0, 2);                            \
    } while (0)

#endif
