//===- RecqToLinalg.h - recq ops to linalg, scf and vector ------*- C++ -*-===//
//
// The target-independent lowering of recq ops on tensors: fp32 ops to
// linalg/scf/vector (convert-recq-to-linalg) and the quantize/dequantize
// math to integers on storage types (recq-lower-quant-types).
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_CONVERSION_RECQTOLINALG_RECQTOLINALG_H
#define RECQ_CONVERSION_RECQTOLINALG_RECQTOLINALG_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

namespace recq {

/// recq.fc, recq.interaction, recq.relu/sigmoid and the embedding bags to
/// linalg, scf and vector on tensors. Each embedding-bag lowering appends
/// one i1 per table it pools, "an index was outside the table", to
/// `indexStatuses` in program order (convert-recq-to-linalg returns them
/// from the function as `recq.index_status`). `indexStatuses` must outlive
/// the patterns. With `sharedPools` (the module being lowered), the bag of
/// each of recq-split-bags' table functions becomes a call of a pooling
/// function all tables of its kind share, added to that module.
void populateRecqToLinalgConversionPatterns(
    mlir::RewritePatternSet &patterns,
    llvm::SmallVectorImpl<mlir::Value> &indexStatuses,
    mlir::ModuleOp sharedPools = {});

/// What convert-recq-to-linalg leaves legal: everything but the recq
/// dialect, except the kernel building blocks later passes lower
/// (recq.pure_intrinsic, recq.rowwise_cast).
void configureRecqToLinalgConversionTarget(mlir::ConversionTarget &target);

/// Quantized tensors to tensors of their storage type (u8 and i8 as i8).
void populateQuantStorageTypeConversion(mlir::TypeConverter &converter);

/// recq.quantize, recq.dequantize and quant.scast to integer math on
/// storage types (recq-lower-quant-types); `converter` as filled by
/// populateQuantStorageTypeConversion.
void populateRecqLowerQuantTypesPatterns(mlir::TypeConverter &converter,
                                         mlir::RewritePatternSet &patterns);

} // namespace recq

#endif // RECQ_CONVERSION_RECQTOLINALG_RECQTOLINALG_H
