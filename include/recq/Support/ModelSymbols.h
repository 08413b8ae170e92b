//===- ModelSymbols.h - The C API of a model.so, looked up by name -*- C++ -*-===//
//
// Whatever loads a compiled model with dlopen (recq-run, calibration, the C
// API tests and fuzz targets) looks its C API up by name; this is that
// table, in one place. Header-only and free of LLVM, so builds without the
// compiler (tsan) use it too.
//
//===----------------------------------------------------------------------===//

#ifndef RECQ_SUPPORT_MODELSYMBOLS_H
#define RECQ_SUPPORT_MODELSYMBOLS_H

#include "recq/Runtime/recq.h"

#include <dlfcn.h>

namespace recq {

struct ModelApi {
  decltype(&recq_model_load) load;
  decltype(&recq_model_load_with) loadWith;
  decltype(&recq_model_free) free;
  decltype(&recq_model_num_inputs) numInputs;
  decltype(&recq_model_input_name) inputName;
  decltype(&recq_model_input_info) inputInfo;
  decltype(&recq_model_num_outputs) numOutputs;
  decltype(&recq_model_output_name) outputName;
  decltype(&recq_model_output_info) outputInfo;
  decltype(&recq_model_num_tables) numTables;
  decltype(&recq_model_table_rows) tableRows;
  decltype(&recq_model_table_info) tableInfo;
  decltype(&recq_model_table_indices_row) tableIndicesRow;
  decltype(&recq_model_target) target;
  decltype(&recq_model_target_reason) targetReason;
  decltype(&recq_model_num_variants) numVariants;
  decltype(&recq_model_variant) variant;
  decltype(&recq_model_plan) plan;
  decltype(&recq_model_weights_info) weightsInfo;
  decltype(&recq_model_run) run;
  decltype(&recq_model_set_threads) setThreads;
  decltype(&recq_model_threads) threads;
  decltype(&recq_model_output_size) outputSize;
  decltype(&recq_model_profile_size) profileSize;
  decltype(&recq_model_profile_op) profileOp;
  decltype(&recq_model_profile_reset) profileReset;
  decltype(&recq_model_table_store_stats) tableStoreStats;
};

/// Looks up every function of ModelApi in `lib` (dlopen); returns the
/// name of the first one missing, or nullptr when all are there.
inline const char *lookupModelApi(void *lib, ModelApi &api) {
#define RECQ_SYM(field, name)                                                  \
  api.field = reinterpret_cast<decltype(api.field)>(dlsym(lib, #name));        \
  if (!api.field)                                                              \
    return #name;
  RECQ_SYM(load, recq_model_load)
  RECQ_SYM(loadWith, recq_model_load_with)
  RECQ_SYM(free, recq_model_free)
  RECQ_SYM(numInputs, recq_model_num_inputs)
  RECQ_SYM(inputName, recq_model_input_name)
  RECQ_SYM(inputInfo, recq_model_input_info)
  RECQ_SYM(numOutputs, recq_model_num_outputs)
  RECQ_SYM(outputName, recq_model_output_name)
  RECQ_SYM(outputInfo, recq_model_output_info)
  RECQ_SYM(numTables, recq_model_num_tables)
  RECQ_SYM(tableRows, recq_model_table_rows)
  RECQ_SYM(tableInfo, recq_model_table_info)
  RECQ_SYM(tableIndicesRow, recq_model_table_indices_row)
  RECQ_SYM(target, recq_model_target)
  RECQ_SYM(targetReason, recq_model_target_reason)
  RECQ_SYM(numVariants, recq_model_num_variants)
  RECQ_SYM(variant, recq_model_variant)
  RECQ_SYM(plan, recq_model_plan)
  RECQ_SYM(weightsInfo, recq_model_weights_info)
  RECQ_SYM(run, recq_model_run)
  RECQ_SYM(setThreads, recq_model_set_threads)
  RECQ_SYM(threads, recq_model_threads)
  RECQ_SYM(outputSize, recq_model_output_size)
  RECQ_SYM(profileSize, recq_model_profile_size)
  RECQ_SYM(profileOp, recq_model_profile_op)
  RECQ_SYM(profileReset, recq_model_profile_reset)
  RECQ_SYM(tableStoreStats, recq_model_table_store_stats)
#undef RECQ_SYM
  return nullptr;
}

/// A model.so opened with dlopen (a relative path made absolute, so the
/// library path is not searched) and its model loaded; freed and closed
/// with this.

} // namespace recq

#endif // RECQ_SUPPORT_MODELSYMBOLS_H
