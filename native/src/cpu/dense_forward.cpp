#include "cpu/dense_forward.h"

#include "common/checked_math.h"
#include "cpu/cpu_backend.h"
#include "cpu/dispatch.h"

#include <algorithm>
#include <cstddef>
#include <type_traits>

namespace fusedrnn::cpu {
namespace {

// Below this many multiply-adds a call runs on the caller alone: waking the workers would cost more than it saves.
constexpr int64_t min_parallel_macs = 32 * 1024;

// The product runs as the input projection's GEMM (gemm_nt with one gate), each participant over its own blocks of W
// outputs for every row; after a barrier each participant activates its own rows. A participant's share never
// changes how an output is computed, so the result is the same for any thread count.
template <class T>
void dense_forward_in(const frnn_dense& dense, frnn_workspace& workspace, int64_t rows, const float* x, float* y) {
    const KernelTable<T>& kernels = active_kernels<T>();
    const DenseShape& shape = dense.shape;
    const CpuDense& packed = cpu_part(dense);
    CpuWorkspace& scratch = cpu_part(workspace);
    const int64_t depth = shape.input_size;
    const int64_t width = packed.panel_width;
    const int64_t padded = packed.padded_outputs;
    const int64_t blocks = padded / width;
    const int64_t products = checked_product({rows, padded}, "rows*output_size");
    const int64_t widened = std::is_same_v<T, float> ? 0 : checked_product({rows, depth}, "rows*input_size");
    T* const c = scratch.reserve<T>(static_cast<std::size_t>(checked_sum({products, widened}, "the dense workspace")));
    const T* a = nullptr;
    if constexpr (std::is_same_v<T, float>) {
        a = x;
    } else {
        T* wide = c + products;
        std::copy(x, x + widened, wide);
        a = wide;
    }

    int participants = 1;
    if (packed.thread_count > 1 && checked_product({products, depth}, "rows*output_size*input_size") >= min_parallel_macs) {
        participants = static_cast<int>(std::min<int64_t>(packed.thread_count, blocks));
    }
    if (participants > 1 && scratch.team.congested()) {
        participants = 1;
    }
    if (participants > 1) {
        participants = scratch.team.hire(participants);  // fewer when the pool has fewer idle
    }
    WorkerTeam* team = participants > 1 ? &scratch.team : nullptr;
    auto job = [&](int participant) {
        const Range mine = share(blocks, participant, participants);
        if (mine.size() > 0) {
            kernels.gemm_nt(rows, mine.size(), 1, depth, a, packed.weight.data() + mine.begin * depth * width,
                            packed.bias<T>() + mine.begin * width, c + mine.begin * width, padded);
        }
        if (team != nullptr) {
            team->barrier();
        }
        const Range my_rows = share(rows, participant, participants);
        for (int64_t row = my_rows.begin; row < my_rows.end; ++row) {
            kernels.dense_activation(shape.activation, c + row * padded, shape.output_size, y + row * shape.output_size);
        }
    };
    if (team == nullptr) {
        job(0);
    } else {
        team->run(job);
    }
}

}  // namespace

void dense_forward(const frnn_dense& dense, frnn_workspace& workspace, int64_t rows, const float* x, float* y) {
    if (dense.shape.precision == FRNN_PRECISION_FLOAT32) {
        dense_forward_in<float>(dense, workspace, rows, x, y);
    } else {
        dense_forward_in<double>(dense, workspace, rows, x, y);
    }
}

}  // namespace fusedrnn::cpu
