#include "cpu/kernels.h"

namespace fusedrnn::cpu {
namespace {

// With W = 1 a unit block holds one unit's G gate rows: B[u*G + g, k] at b[(u*depth + k)*G + g].
template <class T>
void gemm_nt(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const T* a, const float* b,
             const T* bias, T* c, int64_t c_stride) {
    const int64_t columns = blocks * gate_count;
    for (int64_t row = 0; row < rows; ++row) {
        const T* a_row = a + row * depth;
        T* c_row = c + row * c_stride;
        for (int64_t column = 0; column < columns; ++column) {
            const float* b_row = b + (column / gate_count * depth) * gate_count + column % gate_count;
            T sum = 0;
            for (int64_t k = 0; k < depth; ++k) {
                sum += a_row[k] * static_cast<T>(b_row[k * gate_count]);
            }
            c_row[column] = bias[column] + sum;
        }
    }
}

}  // namespace

void f32_gemm_nt_reference(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const float* a,
                           const float* b, const float* bias, float* c, int64_t c_stride) {
    gemm_nt(rows, blocks, gate_count, depth, a, b, bias, c, c_stride);
}

void f64_gemm_nt_reference(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const double* a,
                           const float* b, const double* bias, double* c, int64_t c_stride) {
    gemm_nt(rows, blocks, gate_count, depth, a, b, bias, c, c_stride);
}

}  // namespace fusedrnn::cpu
