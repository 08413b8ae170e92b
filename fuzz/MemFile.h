//===- MemFile.h - A fuzz input as a file path ------------------*- C++ -*-===//
//
// The loader and the .npz reader take paths: each input is written to one
// memfd, reached as /proc/self/fd/N (no disk, nothing left behind).
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_FUZZ_MEMFILE_H
#define RECQ_FUZZ_MEMFILE_H

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace recq::fuzz {

class MemFile {
public:
  MemFile() {
    fd = memfd_create("recq-fuzz-input", 0);
    if (fd < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path = "/proc/self/fd/" + std::to_string(fd);
  }
  ~MemFile() { close(fd); }
  /// The file now holds exactly `bytes`.
  const std::string &write(const uint8_t *bytes, size_t size) {
    if (ftruncate(fd, 0) != 0 ||
        (size && pwrite(fd, bytes, size, 0) != static_cast<ssize_t>(size))) {
      std::perror("memfd write");
      std::abort();
    }
    return path;
  }

private:
  int fd;
  std::string path;
};

} // namespace recq::fuzz

#endif // RECQ_FUZZ_MEMFILE_H
