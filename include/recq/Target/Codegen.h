//===- Codegen.h - recq module to LLVM IR and object code -------*- C++ -*-===//
//
// The back half of recq-compile: lower the recq module to the LLVM dialect
// (recq-lower-to-llvm), translate it to LLVM IR, optimize at -O3 for the
// chosen target and emit an object file, in process.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_TARGET_CODEGEN_H
#define RECQ_TARGET_CODEGEN_H

#include "recq/Pipelines/Pipelines.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/Program.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
class raw_pwrite_stream;
} // namespace llvm

namespace recq {

/// A code-generation target: what the emitted code may assume of the CPU.
struct CodegenTarget {
  std::string name; // generic, avx2, avx512, avx512-vnni, avx512-bf16, amx
  std::string cpu;      // LLVM CPU name
  std::string features; // LLVM feature string
  /// Embedding rows prefetched this many indices ahead (0: off).
  int64_t prefetchDistance = kDefaultPrefetchDistance;
  /// The int8 kernel variant when it is not `name`'s own (tests set
  /// "avx512-vnni-emulated" or "amx-emulated" to run those kernels on any
  /// CPU).
  std::string qfcKernel;
  /// The same for the fp32 and bf16 FC kernel ("amx-emulated" runs the
  /// bf16 AMX kernel on the C model of its tiles).
  std::string fcKernel;
};

/// The target called `name`, or none.
std::optional<CodegenTarget> lookupTarget(llvm::StringRef name);
/// The recq_cpu_feature mask code compiled for `target` needs.
uint32_t targetFeatures(const CodegenTarget &target);
/// Whether this CPU (and OS) run code compiled for `target`.
bool cpuRuns(const CodegenTarget &target);
/// The best target this CPU runs (amx > avx512-bf16 > avx512-vnni >
/// avx512 > avx2 > generic).
CodegenTarget hostTarget();
/// Every target's name, best first ("amx, avx512-bf16, ...").
std::string targetNames();

/// The targets of a comma-separated list ("avx2,avx512-vnni"), best first,
/// each once; an error names an unknown one.
llvm::Expected<llvm::SmallVector<CodegenTarget>>
parseTargets(llvm::StringRef list);
/// The targets worth a variant of `module`, best first: amx when it has
/// int8 or bf16 FCs, avx512-vnni only when it has int8 FCs, avx512-bf16
/// only when it has bf16 FCs (else their code is avx512's), then avx512,
/// avx2 and generic, so the artifact runs on any x86-64 CPU.
llvm::SmallVector<CodegenTarget> defaultTargets(mlir::ModuleOp module);
/// What a variant's exported symbols end with: "__avx512_vnni".
std::string variantSuffix(const CodegenTarget &target);

/// Which tables are remote (recq-compile --remote-tables): their rows go
/// to the row store, not into the artifact. `names` are the model's tables
/// in program order (as a plan names them), read before quantization and
/// batching; `spec` is "all", "above=BYTES" (larger as stored) or a
/// comma-separated list of names (recq::selectRemoteTables checks it).
struct RemoteTableSelection {
  std::string spec;
  std::vector<std::string> names;
  /// Whether table `index` (program order), of `bytes` as stored, is remote.
  bool selects(size_t index, uint64_t bytes) const;
};

/// Moves the embedding tables of @main larger than `thresholdBytes` (all of
/// them with `all`) into the file `weightsPath`, each 64-byte aligned, and
/// turns each into a trailing argument of @main marked `recq.weight`. The
/// runtime mmaps the file at load and passes the tables in. The tables
/// `remote` selects go to rowsFileOf(weightsPath) instead, whatever their
/// size: the file `recq-tables push` copies into a row store; the runtime
/// fetches their rows per call (an error when it selects none). Returns
/// how many tables moved (0 writes no file); sets the module's
/// `recq.weights_id` and `recq.rows_id` to the files' ids.
llvm::Expected<int>
externalizeWeights(mlir::ModuleOp module, uint64_t thresholdBytes, bool all,
                   llvm::StringRef weightsPath,
                   const RemoteTableSelection *remote = nullptr);
/// model.rows for model.weights.
std::string rowsFileOf(llvm::StringRef weightsPath);

/// Writes model.h: the C API (recq.h) and, as comments and constants, this
/// model's inputs, outputs and tables.
llvm::Error writeModelHeader(mlir::ModuleOp module, llvm::StringRef path);

/// Describes @main of a recq module (inputs, outputs, tables and which
/// inputs index them) and its variants, one per target in `targets` (best
/// first, as compileVariants names their functions), as the C source of
/// its `recq_model_description` (recq/Runtime/recq_abi.h). Call before
/// lowering.
llvm::Expected<std::string>
describeModelAsC(mlir::ModuleOp module, llvm::ArrayRef<CodegenTarget> targets);

/// A model's C description (describeModelAsC) being compiled to an object
/// by `cc -c` in a process of its own, started by start() so that it runs
/// while the model's code is generated; linkSharedLibrary waits for it.
/// Its temporary files go when it is destroyed (after the compiler ends).
class DescriptionObject {
public:
  static llvm::Expected<std::unique_ptr<DescriptionObject>>
  start(llvm::StringRef descriptionC);
  DescriptionObject(const DescriptionObject &) = delete;
  DescriptionObject &operator=(const DescriptionObject &) = delete;
  ~DescriptionObject();
  /// Waits for the compiler: the object's path, or why there is none.
  llvm::Expected<std::string> wait();
  /// The C compiler it runs (the one to link with).
  llvm::StringRef compiler() const { return cc; }

private:
  DescriptionObject() = default;
  std::string cc; ///< cc, or clang-19 without it
  llvm::SmallString<128> source, object;
  llvm::sys::ProcessInfo process;
  bool running = false;
  std::string failure;
};

/// Links `objectPath` and the compiled description into a shared library
/// with the recq runtime (`cc -shared`).
llvm::Error linkSharedLibrary(llvm::StringRef objectPath,
                              DescriptionObject &description,
                              llvm::StringRef outputPath);
/// The same, compiling the C description first.
llvm::Error linkSharedLibrary(llvm::StringRef objectPath,
                              llvm::StringRef descriptionC,
                              llvm::StringRef outputPath);

/// The code-generation pipeline's options for `target`.
PipelineOptions pipelineOptions(const CodegenTarget &target);

/// Runs lowerModelPipeline on `module`: one function per table
/// (recq-split-bags), @main renamed recq_entry with the C interface
/// (recq-export-entry-points), recq-lower-to-llvm.
llvm::Error lowerToLLVMDialect(mlir::ModuleOp module,
                               const CodegenTarget &target);

/// Translates a module in the LLVM dialect and optimizes it at -O3 for
/// `target`.
llvm::Expected<std::unique_ptr<llvm::Module>>
translateAndOptimize(mlir::ModuleOp module, llvm::LLVMContext &context,
                     const CodegenTarget &target);

/// Runs `work(copy, i)` for each i < `count`, each on a copy of `module`:
/// on as many threads as there are cores, each copy read back from the
/// module's bytecode into an MLIR context of its own (threads that change
/// IR do not share one); on one core, clones run in turn. Returns the
/// first error in index order.
llvm::Error
onModuleCopies(mlir::ModuleOp module, size_t count,
               llvm::function_ref<llvm::Error(mlir::ModuleOp, size_t)> work);

/// Compiles a copy of `module` per target (lowerToLLVMDialect,
/// translateAndOptimize) and links the copies into one LLVM module. Each
/// variant's exported functions end with variantSuffix(target) and carry
/// their target's CPU and features as function attributes; constants
/// equal across variants (weights whose layout the target does not
/// change) are stored once. `module` itself is not changed.
llvm::Expected<std::unique_ptr<llvm::Module>>
compileVariants(mlir::ModuleOp module, llvm::ArrayRef<CodegenTarget> targets,
                llvm::LLVMContext &context);

/// Replaces each constant global array of numbers of 256 bytes or more
/// (weights, tables, biases: nested arrays of integers or floats, some
/// rows of which may be zeros) by an array of its bytes: the same name,
/// memory, alignment (at least), linkage and COMDAT. The machine code is the
/// same; the assembly printer writes a byte array in one piece instead of
/// element by element. Nothing changes on a big-endian host or target.
void storeConstantsAsBytes(llvm::Module &module);

/// Writes `module` as an ELF object to `os` (after storeConstantsAsBytes).
/// Each function is compiled
/// for the CPU and features its attributes name (translateAndOptimize
/// sets them), so one object can hold several targets' variants. On
/// several cores the functions are compiled on as many threads, in
/// partitions joined by `ld -r`; `module`'s locals then become hidden
/// globals named "recq.local.*".
llvm::Error emitObject(llvm::Module &module, llvm::raw_pwrite_stream &os);

/// The object of an artifact whose description is
/// describeModelAsC(module, targets). Several targets: each variant
/// lowered, optimized and compiled to an object on a thread of its own
/// (onModuleCopies), its constants of 1 KiB or more named by their
/// contents in COMDATs (so the linker keeps one of equal ones), the
/// objects joined by `ld -r`. One target, or no `ld`: compileVariants,
/// then emitObject.
llvm::Error compileToObject(mlir::ModuleOp module,
                            llvm::ArrayRef<CodegenTarget> targets,
                            llvm::raw_pwrite_stream &os);

} // namespace recq

#endif // RECQ_TARGET_CODEGEN_H
