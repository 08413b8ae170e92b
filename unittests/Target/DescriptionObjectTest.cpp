//===- DescriptionObjectTest.cpp - The description compiled in background -===//
//
// DescriptionObject runs `cc -c` on a model's description while the model's
// code is generated: its object when the compiler succeeds, the failure
// when it does not, and no temporary file left behind either way.
//
//===----------------------------------------------------------------------===//

#include "recq/Target/Codegen.h"

#include "llvm/Support/FileSystem.h"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(DescriptionObject, CompilesInTheBackgroundAndCleansUp) {
  std::string object;
  {
    auto started = recq::DescriptionObject::start(
        "int recq_test_value(void) { return 7; }\n");
    ASSERT_TRUE(bool(started)) << llvm::toString(started.takeError());
    auto path = (*started)->wait();
    ASSERT_TRUE(bool(path)) << llvm::toString(path.takeError());
    object = *path;
    uint64_t size = 0;
    ASSERT_FALSE(llvm::sys::fs::file_size(object, size));
    EXPECT_GT(size, 0u);
    // A second wait gives the same answer.
    auto again = (*started)->wait();
    ASSERT_TRUE(bool(again)) << llvm::toString(again.takeError());
    EXPECT_EQ(*again, object);
  }
  EXPECT_FALSE(llvm::sys::fs::exists(object));
}

TEST(DescriptionObject, ACompileErrorIsReportedNotLinked) {
  auto started = recq::DescriptionObject::start("this is not C\n");
  ASSERT_TRUE(bool(started)) << llvm::toString(started.takeError());
  llvm::Error linked =
      recq::linkSharedLibrary("/nonexistent.o", **started, "/nonexistent.so");
  ASSERT_TRUE(bool(linked));
  EXPECT_NE(llvm::toString(std::move(linked))
                .find("compiling the model's description failed"),
            std::string::npos);
}

} // namespace
