//===- RowwiseTable.h - Row-wise quantization of embedding tables -*- C++ -*-===//
//
// The byte layout of `!recq.rowwise` (see RecqTypes.td) and the quantizer
// that fills it at compile time. The rules are FBGEMM's, so a table recq
// quantizes is byte for byte the one PyTorch's
// `embedding_bag_byte_prepack` (ui8, f32 scale) and `embedding_bag_4bit_prepack`
// (ui4, f16 scale) produce:
//
// - f32 scale and bias: `scale = (max - min) / L`, `bias = min`,
//   `code = lrint((x - min) * (L / (max - min + 1e-8)))`;
// - f16 scale and bias: the bias is `min` rounded to f16, `scale` is
//   `(max - bias) / L` rounded to f16 (1 if that is 0 or its inverse is
//   infinite), `code = clamp(lrint((x - bias) / scale), 0, L)`;
//
// with `L = 2^bits - 1` and rounding to nearest even. Element `j` of a row
// reads back as `fma(code, scale, bias)`.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_DIALECT_RECQ_IR_ROWWISETABLE_H
#define RECQ_DIALECT_RECQ_IR_ROWWISETABLE_H

#include <cstdint>

namespace recq {

/// IEEE half from float, rounded to nearest even (no hardware needed).
uint16_t floatToHalf(float value);
/// The float a half holds exactly.
float halfToFloat(uint16_t bits);

/// Quantizes one row of `cols` floats into `out`: its codes (`bits` 8 or 4,
/// two 4-bit codes per byte, low nibble first, the last byte's high nibble
/// zero for an odd `cols`), then scale and bias as f16 (`halfScale`) or f32.
void quantizeRowwise(const float *row, int64_t cols, unsigned bits,
                     bool halfScale, uint8_t *out);

/// The floats one quantized row (as quantizeRowwise writes it) reads back
/// as: `fma(code, scale, bias)` per element.
void dequantizeRowwise(const uint8_t *in, int64_t cols, unsigned bits,
                       bool halfScale, float *row);
/// Bytes of one quantized row.
int64_t rowwiseRowBytes(int64_t cols, unsigned bits, bool halfScale);

} // namespace recq

#endif // RECQ_DIALECT_RECQ_IR_ROWWISETABLE_H
