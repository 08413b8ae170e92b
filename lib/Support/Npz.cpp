//===- Npz.cpp - numpy .npz archives ---------------------------------------===//

#include "recq/Support/Npz.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"

#include <zip.h>

#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

using llvm::Error;
using llvm::Expected;
using llvm::StringRef;


int64_t recq::NpyArray::numElements() const {
  // Wraps only for shapes parseNpy refuses (their data could not exist).
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<uint64_t>(d);
  return static_cast<int64_t>(n);
}

size_t recq::NpyArray::elementSize() const {
  unsigned size = 0;
  StringRef(dtype).drop_front(1).getAsInteger(10, size);
  return size;
}

/// `v` as a `To`: for an integer `To`, a float is truncated toward zero, and
/// NaN or a value outside `To`'s range (which C++ leaves undefined; found by
/// the .npz fuzzer) becomes `To`'s minimum.
template <typename To, typename From> static To convertValue(From v) {
  if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    constexpr From limit =
        static_cast<From>(std::numeric_limits<To>::max()) + From(1);
    if (!(v >= -limit && v < limit))
      return std::numeric_limits<To>::min();
  }
  return static_cast<To>(v);
}

template <typename To>
static std::vector<To> convert(const recq::NpyArray &a) {
  int64_t n = a.numElements();
  std::vector<To> out(n);
  const char *p = a.data.data();
  for (int64_t i = 0; i < n; ++i) {
    if (a.dtype == "f4") {
      float v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = convertValue<To>(v);
    } else if (a.dtype == "f8") {
      double v;
      std::memcpy(&v, p + 8 * i, 8);
      out[i] = convertValue<To>(v);
    } else if (a.dtype == "i8") {
      int64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      out[i] = static_cast<To>(v);
    } else if (a.dtype == "i4") {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out[i] = static_cast<To>(v);
    } else { // b1, u1
      out[i] = static_cast<To>(static_cast<unsigned char>(p[i]));
    }
  }
  return out;
}

std::vector<float> recq::NpyArray::asF32() const { return convert<float>(*this); }
std::vector<int64_t> recq::NpyArray::asI64() const {
  return convert<int64_t>(*this);
}

/// Parses one .npy file held in `bytes`.
static Expected<recq::NpyArray> parseNpy(StringRef name, StringRef bytes) {
  if (!bytes.starts_with("\x93NUMPY") || bytes.size() < 10)
    return llvm::createStringError("'" + name + "' is not a .npy array");
  unsigned major = static_cast<unsigned char>(bytes[6]);
  size_t headerLen, start;
  if (major == 1) {
    headerLen = static_cast<unsigned char>(bytes[8]) |
                (static_cast<unsigned char>(bytes[9]) << 8);
    start = 10;
  } else {
    if (bytes.size() < 12)
      return llvm::createStringError("'" + name + "': truncated .npy header");
    uint32_t len;
    std::memcpy(&len, bytes.data() + 8, 4);
    headerLen = len;
    start = 12;
  }
  if (start + headerLen > bytes.size())
    return llvm::createStringError("'" + name + "': truncated .npy header");
  StringRef header = bytes.substr(start, headerLen);

  auto field = [&](StringRef key) -> StringRef {
    size_t at = header.find(("'" + key + "'").str());
    if (at == StringRef::npos)
      return "";
    StringRef rest = header.substr(at + key.size() + 2).ltrim(" :");
    return rest;
  };
  recq::NpyArray array;
  StringRef descr = field("descr");
  if (descr.size() < 4 || descr[0] != '\'')
    return llvm::createStringError("'" + name + "': no dtype in the .npy header");
  descr = descr.drop_front(1).take_until([](char c) { return c == '\''; });
  if (descr.starts_with("<") || descr.starts_with("|"))
    descr = descr.drop_front(1);
  if (descr != "f4" && descr != "f8" && descr != "i8" && descr != "i4" &&
      descr != "b1" && descr != "u1")
    return llvm::createStringError("'" + name + "': dtype '" + descr +
                     "' is not supported (f4, f8, i8, i4, b1, u1)");
  array.dtype = descr.str();
  if (field("fortran_order").starts_with("True"))
    return llvm::createStringError("'" + name + "': Fortran-order arrays are not supported");
  StringRef shape = field("shape");
  if (!shape.consume_front("("))
    return llvm::createStringError("'" + name + "': no shape in the .npy header");
  shape = shape.take_until([](char c) { return c == ')'; });
  llvm::SmallVector<StringRef> dims;
  shape.split(dims, ',', -1, /*KeepEmpty=*/false);
  for (StringRef d : dims) {
    d = d.trim();
    if (d.empty())
      continue;
    int64_t v;
    if (d.getAsInteger(10, v) || v < 0)
      return llvm::createStringError("'" + name + "': bad dimension '" + d + "'");
    array.shape.push_back(v);
  }
  // The data must hold the shape's elements; a shape whose product does
  // not fit in 64 bits holds more than any file.
  uint64_t bytesNeeded = array.elementSize();
  for (int64_t d : array.shape)
    if (__builtin_mul_overflow(bytesNeeded, static_cast<uint64_t>(d),
                               &bytesNeeded))
      return llvm::createStringError("'" + name +
                                     "': its shape has more "
                                     "elements than fit in 64 bits");
  StringRef payload = bytes.substr(start + headerLen);
  if (payload.size() != bytesNeeded)
    return llvm::createStringError("'" + name + "' holds " + llvm::Twine(payload.size()) +
                     " bytes of data, its shape needs " +
                     llvm::Twine(bytesNeeded));
  array.data.assign(payload.begin(), payload.end());
  return array;
}

