//===- RowwiseTable.cpp - Row-wise quantization of embedding tables --------===//

#include "recq/Dialect/Recq/IR/RowwiseTable.h"

#include <algorithm>
#include <cmath>
#include <cstring>

uint16_t recq::floatToHalf(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  uint16_t sign = (x >> 16) & 0x8000;
  uint32_t magnitude = x & 0x7fffffff;
  if (magnitude >= 0x7f800000) // inf or NaN (NaN stays a quiet NaN)
    return sign | 0x7c00 | (magnitude > 0x7f800000 ? 0x200 : 0);
  if (magnitude >= 0x477ff000) // rounds to >= 65520: overflows to inf
    return sign | 0x7c00;
  if (magnitude < 0x38800000) {
    // Subnormal half (or zero): value / 2^-24, rounded to nearest even.
    if (magnitude < 0x33000000) // below half the smallest subnormal
      return sign;
    uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
    int shift = 126 - int(magnitude >> 23); // 14 + (113 - exponent)
    uint32_t half = mantissa >> shift;
    uint32_t rest = mantissa & ((1u << shift) - 1);
    uint32_t midpoint = 1u << (shift - 1);
    if (rest > midpoint || (rest == midpoint && (half & 1)))
      ++half;
    return sign | uint16_t(half);
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits.
  uint32_t half = ((magnitude - 0x38000000) >> 13);
  uint32_t rest = magnitude & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half; // may carry into the exponent, which is still correct
  return sign | uint16_t(half);
}

float recq::halfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  uint32_t x;
  if (exponent == 0x1f) {
    x = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    x = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else {
    float v = std::ldexp(float(mantissa), -24);
    std::memcpy(&x, &v, 4);
    x |= sign;
  }
  float out;
  std::memcpy(&out, &x, 4);
  return out;
}

int64_t recq::rowwiseRowBytes(int64_t cols, unsigned bits, bool halfScale) {
  int64_t codes = bits == 8 ? cols : (cols + 1) / 2;
  return codes + (halfScale ? 4 : 8);
}

void recq::quantizeRowwise(const float *row, int64_t cols, unsigned bits,
                           bool halfScale, uint8_t *out) {
  const int levels = (1 << bits) - 1;
  float lo = *std::min_element(row, row + cols);
  float hi = *std::max_element(row, row + cols);
  int64_t codeBytes = bits == 8 ? cols : (cols + 1) / 2;
  std::memset(out, 0, codeBytes);
  auto put = [&](int64_t j, long code) {
    code = std::clamp<long>(code, 0, levels);
    if (bits == 8)
      out[j] = uint8_t(code);
    else
      out[j / 2] |= uint8_t(code << ((j % 2) * 4));
  };

  if (!halfScale) {
    float range = hi - lo;
    float scale = range / float(levels);
    float inverse = float(levels) / (range + 1e-8f);
    for (int64_t j = 0; j < cols; ++j)
      put(j, std::lrintf((row[j] - lo) * inverse));
    std::memcpy(out + codeBytes, &scale, 4);
    std::memcpy(out + codeBytes + 4, &lo, 4);
    return;
  }

  uint16_t biasBits = floatToHalf(lo);
  float bias = halfToFloat(biasBits);
  float range = hi - bias;
  float scale = range == 0 ? 1.0f : range / float(levels);
  scale = halfToFloat(floatToHalf(scale));
  if (scale == 0)
    scale = 1.0f;
  float inverse = 1.0f / scale;
  if (std::isinf(inverse)) {
    scale = 1.0f;
    inverse = 1.0f;
  }
  for (int64_t j = 0; j < cols; ++j)
    put(j, std::lrintf((row[j] - bias) * inverse));
  uint16_t scaleBits = floatToHalf(scale);
  std::memcpy(out + codeBytes, &scaleBits, 2);
  std::memcpy(out + codeBytes + 2, &biasBits, 2);
}

void recq::dequantizeRowwise(const uint8_t *in, int64_t cols, unsigned bits,
                             bool halfScale, float *row) {
  int64_t codeBytes = bits == 8 ? cols : (cols + 1) / 2;
  float scale, bias;
  if (halfScale) {
    uint16_t s, b;
    std::memcpy(&s, in + codeBytes, 2);
    std::memcpy(&b, in + codeBytes + 2, 2);
    scale = halfToFloat(s);
    bias = halfToFloat(b);
  } else {
    std::memcpy(&scale, in + codeBytes, 4);
    std::memcpy(&bias, in + codeBytes + 4, 4);
  }
  for (int64_t j = 0; j < cols; ++j) {
    unsigned code = bits == 8 ? in[j] : (in[j / 2] >> ((j % 2) * 4)) & 15;
    row[j] = std::fma(float(code), scale, bias);
  }
}
