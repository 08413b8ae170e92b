//===- HostTest.cpp - The runtime's reading of the THP setting ------------===//
//
// RECQ_HUGEPAGES=1 is refused at load where transparent huge pages are off;
// the setting comes from recq_thp_mode, tested here on files of each form.
//
//===----------------------------------------------------------------------===//

#include "recq/Runtime/recq_host.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

/// recq_thp_mode of a temporary file holding `text`.
int modeOf(const std::string &text) {
  char path[] = "/tmp/recq-thp-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
  close(fd);
  int mode = recq_thp_mode(path);
  std::remove(path);
  return mode;
}

TEST(Host, ThpModeIsTheBracketedChoice) {
  EXPECT_EQ(modeOf("[always] madvise never\n"), RECQ_THP_ALWAYS);
  EXPECT_EQ(modeOf("always [madvise] never\n"), RECQ_THP_MADVISE);
  EXPECT_EQ(modeOf("always madvise [never]\n"), RECQ_THP_NEVER);
  EXPECT_EQ(modeOf("always madvise never\n"), RECQ_THP_UNKNOWN);
  EXPECT_EQ(modeOf(""), RECQ_THP_UNKNOWN);
  EXPECT_EQ(recq_thp_mode("/nonexistent/recq/thp"), RECQ_THP_UNKNOWN);
}

TEST(Host, ThpModeNames) {
  EXPECT_STREQ(recq_thp_mode_name(RECQ_THP_ALWAYS), "always");
  EXPECT_STREQ(recq_thp_mode_name(RECQ_THP_MADVISE), "madvise");
  EXPECT_STREQ(recq_thp_mode_name(RECQ_THP_NEVER), "never");
  EXPECT_STREQ(recq_thp_mode_name(RECQ_THP_UNKNOWN), "unknown");
}

TEST(Host, ThpModeAgreesWithSysfs) {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(in, line))
    GTEST_SKIP() << "this kernel has no transparent huge pages setting";
  int want = line.find("[always]") != std::string::npos    ? RECQ_THP_ALWAYS
             : line.find("[madvise]") != std::string::npos ? RECQ_THP_MADVISE
             : line.find("[never]") != std::string::npos   ? RECQ_THP_NEVER
                                                           : RECQ_THP_UNKNOWN;
  EXPECT_EQ(recq_thp_mode(nullptr), want) << line;
}

} // namespace
