#pragma once

#include "common/error.h"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>

namespace fusedrnn {

// a * b into *product; true when it does not fit in int64. The builtin avoids a 64-bit division (tens of cycles,
// and forward calls check several sizes on every call).
inline bool multiplication_overflows(int64_t a, int64_t b, int64_t* product) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, product);
#else
    if (b != 0 && a > std::numeric_limits<int64_t>::max() / b) {  // sizes are non-negative
        return true;
    }
    *product = a * b;
    return false;
#endif
}

// a + b into *sum; true when it does not fit in int64.
inline bool addition_overflows(int64_t a, int64_t b, int64_t* sum) {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_add_overflow(a, b, sum);
#else
    if (a > std::numeric_limits<int64_t>::max() - b) {  // sizes are non-negative
        return true;
    }
    *sum = a + b;
    return false;
#endif
}

// Product of non-negative sizes; an overflow is the caller's error (absurd sizes), reported for `what`.
inline int64_t checked_product(std::initializer_list<int64_t> factors, const char* what) {
    int64_t product = 1;
    for (int64_t factor : factors) {
        if (multiplication_overflows(product, factor, &product)) {
            fail(FRNN_STATUS_INVALID_ARGUMENT, std::string(what) + " is too large to address");
        }
    }
    return product;
}

// Sum of non-negative sizes; an overflow is reported for `what` as checked_product does.
inline int64_t checked_sum(std::initializer_list<int64_t> terms, const char* what) {
    int64_t sum = 0;
    for (int64_t term : terms) {
        if (addition_overflows(sum, term, &sum)) {
            fail(FRNN_STATUS_INVALID_ARGUMENT, std::string(what) + " is too large to address");
        }
    }
    return sum;
}

}  // namespace fusedrnn
