// The scalar cell math of common/cell_math.h (the CPU reference set's, and the device code's), on the host: each
// activation at values whose answers are known from the ONNX operator formulas, NaN propagation, clip, and one LSTM
// and GRU unit against the formulas written out here.
#include "common/cell_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <type_traits>

namespace {

using fusedrnn::ActivationRule;
using fusedrnn::CellRules;
namespace cell_math = fusedrnn::cell_math;

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

ActivationRule rule(frnn_activation_kind kind, float alpha = 0.0f, float beta = 0.0f) {
    return ActivationRule{kind, alpha, beta};
}

template <class T>
class CellMathTest : public ::testing::Test {
protected:
    // Float to within a few ulps of the double answer; double to within rounding.
    static constexpr double tolerance = std::is_same_v<T, float> ? 1e-6 : 1e-15;

    static void expect_activation(const ActivationRule& activation, double x, double expected) {
        const double actual = static_cast<double>(cell_math::activate(activation, static_cast<T>(x)));
        if (std::isnan(expected)) {
            EXPECT_TRUE(std::isnan(actual)) << "kind " << activation.kind << " at " << x << " gave " << actual;
        } else if (std::isinf(expected)) {
            EXPECT_EQ(actual, expected) << "kind " << activation.kind << " at " << x;
        } else {
            // Relative, so that small answers (softplus far below 0) are held to their own digits.
            EXPECT_NEAR(actual, expected, tolerance * (expected == 0.0 ? 1.0 : std::fabs(expected)))
                << "kind " << activation.kind << " at " << x;
        }
    }
};

using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CellMathTest, Precisions);

TYPED_TEST(CellMathTest, ActivationsMatchTheOnnxFormulasAtKnownPoints) {
    const auto check = [](const ActivationRule& activation, double x, double expected) {
        TestFixture::expect_activation(activation, x, expected);
    };
    check(rule(FRNN_ACTIVATION_IDENTITY), -2.5, -2.5);
    check(rule(FRNN_ACTIVATION_RELU), -3.0, 0.0);
    check(rule(FRNN_ACTIVATION_RELU), 3.0, 3.0);
    check(rule(FRNN_ACTIVATION_TANH), 0.5, 0.46211715726000974);
    check(rule(FRNN_ACTIVATION_TANH), -40.0, -1.0);
    check(rule(FRNN_ACTIVATION_SIGMOID), 0.0, 0.5);
    check(rule(FRNN_ACTIVATION_SIGMOID), 2.0, 0.8807970779778823);
    check(rule(FRNN_ACTIVATION_SIGMOID), -800.0, 0.0);  // exp overflows to inf: 1 / inf
    check(rule(FRNN_ACTIVATION_SIGMOID), 800.0, 1.0);
    check(rule(FRNN_ACTIVATION_AFFINE, 2.0f, -1.0f), 3.0, 5.0);
    check(rule(FRNN_ACTIVATION_LEAKY_RELU, 0.25f), -2.0, -0.5);
    check(rule(FRNN_ACTIVATION_LEAKY_RELU, 0.25f), 2.0, 2.0);
    // ThresholdedRelu keeps x only above alpha, strictly.
    check(rule(FRNN_ACTIVATION_THRESHOLDED_RELU, 1.0f), 1.0, 0.0);
    check(rule(FRNN_ACTIVATION_THRESHOLDED_RELU, 1.0f), 1.5, 1.5);
    check(rule(FRNN_ACTIVATION_SCALED_TANH, 2.0f, 0.5f), 1.0, 2.0 * std::tanh(0.5));
    check(rule(FRNN_ACTIVATION_HARD_SIGMOID, 0.25f, 0.5f), 1.0, 0.75);
    check(rule(FRNN_ACTIVATION_HARD_SIGMOID, 0.25f, 0.5f), 10.0, 1.0);
    check(rule(FRNN_ACTIVATION_HARD_SIGMOID, 0.25f, 0.5f), -10.0, 0.0);
    check(rule(FRNN_ACTIVATION_ELU, 1.5f), -1.0, 1.5 * (std::exp(-1.0) - 1.0));
    check(rule(FRNN_ACTIVATION_ELU, 1.5f), 2.0, 2.0);
    check(rule(FRNN_ACTIVATION_SOFTSIGN), 3.0, 0.75);
    check(rule(FRNN_ACTIVATION_SOFTSIGN), -3.0, -0.75);
    check(rule(FRNN_ACTIVATION_SOFTPLUS), 0.0, std::log(2.0));
    // ln(1 + e^x) without overflow at large x, and without losing e^x at very negative x.
    check(rule(FRNN_ACTIVATION_SOFTPLUS), 100.0, 100.0);
    check(rule(FRNN_ACTIVATION_SOFTPLUS), -30.0, 9.357622968839737e-14);
}

