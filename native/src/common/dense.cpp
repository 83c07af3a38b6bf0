#include "common/dense.h"

#include "common/checked_math.h"
#include "common/cpu_topology.h"
#include "common/shape_checks.h"
#include "common/weight_packing.h"

#include <algorithm>
#include <cstddef>

namespace fusedrnn {

std::unique_ptr<frnn_dense> create_dense(const frnn_dense_spec& spec, const float* weight, int64_t weight_count,
                                         const float* bias, int64_t bias_count, int64_t panel_width) {
    const DenseShape shape = validate_dense(spec, weight, weight_count, bias, bias_count);
    auto dense = std::make_unique<frnn_dense>();
    dense->spec = spec;
    dense->shape = shape;
    dense->panel_width = panel_width;
    dense->padded_outputs =
        checked_product({checked_sum({shape.output_size, panel_width - 1}, "output_size") / panel_width, panel_width},
                        "output_size");
    checked_product({dense->padded_outputs, shape.input_size}, "output_size*input_size");
    dense->thread_count = resolve_thread_count(spec.num_threads);
    dense->weight =
        pack_gate_rows(weight, 1, shape.output_size, dense->padded_outputs, shape.input_size, panel_width);
    const auto padded = static_cast<std::size_t>(dense->padded_outputs);
    if (shape.precision == FRNN_PRECISION_FLOAT32) {
        dense->f32_bias = AlignedArray<float>(padded);
        if (bias != nullptr) {
            std::copy(bias, bias + shape.output_size, dense->f32_bias.data());
        }
    } else {
        dense->f64_bias = AlignedArray<double>(padded);
        if (bias != nullptr) {
            std::copy(bias, bias + shape.output_size, dense->f64_bias.data());
        }
    }
    return dense;
}

HandleRegistry<frnn_dense>& dense_registry() {
    static HandleRegistry<frnn_dense> registry("frnn_dense");
    return registry;
}

}  // namespace fusedrnn
