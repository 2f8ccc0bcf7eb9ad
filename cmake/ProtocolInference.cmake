# protocols/<p>/infer.h of every protocol folder, gathered into one generated
# header, inference.h, that the BPF object and the unit tests include: adding a
# protocol needs its folder and one line in protocols/protocol_list.h, nothing
# else. The glob re-runs at build time, so a new folder is picked up.
set(SW_PROTOCOL_GEN_DIR ${CMAKE_BINARY_DIR}/generated)
file(GLOB SW_INFER_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/protocols/*/infer.h)
set(content "/* Generated from every protocols/<p>/infer.h by cmake/ProtocolInference.cmake. */\n")
string(APPEND content "#ifndef SPANWIRE_GENERATED_INFERENCE_H\n#define SPANWIRE_GENERATED_INFERENCE_H\n\n")
string(APPEND content "#include \"protocol_list.h\"\n#include \"common/infer.h\"\n")
foreach(header ${SW_INFER_HEADERS})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/protocols ${header})
  if(NOT rel STREQUAL "common/infer.h")
    string(APPEND content "#include \"${rel}\"\n")
  endif()
endforeach()
string(APPEND content "\n#endif\n")
# Rewritten only when it changes, so the BPF object is not rebuilt for nothing.
file(CONFIGURE OUTPUT ${SW_PROTOCOL_GEN_DIR}/inference.h CONTENT "${content}")