TYPED_TEST(CellMathTest, EveryActivationPropagatesNan) {
    for (const ActivationRule& activation :
         {rule(FRNN_ACTIVATION_IDENTITY), rule(FRNN_ACTIVATION_RELU), rule(FRNN_ACTIVATION_TANH),
          rule(FRNN_ACTIVATION_SIGMOID), rule(FRNN_ACTIVATION_AFFINE, 1.0f, 0.0f),
          rule(FRNN_ACTIVATION_LEAKY_RELU, 0.01f), rule(FRNN_ACTIVATION_SCALED_TANH, 1.0f, 1.0f),
          rule(FRNN_ACTIVATION_HARD_SIGMOID, 0.2f, 0.5f), rule(FRNN_ACTIVATION_ELU, 1.0f),
          rule(FRNN_ACTIVATION_SOFTSIGN), rule(FRNN_ACTIVATION_SOFTPLUS)}) {
        TestFixture::expect_activation(activation, nan_value, nan_value);
    }
    // ThresholdedRelu's comparison is false for NaN: 0, as ONNX Runtime's x > alpha ? x : 0 gives.
    TestFixture::expect_activation(rule(FRNN_ACTIVATION_THRESHOLDED_RELU, 1.0f), nan_value, 0.0);
}

TYPED_TEST(CellMathTest, ActivationsAtInfinity) {
    TestFixture::expect_activation(rule(FRNN_ACTIVATION_TANH), infinity, 1.0);
    TestFixture::expect_activation(rule(FRNN_ACTIVATION_SIGMOID), -infinity, 0.0);
    TestFixture::expect_activation(rule(FRNN_ACTIVATION_RELU), infinity, infinity);
    TestFixture::expect_activation(rule(FRNN_ACTIVATION_SOFTSIGN), infinity, nan_value);  // inf / inf, as the formula
    TestFixture::expect_activation(rule(FRNN_ACTIVATION_ELU, 1.0f), -infinity, -1.0);
}

TYPED_TEST(CellMathTest, ClipBoundsPreActivationsAndKeepsNan) {
    using T = TypeParam;
    CellRules rules{};
    EXPECT_EQ(cell_math::clipped(rules, T(7)), T(7));  // clip 0: none
    rules.clip = 2.5f;
    EXPECT_EQ(cell_math::clipped(rules, T(7)), T(2.5));
    EXPECT_EQ(cell_math::clipped(rules, T(-7)), T(-2.5));
    EXPECT_EQ(cell_math::clipped(rules, T(1)), T(1));
    EXPECT_EQ(cell_math::clipped(rules, static_cast<T>(-infinity)), T(-2.5));
    EXPECT_TRUE(std::isnan(cell_math::clipped(rules, static_cast<T>(nan_value))));
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

TYPED_TEST(CellMathTest, LstmUnitIsOnnxsCellWithPeepholes) {
    using T = TypeParam;
    CellRules rules{};
    rules.gates = rule(FRNN_ACTIVATION_SIGMOID);
    rules.candidate = rule(FRNN_ACTIVATION_TANH);
    rules.output = rule(FRNN_ACTIVATION_TANH);
    const double i = 0.3, f = -0.2, g = 0.9, o = 0.1, p_i = 0.5, p_f = -0.25, p_o = 0.75, c_prev = 0.6;
    const double c_expected = sigmoid(f + p_f * c_prev) * c_prev + sigmoid(i + p_i * c_prev) * std::tanh(g);
    const double h_expected = sigmoid(o + p_o * c_expected) * std::tanh(c_expected);
    T c = static_cast<T>(c_prev);
    const T h = cell_math::lstm_unit(rules, T(i), T(f), T(g), T(o), T(p_i), T(p_f), T(p_o), c);
    EXPECT_NEAR(static_cast<double>(c), c_expected, TestFixture::tolerance * 4);
    EXPECT_NEAR(static_cast<double>(h), h_expected, TestFixture::tolerance * 4);

    // Coupled: f = 1 - i, the forget sum unread.
    rules.coupled_input_forget = true;
    c = static_cast<T>(c_prev);
    cell_math::lstm_unit(rules, T(i), static_cast<T>(nan_value), T(g), T(o), T(0), T(0), T(0), c);
    const double input_gate = sigmoid(i);
    EXPECT_NEAR(static_cast<double>(c), (1.0 - input_gate) * c_prev + input_gate * std::tanh(g),
                TestFixture::tolerance * 4);
}

TYPED_TEST(CellMathTest, GruBlendWeighsTheOldStateByZ) {
    using T = TypeParam;
    EXPECT_EQ(cell_math::gru_blend(T(1), T(5), T(-2)), T(-2));
    EXPECT_EQ(cell_math::gru_blend(T(0), T(5), T(-2)), T(5));
    EXPECT_NEAR(static_cast<double>(cell_math::gru_blend(T(0.25), T(4), T(8))), 5.0, TestFixture::tolerance);
}

}  // namespace
