//===- RecqDialectTest.cpp - C++ API of the recq dialect ------------------===//
//
// Helpers that later passes and the runtime rely on but that no lit test can
// see directly: row-wise table layout sizes and interaction widths.
//
//===----------------------------------------------------------------------===//

#include "recq/Dialect/Recq/IR/RecqDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {

class RecqDialectTest : public ::testing::Test {
protected:
  RecqDialectTest() {
    context.loadDialect<recq::RecqDialect, func::FuncDialect>();
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
