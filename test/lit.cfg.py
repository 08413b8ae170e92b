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
tools = ["recq-opt", "recq-cpuinfo", "recq-compile", "recq-run", "recq-tables", "llvm-nm"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# CPU features, detected the way the runtime detects them (CPUID + XGETBV),
# so a test needing e.g. `REQUIRES: avx512_vnni` runs exactly where compiled
# artifacts would load. Targets appear as `target-avx2`, `target-avx512-vnni`.
cpuinfo = os.path.join(config.recq_tools_dir, "recq-cpuinfo")
cpu_features = subprocess.check_output([cpuinfo], text=True).split()
config.available_features.update(cpu_features)
for line in subprocess.check_output([cpuinfo, "--targets"], text=True).split():
    config.available_features.add("target-" + line)
lit_config.note("CPU features: " + (" ".join(cpu_features) or "none"))

config.substitutions.append(("%recq_src_root", config.recq_src_root))

# The interpreter with torch and onnx (CMake's RECQ_PYTHON, Debian's
# /usr/bin/python3 by default); scripts that make test inputs run on it.
config.substitutions.append(("%python", config.recq_python))
