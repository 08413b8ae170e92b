//===- recq-tables.cpp - Remote tables' rows in and out of a row store ----===//
//
//   recq-tables push model.so --store redis://host:port[,host:port...]
//   recq-tables update model.so --rows updates.npz --store ...
//   recq-tables list model.so
//
// push copies the rows of a model's remote tables (recq-compile
// --remote-tables) from model.rows, in the row format the kernels read, into
// the row store; update writes new fp32 rows (rows_<w>: row ids, values_<w>:
// [n, D] f32, for table w as list numbers them), each converted to its
// table's precision exactly as recq-compile does, then announces them so
// serving caches drop the old ones; list prints the remote tables
// (docs/RemoteTables.md).
//
// Exit status: 0 done; 1 an error in the arguments or the artifact (no
// remote tables, a missing or foreign model.rows); 2 the store failed (down,
// slow past --timeout-ms, refused a write).
//
//===----------------------------------------------------------------------===//

#include "recq/Runtime/recq.h"
#include "recq/Runtime/recq_abi.h"
#include "recq/Runtime/recq_row_store.h"
#include "recq/Dialect/Recq/IR/RowwiseTable.h"
#include "recq/Support/Npz.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <dlfcn.h>

#include <chrono>
#include <cstring>
#include <numeric>
#include <vector>

namespace cl = llvm::cl;

namespace {
cl::SubCommand pushCommand("push", "Copy the model's remote tables into a "
                                   "row store");
cl::SubCommand listCommand("list", "List the model's remote tables");
cl::SubCommand updateCommand("update", "Write new fp32 rows of remote "
                                       "tables and announce them");

cl::opt<std::string> modelPath(cl::Positional, cl::desc("<model.so>"),
                               cl::Required, cl::sub(pushCommand),
                               cl::sub(listCommand), cl::sub(updateCommand));
cl::opt<std::string>
    storeSpec("store",
              cl::desc("The row store: redis://host:port[,host:port...]"),
              cl::value_desc("spec"), cl::Required, cl::sub(pushCommand),
              cl::sub(updateCommand));
cl::opt<std::string>
    rowsPath("rows-file",
             cl::desc("The rows file (default: model.rows next to model.so)"),
             cl::value_desc("file"), cl::sub(pushCommand));
cl::opt<std::string> updatesPath(
    "rows",
    cl::desc("The new rows (.npz): rows_<w> (row ids) and values_<w> ([n, D] "
             "f32) per table w, numbered as 'recq-tables list' prints"),
    cl::value_desc("file"), cl::Required, cl::sub(updateCommand));
cl::opt<int> timeoutMs("timeout-ms",
                       cl::desc("Deadline of each write, in ms (default "
                                "10000)"),
                       cl::init(10000), cl::sub(pushCommand),
                       cl::sub(updateCommand));
cl::opt<int64_t> chunkRows("chunk-rows",
                           cl::desc("Rows per write (default 16384)"),
                           cl::init(16384), cl::sub(pushCommand));

enum Exit { kOk = 0, kError = 1, kStore = 2 };

int fail(Exit code, const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "recq-tables") << message << "\n";
  return code;
}

/// The description of the model model.so carries (dlopen'ed, never run).
const recq_model_desc *describe(llvm::StringRef path, std::string &error) {
  // A bare name would be searched on the library path, not here.
  llvm::SmallString<256> absolute(path);
  llvm::sys::fs::make_absolute(absolute);
  void *lib = dlopen(absolute.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    error = dlerror();
    return nullptr;
  }
  auto *desc = static_cast<const recq_model_desc *>(
      dlsym(lib, "recq_model_description"));
  if (!desc) {
    error = path.str() + " is not a recq model (no recq_model_description)";
    return nullptr;
  }
  if (desc->abi_version != RECQ_ABI_VERSION) {
    error = (path + " has model ABI " + llvm::Twine(desc->abi_version) +
             "; this recq-tables reads ABI " + llvm::Twine(RECQ_ABI_VERSION))
                .str();
    return nullptr;
  }
  return desc;
}

int64_t rowsOf(const recq_weight_desc &w) {
  return w.rank > 0 ? w.shape[0] : 0;
}

int list(const recq_model_desc &d) {
  llvm::outs() << "remote tables of " << modelPath << " (rows id "
               << llvm::format_hex_no_prefix(d.rows_id, 16) << "):\n";
  for (int w = 0; w < d.num_weights; ++w) {
    const recq_weight_desc &wd = d.weights[w];
    if (!wd.remote)
      continue;
    int64_t rows = rowsOf(wd);
    llvm::outs() << "  " << w << " '" << wd.name << "': " << rows << " rows of "
                 << (rows ? wd.bytes / rows : 0) << " bytes\n";
  }
  return kOk;
}

