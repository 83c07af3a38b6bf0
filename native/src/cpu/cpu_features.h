// Which vector instruction sets this CPU and its OS (saved register state) support: what the kernel files built
// with cmake/IsaFlags.cmake's flags may use. Header-only, so the tests can ask the same question as dispatch.
#pragma once

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace fusedrnn {

#if defined(_MSC_VER) && !defined(__clang__)
namespace cpu_features_detail {
inline bool bit(int value, int index) { return ((static_cast<unsigned>(value) >> index) & 1u) != 0; }
// cpuid leaf 1 ecx, leaf 7 ebx, and XCR0 (0 without OSXSAVE).
struct Registers {
    int leaf1_ecx = 0;
    int leaf7_ebx = 0;
    unsigned long long xcr0 = 0;
};
inline Registers read() {
    Registers registers;
    int values[4];
    __cpuid(values, 0);
    const int max_leaf = values[0];
    __cpuid(values, 1);
    registers.leaf1_ecx = values[2];
    registers.xcr0 = bit(values[2], 27) ? _xgetbv(0) : 0;
    if (max_leaf >= 7) {
        __cpuidex(values, 7, 0);
        registers.leaf7_ebx = values[1];
    }
    return registers;
}
}  // namespace cpu_features_detail

inline bool cpu_has_avx2_fma() {
    const auto r = cpu_features_detail::read();
    return (r.xcr0 & 0x6) == 0x6 && cpu_features_detail::bit(r.leaf1_ecx, 12) &&
           cpu_features_detail::bit(r.leaf7_ebx, 5);
}
inline bool cpu_has_avx512() {
    const auto r = cpu_features_detail::read();
    using cpu_features_detail::bit;
    return cpu_has_avx2_fma() && (r.xcr0 & 0xe6) == 0xe6 && bit(r.leaf7_ebx, 16) && bit(r.leaf7_ebx, 17) &&
           bit(r.leaf7_ebx, 30) && bit(r.leaf7_ebx, 31);
}
#else
inline bool cpu_has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
inline bool cpu_has_avx512() {
    return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}
#endif

}  // namespace fusedrnn
