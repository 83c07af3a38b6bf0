#include "cpu/simd_avx512.h"
#define FUSEDRNN_VECTOR_MATH_CHECK_TRAITS
#include "vector_math_check.h"

fusedrnn::test::VectorMathErrors fusedrnn::test::vector_math_errors_avx512_f32() {
    return measure_vector_math<fusedrnn::cpu::Avx512F32>();
}

fusedrnn::test::VectorMathErrors fusedrnn::test::vector_math_errors_avx512_f64() {
    return measure_vector_math<fusedrnn::cpu::Avx512F64>();
}
