//===- ConstantBytesTest.cpp - storeConstantsAsBytes ----------------------===//
//
// Constant arrays of numbers become arrays of their bytes before codegen:
// the same memory, name, alignment, linkage and COMDAT, every use moved;
// anything else (zeros, small, already bytes, not constant, padded) stays
// as is.
//
//===----------------------------------------------------------------------===//

#include "recq/Target/Codegen.h"

#include "llvm/AsmParser/Parser.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

constexpr const char *kModule = R"(
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

$shared = comdat any

@weights = internal unnamed_addr constant [3 x [100 x float]] [[100 x float] FLOATS, [100 x float] zeroinitializer, [100 x float] FLOATS], align 32
@halves = private constant [2 x [80 x half]] [[80 x half] HALVES, [80 x half] HALVES]
@shared = linkonce_odr hidden constant [64 x i32] INTS, comdat, align 64
@zeros = internal constant [2 x [64 x i32]] zeroinitializer
@small = internal constant [4 x float] [float 1.0, float 2.0, float 3.0, float 4.0]
@bytes = internal constant [300 x i8] zeroinitializer
@mutable = internal global [100 x float] FLOATS
@padded = internal constant [40 x { i8, i32 }] PADDED

define float @read(i64 %i) {
  %p = getelementptr [3 x [100 x float]], ptr @weights, i64 0, i64 2, i64 %i
  %v = load float, ptr %p, align 4
  %q = getelementptr [64 x i32], ptr @shared, i64 0, i64 %i
  %w = load i32, ptr %q, align 4
  %h = getelementptr [2 x [80 x half]], ptr @halves, i64 0, i64 1, i64 %i
  %x = load half, ptr %h, align 2
  %f = sitofp i32 %w to float
  %g = fpext half %x to float
  %s = fadd float %v, %f
  %t = fadd float %s, %g
  ret float %t
}

define ptr @zerosAddress() {
  ret ptr getelementptr (i8, ptr @zeros, i64 8)
}
)";

/// `count` elements "T v0, T v1, ..." from `value(i)`, as LLVM IR prints them.
template <typename F>
std::string elements(const char *type, int count, F value) {
  std::string out = "[";
  for (int i = 0; i < count; ++i)
    out += std::string(i ? ", " : "") + type + " " + value(i);
  return out + "]";
}

std::string replaceAll(std::string text, const std::string &what,
                       const std::string &with) {
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
  return text;
}

float floatAt(int i) { return float(i) * 0.5f - 7.25f; }

std::unique_ptr<llvm::Module> parse(llvm::LLVMContext &context) {
  std::string text = kModule;
  text = replaceAll(text, "FLOATS", elements("float", 100, [](int i) {
                      // Exact in hexadecimal, as the IR printer writes.
                      double d = floatAt(i);
                      uint64_t wide;
                      std::memcpy(&wide, &d, 8);
                      char buf[32];
                      std::snprintf(buf, sizeof buf, "0x%016llX",
                                    (unsigned long long)wide);
                      return std::string(buf);
                    }));
  text = replaceAll(text, "HALVES", elements("half", 80, [](int i) {
                      char buf[16];
                      std::snprintf(buf, sizeof buf, "0xH%04X", 0x3C00 + i);
                      return std::string(buf);
                    }));
  text = replaceAll(text, "INTS", elements("i32", 64, [](int i) {
                      return std::to_string(i * 1000003 - 5);
                    }));
  text = replaceAll(text, "PADDED", elements("{ i8, i32 }", 40, [](int i) {
                      return "{ i8 " + std::to_string(i) + ", i32 7 }";
                    }));
  llvm::SMDiagnostic error;
  std::unique_ptr<llvm::Module> module =
      llvm::parseAssemblyString(text, error, context);
  if (!module) {
    std::string message;
    llvm::raw_string_ostream os(message);
    error.print("ConstantBytesTest", os);
    ADD_FAILURE() << message;
  }
  return module;
}

/// The global's initializer as bytes, when it is an i8 array.
std::vector<char> bytesOf(const llvm::GlobalVariable &global) {
  auto *data =
      llvm::dyn_cast<llvm::ConstantDataSequential>(global.getInitializer());
  if (!data || !data->getElementType()->isIntegerTy(8))
    return {};
  llvm::StringRef raw = data->getRawDataValues();
  return std::vector<char>(raw.begin(), raw.end());
}

