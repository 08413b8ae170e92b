# -*- Python -*-
# lit configuration of the recq regression tests (check-recq).

import os
import subprocess

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "RECQ"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.recq_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.recq_tools_dir, append_path=True)

tool_dirs = [config.recq_tools_dir, config.llvm_tools_dir]
tools = ["recq-opt", "recq-cpuinfo", "recq-compile"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# CPU features, detected the way the runtime detects them (CPUID + XGETBV),
# so a test needing e.g. `REQUIRES: avx512_vnni` runs exactly where compiled
# artifacts would load. Targets appear as `target-avx2`, `target-avx512-vnni`.
cpuinfo = os.path.join(config.recq_tools_dir, "recq-cpuinfo")
for line in subprocess.check_output([cpuinfo], text=True).split():
    config.available_features.add(line)
for line in subprocess.check_output([cpuinfo, "--targets"], text=True).split():
    config.available_features.add("target-" + line)
lit_config.note("CPU features: " + " ".join(sorted(
    f for f in config.available_features if not f.startswith("target-") and
    f in ("fma", "f16c", "avx2", "avx512f", "avx512bw", "avx512vl",
          "avx512_vnni", "avx512_bf16", "avx_vnni"))) or "none")

config.substitutions.append(("%recq_src_root", config.recq_src_root))

# Debian's interpreter has torch and onnx; scripts that make test inputs use it.
config.substitutions.append(("%python", getattr(config, "python_executable_with_onnx", "/usr/bin/python3")))
