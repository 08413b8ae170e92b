# Small compiled models for the C API tests (unittests/Runtime/ModelApiTest)
# and the runtime's fuzz targets: ONNX from unittests/Runtime/Inputs/
# make_models.py, compiled by recq-compile (this build's, or
# RECQ_COMPILER_DIR's for a build without the compiler, e.g. tsan), and
# linked here from its object and description (--keep-object) with this
# build's runtime, so a sanitizer build tests an instrumented runtime.
#
# Sets RECQ_TEST_MODELS_DIR and the target recq-test-models. Included after
# python/ (RECQ_PYTHON: the interpreter with torch and onnx).

set(RECQ_COMPILER_DIR "" CACHE PATH
  "Where a build without the compiler finds recq-compile for its test models")
if(RECQ_BUILD_COMPILER)
  set(recq_compile $<TARGET_FILE:recq-compile>)
  set(recq_compile_dep recq-compile)
elseif(RECQ_COMPILER_DIR)
  set(recq_compile ${RECQ_COMPILER_DIR}/recq-compile)
  set(recq_compile_dep ${recq_compile})
else()
  return()
endif()
set(RECQ_TEST_MODELS_DIR ${CMAKE_BINARY_DIR}/test-models)
set(dir ${RECQ_TEST_MODELS_DIR})
set(names interaction bag_last bag_weighted stacked fixed)
set(onnx)
foreach(name ${names})
  list(APPEND onnx ${dir}/${name}.onnx)
endforeach()
add_custom_command(OUTPUT ${onnx}
  COMMAND ${RECQ_PYTHON} ${RECQ_SOURCE_DIR}/unittests/Runtime/Inputs/make_models.py
          ${dir} > /dev/null
  DEPENDS ${RECQ_SOURCE_DIR}/unittests/Runtime/Inputs/make_models.py
          ${RECQ_SOURCE_DIR}/test/Import/Inputs/make_torch_onnx.py
  COMMENT "Making the C API tests' ONNX models")

# recq_test_model(<name> <onnx> [recq-compile flags...]): <dir>/<name>.so
# (and <name>.weights with --external-weights).
set(recq_test_model_targets)
function(recq_test_model name onnx_name)
  set(parts ${dir}/parts/${name})
  set(outputs ${parts}.o ${parts}.desc.c)
  if("--external-weights" IN_LIST ARGN)
    list(APPEND outputs ${parts}.weights)
  endif()
  add_custom_command(OUTPUT ${outputs}
    COMMAND ${recq_compile} ${dir}/${onnx_name}.onnx -o ${parts}.so
            --keep-object ${ARGN}
    DEPENDS ${dir}/${onnx_name}.onnx ${recq_compile_dep}
    COMMENT "Compiling the test model ${name}")
  add_library(recq-test-model-${name} SHARED ${parts}.o ${parts}.desc.c)
  target_link_libraries(recq-test-model-${name} PRIVATE
    "$<LINK_LIBRARY:WHOLE_ARCHIVE,recq_model_runtime>" m)
  if(RECQ_SANITIZE)
    # The sanitizer's runtime comes with the program that loads the model
    # (LLVM's options link shared libraries with -z defs).
    target_link_options(recq-test-model-${name} PRIVATE -Wl,-z,undefs)
  endif()
  set_target_properties(recq-test-model-${name} PROPERTIES
    PREFIX "" OUTPUT_NAME ${name} LIBRARY_OUTPUT_DIRECTORY ${dir})
  if("--external-weights" IN_LIST ARGN)
    add_custom_command(TARGET recq-test-model-${name} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E copy ${parts}.weights ${dir}/${name}.weights)
  endif()
  set(recq_test_model_targets ${recq_test_model_targets}
      recq-test-model-${name} PARENT_SCOPE)
endfunction()

foreach(name ${names})
  recq_test_model(${name} ${name})
endforeach()
# Tables in model.weights: int8 rows (bytes, scale, bias) and fp32 rows.
recq_test_model(interaction_weights interaction --tables=int8
                --external-weights)
recq_test_model(bag_last_weights bag_last --external-weights)
add_custom_target(recq-test-models DEPENDS ${recq_test_model_targets})
