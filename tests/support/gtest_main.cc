// The main of every test executable: GoogleTest's, except that a test suite whose
// SetUpTestSuite failed fails each of its tests.
//
// GoogleTest runs the tests of such a suite as skipped (the run's exit code is 1, but the
// output says "[  SKIPPED ]" for each), and gtest_discover_tests' rule turns that output
// into ctest's "skipped", which ctest counts as success: a fixture that could not make
// its media went unnoticed. Failing each test puts "[  FAILED  ]" in its output instead;
// tests skipped on purpose (GTEST_SKIP with a reason: a tool missing) stay skipped.
#include <gtest/gtest.h>

namespace {

class SuiteSetUpFailureFailsItsTests : public testing::EmptyTestEventListener {
 public:
  void OnTestStart(const testing::TestInfo& test) override {
    const testing::TestSuite* suite = testing::UnitTest::GetInstance()->current_test_suite();
    if (suite != nullptr && suite->ad_hoc_test_result().Failed()) {
      ADD_FAILURE() << "the set-up of " << test.test_suite_name() << " failed (see above), so " << test.name()
                    << " could not run";
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  testing::UnitTest::GetInstance()->listeners().Append(new SuiteSetUpFailureFailsItsTests);
  return RUN_ALL_TESTS();
}