Expected<recq::Npz> recq::readNpz(StringRef path) {
  int error = 0;
  std::unique_ptr<zip_t, int (*)(zip_t *)> archive(
      zip_open(path.str().c_str(), ZIP_RDONLY, &error), zip_close);
  if (!archive) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, error);
    std::string message = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    return llvm::createStringError(path + ": not a readable .npz: " + message);
  }
  uint64_t archiveBytes = 0;
  if (std::error_code ec = llvm::sys::fs::file_size(path, archiveBytes))
    return llvm::createStringError(path + ": " + ec.message());
  Npz arrays;
  zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    if (zip_stat_index(archive.get(), i, 0, &st) != 0)
      return llvm::createStringError(path + ": cannot read entry " + llvm::Twine(i));
    StringRef entry(st.name);
    if (!entry.consume_back(".npy"))
      continue;
    // The sizes come from the archive itself: a stored entry is no larger
    // than the archive, a deflated one at most 1032 times its compressed
    // bytes (deflate's limit), so a lying header cannot ask for terabytes.
    if ((st.valid & (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE)) !=
            (ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE) ||
        st.comp_size > archiveBytes || st.size > st.comp_size * 1032 + 1024)
      return llvm::createStringError(
          path + ": entry '" + st.name + "' claims " + llvm::Twine(st.size) +
          " bytes from " + llvm::Twine(st.comp_size) +
          " compressed; the archive has " + llvm::Twine(archiveBytes));
    std::string bytes(st.size, '\0');
    std::unique_ptr<zip_file_t, int (*)(zip_file_t *)> file(
        zip_fopen_index(archive.get(), i, 0), zip_fclose);
    if (!file || zip_fread(file.get(), bytes.data(), st.size) !=
                     static_cast<zip_int64_t>(st.size))
      return llvm::createStringError(path + ": cannot read '" + st.name + "'");
    Expected<NpyArray> array = parseNpy(entry, bytes);
    if (!array)
      return llvm::createStringError(path + ": " + llvm::toString(array.takeError()));
    arrays[entry.str()] = std::move(*array);
  }
  return arrays;
}

Error recq::writeNpz(StringRef path, const Npz &arrays) {
  int error = 0;
  zip_t *archive =
      zip_open(path.str().c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  if (!archive)
    return llvm::createStringError(path + ": cannot create");
  std::vector<std::string> files; // zip_source_buffer keeps pointers
  files.reserve(arrays.size());
  for (const auto &[name, array] : arrays) {
    std::string shape = "(";
    for (size_t i = 0; i < array.shape.size(); ++i) {
      shape += std::to_string(array.shape[i]);
      if (array.shape.size() == 1)
        shape += ",";
      else if (i + 1 < array.shape.size())
        shape += ", ";
    }
    shape += ")";
    std::string header = "{'descr': '<" + array.dtype +
                         "', 'fortran_order': False, 'shape': " + shape;
    header += ", }";
    size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::string file = "\x93NUMPY";
    file += '\x01';
    file += '\x00';
    file += static_cast<char>(header.size() & 0xff);
    file += static_cast<char>(header.size() >> 8);
    file += header;
    file.append(array.data.begin(), array.data.end());
    files.push_back(std::move(file));
    zip_source_t *source =
        zip_source_buffer(archive, files.back().data(), files.back().size(), 0);
    if (!source ||
        zip_file_add(archive, (name + ".npy").c_str(), source,
                     ZIP_FL_OVERWRITE) < 0) {
      zip_source_free(source);
      zip_discard(archive);
      return llvm::createStringError(path + ": cannot add '" + name + "'");
    }
    zip_set_file_compression(archive, zip_get_num_entries(archive, 0) - 1,
                             ZIP_CM_STORE, 0);
  }
  if (zip_close(archive) != 0) {
    zip_discard(archive);
    return llvm::createStringError(path + ": cannot write");
  }
  return Error::success();
}
