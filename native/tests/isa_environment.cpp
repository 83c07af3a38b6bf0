// CTest runs the suites once per kernel set (FUSEDRNN_ISA=avx512|avx2|reference). Where this CPU lacks the set
// asked for, the library falls back to a lower one; the run then skips every test, visibly, instead of
// testing the fallback a second time under the wrong name.
#include "test_support.h"

namespace fusedrnn::test {
namespace {

class IsaEnvironment : public ::testing::Environment {
public:
    void SetUp() override {
        const std::string requested = requested_isa();
        const char* active = nullptr;
        ASSERT_EQ(frnn_isa_name(&active), FRNN_STATUS_OK);
        if (!requested.empty() && requested != active) {
            GTEST_SKIP() << "FUSEDRNN_ISA=" << requested << " is not supported by this CPU (active set: " << active
                         << ")";
        }
        std::printf("kernel set: %s, FUSEDRNN_TEST_THREADS=%d\n", active, test_thread_count());
    }
};

const ::testing::Environment* const isa_environment = ::testing::AddGlobalTestEnvironment(new IsaEnvironment);

}  // namespace
}  // namespace fusedrnn::test
