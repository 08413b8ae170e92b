//===- Passes.h - recq conversion passes ------------------------*- C++ -*-===//
//
// Declarations and registration of the passes in Passes.td: the lowerings
// out of the recq dialect. Their patterns are exported by the headers of
// each conversion (RecqToLinalg/RecqToLinalg.h, RecqToX86/RecqToX86.h).
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_CONVERSION_PASSES_H
#define RECQ_CONVERSION_PASSES_H

#include "recq/Conversion/RecqToLinalg/RecqToLinalg.h"
#include "recq/Conversion/RecqToX86/RecqToX86.h"
#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace recq {

#define GEN_PASS_DECL
#include "recq/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "recq/Conversion/Passes.h.inc"

} // namespace recq

#endif // RECQ_CONVERSION_PASSES_H
