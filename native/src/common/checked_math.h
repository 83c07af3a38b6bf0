#pragma once

#include "common/error.h"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

namespace fusedrnn {

// Product of non-negative sizes; an overflow is the caller's error (absurd sizes), reported for `what`.
inline int64_t checked_product(std::initializer_list<int64_t> factors, const char* what) {
    int64_t product = 1;
    for (int64_t factor : factors) {
        if (factor != 0 && product > std::numeric_limits<int64_t>::max() / factor) {
            fail(FRNN_STATUS_INVALID_ARGUMENT, std::string(what) + " is too large to address");
        }
        product *= factor;
    }
    return product;
}

}  // namespace fusedrnn
