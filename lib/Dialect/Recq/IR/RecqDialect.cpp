//===- RecqDialect.cpp - recq dialect, attributes and types ---------------===//
//
// Registers the dialect and implements the `!recq.rowwise` table type.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace recq;

#include "recq/Dialect/Recq/IR/RecqOpsDialect.cpp.inc"

#include "recq/Dialect/Recq/IR/RecqEnums.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "recq/Dialect/Recq/IR/RecqOpsTypes.cpp.inc"

void RecqDialect::initialize() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "recq/Dialect/Recq/IR/RecqOpsTypes.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "recq/Dialect/Recq/IR/RecqOps.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// RowwiseTableType
//===----------------------------------------------------------------------===//

/// `!recq.rowwise<ROWSxCOLSxui8, f32>`
Type RowwiseTableType::parse(AsmParser &parser) {
  SmallVector<int64_t, 2> dims;
  Type codeType, scaleType;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() ||
      parser.parseDimensionList(dims, /*allowDynamic=*/false,
                                /*withTrailingX=*/true) ||
      parser.parseType(codeType) || parser.parseComma() ||
      parser.parseType(scaleType) || parser.parseGreater())
    return {};
  if (dims.size() != 2) {
    parser.emitError(loc) << "a row-wise table is 2-D (rows x cols), got "
                          << dims.size() << " dimensions";
    return {};
  }
  auto intType = llvm::dyn_cast<IntegerType>(codeType);
  auto floatType = llvm::dyn_cast<FloatType>(scaleType);
  if (!intType || !floatType) {
    parser.emitError(loc) << "expected integer codes and a float scale type, got "
                          << codeType << " and " << scaleType;
    return {};
  }
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), dims[0], dims[1], intType, floatType);
}

void RowwiseTableType::print(AsmPrinter &printer) const {
  printer << "<" << getRows() << "x" << getCols() << "x" << getCodeType()
          << ", " << getScaleType() << ">";
}

LogicalResult
RowwiseTableType::verify(function_ref<InFlightDiagnostic()> emitError,
                         int64_t rows, int64_t cols, IntegerType codeType,
                         FloatType scaleType) {
  if (rows < 1 || cols < 1)
    return emitError() << "a row-wise table needs at least one row and one "
                          "column, got "
                       << rows << "x" << cols;
  if (!codeType.isUnsigned() ||
      (codeType.getWidth() != 8 && codeType.getWidth() != 4))
    return emitError() << "row-wise codes must be ui8 or ui4, got " << codeType;
  if (!scaleType.isF32() && !scaleType.isF16())
    return emitError() << "row-wise scale and bias must be f32 or f16, got "
                       << scaleType;
  return success();
}

int64_t RowwiseTableType::getCodeBytes() const {
  return getBitsPerCode() == 8 ? getCols() : (getCols() + 1) / 2;
}

int64_t RowwiseTableType::getRowBytes() const {
  return getCodeBytes() + 2 * (getScaleType().getWidth() / 8);
}

std::optional<std::string> recq::onnxNodeName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (auto name = onnxNodeName(inner))
        return name;
  return std::nullopt;
}
