//===- RecqDialectTest.cpp - C++ API of the recq dialect ------------------===//
//
// Helpers that later passes and the runtime rely on but that no lit test can
// see directly: row-wise table layout sizes and interaction widths.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"
#include "recq/Dialect/Recq/IR/RowwiseTable.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

using namespace mlir;

namespace {

class RecqDialectTest : public ::testing::Test {
protected:
  RecqDialectTest() {
    context.loadDialect<recq::RecqDialect, func::FuncDialect,
                        arith::ArithDialect>();
  }

  /// Parses `text` as a type, failing the test if it does not parse.
  recq::RowwiseTableType parseTable(StringRef text) {
    Type type = parseType(text, &context);
    EXPECT_TRUE(type) << text.str();
    return dyn_cast_or_null<recq::RowwiseTableType>(type);
  }

  MLIRContext context;
};

TEST_F(RecqDialectTest, RowwiseInt8RowIsCodesThenScaleAndBias) {
  auto t = parseTable("!recq.rowwise<1000x64xui8, f32>");
  ASSERT_TRUE(t);
  EXPECT_EQ(t.getRows(), 1000);
  EXPECT_EQ(t.getCols(), 64);
  EXPECT_EQ(t.getBitsPerCode(), 8u);
  EXPECT_EQ(t.getCodeBytes(), 64);
  EXPECT_EQ(t.getRowBytes(), 64 + 2 * 4);
}

TEST_F(RecqDialectTest, RowwiseInt4PacksTwoCodesPerByteRoundingUp) {
  auto even = parseTable("!recq.rowwise<10x128xui4, f16>");
  ASSERT_TRUE(even);
  EXPECT_EQ(even.getCodeBytes(), 64);
  EXPECT_EQ(even.getRowBytes(), 64 + 2 * 2);
  auto odd = parseTable("!recq.rowwise<10x3xui4, f16>");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd.getCodeBytes(), 2);
  EXPECT_EQ(odd.getRowBytes(), 2 + 4);
}

// recq.rowwise_quantize of a constant folds to the table's bytes, in
// blocks of rows on the context's threads: every row as quantizeRowwise
// makes it, across the blocks' edges (10000 rows: 4096, 4096, 1808).
TEST_F(RecqDialectTest, RowwiseQuantizeFoldsEveryRowOfALargeTable) {
  constexpr int64_t rows = 10000, cols = 5;
  ASSERT_TRUE(context.isMultithreadingEnabled());
  std::vector<float> values(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    values[i] = std::sin(0.37f * float(i)) * float(1 + i % 13);
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  auto tableType = parseTable("!recq.rowwise<10000x5xui8, f32>");
  ASSERT_TRUE(tableType);
  // Returned, so that the folded table is not dead.
  auto func =
      b.create<func::FuncOp>(loc, "table", b.getFunctionType({}, {tableType}));
  b.setInsertionPointToEnd(func.addEntryBlock());
  auto tensorType = RankedTensorType::get({rows, cols}, b.getF32Type());
  Value table = b.create<arith::ConstantOp>(
      loc, DenseElementsAttr::get(tensorType, ArrayRef<float>(values)));
  auto quantize = b.create<recq::RowwiseQuantizeOp>(loc, tableType, table);
  b.create<func::ReturnOp>(loc, quantize.getResult());
  RewritePatternSet patterns(&context);
  recq::RowwiseQuantizeOp::getCanonicalizationPatterns(patterns, &context);
  ASSERT_TRUE(succeeded(applyOpPatternsAndFold(
      ArrayRef<Operation *>{quantize.getOperation()}, std::move(patterns))));

  recq::RowwiseCastOp castOp;
  module->walk([&](recq::RowwiseCastOp op) { castOp = op; });
  ASSERT_TRUE(castOp);
  auto bytes = castOp.getBytes().getDefiningOp<arith::ConstantOp>();
  ASSERT_TRUE(bytes);
  ArrayRef<char> folded =
      cast<DenseElementsAttr>(bytes.getValue()).getRawData();
  int64_t rowBytes = tableType.getRowBytes();
  ASSERT_EQ(int64_t(folded.size()), rows * rowBytes);
  std::vector<uint8_t> expected(rowBytes);
  for (int64_t r = 0; r < rows; ++r) {
    recq::quantizeRowwise(&values[r * cols], cols, 8, /*halfScale=*/false,
                          expected.data());
    ASSERT_EQ(
        0, std::memcmp(expected.data(), folded.data() + r * rowBytes, rowBytes))
        << "row " << r;
  }
}

TEST_F(RecqDialectTest, RowwiseRejectsSignedCodes) {
  // The diagnostic text itself is covered by test/Dialect/Recq/invalid.mlir.
  ScopedDiagnosticHandler silence(&context, [](Diagnostic &) {
    return success();
  });
  EXPECT_FALSE(parseType("!recq.rowwise<10x3xi8, f16>", &context));
}

TEST_F(RecqDialectTest, InteractionWidthsMatchDlrm) {
  using recq::InteractionMode;
  using recq::InteractionOp;
  // MLPerf DLRM: 26 tables + dense, D = 128 -> 128 + 351 = 479.
  EXPECT_EQ(InteractionOp::getNumResultColumns(InteractionMode::dot, false, 27,
                                               128),
            479);
  EXPECT_EQ(InteractionOp::getNumResultColumns(InteractionMode::dot, true, 27,
                                               128),
            128 + 378);
  EXPECT_EQ(InteractionOp::getNumResultColumns(InteractionMode::cat, false, 27,
                                               16),
            27 * 16);
  // A dense vector alone has no pairs.
  EXPECT_EQ(InteractionOp::getNumResultColumns(InteractionMode::dot, false, 1,
                                               8),
            8);
}

TEST_F(RecqDialectTest, InteractionCountsFeaturesOfStackedOperands) {
  const char *ir = R"MLIR(
    func.func @f(%x: tensor<?x4xf32>, %a: tensor<?x3x4xf32>,
                 %b: tensor<?x4xf32>, %c: tensor<?x?x4xf32>)
        -> (tensor<?x14xf32>, tensor<?x?xf32>) {
      %0 = recq.interaction dot %x, [%a, %b]
          : (tensor<?x4xf32>, tensor<?x3x4xf32>, tensor<?x4xf32>) -> tensor<?x14xf32>
      %1 = recq.interaction cat %x, [%c]
          : (tensor<?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?xf32>
      return %0, %1 : tensor<?x14xf32>, tensor<?x?xf32>
    }
  )MLIR";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(ir, &context);
  ASSERT_TRUE(module);
  SmallVector<recq::InteractionOp> ops;
  module->walk([&](recq::InteractionOp op) { ops.push_back(op); });
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].getNumFeatures(), 5); // dense + 3 stacked + 1
  EXPECT_EQ(ops[1].getNumFeatures(), -1); // stacked count is dynamic
}

} // namespace
