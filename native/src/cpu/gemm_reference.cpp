#include "cpu/kernels.h"

namespace fusedrnn::cpu {

void gemm_nt_reference(int64_t rows, int64_t columns, int64_t depth, const double* a, const float* b,
                       const double* bias, double* c) {
    for (int64_t row = 0; row < rows; ++row) {
        const double* a_row = a + row * depth;
        double* c_row = c + row * columns;
        for (int64_t column = 0; column < columns; ++column) {
            const float* b_row = b + column * depth;
            double sum = 0.0;
            for (int64_t k = 0; k < depth; ++k) {
                sum += a_row[k] * static_cast<double>(b_row[k]);
            }
            c_row[column] = bias[column] + sum;
        }
    }
}

}  // namespace fusedrnn::cpu
