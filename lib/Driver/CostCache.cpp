//===- CostCache.cpp - Measured planner costs kept per model and CPU ------===//
//
// See PlannerInternal.h (MeasuredCosts): the planner's step 1 reads the
// costs of a model on this CPU from here, or measures and writes them.
//
//===----------------------------------------------------------------------===//

#include "PlannerInternal.h"

#include "recq/Target/Codegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/xxhash.h"

#include <unistd.h>

#include <ctime>

using namespace mlir;

namespace recq::quant {

std::string costKey(ModuleOp module, const CodegenTarget &target,
                    const PlannerOptions &options,
                    llvm::ArrayRef<double> lookups) {
  std::string key;
  llvm::raw_string_ostream os(key);
  if (auto cpuinfo = llvm::MemoryBuffer::getFileAsStream("/proc/cpuinfo")) {
    llvm::SmallVector<llvm::StringRef> lines;
    (*cpuinfo)->getBuffer().split(lines, '\n');
    for (llvm::StringRef line : lines)
      if (line.starts_with("model name")) {
        os << line << "\n";
        break;
      }
  }
  os << "target " << target.name << "\n";
  std::string self = llvm::sys::fs::getMainExecutable(nullptr, nullptr);
  llvm::sys::fs::file_status status;
  if (!self.empty() && !llvm::sys::fs::status(self, status))
    os << "recq " << status.getSize() << " "
       << status.getLastModificationTime().time_since_epoch().count() << "\n";
  os << "batch " << options.batch << " rounds " << options.rounds << "\n";
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (main)
    main.walk([&](Operation *op) {
      os << op->getName() << " " << op->getOperandTypes() << " -> "
         << op->getResultTypes();
      if (!isa<arith::ConstantOp>(op))
        for (NamedAttribute a : op->getAttrs())
          os << " " << a.getName() << "=" << a.getValue();
      os << "\n";
    });
  for (double l : lookups)
    os << llvm::format("%.2f ", l);
  return key;
}

std::string costFile(llvm::StringRef dir, llvm::StringRef key) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(
      path, llvm::formatv("costs-{0:x-16}.json", llvm::xxh3_64bits(key)).str());
  return std::string(path);
}

std::optional<MeasuredCosts> readCosts(llvm::StringRef path, size_t fcs) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return std::nullopt;
  auto parsed = llvm::json::parse((*buffer)->getBuffer());
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return std::nullopt;
  }
  const llvm::json::Object *o = parsed->getAsObject();
  if (!o || o->getInteger("recq_costs") != 1)
    return std::nullopt;
  MeasuredCosts c;
  auto fp32 = o->getNumber("fp32_seconds");
  auto at = o->getString("measured_at");
  const llvm::json::Object *fc = o->getObject("fc_saving");
  const llvm::json::Object *tables = o->getObject("tables_saving");
  if (!fp32 || !at || !fc || !tables)
    return std::nullopt;
  c.fp32Seconds = *fp32;
  c.measuredAt = at->str();
  for (const auto &[precision, values] : *fc) {
    const llvm::json::Array *list = values.getAsArray();
    if (!list || list->size() != fcs)
      return std::nullopt;
    for (const llvm::json::Value &v : *list) {
      auto n = v.getAsNumber();
      if (!n)
        return std::nullopt;
      c.fcSaving[precision.str()].push_back(*n);
    }
  }
  for (const auto &[precision, value] : *tables) {
    auto n = value.getAsNumber();
    if (!n)
      return std::nullopt;
    c.tablesSaving[precision.str()] = *n;
  }
  return c;
}

void writeCosts(llvm::StringRef path, const MeasuredCosts &c,
                llvm::function_ref<void(const llvm::Twine &)> say) {
  llvm::json::Object fc, tables;
  for (const auto &[precision, values] : c.fcSaving)
    fc[precision] = llvm::json::Array(values);
  for (const auto &[precision, value] : c.tablesSaving)
    tables[precision] = value;
  llvm::json::Object o{{"recq_costs", 1},
                       {"measured_at", c.measuredAt},
                       {"fp32_seconds", c.fp32Seconds},
                       {"fc_saving", std::move(fc)},
                       {"tables_saving", std::move(tables)}};
  llvm::StringRef dir = llvm::sys::path::parent_path(path);
  std::string temp = (path + ".tmp" + llvm::Twine(::getpid())).str();
  std::error_code ec = llvm::sys::fs::create_directories(dir);
  if (!ec) {
    llvm::raw_fd_ostream os(temp, ec);
    if (!ec) {
      os << llvm::formatv("{0:2}", llvm::json::Value(std::move(o))) << "\n";
      os.close();
      if (os.has_error())
        ec = os.error();
    }
  }
  if (!ec)
    ec = llvm::sys::fs::rename(temp, path);
  if (ec) {
    llvm::sys::fs::remove(temp);
    say("  (the costs could not be cached in " + path + ": " + ec.message() +
        ")");
  }
}

std::string nowUtc() {
  std::time_t t = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}

} // namespace recq::quant
