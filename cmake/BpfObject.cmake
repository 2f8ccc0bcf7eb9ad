# Builds a CO-RE BPF object with clang and wraps it in a libbpf skeleton.
#
# vmlinux.h comes from the running kernel's BTF when /sys/kernel/btf/vmlinux
# exists; otherwise (an image build, a container without /sys) the build falls
# back to bpf/minbtf/vmlinux.h, our own minimal CO-RE definitions: libbpf
# relocates every field access against the target kernel's BTF at load time,
# so the object is equally portable either way.

find_program(BPF_CLANG NAMES clang clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)

set(SPANWIRE_KERNEL_BTF "/sys/kernel/btf/vmlinux" CACHE FILEPATH "BTF used to generate vmlinux.h")
set(BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${BPF_GEN_DIR})

if(EXISTS ${SPANWIRE_KERNEL_BTF})
  add_custom_command(
    OUTPUT ${BPF_GEN_DIR}/vmlinux.h
    COMMAND ${BPFTOOL} btf dump file ${SPANWIRE_KERNEL_BTF} format c > ${BPF_GEN_DIR}/vmlinux.h.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${BPF_GEN_DIR}/vmlinux.h.tmp ${BPF_GEN_DIR}/vmlinux.h
    COMMENT "Generating vmlinux.h from ${SPANWIRE_KERNEL_BTF}")
  set(SPANWIRE_VMLINUX_SOURCE "kernel BTF")
else()
  message(WARNING "${SPANWIRE_KERNEL_BTF} not found: using bpf/minbtf/vmlinux.h (minimal CO-RE types)")
  add_custom_command(
    OUTPUT ${BPF_GEN_DIR}/vmlinux.h
    COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/bpf/minbtf/vmlinux.h ${BPF_GEN_DIR}/vmlinux.h
    DEPENDS ${CMAKE_SOURCE_DIR}/bpf/minbtf/vmlinux.h
    COMMENT "Using minimal vmlinux.h fallback")
  set(SPANWIRE_VMLINUX_SOURCE "fallback")
endif()
add_custom_target(vmlinux_h DEPENDS ${BPF_GEN_DIR}/vmlinux.h)

# bpf_object(<name> <source.bpf.c> [HEADER_DIR dir] [NO_SKELETON])
# Produces ${BPF_GEN_DIR}/<name>.bpf.o and, unless NO_SKELETON, <name>.skel.h.
function(bpf_object name source)
  cmake_parse_arguments(ARG "NO_SKELETON" "HEADER_DIR" "" ${ARGN})
  if(NOT ARG_HEADER_DIR)
    set(ARG_HEADER_DIR ${BPF_GEN_DIR})
    set(deps vmlinux_h ${BPF_GEN_DIR}/vmlinux.h)
  endif()
  set(obj ${BPF_GEN_DIR}/${name}.bpf.o)
  file(GLOB bpf_headers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bpf/*.h ${CMAKE_SOURCE_DIR}/protocols/*.h
       ${CMAKE_SOURCE_DIR}/protocols/*/infer.h)
  list(APPEND bpf_headers ${SW_PROTOCOL_GEN_DIR}/inference.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
            -I${ARG_HEADER_DIR} -I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}/protocols -I${SW_PROTOCOL_GEN_DIR}
            -c ${source} -o ${obj}
    DEPENDS ${source} ${bpf_headers} ${deps}
    COMMENT "Compiling BPF object ${name}.bpf.o")
  if(ARG_NO_SKELETON)
    add_custom_target(${name}_bpf ALL DEPENDS ${obj})
    return()
  endif()
  set(skel ${BPF_GEN_DIR}/${name}.skel.h)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${skel}.tmp ${skel}
    DEPENDS ${obj}
    COMMENT "Generating skeleton ${name}.skel.h")
  add_custom_target(${name}_skel DEPENDS ${skel})
  add_library(${name}_skel_headers INTERFACE)
  target_include_directories(${name}_skel_headers INTERFACE ${BPF_GEN_DIR} ${CMAKE_SOURCE_DIR}/bpf
                             ${CMAKE_SOURCE_DIR}/protocols)
  add_dependencies(${name}_skel_headers ${name}_skel)
endfunction()
