//===- HostTest.cpp - The runtime's reading of the THP setting ------------===//
//
// RECQ_HUGEPAGES=1 is refused at load where transparent huge pages are off;
// the setting comes from recq_thp_mode, tested here on files of each form.
// recq_huge_page_bytes reads /proc/self/smaps: tested on a file of that
// form and on a mapping of this process.
//
//===----------------------------------------------------------------------===//

#include "recq/Runtime/recq_host.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

namespace {

/// A temporary file holding `text`, removed when destroyed.
struct TempText {
  explicit TempText(const std::string &text) {
    int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
    close(fd);
  }
  ~TempText() { std::remove(path); }
  char path[32] = "/tmp/recq-host-XXXXXX";
};

/// recq_thp_mode of a temporary file holding `text`.
int modeOf(const std::string &text) { return recq_thp_mode(TempText(text).path); }

TEST(Host, ThpModeIsTheBracketedChoice) {
  EXPECT_EQ(modeOf("[always] madvise never\n"), RECQ_THP_ALWAYS);
  EXPECT_EQ(modeOf("always [madvise] never\n"), RECQ_THP_MADVISE);
  EXPECT_EQ(modeOf("always madvise [never]\n"), RECQ_THP_NEVER);
  EXPECT_EQ(modeOf("always madvise never\n"), RECQ_THP_UNKNOWN);
  EXPECT_EQ(modeOf(""), RECQ_THP_UNKNOWN);
  EXPECT_EQ(recq_thp_mode("/nonexistent/recq/thp"), RECQ_THP_UNKNOWN);
}

TEST(Host, MemAvailableIsReadInBytes) {
  EXPECT_EQ(recq_mem_available_bytes(TempText("MemTotal:       24000000 kB\n"
                                              "MemFree:         1000 kB\n"
                                              "MemAvailable:   20000000 kB\n")
                                         .path),
            int64_t(20000000) * 1024);
  EXPECT_EQ(recq_mem_available_bytes(TempText("MemTotal: 5 kB\n").path), -1);
  EXPECT_EQ(recq_mem_available_bytes("/nonexistent/recq/meminfo"), -1);
  EXPECT_GT(recq_mem_available_bytes(nullptr), 0) << "/proc/meminfo";
}

// A file truncated under its mapping: reading the pages past its new end
// would raise SIGBUS (the runtime's background read did, in a test that
// truncates a loaded model's weights file); recq_populate stops with -1.
TEST(Host, PopulateStopsAtATruncatedFilesEnd) {
  long page = sysconf(_SC_PAGESIZE);
  TempText file(std::string(3 * page, 'x'));
  int fd = open(file.path, O_RDONLY);
  ASSERT_GE(fd, 0);
  void *p = mmap(nullptr, 3 * page, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_GE(recq_populate(p, 3 * page), 0);
  ASSERT_EQ(truncate(file.path, page), 0);
  EXPECT_EQ(recq_populate(p, 3 * page), -1);
  EXPECT_GE(recq_populate(p, page), 0);
  munmap(p, 3 * page);
}

TEST(Host, PopulateModeNamedOrByDefault) {
  EXPECT_EQ(recq_populate_mode("0", 1, 100), RECQ_POPULATE_OFF);
  EXPECT_EQ(recq_populate_mode("1", 1000, 100), RECQ_POPULATE_AT_LOAD);
  EXPECT_EQ(recq_populate_mode("background", 1000, 100),
            RECQ_POPULATE_BACKGROUND);
  EXPECT_EQ(recq_populate_mode("yes", 1, 100), -1);
  EXPECT_EQ(recq_populate_mode("2", 1, 100), -1);
  // The default: in the background up to half of what is available.
  EXPECT_EQ(recq_populate_mode(nullptr, 50, 100), RECQ_POPULATE_BACKGROUND);
  EXPECT_EQ(recq_populate_mode("", 50, 100), RECQ_POPULATE_BACKGROUND);
  EXPECT_EQ(recq_populate_mode(nullptr, 51, 100), RECQ_POPULATE_OFF);
  EXPECT_EQ(recq_populate_mode(nullptr, 51, -1), RECQ_POPULATE_BACKGROUND);
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

TEST(Host, ThpUsableMeansAlwaysOrMadvise) {
  int mode = recq_thp_mode(nullptr);
  EXPECT_EQ(recq_thp_usable(),
            mode == RECQ_THP_ALWAYS || mode == RECQ_THP_MADVISE);
}

// Three mappings: two start inside [0x200000, 0x600000) (one anonymous
// with AnonHugePages, one of a file with FilePmdMapped), one outside whose
// huge pages do not count; ShmemPmdMapped counts too.
TEST(Host, HugePageBytesSumsTheMappingsInTheRange) {
  TempText smaps(
      "00100000-00200000 r--p 00000000 fe:00 12 /lib/x.so\n"
      "AnonHugePages:      2048 kB\n"
      "FilePmdMapped:      2048 kB\n"
      "00200000-00400000 r--p 00000000 00:00 0 \n"
      "Size:               2048 kB\n"
      "AnonHugePages:      2048 kB\n"
      "FilePmdMapped:         0 kB\n"
      "00400000-00600000 r--p 00000000 fe:00 13 /tmp/model.weights\n"
      "AnonHugePages:         0 kB\n"
      "ShmemPmdMapped:        0 kB\n"
      "FilePmdMapped:      2048 kB\n"
      "VmFlags: rd mr mw me hg\n"
      "00600000-00800000 r--p 00000000 fe:00 13 /tmp/model.weights\n"
      "FilePmdMapped:      2048 kB\n");
  const void *at = reinterpret_cast<const void *>(uintptr_t(0x200000));
  EXPECT_EQ(recq_huge_page_bytes(at, 0x400000, smaps.path), 4 << 20);
  EXPECT_EQ(recq_huge_page_bytes(at, 0x200000, smaps.path), 2 << 20);
  TempText shmem("7f0000000000-7f0000400000 r--s 00000000 00:01 9 /memfd:t\n"
                 "ShmemPmdMapped:     4096 kB\n");
  EXPECT_EQ(recq_huge_page_bytes(
                reinterpret_cast<const void *>(uintptr_t(0x7f0000000000)),
                0x400000, shmem.path),
            4 << 20);
  EXPECT_EQ(recq_huge_page_bytes(at, 0x400000, "/nonexistent/recq/smaps"), -1);
}

// This process's own smaps: a mapping of 4 KiB pages has none.
TEST(Host, HugePageBytesOfASmallPageMapping) {
  size_t len = 4 << 20;
  void *p = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  madvise(p, len, MADV_NOHUGEPAGE);
  std::memset(p, 1, len);
  int64_t huge = recq_huge_page_bytes(p, len, nullptr);
  munmap(p, len);
  if (huge < 0)
    GTEST_SKIP() << "no /proc/self/smaps";
  EXPECT_EQ(huge, 0);
}

} // namespace
