#include "callrec/core/denormals.h"

#include <gtest/gtest.h>

#include <cfloat>

namespace callrec {
namespace {

// volatile: the arithmetic must happen at run time, under the thread's mode.
float halve(float v) {
  volatile float x = v;
  volatile float half = 0.5f;
  return x * half;
}

TEST(DenormalsTest, GuardFlushesDenormalsAndRestoresTheThreadsMode) {
  const float denormal = FLT_MIN / 4;  // below the smallest normal float
  ASSERT_GT(denormal, 0.0f);
  EXPECT_GT(halve(denormal), 0.0f) << "by default denormals are computed";
  EXPECT_GT(halve(FLT_MIN), 0.0f);
  {
    const ScopedFlushDenormals flush;
    EXPECT_EQ(halve(denormal), 0.0f) << "a denormal input counts as zero";
    EXPECT_EQ(halve(FLT_MIN), 0.0f) << "a denormal result becomes zero";
    EXPECT_EQ(halve(1.0f), 0.5f);
    {
      const ScopedFlushDenormals nested;
      EXPECT_EQ(halve(denormal), 0.0f);
    }
    EXPECT_EQ(halve(denormal), 0.0f) << "a nested guard leaves the outer one's mode";
  }
  EXPECT_GT(halve(denormal), 0.0f) << "the thread's own mode is back";
}

}  // namespace
}  // namespace callrec
