/*===- recq_abi.h - What a compiled model tells the runtime -------*- C -*-===*
 *
 * The contract between recq-compile and the runtime linked into model.so.
 * recq-compile writes one `recq_model_desc` (as C, compiled next to the
 * generated object): the model's inputs and outputs, its embedding tables
 * and which inputs feed them, and its variants: the model compiled for one
 * target each (an entry point taking packed MLIR memref descriptors, and
 * the CPU features it needs). Users never see this header; they use
 * recq.h.
 *
 *===----------------------------------------------------------------------===*/

#ifndef RECQ_RUNTIME_RECQ_ABI_H
#define RECQ_RUNTIME_RECQ_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RECQ_ABI_VERSION 10

/// Element types of inputs and outputs.
typedef enum recq_dtype {
  RECQ_DTYPE_F32 = 1,
  RECQ_DTYPE_I64 = 2,
  RECQ_DTYPE_I32 = 3,
  RECQ_DTYPE_U8 = 4,  /* weights only: bytes of a row-wise quantized table */
  RECQ_DTYPE_F16 = 5, /* weights only: an fp16 table */
} recq_dtype;

/// One input or output: its ONNX name, element type and shape (-1 for a
/// dynamic dimension).
typedef struct recq_tensor_desc {
  const char *name;
  int32_t dtype;
  int32_t rank;
  const int64_t *shape;
} recq_tensor_desc;

/// One embedding table and the inputs that index it.
typedef struct recq_table_desc {
  int64_t rows;
  int64_t dim;
  int32_t indices_input;   /* input holding the indices ([n] or [B, L]) */
  int32_t offsets_input;   /* input holding the offsets, -1: fixed length */
  int64_t offsets_row;     /* row of a [T, B] offsets input, -1: 1-D */
  int32_t include_last_offset;
  int32_t weights_input;   /* input holding per-sample weights, -1: none */
  int64_t indices_row;     /* row of a stacked [T, B, L] or [T, B] indices
                              input (fixed-length bags), -1: the whole input */
  int32_t weight;          /* the weight holding its rows, -1: compiled into
                              the library */
} recq_table_desc;

/// One weight kept in the model's `.weights` file (mmapped at load) rather
/// than in the library: `bytes` at `offset`, passed to the generated code
/// after the inputs. A remote table (recq-compile --remote-tables) is not in
/// `.weights`: its rows live in a row store (docs/RemoteTables.md), fetched
/// per call; `offset` and `bytes` place it in the model's `.rows` file,
/// which `recq-tables push` copies into the store.
typedef struct recq_weight_desc {
  uint64_t offset;
  uint64_t bytes;
  int32_t dtype;
  int32_t rank;
  const int64_t *shape;
  int32_t remote;   /* 1: a remote table */
  const char *name; /* the table's name (its ONNX node) when remote, else 0 */
} recq_weight_desc;

/// A model's `.weights` file starts with this header (64 bytes, little
/// endian); the weights follow at the offsets the description gives, each
/// 64-byte aligned. `model_id` is a hash of everything after the header,
/// which the model's description carries too, so the runtime refuses a
/// weights file of another model (or another compile) at load.
#define RECQ_WEIGHTS_MAGIC "RECQWTS" /* 8 bytes with its NUL */
#define RECQ_WEIGHTS_VERSION 1
#define RECQ_WEIGHTS_HEADER_BYTES 64
typedef struct recq_weights_header {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t model_id;
  uint64_t file_bytes; /* the whole file, header included */
  uint8_t reserved[32];
} recq_weights_header;

/// The generated code: `args` holds one memref descriptor pointer per
/// input, then one per weight, `results` receives one descriptor per output (each
/// {alloc, aligned, offset, sizes[rank], strides[rank]}, 64-bit fields,
/// back to back). Result buffers are malloc'ed; the caller frees `alloc`.
typedef void (*recq_entry_fn)(void *results, void **args);

/// One compiled variant of the model: the same model compiled for one
/// code-generation target. A split model (recq-split-bags) has `bags[t]`,
/// pooling table t into slot t of a [B, T, D] f32 buffer the caller passes
/// after the weights and resulting in its index status (i64 [1]), and
/// `rest`, running the rest of the model on the same arguments and that
/// buffer; an unsplit one has `entry`, the whole model.
typedef struct recq_variant_desc {
  const char *target;    /* "avx512-vnni", "avx2", "generic", ... */
  uint32_t cpu_features; /* recq_cpu_feature mask its code needs */
  recq_entry_fn entry;   /* 0 when split */
  recq_entry_fn rest;    /* 0 when not split */
  const recq_entry_fn *bags;
} recq_variant_desc;

typedef struct recq_model_desc {
  uint32_t abi_version;
  int32_t num_inputs;
  const recq_tensor_desc *inputs;
  int32_t num_outputs;
  const recq_tensor_desc *outputs;
  int32_t num_tables;
  const recq_table_desc *tables;
  int32_t num_weights;
  const recq_weight_desc *weights;
  uint64_t weights_file_bytes; /* size of model.weights, 0: none */
  uint64_t weights_id;         /* its header's model_id */
  const char *plan_json; /* the precision plan compiled in (JSON), 0: none */
  /* The variants, best first: the runtime runs the first one this CPU
     runs, unless RECQ_TARGET or a load option names another. */
  int32_t num_variants;
  const recq_variant_desc *variants;
  /* Bytes of the FCs' weights as stored (f32, bf16, int8): the runtime
     cuts large batches into cache-sized tiles only when re-reading them
     per tile is cheap. */
  uint64_t fc_weight_bytes;
  /* recq-compile --profile: the profiled ops' names (an op's index is the
     id its recq_profile_mark calls pass) and the id the runtime charges
     its calls of the tables' functions to (-1: none); 0 and 0, -1 without
     --profile. */
  int32_t num_profile_ops;
  const char *const *profile_ops;
  int32_t profile_bags;
  /* The `.rows` file's model_id (same header as `.weights`), which every
     key of this model's rows in a row store carries; 0: no remote table. */
  uint64_t rows_id;
  uint64_t rows_file_bytes;
} recq_model_desc;

/// Called by code compiled with --profile before each profiled op (its id)
/// and before returning (-1): the time since this thread's last mark goes
/// to that mark's op. Defined by the runtime (recq_profile.c).
void recq_profile_mark(int32_t id);

/// Defined by the generated C next to each model's code.
extern const recq_model_desc recq_model_description;

#ifdef __cplusplus
}
#endif

#endif /* RECQ_RUNTIME_RECQ_ABI_H */
