// The documented error bounds of the vector exp / sigmoid / tanh (src/cpu/vector_math.h), per vector ISA this
// CPU has. libm itself is within about an ulp, which the bounds leave room for.
#include "common/cpu_features.h"
#include "test_support.h"
#include "vector_math_check.h"

namespace fusedrnn::test {
namespace {

void expect_within_bounds(const VectorMathErrors& errors) {
    EXPECT_LE(errors.exp_relative, 1e-15);
    EXPECT_LE(errors.sigmoid_relative, 2e-15);
    EXPECT_LE(errors.tanh_relative, 1e-14);
    EXPECT_LE(errors.tanh_absolute, 1e-15);
    EXPECT_TRUE(errors.nan_propagates);
    record_property("exp_relative", errors.exp_relative);
    record_property("sigmoid_relative", errors.sigmoid_relative);
    record_property("tanh_relative", errors.tanh_relative);
}

TEST(VectorMath, Avx2WithinDocumentedBounds) {
    if (!cpu_has_avx2_fma()) {
        GTEST_SKIP() << "no AVX2 + FMA";
    }
    expect_within_bounds(vector_math_errors_avx2());
}

TEST(VectorMath, Avx512WithinDocumentedBounds) {
    if (!cpu_has_avx512()) {
        GTEST_SKIP() << "no AVX-512";
    }
    expect_within_bounds(vector_math_errors_avx512());
}

}  // namespace
}  // namespace fusedrnn::test