int push(const recq_model_desc &d) {
  std::string path = rowsPath;
  if (path.empty()) {
    llvm::StringRef stem = modelPath;
    stem.consume_back(".so");
    path = (stem + ".rows").str();
  }
  auto file = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                          /*RequiresNullTerminator=*/false);
  if (!file)
    return fail(kError, "cannot read the rows file '" + path +
                            "': " + file.getError().message());
  llvm::StringRef bytes = (*file)->getBuffer();
  recq_weights_header header;
  if (bytes.size() < sizeof header)
    return fail(kError, "'" + path + "' is not a recq rows file");
  std::memcpy(&header, bytes.data(), sizeof header);
  if (std::memcmp(header.magic, RECQ_WEIGHTS_MAGIC, sizeof header.magic) != 0 ||
      header.version != RECQ_WEIGHTS_VERSION)
    return fail(kError, "'" + path + "' is not a recq rows file");
  if (header.model_id != d.rows_id || bytes.size() != d.rows_file_bytes)
    return fail(kError, "'" + path +
                            "' holds the rows of another model or "
                            "compile (id " +
                            llvm::utohexstr(header.model_id) + ", " +
                            llvm::Twine(bytes.size()) +
                            " bytes; the model "
                            "wants id " +
                            llvm::utohexstr(d.rows_id) + ", " +
                            llvm::Twine(d.rows_file_bytes) + " bytes)");

  recq_status st{};
  recq_row_store *store =
      recq_row_store_open(storeSpec.c_str(), timeoutMs, &st);
  if (!store)
    return fail(st.code == RECQ_ERR_STORE ? kStore : kError, st.message);
  auto start = std::chrono::steady_clock::now();
  int64_t pushed = 0, tables = 0;
  std::vector<int64_t> ids;
  for (int w = 0; w < d.num_weights; ++w) {
    const recq_weight_desc &wd = d.weights[w];
    if (!wd.remote)
      continue;
    int64_t rows = rowsOf(wd);
    int64_t rowBytes = rows ? int64_t(wd.bytes) / rows : 0;
    for (int64_t first = 0; first < rows; first += chunkRows) {
      int64_t count = std::min<int64_t>(chunkRows, rows - first);
      ids.resize(count);
      std::iota(ids.begin(), ids.end(), first);
      recq_row_batch batch{wd.name,
                           d.rows_id,
                           w,
                           rowBytes,
                           count,
                           ids.data(),
                           const_cast<char *>(bytes.data()) + wd.offset +
                               first * rowBytes};
      if (recq_row_store_put(store, &batch, 1, &st) != RECQ_OK) {
        recq_row_store_close(store);
        return fail(st.code == RECQ_ERR_STORE ? kStore : kError, st.message);
      }
      pushed += count;
    }
    ++tables;
  }
  recq_row_store_stats stats{};
  recq_row_store_get_stats(store, &stats);
  recq_row_store_close(store);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  llvm::outs() << "pushed " << pushed << " rows of " << tables << " tables to "
               << storeSpec << " in " << llvm::format("%.2f", seconds) << " s ("
               << stats.commands << " commands, " << stats.redirects
               << " redirects)\n";
  return kOk;
}
/// The dimension of the table weight w holds (from the tables reading it).
int64_t dimOf(const recq_model_desc &d, int w) {
  for (int t = 0; t < d.num_tables; ++t)
    if (d.tables[t].weight == w)
      return d.tables[t].dim;
  return -1;
}

/// One row of `dim` floats in weight w's stored format, as recq-compile
/// writes it: f32, f16, row-wise int8 (f32 scale and bias) or int4 (f16).
llvm::Error encodeRow(const recq_weight_desc &wd, int64_t dim,
                      const float *row, int64_t rowBytes, char *out) {
  if (wd.dtype == RECQ_DTYPE_F32 && rowBytes == dim * 4) {
    std::memcpy(out, row, dim * 4);
  } else if (wd.dtype == RECQ_DTYPE_F16 && rowBytes == dim * 2) {
    for (int64_t j = 0; j < dim; ++j) {
      uint16_t h = recq::floatToHalf(row[j]);
      std::memcpy(out + 2 * j, &h, 2);
    }
  } else if (wd.dtype == RECQ_DTYPE_U8 &&
             rowBytes == recq::rowwiseRowBytes(dim, 8, false)) {
    recq::quantizeRowwise(row, dim, 8, false,
                          reinterpret_cast<uint8_t *>(out));
  } else if (wd.dtype == RECQ_DTYPE_U8 &&
             rowBytes == recq::rowwiseRowBytes(dim, 4, true)) {
    recq::quantizeRowwise(row, dim, 4, true, reinterpret_cast<uint8_t *>(out));
  } else {
    return llvm::createStringError(
        "table '" + std::string(wd.name) + "': rows of " +
        llvm::Twine(rowBytes).str() + " bytes for D = " +
        llvm::Twine(dim).str() + " are no format recq-tables writes");
  }
  return llvm::Error::success();
}

