#include "cpu/kernels.h"

namespace fusedrnn::cpu {

// With W = 1 a unit block holds one unit's G gate rows: B[u*G + g, k] at b[(u*depth + k)*G + g].
void gemm_nt_reference(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const double* a,
                       const float* b, const double* bias, double* c, int64_t c_stride) {
    const int64_t columns = blocks * gate_count;
    for (int64_t row = 0; row < rows; ++row) {
        const double* a_row = a + row * depth;
        double* c_row = c + row * c_stride;
        for (int64_t column = 0; column < columns; ++column) {
            const float* b_row = b + (column / gate_count * depth) * gate_count + column % gate_count;
            double sum = 0.0;
            for (int64_t k = 0; k < depth; ++k) {
                sum += a_row[k] * static_cast<double>(b_row[k * gate_count]);
            }
            c_row[column] = bias[column] + sum;
        }
    }
}

}  // namespace fusedrnn::cpu