TEST(StoreConstantsAsBytes, SameMemoryNameAlignmentAndUses) {
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = parse(context);
  ASSERT_TRUE(module);
  recq::storeConstantsAsBytes(*module);
  std::string problems;
  llvm::raw_string_ostream os(problems);
  ASSERT_FALSE(llvm::verifyModule(*module, &os)) << problems;

  // Floats, with a zero row between: 1200 bytes of the same values.
  llvm::GlobalVariable *weights = module->getNamedGlobal("weights");
  ASSERT_TRUE(weights);
  std::vector<float> expected(300, 0.0f);
  for (int i = 0; i < 100; ++i)
    expected[i] = expected[200 + i] = floatAt(i);
  std::vector<char> bytes = bytesOf(*weights);
  ASSERT_EQ(bytes.size(), 1200u);
  EXPECT_EQ(std::memcmp(bytes.data(), expected.data(), 1200), 0);
  EXPECT_EQ(weights->getAlign().valueOrOne().value(), 32u);
  EXPECT_TRUE(weights->hasInternalLinkage());
  EXPECT_TRUE(weights->hasGlobalUnnamedAddr());
  EXPECT_TRUE(weights->isConstant());

  // Halves; private linkage; an alignment the type implied is now explicit.
  llvm::GlobalVariable *halves = module->getNamedGlobal("halves");
  ASSERT_TRUE(halves);
  bytes = bytesOf(*halves);
  ASSERT_EQ(bytes.size(), 320u);
  for (int row = 0; row < 2; ++row)
    for (int i = 0; i < 80; ++i) {
      uint16_t bits;
      std::memcpy(&bits, &bytes[(row * 80 + i) * 2], 2);
      EXPECT_EQ(bits, 0x3C00 + i);
    }
  EXPECT_TRUE(halves->hasPrivateLinkage());
  EXPECT_GE(halves->getAlign().valueOrOne().value(), 16u);

  // A COMDAT member keeps its COMDAT, visibility and linkage.
  llvm::GlobalVariable *shared = module->getNamedGlobal("shared");
  ASSERT_TRUE(shared);
  bytes = bytesOf(*shared);
  ASSERT_EQ(bytes.size(), 256u);
  int32_t third;
  std::memcpy(&third, &bytes[12], 4);
  EXPECT_EQ(third, 3 * 1000003 - 5);
  ASSERT_TRUE(shared->getComdat());
  EXPECT_EQ(shared->getComdat()->getName(), "shared");
  EXPECT_TRUE(shared->hasLinkOnceODRLinkage());
  EXPECT_TRUE(shared->hasHiddenVisibility());
  EXPECT_EQ(shared->getAlign().valueOrOne().value(), 64u);

  // The loads read the new globals.
  llvm::Function *read = module->getFunction("read");
  ASSERT_TRUE(read);
  std::vector<std::string> loaded;
  for (llvm::Instruction &inst : read->getEntryBlock())
    if (auto *gep = llvm::dyn_cast<llvm::GetElementPtrInst>(&inst))
      loaded.push_back(gep->getPointerOperand()->getName().str());
  EXPECT_EQ(loaded, (std::vector<std::string>{"weights", "shared", "halves"}));

  // Left alone: zeros (written as a count), under 256 bytes, bytes
  // already, not constant, padding.
  EXPECT_EQ(module->getNamedGlobal("zeros")->getValueType(),
            llvm::ArrayType::get(
                llvm::ArrayType::get(llvm::Type::getInt32Ty(context), 64), 2));
  EXPECT_TRUE(module->getNamedGlobal("small")->getValueType()->isArrayTy());
  EXPECT_EQ(module->getNamedGlobal("small")
                ->getValueType()
                ->getArrayElementType()
                ->isFloatTy(),
            true);
  EXPECT_EQ(module->getNamedGlobal("mutable")
                ->getValueType()
                ->getArrayElementType()
                ->isFloatTy(),
            true);
  EXPECT_TRUE(module->getNamedGlobal("padded")
                  ->getValueType()
                  ->getArrayElementType()
                  ->isStructTy());
  EXPECT_EQ(module->getNamedGlobal("bytes")->getValueType(),
            llvm::ArrayType::get(llvm::Type::getInt8Ty(context), 300));
}

} // namespace
