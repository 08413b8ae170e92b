# The layers of recq's libraries and the rule between them: a library links
# and includes only libraries of layers below its own (docs/Rationale.md
# draws them). recq_check_layers() enforces it at configure time (declared
# links, #include "recq/..." lines) and at build time: each library's
# objects are linked alone into a shared object with -Wl,--no-undefined
# against the libraries it declares, so code that calls into a layer above
# without declaring it fails to link.
#
# "area (include/recq/<area>, lib/<area>)|layer|libraries (comma-separated)"
set(RECQ_LAYERS
  "Runtime|0|recq_runtime,recq_model_runtime"
  "Support|1|RecqSupport"
  "Quant|1|RecqQuant"
  "Dialect/Recq/IR|1|RecqIR"
  "Dialect/Recq/Transforms|2|RecqTransforms"
  "Import|3|RecqImportOnnx"
  "Conversion|3|RecqToLinalg,RecqToX86"
  "Pipelines|4|RecqPipelines"
  "Target|5|RecqTarget"
  "Driver|6|RecqDriver"
)

# The table, read once: the areas in order, each area's layer and
# libraries, each library's layer and area.
set(RECQ_LAYER_AREAS)
set(RECQ_LAYER_LIBRARIES)
foreach(entry ${RECQ_LAYERS})
  string(REGEX REPLACE "[|,]" ";" fields "${entry}")
  list(GET fields 0 area)
  list(GET fields 1 layer)
  list(SUBLIST fields 2 -1 libs)
  list(APPEND RECQ_LAYER_AREAS ${area})
  list(APPEND RECQ_LAYER_LIBRARIES ${libs})
  set(RECQ_LAYER_OF_AREA_${area} ${layer})
  foreach(lib ${libs})
    set(RECQ_LAYER_OF_LIB_${lib} ${layer})
    set(RECQ_AREA_OF_LIB_${lib} ${area})
  endforeach()
endforeach()

# The most specific area `path` (a directory under lib/ or include/recq/)
# belongs to, or "" for none.
function(recq_area_of path out_area)
  set(best "")
  set(best_len 0)
  foreach(a ${RECQ_LAYER_AREAS})
    string(LENGTH "${a}" len)
    if((path STREQUAL a OR path MATCHES "^${a}/") AND len GREATER best_len)
      set(best ${a})
      set(best_len ${len})
    endif()
  endforeach()
  set(${out_area} "${best}" PARENT_SCOPE)
endfunction()

function(recq_check_layers)
  # Declared links.
  foreach(lib ${RECQ_LAYER_LIBRARIES})
    if(NOT TARGET ${lib})
      continue()
    endif()
    set(layer ${RECQ_LAYER_OF_LIB_${lib}})
    get_target_property(deps ${lib} LINK_LIBRARIES)
    foreach(dep ${deps})
      if(DEFINED RECQ_LAYER_OF_LIB_${dep} AND
         NOT RECQ_LAYER_OF_LIB_${dep} LESS layer)
        message(FATAL_ERROR "layering: ${lib} (${RECQ_AREA_OF_LIB_${lib}}, "
          "layer ${layer}) links ${dep} (layer ${RECQ_LAYER_OF_LIB_${dep}}); "
          "a library links only layers below its own "
          "(cmake/RecqLayers.cmake, docs/Rationale.md)")
      endif()
    endforeach()
  endforeach()

  # #include "recq/..." in the sources and public headers of each area.
  foreach(area ${RECQ_LAYER_AREAS})
    set(layer ${RECQ_LAYER_OF_AREA_${area}})
    file(GLOB_RECURSE files
      ${RECQ_SOURCE_DIR}/lib/${area}/*.c ${RECQ_SOURCE_DIR}/lib/${area}/*.cpp
      ${RECQ_SOURCE_DIR}/lib/${area}/*.h ${RECQ_SOURCE_DIR}/include/recq/${area}/*.h)
    foreach(file ${files})
      # A file of a more specific area is that area's (Dialect/Recq/IR
      # inside Dialect/Recq).
      file(RELATIVE_PATH rel ${RECQ_SOURCE_DIR} ${file})
      string(REGEX REPLACE "^(lib|include/recq)/" "" rel_area "${rel}")
      get_filename_component(rel_area "${rel_area}" DIRECTORY)
      recq_area_of("${rel_area}" own_area)
      if(NOT own_area STREQUAL area)
        continue()
      endif()
      file(STRINGS ${file} includes REGEX "^#include \"recq/")
      foreach(line ${includes})
        string(REGEX REPLACE "^#include \"recq/([^\"]*)/[^/\"]*\".*" "\\1" dir "${line}")
        recq_area_of("${dir}" dep_area)
        if(dep_area STREQUAL "" OR dep_area STREQUAL area)
          continue()
        endif()
        set(dep_layer ${RECQ_LAYER_OF_AREA_${dep_area}})
        if(NOT dep_layer LESS layer)
          message(FATAL_ERROR "layering: ${rel} (${area}, layer ${layer}) "
            "includes recq/${dir} (${dep_area}, layer ${dep_layer}); code "
            "uses only layers below its own (cmake/RecqLayers.cmake, "
            "docs/Rationale.md)")
        endif()
      endforeach()
    endforeach()
  endforeach()

  # Each library's objects linked alone, undefined symbols an error. (Not in
  # sanitizer builds: their runtimes' symbols come from the executable.)
  if(RECQ_SANITIZE)
    return()
  endif()
  foreach(lib ${RECQ_LAYER_LIBRARIES})
    # recq_model_runtime is half of a model.so: it calls the generated
    # code's entry points, which only the model's object defines.
    if(NOT TARGET ${lib} OR lib STREQUAL "recq_model_runtime")
      continue()
    endif()
    set(objects ${lib})
    if(TARGET obj.${lib})
      set(objects obj.${lib})
    endif()
    get_target_property(deps ${lib} LINK_LIBRARIES)
    if(NOT deps)
      set(deps)
    endif()
    set(check recq-layer-check-${lib})
    add_library(${check} SHARED $<TARGET_OBJECTS:${objects}>)
    target_link_libraries(${check} PRIVATE ${deps})
    target_link_options(${check} PRIVATE -Wl,--no-undefined)
    set_target_properties(${check} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/layer-check)
  endforeach()
endfunction()