int update(const recq_model_desc &d) {
  auto npz = recq::readNpz(updatesPath);
  if (!npz)
    return fail(kError, llvm::toString(npz.takeError()));
  struct Table {
    int w;
    std::vector<int64_t> rows;
    std::vector<char> bytes;
  };
  std::vector<Table> tables;
  for (const auto &[key, array] : *npz) {
    llvm::StringRef name = key;
    if (!name.consume_front("rows_"))
      continue;
    int w = -1;
    if (name.getAsInteger(10, w) || w < 0 || w >= d.num_weights ||
        !d.weights[w].remote)
      return fail(kError, updatesPath + ": '" + key +
                              "' names no remote table (recq-tables list)");
    auto values = npz->find(("values_" + name).str());
    if (values == npz->end())
      return fail(kError, updatesPath + ": '" + key + "' has no 'values_" +
                              name + "'");
    const recq_weight_desc &wd = d.weights[w];
    int64_t dim = dimOf(d, w), rows = rowsOf(wd);
    int64_t rowBytes = rows ? int64_t(wd.bytes) / rows : 0;
    Table t{w, array.asI64(), {}};
    int64_t n = int64_t(t.rows.size());
    if (values->second.shape != std::vector<int64_t>{n, dim})
      return fail(kError, updatesPath + ": 'values_" + name +
                              "' must be [" + llvm::Twine(n) + ", " +
                              llvm::Twine(dim) + "] (its rows_ ids by D)");
    std::vector<float> floats = values->second.asF32();
    t.bytes.resize(n * rowBytes);
    for (int64_t k = 0; k < n; ++k) {
      if (t.rows[k] < 0 || t.rows[k] >= rows)
        return fail(kError, updatesPath + ": row " + llvm::Twine(t.rows[k]) +
                                " is outside table '" + wd.name + "' (" +
                                llvm::Twine(rows) + " rows)");
      if (llvm::Error e = encodeRow(wd, dim, &floats[k * dim], rowBytes,
                                    &t.bytes[k * rowBytes]))
        return fail(kError, llvm::toString(std::move(e)));
    }
    tables.push_back(std::move(t));
  }
  if (tables.empty())
    return fail(kError, updatesPath + " holds no rows_<w> array");

  recq_status st{};
  recq_row_store *store = recq_row_store_open(storeSpec.c_str(), timeoutMs, &st);
  if (!store)
    return fail(st.code == RECQ_ERR_STORE ? kStore : kError, st.message);
  std::string channel =
      "recq:" + llvm::utohexstr(d.rows_id, /*LowerCase=*/true, 16) +
      ":updates";
  int64_t written = 0;
  for (Table &t : tables) {
    const recq_weight_desc &wd = d.weights[t.w];
    int64_t rowBytes = int64_t(wd.bytes) / rowsOf(wd);
    recq_row_batch batch{wd.name, d.rows_id, t.w, rowBytes,
                         int64_t(t.rows.size()), t.rows.data(), t.bytes.data()};
    if (recq_row_store_put(store, &batch, 1, &st) != RECQ_OK) {
      recq_row_store_close(store);
      return fail(st.code == RECQ_ERR_STORE ? kStore : kError, st.message);
    }
    written += batch.count;
    // Announced after the write: a cache that drops a row reads it again
    // from the store, new. Messages of at most ~4 KiB.
    std::string message;
    auto announce = [&]() -> bool {
      if (message.empty())
        return true;
      std::string text = std::to_string(t.w) + message;
      message.clear();
      return recq_row_store_publish(store, channel.c_str(), text.data(),
                                    text.size(), &st) == RECQ_OK;
    };
    for (int64_t row : t.rows) {
      message += " " + std::to_string(row);
      if (message.size() > 4000 && !announce())
        break;
    }
    if (st.code != RECQ_OK || !announce()) {
      recq_row_store_close(store);
      return fail(kStore, st.message);
    }
  }
  recq_row_store_close(store);
  llvm::outs() << "updated " << written << " rows of " << tables.size()
               << " tables in " << storeSpec << "; announced on " << channel
               << "\n";
  return kOk;
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "recq-tables: remote tables' rows in a row "
                              "store\n");
  if (!pushCommand && !listCommand && !updateCommand)
    return fail(kError, "give a command: push, update or list (--help)");
  if (chunkRows <= 0)
    return fail(kError, "--chunk-rows must be positive");
  std::string error;
  const recq_model_desc *desc = describe(modelPath, error);
  if (!desc)
    return fail(kError, error);
  if (!desc->rows_id)
    return fail(kError, modelPath + " has no remote tables (recq-compile "
                                    "--remote-tables)");
  if (updateCommand)
    return update(*desc);
  return pushCommand ? push(*desc) : list(*desc);
}
