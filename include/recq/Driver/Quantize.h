//===- Quantize.h - Apply int8 or bf16 to a module --------------*- C++ -*-===//
//
// recq-compile --quantize=int8: each FC whose input calibration measured is
// annotated with that input's u8 type and the module goes through
// recq-quantize, recq-fuse and recq-canonicalize (QDQ pairs, then recq.qfc
// with u8 activations between consecutive int8 layers).
// --quantize=bf16: each FC's weights stored in bf16 (no calibration).
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DRIVER_QUANTIZE_H
#define RECQ_DRIVER_QUANTIZE_H

#include "recq/Driver/Calibrate.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <optional>

namespace recq::quant {

/// recq-fuse: the interaction's embedding bags into recq.embedding_bags
/// (and int8 FCs into qfc, when there are any). Returns how many tables
/// the embedding_bags ops hold.
llvm::Expected<int> batchEmbeddingBags(mlir::ModuleOp module);

/// recq-profile-ops (recq-compile --profile): numbers @main's recq ops for
/// the per-op profile; returns how many.
llvm::Expected<int> numberProfiledOps(mlir::ModuleOp module);

/// Stores every constant embedding table in `precision` (fp32, fp16, int8,
/// int4): recq-quantize-tables, then recq-canonicalize, which quantizes the
/// row-wise tables. Returns how many tables changed.
llvm::Expected<int> quantizeTables(mlir::ModuleOp module,
                                   llvm::StringRef precision);

/// Quantizes the FCs of @main in `module` to int8 with the input parameters
/// of `stats` (from calibrate() on the same module: one per FC, in order).
/// Returns how many FCs became recq.qfc.
llvm::Expected<int> quantizeToInt8(mlir::ModuleOp module,
                                   llvm::ArrayRef<ActivationStats> stats);

/// Quantizes to int8 the FCs of @main whose entry in `inputs` (one per FC,
/// in program order) holds their input's u8 parameters; the others stay
/// fp32. Returns how many FCs became int8 (the one reading a dot
/// interaction's output, with its dense columns apart, as two recq.qfc).
llvm::Expected<int> quantizeFcs(mlir::ModuleOp module,
                                llvm::ArrayRef<std::optional<FcInput>> inputs);

/// recq-simulate-int8 on the FCs of @main whose entry in `inputs` (one
/// per FC, program order) holds their input's u8 parameters: each can run
/// in fp32 or in its int8 form computed in f32, as the model input
/// recq::kInt8SwitchesName ([samples, FCs] f32; column i of row 0 nonzero:
/// FC i in int8) says at run time.
llvm::Error simulateInt8Fcs(mlir::ModuleOp module,
                            llvm::ArrayRef<std::optional<FcInput>> inputs);

/// Stores the weights of the FCs of @main whose entry in `which` (one per
/// FC, in program order; empty: every FC) is set in bf16, rounded to
/// nearest even: each becomes a bf16 FC, which rounds its input to bf16
/// too and accumulates in f32 (recq.fc). FCs already int8 are left alone.
/// Returns how many FCs changed.
llvm::Expected<int> storeFcWeightsInBf16(mlir::ModuleOp module,
                                         llvm::ArrayRef<bool> which = {});

/// Sets each FC of @main (program order) to its precision: bf16 where
/// `bf16` says so (storeFcWeightsInBf16, first, while every FC is still a
/// recq.fc), then int8 where `int8Inputs` holds the input's parameters
/// (quantizeFcs); the others stay fp32. One entry per FC in each.
llvm::Error quantizeFcsTo(mlir::ModuleOp module, llvm::ArrayRef<bool> bf16,
                          llvm::ArrayRef<std::optional<FcInput>> int8Inputs);

} // namespace recq::quant

#endif // RECQ_DRIVER_QUANTIZE_H
