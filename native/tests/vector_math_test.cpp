// The documented error bounds of the vector exp / sigmoid / tanh (src/cpu/vector_math.h), per vector ISA this
// CPU has. libm itself is within about an ulp, which the bounds leave room for.
#include "cpu/cpu_features.h"
#include "test_support.h"
#include "vector_math_check.h"

namespace fusedrnn::test {
namespace {

struct Bounds {
    double exp_relative, sigmoid_relative, tanh_relative, tanh_absolute;
};
constexpr Bounds double_bounds{1e-15, 2e-15, 1e-14, 1e-15};
constexpr Bounds float_bounds{3e-7, 4e-7, 5e-7, 4e-7};

void expect_within_bounds(const VectorMathErrors& errors, const Bounds& bounds) {
    EXPECT_LE(errors.exp_relative, bounds.exp_relative);
    EXPECT_LE(errors.sigmoid_relative, bounds.sigmoid_relative);
    EXPECT_LE(errors.tanh_relative, bounds.tanh_relative);
    EXPECT_LE(errors.tanh_absolute, bounds.tanh_absolute);
    EXPECT_TRUE(errors.nan_propagates);
    record_property("exp_relative", errors.exp_relative);
    record_property("sigmoid_relative", errors.sigmoid_relative);
    record_property("tanh_relative", errors.tanh_relative);
    record_property("tanh_absolute", errors.tanh_absolute);
}

TEST(VectorMath, Avx2WithinDocumentedBounds) {
    if (!cpu_has_avx2_fma()) {
        GTEST_SKIP() << "no AVX2 + FMA";
    }
    expect_within_bounds(vector_math_errors_avx2_f64(), double_bounds);
    expect_within_bounds(vector_math_errors_avx2_f32(), float_bounds);
}

TEST(VectorMath, Avx512WithinDocumentedBounds) {
    if (!cpu_has_avx512()) {
        GTEST_SKIP() << "no AVX-512";
    }
    expect_within_bounds(vector_math_errors_avx512_f64(), double_bounds);
    expect_within_bounds(vector_math_errors_avx512_f32(), float_bounds);
}

}  // namespace
}  // namespace fusedrnn::test
